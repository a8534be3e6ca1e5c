//! The aligners' look-ahead at representatives the writer has not published yet.
//!
//! Why: a worker decides a record against the index as published when it looks (its
//! snapshot). Representatives the writer publishes after that must still be tried, and the
//! writer is one thread. Records decided longest first arrive family by family, so most joins
//! are to a representative a few chunks back. On 20k UniProt at 0.5 (2 aligners, AVX2) the writer
//! ran 9,742 of the 27,188 alignments, was 91% busy and set the wall time, while the aligners were
//! 61% busy.
//!
//! So each worker lists its chunk's would-be representatives (records that no published
//! representative took) in a [`Pool`] before it sends the chunk on. For each such record it
//! also tries the would-be representatives of the chunks in the pool and of its own chunk so
//! far, in decision order, with the rule the writer applies (`Decider::look_ahead`). What it
//! found travels with the verdict as a [`Lookahead`]. The writer takes those answers for the
//! representatives the worker saw and works out the others itself (`Decider::complete`).
//! A would-be representative can still become a member, because the writer decides; its answer
//! is used only when it was published. Each answer depends on the two sequences and nothing else,
//! so the decision is the one the writer would have made alone, whatever the timing.

use crate::fasta::record::Record;
use crate::reduce::decide::{Decider, Features, Join, Verdict};
use crate::reduce::index::RepIndex;
use parking_lot::Mutex;
use parking_lot::RwLock;
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Where a worker decides: the index, the pool, its chunk, and when to look ahead.
#[derive(Clone, Copy)]
pub struct Place<'a> {
    pub index: &'a RwLock<RepIndex>,
    pub pool: &'a Pool,
    pub chunk: u64,
    pub mode: Mode,
}

/// When workers look ahead (`performance.lookahead`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Never: the writer completes every decision (no pool is kept).
    Off,
    /// For every record no published representative takes.
    Always,
    /// Only while the writer has more than `workers` chunks to write before this one, that is
    /// when it has a queue and the aligners would otherwise wait for it.
    WhileWriterBehind { workers: usize },
}

/// `performance.lookahead = "auto"` looks ahead only with this many CPUs allowed and this many
/// aligner threads. Measured on 2 CPUs (20k UniProt), where the threads already share too few
/// CPUs: the writer's CPU fell from 2.83 to 1.13 s at 0.5 and from 0.63 to 0.28 s at 0.9, but
/// the run took 5-45% more CPU and no less time (with `-j 4`, 1.30x the time at 0.5). With
/// CPUs to spare, the writer's serial work is what bounds the run, but that gain is inferred,
/// not measured (README, "Threads and the writer").
pub const AUTO_MIN_CPUS: usize = 8;
pub const AUTO_MIN_WORKERS: usize = 4;

impl Mode {
    /// For the summary.
    pub fn describe(self) -> String {
        match self {
            Mode::Off => "off".into(),
            Mode::Always => "on".into(),
            Mode::WhileWriterBehind { .. } => "auto: while the writer has chunks queued".into(),
        }
    }

    /// The mode for `setting` with `workers` aligner threads on `cpus` allowed CPUs.
    pub fn choose(setting: crate::config::Switch, workers: usize, cpus: usize) -> Mode {
        use crate::config::Switch;
        match setting {
            Switch::On => Mode::Always,
            Switch::Off => Mode::Off,
            Switch::Auto if workers >= AUTO_MIN_WORKERS && cpus >= AUTO_MIN_CPUS => {
                Mode::WhileWriterBehind { workers }
            }
            Switch::Auto => Mode::Off,
        }
    }
}

/// Written chunks the pool keeps for `workers` aligners: a verdict's snapshot lags the writer
/// by at most the decided queue's item limit (2 per worker) plus the chunks in the workers'
/// hands; past that, the writer walks the index instead.
pub fn keep_for(workers: usize) -> u64 {
    3 * workers as u64 + 2
}

