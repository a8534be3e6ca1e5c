//! Per-domain work queues with stealing: one producer deals items, in runs of consecutive items,
//! to the queues of several domains (L3 caches, in talaria); each consumer takes from its own
//! domain's queue and, only when that is empty, steals from the others in a fixed order. The
//! byte budget covers all queues together, like [`crate::channel`].
//!
//! Why runs: consecutive items touch related data, so keeping a run inside one domain keeps that
//! data in one cache. Why stealing: an idle domain must not wait while another's queue is long.
//!
//! Order guarantee (what the ordered reassembly downstream relies on): the producer pushes items
//! in sequence, every queue is FIFO, and a consumer steals only when its own queue is empty, and
//! then the oldest item of the victim. So the oldest item not yet taken always sits at the front
//! of a queue whose own consumers hold nothing older than it: they are free and will take it
//! (proof in the README, "NUMA and per-L3 queues"). It must not lose, duplicate or reorder the
//! items of one queue, nor admit more than the budget (except one item into empty queues).

use crate::channel::{ChannelStats, Receiver, SendError, Sender};
use crate::stage::StageCounters;
use crate::Weighted;
use parking_lot::{Condvar, Mutex};
use std::collections::VecDeque;
use std::sync::Arc;

/// Per-domain counts of one run, for the summary and `--debug-threads`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DomainStats {
    /// Items the producer dealt to this domain's queue.
    pub dealt: u64,
    /// Runs of consecutive items dealt to it.
    pub runs: u64,
    /// Items its consumers took from their own queue.
    pub own: u64,
    /// Items its consumers stole from other queues.
    pub stole: u64,
    /// Items other domains' consumers stole from this queue.
    pub stolen: u64,
}

struct State<T> {
    queues: Vec<VecDeque<(T, usize)>>,
    /// The domain dealt to now, and how many more items its run takes.
    current: usize,
    run_left: usize,
    senders: usize,
    receivers: usize,
    stats: ChannelStats,
    domains: Vec<DomainStats>,
}

struct Shared<T> {
    name: &'static str,
    /// Items per run, by domain.
    runs: Vec<usize>,
    /// For each domain, the other domains in the order its consumers steal from them.
    steal_order: Vec<Vec<usize>>,
    state: Mutex<State<T>>,
    not_full: Condvar,
    not_empty: Condvar,
}

/// The producing half (one producer: runs are dealt in the order items are sent).
pub struct Dealer<T> {
    shared: Arc<Shared<T>>,
}

/// A consumer of one domain; clone it for more consumers (of any domain, with [`Taker::for_domain`]).
pub struct Taker<T> {
    shared: Arc<Shared<T>>,
    domain: usize,
}

/// Queues for `runs.len()` domains: domain d receives runs of `runs[d]` consecutive items (at
/// least 1), and its consumers steal in `steal_order[d]` (other domains only; a domain missing
/// from it is never stolen from by d). The takers returned are one per domain.
pub fn domains<T: Weighted + Send>(
    name: &'static str,
    capacity_bytes: usize,
    runs: Vec<usize>,
    steal_order: Vec<Vec<usize>>,
) -> (Dealer<T>, Vec<Taker<T>>) {
    let n = runs.len().max(1);
    let mut runs = runs;
    runs.resize(n, 1);
    let runs: Vec<usize> = runs.into_iter().map(|r| r.max(1)).collect();
    let mut steal_order = steal_order;
    steal_order.resize(n, Vec::new());
    for (d, order) in steal_order.iter_mut().enumerate() {
        order.retain(|&v| v != d && v < n);
    }
    let shared = Arc::new(Shared {
        name,
        runs,
        steal_order,
        state: Mutex::new(State {
            queues: (0..n).map(|_| VecDeque::new()).collect(),
            current: n - 1,
            run_left: 0,
            senders: 1,
            receivers: n,
            stats: ChannelStats {
                capacity: capacity_bytes,
                ..Default::default()
            },
            domains: vec![DomainStats::default(); n],
        }),
        not_full: Condvar::new(),
        not_empty: Condvar::new(),
    });
    let takers = (0..n)
        .map(|domain| Taker {
            shared: Arc::clone(&shared),
            domain,
        })
        .collect();
    (Dealer { shared }, takers)
}

