//! The postings of a k-mer space too large for direct-addressed heads (protein 8-mers, long DNA
//! k-mers): every (key, representative) pair in one open-addressing table, 8 bytes a slot.
//!
//! It replaced a hash map of chain heads plus linked postings: nearly every sampled 8-mer of
//! 500k proteins belongs to one representative, so each posting carried a head of its own
//! (8 bytes of posting plus 9–18 bytes of hash-map bucket). Worse, the map grew by doubling
//! in one piece: the old and the new table side by side put a 300 MiB spike on top of a
//! 940 MiB peak. Here a slot holds the pair itself, and the table is split into [`SHARDS`]
//! shards that grow one at a time, so growing never needs more than a shard's worth extra.
//!
//! Linear probing, at most 3/4 full. A key's pairs sit in its probe run in no particular
//! order; callers sort what they collect. Removal happens only in [`SparsePostings::retain`],
//! which rebuilds each shard that lost pairs, so there are no tombstones.

use crate::reduce::index::Backing;
use talaria_stages::memory;

/// Shards: a power of two. At 500k proteins (~20 M postings) a shard is ~4 MiB, large enough
/// for transparent huge pages and small enough that growing one is a blip.
pub const SHARDS: usize = 64;
const SHARD_BITS: u32 = SHARDS.trailing_zeros();
/// A shard's first capacity, in slots.
const MIN_SLOTS: usize = 64;
/// An empty slot. No pair has representative `u32::MAX` (the index's END), so no pair is it.
const EMPTY: u64 = u64::MAX;

#[inline]
fn pair(key: u32, rep: u32) -> u64 {
    (key as u64) << 32 | rep as u64
}

/// (shard, hash): the shard from the top bits of a multiplicative hash, the probe start from
/// the bits below them. Exactly numbered keys (DNA) are far from uniform; the hash spreads
/// them.
#[inline]
fn place(key: u32) -> (usize, u64) {
    let h = (key as u64 ^ 0x5bd1_e995).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    ((h >> (64 - SHARD_BITS)) as usize, h >> 16)
}

/// Slots for `pairs` pairs: the smallest power of two that keeps them at most 3/4 full.
fn slots_for(pairs: usize) -> usize {
    (pairs * 4).div_ceil(3).max(MIN_SLOTS).next_power_of_two()
}

#[derive(Default)]
struct Shard {
    slots: Vec<u64>,
    pairs: usize,
    /// What [`BackingState::back`] did to `slots`, undone when the shard is freed.
    backed: Backed,
}

/// Bytes of one shard advised for huge pages, bound to the interleave policy, locked in RAM.
#[derive(Clone, Copy, Default)]
struct Backed {
    advised: usize,
    interleaved: usize,
    locked: usize,
}

impl Shard {
    fn insert(&mut self, hash: u64, entry: u64) {
        let mask = self.slots.len() - 1;
        let mut at = hash as usize & mask;
        while self.slots[at] != EMPTY {
            at = (at + 1) & mask;
        }
        self.slots[at] = entry;
        self.pairs += 1;
    }
}

/// How the shards' memory is backed, and what that achieved (for the summary).
#[derive(Default)]
pub struct BackingState {
    pub backing: Backing,
    pub advised: usize,
    pub locked: usize,
    pub interleaved: usize,
    pub lock_error: Option<String>,
    pub interleave_error: Option<String>,
}

impl BackingState {
    /// Interleave, advise and lock `bytes` at `ptr`, a shard just allocated and not yet
    /// written (so the policy and the advice apply to every page as it is first touched).
    fn back(&mut self, ptr: *const u8, bytes: usize) -> Backed {
        let mut done = Backed::default();
        if let Some(nodes) = self.backing.interleave {
            let policy = talaria_stages::numa::Policy::Interleave(nodes);
            match talaria_stages::numa::bind_region(ptr, bytes, &policy) {
                Ok(b) => done.interleaved = b,
                Err(e) => {
                    self.interleave_error = Some(e.to_string());
                    self.backing.interleave = None;
                }
            }
        }
        if self.backing.huge_pages {
            done.advised = memory::advise_huge_pages(ptr, bytes);
        }
        let room = self.backing.lock_bytes.saturating_sub(self.locked);
        if room > 0 {
            match memory::lock(ptr, bytes.min(room)) {
                Ok(locked) => done.locked = locked,
                Err(e) => {
                    // Keep what is locked; lock no more.
                    self.lock_error = Some(e.to_string());
                    self.backing.lock_bytes = 0;
                }
            }
        }
        self.advised += done.advised;
        self.interleaved += done.interleaved;
        self.locked += done.locked;
        done
    }

