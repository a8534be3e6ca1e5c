//! The reduction decision for one record: join an earlier representative (backed by a real
//! alignment at or above the threshold) or become a representative.
//!
//! Rule (a total order, so results never depend on timing): an exact duplicate (ignoring case)
//! of an indexed representative joins it; otherwise the candidates are the indexed
//! representatives sharing enough k-mers with the record, taken in ordinal (input) order, at most
//! `max_candidates` of them, and the record joins the FIRST one whose alignment reaches the
//! identity threshold and the member-coverage threshold. Because representatives only ever get
//! larger ordinals, a decision made against an older snapshot of the index can be completed by
//! looking only at representatives published since — see `reduce::writer`.

use crate::bio::alignment::{AlignOp, Aligner, Alignment, Band, DiagonalRange, Lcs};
use crate::bio::kmer::KmerCoder;
use crate::bio::sketch::Sketch;
use crate::delta::ops;
use crate::reduce::banding::BandPolicy;
use crate::reduce::index::{IndexedRep, QueryScratch, RepIndex, RepSeq, Residues};
use crate::reduce::lookahead::{Answer, Lookahead, TentativeChunk};
use crate::reduce::rep_cache::{RepCache, RepProfile};
use crate::reduce::residue_file::ResidueFile;
use parking_lot::RwLock;
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// Per-run decision parameters.
#[derive(Clone, Debug)]
pub struct Params {
    pub coder: KmerCoder,
    pub threshold: f64,
    pub coverage: f64,
    pub max_candidates: usize,
    pub band: BandPolicy,
    /// Which k-mers index and query (all of them unless `use_sketching`).
    pub sketch: Sketch,
    /// The short-word bound filters candidates (`alignment.use_approximation`).
    pub kmer_filter: bool,
    /// Candidates share at least this many k-mers (`alignment.min_shared_kmers`; 0 = no floor).
    pub min_shared: u32,
    /// Shortcuts tried before the LCS bound and the DP (`[performance.high_similarity]`).
    pub shortcuts: Shortcuts,
}

/// Joins found without a DP matrix, along the seed diagonal. Each is still a real alignment
/// (ungapped) that reaches both thresholds; the DP might have found a higher-scoring one, so a
/// shortcut can change which delta is written, never whether the join is valid.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shortcuts {
    /// `fast_exact_match`: the shorter sequence lies unchanged (ignoring case) inside the longer.
    pub exact: bool,
    /// `use_diff_encoding`: the ungapped comparison reaches the thresholds with substitutions.
    pub ungapped: bool,
}

impl Shortcuts {
    pub fn any(self) -> bool {
        self.exact || self.ungapped
    }
}

/// What the prefetcher computes per record (needs no shared state).
#[derive(Clone, Debug, Default)]
pub struct Features {
    /// Distinct k-mers as index keys (`index::keys_of`), sorted.
    pub kmers: Vec<u64>,
    /// Hash of the residues, ASCII-uppercased (exact duplicates ignore case).
    pub exact_hash: u64,
}

impl Features {
    pub fn compute(coder: &KmerCoder, sketch: Sketch, seq: &[u8]) -> Features {
        let mut kmers = Vec::new();
        crate::reduce::index::keys_in_sketch(coder, sketch, seq, &mut kmers);
        // A sketch keeps 1 in `scale`: the rest of the buffer would ride through every queue.
        kmers.shrink_to_fit();
        Features {
            kmers,
            exact_hash: uppercase_hash(seq),
        }
    }
    pub fn heap_bytes(&self) -> usize {
        self.kmers.capacity() * 8
    }

    /// Bytes a chunk's features hold, for channel budgets.
    pub fn weight_of(features: &[Features]) -> usize {
        features
            .iter()
            .map(|f| f.heap_bytes() + std::mem::size_of::<Features>())
            .sum()
    }
}

/// xxh3 of the ASCII-uppercased bytes, without allocating a copy of the sequence.
pub fn uppercase_hash(seq: &[u8]) -> u64 {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    let mut buf = [0u8; 4096];
    for piece in seq.chunks(buf.len()) {
        let upper = &mut buf[..piece.len()];
        upper.copy_from_slice(piece);
        upper.make_ascii_uppercase();
        hasher.update(upper);
    }
    hasher.digest()
}

/// A record's outcome as far as the deciding thread could see.
#[derive(Clone, Debug)]
pub enum Verdict {
    Member(Join),
    /// No candidate passed among the representatives published before `snapshot`;
    /// `tried` lists the candidates aligned (ordinal order).
    Representative {
        snapshot: u32,
        tried: Vec<u32>,
        /// What the worker found among the representatives not yet published
        /// (`reduce::lookahead`); `None` from the writer's own searches.
        lookahead: Option<Box<Lookahead>>,
    },
}

/// A verified membership.
#[derive(Clone, Debug)]
pub struct Join {
    pub rep: u32,
    pub identity: f64,
    /// `delta::ops` bytes rebuilding the member from the representative.
    pub delta: Vec<u8>,
    pub exact: bool,
}

