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
//! The shards are not equal: shard `j` takes a share of the keys proportional to 2^(j/64), so
//! their sizes spread evenly (in log scale) over one octave. A hashbrown map doubles its
//! buckets when 7/8 full, so it is 7/16 to 7/8 full; equal shards all double at the same
//! moment, and the whole table is then under half full (500k proteins at 0.9 stopped right
//! there: 16.3 million keys, 302 MB). Staggered, the shards are never all at the same point of
//! their cycle, and the table is about 63% full (9 / 0.63 = 14.3 bytes a key) whatever the
//! number of keys. Lookups are unchanged: the shard is one table read away.
//!
//! Tried first and not kept: an open-addressing table of (key, representative) pairs, 8-byte
//! slots, no chains (peak RSS at 500k 525 MiB against 686, but 20–24% slower on 20k UniProt at
//! 0.5: every lookup missed the cache on the slots, where hashbrown's control bytes mostly
//! answer "absent" from the cache; a bit filter in front of the slots did not recover it).
//!
//! The shards are `hashbrown::HashTable`s with [`key_hash`], not std's `HashMap` with
//! rustc-hash's hasher (the same SwissTable layout and nearly the same hash): the lookups took
//! 35% fewer samples (`perf record`, 20k UniProt at 0.5: 797 against 1,230, the caller's
//! share included), the run 4% less CPU at 0.5 and 6% at 0.9. Prefetching a lookup's control
//! group and first bucket 8 keys ahead (their addresses from `HashTable::get_bucket`) gave
//! nothing more on top: 1.64 s CPU either way.

use crate::reduce::key_hash::key_hash;
use hashbrown::hash_table::{Entry, HashTable};

/// Shards.
pub const SHARDS: usize = 64;
/// Top bits of a key's 32-bit shard hash that index [`Route::first`].
const ROUTE_BITS: u32 = 10;
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

/// Which shard holds a key: shard `j` owns the 32-bit shard hashes in
/// `[bound[j], bound[j + 1])`, `bound[j] = (2^(j/64) - 1) x 2^32`. A shard is at least
/// 0.0109 x 2^32 wide, more than a `2^(32 - ROUTE_BITS)` slice of the hash space, so a slice
/// overlaps at most two shards: `first[slice]` and the next one.
struct Route {
    bound: [u64; SHARDS + 1],
    first: [u8; 1 << ROUTE_BITS],
}

impl Route {
    fn new() -> Route {
        let mut bound = [0u64; SHARDS + 1];
        for (j, b) in bound.iter_mut().enumerate() {
            // Any rounding of the boundaries only moves keys between shards, never changes
            // what a lookup finds.
            *b = ((2f64.powf(j as f64 / SHARDS as f64) - 1.0) * 2f64.powi(32)).round() as u64;
        }
        bound[SHARDS] = 1 << 32;
        let mut first = [0u8; 1 << ROUTE_BITS];
        let mut j = 0;
        for (slice, f) in first.iter_mut().enumerate() {
            let start = (slice as u64) << (32 - ROUTE_BITS);
            while bound[j + 1] <= start {
                j += 1;
            }
            *f = j as u8;
        }
        Route { bound, first }
    }

    /// The shard of `key`: from a multiplicative hash of it ([`bucket_hash`] is another).
    #[inline]
    fn shard_of(&self, key: u32) -> usize {
        let h = (key as u64 ^ 0x5bd1_e995).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32;
        let j = self.first[(h >> (32 - ROUTE_BITS)) as usize] as usize;
        j + (h >= self.bound[j + 1]) as usize
    }
}

/// The hash a shard's table files `key` under.
#[inline]
fn bucket_hash(key: u32) -> u64 {
    key_hash(key as u64)
}

/// Bytes a key is counted for: hashbrown keeps an 8-byte (key, head) bucket and a control byte
/// per bucket; the staggered shards are about 63% full together (14.3 bytes a key; a shard
/// alone may be 7/16 full, 20.6), and only one shard at a time has its old and new table side
/// by side. Counted per key, not by capacity, so evicting a tenth of the keys frees a tenth of
/// what is counted (buckets come in powers of two; the memory is reused by the keys that
/// follow).
pub const BYTES_PER_KEY: usize = 15;

pub struct SparseHeads {
    shards: Vec<HashTable<(u32, u32)>>,
    /// Boxed: the enum of heads it sits in stays small.
    route: Box<Route>,
    keys: usize,
}

impl Default for SparseHeads {
    fn default() -> Self {
        SparseHeads {
            shards: (0..SHARDS).map(|_| HashTable::new()).collect(),
            route: Box::new(Route::new()),
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
        self.shards[self.route.shard_of(key)]
            .find(bucket_hash(key), |e| e.0 == key)
            .map(|&(_, v)| Head::decode(v))
    }

    /// Set `key`'s head to `update(its head now)`.
    pub fn update(&mut self, key: u32, update: impl FnOnce(Option<Head>) -> Head) {
        let entry = self.shards[self.route.shard_of(key)].entry(
            bucket_hash(key),
            |e| e.0 == key,
            |e| bucket_hash(e.0),
        );
        match entry {
            Entry::Occupied(mut e) => {
                let value = &mut e.get_mut().1;
                *value = update(Some(Head::decode(*value))).encode();
            }
            Entry::Vacant(e) => {
                e.insert((key, update(None).encode()));
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
            shard.retain(|(_, value)| match map(Head::decode(*value)) {
                Some(head) => {
                    *value = head.encode();
                    true
                }
                None => false,
            });
            if shard.len() < len {
                self.keys -= len - shard.len();
                shard.shrink_to_fit(|e| bucket_hash(e.0));
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

    /// Shard shares grow by 2^(1/64) from one shard to the next, every hash has a shard, and
    /// the route agrees with a search of the boundaries.
    #[test]
    fn shards_are_staggered_over_one_octave() {
        let route = Route::new();
        assert_eq!((route.bound[0], route.bound[SHARDS]), (0, 1 << 32));
        let widths: Vec<f64> = route
            .bound
            .windows(2)
            .map(|w| (w[1] - w[0]) as f64)
            .collect();
        for w in widths.windows(2) {
            let ratio = w[1] / w[0];
            assert!((ratio - 2f64.powf(1.0 / 64.0)).abs() < 1e-6, "{ratio}");
        }
        assert!(widths[0] > (1u64 << (32 - ROUTE_BITS)) as f64);
        let mut next = xorshift(3);
        let mut counts = [0usize; SHARDS];
        for _ in 0..200_000 {
            let key = next() as u32;
            let h = (key as u64 ^ 0x5bd1_e995).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32;
            let want = route.bound.partition_point(|&b| b <= h) - 1;
            assert_eq!(route.shard_of(key), want, "key {key}");
            counts[want] += 1;
        }
        // The last shard holds about twice the first's keys.
        let ratio = counts[SHARDS - 1] as f64 / counts[0] as f64;
        assert!((1.7..2.3).contains(&ratio), "{ratio}");
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
