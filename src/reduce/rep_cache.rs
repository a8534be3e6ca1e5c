//! The reference cache (`performance.cache_alignments`): what a candidate pair costs to rebuild
//! for its representative alone, kept per representative ordinal so a representative that is a
//! candidate for many records is prepared once.
//!
//! Per pair, `Decider::try_join` otherwise rebuilds from the representative's residues
//! - the LCS bound's match masks (one pass over the sequence plus `distinct × words` words), and
//! - the seed's k-mer positions (every k-mer re-encoded and looked up in a hash map).
//!
//! A [`RepProfile`] holds both: the masks with the representative as the bit side, and its
//! (k-mer, position) list sorted for a merge join against the record's sorted first positions.
//! Both give exactly what the uncached path computes (the LCS is symmetric; the votes are the
//! same multiset), so the cache is pure memoisation: outputs are byte-identical with it on or
//! off, whatever its size or policy (tests/cache.rs).
//!
//! One cache per deciding thread (aligners and the writer), no locks; `cache_size_mb` is split
//! between them and taken out of the index's share of `--memory-limit` (`pipeline`).

use crate::bio::alignment::LcsMasks;
use crate::bio::kmer::KmerCoder;
use talaria_stages::cache::{BoundedCache, CacheStats, Eviction};

/// What a representative needs for every candidate pair, built once.
pub struct RepProfile {
    pub masks: LcsMasks,
    /// Every (k-mer, position) of the representative, sorted.
    pub kmers: Vec<(u64, u32)>,
}

impl RepProfile {
    pub fn build(coder: &KmerCoder, seq: &[u8]) -> RepProfile {
        let mut kmers = Vec::with_capacity(seq.len());
        coder.for_each(seq, |pos, kmer| kmers.push((kmer, pos as u32)));
        kmers.sort_unstable();
        kmers.shrink_to_fit();
        RepProfile {
            masks: LcsMasks::of(seq),
            kmers,
        }
    }

    pub fn heap_bytes(&self) -> usize {
        self.masks.heap_bytes() + self.kmers.capacity() * std::mem::size_of::<(u64, u32)>()
    }
}

/// A record's distinct k-mers with their first position, sorted by k-mer: the other side of the
/// merge join (the uncached path keeps the same first positions in a hash map).
pub fn first_positions(coder: &KmerCoder, seq: &[u8], out: &mut Vec<(u64, u32)>) {
    out.clear();
    coder.for_each(seq, |pos, kmer| out.push((kmer, pos as u32)));
    // Sorting (k-mer, position) pairs puts each k-mer's first position first.
    out.sort_unstable();
    out.dedup_by_key(|e| e.0);
}

/// Calls `vote(diagonal)` once per representative k-mer occurrence whose k-mer the record has,
/// with `diagonal = rep position - record's first position`: the votes the uncached seed casts.
pub fn merge_votes(member: &[(u64, u32)], rep: &[(u64, u32)], mut vote: impl FnMut(i64)) {
    let (mut i, mut j) = (0, 0);
    while i < member.len() && j < rep.len() {
        let (m, r) = (member[i].0, rep[j].0);
        if m < r {
            i += 1;
        } else if r < m {
            j += 1;
        } else {
            vote(rep[j].1 as i64 - member[i].1 as i64);
            j += 1;
        }
    }
}

/// One deciding thread's cache of representative profiles.
pub struct RepCache {
    cache: BoundedCache<u32, RepProfile>,
}

impl RepCache {
    pub fn new(policy: Eviction, capacity_bytes: usize) -> RepCache {
        RepCache {
            cache: BoundedCache::new(policy, capacity_bytes),
        }
    }

    /// Runs `f` on the profile of representative `ordinal` (`seq`), building and keeping it on
    /// a miss. Counts one lookup.
    pub fn with<R>(
        &mut self,
        coder: &KmerCoder,
        ordinal: u32,
        seq: &[u8],
        f: impl FnOnce(&RepProfile) -> R,
    ) -> R {
        if let Some(profile) = self.cache.get(&ordinal) {
            return f(profile);
        }
        let profile = RepProfile::build(coder, seq);
        let result = f(&profile);
        let bytes = profile.heap_bytes();
        self.cache.insert(ordinal, profile, bytes);
        result
    }

    pub fn stats(&self) -> CacheStats {
        self.cache.stats()
    }

    pub fn policy(&self) -> Eviction {
        self.cache.policy()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bio::alphabet::Alphabet;
    use rustc_hash::FxHashMap;

    /// The uncached seed's votes: first positions in a map, every rep k-mer looked up.
    fn hashed_votes(coder: &KmerCoder, member: &[u8], rep: &[u8]) -> Vec<(i64, u32)> {
        let mut first = FxHashMap::default();
        coder.for_each(member, |pos, kmer| {
            first.entry(kmer).or_insert(pos as u32);
        });
        let mut votes: FxHashMap<i64, u32> = FxHashMap::default();
        coder.for_each(rep, |pos, kmer| {
            if let Some(&q) = first.get(&kmer) {
                *votes.entry(pos as i64 - q as i64).or_insert(0) += 1;
            }
        });
        let mut v: Vec<_> = votes.into_iter().collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn merge_join_casts_the_hashed_votes() {
        let coder = KmerCoder::new(Alphabet::Nucleotide, 4);
        let rep = b"ACGTACGTTTGACCAGTACGTNNACGTACGGGTACGT".to_vec();
        for member in [
            &b"TTGACCAGTACGTACGTACGT"[..],
            b"acgtacgtttgacc",
            b"GGGGGGGG",
            b"",
            b"ACGTNACGTACGTACGTACGT",
        ] {
            let mut first = Vec::new();
            first_positions(&coder, member, &mut first);
            let profile = RepProfile::build(&coder, &rep);
            let mut votes: FxHashMap<i64, u32> = FxHashMap::default();
            merge_votes(&first, &profile.kmers, |d| *votes.entry(d).or_insert(0) += 1);
            let mut v: Vec<_> = votes.into_iter().collect();
            v.sort_unstable();
            assert_eq!(v, hashed_votes(&coder, member, &rep));
        }
    }

    #[test]
    fn cache_counts_lookups_and_keeps_profiles() {
        let coder = KmerCoder::new(Alphabet::Protein, 3);
        let mut cache = RepCache::new(Eviction::Lru, 1 << 20);
        let seqs: [&[u8]; 2] = [b"MKVLAAGIVGLLLAQ", b"MSTNPKPQRKTKRNT"];
        let mut lens = Vec::new();
        for &(ordinal, i) in &[(0u32, 0usize), (1, 1), (0, 0), (0, 0)] {
            lens.push(cache.with(&coder, ordinal, seqs[i], |p| (p.masks.len(), p.kmers.len())));
        }
        assert_eq!(lens, vec![(15, 13), (15, 13), (15, 13), (15, 13)]);
        let s = cache.stats();
        assert_eq!((s.lookups, s.hits, s.misses, s.inserted, s.entries), (4, 2, 2, 2, 2));
        assert!(s.bytes > 0 && s.bytes <= s.capacity);
    }
}