/// Counters for the summary and `--profile-alignment`; one per thread (no sharing), added up at
/// the end.
#[derive(Clone, Copy, Debug)]
pub struct DecideStats {
    pub alignments: u64,
    pub alignments_passed: u64,
    pub exact_hits: u64,
    pub candidates: u64,
    pub too_large: u64,
    /// Adaptive banding: alignments re-run in a wider band.
    pub widened: u64,
    /// Alignments that passed only after widening.
    pub passed_after_widening: u64,
    /// Candidates skipped without aligning: their longest common subsequence with the record
    /// (an upper bound on any alignment's identical columns) is below the threshold.
    pub ruled_out_by_lcs: u64,
    /// Candidate searches run (one per record a worker searched, plus the writer's re-checks).
    pub searches: u64,
    /// Searches by candidates found: 0, 1, 2, 3-4, 5-8, 9-16, 17-32, more.
    pub candidates_hist: [u64; 8],
    pub max_candidates_seen: u64,
    /// DP matrix cells filled (band cells with a traceback byte).
    pub dp_cells: u64,
    /// Nanoseconds inside the aligner.
    pub align_ns: u64,
    /// Nanoseconds finding candidates (the index walk and the k-mer filter), and in the LCS
    /// bound and seeding before each alignment; measured only with accounting on, so that
    /// `--profile` can say which of the three holds the deciding threads.
    pub search_ns: u64,
    pub lcs_ns: u64,
    /// Band half-widths used: sum, min, max (over `alignments`).
    pub band_sum: u64,
    pub band_min: u64,
    pub band_max: u64,
    /// Passed alignments by identity percent (floor), 0..=100.
    pub identity_pct: [u64; 101],
    /// Joins made by a shortcut (`Shortcuts`), without a DP: exact containment, ungapped diff.
    pub shortcut_exact: u64,
    pub shortcut_ungapped: u64,
    /// The reference cache's figures (all zero when `cache_alignments` is off).
    pub cache: talaria_stages::cache::CacheStats,
}

impl Default for DecideStats {
    fn default() -> Self {
        DecideStats {
            alignments: 0,
            alignments_passed: 0,
            exact_hits: 0,
            candidates: 0,
            too_large: 0,
            widened: 0,
            passed_after_widening: 0,
            ruled_out_by_lcs: 0,
            searches: 0,
            candidates_hist: [0; 8],
            max_candidates_seen: 0,
            dp_cells: 0,
            align_ns: 0,
            search_ns: 0,
            lcs_ns: 0,
            band_sum: 0,
            band_min: u64::MAX,
            band_max: 0,
            identity_pct: [0; 101],
            shortcut_exact: 0,
            shortcut_ungapped: 0,
            cache: Default::default(),
        }
    }
}

/// The `candidates_hist` bin of a search that found `n` candidates.
pub fn candidates_bin(n: u64) -> usize {
    match n {
        0..=2 => n as usize,
        _ => (2 + (64 - (n - 1).leading_zeros()) as usize - 1).min(7),
    }
}

impl DecideStats {
    /// Pairs looked at past the k-mer filter: aligned, joined by a shortcut, or ruled out by
    /// the LCS bound.
    pub fn pairs_tried(&self) -> u64 {
        self.alignments + self.shortcut_exact + self.shortcut_ungapped + self.ruled_out_by_lcs
    }

    pub fn add(&mut self, o: &DecideStats) {
        self.alignments += o.alignments;
        self.alignments_passed += o.alignments_passed;
        self.exact_hits += o.exact_hits;
        self.candidates += o.candidates;
        self.too_large += o.too_large;
        self.widened += o.widened;
        self.passed_after_widening += o.passed_after_widening;
        self.ruled_out_by_lcs += o.ruled_out_by_lcs;
        self.searches += o.searches;
        for (a, b) in self.candidates_hist.iter_mut().zip(&o.candidates_hist) {
            *a += b;
        }
        self.max_candidates_seen = self.max_candidates_seen.max(o.max_candidates_seen);
        self.dp_cells += o.dp_cells;
        self.align_ns += o.align_ns;
        self.search_ns += o.search_ns;
        self.lcs_ns += o.lcs_ns;
        self.band_sum += o.band_sum;
        self.band_min = self.band_min.min(o.band_min);
        self.band_max = self.band_max.max(o.band_max);
        for (a, b) in self.identity_pct.iter_mut().zip(&o.identity_pct) {
            *a += b;
        }
        self.shortcut_exact += o.shortcut_exact;
        self.shortcut_ungapped += o.shortcut_ungapped;
        self.cache.add(&o.cache);
    }
}

