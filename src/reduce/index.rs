//! The representatives' index: for every k-mer, the representatives containing it, newest first.
//!
//! Postings are append-only linked chains in one arena (8 bytes per posting, no per-k-mer
//! allocation). Because representatives are published in ordinal order, each chain is sorted by
//! ordinal, descending — so "representatives published since ordinal g" is a walk that stops
//! early, which is what the writer's determinism re-check needs. The index lives inside a byte
//! budget: when it is over, the least recently used representatives are evicted from the index
//! (they stay representatives in the output; later records just cannot join them).

use crate::bio::kmer::KmerCoder;
use crate::bio::sketch::Sketch;
use crate::config::PrefetchHint;
use crate::reduce::residue_file::FileSpan;
use crate::reduce::sparse_heads::{Head, SparseHeads, MAX_VALUE};
use rustc_hash::FxHashMap;
use std::sync::Arc;
use talaria_stages::memory;

const END: u32 = u32::MAX;
/// Direct-addressed chain heads up to this many k-mer values (16 MiB of heads); above it,
/// sharded hash maps whose head holds a key's only representative itself (`sparse_heads.rs`).
const DENSE_HEADS_MAX: u64 = 1 << 22;

/// The index keys of `seq`'s distinct k-mers, sorted: dense mixed-radix values when the k-mer
/// space is small enough for direct-addressed heads, packed k-mers otherwise. Computed once per
/// record by the prefetcher, so queries and publishing never convert.
pub fn keys_of(coder: &KmerCoder, seq: &[u8], out: &mut Vec<u64>) {
    keys_in_sketch(coder, Sketch::all(), seq, out);
}

/// [`keys_of`] restricted to the keys `sketch` keeps. Sampled before sorting, so a 1-in-8
/// sketch sorts an eighth of the k-mers (the sort was 10% of all CPU on 500k proteins).
///
/// Every key fits 32 bits, so the hash-map heads cost half the bytes (the heads were most of
/// the index at 500k proteins: nearly every sampled 8-mer belongs to one representative). A
/// k-mer space of at most 2^32 values is numbered exactly (mixed radix); above it (protein
/// 8-mers, 20^8 values; DNA beyond 16-mers) a key is a 32-bit hash of the k-mer, so two k-mers
/// may rarely share a chain. That only adds a shared k-mer to the candidate filter now and then
/// (a few in 10^4 of the keys at 500,000 proteins): every join is still aligned, and the hash is
/// fixed, so outputs stay deterministic.
pub fn keys_in_sketch(coder: &KmerCoder, sketch: Sketch, seq: &[u8], out: &mut Vec<u64>) {
    out.clear();
    let exact = coder.space() <= 1 << 32;
    coder.for_each_key(seq, |kmer| {
        let key = if exact {
            coder.dense(kmer)
        } else {
            hash32(kmer)
        };
        if sketch.keeps(key) {
            out.push(key);
        }
    });
    out.sort_unstable();
    out.dedup();
}

/// A 32-bit key for a k-mer from a space above 2^32 values: the high half of a multiplicative
/// hash (Fibonacci hashing), which spreads packed k-mers differing in any residue.
fn hash32(kmer: u64) -> u64 {
    (kmer ^ (kmer >> 29)).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32
}

#[derive(Clone, Copy)]
struct Node {
    rep: u32,
    next: u32,
}

enum Heads {
    /// Chain heads by key, into `RepIndex::nodes`.
    Dense(Vec<u32>),
    /// Keys are below 2^32 (`keys_in_sketch`); a key with one representative has no chain.
    Sparse(SparseHeads),
}

/// A representative's residues in hand, for aligning against.
#[derive(Clone)]
pub struct RepSeq {
    pub ordinal: u32,
    /// Residues exactly as in the input (case kept).
    pub seq: Arc<[u8]>,
}

/// Where an indexed representative's residues are.
#[derive(Clone, Debug)]
pub enum Residues {
    /// In memory: a stream's newest representatives until the writer spills them, or all of
    /// them when there is no spill file.
    Held(Arc<[u8]>),
    /// In the input file, read back for each pair (`reduce::residue_file`): longest first.
    InFile(FileSpan),
    /// In the writer's spill file (streams and compressed input): `len` bytes at `offset`.
    Spilled { offset: u64, len: u32 },
}

/// An indexed representative: its ordinal and where its residues are.
#[derive(Clone, Debug)]
pub struct IndexedRep {
    pub ordinal: u32,
    pub residues: Residues,
}

struct Slot {
    rep: IndexedRep,
    exact_hash: u64,
    last_used: u64,
}

/// One querying thread's scratch space for [`RepIndex::shared_counts`].
#[derive(Default)]
pub struct QueryScratch {
    hits: Vec<u32>,
    counts: Vec<u32>,
    cursors: Vec<u32>,
    /// The radix sort's second buffer.
    sorted: Vec<u32>,
}

/// Sorts `v` ascending. Many hits (a large index: 500k generated proteins put ~17,000 on a query)
/// go through a byte-wise LSD radix sort, which skips the bytes all keys share; few through
/// `sort_unstable`. Same result either way: it is a sort of plain integers.
fn sort_ordinals(v: &mut Vec<u32>, tmp: &mut Vec<u32>) {
    if v.len() < RADIX_MIN {
        v.sort_unstable();
        return;
    }
    let mut histograms = [[0usize; 256]; 4];
    for &x in v.iter() {
        for (byte, histogram) in histograms.iter_mut().enumerate() {
            histogram[((x >> (8 * byte)) & 0xff) as usize] += 1;
        }
    }
    tmp.clear();
    tmp.resize(v.len(), 0);
    for (byte, histogram) in histograms.iter().enumerate() {
        // Every key has the same value in this byte: the pass would not move anything.
        if histogram.contains(&v.len()) {
            continue;
        }
        let mut start = [0usize; 256];
        let mut total = 0;
        for (slot, &n) in start.iter_mut().zip(histogram) {
            *slot = total;
            total += n;
        }
        for &x in v.iter() {
            let digit = ((x >> (8 * byte)) & 0xff) as usize;
            tmp[start[digit]] = x;
            start[digit] += 1;
        }
        std::mem::swap(v, tmp);
    }
}

