//! Bounded multi-producer multi-consumer channel whose capacity is counted in bytes.
//! `send` blocks while the queued items' weights would exceed the capacity (an item larger than
//! the whole capacity is admitted when the queue is empty, so nothing deadlocks).
//! It must not buffer beyond its budget (except that one oversize item), drop items silently, or
//! require `T: Clone`; it knows nothing about what the items are.

use crate::Weighted;
use parking_lot::{Condvar, Mutex};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

/// A channel's accounting: its budget, what it holds, and where its users waited.
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
    /// Threads inside `wait` right now (senders, receivers); lets tests see a thread is blocked.
    waiting: (usize, usize),
}

struct Shared<T> {
    name: &'static str,
    state: Mutex<State<T>>,
    not_full: Condvar,
    not_empty: Condvar,
}

/// Sending half; clone it for more producers. The channel closes when the last one is dropped.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}
/// Receiving half; clone it for more consumers. Queued items are dropped with the last one.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

/// The receiving side is gone; the item comes back.
#[derive(Debug)]
pub struct SendError<T>(pub T);

impl<T> std::fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("sending on a channel whose receivers are gone")
    }
}

impl<T: std::fmt::Debug> std::error::Error for SendError<T> {}

fn elapsed_ns(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// A channel named `name` (for reports) holding at most `capacity_bytes` of item weight.
pub fn bounded<T: Weighted + Send>(
    name: &'static str,
    capacity_bytes: usize,
) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        name,
        state: Mutex::new(State {
            queue: VecDeque::new(),
            senders: 1,
            waiting: (0, 0),
            receivers: 1,
            stats: ChannelStats {
                capacity: capacity_bytes,
                ..Default::default()
            },
        }),
        not_full: Condvar::new(),
        not_empty: Condvar::new(),
    });
    (
        Sender {
            shared: Arc::clone(&shared),
        },
        Receiver { shared },
    )
}

impl<T: Weighted + Send> Sender<T> {
    /// Queue `item`, blocking while it does not fit. Fails (returning the item) once every
    /// receiver is gone, including while blocked.
    pub fn send(&self, item: T) -> Result<(), SendError<T>> {
        let weight = item.weight();
        let mut state = self.shared.state.lock();
        let mut blocked_since = None;
        loop {
            if state.receivers == 0 {
                if let Some(t) = blocked_since {
                    state.stats.send_blocked_ns += elapsed_ns(t);
                }
                return Err(SendError(item));
            }
            if state.queue.is_empty()
                || state.stats.used.saturating_add(weight) <= state.stats.capacity
            {
                break;
            }
            blocked_since.get_or_insert_with(Instant::now);
            state.waiting.0 += 1;
            self.shared.not_full.wait(&mut state);
            state.waiting.0 -= 1;
        }
        if let Some(t) = blocked_since {
            state.stats.send_blocked_ns += elapsed_ns(t);
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
    /// A stats reader for the sampler; it does not count as a sender (the channel still closes).
    pub fn probe(&self) -> crate::metrics::Probe
    where
        T: 'static,
    {
        let shared = Arc::clone(&self.shared);
        crate::metrics::Probe::new(self.shared.name, move || shared.state.lock().stats)
    }
    /// True once every receiver is gone (a `send` would fail).
    pub fn is_closed(&self) -> bool {
        self.shared.state.lock().receivers == 0
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.state.lock().senders += 1;
        Sender {
            shared: Arc::clone(&self.shared),
        }
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
                    state.stats.recv_waited_ns += elapsed_ns(t);
                }
                let more = !state.queue.is_empty();
                drop(state);
                self.shared.not_full.notify_all();
                if more {
                    // Another receiver may have been passed over by `notify_one`.
                    self.shared.not_empty.notify_one();
                }
                return Some(item);
            }
            if state.senders == 0 {
                if let Some(t) = waited_since {
                    state.stats.recv_waited_ns += elapsed_ns(t);
                }
                return None;
            }
            waited_since.get_or_insert_with(Instant::now);
            state.waiting.1 += 1;
            self.shared.not_empty.wait(&mut state);
            state.waiting.1 -= 1;
        }
    }
    /// Next item if one is queued now; never blocks. `None` also when the channel is empty
    /// but still open (see [`Receiver::is_finished`]).
    pub fn try_recv(&self) -> Option<T> {
        let mut state = self.shared.state.lock();
        let (item, weight) = state.queue.pop_front()?;
        state.stats.used -= weight;
        drop(state);
        self.shared.not_full.notify_all();
        Some(item)
    }
    /// True when every sender is gone and nothing is queued (`recv` would return `None`).
    pub fn is_finished(&self) -> bool {
        let state = self.shared.state.lock();
        state.senders == 0 && state.queue.is_empty()
    }
    pub fn stats(&self) -> ChannelStats {
        self.shared.state.lock().stats
    }
    pub fn name(&self) -> &'static str {
        self.shared.name
    }
    /// Iterate with `recv` until the channel is closed and drained.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { receiver: self }
    }
}

