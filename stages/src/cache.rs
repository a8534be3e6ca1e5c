//! A bounded cache with byte accounting and a choice of eviction policy (least recently used,
//! least frequently used, first in first out). It knows nothing of what it holds: the caller says
//! how many bytes each value keeps on the heap, and the cache adds its own per-entry overhead, so
//! `bytes()` is what the entries cost and never exceeds `capacity()`.
//!
//! One owner, no locks: a worker thread keeps its own cache. Every operation is a function of the
//! sequence of calls alone (no clocks, no hashing order), so two runs making the same calls evict
//! the same entries.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

/// Which entry leaves when a new one does not fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Eviction {
    /// The entry used (looked up or inserted) longest ago.
    Lru,
    /// The entry with the fewest uses (insert + hits); ties: the one used longest ago.
    Lfu,
    /// The entry inserted first, whatever its use.
    Fifo,
}

impl Eviction {
    pub const ALL: [Eviction; 3] = [Eviction::Lru, Eviction::Lfu, Eviction::Fifo];

    pub fn name(self) -> &'static str {
        match self {
            Eviction::Lru => "lru",
            Eviction::Lfu => "lfu",
            Eviction::Fifo => "fifo",
        }
    }

    pub fn parse(text: &str) -> Option<Eviction> {
        let text = text.trim().to_ascii_lowercase();
        Eviction::ALL.into_iter().find(|e| e.name() == text)
    }
}

/// Bytes the cache's own bookkeeping costs per entry (hash-map slot, order-map node, key copies),
/// counted with the value's bytes so the capacity bounds real memory, not just payloads.
pub const ENTRY_OVERHEAD: usize = 96;

/// What a cache did; added up over caches for a total.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Byte capacity.
    pub capacity: u64,
    /// Entries and bytes held now (at the end of a run: what it ended with).
    pub entries: u64,
    pub bytes: u64,
    /// Most bytes held at once.
    pub peak_bytes: u64,
    pub lookups: u64,
    pub hits: u64,
    pub misses: u64,
    /// Entries removed to make room.
    pub evictions: u64,
    pub inserted: u64,
    /// Values larger than the whole capacity, not inserted.
    pub rejected: u64,
}

impl CacheStats {
    pub fn add(&mut self, o: &CacheStats) {
        self.capacity += o.capacity;
        self.entries += o.entries;
        self.bytes += o.bytes;
        self.peak_bytes += o.peak_bytes;
        self.lookups += o.lookups;
        self.hits += o.hits;
        self.misses += o.misses;
        self.evictions += o.evictions;
        self.inserted += o.inserted;
        self.rejected += o.rejected;
    }

    /// hits / lookups, `None` before the first lookup.
    pub fn hit_rate(&self) -> Option<f64> {
        (self.lookups > 0).then(|| self.hits as f64 / self.lookups as f64)
    }
}

struct Slot<V> {
    value: V,
    bytes: usize,
    /// Its key in `order` (lowest leaves first).
    rank: (u64, u64),
    uses: u64,
}

/// A byte-bounded map from `K` to `V`.
pub struct BoundedCache<K, V> {
    policy: Eviction,
    capacity: usize,
    bytes: usize,
    map: HashMap<K, Slot<V>>,
    order: BTreeMap<(u64, u64), K>,
    /// Logical clock: one tick per lookup or insert.
    tick: u64,
    stats: CacheStats,
}

impl<K: Hash + Eq + Copy, V> BoundedCache<K, V> {
    pub fn new(policy: Eviction, capacity: usize) -> Self {
        BoundedCache {
            policy,
            capacity,
            bytes: 0,
            map: HashMap::new(),
            order: BTreeMap::new(),
            tick: 0,
            stats: CacheStats {
                capacity: capacity as u64,
                ..CacheStats::default()
            },
        }
    }