/// Below this many hits `sort_unstable` beats the radix sort's four histograms.
const RADIX_MIN: usize = 512;

/// How far ahead the walk prefetches, in k-mers and in cursors.
const PREFETCH_AHEAD: usize = 8;
/// The const parameter of [`RepIndex::walk`] for "no prefetch instruction": no x86 hint has
/// this value (and it must fit the intrinsic's 3-bit immediate, though it is never issued).
const NO_PREFETCH: i32 = 4;

/// `_MM_HINT_*` values (the x86 prefetch instruction variants); unused elsewhere.
mod hint {
    pub const T0: i32 = 3;
    pub const T1: i32 = 2;
    pub const T2: i32 = 1;
    pub const NTA: i32 = 0;
}

/// Ask the CPU to bring the line holding `p` into cache with hint `H`. Never faults (a
/// prefetch of any address is harmless), so `p` may be computed with wrapping arithmetic.
#[inline(always)]
fn prefetch<const H: i32>(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetch instructions do not access memory architecturally and cannot fault.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<H>(p as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p; // config reports prefetch_hint not applicable on other architectures
}

/// Figures for the end-of-run summary.
#[derive(Clone, Debug, Default)]
pub struct IndexStats {
    pub published: u64,
    pub evicted: u64,
    pub not_indexed: u64,
    pub compactions: u64,
    pub peak_bytes: u64,
    /// Bytes of the heads table and the postings now advised for transparent huge pages
    /// (`performance.memory.use_huge_pages`).
    pub huge_pages_advised: u64,
    /// Bytes of the heads table and the postings now locked in RAM (`performance.use_page_locking`).
    pub locked_bytes: u64,
    /// Why locking stopped, if the kernel refused it.
    pub lock_error: Option<String>,
    /// Bytes of the heads table and the postings now under the interleave policy
    /// (`performance.numa.interleave_memory`), and why binding stopped if mbind failed.
    pub interleaved_bytes: u64,
    pub interleave_error: Option<String>,
}

pub struct RepIndex {
    coder: KmerCoder,
    heads: Heads,
    nodes: Vec<Node>,
    garbage_nodes: usize,
    /// Alive representatives by ordinal (ordinals are dense: a flat array is 40 bytes a
    /// representative, where a hash map took 60–110 and doubled in one piece). `None` once
    /// evicted or never indexed.
    alive: Vec<Option<Slot>>,
    alive_count: usize,
    /// Alive representatives whose residues are held in memory.
    held_count: usize,
    /// Case-insensitive sequence hash -> representative, for exact duplicates.
    exact: FxHashMap<u64, u32>,
    /// The oldest alive representatives, (last used, ordinal) descending, so the least
    /// recently used is last: taken from the back while evicting, refilled from `alive` when
    /// empty. Built only when the index is over budget, where an ordered set kept up to date on
    /// every join cost about 24 bytes a representative and two tree updates per member.
    evict_next: Vec<(u64, u32)>,
    next_ordinal: u32,
    /// (residues, distinct k-mers) of every representative ever published, by ordinal: read for
    /// each hit during queries, so it is a flat array, not the `alive` map. 8 bytes each,
    /// counted in `bytes()`.
    meta: Vec<(u32, u32)>,
    /// One bit per published representative: still in the index? Compaction tests every
    /// posting, and a bit test is far cheaper than a lookup in `alive`.
    alive_bits: Vec<u64>,
    budget: usize,
    prefetch: PrefetchHint,
    fixed_bytes: usize,
    seq_bytes: usize,
    backing: Backing,
    heads_advised: usize,
    heads_locked: usize,
    nodes_locked: usize,
    heads_interleaved: usize,
    pub stats: IndexStats,
}

/// How the index's big arrays are backed (`performance.memory.use_huge_pages`,
/// `performance.use_page_locking`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Backing {
    /// Advise them for transparent huge pages (`MADV_HUGEPAGE`).
    pub huge_pages: bool,
    /// Lock up to this many bytes of them in RAM (`mlock2(MLOCK_ONFAULT)`); 0 = none.
    pub lock_bytes: usize,
    /// Interleave their pages over these NUMA nodes (`mbind(MPOL_INTERLEAVE)`, before first
    /// touch): every aligner reads them, so no node's memory bus carries all the lookups.
    pub interleave: Option<talaria_stages::numa::NodeSet>,
}

impl Backing {
    fn any(self) -> bool {
        self.huge_pages || self.lock_bytes > 0 || self.interleave.is_some()
    }
}

/// Binds `[ptr, ptr + bytes)` to the interleave policy; the bytes bound, or why not.
fn interleave(
    nodes: talaria_stages::numa::NodeSet,
    ptr: *const u8,
    bytes: usize,
) -> Result<usize, String> {
    let policy = talaria_stages::numa::Policy::Interleave(nodes);
    talaria_stages::numa::bind_region(ptr, bytes, &policy).map_err(|e| e.to_string())
}

impl Drop for RepIndex {
    fn drop(&mut self) {
        self.unlock_nodes();
        if let (Heads::Dense(v), true) = (&self.heads, self.heads_locked > 0) {
            memory::unlock(v.as_ptr().cast(), self.heads_locked);
        }
    }
}