/// Per-thread decision maker: owns an aligner and scratch space.
pub struct Decider {
    params: Params,
    aligner: Aligner,
    lcs: Lcs,
    hits: QueryScratch,
    shared: Vec<(u32, u32)>,
    member_pos: FxHashMap<u64, u32>,
    /// Seed votes by diagonal (offset by the record's length), and the diagonals voted for.
    votes: Vec<u32>,
    touched: Vec<u32>,
    /// Shared-key counts of a look-ahead chunk's representatives.
    counts: Vec<u32>,
    /// The reference cache (`performance.cache_alignments`), when on.
    cache: Option<RepCache>,
    /// Where representatives' residues not held in memory are read back from.
    residue_file: Option<Arc<ResidueFile>>,
    /// The raw bytes of the last record read back.
    raw: Vec<u8>,
    pub stats: DecideStats,
}

/// Shared k-mers a candidate needs: the shorter sequence's distinct k-mers minus k for every
/// residue the threshold lets differ, minus k more for one gap (CD-HIT's short-word filter,
/// with one gap of slack). At least 1. A filter only: every join is still aligned.
///
/// With a sketch keeping 1 in `scale` k-mers, `distinct` counts sketch k-mers and the k-mers an
/// edit can destroy shrink by the same factor (rounded up): an estimate, no longer a bound.
pub fn required_shared(
    k: usize,
    threshold: f64,
    member: (usize, u32),
    rep: (usize, u32),
    scale: u64,
) -> u32 {
    let (len, distinct) = if member.0 <= rep.0 { member } else { rep };
    let differing = ((1.0 - threshold) * len as f64).ceil() as i64;
    let destroyed = k as i64 * (differing + 1);
    let scale = scale.max(1) as i64;
    let need = distinct as i64 - (destroyed + scale - 1) / scale;
    need.max(1) as u32
}

impl Decider {
    pub fn new(params: Params, aligner: Aligner) -> Decider {
        Decider {
            params,
            aligner,
            lcs: Lcs::new(),
            hits: QueryScratch::default(),
            shared: Vec::new(),
            member_pos: FxHashMap::default(),
            votes: Vec::new(),
            touched: Vec::new(),
            counts: Vec::new(),
            cache: None,
            residue_file: None,
            raw: Vec::new(),
            stats: DecideStats::default(),
        }
    }

    /// Read residues of representatives indexed as [`Residues::InFile`] or
    /// [`Residues::Spilled`] from `file`.
    pub fn with_residue_file(mut self, file: Option<Arc<ResidueFile>>) -> Decider {
        self.residue_file = file;
        self
    }

    /// `rep`'s residues in hand: shared when held, read back from the input or spill file
    /// otherwise.
    /// `None` if that read failed; the file keeps the error and the run fails with it.
    fn load(&mut self, rep: &IndexedRep) -> Option<RepSeq> {
        let seq = match &rep.residues {
            Residues::Held(seq) => Arc::clone(seq),
            Residues::InFile(span) => {
                let file = self.residue_file.as_ref()?;
                file.residues(*span, &mut self.raw)?.into()
            }
            Residues::Spilled { offset, len } => {
                self.residue_file.as_ref()?.spilled(*offset, *len)?.into()
            }
        };
        Some(RepSeq {
            ordinal: rep.ordinal,
            seq,
        })
    }

    /// Keep representative profiles in a cache of `capacity_bytes` (see `reduce::rep_cache`);
    /// results are the same with or without it.
    pub fn with_cache(
        mut self,
        policy: talaria_stages::cache::Eviction,
        capacity_bytes: usize,
    ) -> Decider {
        let cache = RepCache::new(policy, capacity_bytes);
        self.stats.cache = cache.stats();
        self.cache = Some(cache);
        self
    }

    /// Forget the record whose k-mer positions the seed keeps (a new record is searched).
    fn new_record(&mut self) {
        self.member_pos.clear();
    }

    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Exact duplicate (ignoring case) of an indexed representative, with its delta.
    pub fn exact(
        &mut self,
        index: &RwLock<RepIndex>,
        seq: &[u8],
        features: &Features,
    ) -> Option<Join> {
        let rep = index
            .read()
            .exact_candidate(features.exact_hash, seq.len())
            .cloned()?;
        let rep = self.load(&rep)?;
        if !rep.seq.eq_ignore_ascii_case(seq) {
            return None; // a hash collision
        }
        self.stats.exact_hits += 1;
        Some(exact_join(seq, &rep))
    }

    /// The join of `seq` to `rep` found earlier (an exact duplicate when `exact`), computed
    /// again: the same alignment, so the same delta. `None` if it no longer passes, which would
    /// be a bug (every step of a decision is a function of the two sequences alone).
    pub fn rejoin(&mut self, seq: &[u8], rep: &RepSeq, exact: bool) -> Option<Join> {
        if exact {
            return seq
                .eq_ignore_ascii_case(&rep.seq)
                .then(|| exact_join(seq, rep));
        }
        self.new_record();
        self.try_join(seq, rep)
    }

