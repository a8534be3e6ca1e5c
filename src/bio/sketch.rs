//! FracMinHash k-mer sampling (`[alignment] use_sketching`, `sketch_size`): keep the k-mers whose
//! hash falls in the lowest 1/scale of the hash space. The rule depends on the k-mer alone, so a
//! k-mer kept in one sequence is kept in every sequence holding it: shared k-mers between two
//! sketches are (about) 1/scale of the shared k-mers between the sequences, which is what the
//! candidate filter needs. It only proposes candidates; every join is still aligned.

use super::alphabet::Alphabet;

/// What `use_sketching = "auto"` chooses: sample the k-mers for protein at every threshold, and
/// for nucleotide at 0.95 or more (where it was measured: 16S genes at 0.97). Dense k-mer
/// sharing is where the exhaustive index walk costs most — 16S genes share most 10-mers with
/// most other 16S genes — and, for protein, a sketch of long k-mers (`kmer::sketch_k`) also
/// finds better candidates than CD-HIT's short words: see the README's "Candidate search".
pub fn auto_on(alphabet: Alphabet, threshold: f64) -> bool {
    match alphabet {
        Alphabet::Protein => true,
        Alphabet::Nucleotide => threshold >= 0.95,
    }
}

/// The sample an explicit `use_sketching = true` takes when `sketch_size` is 0: 1 in 8.
pub const SKETCH_SCALE: u64 = 8;

/// `use_sketching = "auto"` and `sketch_size = 0`: 1 in 8 k-mers, or every k-mer (no sample:
/// the long-k-mer search alone) for protein below 0.7, where members keep
/// few long k-mers and any sample misses joins (20,000 UniProt proteins at 0.5, 8-mers, 128
/// candidates: 7,921 representatives with every k-mer, 8,008 with 1 in 2; CD-HIT 7,929).
pub fn default_scale(alphabet: Alphabet, threshold: f64) -> u64 {
    match alphabet {
        Alphabet::Protein if threshold < 0.7 => 1,
        _ => SKETCH_SCALE,
    }
}

/// `max_candidates = 0`: 32, or 128 for protein below 0.7, where a member's relatives share
/// few 8-mers with it and more unrelated representatives share one by chance (20,000 UniProt
/// proteins at 0.5, every 8-mer: 7,976 representatives with 32 candidates, 7,921 with 128).
pub fn default_candidates(alphabet: Alphabet, threshold: f64) -> usize {
    match alphabet {
        Alphabet::Protein if threshold < 0.7 => 128,
        _ => 32,
    }
}

/// The sampling rule of one run. `scale` 1 keeps every k-mer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sketch {
    scale: u64,
    /// Keep a k-mer when its hash is <= this.
    cutoff: u64,
}

impl Sketch {
    /// Every k-mer (sketching off).
    pub fn all() -> Sketch {
        Sketch::one_in(1)
    }

    /// Keep about 1 in `scale` k-mers (`scale` >= 1).
    pub fn one_in(scale: u64) -> Sketch {
        let scale = scale.max(1);
        Sketch {
            scale,
            cutoff: u64::MAX / scale,
        }
    }

    pub fn scale(&self) -> u64 {
        self.scale
    }

    #[inline]
    pub fn keeps(&self, key: u64) -> bool {
        self.scale == 1 || mix(key) <= self.cutoff
    }

    /// Drop the k-mers outside the sketch, keeping the order of the others: the definition
    /// the tests hold `index::keys_in_sketch` (which samples while extracting) to.
    #[cfg(test)]
    pub fn apply(&self, keys: &mut Vec<u64>) {
        if self.scale > 1 {
            keys.retain(|&k| self.keeps(k));
        }
    }
}

/// splitmix64's finaliser: k-mer codes are dense small integers, their hash must not be.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_about_one_in_scale_and_is_a_function_of_the_kmer() {
        let keys: Vec<u64> = (0..100_000).collect();
        for scale in [2u64, 8, 64] {
            let sketch = Sketch::one_in(scale);
            let mut kept = keys.clone();
            sketch.apply(&mut kept);
            let expected = keys.len() as f64 / scale as f64;
            let got = kept.len() as f64;
            assert!(
                (got - expected).abs() < expected * 0.1,
                "1/{scale}: kept {got}"
            );
            assert!(kept.windows(2).all(|w| w[0] < w[1]), "order kept");
            // The same k-mer is kept in any list that holds it.
            let mut other: Vec<u64> = keys.iter().rev().step_by(3).copied().collect();
            sketch.apply(&mut other);
            assert!(other.iter().all(|k| kept.binary_search(k).is_ok()));
        }
        let mut all = keys.clone();
        Sketch::all().apply(&mut all);
        assert_eq!(all, keys);
    }
}