/// Approximate heap cost of one alive representative besides its residues, its postings and
/// its slot in `alive` (counted by capacity), for the budget: the exact-hash entry (a 16-byte
/// bucket at hashbrown's load, about 27). It was 66 more while an ordered set of (last used,
/// ordinal) was kept.
const PER_REP_OVERHEAD: usize = 30;
/// On top of [`PER_REP_OVERHEAD`] for residues held in memory: their allocation header (16)
/// and size-class rounding (jemalloc's classes are a quarter of a power of two apart: about 35
/// for a 350-residue protein).
const HELD_OVERHEAD: usize = 50;

impl RepIndex {
    pub fn new(coder: KmerCoder, budget: usize) -> RepIndex {
        RepIndex::with_backing(coder, budget, Backing::default())
    }

    /// [`RepIndex::new`], its two big arrays (the direct-addressed heads and the postings) backed
    /// as `backing` asks: advised for transparent huge pages before they are first written, and
    /// locked in RAM (up to `backing.lock_bytes`, heads first); the postings again each time
    /// they move.
    pub fn with_backing(coder: KmerCoder, budget: usize, backing: Backing) -> RepIndex {
        let mut heads_advised = 0;
        let mut heads_locked = 0;
        let mut lock_error = None;
        let (mut heads_interleaved, mut interleave_error) = (0, None);
        let heads = if coder.space() <= DENSE_HEADS_MAX {
            let n = coder.space() as usize;
            let mut v: Vec<u32> = Vec::with_capacity(n);
            let bytes = n * std::mem::size_of::<u32>();
            if let Some(nodes) = backing.interleave {
                match interleave(nodes, v.as_ptr().cast(), bytes) {
                    Ok(b) => heads_interleaved = b,
                    Err(e) => interleave_error = Some(e),
                }
            }
            if backing.huge_pages {
                heads_advised = memory::advise_huge_pages(v.as_ptr().cast(), bytes);
            }
            if backing.lock_bytes > 0 {
                match memory::lock(v.as_ptr().cast(), bytes.min(backing.lock_bytes)) {
                    Ok(locked) => heads_locked = locked,
                    Err(e) => lock_error = Some(e.to_string()),
                }
            }
            v.resize(n, END);
            Heads::Dense(v)
        } else {
            Heads::Sparse(SparseHeads::default())
        };
        let fixed_bytes = match &heads {
            Heads::Dense(v) => v.len() * 4,
            Heads::Sparse(_) => 0,
        };
        RepIndex {
            coder,
            heads,
            nodes: Vec::new(),
            garbage_nodes: 0,
            alive: Vec::new(),
            alive_count: 0,
            held_count: 0,
            exact: FxHashMap::default(),
            evict_next: Vec::new(),
            next_ordinal: 0,
            meta: Vec::new(),
            alive_bits: Vec::new(),
            budget,
            prefetch: PrefetchHint::None,
            fixed_bytes,
            seq_bytes: 0,
            backing: Backing {
                lock_bytes: if lock_error.is_some() {
                    0
                } else {
                    backing.lock_bytes
                },
                interleave: backing.interleave.filter(|_| interleave_error.is_none()),
                ..backing
            },
            heads_interleaved,
            heads_advised,
            heads_locked,
            nodes_locked: 0,
            stats: IndexStats {
                huge_pages_advised: heads_advised as u64,
                locked_bytes: heads_locked as u64,
                lock_error,
                interleaved_bytes: heads_interleaved as u64,
                interleave_error,
                ..IndexStats::default()
            },
        }
    }

    /// Room for `extra` more postings; with huge pages or locking on, a moved postings array is
    /// advised and locked before the new part of it is written.
    /// Grows the postings by an eighth at a time, not by doubling: the budget counts what they
    /// use, and a doubled array could hold twice that.
    fn reserve_nodes(&mut self, extra: usize) {
        if self.nodes.len() + extra <= self.nodes.capacity() {
            return;
        }
        let grow = extra.max(self.nodes.len() / 8).max(1024);
        if !self.backing.any() {
            self.nodes.reserve_exact(grow);
            return;
        }
        self.unlock_nodes();
        self.nodes.reserve_exact(grow);
        self.back_nodes();
    }

    fn unlock_nodes(&mut self) {
        if self.nodes_locked > 0 {
            memory::unlock(self.nodes.as_ptr().cast(), self.nodes_locked);
            self.nodes_locked = 0;
        }
    }

    /// Advises and locks the postings where they are now.
    fn back_nodes(&mut self) {
        let bytes = self.nodes.capacity() * std::mem::size_of::<Node>();
        if self.backing.huge_pages {
            let advised = memory::advise_huge_pages(self.nodes.as_ptr().cast(), bytes);
            self.stats.huge_pages_advised = (self.heads_advised + advised) as u64;
        }
        if let Some(nodes) = self.backing.interleave {
            match interleave(nodes, self.nodes.as_ptr().cast(), bytes) {
                Ok(b) => self.stats.interleaved_bytes = (self.heads_interleaved + b) as u64,
                Err(e) => {
                    self.stats.interleave_error = Some(e);
                    self.backing.interleave = None;
                }
            }
        }
        let room = self.backing.lock_bytes.saturating_sub(self.heads_locked);
        if room > 0 {
            match memory::lock(self.nodes.as_ptr().cast(), bytes.min(room)) {
                Ok(locked) => self.nodes_locked = locked,
                Err(e) => {
                    // Carry on with what is locked; lock no more.
                    self.stats.lock_error = Some(e.to_string());
                    self.backing.lock_bytes = 0;
                }
            }
        }
        self.stats.locked_bytes = (self.heads_locked + self.nodes_locked) as u64;
    }

