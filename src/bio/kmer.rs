//! k-mers of residue codes, packed into integers. A k-mer containing an unknown residue (X, N,
//! `*`, anything non-standard) is skipped, so ambiguity codes never seed a false candidate.

use super::alphabet::{Alphabet, UNKNOWN};

/// k chosen from the alphabet and the identity threshold when the user gives none.
/// Protein follows CD-HIT's word sizes (-n 5 for >= 0.7 ... -n 2 below 0.5); nucleotide follows
/// cd-hit-est's (10 at >= 0.95, 8 at >= 0.9, 7 at >= 0.88, 6 below) — at these lengths a
/// member at the threshold still shares many words with its representative.
pub fn default_k(alphabet: Alphabet, threshold: f64) -> usize {
    match alphabet {
        Alphabet::Protein if threshold >= 0.7 => 5,
        Alphabet::Protein if threshold >= 0.6 => 4,
        Alphabet::Protein if threshold >= 0.5 => 3,
        Alphabet::Protein => 2,
        Alphabet::Nucleotide if threshold >= 0.95 => 10,
        Alphabet::Nucleotide if threshold >= 0.9 => 8,
        Alphabet::Nucleotide if threshold >= 0.88 => 7,
        Alphabet::Nucleotide => 6,
    }
}

/// k when the k-mers are sampled (`use_sketching`) and the user gives none. Protein: 8 at every
/// threshold. With 20^8 possible 8-mers, unrelated proteins almost never share one, so the
/// candidates an index walk finds are nearly all relatives, and the first `max_candidates` in
/// input order are the right ones to align; with 5-mers at 0.8 or below the short-word bound
/// drops to 1 and the candidate list fills with old, unrelated representatives (20,000 UniProt
/// proteins at 0.8: 18,762 representatives with 5-mers, 12,926 with the 8-mer sketch, CD-HIT
/// 13,070). Nucleotide keeps cd-hit-est's word sizes: longer words lost joins on 16S genes.
pub fn sketch_k(alphabet: Alphabet, threshold: f64) -> usize {
    match alphabet {
        Alphabet::Protein => 8,
        Alphabet::Nucleotide => default_k(alphabet, threshold),
    }
}

/// Packs k residue codes into a `u64` (5 bits per protein residue, 2 per nucleotide).
#[derive(Clone, Copy, Debug)]
pub struct KmerCoder {
    pub alphabet: Alphabet,
    pub k: usize,
    bits: u32,
    mask: u64,
}

impl KmerCoder {
    /// `k * bits` must fit in 64 bits (protein k <= 12, nucleotide k <= 32).
    pub fn new(alphabet: Alphabet, k: usize) -> KmerCoder {
        let bits = alphabet.bits();
        let total = bits as usize * k;
        assert!(
            k >= 1 && total <= 64,
            "k-mer of {k} residues does not fit 64 bits"
        );
        let mask = if total == 64 {
            u64::MAX
        } else {
            (1u64 << total) - 1
        };
        KmerCoder {
            alphabet,
            k,
            bits,
            mask,
        }
    }

    /// Number of distinct k-mer values (`alphabet size ^ k`), saturating.
    pub fn space(&self) -> u64 {
        (self.alphabet.size() as u64).saturating_pow(self.k as u32)
    }

    /// Dense index of a packed k-mer in `0..space()` (mixed radix), for direct-addressed tables.
    pub fn dense(&self, kmer: u64) -> u64 {
        let size = self.alphabet.size() as u64;
        if size == 1 << self.bits {
            // Every code is used (nucleotides: 4 in 2 bits): the packed value is already dense.
            return kmer;
        }
        let digit_mask = (1u64 << self.bits) - 1;
        let mut dense = 0u64;
        for i in (0..self.k).rev() {
            dense = dense * size + ((kmer >> (i as u32 * self.bits)) & digit_mask);
        }
        dense
    }

    /// Calls `f(position, kmer)` for every k-mer free of unknown residues, left to right.
    pub fn for_each(&self, seq: &[u8], mut f: impl FnMut(usize, u64)) {
        let codes = self.alphabet.codes();
        let mut value = 0u64;
        let mut valid = 0usize;
        for (i, &byte) in seq.iter().enumerate() {
            let code = codes[byte as usize];
            if code == UNKNOWN {
                valid = 0;
                value = 0;
                continue;
            }
            value = ((value << self.bits) | code as u64) & self.mask;
            valid += 1;
            if valid >= self.k {
                f(i + 1 - self.k, value);
            }
        }
    }

    /// The distinct k-mers of `seq`, sorted ascending (written into `out`, which is cleared).
    pub fn distinct(&self, seq: &[u8], out: &mut Vec<u64>) {
        out.clear();
        self.for_each(seq, |_, kmer| out.push(kmer));
        out.sort_unstable();
        out.dedup();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nucleotide_kmers_skip_unknown_and_fold_case() {
        let coder = KmerCoder::new(Alphabet::Nucleotide, 3);
        let mut seen = Vec::new();
        coder.for_each(b"ACgTNACG", |pos, k| seen.push((pos, k)));
        // ACG (0b000110), CGT (0b011011), then N resets, ACG again at 5.
        assert_eq!(
            seen,
            vec![(0, 0b00_01_10), (1, 0b01_10_11), (5, 0b00_01_10)]
        );
        let mut distinct = Vec::new();
        coder.distinct(b"ACgTNACG", &mut distinct);
        assert_eq!(distinct, vec![0b00_01_10, 0b01_10_11]);
    }

    #[test]
    fn dense_index_is_a_bijection_on_small_space() {
        let coder = KmerCoder::new(Alphabet::Protein, 2);
        let mut seen = std::collections::HashSet::new();
        let residues = b"ACDEFGHIKLMNPQRSTVWY";
        for &a in residues {
            for &b in residues {
                let mut kmer = None;
                coder.for_each(&[a, b], |_, k| kmer = Some(k));
                let d = coder.dense(kmer.unwrap());
                assert!(d < coder.space());
                assert!(seen.insert(d));
            }
        }
        assert_eq!(seen.len(), 400);
    }

    #[test]
    fn default_k_follows_cd_hit_word_sizes() {
        assert_eq!(default_k(Alphabet::Protein, 0.9), 5);
        assert_eq!(default_k(Alphabet::Protein, 0.5), 3);
        assert_eq!(default_k(Alphabet::Protein, 0.45), 2);
        assert_eq!(default_k(Alphabet::Nucleotide, 0.97), 10);
    }
}