/// A worker's decision for `record`: an exact duplicate, then the published representatives
/// (`Decider::search`); if none takes it and the look-ahead is on, it is listed in `own` (its
/// chunk's would-be representatives) and, when `at.mode` says so, tried against the would-be
/// representatives of the earlier chunks and of `own`. `earlier` is scratch.
pub fn decide(
    decider: &mut Decider,
    at: Place,
    record: &Record,
    features: &Features,
    earlier: &mut Vec<Arc<TentativeChunk>>,
    own: &mut TentativeChunk,
) -> Verdict {
    if at.mode == Mode::Off {
        return match decider.exact(at.index, &record.seq, features) {
            Some(join) => Verdict::Member(join),
            None => decider.search(at.index, &record.seq, features, 0, 0),
        };
    }
    // The pool before the snapshot the search takes (see `Pool::before`).
    let handled = at.pool.before(at.chunk, earlier);
    let mut verdict = match decider.exact(at.index, &record.seq, features) {
        Some(join) => Verdict::Member(join),
        None => decider.search(at.index, &record.seq, features, 0, 0),
    };
    if let Verdict::Representative {
        tried, lookahead, ..
    } = &mut verdict
    {
        let now = match at.mode {
            Mode::WhileWriterBehind { workers } => at.pool.writer_behind(at.chunk) > workers as u64,
            _ => true,
        };
        let found = if now {
            let budget = decider.params().max_candidates.saturating_sub(tried.len());
            let mut chunks: Vec<&TentativeChunk> = earlier.iter().map(|c| &**c).collect();
            chunks.push(own);
            decider.look_ahead(&record.seq, features, budget, &chunks, handled)
        } else {
            Lookahead::default()
        };
        own.push(record.ordinal, &record.seq, &features.kmers);
        *lookahead = Some(Box::new(found));
    }
    verdict
}

/// A chunk's would-be representatives, with their k-mers indexed for counting.
pub struct TentativeChunk {
    /// The chunk's number (decision order).
    pub chunk: u64,
    reps: Vec<Tentative>,
    /// Key -> the newest link of its chain in `links`.
    heads: FxHashMap<u64, u32>,
    /// (index into `reps`, next link or `NONE`).
    links: Vec<(u32, u32)>,
}

/// One would-be representative.
pub struct Tentative {
    /// Decision position (`Record::ordinal` in deciding order).
    pub position: u64,
    pub seq: Arc<[u8]>,
    /// Its distinct index keys (what its `meta` would say once published).
    pub distinct: u32,
}

const NONE: u32 = u32::MAX;

impl TentativeChunk {
    pub fn new(chunk: u64) -> TentativeChunk {
        TentativeChunk {
            chunk,
            reps: Vec::new(),
            heads: FxHashMap::default(),
            links: Vec::new(),
        }
    }

    /// Lists a would-be representative: `kmers` are its distinct index keys, as the writer
    /// would publish them.
    pub fn push(&mut self, position: u64, seq: &[u8], kmers: &[u64]) {
        debug_assert!(self.reps.last().is_none_or(|r| r.position < position));
        let rep = self.reps.len() as u32;
        for &key in kmers {
            let next = self.heads.insert(key, self.links.len() as u32);
            self.links.push((rep, next.unwrap_or(NONE)));
        }
        self.reps.push(Tentative {
            position,
            seq: Arc::from(seq),
            distinct: kmers.len() as u32,
        });
    }

    pub fn reps(&self) -> &[Tentative] {
        &self.reps
    }

    pub fn is_empty(&self) -> bool {
        self.reps.is_empty()
    }

    /// Heap bytes, near enough for a budget: residues, the key map at its capacity (key,
    /// value, control byte), the links.
    pub fn heap_bytes(&self) -> usize {
        self.reps.iter().map(|r| r.seq.len() + 16).sum::<usize>()
            + self.reps.capacity() * std::mem::size_of::<Tentative>()
            + self.heads.capacity() * 17
            + self.links.capacity() * 8
    }