    /// The direct-addressed heads table's memory policy as /proc/self/numa_maps shows it (None
    /// for sparse heads, which are hash maps, or when the file cannot be read): evidence that
    /// `interleave_memory` took.
    pub fn heads_numa_policy(&self) -> Option<String> {
        match &self.heads {
            Heads::Dense(v) if v.len() * 4 >= 2 * 4096 => {
                // A page inside the table (its first bytes may share a page with other data).
                let inside = (v.as_ptr() as usize + 4096).next_multiple_of(4096);
                talaria_stages::numa::numa_maps_policy(inside)
            }
            _ => None,
        }
    }

    pub fn coder(&self) -> &KmerCoder {
        &self.coder
    }

    /// Representatives published so far (alive or not); the next one gets this ordinal.
    pub fn published(&self) -> u32 {
        self.next_ordinal
    }

    /// Bytes the index accounts for (heads, postings, residues, per-representative overhead).
    ///
    /// The postings count what they use; they grow by an eighth at a time (`reserve_nodes`), so
    /// their allocation is at most 12.5% more.
    pub fn bytes(&self) -> usize {
        let sparse = match &self.heads {
            Heads::Dense(_) => 0,
            Heads::Sparse(table) => table.bytes(),
        };
        self.fixed_bytes
            + sparse
            + self.nodes.len() * std::mem::size_of::<Node>()
            + self.seq_bytes
            + self.meta.len() * std::mem::size_of::<(u32, u32)>()
            + self.alive_bits.len() * 8
            + self.alive_count * PER_REP_OVERHEAD
            + self.held_count * HELD_OVERHEAD
            + self.alive.capacity() * std::mem::size_of::<Option<Slot>>()
    }

    pub fn alive_count(&self) -> usize {
        self.alive_count
    }

    /// Bytes the postings of evicted representatives hold until the next compaction.
    fn garbage_bytes(&self) -> usize {
        match &self.heads {
            Heads::Dense(_) => self.garbage_nodes * std::mem::size_of::<Node>(),
            // What compaction frees at most: a head for each evicted key (if it was its
            // representative's alone) or a posting (if the key is shared).
            Heads::Sparse(_) => {
                self.garbage_nodes
                    * crate::reduce::sparse_heads::BYTES_PER_KEY.max(std::mem::size_of::<Node>())
            }
        }
    }

    /// (residues, distinct k-mers) of representative `ordinal` (published, alive or not).
    pub fn meta(&self, ordinal: u32) -> (u32, u32) {
        self.meta[ordinal as usize]
    }

    /// The alive representative with this ordinal.
    pub fn get(&self, ordinal: u32) -> Option<&IndexedRep> {
        self.alive.get(ordinal as usize)?.as_ref().map(|s| &s.rep)
    }

    /// The alive representative whose case-insensitive residue hash is `hash` and whose length
    /// is `len`: the only one that can be an exact duplicate of such a record. The caller
    /// compares the residues (they may be in the file).
    pub fn exact_candidate(&self, hash: u64, len: usize) -> Option<&IndexedRep> {
        let ordinal = *self.exact.get(&hash)?;
        let rep = self.get(ordinal)?;
        (self.meta(ordinal).0 as usize == len).then_some(rep)
    }

    /// Count, for every representative with ordinal >= `since` still in the chains, how many of
    /// `kmers` (distinct, any order) it contains. Appends `(ordinal, shared)` to `out`, ordinal
    /// ascending. May include evicted representatives not yet compacted away: check with `get`.
    pub fn shared_counts(
        &self,
        kmers: &[u64],
        since: u32,
        scratch: &mut QueryScratch,
        out: &mut Vec<(u32, u32)>,
    ) {
        match self.prefetch {
            PrefetchHint::None => self.walk::<NO_PREFETCH>(kmers, since, scratch, out),
            PrefetchHint::T0 => self.walk::<{ hint::T0 }>(kmers, since, scratch, out),
            PrefetchHint::T1 => self.walk::<{ hint::T1 }>(kmers, since, scratch, out),
            PrefetchHint::T2 => self.walk::<{ hint::T2 }>(kmers, since, scratch, out),
            PrefetchHint::Nta => self.walk::<{ hint::NTA }>(kmers, since, scratch, out),
        }
    }

    /// The prefetch instruction the walk issues (`[performance.intel] prefetch_hint`).
    pub fn set_prefetch(&mut self, hint: PrefetchHint) {
        self.prefetch = hint;
    }

    /// [`Self::shared_counts`] with prefetch hint `H` (`NO_PREFETCH`: none): the chain heads of
    /// the k-mers [`PREFETCH_AHEAD`] places on, and in the lock-step walk the postings that many
    /// cursors on, are requested before they are read.
    fn walk<const H: i32>(
        &self,
        kmers: &[u64],
        since: u32,
        scratch: &mut QueryScratch,
        out: &mut Vec<(u32, u32)>,
    ) {
        let QueryScratch { hits, cursors, .. } = scratch;
        hits.clear();
        // Walk all the query's chains in lock-step rather than one after another: each step's
        // loads are independent, so the CPU overlaps their cache misses (postings are scattered
        // across the arena by publication time). Measured 2.3x faster than chain-by-chain on
        // 45k generated proteins.
        cursors.clear();
        match &self.heads {
            Heads::Dense(heads) => {
                for (i, &k) in kmers.iter().enumerate() {
                    if H != NO_PREFETCH {
                        if let Some(&ahead) = kmers.get(i + PREFETCH_AHEAD) {
                            prefetch::<H>(heads.as_ptr().wrapping_add(ahead as usize) as *const u8);
                        }
                    }
                    let c = heads[k as usize];
                    if c != END {
                        cursors.push(c);
                    }
                }
            }
            Heads::Sparse(table) => {
                for &k in kmers {
                    match table.get(k as u32) {
                        Some(Head::Single(rep)) if rep >= since => hits.push(rep),
                        Some(Head::Chain(c)) => cursors.push(c),
                        _ => {}
                    }
                }
            }
        }
        while !cursors.is_empty() {
            let mut live = 0;
            for i in 0..cursors.len() {
                if H != NO_PREFETCH {
                    if let Some(&ahead) = cursors.get(i + PREFETCH_AHEAD) {
                        prefetch::<H>(self.nodes.as_ptr().wrapping_add(ahead as usize) as *const u8);
                    }
                }
                let node = self.nodes[cursors[i] as usize];
                if node.rep < since {
                    continue;
                }
                hits.push(node.rep);
                if node.next != END {
                    cursors[live] = node.next;
                    live += 1;
                }
            }
            cursors.truncate(live);
        }
        self.count_hits(since, scratch, out);
    }

