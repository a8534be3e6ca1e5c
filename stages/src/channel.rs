//! Bounded multi-producer multi-consumer channel whose capacity is counted in bytes.
//! `send` blocks while the queued items' weights would exceed the capacity (an item larger than
//! the whole capacity is admitted when the queue is empty, so nothing deadlocks).

use crate::Weighted;
use parking_lot::{Condvar, Mutex};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Clone, Copy, Default)]
pub struct ChannelStats {
    pub capacity: usize,
    pub used: usize,
    pub peak_used: usize,
    pub items: u64,
    pub bytes: u64,
    /// Total time senders spent blocked on a full channel (backpressure).
    pub send_blocked_ns: u64,
    /// Total time receivers spent waiting on an empty channel (starvation).
    pub recv_waited_ns: u64,
}

struct State<T> {
    queue: VecDeque<(T, usize)>,
    senders: usize,
    receivers: usize,
    stats: ChannelStats,
}

struct Shared<T> {
    name: &'static str,
    state: Mutex<State<T>>,
    not_full: Condvar,
    not_empty: Condvar,
}

pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

/// The receiving side is gone; the item comes back.
#[derive(Debug)]
pub struct SendError<T>(pub T);

pub fn bounded<T: Weighted + Send>(name: &'static str, capacity_bytes: usize) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        name,
        state: Mutex::new(State {
            queue: VecDeque::new(),
            senders: 1,
            receivers: 1,
            stats: ChannelStats { capacity: capacity_bytes, ..Default::default() },
        }),
        not_full: Condvar::new(),
        not_empty: Condvar::new(),
    });
    (Sender { shared: Arc::clone(&shared) }, Receiver { shared })
}

impl<T: Weighted + Send> Sender<T> {
    pub fn send(&self, item: T) -> Result<(), SendError<T>> {
        let weight = item.weight();
        let mut state = self.shared.state.lock();
        let mut blocked_since = None;
        loop {
            if state.receivers == 0 {
                return Err(SendError(item));
            }
            let cap = state.stats.capacity;
            if state.queue.is_empty() || state.stats.used + weight <= cap {
                break;
            }
            blocked_since.get_or_insert_with(Instant::now);
            self.shared.not_full.wait(&mut state);
        }
        if let Some(t) = blocked_since {
            state.stats.send_blocked_ns += t.elapsed().as_nanos() as u64;
        }
        state.stats.used += weight;
        state.stats.peak_used = state.stats.peak_used.max(state.stats.used);
        state.stats.items += 1;
        state.stats.bytes += weight as u64;
        state.queue.push_back((item, weight));
        drop(state);
        self.shared.not_empty.notify_one();
        Ok(())
    }
    pub fn stats(&self) -> ChannelStats {
        self.shared.state.lock().stats
    }
    pub fn name(&self) -> &'static str {
        self.shared.name
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.state.lock().senders += 1;
        Sender { shared: Arc::clone(&self.shared) }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut state = self.shared.state.lock();
        state.senders -= 1;
        if state.senders == 0 {
            drop(state);
            self.shared.not_empty.notify_all();
        }
    }
}

impl<T: Weighted + Send> Receiver<T> {
    /// Next item; `None` once every sender is dropped and the queue is empty.
    pub fn recv(&self) -> Option<T> {
        let mut state = self.shared.state.lock();
        let mut waited_since = None;
        loop {
            if let Some((item, weight)) = state.queue.pop_front() {
                state.stats.used -= weight;
                if let Some(t) = waited_since {
                    state.stats.recv_waited_ns += Instant::elapsed(&t).as_nanos() as u64;
                }
                drop(state);
                self.shared.not_full.notify_all();
                return Some(item);
            }
            if state.senders == 0 {
                return None;
            }
            waited_since.get_or_insert_with(Instant::now);
            self.shared.not_empty.wait(&mut state);
        }
    }
    pub fn stats(&self) -> ChannelStats {
        self.shared.state.lock().stats
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.shared.state.lock().receivers += 1;
        Receiver { shared: Arc::clone(&self.shared) }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut state = self.shared.state.lock();
        state.receivers -= 1;
        if state.receivers == 0 {
            // Free queued items now and wake blocked senders so they see the receivers are gone.
            state.queue.clear();
            state.stats.used = 0;
            drop(state);
            self.shared.not_full.notify_all();
        }
    }
}