impl<T: Weighted + Send> Dealer<T> {
    /// Queue `item` in the current run's domain (a new run goes to the domain with the fewest
    /// queued items, the next after the last one on a tie), blocking while the budget is full.
    /// Fails, returning the item, once every taker is gone.
    pub fn send(&self, item: T) -> Result<(), SendError<T>> {
        let weight = item.weight();
        let mut state = self.shared.state.lock();
        loop {
            if state.receivers == 0 {
                return Err(SendError(item));
            }
            let empty = state.queues.iter().all(VecDeque::is_empty);
            if empty || state.stats.used.saturating_add(weight) <= state.stats.capacity {
                break;
            }
            self.shared.not_full.wait(&mut state);
        }
        if state.run_left == 0 {
            let n = state.queues.len();
            let from = state.current + 1;
            let next = (0..n)
                .map(|step| (from + step) % n)
                .min_by_key(|&d| state.queues[d].len())
                .expect("at least one domain");
            state.current = next;
            state.run_left = self.shared.runs[next];
            state.domains[next].runs += 1;
        }
        let d = state.current;
        state.run_left -= 1;
        state.domains[d].dealt += 1;
        state.stats.used += weight;
        state.stats.peak_used = state.stats.peak_used.max(state.stats.used);
        state.stats.items += 1;
        state.stats.bytes += weight as u64;
        state.queues[d].push_back((item, weight));
        drop(state);
        // Any domain's consumers may take it (their own, or by stealing).
        self.shared.not_empty.notify_all();
        Ok(())
    }

    /// The budget's accounting, all queues together.
    pub fn stats(&self) -> ChannelStats {
        self.shared.state.lock().stats
    }

    /// What each domain was dealt, took and stole so far.
    pub fn domain_stats(&self) -> Vec<DomainStats> {
        self.shared.state.lock().domains.clone()
    }

    /// A stats reader for the sampler (it does not keep the queues open).
    pub fn probe(&self) -> crate::metrics::Probe
    where
        T: 'static,
    {
        let shared = Arc::clone(&self.shared);
        crate::metrics::Probe::new(self.shared.name, move || shared.state.lock().stats)
    }

    /// A reader of the per-domain counts that outlives the dealer (for the end-of-run report).
    pub fn domain_probe(&self) -> DomainProbe
    where
        T: 'static,
    {
        let shared = Arc::clone(&self.shared);
        DomainProbe(Arc::new(move || shared.state.lock().domains.clone()))
    }
}

/// Reads the per-domain counts of a set of queues.
#[derive(Clone)]
pub struct DomainProbe(Arc<dyn Fn() -> Vec<DomainStats> + Send + Sync>);

impl DomainProbe {
    pub fn read(&self) -> Vec<DomainStats> {
        (self.0)()
    }
}

impl<T> Drop for Dealer<T> {
    fn drop(&mut self) {
        self.shared.state.lock().senders -= 1;
        self.shared.not_empty.notify_all();
    }
}

impl<T: Weighted + Send> Taker<T> {
    /// A consumer of `domain` sharing these queues.
    pub fn for_domain(&self, domain: usize) -> Taker<T> {
        let domain = domain.min(self.shared.runs.len() - 1);
        self.shared.state.lock().receivers += 1;
        Taker {
            shared: Arc::clone(&self.shared),
            domain,
        }
    }

    pub fn domain(&self) -> usize {
        self.domain
    }

    /// The next item: the front of this domain's queue, else the front of the first non-empty
    /// queue in steal order; `None` once the producer is gone and every queue this consumer can
    /// reach is empty.
    pub fn recv(&self) -> Option<T> {
        let mut state = self.shared.state.lock();
        loop {
            let me = self.domain;
            let victim = if !state.queues[me].is_empty() {
                Some(me)
            } else {
                self.shared.steal_order[me]
                    .iter()
                    .copied()
                    .find(|&v| !state.queues[v].is_empty())
            };
            if let Some(v) = victim {
                let (item, weight) = state.queues[v].pop_front().expect("non-empty");
                state.stats.used -= weight;
                if v == me {
                    state.domains[me].own += 1;
                } else {
                    state.domains[me].stole += 1;
                    state.domains[v].stolen += 1;
                }
                drop(state);
                self.shared.not_full.notify_one();
                return Some(item);
            }
            if state.senders == 0 {
                return None;
            }
            self.shared.not_empty.wait(&mut state);
        }
    }
}

impl<T> Drop for Taker<T> {
    fn drop(&mut self) {
        let mut state = self.shared.state.lock();
        state.receivers -= 1;
        if state.receivers == 0 {
            // Nobody will take them: free the budget and let a blocked producer fail.
            state.queues.iter_mut().for_each(VecDeque::clear);
            state.stats.used = 0;
        }
        drop(state);
        self.shared.not_full.notify_all();
    }
}

/// Where a producer sends: one shared channel, or per-domain queues.
pub enum Feed<T> {
    Shared(Sender<T>),
    Domains(Dealer<T>),
}

/// What a consumer takes from: the shared channel, or its domain's queue (stealing when empty).
pub enum Source<T> {
    Shared(Receiver<T>),
    Domain(Taker<T>),
}

impl<T: Weighted + Send> Feed<T> {
    /// `counters.send`, for either kind.
    pub fn send(&self, counters: &StageCounters, item: T) -> Result<(), SendError<T>> {
        match self {
            Feed::Shared(tx) => counters.send(tx, item),
            Feed::Domains(dealer) => {
                let weight = item.weight();
                {
                    let _blocked = counters.blocked();
                    dealer.send(item)?;
                }
                counters.count_out(weight);
                Ok(())
            }
        }
    }
}