    /// `(representative, hits)` pairs, ordinal ascending, from the hits the walk collected.
    fn count_hits(&self, since: u32, scratch: &mut QueryScratch, out: &mut Vec<(u32, u32)>) {
        let QueryScratch {
            hits,
            counts,
            sorted,
            ..
        } = scratch;
        // Count the hits per representative. When there are at least as many hits as
        // representatives they could name (16S genes share most 10-mers with most
        // representatives: ~10^6 hits per query), a counter per representative and one scan beat
        // sorting the hits (the sort was 22% of a 16S run); the counters take no more memory
        // than the hits. Below that, sorting the few hits is cheaper than scanning every counter
        // (20k UniProt: 1.3x less CPU than always counting). Both give the same pairs.
        let span = self.next_ordinal.saturating_sub(since) as usize;
        if hits.len() >= span {
            counts.clear();
            counts.resize(span, 0);
            for &rep in hits.iter() {
                counts[(rep - since) as usize] += 1;
            }
            for (offset, &n) in counts.iter().enumerate() {
                if n > 0 {
                    out.push((since + offset as u32, n));
                }
            }
            return;
        }
        sort_ordinals(hits, sorted);
        let mut i = 0;
        while i < hits.len() {
            let rep = hits[i];
            let mut j = i + 1;
            while j < hits.len() && hits[j] == rep {
                j += 1;
            }
            // Evicted representatives are filtered by the caller's `get`, only for the few
            // that pass the shared-k-mer bound (a hash lookup per hit rep costs more).
            out.push((rep, (j - i) as u32));
            i = j;
        }
    }

    /// The writer wrote the held residues of `reps` (ordinal, offset in the batch) to the spill
    /// file, the batch at `base`: those still indexed now point there, and their residues are
    /// no longer counted (or held: the Arc's last owner is gone).
    pub fn spilled(&mut self, reps: &[(u32, u32)], base: u64) {
        for &(ordinal, at) in reps {
            let Some(Some(slot)) = self.alive.get_mut(ordinal as usize) else {
                continue; // evicted since
            };
            let Residues::Held(seq) = &slot.rep.residues else {
                continue;
            };
            let len = seq.len();
            slot.rep.residues = Residues::Spilled {
                offset: base + at as u64,
                len: len as u32,
            };
            self.seq_bytes -= len;
            self.held_count -= 1;
        }
    }

    /// Record that a member joined `ordinal` at record `record_ordinal` (for LRU eviction).
    pub fn touch(&mut self, ordinal: u32, record_ordinal: u64) {
        if let Some(Some(slot)) = self.alive.get_mut(ordinal as usize) {
            slot.last_used = record_ordinal;
        }
    }

    /// Publish the next representative. Returns its ordinal. When the index is over budget
    /// afterwards, least recently used representatives are evicted until it fits. (Tests; the
    /// writer says where the residues are with [`Self::publish_residues`].)
    #[cfg(test)]
    pub fn publish(
        &mut self,
        seq: Arc<[u8]>,
        kmers: &[u64],
        exact_hash: u64,
        record_ordinal: u64,
    ) -> u32 {
        let len = seq.len();
        self.publish_residues(Residues::Held(seq), len, kmers, exact_hash, record_ordinal)
    }

