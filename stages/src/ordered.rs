//! Ordered reassembly: many producers send items tagged with a sequence number (0, 1, 2, ...);
//! the receiver gets them strictly in sequence order. Capacity is a byte budget, but the item the
//! receiver is waiting for is always admitted, so out-of-order arrivals can never deadlock it.

use crate::channel::ChannelStats;
use crate::Weighted;
use parking_lot::{Condvar, Mutex};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

struct State<T> {
    pending: BTreeMap<u64, (T, usize)>,
    next: u64,
    senders: usize,
    receiver_alive: bool,
    stats: ChannelStats,
}

struct Shared<T> {
    name: &'static str,
    state: Mutex<State<T>>,
    changed: Condvar,
}

pub struct OrderedSender<T> {
    shared: Arc<Shared<T>>,
}
pub struct OrderedReceiver<T> {
    shared: Arc<Shared<T>>,
}

/// All senders are gone but sequence number `missing` never arrived (a producer failed).
#[derive(Debug, thiserror::Error)]
#[error("ordered channel {name}: item {missing} never arrived")]
pub struct Gap {
    pub name: &'static str,
    pub missing: u64,
}

pub fn ordered<T: Weighted + Send>(name: &'static str, capacity_bytes: usize) -> (OrderedSender<T>, OrderedReceiver<T>) {
    let shared = Arc::new(Shared {
        name,
        state: Mutex::new(State {
            pending: BTreeMap::new(),
            next: 0,
            senders: 1,
            receiver_alive: true,
            stats: ChannelStats { capacity: capacity_bytes, ..Default::default() },
        }),
        changed: Condvar::new(),
    });
    (OrderedSender { shared: Arc::clone(&shared) }, OrderedReceiver { shared })
}

impl<T: Weighted + Send> OrderedSender<T> {
    /// Blocks while over budget unless `seq` is the one the receiver waits for.
    /// Returns the item if the receiver is gone.
    pub fn send(&self, seq: u64, item: T) -> Result<(), T> {
        let weight = item.weight();
        let mut state = self.shared.state.lock();
        let mut blocked_since = None;
        loop {
            if !state.receiver_alive {
                return Err(item);
            }
            if seq == state.next || state.pending.is_empty() || state.stats.used + weight <= state.stats.capacity {
                break;
            }
            blocked_since.get_or_insert_with(Instant::now);
            self.shared.changed.wait(&mut state);
        }
        if let Some(t) = blocked_since {
            state.stats.send_blocked_ns += t.elapsed().as_nanos() as u64;
        }
        state.stats.used += weight;
        state.stats.peak_used = state.stats.peak_used.max(state.stats.used);
        state.stats.items += 1;
        state.stats.bytes += weight as u64;
        state.pending.insert(seq, (item, weight));
        drop(state);
        self.shared.changed.notify_all();
        Ok(())
    }
}

impl<T> Clone for OrderedSender<T> {
    fn clone(&self) -> Self {
        self.shared.state.lock().senders += 1;
        OrderedSender { shared: Arc::clone(&self.shared) }
    }
}

impl<T> Drop for OrderedSender<T> {
    fn drop(&mut self) {
        let mut state = self.shared.state.lock();
        state.senders -= 1;
        drop(state);
        self.shared.changed.notify_all();
    }
}

impl<T: Weighted + Send> OrderedReceiver<T> {
    /// Next item in sequence; `Ok(None)` when all senders are gone and nothing is pending.
    pub fn recv(&self) -> Result<Option<T>, Gap> {
        let mut state = self.shared.state.lock();
        let mut waited_since = None;
        loop {
            let next = state.next;
            if let Some((item, weight)) = state.pending.remove(&next) {
                state.next += 1;
                state.stats.used -= weight;
                if let Some(t) = waited_since {
                    state.stats.recv_waited_ns += Instant::elapsed(&t).as_nanos() as u64;
                }
                drop(state);
                self.shared.changed.notify_all();
                return Ok(Some(item));
            }
            if state.senders == 0 {
                return if state.pending.is_empty() {
                    Ok(None)
                } else {
                    Err(Gap { name: self.shared.name, missing: next })
                };
            }
            waited_since.get_or_insert_with(Instant::now);
            self.shared.changed.wait(&mut state);
        }
    }
    pub fn stats(&self) -> ChannelStats {
        self.shared.state.lock().stats
    }
}

impl<T> Drop for OrderedReceiver<T> {
    fn drop(&mut self) {
        let mut state = self.shared.state.lock();
        state.receiver_alive = false;
        state.pending.clear();
        state.stats.used = 0;
        drop(state);
        self.shared.changed.notify_all();
    }
}
