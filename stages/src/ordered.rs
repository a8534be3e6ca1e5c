//! Ordered reassembly: many producers send items tagged with a sequence number (0, 1, 2, ...);
//! the receiver gets them strictly in sequence order. Capacity is a byte budget, but the item the
//! receiver is waiting for is always admitted, so out-of-order arrivals can never deadlock it.
//! It must not deliver out of order, skip a number silently (a missing one is a [`Gap`]), or
//! wait forever on a producer that is gone.

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
    /// At most this many items pending (besides the awaited one); bounds how far producers
    /// run ahead of the consumer, not just how many bytes they hold.
    max_items: usize,
    stats: ChannelStats,
    /// Threads inside `wait` right now (senders, receivers); lets tests see a thread is blocked.
    waiting: (usize, usize),
}

struct Shared<T> {
    name: &'static str,
    state: Mutex<State<T>>,
    /// Senders wait here for room; the receiver's `recv` and drop notify it.
    room: Condvar,
    /// The receiver waits here for its next item; sends and sender drops notify it.
    arrival: Condvar,
}

/// Producing half; clone it for more producers.
pub struct OrderedSender<T> {
    shared: Arc<Shared<T>>,
}
/// The single consuming half.
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

fn elapsed_ns(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// A reassembly channel named `name` holding at most `capacity_bytes` of early arrivals
/// (plus, always, the item the receiver waits for).
pub fn ordered<T: Weighted + Send>(
    name: &'static str,
    capacity_bytes: usize,
) -> (OrderedSender<T>, OrderedReceiver<T>) {
    ordered_with_limit(name, capacity_bytes, usize::MAX)
}

/// Like [`ordered`], but also holding at most `max_items` items ahead of the receiver.
pub fn ordered_with_limit<T: Weighted + Send>(
    name: &'static str,
    capacity_bytes: usize,
    max_items: usize,
) -> (OrderedSender<T>, OrderedReceiver<T>) {
    let shared = Arc::new(Shared {
        name,
        state: Mutex::new(State {
            pending: BTreeMap::new(),
            next: 0,
            senders: 1,
            waiting: (0, 0),
            receiver_alive: true,
            max_items: max_items.max(1),
            stats: ChannelStats {
                capacity: capacity_bytes,
                ..Default::default()
            },
        }),
        room: Condvar::new(),
        arrival: Condvar::new(),
    });
    (
        OrderedSender {
            shared: Arc::clone(&shared),
        },
        OrderedReceiver { shared },
    )
}

impl<T: Weighted + Send> OrderedSender<T> {
    /// Blocks while over budget (bytes, or the item limit of [`ordered_with_limit`]) unless
    /// `seq` is the one the receiver waits for. Returns the item if the receiver is gone.
    ///
    /// Never deadlocks on its own, but a pipeline can: if the awaited item sits in a queue that
    /// only blocked senders would drain, nothing moves. Producers must take their work in
    /// sequence order (a FIFO channel from one source does), so the awaited item is always held
    /// by a producer that will send it.
    ///
    /// Each sequence number must be sent once; a number already delivered or already pending is
    /// a caller bug (asserted in debug builds; in release the item is dropped).
    pub fn send(&self, seq: u64, item: T) -> Result<(), T> {
        let weight = item.weight();
        let mut state = self.shared.state.lock();
        let mut blocked_since = None;
        loop {
            if !state.receiver_alive {
                if let Some(t) = blocked_since {
                    state.stats.send_blocked_ns += elapsed_ns(t);
                }
                return Err(item);
            }
            let fits = state.pending.len() < state.max_items
                && state.stats.used.saturating_add(weight) <= state.stats.capacity;
            if seq == state.next || state.pending.is_empty() || fits {
                break;
            }
            blocked_since.get_or_insert_with(Instant::now);
            state.waiting.0 += 1;
            self.shared.room.wait(&mut state);
            state.waiting.0 -= 1;
        }
        if let Some(t) = blocked_since {
            state.stats.send_blocked_ns += elapsed_ns(t);
        }
        let duplicate = seq < state.next || state.pending.contains_key(&seq);
        debug_assert!(
            !duplicate,
            "ordered channel {}: sequence number {seq} sent twice",
            self.shared.name
        );
        if duplicate {
            return Ok(());
        }
        state.stats.used += weight;
        state.stats.peak_used = state.stats.peak_used.max(state.stats.used);
        state.stats.items += 1;
        state.stats.bytes += weight as u64;
        let wakes_receiver = seq == state.next;
        state.pending.insert(seq, (item, weight));
        drop(state);
        if wakes_receiver {
            self.shared.arrival.notify_one();
        }
        Ok(())
    }
    pub fn stats(&self) -> ChannelStats {
        self.shared.state.lock().stats
    }
    pub fn name(&self) -> &'static str {
        self.shared.name
    }
    /// A stats reader for the sampler; it does not count as a sender.
    pub fn probe(&self) -> crate::metrics::Probe
    where
        T: 'static,
    {
        let shared = Arc::clone(&self.shared);
        crate::metrics::Probe::new(self.shared.name, move || shared.state.lock().stats)
    }
}