    /// `counts[r]` = how many of `kmers` (distinct) representative `r` has: the count the
    /// index would give it once published.
    pub fn shared_counts(&self, kmers: &[u64], counts: &mut Vec<u32>) {
        counts.clear();
        counts.resize(self.reps.len(), 0);
        for key in kmers {
            let Some(&head) = self.heads.get(key) else {
                continue;
            };
            let mut link = head;
            while link != NONE {
                let (rep, next) = self.links[link as usize];
                counts[rep as usize] += 1;
                link = next;
            }
        }
    }
}

/// The chunks decided but not yet written, for the workers to look ahead at, and the last
/// few written, for the writer to count shared keys in without walking the index.
pub struct Pool {
    /// The chunks, and the bytes they hold.
    chunks: Mutex<(BTreeMap<u64, Arc<TentativeChunk>>, usize)>,
    /// Bytes the chunks may hold: a chunk that would go past it is not listed (the writer
    /// then works its representatives out itself).
    budget: usize,
    /// Chunks the writer has written (it writes them in order).
    written: AtomicU64,
    /// Records (decision positions) the writer has handled, published representatives included.
    handled: AtomicU64,
    /// Written chunks kept for the writer: more than a verdict's snapshot can lag behind.
    keep: u64,
}

impl Pool {
    /// `keep` written chunks stay listed: workers run at most a few chunks ahead of the writer
    /// (the decided queue's item limit plus one chunk each in hand).
    pub fn new(keep: u64, budget: usize) -> Pool {
        Pool {
            chunks: Mutex::new((BTreeMap::new(), 0)),
            budget,
            written: AtomicU64::new(0),
            handled: AtomicU64::new(0),
            keep,
        }
    }

    /// A worker finished `chunk` (before sending it to the writer).
    pub fn insert(&self, chunk: TentativeChunk) {
        if chunk.is_empty() {
            return;
        }
        let bytes = chunk.heap_bytes();
        let mut guard = self.chunks.lock();
        let (chunks, held) = &mut *guard;
        if *held + bytes <= self.budget {
            *held += bytes;
            chunks.insert(chunk.chunk, Arc::new(chunk));
        }
    }

    /// Bytes the listed chunks hold.
    pub fn bytes(&self) -> usize {
        self.chunks.lock().1
    }

    /// The writer has written `chunk`: its representatives are in the index now.
    pub fn written(&self, chunk: u64) {
        let mut guard = self.chunks.lock();
        let (chunks, held) = &mut *guard;
        self.written.store(chunk + 1, Ordering::Release);
        let stale = (chunk + 1).saturating_sub(self.keep);
        while let Some(entry) = chunks.first_entry() {
            if *entry.key() >= stale {
                break;
            }
            *held -= entry.remove().heap_bytes();
        }
    }

    /// The writer has handled every record before decision position `position`.
    pub fn handled(&self, position: u64) {
        self.handled.store(position, Ordering::Release);
    }

    /// How many chunks before `chunk` the writer has still to write.
    pub fn writer_behind(&self, chunk: u64) -> u64 {
        chunk.saturating_sub(self.written.load(Ordering::Relaxed))
    }

    /// The chunks listed before `chunk` and not yet written, in decision order, into `out`,
    /// and the decision position below which the writer has handled every record. Taken before
    /// the index snapshot: a chunk missing here was either not decided yet (the writer tries
    /// its representatives) or written, and a record below the position was handled; either
    /// way its representative, if it is one, is in the snapshot.
    pub fn before(&self, chunk: u64, out: &mut Vec<Arc<TentativeChunk>>) -> u64 {
        out.clear();
        let guard = self.chunks.lock();
        let handled = self.handled.load(Ordering::Acquire);
        let written = self.written.load(Ordering::Acquire);
        out.extend(guard.0.range(written..chunk).map(|(_, c)| Arc::clone(c)));
        handled
    }