    /// Search representatives with ordinal >= `since` (all of them when 0), aligning at most
    /// `max_candidates - already_tried` candidates in ordinal order.
    pub fn search(
        &mut self,
        index: &RwLock<RepIndex>,
        seq: &[u8],
        features: &Features,
        since: u32,
        already_tried: usize,
    ) -> Verdict {
        let budget = self.params.max_candidates.saturating_sub(already_tried);
        let timed = talaria_stages::metrics::accounting_on().then(std::time::Instant::now);
        let (snapshot, candidates) = {
            let guard = index.read();
            let snapshot = guard.published();
            self.shared.clear();
            if budget > 0 && !features.kmers.is_empty() {
                guard.shared_counts(&features.kmers, since, &mut self.hits, &mut self.shared);
            }
            let member = (seq.len(), features.kmers.len() as u32);
            let mut candidates: Vec<IndexedRep> = Vec::new();
            for &(ordinal, shared) in &self.shared {
                if candidates.len() >= budget {
                    break;
                }
                if !self.is_candidate(member, guard.meta(ordinal), shared) {
                    continue;
                }
                if let Some(rep) = guard.get(ordinal) {
                    candidates.push(rep.clone());
                }
            }
            (snapshot, candidates)
        };
        if let Some(t) = timed {
            self.stats.search_ns += t.elapsed().as_nanos() as u64;
        }
        let found = candidates.len() as u64;
        self.stats.candidates += found;
        self.stats.searches += 1;
        self.stats.candidates_hist[candidates_bin(found)] += 1;
        self.stats.max_candidates_seen = self.stats.max_candidates_seen.max(found);
        self.new_record();
        let mut tried = Vec::with_capacity(candidates.len());
        for rep in &candidates {
            tried.push(rep.ordinal);
            let Some(rep) = self.load(rep) else {
                continue; // the run fails with the read's error
            };
            if let Some(join) = self.try_join(seq, &rep) {
                return Verdict::Member(join);
            }
        }
        Verdict::Representative {
            snapshot,
            tried,
            lookahead: None,
        }
    }

    /// Whether a representative of `rep` = (residues, distinct keys) sharing `shared` of the
    /// member's keys is a candidate for `member` = (residues, distinct keys): the short-word
    /// bound (when on) and `min_shared_kmers`.
    fn is_candidate(&self, member: (usize, u32), rep: (u32, u32), shared: u32) -> bool {
        let bound = if self.params.kmer_filter {
            required_shared(
                self.params.coder.k,
                self.params.threshold,
                member,
                (rep.0 as usize, rep.1),
                self.params.sketch.scale(),
            )
        } else {
            1
        };
        shared >= bound.max(self.params.min_shared)
    }

