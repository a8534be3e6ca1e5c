//! The reference cache (`performance.cache_alignments`): what a candidate pair costs to rebuild
//! for its representative alone, kept per representative ordinal so a representative that is a
//! candidate for many records is prepared once.
//!
//! What is kept: the LCS bound's match masks with the representative as the bit side (per
//! distinct residue, a bit per position; otherwise rebuilt for every pair from the shorter
//! sequence). The LCS is symmetric and its early stop only ever answers "below the threshold",
//! so the bound rules out exactly the same pairs either way round: the cache is pure
//! memoisation, and outputs are byte-identical with it on or off, whatever its size or policy
//! (tests/cache.rs).
//!
//! Measured and not kept (README, "Reference cache"): the representative's (k-mer, position)
//! list for the seed saved 0.1% more instructions than the masks alone for 16 bytes per residue
//! (the masks cost about 2.5 for protein); sorted for a merge join it cost 3.5% more than no
//! cache at all (sorting on every miss).
//!
//! One cache per deciding thread (aligners and the writer), no locks; `cache_size_mb` is split
//! between them and taken out of the index's share of `--memory-limit` (`cache_report`).

use crate::bio::alignment::LcsMasks;
use talaria_stages::cache::{BoundedCache, CacheStats, Eviction};

/// What a representative needs for every candidate pair, built once.
pub struct RepProfile {
    pub masks: LcsMasks,
}

impl RepProfile {
    pub fn build(seq: &[u8]) -> RepProfile {
        RepProfile {
            masks: LcsMasks::of(seq),
        }
    }

    pub fn heap_bytes(&self) -> usize {
        self.masks.heap_bytes()
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
    pub fn with<R>(&mut self, ordinal: u32, seq: &[u8], f: impl FnOnce(&RepProfile) -> R) -> R {
        if let Some(profile) = self.cache.get(&ordinal) {
            return f(profile);
        }
        let profile = RepProfile::build(seq);
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

    #[test]
    fn cache_counts_lookups_and_keeps_profiles() {
        let mut cache = RepCache::new(Eviction::Lru, 1 << 20);
        let seqs: [&[u8]; 2] = [b"MKVLAAGIVGLLLAQ", b"MSTNPKPQRKTKRNTAA"];
        let mut lens = Vec::new();
        for &(ordinal, i) in &[(0u32, 0usize), (1, 1), (0, 0), (0, 0)] {
            lens.push(cache.with(ordinal, seqs[i], |p| p.masks.len()));
        }
        assert_eq!(lens, vec![15, 17, 15, 15]);
        let s = cache.stats();
        assert_eq!(
            (s.lookups, s.hits, s.misses, s.inserted, s.entries),
            (4, 2, 2, 2, 2)
        );
        assert!(s.bytes > 0 && s.bytes <= s.capacity);
    }

    #[test]
    fn a_full_cache_still_answers() {
        // Room for one profile: the second evicts the first, and both lookups still get theirs.
        let one = RepProfile::build(b"MKVLAAGIVGLLLAQ").heap_bytes()
            + talaria_stages::cache::ENTRY_OVERHEAD;
        let mut cache = RepCache::new(Eviction::Fifo, one);
        assert_eq!(cache.with(0, b"MKVLAAGIVGLLLAQ", |p| p.masks.len()), 15);
        assert_eq!(cache.with(1, b"MKVLAAGIVGLLLAW", |p| p.masks.len()), 15);
        assert_eq!(cache.with(0, b"MKVLAAGIVGLLLAQ", |p| p.masks.len()), 15);
        let s = cache.stats();
        assert_eq!((s.hits, s.misses, s.evictions, s.entries), (0, 3, 2, 1));
    }
}