    /// `chunk`'s would-be representatives, while it is listed.
    pub fn get(&self, chunk: u64) -> Option<Arc<TentativeChunk>> {
        self.chunks.lock().0.get(&chunk).cloned()
    }
}

/// What a worker found among the would-be representatives, for one record that no published
/// representative took.
#[derive(Clone, Debug, Default)]
pub struct Lookahead {
    /// The chunks whose would-be representatives were looked at, ascending.
    pub chunks: Vec<u64>,
    /// Looked at every listed representative of those chunks up to this decision position
    /// (inclusive): the look-ahead stops at a join or when the candidate budget is spent.
    pub through: u64,
    /// Positions of the candidates aligned that did not pass, ascending.
    pub failed: Vec<u64>,
    /// The candidate that passed (its position, the join; `rep` is filled in by the writer).
    pub passed: Option<(u64, Join)>,
}

/// The look-ahead's answer for one published representative.
pub enum Answer {
    /// The worker did not see it: the writer works it out.
    Unknown,
    /// The worker did not see it, but it shares this many of the record's keys.
    Shared(u32),
    /// Too few shared k-mers: not a candidate.
    NotCandidate,
    /// A candidate whose alignment did not pass.
    Failed,
    /// A candidate that passed, with the join.
    Passed(Join),
}

impl Lookahead {
    /// The answer for the representative at decision `position` of `chunk`, which was `listed`
    /// there. Hands over the join when it passed.
    pub fn answer(&mut self, chunk: u64, position: u64, listed: bool) -> Answer {
        if !listed || position > self.through || self.chunks.binary_search(&chunk).is_err() {
            return Answer::Unknown;
        }
        if matches!(&self.passed, Some((p, _)) if *p == position) {
            let (_, join) = self.passed.take().expect("just matched");
            return Answer::Passed(join);
        }
        if self.failed.binary_search(&position).is_ok() {
            Answer::Failed
        } else {
            Answer::NotCandidate
        }
    }

    pub fn heap_bytes(&self) -> usize {
        self.chunks.capacity() * 8
            + self.failed.capacity() * 8
            + self.passed.as_ref().map_or(0, |(_, j)| j.delta.capacity())
    }
}

/// What the writer remembers of each representative it published lately, to match the
/// look-ahead's answers to them.
#[derive(Default)]
pub struct Recent {
    /// Ordinal of `infos[0]`.
    base: u32,
    infos: std::collections::VecDeque<RecentRep>,
}

#[derive(Clone, Copy, Debug)]
pub struct RecentRep {
    pub chunk: u64,
    pub position: u64,
    /// Its place among its chunk's would-be representatives, if a worker listed it there.
    pub slot: Option<u32>,
}

/// Representatives remembered: verdicts older than this many publications are completed
/// without the look-ahead. Workers run only a few chunks ahead of the writer, so their
/// snapshots are far more recent than this (24 bytes each: 1.5 MiB at most).
const RECENT: usize = 1 << 16;

impl Recent {
    /// The next ordinal was published.
    pub fn push(&mut self, info: RecentRep) {
        if self.infos.len() == RECENT {
            self.infos.pop_front();
            self.base += 1;
        }
        self.infos.push_back(info);
    }

    /// Whether every representative from `ordinal` on is remembered.
    pub fn covers(&self, ordinal: u32) -> bool {
        ordinal >= self.base
    }

