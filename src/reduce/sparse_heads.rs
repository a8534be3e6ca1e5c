//! The chain heads of a k-mer space too large for direct-addressed heads (protein 8-mers,
//! long DNA k-mers): hash maps from key to [`Head`], split into [`SHARDS`] shards by a hash of
//! the key.
//!
//! Two costs of the single hash map of heads this replaced, both measured on 500k proteins:
//! - Nearly every sampled 8-mer belongs to one representative, yet each had a head *and* an
//!   8-byte posting. Here a key's only representative sits in the head itself
//!   ([`Head::Single`]); only a key that a second representative shares gets a chain in the
//!   index's postings ([`Head::Chain`]).
//! - The map grew by doubling in one piece: the old and the new table side by side put a
//!   300 MiB spike on a 940 MiB peak. A shard grows alone: one 64th of that.
//!
//! Tried first and not kept: an open-addressing table of (key, representative) pairs, 8-byte
//! slots, no chains (peak RSS at 500k 525 MiB against 686, but 20–24% slower on 20k UniProt at
//! 0.5: every lookup missed the cache on the slots, where hashbrown's control bytes mostly
//! answer "absent" from the cache; a bit filter in front of the slots did not recover it).

use rustc_hash::FxHashMap;

/// Shards: a power of two.
pub const SHARDS: usize = 64;
const SHARD_BITS: u32 = SHARDS.trailing_zeros();
/// Values (representative ordinals and chain indices) are below 2^31: the top bit says which.
pub const MAX_VALUE: u32 = (1 << 31) - 1;
const CHAIN_BIT: u32 = 1 << 31;

/// What a key's head holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Head {
    /// The one representative with this key.
    Single(u32),
    /// The newest posting of this key's chain (an index into the index's postings).
    Chain(u32),
}

impl Head {
    fn encode(self) -> u32 {
        match self {
            Head::Single(rep) => rep,
            Head::Chain(node) => node | CHAIN_BIT,
        }
    }

    fn decode(value: u32) -> Head {
        if value & CHAIN_BIT != 0 {
            Head::Chain(value & !CHAIN_BIT)
        } else {
            Head::Single(value)
        }
    }
}

/// The shard of `key`: the top bits of a multiplicative hash (the maps hash the key again, with
/// their own hasher, for the bucket).
#[inline]
fn shard_of(key: u32) -> usize {
    ((key as u64 ^ 0x5bd1_e995).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - SHARD_BITS)) as usize
}

/// Bytes a key is counted for: hashbrown keeps an 8-byte (key, head) bucket and a control byte
/// per bucket, at most 7/8 and at least 7/16 full after growing (20.6 bytes a key at worst),
/// and only one shard at a time has its old and new table side by side. Counted per key, not
/// by capacity, so evicting a tenth of the keys frees a tenth of what is counted (buckets come
/// in powers of two; the memory is reused by the keys that follow).
pub const BYTES_PER_KEY: usize = 21;

pub struct SparseHeads {
    shards: Vec<FxHashMap<u32, u32>>,
    keys: usize,
}

impl Default for SparseHeads {
    fn default() -> Self {
        SparseHeads {
            shards: (0..SHARDS).map(|_| FxHashMap::default()).collect(),
            keys: 0,
        }
    }
}

impl SparseHeads {
    /// Keys held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.keys
    }

    /// Bytes the maps are counted for ([`BYTES_PER_KEY`] a key).
    pub fn bytes(&self) -> usize {
        self.keys * BYTES_PER_KEY
    }

    /// `key`'s head, if it has one.
    #[inline]
    pub fn get(&self, key: u32) -> Option<Head> {
        self.shards[shard_of(key)]
            .get(&key)
            .map(|&v| Head::decode(v))
    }

    /// Set `key`'s head to `update(its head now)`.
    pub fn update(&mut self, key: u32, update: impl FnOnce(Option<Head>) -> Head) {
        let map = &mut self.shards[shard_of(key)];
        match map.entry(key) {
            std::collections::hash_map::Entry::Occupied(mut e) => {
                let head = update(Some(Head::decode(*e.get())));
                e.insert(head.encode());
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(update(None).encode());
                self.keys += 1;
            }
        }
    }

    /// Replace every head by `map(head)`, dropping the keys it maps to `None`; a shard that
    /// lost keys gives back the memory it no longer needs (one shard at a time). Returns the
    /// keys dropped.
    pub fn retain_map(&mut self, map: impl Fn(Head) -> Option<Head>) -> usize {
        let before = self.keys;
        for shard in &mut self.shards {
            let len = shard.len();
            shard.retain(|_, value| match map(Head::decode(*value)) {
                Some(head) => {
                    *value = head.encode();
                    true
                }
                None => false,
            });
            if shard.len() < len {
                self.keys -= len - shard.len();
                shard.shrink_to_fit();
            }
        }
        before - self.keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    /// Against a BTreeMap model: updates through several growths, a retain_map that drops
    /// some keys and rewrites others, then more updates; every key's head, the key count and
    /// the load stay right.
    #[test]
    fn matches_a_model_through_growth_and_retain_map() {
        let mut table = SparseHeads::default();
        let mut model: BTreeMap<u32, Head> = BTreeMap::new();
        let mut next = xorshift(0x2545_f491_4f6c_dd1d);
        let mut step = |table: &mut SparseHeads, model: &mut BTreeMap<u32, Head>, i: u32| {
            // Keys near 0 and u32::MAX too, so runs collide and wrap.
            let key = match next() % 4 {
                0 => (next() % 500) as u32,
                1 => u32::MAX - (next() % 500) as u32,
                _ => next() as u32,
            };
            let want = |old: Option<Head>| match old {
                None => Head::Single(i),
                Some(_) => Head::Chain(i),
            };
            let expected = want(model.get(&key).copied());
            table.update(key, |old| {
                assert_eq!(old, model.get(&key).copied(), "key {key}");
                want(old)
            });
            model.insert(key, expected);
        };
        for i in 0..60_000 {
            step(&mut table, &mut model, i);
        }
        let map = |h: Head| match h {
            Head::Single(r) if r % 3 == 0 => None,
            Head::Chain(n) => Some(Head::Chain(n / 2)),
            other => Some(other),
        };
        let dropped = table.retain_map(map);
        let before = model.len();
        model = model
            .into_iter()
            .filter_map(|(k, h)| map(h).map(|h| (k, h)))
            .collect();
        assert_eq!(dropped, before - model.len());
        for i in 60_000..70_000 {
            step(&mut table, &mut model, i);
        }
        assert_eq!(table.len(), model.len());
        for (key, head) in &model {
            assert_eq!(table.get(*key), Some(*head), "key {key}");
        }
        let mut probe = xorshift(99);
        for _ in 0..10_000 {
            let key = probe() as u32;
            assert_eq!(table.get(key), model.get(&key).copied());
        }
    }

    #[test]
    fn retain_map_never_grows_a_shard_and_can_empty_the_table() {
        let mut table = SparseHeads::default();
        for rep in 0..10_000u32 {
            table.update(rep.wrapping_mul(2_654_435_761), |_| Head::Single(rep));
        }
        let before = table.bytes();
        table.retain_map(|h| match h {
            Head::Single(r) if r >= 9_000 => None,
            h => Some(h),
        });
        assert!(table.bytes() <= before);
        assert_eq!(table.len(), 9_000);
        table.retain_map(|_| None);
        assert_eq!(table.len(), 0);
        assert_eq!(table.bytes(), 0);
        assert_eq!(table.get(5u32.wrapping_mul(2_654_435_761)), None);
    }
}