    /// Undo [`Self::back`] for a shard about to be freed.
    fn release(&mut self, shard: &Shard) {
        let done = shard.backed;
        if done.locked > 0 {
            memory::unlock(shard.slots.as_ptr().cast(), done.locked);
        }
        self.advised -= done.advised;
        self.interleaved -= done.interleaved;
        self.locked -= done.locked;
    }
}

pub struct SparsePostings {
    shards: Vec<Shard>,
    pairs: usize,
    pub backing: BackingState,
}

impl SparsePostings {
    pub fn new(backing: Backing) -> SparsePostings {
        let mut table = SparsePostings {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            pairs: 0,
            backing: BackingState {
                backing,
                ..BackingState::default()
            },
        };
        for s in 0..SHARDS {
            table.rebuild(s, MIN_SLOTS, |_| true);
        }
        table
    }

    /// Pairs held.
    pub fn len(&self) -> usize {
        self.pairs
    }

    /// Bytes allocated for slots: exactly what the table holds.
    pub fn bytes(&self) -> usize {
        self.shards.iter().map(|s| s.slots.len() * 8).sum()
    }

    /// A page-aligned address inside the largest shard, if it spans two pages or more (for
    /// /proc/self/numa_maps).
    pub fn inner_page(&self) -> Option<usize> {
        let slots = &self.shards.iter().max_by_key(|s| s.slots.len())?.slots;
        (slots.len() * 8 >= 2 * 4096)
            .then(|| (slots.as_ptr() as usize + 4096).next_multiple_of(4096))
    }

    /// Add the pair (key, rep). Pairs are never added twice (a representative's keys are
    /// distinct), so there is no lookup first.
    pub fn insert(&mut self, key: u32, rep: u32) {
        debug_assert!(rep != u32::MAX);
        let (s, hash) = place(key);
        let shard = &self.shards[s];
        if (shard.pairs + 1) * 4 > shard.slots.len() * 3 {
            let slots = shard.slots.len() * 2;
            self.rebuild(s, slots, |_| true);
        }
        self.shards[s].insert(hash, pair(key, rep));
        self.pairs += 1;
    }

    /// Where `key`'s probe run starts, for a prefetch.
    #[inline]
    pub fn slot_address(&self, key: u32) -> *const u8 {
        let (s, hash) = place(key);
        let slots = &self.shards[s].slots;
        slots
            .as_ptr()
            .wrapping_add(hash as usize & (slots.len() - 1))
            .cast()
    }

    /// Calls `f` with every representative paired with `key`, in no particular order.
    #[inline]
    pub fn for_each(&self, key: u32, mut f: impl FnMut(u32)) {
        let (s, hash) = place(key);
        let slots = &self.shards[s].slots;
        let mask = slots.len() - 1;
        let mut at = hash as usize & mask;
        loop {
            let entry = slots[at];
            if entry == EMPTY {
                return;
            }
            if (entry >> 32) as u32 == key {
                f(entry as u32);
            }
            at = (at + 1) & mask;
        }
    }

    /// Keep the pairs whose representative `keep` accepts; every shard that lost pairs is
    /// rebuilt at the size its remaining pairs need (never larger than before), one at a time.
    /// Returns the pairs removed.
    pub fn retain(&mut self, keep: impl Fn(u32) -> bool) -> usize {
        let before = self.pairs;
        for s in 0..SHARDS {
            let kept = self.shards[s]
                .slots
                .iter()
                .filter(|&&e| e != EMPTY && keep(e as u32))
                .count();
            if kept < self.shards[s].pairs {
                self.rebuild(s, slots_for(kept), &keep);
            }
        }
        before - self.pairs
    }