    pub fn get(&self, ordinal: u32) -> RecentRep {
        self.infos[(ordinal - self.base) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_match_a_set_intersection() {
        let mut chunk = TentativeChunk::new(3);
        chunk.push(10, b"AAAA", &[1, 2, 3, 4]);
        chunk.push(12, b"CCCC", &[3, 4, 5]);
        chunk.push(15, b"GGGG", &[9]);
        let mut counts = Vec::new();
        chunk.shared_counts(&[2, 3, 5, 7], &mut counts);
        assert_eq!(counts, vec![2, 2, 0]);
        chunk.shared_counts(&[], &mut counts);
        assert_eq!(counts, vec![0, 0, 0]);
        assert_eq!(chunk.reps()[1].distinct, 3);
        assert_eq!(&*chunk.reps()[2].seq, b"GGGG");
    }

    #[test]
    fn pool_lists_only_earlier_nonempty_chunks() {
        let pool = Pool::new(2, usize::MAX);
        for c in [0u64, 2, 3, 5] {
            let mut chunk = TentativeChunk::new(c);
            chunk.push(c * 10, b"A", &[c]);
            pool.insert(chunk);
        }
        pool.insert(TentativeChunk::new(4)); // nothing listed: not kept
        let mut out = Vec::new();
        let chunks =
            |out: &Vec<Arc<TentativeChunk>>| out.iter().map(|c| c.chunk).collect::<Vec<_>>();
        assert_eq!(pool.before(5, &mut out), 0);
        assert_eq!(chunks(&out), vec![0, 2, 3]);
        pool.handled(17);
        assert_eq!(pool.before(5, &mut out), 17);
        assert_eq!(pool.writer_behind(5), 5);
        // Written chunks leave the workers' view at once, and the pool `keep` chunks later.
        pool.written(2);
        assert_eq!(pool.writer_behind(5), 2);
        pool.before(9, &mut out);
        assert_eq!(chunks(&out), vec![3, 5]);
        assert!(pool.get(0).is_none());
        assert_eq!(pool.get(2).map(|c| c.chunk), Some(2));
        pool.written(3);
        assert!(pool.get(2).is_some() && pool.get(3).is_some());
        pool.written(4);
        assert!(pool.get(2).is_none() && pool.get(3).is_some());
        let held = pool.bytes();
        pool.written(100);
        assert!(pool.bytes() < held);
        assert_eq!(pool.bytes(), 0);
    }

    #[test]
    fn pool_leaves_out_what_is_over_budget() {
        let mut small = TentativeChunk::new(0);
        small.push(0, b"ACDE", &[1, 2]);
        let budget = small.heap_bytes();
        let pool = Pool::new(4, budget);
        pool.insert(small);
        let mut next = TentativeChunk::new(1);
        next.push(5, b"ACDE", &[1, 2]);
        pool.insert(next);
        assert!(pool.get(0).is_some());
        assert!(pool.get(1).is_none(), "over budget: left out");
        assert_eq!(pool.bytes(), budget);
    }

    #[test]
    fn answers_only_for_what_the_worker_saw() {
        let join = Join {
            rep: 0,
            identity: 0.95,
            delta: vec![1, 2],
            exact: false,
        };
        let mut la = Lookahead {
            chunks: vec![2, 4],
            through: 40,
            failed: vec![21, 33],
            passed: Some((40, join)),
        };
        assert!(matches!(la.answer(3, 30, true), Answer::Unknown)); // chunk not seen
        assert!(matches!(la.answer(4, 41, true), Answer::Unknown)); // past the stop
        assert!(matches!(la.answer(2, 22, false), Answer::Unknown)); // was not listed
        assert!(matches!(la.answer(2, 21, true), Answer::Failed));
        assert!(matches!(la.answer(2, 22, true), Answer::NotCandidate));
        match la.answer(4, 40, true) {
            Answer::Passed(j) => assert_eq!(j.delta, vec![1, 2]),
            _ => panic!("the passed candidate"),
        }
    }

    #[test]
    fn recent_forgets_the_oldest() {
        let mut recent = Recent::default();
        for i in 0..(RECENT as u64 + 3) {
            recent.push(RecentRep {
                chunk: i,
                position: i,
                slot: Some(0),
            });
        }
        assert!(!recent.covers(2));
        assert!(recent.covers(3));
        assert_eq!(recent.get(3).position, 3);
        assert_eq!(recent.get(RECENT as u32 + 2).chunk, RECENT as u64 + 2);
    }
}