    /// [`Self::publish`] for residues held or in the file (`len` of them). Only held residues
    /// count in the index's bytes.
    pub fn publish_residues(
        &mut self,
        residues: Residues,
        len: usize,
        kmers: &[u64],
        exact_hash: u64,
        record_ordinal: u64,
    ) -> u32 {
        let (held, held_overhead) = match &residues {
            Residues::Held(seq) => (seq.len(), HELD_OVERHEAD),
            Residues::InFile(_) | Residues::Spilled { .. } => (0, 0),
        };
        let ordinal = self.next_ordinal;
        self.next_ordinal += 1;
        self.meta
            .push((len.min(u32::MAX as usize) as u32, kmers.len() as u32));
        if ordinal.is_multiple_of(64) {
            self.alive_bits.push(0);
        }
        let new_bytes =
            held + kmers.len() * std::mem::size_of::<Node>() + PER_REP_OVERHEAD + held_overhead;
        // Sparse heads hold ordinals and chain indices below 2^31, and a key's first sharer
        // adds two postings.
        let (nodes_needed, cap) = match self.heads {
            Heads::Dense(_) => (kmers.len(), END as usize),
            Heads::Sparse(_) => (2 * kmers.len(), MAX_VALUE as usize),
        };
        if self.fixed_bytes + new_bytes > self.budget
            || self.nodes.len() + nodes_needed >= cap
            || ordinal as usize >= cap
        {
            // It could never fit: leave it out of the index rather than evict everything.
            self.stats.not_indexed += 1;
            return ordinal;
        }
        self.reserve_nodes(nodes_needed);
        let nodes = &mut self.nodes;
        match &mut self.heads {
            Heads::Dense(heads) => {
                for &kmer in kmers {
                    let head = &mut heads[kmer as usize];
                    let next = *head;
                    *head = nodes.len() as u32;
                    nodes.push(Node { rep: ordinal, next });
                }
            }
            Heads::Sparse(table) => {
                for &kmer in kmers {
                    table.update(kmer as u32, |head| {
                        let next = match head {
                            None => return Head::Single(ordinal),
                            // The second representative of this key: both go to a chain.
                            Some(Head::Single(first)) => {
                                nodes.push(Node {
                                    rep: first,
                                    next: END,
                                });
                                nodes.len() as u32 - 1
                            }
                            Some(Head::Chain(c)) => c,
                        };
                        nodes.push(Node { rep: ordinal, next });
                        Head::Chain(nodes.len() as u32 - 1)
                    });
                }
            }
        }
        self.seq_bytes += held;
        self.alive_bits[ordinal as usize / 64] |= 1 << (ordinal % 64);
        self.exact.entry(exact_hash).or_insert(ordinal);
        // Grown by an eighth, like the postings: a doubled array could hold twice what it uses.
        if self.alive.len() == self.alive.capacity() {
            self.alive.reserve_exact((self.alive.len() / 8).max(1024));
        }
        self.alive.resize_with(ordinal as usize, || None);
        self.alive_count += 1;
        self.held_count += matches!(residues, Residues::Held(_)) as usize;
        self.alive.push(Some(Slot {
            rep: IndexedRep { ordinal, residues },
            exact_hash,
            last_used: record_ordinal,
        }));
        self.stats.published += 1;
        // Evict down to 90% so that the next evictions (and the compaction that follows them)
        // come only after another 10% of the budget has been filled: amortised, not once per
        // representative. The sparse table's garbage is an estimate (its shards shrink by
        // powers of two), so it goes round again if the compacted index is still over.
        while self.bytes() > self.budget && self.alive_count > 1 {
            while self.bytes() - self.garbage_bytes() > self.budget / 10 * 9 && self.alive_count > 1
            {
                self.evict_lru();
            }
            self.compact();
        }
        // Nothing is touched while evicting, so the batch stays in LRU order until now.
        self.evict_next = Vec::new();
        self.stats.peak_bytes = self.stats.peak_bytes.max(self.bytes() as u64);
        ordinal
    }

    /// Evicts the alive representative least recently used (smallest (last used, ordinal)).
    fn evict_lru(&mut self) {
        if self.evict_next.is_empty() {
            self.next_eviction_batch();
        }
        let Some((_, ordinal)) = self.evict_next.pop() else {
            return;
        };
        if let Some(slot) = self.alive.get_mut(ordinal as usize).and_then(Option::take) {
            self.alive_count -= 1;
            self.alive_bits[ordinal as usize / 64] &= !(1 << (ordinal % 64));
            if let Residues::Held(seq) = &slot.rep.residues {
                self.seq_bytes -= seq.len();
                self.held_count -= 1;
            }
            self.garbage_nodes += self.meta[ordinal as usize].1 as usize;
            if self.exact.get(&slot.exact_hash) == Some(&ordinal) {
                self.exact.remove(&slot.exact_hash);
            }
            self.stats.evicted += 1;
        }
    }

    /// Fills `evict_next` with the least recently used eighth of the alive representatives
    /// (at least 64), most recent first: one partial selection and a sort of the batch per
    /// batch, instead of keeping every representative ordered all the time. Taking them from
    /// the back evicts in exactly the order an ordered set's minimum would give.
    fn next_eviction_batch(&mut self) {
        let mut all: Vec<(u64, u32)> = self
            .alive
            .iter()
            .enumerate()
            .filter_map(|(ordinal, slot)| slot.as_ref().map(|s| (s.last_used, ordinal as u32)))
            .collect();
        let batch = (all.len() / 8).max(64).min(all.len());
        if batch < all.len() {
            all.select_nth_unstable(batch);
            all.truncate(batch);
        }
        all.sort_unstable_by(|a, b| b.cmp(a));
        self.evict_next = all;
    }

    /// Drop postings of evicted representatives, in place; chains keep their newest-first
    /// order. Needs one extra `u32` per posting while it runs (and the sparse table one shard
    /// at a time while it drops the keys left without a representative).
    fn compact(&mut self) {
        if self.garbage_nodes == 0 {
            return;
        }
        // A chain's `next` always points to a lower index, so one ascending pass can resolve,
        // for every old node, the new index of the first alive node at or after it in its chain.
        let mut resolved = vec![END; self.nodes.len()];
        let mut write = 0usize;
        for read in 0..self.nodes.len() {
            let node = self.nodes[read];
            let next = if node.next == END {
                END
            } else {
                resolved[node.next as usize]
            };
            if self.alive_bits[node.rep as usize / 64] & (1 << (node.rep % 64)) != 0 {
                self.nodes[write] = Node {
                    rep: node.rep,
                    next,
                };
                resolved[read] = write as u32;
                write += 1;
            } else {
                resolved[read] = next;
            }
        }
        self.nodes.truncate(write);
        if self.backing.any() {
            self.unlock_nodes();
            self.nodes.shrink_to_fit();
            self.back_nodes();
        } else {
            self.nodes.shrink_to_fit();
        }
        match &mut self.heads {
            Heads::Dense(v) => v
                .iter_mut()
                .filter(|h| **h != END)
                .for_each(|h| *h = resolved[*h as usize]),
            Heads::Sparse(table) => {
                let alive = &self.alive_bits;
                table.retain_map(|head| match head {
                    Head::Single(rep) => {
                        (alive[rep as usize / 64] & (1 << (rep % 64)) != 0).then_some(head)
                    }
                    Head::Chain(c) => match resolved[c as usize] {
                        END => None,
                        c => Some(Head::Chain(c)),
                    },
                });
            }
        }
        self.garbage_nodes = 0;
        self.stats.compactions += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radix_sort_matches_sort_unstable() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut tmp = Vec::new();
        for (len, mask) in [
            (0usize, u32::MAX),
            (5, u32::MAX),
            (511, 0xffff),
            (512, 0xff),
            (513, 0xfff),
            (20_000, 0x7_ffff),
            (20_000, u32::MAX),
            (3_000, 0),
        ] {
            let mut v: Vec<u32> = (0..len).map(|_| next() as u32 & mask).collect();
            let mut expected = v.clone();
            expected.sort_unstable();
            sort_ordinals(&mut v, &mut tmp);
            assert_eq!(v, expected, "len {len}, mask {mask:#x}");
        }
    }
    use crate::bio::alphabet::Alphabet;