    /// Move shard `s` into `slots` fresh slots, keeping the pairs `keep` accepts. The old and
    /// the new shard exist together only here: one shard's worth of extra memory.
    fn rebuild(&mut self, s: usize, slots: usize, keep: impl Fn(u32) -> bool) {
        let mut fresh = Shard {
            slots: Vec::with_capacity(slots),
            ..Shard::default()
        };
        fresh.backed = self.backing.back(fresh.slots.as_ptr().cast(), slots * 8);
        fresh.slots.resize(slots, EMPTY);
        let old = std::mem::take(&mut self.shards[s]);
        for &entry in &old.slots {
            if entry != EMPTY && keep(entry as u32) {
                fresh.insert(place((entry >> 32) as u32).1, entry);
            }
        }
        self.pairs = self.pairs - old.pairs + fresh.pairs;
        self.backing.release(&old);
        self.shards[s] = fresh;
    }
}

impl Drop for SparsePostings {
    fn drop(&mut self) {
        for shard in std::mem::take(&mut self.shards) {
            self.backing.release(&shard);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn collect(table: &SparsePostings, key: u32) -> Vec<u32> {
        let mut v = Vec::new();
        table.for_each(key, |r| v.push(r));
        v.sort_unstable();
        v
    }

    /// Against a BTreeMap model: inserts through several growths, then removals, then more
    /// inserts; every key's set of representatives, the pair count and the load stay right.
    #[test]
    fn matches_a_model_through_growth_and_removal() {
        let mut table = SparsePostings::new(Backing::default());
        let mut model: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut add = |table: &mut SparsePostings, model: &mut BTreeMap<u32, Vec<u32>>, rep| {
            for _ in 0..40 {
                // Few distinct keys near u32::MAX and 0 too, so runs collide and wrap.
                let key = match next() % 4 {
                    0 => (next() % 50) as u32,
                    1 => u32::MAX - (next() % 50) as u32,
                    _ => next() as u32,
                };
                if !model.get(&key).is_some_and(|v| v.contains(&rep)) {
                    table.insert(key, rep);
                    model.entry(key).or_default().push(rep);
                }
            }
        };
        for rep in 0..3000 {
            add(&mut table, &mut model, rep);
        }
        let removed = table.retain(|rep| rep % 3 != 0);
        let mut expected_removed = 0;
        for reps in model.values_mut() {
            let before = reps.len();
            reps.retain(|r| r % 3 != 0);
            expected_removed += before - reps.len();
        }
        assert_eq!(removed, expected_removed);
        for rep in 3000..3500 {
            add(&mut table, &mut model, rep);
        }
        let pairs: usize = model.values().map(Vec::len).sum();
        assert_eq!(table.len(), pairs);
        for (key, reps) in &model {
            let mut reps = reps.clone();
            reps.sort_unstable();
            assert_eq!(collect(&table, *key), reps, "key {key}");
        }
        // At most 3/4 full, and no shard more than twice the size its pairs need.
        for shard in &table.shards {
            assert!(shard.pairs * 4 <= shard.slots.len() * 3);
            assert!(shard.slots.len() <= 2 * slots_for(shard.pairs));
        }
        assert_eq!(
            table.bytes(),
            table
                .shards
                .iter()
                .map(|s| s.slots.len() * 8)
                .sum::<usize>()
        );
    }

    #[test]
    fn retain_never_grows_a_shard_and_can_empty_the_table() {
        let mut table = SparsePostings::new(Backing::default());
        for rep in 0..10_000u32 {
            table.insert(rep.wrapping_mul(2_654_435_761), rep);
        }
        let before = table.bytes();
        table.retain(|rep| rep < 9_000);
        assert!(table.bytes() <= before);
        assert_eq!(table.len(), 9_000);
        table.retain(|_| false);
        assert_eq!(table.len(), 0);
        assert_eq!(table.bytes(), SHARDS * MIN_SLOTS * 8);
        assert!(collect(&table, 5u32.wrapping_mul(2_654_435_761)).is_empty());
    }
}