    /// For a record no published representative took (`budget` candidates left): try the
    /// would-be representatives of `chunks` (ascending, the worker's own chunk last) in
    /// decision order, as [`Self::search`] would try them once published, stopping at the
    /// first join or when the budget is spent. Those before decision position `handled` are
    /// skipped: the writer had published them before the search's snapshot, which tried them.
    /// See `reduce::lookahead`.
    pub fn look_ahead(
        &mut self,
        seq: &[u8],
        features: &Features,
        budget: usize,
        chunks: &[&TentativeChunk],
        handled: u64,
    ) -> Lookahead {
        let mut found = Lookahead {
            chunks: chunks.iter().map(|c| c.chunk).collect(),
            through: u64::MAX,
            ..Lookahead::default()
        };
        if budget == 0 || features.kmers.is_empty() {
            return found;
        }
        let member = (seq.len(), features.kmers.len() as u32);
        let mut counts = std::mem::take(&mut self.counts);
        let mut used = 0;
        self.new_record();
        'chunks: for chunk in chunks {
            chunk.shared_counts(&features.kmers, &mut counts);
            for (rep, &shared) in chunk.reps().iter().zip(&counts) {
                let meta = (rep.seq.len().min(u32::MAX as usize) as u32, rep.distinct);
                if rep.position < handled || shared == 0 || !self.is_candidate(member, meta, shared)
                {
                    continue;
                }
                used += 1;
                // Not in the index yet: no ordinal, so the reference cache is left out (its
                // answers are the same as without it).
                let cache = self.cache.take();
                let target = RepSeq {
                    ordinal: u32::MAX,
                    seq: Arc::clone(&rep.seq),
                };
                let joined = self.try_join(seq, &target);
                self.cache = cache;
                if let Some(join) = joined {
                    found.passed = Some((rep.position, join));
                    found.through = rep.position;
                    break 'chunks;
                }
                found.failed.push(rep.position);
                if used >= budget {
                    found.through = rep.position;
                    break 'chunks;
                }
            }
        }
        self.counts = counts;
        found
    }

    /// The writer's completion of a record that no representative published before `snapshot`
    /// took, after `already_tried` candidates: the representatives published since, in ordinal
    /// order, as [`Self::search`] from `snapshot` would try them. `answer` gives what the
    /// worker's look-ahead found for an ordinal; the rest are worked out here. The same join
    /// (or none) as that search.
    pub fn complete(
        &mut self,
        index: &RwLock<RepIndex>,
        seq: &[u8],
        features: &Features,
        snapshot: u32,
        already_tried: usize,
        mut answer: impl FnMut(u32) -> Answer,
    ) -> Option<Join> {
        let budget = self.params.max_candidates.saturating_sub(already_tried);
        if budget == 0 || features.kmers.is_empty() {
            return None;
        }
        let member = (seq.len(), features.kmers.len() as u32);
        let published = index.read().published();
        // Shared counts of the representatives since `snapshot`, walked only if one of them
        // was not answered.
        let mut walked = false;
        let mut used = 0;
        self.new_record();
        for ordinal in snapshot..published {
            if used >= budget {
                break;
            }
            // Most answers say "not a candidate": those need no look at the index.
            let answered = answer(ordinal);
            if matches!(answered, Answer::NotCandidate) {
                continue;
            }
            let (rep, meta) = {
                let guard = index.read();
                (guard.get(ordinal).cloned(), guard.meta(ordinal))
            };
            let Some(rep) = rep else {
                continue; // evicted, or never indexed: not a candidate
            };
            let shared = match answered {
                Answer::NotCandidate => continue,
                Answer::Failed => {
                    used += 1;
                    continue;
                }
                Answer::Passed(mut join) => {
                    join.rep = ordinal;
                    return Some(join);
                }
                Answer::Shared(shared) => shared,
                Answer::Unknown => {
                    if !walked {
                        walked = true;
                        self.shared.clear();
                        index.read().shared_counts(
                            &features.kmers,
                            snapshot,
                            &mut self.hits,
                            &mut self.shared,
                        );
                    }
                    match self.shared.binary_search_by_key(&ordinal, |&(o, _)| o) {
                        Ok(at) => self.shared[at].1,
                        Err(_) => 0,
                    }
                }
            };
            if shared == 0 || !self.is_candidate(member, meta, shared) {
                continue;
            }
            used += 1;
            self.stats.candidates += 1;
            let Some(rep) = self.load(&rep) else {
                continue; // the run fails with the read's error
            };
            if let Some(join) = self.try_join(seq, &rep) {
                return Some(join);
            }
        }
        None
    }

    /// Align `seq` (query) against `rep` (target) in a band around the diagonal most k-mer hits
    /// agree on (widened as `BandPolicy` says); a join when identity and coverage reach the
    /// thresholds.
    fn try_join(&mut self, seq: &[u8], rep: &RepSeq) -> Option<Join> {
        let lens = (seq.len(), rep.seq.len());
        let threshold = self.params.threshold;
        // The shortcuts need the seed first; without them the seed waits until the LCS bound has
        // had its chance to skip the pair.
        let mut early = None;
        if self.params.shortcuts.any() {
            let seed = self.seed(seq, &rep.seq);
            if let Some(join) = self.shortcut(seq, rep, seed.best) {
                return Some(join);
            }
            early = Some(seed);
        }
        let timed = talaria_stages::metrics::accounting_on().then(std::time::Instant::now);
        let seed = match self.cache.take() {
            None => self.bound_and_seed(seq, &rep.seq, None, early),
            Some(mut cache) => {
                let seed = cache.with(rep.ordinal, &rep.seq, |profile| {
                    self.bound_and_seed(seq, &rep.seq, Some(profile), early)
                });
                self.stats.cache = cache.stats();
                self.cache = Some(cache);
                seed
            }
        };
        if let Some(t) = timed {
            self.stats.lcs_ns += t.elapsed().as_nanos() as u64;
        }
        let Some(seed) = seed else {
            self.stats.ruled_out_by_lcs += 1;
            return None;
        };
        let mut band = self.params.band.first(threshold, seed, lens.0.min(lens.1));
        let mut widenings = 0;
        let (aln, identity) = loop {
            self.stats.alignments += 1;
            // An unbanded alignment counts as the band that covers the whole matrix.
            let half_width = band
                .unwrap_or_else(|| Band::covering(lens.0, lens.1))
                .half_width as u64;
            self.stats.band_sum += half_width;
            self.stats.band_min = self.stats.band_min.min(half_width);
            self.stats.band_max = self.stats.band_max.max(half_width);
            let timed = talaria_stages::metrics::accounting_on().then(std::time::Instant::now);
            let attempt = match band {
                Some(band) => self.aligner.align_banded(seq, &rep.seq, band),
                None => self.aligner.align(seq, &rep.seq),
            };
            if let Some(t) = timed {
                let ns = t.elapsed().as_nanos() as u64;
                self.stats.align_ns += ns;
                talaria_stages::metrics::record("alignment", ns);
            }
            self.stats.dp_cells += self.aligner.take_cells();
            let Some(aln) = attempt else {
                self.stats.too_large += 1;
                return None;
            };
            let identity = aln.identity(lens.0, lens.1);
            if identity + 1e-12 >= threshold
                && aln.query_coverage(lens.0) + 1e-12 >= self.params.coverage
            {
                break (aln, identity);
            }
            // No wider band to try: the record does not join this representative.
            band = Some(self.params.band.widen(band?, &aln, lens, threshold)?);
            widenings += 1;
            self.stats.widened += 1;
        };
        if widenings > 0 {
            self.stats.passed_after_widening += 1;
        }
        self.stats.alignments_passed += 1;
        Some(self.passed(seq, rep, &aln, identity))
    }

    /// The ungapped alignment of `seq` (query) and `rep` (target) on `diagonal`
    /// (`target_pos - query_pos`), as a join when a shortcut allows it and it reaches the
    /// identity and coverage thresholds. Counted apart from the DP alignments (`shortcut_*`).
    fn shortcut(&mut self, seq: &[u8], rep: &RepSeq, diagonal: i64) -> Option<Join> {
        let (n, m) = (seq.len() as i64, rep.seq.len() as i64);
        let (first, last) = ((-diagonal).max(0), n.min(m - diagonal));
        if first >= last {
            return None;
        }
        let (q, t) = (first as usize, (first + diagonal) as usize);
        let len = (last - first) as usize;
        let (query, target) = (&seq[q..q + len], &rep.seq[t..t + len]);
        let shorter = n.min(m) as usize;
        let identical = query
            .iter()
            .zip(target)
            .filter(|(a, b)| a.eq_ignore_ascii_case(b))
            .count();
        let contained = identical == len && len == shorter;
        let identity = identical as f64 / shorter as f64;
        let coverage = len as f64 / n as f64;
        let allowed = (self.params.shortcuts.exact && contained) || self.params.shortcuts.ungapped;
        if !allowed
            || identity + 1e-12 < self.params.threshold
            || coverage + 1e-12 < self.params.coverage
        {
            return None;
        }
        let scoring = self.aligner.scoring();
        let score = query
            .iter()
            .zip(target)
            .map(|(&a, &b)| scoring.score(a, b))
            .sum();
        let aln = Alignment {
            score,
            query_start: q,
            query_end: q + len,
            target_start: t,
            target_end: t + len,
            identical,
            ops: vec![(AlignOp::Pair, len as u32)],
        };
        if contained && self.params.shortcuts.exact {
            self.stats.shortcut_exact += 1;
        } else {
            self.stats.shortcut_ungapped += 1;
        }
        Some(self.passed(seq, rep, &aln, identity))
    }

    /// The join an alignment that passed both thresholds gives, counted by identity.
    fn passed(&mut self, seq: &[u8], rep: &RepSeq, aln: &Alignment, identity: f64) -> Join {
        self.stats.identity_pct[((identity * 100.0).floor() as usize).min(100)] += 1;
        join_of(seq, rep, aln, identity, false)
    }

    /// The LCS bound and the seed: `None` when the LCS rules the pair out. With `profile`
    /// (the cache) the representative's LCS masks are reused; the answers are the same as
    /// without.
    ///
    /// With banding on, the seed comes first and the LCS counts only the matches inside the
    /// band envelope, the widest band any attempt on this pair can use: still exact for the
    /// alignments this pair can get, far tighter than the whole-matrix LCS, and cheaper (a row
    /// updates only the words the band covers). Measured against the whole-matrix bound taken
    /// before the seed, same outputs (2 CPUs, medians of alternated runs): 20k UniProt at 0.5,
    /// alignments 27,196 -> 19,307 and CPU 2.53 -> 2.33 s (of the 15,645 pairs the DP failed,
    /// 7,867 are now ruled out first); at 0.9 the writer's CPU 0.34 -> 0.29 s; 16S at 0.97,
    /// CPU 2.68 -> 2.13 s. The seeds it computes for pairs the LCS then rules out cost less
    /// than what the band saves.
    fn bound_and_seed(
        &mut self,
        seq: &[u8],
        rep: &[u8],
        profile: Option<&RepProfile>,
        early: Option<Seed>,
    ) -> Option<Seed> {
        let threshold = self.params.threshold;
        // No alignment has more identical columns than the LCS: skip the pairs it rules out,
        // with the very test an alignment must pass below (exact: they would fail in any band).
        // `need` only lets the LCS stop early; it is kept below the first passing count, so an
        // early stop rules a pair out whichever sequence holds the bits.
        let shorter = seq.len().min(rep.len());
        if shorter == 0 {
            return Some(early.unwrap_or_else(|| self.seed(seq, rep)));
        }
        let need = (((threshold - 1e-12) * shorter as f64).floor() as usize).saturating_sub(1);
        // The smallest count that passes the test below: once the LCS reaches it, the rest
        // of the pair's rows cannot change the answer.
        let passes = |count: usize| (count as f64 / shorter as f64) + 1e-12 >= threshold;
        let mut enough = need;
        while enough <= shorter && !passes(enough) {
            enough += 1;
        }
        // The envelope needs the seed; without banding the LCS takes the whole matrix.
        let (seed, envelope) = if self.params.band.banded {
            let seed = early.unwrap_or_else(|| self.seed(seq, rep));
            (
                Some(seed),
                self.params.band.envelope(threshold, seed, shorter),
            )
        } else {
            (early, None)
        };
        let band = envelope.map(|envelope| DiagonalRange {
            low: envelope.diagonal - envelope.half_width as i64,
            high: envelope.diagonal + envelope.half_width as i64,
        });
        let lcs = match profile {
            Some(p) => self
                .lcs
                .length_against_in_band(seq, &p.masks, need, enough, band),
            None => self.lcs.length_up_to_in_band(seq, rep, need, enough, band),
        };
        if !passes(lcs) {
            return None;
        }
        Some(seed.unwrap_or_else(|| self.seed(seq, rep)))
    }

    /// Where shared k-mers put `rep` relative to `seq` (diagonal = `target_pos - query_pos`):
    /// the most common diagonal (ties: nearest to 0, then smaller) and the range of diagonals with
    /// at least [`MIN_SEED_VOTES`] shared k-mers, which spans the indels between the seeds.
    fn seed(&mut self, seq: &[u8], rep: &[u8]) -> Seed {
        let coder = self.params.coder;
        if self.member_pos.is_empty() {
            let member_pos = &mut self.member_pos;
            coder.for_each(seq, |pos, kmer| {
                member_pos.entry(kmer).or_insert(pos as u32);
            });
        }
        // Votes by diagonal + seq.len() (diagonals lie in (-seq.len(), rep.len())), zero
        // outside `touched`: an array increment per shared k-mer instead of a map entry. Every
        // candidate is seeded now (before the LCS bound); at 0.9 on 20k UniProt the seeds went
        // from 11.8% to 9.8% of the samples, same outputs. (A table of our own for the
        // record's k-mer positions as well was slower than hashbrown's: 15.3%.)
        let offset = seq.len();
        let span = seq.len() + rep.len() + 1;
        if self.votes.len() < span {
            self.votes.resize(span, 0);
        }
        self.touched.clear();
        let (member_pos, votes, touched) = (&self.member_pos, &mut self.votes, &mut self.touched);
        coder.for_each(rep, |pos, kmer| {
            if let Some(&q) = member_pos.get(&kmer) {
                let at = pos + offset - q as usize;
                if votes[at] == 0 {
                    touched.push(at as u32);
                }
                votes[at] += 1;
            }
        });
        let diagonal = |at: u32| at as i64 - offset as i64;
        // Most votes, then nearest to 0, then the smaller diagonal: a total order, so the
        // order of `touched` does not matter.
        let mut best: Option<(u32, i64)> = None;
        for &at in touched.iter() {
            let (n, d) = (votes[at as usize], diagonal(at));
            if best.is_none_or(|(bn, bd)| (n, -d.abs(), -d) > (bn, -bd.abs(), -bd)) {
                best = Some((n, d));
            }
        }
        let seed = match best {
            None => Seed {
                best: 0,
                low: 0,
                high: 0,
            },
            Some((top, best)) => {
                let support = top.min(MIN_SEED_VOTES);
                let (mut low, mut high) = (best, best);
                for &at in touched.iter() {
                    if votes[at as usize] >= support {
                        low = low.min(diagonal(at));
                        high = high.max(diagonal(at));
                    }
                }
                Seed { best, low, high }
            }
        };
        for &at in touched.iter() {
            votes[at as usize] = 0;
        }
        seed
    }
}