    fn kmers(coder: &KmerCoder, seq: &[u8]) -> Vec<u64> {
        let mut v = Vec::new();
        keys_of(coder, seq, &mut v);
        v
    }

    #[test]
    fn sampling_before_sorting_keeps_the_same_keys() {
        let random = |letters: &[u8]| {
            let mut state = 0x9e37_79b9_7f4a_7c15u64;
            (0..3000)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    letters[(state % letters.len() as u64) as usize]
                })
                .collect::<Vec<u8>>()
        };
        let (protein, dna) = (random(b"ACDEFGHIKLMNPQRSTVWYX"), random(b"ACGTACGTACGTN"));
        for (alphabet, k) in [
            (Alphabet::Protein, 4),
            (Alphabet::Protein, 8),
            (Alphabet::Nucleotide, 10),
        ] {
            let seq: &[u8] = if alphabet == Alphabet::Protein {
                &protein
            } else {
                &dna
            };
            let coder = KmerCoder::new(alphabet, k);
            for scale in [1, 2, 8] {
                let sketch = Sketch::one_in(scale);
                let mut expected = kmers(&coder, seq);
                sketch.apply(&mut expected);
                let mut got = vec![7];
                keys_in_sketch(&coder, sketch, seq, &mut got);
                assert_eq!(got, expected, "{alphabet:?} k={k} 1/{scale}");
                let all = kmers(&coder, seq).len();
                assert!(all > 100 && (scale == 1 || got.len() < all), "{all} k-mers");
            }
        }
    }

    #[test]
    fn shared_counts_respect_since_and_order() {
        let coder = KmerCoder::new(Alphabet::Nucleotide, 4);
        let mut index = RepIndex::new(coder, 1 << 30);
        let a: &[u8] = b"ACGTACGGTTCA";
        let b: &[u8] = b"TTTTGGGGCCCC";
        let c: &[u8] = b"ACGTACGGTTCC";
        for (i, s) in [a, b, c].iter().enumerate() {
            let ord = index.publish(Arc::from(*s), &kmers(&coder, s), i as u64, i as u64);
            assert_eq!(ord, i as u32);
        }
        let q = kmers(&coder, a);
        let (mut hits, mut out) = (QueryScratch::default(), Vec::new());
        index.shared_counts(&q, 0, &mut hits, &mut out);
        assert_eq!(out.iter().map(|x| x.0).collect::<Vec<_>>(), vec![0, 2]);
        assert_eq!(out[0].1 as usize, q.len());
        out.clear();
        index.shared_counts(&q, 1, &mut hits, &mut out);
        assert_eq!(out.iter().map(|x| x.0).collect::<Vec<_>>(), vec![2]);
        assert_eq!(index.exact_candidate(0, 12).map(|r| r.ordinal), Some(0));
        assert!(index.exact_candidate(0, 11).is_none());
        assert!(index.exact_candidate(3, 12).is_none());
    }

    /// Few hits (sorted) and many hits (counted per representative) give the same pairs as a
    /// brute-force count over the representatives' k-mer sets.
    #[test]
    fn shared_counts_sorted_and_counted_paths_agree_with_brute_force() {
        let coder = KmerCoder::new(Alphabet::Nucleotide, 8);
        let mut index = RepIndex::new(coder, 1 << 30);
        let mut rng = 777u64;
        let mut next = || {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            b"ACGT"[(rng >> 62) as usize]
        };
        let reps: Vec<Vec<u8>> = (0..300)
            .map(|_| (0..40).map(|_| next()).collect())
            .collect();
        for (i, s) in reps.iter().enumerate() {
            index.publish(Arc::from(&s[..]), &kmers(&coder, s), i as u64, i as u64);
        }
        let sets: Vec<std::collections::HashSet<u64>> = reps
            .iter()
            .map(|s| kmers(&coder, s).into_iter().collect())
            .collect();
        let mut scratch = QueryScratch::default();
        // Query 3 against all 300 (few hits: sorted); a long query against the last 5 (counted).
        let long: Vec<u8> = reps[295..].concat();
        for (query, since, counted) in [(&reps[3], 0u32, false), (&long, 295, true)] {
            let q = kmers(&coder, query);
            let mut out = Vec::new();
            index.shared_counts(&q, since, &mut scratch, &mut out);
            let expected: Vec<(u32, u32)> = (since as usize..reps.len())
                .map(|r| {
                    (
                        r as u32,
                        q.iter().filter(|k| sets[r].contains(k)).count() as u32,
                    )
                })
                .filter(|&(_, n)| n > 0)
                .collect();
            assert_eq!(out, expected, "since {since}");
            let span = reps.len() - since as usize;
            assert_eq!(
                scratch.hits.len() >= span,
                counted,
                "path taken, since {since}"
            );
        }
    }

    /// Protein 8-mers take the sparse heads (single representatives in the head, chains for
    /// shared keys). Through evictions and compactions, shared counts still equal a brute-force
    /// count over the representatives alive, for `since` 0 and a later snapshot.
    #[test]
    fn sparse_heads_agree_with_brute_force_through_eviction() {
        let coder = KmerCoder::new(Alphabet::Protein, 8);
        assert!(coder.space() > DENSE_HEADS_MAX);
        let mut index = RepIndex::new(coder, 300_000);
        assert!(matches!(index.heads, Heads::Sparse(_)));
        let mut rng = 4242u64;
        let mut next = move || {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            rng >> 33
        };
        let letters = b"ACDEFGHIKLMNPQRSTVWY";
        // Families: each new sequence copies an earlier one with a few substitutions, so keys
        // are shared and chains form.
        let mut reps: Vec<Vec<u8>> = Vec::new();
        for i in 0..1500u64 {
            let seq: Vec<u8> = if i > 0 && next() % 2 == 0 {
                // A recent one, so that families are still in the index.
                let back = (next() % reps.len().min(20) as u64) as usize;
                let mut s = reps[reps.len() - 1 - back].clone();
                for _ in 0..3 {
                    let at = (next() % s.len() as u64) as usize;
                    s[at] = letters[(next() % 20) as usize];
                }
                s
            } else {
                (0..120).map(|_| letters[(next() % 20) as usize]).collect()
            };
            index.publish(Arc::from(seq.as_slice()), &kmers(&coder, &seq), i, i);
            assert!(index.bytes() <= index.budget);
            reps.push(seq);
        }
        assert!(index.stats.evicted > 0 && index.stats.compactions > 0);
        let mut scratch = QueryScratch::default();
        let mut shared_by_several = false;
        for (query, since) in [(&reps[1499], 0u32), (&reps[1490], 0), (&reps[1495], 1480)] {
            let q = kmers(&coder, query);
            let mut out = Vec::new();
            index.shared_counts(&q, since, &mut scratch, &mut out);
            out.retain(|&(r, _)| index.get(r).is_some());
            let expected: Vec<(u32, u32)> = (since as usize..reps.len())
                .filter(|&r| index.get(r as u32).is_some())
                .map(|r| {
                    let keys: std::collections::HashSet<u64> =
                        kmers(&coder, &reps[r]).into_iter().collect();
                    (
                        r as u32,
                        q.iter().filter(|k| keys.contains(k)).count() as u32,
                    )
                })
                .filter(|&(_, n)| n > 0)
                .collect();
            assert!(!expected.is_empty());
            assert_eq!(out, expected, "since {since}");
            shared_by_several |= out.len() > 1;
        }
        assert!(
            shared_by_several,
            "no query shares keys with two representatives"
        );
    }

    #[test]
    fn eviction_keeps_index_within_budget_and_compacts() {
        let coder = KmerCoder::new(Alphabet::Nucleotide, 8);
        let mut index = RepIndex::new(coder, coder.space() as usize * 4 + 200_000);
        let mut rng = 12345u64;
        for i in 0..2000u64 {
            let seq: Vec<u8> = (0..200)
                .map(|_| {
                    rng = rng
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    b"ACGT"[(rng >> 62) as usize]
                })
                .collect();
            index.publish(Arc::from(seq.as_slice()), &kmers(&coder, &seq), i, i);
            assert!(index.bytes() <= index.budget);
        }
        assert!(index.stats.evicted > 0);
        assert!(index.stats.compactions > 0);
        // The newest representatives survive LRU eviction; the oldest are gone.
        assert!(index.get(1999).is_some());
        assert!(index.get(0).is_none());
    }

    /// Eviction follows last use, not publication: representatives touched after they were
    /// published outlive untouched ones published after them, and among the untouched the
    /// oldest go first, ties by ordinal.
    #[test]
    fn eviction_evicts_least_recently_used_first() {
        let coder = KmerCoder::new(Alphabet::Nucleotide, 8);
        let mut index = RepIndex::new(coder, coder.space() as usize * 4 + 400_000);
        let mut rng = 99u64;
        let mut record = 0u64;
        let mut first_eviction_at = None;
        for i in 0..3000u32 {
            let seq: Vec<u8> = (0..200)
                .map(|_| {
                    rng = rng
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    b"ACGT"[(rng >> 62) as usize]
                })
                .collect();
            index.publish(
                Arc::from(seq.as_slice()),
                &kmers(&coder, &seq),
                i as u64,
                record,
            );
            record += 1;
            // Keep the first ten representatives in use.
            for keep in 0..10u32.min(i + 1) {
                index.touch(keep, record);
                record += 1;
            }
            if index.stats.evicted > 0 && first_eviction_at.is_none() {
                first_eviction_at = Some(i);
                // Evicted exactly the oldest untouched ones: 10, 11, ... up to some n.
                let gone: Vec<u32> = (0..=i).filter(|&o| index.get(o).is_none()).collect();
                assert_eq!(gone, (10..10 + gone.len() as u32).collect::<Vec<_>>());
            }
        }
        assert!(first_eviction_at.is_some(), "the budget was never reached");
        assert!(index.stats.evicted > 100);
        for keep in 0..10 {
            assert!(
                index.get(keep).is_some(),
                "touched representative {keep} was evicted"
            );
        }
        assert!(index.get(10).is_none());
        assert!(index.get(2999).is_some());
    }
}