/// Blocking iterator over a receiver: yields until the channel is closed and drained.
pub struct Iter<'a, T> {
    receiver: &'a Receiver<T>,
}

impl<T: Weighted + Send> Iterator for Iter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.receiver.recv()
    }
}

impl<'a, T: Weighted + Send> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.shared.state.lock().receivers += 1;
        Receiver {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut state = self.shared.state.lock();
        state.receivers -= 1;
        if state.receivers == 0 {
            // Free queued items (outside the lock) and wake blocked senders so they see the
            // receivers are gone.
            let queued = std::mem::take(&mut state.queue);
            state.stats.used = 0;
            drop(state);
            self.shared.not_full.notify_all();
            drop(queued);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// An item of a chosen weight that is deliberately not `Clone`.
    #[derive(Debug, PartialEq, Eq)]
    struct Item {
        id: u64,
        weight: usize,
    }
    impl Weighted for Item {
        fn weight(&self) -> usize {
            self.weight
        }
    }
    fn item(id: u64, weight: usize) -> Item {
        Item { id, weight }
    }

    #[test]
    fn delivers_in_fifo_order_and_counts_items_and_bytes() {
        let (tx, rx) = bounded::<Item>("fifo", 1000);
        for id in 0..5 {
            tx.send(item(id, 10 * (id as usize + 1))).unwrap();
        }
        let stats = tx.stats();
        assert_eq!(
            (stats.items, stats.bytes, stats.used, stats.peak_used),
            (5, 150, 150, 150)
        );
        drop(tx);
        let ids: Vec<u64> = rx.iter().map(|i| i.id).collect();
        assert_eq!(ids, vec![0, 1, 2, 3, 4]);
        assert_eq!(rx.stats().used, 0);
        assert_eq!(rx.stats().peak_used, 150);
        assert_eq!(rx.name(), "fifo");
        assert!(rx.is_finished());
    }

    #[test]
    fn queued_items_survive_the_senders() {
        let (tx, rx) = bounded::<Item>("t", 100);
        tx.send(item(7, 1)).unwrap();
        let tx2 = tx.clone();
        tx2.send(item(8, 1)).unwrap();
        drop(tx);
        drop(tx2);
        assert_eq!(rx.recv(), Some(item(7, 1)));
        assert_eq!(rx.recv(), Some(item(8, 1)));
        assert_eq!(rx.recv(), None);
        assert_eq!(rx.recv(), None);
    }

    #[test]
    fn send_blocks_while_full_and_resumes_when_drained() {
        let (tx, rx) = bounded::<Item>("t", 100);
        tx.send(item(0, 60)).unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let sender = {
            let (tx, done) = (tx.clone(), Arc::clone(&done));
            std::thread::spawn(move || {
                tx.send(item(1, 60)).unwrap();
                done.store(true, Ordering::SeqCst);
            })
        };
        // The second item does not fit beside the first: the sender waits until it is taken.
        crate::wait_until("second sender blocked", || {
            rx.shared.state.lock().waiting.0 == 1
        });
        assert!(
            !done.load(Ordering::SeqCst),
            "send went past a full channel"
        );
        assert_eq!(rx.stats().used, 60);
        assert_eq!(rx.recv().unwrap().id, 0);
        sender.join().unwrap();
        assert!(done.load(Ordering::SeqCst));
        assert_eq!(rx.recv().unwrap().id, 1);
        let stats = rx.stats();
        assert!(
            stats.send_blocked_ns > 0,
            "blocked time not counted: {stats:?}"
        );
        assert_eq!(stats.peak_used, 60);
    }

    #[test]
    fn oversize_item_is_admitted_into_an_empty_channel() {
        let (tx, rx) = bounded::<Item>("t", 10);
        tx.send(item(0, 1000)).unwrap();
        assert_eq!(tx.stats().used, 1000);
        assert_eq!(rx.recv().unwrap().weight, 1000);
        tx.send(item(1, 1000)).unwrap();
        assert_eq!(rx.try_recv().unwrap().id, 1);
        assert!(rx.try_recv().is_none());
        assert!(!rx.is_finished());
    }

    #[test]
    fn send_fails_with_the_item_once_receivers_are_gone() {
        let (tx, rx) = bounded::<Item>("t", 10);
        let rx2 = rx.clone();
        drop(rx);
        tx.send(item(1, 1)).unwrap();
        assert!(!tx.is_closed());
        drop(rx2);
        assert!(tx.is_closed());
        let SendError(back) = tx.send(item(2, 3)).unwrap_err();
        assert_eq!(back, item(2, 3));
        assert_eq!(
            tx.stats().used,
            0,
            "queued items are freed with the last receiver"
        );
    }

    #[test]
    fn blocked_sender_wakes_when_receiver_drops() {
        let (tx, rx) = bounded::<Item>("t", 10);
        tx.send(item(0, 10)).unwrap();
        let blocked = std::thread::spawn(move || tx.send(item(1, 10)).map_err(|SendError(i)| i.id));
        crate::wait_until("sender blocked", || rx.shared.state.lock().waiting.0 == 1);
        drop(rx);
        assert_eq!(blocked.join().unwrap(), Err(1));
    }

    #[test]
    fn receiver_waits_for_data_and_sees_the_close() {
        let (tx, rx) = bounded::<Item>("t", 10);
        let consumer = std::thread::spawn(move || {
            let got: Vec<u64> = rx.iter().map(|i| i.id).collect();
            (got, rx.stats().recv_waited_ns)
        });
        crate::wait_until("receiver waiting", || tx.shared.state.lock().waiting.1 == 1);
        tx.send(item(4, 1)).unwrap();
        drop(tx);
        let (got, waited) = consumer.join().unwrap();
        assert_eq!(got, vec![4]);
        assert!(waited > 0);
    }

    #[test]
    fn many_producers_many_consumers_lose_nothing_and_stay_in_budget() {
        const PRODUCERS: u64 = 4;
        const PER: u64 = 2000;
        let (tx, rx) = bounded::<Item>("mpmc", 64);
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let tx = tx.clone();
                std::thread::spawn(move || {
                    for i in 0..PER {
                        tx.send(item(p * PER + i, 1 + (i % 16) as usize)).unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        let consumers: Vec<_> = (0..3)
            .map(|_| {
                let rx = rx.clone();
                std::thread::spawn(move || rx.iter().map(|i| i.id).collect::<Vec<_>>())
            })
            .collect();
        for p in producers {
            p.join().unwrap();
        }
        let mut all: Vec<u64> = consumers
            .into_iter()
            .flat_map(|c| c.join().unwrap())
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..PRODUCERS * PER).collect::<Vec<_>>());
        let stats = rx.stats();
        assert_eq!(stats.items, PRODUCERS * PER);
        assert!(stats.peak_used <= 64, "budget exceeded: {stats:?}");
        assert_eq!(stats.used, 0);
    }

    #[test]
    fn vec_weight_is_its_capacity() {
        let (tx, rx) = bounded::<Vec<u8>>("bytes", 1 << 20);
        tx.send(Vec::with_capacity(4096)).unwrap();
        assert_eq!(tx.stats().bytes, 4096);
        assert_eq!(rx.recv().unwrap().capacity(), 4096);
    }
}