/// An exact duplicate's join: one run of identical columns (case differences are kept in the
/// delta).
fn exact_join(seq: &[u8], rep: &RepSeq) -> Join {
    let n = seq.len();
    let aln = Alignment {
        score: 0,
        query_start: 0,
        query_end: n,
        target_start: 0,
        target_end: n,
        identical: n,
        ops: if n == 0 {
            Vec::new()
        } else {
            vec![(AlignOp::Pair, n as u32)]
        },
    };
    join_of(seq, rep, &aln, 1.0, true)
}

/// `seq` as a member of `rep` along `aln`: its delta.
fn join_of(seq: &[u8], rep: &RepSeq, aln: &Alignment, identity: f64, exact: bool) -> Join {
    let mut delta = Vec::new();
    ops::encode_alignment(&rep.seq, seq, aln, &mut delta);
    Join {
        rep: rep.ordinal,
        identity,
        delta,
        exact,
    }
}

/// Shared k-mers that make a diagonal part of the seed range. 20k UniProt at 0.9, 2 threads:
/// requiring a quarter of the best diagonal's votes lost 25 joins (14,652 representatives against
/// 14,627 with the old fixed wide band); 2 votes gave 14,618 at 3.63 s CPU, 3 votes 14,619 at
/// 3.32 s (the fixed wide band: 7.44 s). Same representatives on 45k generated proteins.
const MIN_SEED_VOTES: u32 = 3;