impl<T> Clone for OrderedSender<T> {
    fn clone(&self) -> Self {
        self.shared.state.lock().senders += 1;
        OrderedSender {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> Drop for OrderedSender<T> {
    fn drop(&mut self) {
        let mut state = self.shared.state.lock();
        state.senders -= 1;
        let last = state.senders == 0;
        drop(state);
        if last {
            self.shared.arrival.notify_all();
        }
    }
}

impl<T: Weighted + Send> OrderedReceiver<T> {
    /// Next item in sequence; `Ok(None)` when all senders are gone and nothing is pending.
    /// `Err(Gap)` when all senders are gone, later items are pending, and the next never came.
    pub fn recv(&self) -> Result<Option<T>, Gap> {
        let mut state = self.shared.state.lock();
        let mut waited_since = None;
        loop {
            let next = state.next;
            if let Some((item, weight)) = state.pending.remove(&next) {
                state.next += 1;
                state.stats.used -= weight;
                if let Some(t) = waited_since {
                    state.stats.recv_waited_ns += elapsed_ns(t);
                }
                drop(state);
                // Room was freed and `next` moved: a blocked sender may now fit or be next.
                self.shared.room.notify_all();
                return Ok(Some(item));
            }
            if state.senders == 0 {
                if let Some(t) = waited_since {
                    state.stats.recv_waited_ns += elapsed_ns(t);
                }
                return if state.pending.is_empty() {
                    Ok(None)
                } else {
                    Err(Gap {
                        name: self.shared.name,
                        missing: next,
                    })
                };
            }
            waited_since.get_or_insert_with(Instant::now);
            state.waiting.1 += 1;
            self.shared.arrival.wait(&mut state);
            state.waiting.1 -= 1;
        }
    }
    /// The sequence number `recv` will return next.
    pub fn next_seq(&self) -> u64 {
        self.shared.state.lock().next
    }
    pub fn stats(&self) -> ChannelStats {
        self.shared.state.lock().stats
    }
    pub fn name(&self) -> &'static str {
        self.shared.name
    }
}

impl<T> Drop for OrderedReceiver<T> {
    fn drop(&mut self) {
        let mut state = self.shared.state.lock();
        state.receiver_alive = false;
        let pending = std::mem::take(&mut state.pending);
        state.stats.used = 0;
        drop(state);
        self.shared.room.notify_all();
        drop(pending);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[derive(Debug, PartialEq, Eq)]
    struct Item {
        seq: u64,
        weight: usize,
    }
    impl Weighted for Item {
        fn weight(&self) -> usize {
            self.weight
        }
    }

    fn drain<T: Weighted + Send>(rx: &OrderedReceiver<T>) -> Result<Vec<T>, Gap> {
        let mut out = Vec::new();
        while let Some(item) = rx.recv()? {
            out.push(item);
        }
        Ok(out)
    }

    #[test]
    fn reorders_arrivals_into_sequence() {
        let (tx, rx) = ordered::<Item>("t", 1000);
        for seq in [3, 1, 4, 0, 2] {
            tx.send(seq, Item { seq, weight: 10 }).unwrap();
        }
        assert_eq!(tx.stats().used, 50);
        drop(tx);
        let got: Vec<u64> = drain(&rx).unwrap().iter().map(|i| i.seq).collect();
        assert_eq!(got, vec![0, 1, 2, 3, 4]);
        assert_eq!(rx.next_seq(), 5);
        assert_eq!(rx.stats().used, 0);
        assert_eq!(rx.stats().peak_used, 50);
    }

    #[test]
    fn the_awaited_item_is_admitted_over_budget() {
        let (tx, rx) = ordered::<Item>("t", 10);
        tx.send(1, Item { seq: 1, weight: 10 }).unwrap(); // fills the budget
        tx.send(0, Item { seq: 0, weight: 10 }).unwrap(); // over budget, but awaited
        assert_eq!(tx.stats().used, 20);
        assert_eq!(rx.recv().unwrap().unwrap().seq, 0);
        assert_eq!(rx.recv().unwrap().unwrap().seq, 1);
    }

    #[test]
    fn early_arrivals_wait_for_room() {
        let (tx, rx) = ordered::<Item>("t", 10);
        tx.send(1, Item { seq: 1, weight: 10 }).unwrap();
        let early = {
            let tx = tx.clone();
            std::thread::spawn(move || tx.send(2, Item { seq: 2, weight: 10 }).is_ok())
        };
        crate::wait_until("sender blocked", || tx.shared.state.lock().waiting.0 == 1);
        assert_eq!(tx.stats().items, 1, "item 2 went past a full budget");
        tx.send(0, Item { seq: 0, weight: 1 }).unwrap();
        assert_eq!(rx.recv().unwrap().unwrap().seq, 0);
        assert_eq!(rx.recv().unwrap().unwrap().seq, 1);
        assert!(early.join().unwrap());
        assert_eq!(rx.recv().unwrap().unwrap().seq, 2);
        assert!(rx.stats().send_blocked_ns > 0);
        drop(tx);
        assert!(rx.recv().unwrap().is_none());
    }

    #[test]
    fn missing_item_is_a_gap_once_senders_are_gone() {
        let (tx, rx) = ordered::<Item>("decided", 1000);
        tx.send(0, Item { seq: 0, weight: 1 }).unwrap();
        tx.send(2, Item { seq: 2, weight: 1 }).unwrap();
        drop(tx);
        assert_eq!(rx.recv().unwrap().unwrap().seq, 0);
        let gap = rx.recv().unwrap_err();
        assert_eq!((gap.name, gap.missing), ("decided", 1));
        assert_eq!(
            gap.to_string(),
            "ordered channel decided: item 1 never arrived"
        );
    }

    #[test]
    fn empty_and_closed_is_the_end() {
        let (tx, rx) = ordered::<Item>("t", 10);
        drop(tx);
        assert!(rx.recv().unwrap().is_none());
    }

    #[test]
    fn send_returns_the_item_when_the_receiver_is_gone() {
        let (tx, rx) = ordered::<Item>("t", 10);
        tx.send(5, Item { seq: 5, weight: 10 }).unwrap();
        let blocked = {
            let tx = tx.clone();
            std::thread::spawn(move || tx.send(6, Item { seq: 6, weight: 10 }))
        };
        crate::wait_until("sender blocked", || rx.shared.state.lock().waiting.0 == 1);
        drop(rx);
        assert_eq!(blocked.join().unwrap(), Err(Item { seq: 6, weight: 10 }));
        assert_eq!(
            tx.send(0, Item { seq: 0, weight: 1 }),
            Err(Item { seq: 0, weight: 1 })
        );
        assert_eq!(tx.stats().used, 0);
    }

    #[test]
    fn item_limit_bounds_how_far_producers_run_ahead() {
        let (tx, rx) = ordered_with_limit::<Item>("t", usize::MAX, 2);
        tx.send(1, Item { seq: 1, weight: 1 }).unwrap();
        tx.send(2, Item { seq: 2, weight: 1 }).unwrap();
        let third = {
            let tx = tx.clone();
            std::thread::spawn(move || tx.send(3, Item { seq: 3, weight: 1 }).is_ok())
        };
        crate::wait_until("sender blocked", || tx.shared.state.lock().waiting.0 == 1);
        assert_eq!(tx.stats().items, 2, "item 3 went past the item limit");
        tx.send(0, Item { seq: 0, weight: 1 }).unwrap(); // awaited: admitted beyond the limit
        assert_eq!(tx.stats().items, 3);
        assert_eq!(rx.recv().unwrap().unwrap().seq, 0);
        assert_eq!(rx.recv().unwrap().unwrap().seq, 1);
        assert!(third.join().unwrap());
        drop(tx);
        let rest: Vec<u64> = drain(&rx).unwrap().iter().map(|i| i.seq).collect();
        assert_eq!(rest, vec![2, 3]);
        assert!(rx.stats().send_blocked_ns > 0);
    }

    #[test]
    fn many_workers_with_a_tiny_budget_never_deadlock() {
        const ITEMS: u64 = 3000;
        let (tx, rx) = ordered::<Item>("t", 16);
        let counter = Arc::new(AtomicU64::new(0));
        let workers: Vec<_> = (0..6)
            .map(|w| {
                let (tx, counter) = (tx.clone(), Arc::clone(&counter));
                std::thread::spawn(move || loop {
                    let seq = counter.fetch_add(1, Ordering::Relaxed);
                    if seq >= ITEMS {
                        break;
                    }
                    if (seq + w) % 7 == 0 {
                        std::thread::yield_now();
                    }
                    tx.send(
                        seq,
                        Item {
                            seq,
                            weight: 1 + (seq % 9) as usize,
                        },
                    )
                    .unwrap();
                })
            })
            .collect();
        drop(tx);
        let got: Vec<u64> = drain(&rx).unwrap().iter().map(|i| i.seq).collect();
        for w in workers {
            w.join().unwrap();
        }
        assert_eq!(got, (0..ITEMS).collect::<Vec<_>>());
        assert_eq!(rx.stats().items, ITEMS);
    }
}
