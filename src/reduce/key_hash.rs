//! The hash the sparse heads' `hashbrown::HashTable`s file their keys under.
//!
//! One multiply, rotated so that the well-mixed top bits of the product pick the bucket
//! (hashbrown probes from `hash & (buckets - 1)`) and middle bits give the bucket's 7-bit tag
//! (the hash's top bits). The constant differs from the sparse heads' shard route, so the keys
//! of one shard still spread over its buckets.
//!
//! Why not std's `HashMap` with rustc-hash's hasher, which is nearly the same hash over the same
//! SwissTable: through `HashTable` the lookups took 35% fewer samples (`perf record`, 20k UniProt
//! at 0.5; `sparse_heads.rs`). The seed's k-mer positions (`Decider::seed`) moved to the same
//! table showed no difference beyond the noise (k-mer loops 9–10% of the samples at 0.9 either
//! way), so they stay on std's map.

#[inline]
pub fn key_hash(key: u64) -> u64 {
    (key ^ 0x2545_f491)
        .wrapping_mul(0x517c_c1b7_2722_0a95)
        .rotate_left(26)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Consecutive keys (k-mers of one sequence often differ in their low bits only) spread
    /// over the buckets and the tags: over 2^16 keys, each of 256 buckets and each of 128 tags
    /// gets within 25% of its share.
    #[test]
    fn consecutive_keys_spread_over_buckets_and_tags() {
        let (mut buckets, mut tags) = ([0u32; 256], [0u32; 128]);
        for key in 0..1u64 << 16 {
            let h = key_hash(key);
            buckets[(h & 255) as usize] += 1;
            tags[(h >> 57) as usize] += 1;
        }
        for (share, counts) in [(256u32, &buckets[..]), (512, &tags[..])] {
            for &n in counts {
                assert!(n.abs_diff(share) * 4 <= share, "{n} against {share}");
            }
        }
    }
}