/// Seed diagonals of a candidate pair (see `Decider::seed`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seed {
    pub best: i64,
    pub low: i64,
    pub high: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_shared_uses_the_shorter_sequence() {
        // 300 residues, 296 distinct 5-mers, 0.9: 30 may differ -> 296 - 5 * 31 = 141.
        assert_eq!(required_shared(5, 0.9, (300, 296), (500, 490), 1), 141);
        assert_eq!(required_shared(5, 0.9, (500, 490), (300, 296), 1), 141);
        assert_eq!(required_shared(5, 0.5, (300, 296), (300, 296), 1), 1);
        // 1 in 8: 37 sketch k-mers, 155 destroyable / 8 rounded up = 20.
        assert_eq!(required_shared(5, 0.9, (300, 37), (500, 61), 8), 17);
    }

    /// The seed's votes in an array give what maps of k-mer -> first position and diagonal ->
    /// votes give (the definition), ties included, for several representatives per record.
    #[test]
    fn seed_votes_agree_with_the_map_definition() {
        use std::collections::HashMap;
        let coder = KmerCoder::new(crate::bio::alphabet::Alphabet::Protein, 3);
        let params = Params {
            coder,
            threshold: 0.9,
            coverage: 0.0,
            max_candidates: 32,
            band: BandPolicy::default(),
            sketch: Sketch::all(),
            kmer_filter: true,
            min_shared: 0,
            shortcuts: Shortcuts::default(),
        };
        let mut decider = Decider::new(params, Aligner::new());
        let model = |seq: &[u8], rep: &[u8]| -> Seed {
            let mut first = HashMap::new();
            coder.for_each(seq, |pos, kmer| {
                first.entry(kmer).or_insert(pos as i64);
            });
            let mut votes: HashMap<i64, u32> = HashMap::new();
            coder.for_each(rep, |pos, kmer| {
                if let Some(&q) = first.get(&kmer) {
                    *votes.entry(pos as i64 - q).or_insert(0) += 1;
                }
            });
            let Some((&best, &top)) = votes.iter().max_by(|a, b| {
                a.1.cmp(b.1)
                    .then(b.0.abs().cmp(&a.0.abs()))
                    .then(b.0.cmp(a.0))
            }) else {
                return Seed {
                    best: 0,
                    low: 0,
                    high: 0,
                };
            };
            let support = top.min(MIN_SEED_VOTES);
            let kept = || votes.iter().filter(|e| *e.1 >= support).map(|e| *e.0);
            Seed {
                best,
                low: kept().min().unwrap(),
                high: kept().max().unwrap(),
            }
        };
        use rand::{rngs::SmallRng, Rng, SeedableRng};
        let mut rng = SmallRng::seed_from_u64(0x5eed);
        let mut random = |len: usize, letters: &[u8]| -> Vec<u8> {
            (0..len)
                .map(|_| letters[rng.gen_range(0..letters.len())])
                .collect()
        };
        for round in 0..40usize {
            // A small alphabet, so k-mers repeat (first positions) and diagonals tie.
            let seq = random(1 + round * 11, b"ACDW");
            decider.new_record();
            for shift in [0usize, 2, 9] {
                let mut rep = random(shift, b"ACDW");
                rep.extend_from_slice(&seq[(round % 4).min(seq.len())..]);
                for i in (0..rep.len()).step_by(5 + round % 4) {
                    rep[i] = b"ACDW"[(i + round) % 4];
                }
                assert_eq!(decider.seed(&seq, &rep), model(&seq, &rep), "round {round}");
            }
            let unrelated = random(30 + round, b"EFGH");
            assert_eq!(decider.seed(&seq, &unrelated), model(&seq, &unrelated));
            assert_eq!(decider.seed(&seq, b""), model(&seq, b""));
        }
        // Two diagonals, -4 and +4, with the same votes: the smaller wins.
        let seq = random(60, b"ACDEFGHIKLMNPQRSTVWY");
        let mut rep = seq[4..24].to_vec();
        rep.extend_from_slice(&seq[16..36]);
        decider.new_record();
        let seed = decider.seed(&seq, &rep);
        assert_eq!(seed, model(&seq, &rep));
        assert_eq!((seed.best, seed.low, seed.high), (-4, -4, 4));
    }

    #[test]
    fn candidate_bins() {
        let bins: Vec<usize> = [0, 1, 2, 3, 4, 5, 8, 9, 16, 17, 32, 33, 1000]
            .iter()
            .map(|&n| candidates_bin(n))
            .collect();
        assert_eq!(bins, vec![0, 1, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7]);
    }

    #[test]
    fn uppercase_hash_ignores_case_only() {
        assert_eq!(uppercase_hash(b"acgtn"), uppercase_hash(b"ACGTN"));
        assert_ne!(uppercase_hash(b"ACGTA"), uppercase_hash(b"ACGTN"));
        let long: Vec<u8> = (0..10_000).map(|i| b"acgt"[i % 4]).collect();
        assert_eq!(
            uppercase_hash(&long),
            uppercase_hash(&long.to_ascii_uppercase())
        );
    }
}