    pub fn policy(&self) -> Eviction {
        self.policy
    }
    pub fn capacity(&self) -> usize {
        self.capacity
    }
    pub fn bytes(&self) -> usize {
        self.bytes
    }
    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    pub fn contains(&self, key: &K) -> bool {
        self.map.contains_key(key)
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            entries: self.map.len() as u64,
            bytes: self.bytes as u64,
            ..self.stats
        }
    }

    fn rank(&self, inserted: bool, uses: u64, old: (u64, u64)) -> (u64, u64) {
        match self.policy {
            Eviction::Lru => (self.tick, 0),
            Eviction::Lfu => (uses, self.tick),
            // FIFO: the insertion tick, kept through hits.
            Eviction::Fifo if inserted => (self.tick, 0),
            Eviction::Fifo => old,
        }
    }

    /// The value for `key`, counting a lookup and a hit or a miss.
    pub fn get(&mut self, key: &K) -> Option<&V> {
        self.tick += 1;
        self.stats.lookups += 1;
        let Some(slot) = self.map.get(key) else {
            self.stats.misses += 1;
            return None;
        };
        self.stats.hits += 1;
        let (old, uses) = (slot.rank, slot.uses + 1);
        let rank = self.rank(false, uses, old);
        if rank != old {
            self.order.remove(&old);
            self.order.insert(rank, *key);
        }
        let slot = self.map.get_mut(key).expect("just found");
        slot.rank = rank;
        slot.uses = uses;
        Some(&slot.value)
    }

    /// Stores `value`, which keeps `heap_bytes` on the heap, evicting by the policy until it
    /// fits. A value larger than the whole capacity is not stored (returns false). Replaces an
    /// entry with the same key.
    pub fn insert(&mut self, key: K, value: V, heap_bytes: usize) -> bool {
        let bytes = heap_bytes + ENTRY_OVERHEAD;
        if let Some(old) = self.map.remove(&key) {
            self.order.remove(&old.rank);
            self.bytes -= old.bytes;
        }
        if bytes > self.capacity {
            self.stats.rejected += 1;
            return false;
        }
        while self.bytes + bytes > self.capacity {
            let (_, victim) = self
                .order
                .pop_first()
                .expect("bytes held means entries held");
            let slot = self.map.remove(&victim).expect("order and map agree");
            self.bytes -= slot.bytes;
            self.stats.evictions += 1;
        }
        self.tick += 1;
        let rank = self.rank(true, 1, (0, 0));
        self.order.insert(rank, key);
        self.map.insert(
            key,
            Slot {
                value,
                bytes,
                rank,
                uses: 1,
            },
        );
        self.bytes += bytes;
        self.stats.inserted += 1;
        self.stats.peak_bytes = self.stats.peak_bytes.max(self.bytes as u64);
        true
    }

    /// The keys in eviction order (next victim first), for tests and diagnostics.
    pub fn eviction_order(&self) -> Vec<K> {
        self.order.values().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cache holding exactly `n` entries of `payload` heap bytes each.
    fn cache(policy: Eviction, n: usize, payload: usize) -> BoundedCache<u32, u32> {
        BoundedCache::new(policy, n * (payload + ENTRY_OVERHEAD))
    }

    /// Runs `ops` (positive: look up, and insert on a miss) and returns the keys evicted, in order.
    fn run(c: &mut BoundedCache<u32, u32>, ops: &[u32]) -> Vec<u32> {
        let mut evicted = Vec::new();
        for &k in ops {
            if c.get(&k).is_none() {
                let before: Vec<u32> = c.eviction_order();
                c.insert(k, k * 10, 0);
                evicted.extend(before.into_iter().filter(|b| !c.contains(b)));
            }
        }
        evicted
    }

    #[test]
    fn lru_evicts_the_least_recently_used() {
        let mut c = cache(Eviction::Lru, 3, 0);
        // 1 2 3 fill; 1 is used again, so 4 evicts 2; 5 evicts 3; 1 is still there.
        let evicted = run(&mut c, &[1, 2, 3, 1, 4, 5, 1]);
        assert_eq!(evicted, vec![2, 3]);
        assert_eq!(c.eviction_order(), vec![4, 5, 1]);
        let s = c.stats();
        assert_eq!((s.lookups, s.hits, s.misses), (7, 2, 5));
        assert_eq!((s.inserted, s.evictions, s.entries), (5, 2, 3));
    }

    #[test]
    fn lfu_evicts_the_least_frequently_used_ties_by_age() {
        let mut c = cache(Eviction::Lfu, 3, 0);
        // 1 used 3 times, 2 twice, 3 once: 4 evicts 3. Then 4 (1 use) and 2 (2 uses): 5 evicts 4.
        let evicted = run(&mut c, &[1, 1, 1, 2, 2, 3, 4, 5]);
        assert_eq!(evicted, vec![3, 4]);
        assert_eq!(c.eviction_order(), vec![5, 2, 1]);
        assert_eq!(c.stats().hits, 3);
        // Equal counts: the one used longest ago leaves. 1 and 2 have 2 uses each, 1 was used
        // last, so after 3 (1 use) goes, 2 is next.
        let mut c = cache(Eviction::Lfu, 3, 0);
        let evicted = run(&mut c, &[1, 2, 3, 2, 1, 4, 5, 6]);
        assert_eq!(evicted, vec![3, 4, 5]);
        assert_eq!(c.eviction_order(), vec![6, 2, 1]);
    }

    #[test]
    fn fifo_ignores_use() {
        let mut c = cache(Eviction::Fifo, 3, 0);
        // 1 used over and over still leaves first.
        let evicted = run(&mut c, &[1, 2, 3, 1, 1, 1, 4, 1, 5]);
        assert_eq!(evicted, vec![1, 2, 3]);
        assert_eq!(c.eviction_order(), vec![4, 1, 5]);
        let s = c.stats();
        assert_eq!((s.hits, s.misses, s.evictions), (3, 6, 3));
    }

    #[test]
    fn bytes_are_accounted_and_bounded() {
        let mut c: BoundedCache<u32, Vec<u8>> = BoundedCache::new(Eviction::Lru, 1000);
        assert!(c.insert(1, vec![0; 300], 300));
        assert_eq!(c.bytes(), 300 + ENTRY_OVERHEAD);
        assert!(c.insert(2, vec![0; 300], 300));
        // 3 needs 396 more: 1 goes.
        assert!(c.insert(3, vec![0; 300], 300));
        assert_eq!(c.eviction_order(), vec![2, 3]);
        assert_eq!(c.bytes(), 2 * (300 + ENTRY_OVERHEAD));
        // Larger than the whole cache: refused, nothing evicted.
        assert!(!c.insert(4, vec![0; 2000], 2000));
        assert_eq!(c.len(), 2);
        // Replacing a key releases its old bytes first.
        assert!(c.insert(2, vec![0; 10], 10));
        assert_eq!(c.bytes(), 300 + 10 + 2 * ENTRY_OVERHEAD);
        let s = c.stats();
        assert_eq!((s.inserted, s.evictions, s.rejected), (4, 1, 1));
        assert!(s.peak_bytes <= 1000 && s.bytes <= s.peak_bytes);
        let mut total = CacheStats::default();
        total.add(&s);
        total.add(&s);
        assert_eq!(total.inserted, 8);
        assert_eq!(total.hit_rate(), None);
    }

    #[test]
    fn zero_capacity_stores_nothing() {
        let mut c: BoundedCache<u32, u32> = BoundedCache::new(Eviction::Lfu, 0);
        assert!(!c.insert(1, 1, 0));
        assert!(c.get(&1).is_none());
        assert_eq!(c.stats().rejected, 1);
    }

    #[test]
    fn policy_names_round_trip() {
        for e in Eviction::ALL {
            assert_eq!(Eviction::parse(e.name()), Some(e));
        }
        assert_eq!(Eviction::parse(" LFU "), Some(Eviction::Lfu));
        assert_eq!(Eviction::parse("random"), None);
    }
}