impl<T: Weighted + Send> Source<T> {
    /// `counters.recv`, for either kind.
    pub fn recv(&self, counters: &StageCounters) -> Option<T> {
        match self {
            Source::Shared(rx) => counters.recv(rx),
            Source::Domain(taker) => {
                let item = {
                    let _wait = counters.waiting();
                    taker.recv()
                }?;
                counters.count_in(item.weight());
                Some(item)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Item(u64);
    impl Weighted for Item {
        fn weight(&self) -> usize {
            10
        }
    }

    #[test]
    fn runs_go_to_one_domain_and_each_queue_stays_fifo() {
        let (dealer, takers) = domains::<Item>("q", 1 << 20, vec![3, 3], vec![vec![1], vec![0]]);
        for i in 0..12 {
            dealer.send(Item(i)).unwrap();
        }
        drop(dealer);
        // Runs of 3: 0-2 to domain 0, 3-5 to domain 1 (fewest queued, next after 0), ...
        let own =
            |t: &Taker<Item>, n: usize| (0..n).map(|_| t.recv().unwrap().0).collect::<Vec<_>>();
        assert_eq!(own(&takers[0], 6), vec![0, 1, 2, 6, 7, 8]);
        assert_eq!(own(&takers[1], 6), vec![3, 4, 5, 9, 10, 11]);
        assert!(takers[0].recv().is_none());
        let stats = takers[0].shared.state.lock().domains.clone();
        assert_eq!(
            stats,
            vec![
                DomainStats {
                    dealt: 6,
                    runs: 2,
                    own: 6,
                    stole: 0,
                    stolen: 0
                },
                DomainStats {
                    dealt: 6,
                    runs: 2,
                    own: 6,
                    stole: 0,
                    stolen: 0
                },
            ]
        );
    }

    #[test]
    fn an_idle_domain_steals_the_oldest_in_steal_order() {
        let order = vec![vec![1, 2], vec![2, 0], vec![1, 0]];
        let (dealer, takers) = domains::<Item>("q", 1 << 20, vec![2, 2, 2], order);
        for i in 0..4 {
            dealer.send(Item(i)).unwrap(); // 0,1 -> domain 0; 2,3 -> domain 1
        }
        // Domain 2 has nothing: it steals domain 1's oldest first (its order says 1 before 0).
        assert_eq!(takers[2].recv().unwrap().0, 2);
        assert_eq!(takers[2].recv().unwrap().0, 3);
        assert_eq!(takers[2].recv().unwrap().0, 0);
        assert_eq!(takers[0].recv().unwrap().0, 1);
        let s = dealer.domain_stats();
        assert_eq!(
            (s[2].stole, s[1].stolen, s[0].stolen, s[0].own),
            (3, 2, 1, 1)
        );
        drop(dealer);
        assert!(takers[1].recv().is_none());
    }

    #[test]
    fn budget_blocks_the_dealer_until_a_taker_drains() {
        let (dealer, takers) = domains::<Item>("q", 20, vec![1, 1], vec![vec![1], vec![0]]);
        dealer.send(Item(0)).unwrap();
        dealer.send(Item(1)).unwrap();
        let t = std::thread::spawn(move || {
            dealer.send(Item(2)).unwrap();
            dealer.stats()
        });
        crate::wait_until("the dealer is blocked", || {
            takers[0].shared.state.lock().stats.items == 2
        });
        assert_eq!(takers[0].recv().unwrap().0, 0);
        let stats = t.join().unwrap();
        assert_eq!((stats.items, stats.peak_used), (3, 20));
        assert_eq!(takers[1].recv().unwrap().0, 1);
        assert_eq!(takers[1].recv().unwrap().0, 2);
        assert!(takers[1].recv().is_none());
    }

    #[test]
    fn dealer_fails_once_takers_are_gone() {
        let (dealer, takers) = domains::<Item>("q", 10, vec![1], vec![vec![]]);
        dealer.send(Item(0)).unwrap();
        drop(takers);
        assert!(dealer.send(Item(1)).is_err());
    }

    /// Many consumers over a small budget: every item is taken exactly once.
    #[test]
    fn concurrent_takers_see_every_item_once() {
        let order = vec![vec![1, 2, 3], vec![0, 2, 3], vec![3, 0, 1], vec![2, 0, 1]];
        let (dealer, takers) = domains::<Item>("q", 50, vec![4, 4, 4, 4], order);
        let mut handles = Vec::new();
        for t in &takers {
            for _ in 0..2 {
                let taker = t.for_domain(t.domain());
                handles.push(std::thread::spawn(move || {
                    let mut got = Vec::new();
                    while let Some(Item(i)) = taker.recv() {
                        got.push(i);
                    }
                    got
                }));
            }
        }
        drop(takers);
        for i in 0..5000 {
            dealer.send(Item(i)).unwrap();
        }
        drop(dealer);
        let mut all: Vec<u64> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..5000).collect::<Vec<_>>());
    }
}
