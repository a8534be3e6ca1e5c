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

/// A spaced seed: which positions of a window make up the k-mer the index keys (`1` kept, `0`
/// skipped); k is its weight (the number of 1s). A substitution at a skipped position leaves the
/// seed intact, so related sequences share more seeds than contiguous k-mers of the same
/// weight, while unrelated ones share no more (Ma, Tromp and Li, PatternHunter, 2002).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpacedSeed {
    /// Bit i set: window position i is part of the k-mer.
    care: u64,
    span: u8,
}

/// The seed `use_sketching = "auto"` gives protein 8-mers: weight 8 over a span of 11, skipping
/// every third position (like codons' wobble positions). On 20,000 UniProt proteins it left
/// fewer or equally many representatives at every threshold measured: 14,504 against 14,506
/// contiguous 8-mers at 0.9, 12,905 against 12,935 at 0.8, 7,898 against 7,921 at 0.5.
pub const PROTEIN_SEED: &str = "11011011011";

impl SpacedSeed {
    /// A pattern of `0` and `1`, starting and ending with `1`, at most 64 long.
    pub fn parse(pattern: &str) -> Option<SpacedSeed> {
        let bytes = pattern.as_bytes();
        let valid = (1..=64).contains(&bytes.len())
            && bytes.iter().all(|&b| b == b'0' || b == b'1')
            && bytes.first() == Some(&b'1')
            && bytes.last() == Some(&b'1');
        if !valid {
            return None;
        }
        let care = bytes
            .iter()
            .enumerate()
            .filter(|(_, &b)| b == b'1')
            .fold(0u64, |m, (i, _)| m | 1 << i);
        Some(SpacedSeed {
            care,
            span: bytes.len() as u8,
        })
    }
    /// Number of positions kept: the k of the k-mers it makes.
    pub fn weight(&self) -> usize {
        self.care.count_ones() as usize
    }
    pub fn span(&self) -> usize {
        self.span as usize
    }
    /// Whether it skips any position (a contiguous pattern is plain k-mers).
    pub fn is_spaced(&self) -> bool {
        self.weight() < self.span()
    }
    pub fn pattern(&self) -> String {
        (0..self.span())
            .map(|i| if self.care >> i & 1 == 1 { '1' } else { '0' })
            .collect()
    }
}

/// Packs k residue codes into a `u64` (5 bits per protein residue, 2 per nucleotide).
#[derive(Clone, Copy, Debug)]
pub struct KmerCoder {
    pub alphabet: Alphabet,
    pub k: usize,
    bits: u32,
    mask: u64,
    /// The index keys come from this spaced seed (weight k) instead of contiguous k-mers;
    /// [`Self::for_each`] (the seed diagonals) stays contiguous.
    seed: Option<SpacedSeed>,
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
            seed: None,
        }
    }

    /// A coder whose index keys are the k-mers of `seed` (k = its weight, which must fit 64
    /// bits as for [`Self::new`]).
    pub fn spaced(alphabet: Alphabet, seed: SpacedSeed) -> KmerCoder {
        KmerCoder {
            seed: seed.is_spaced().then_some(seed),
            ..KmerCoder::new(alphabet, seed.weight())
        }
    }

    /// The spaced seed of the index keys, if any.
    pub fn seed(&self) -> Option<SpacedSeed> {
        self.seed
    }

    /// Calls `f(kmer)` for every k-mer the index keys: [`Self::for_each`]'s, or with a spaced
    /// seed, the kept positions of every window of its span free of unknown residues.
    pub fn for_each_key(&self, seq: &[u8], f: impl FnMut(u64)) {
        let Some(seed) = self.seed else {
            let mut f = f;
            return self.for_each(seq, |_, kmer| f(kmer));
        };
        let span = seed.span();
        let kept: Vec<usize> = (0..span).filter(|&j| seed.care >> j & 1 == 1).collect();
        if span * self.bits as usize <= 64 {
            return self.spaced_in_register(seq, span, &kept, f);
        }
        self.spaced_in_memory(seq, span, &kept, f);
    }

    /// [`Self::for_each_key`] for any seed: the window's residues are read from memory.
    fn spaced_in_memory(&self, seq: &[u8], span: usize, kept: &[usize], mut f: impl FnMut(u64)) {
        let codes = self.alphabet.codes();
        // Residue codes, and for each position how many known residues end there in a row: a
        // window is valid when the run at its last position covers the whole span (any unknown
        // residue voids it, even at a skipped position, as for contiguous k-mers of that span).
        let mut window: Vec<u8> = Vec::with_capacity(seq.len());
        let mut run = 0usize;
        for (i, &byte) in seq.iter().enumerate() {
            let code = codes[byte as usize];
            window.push(code);
            run = if code == UNKNOWN { 0 } else { run + 1 };
            if run >= span {
                let start = i + 1 - span;
                let value = kept
                    .iter()
                    .fold(0u64, |v, &j| (v << self.bits) | window[start + j] as u64);
                f(value);
            }
        }
    }

    /// [`Self::for_each_key`] for a seed whose whole window fits 64 bits: the window rolls in
    /// one register and the kept residues are read out of it (the same values as reading them
    /// from memory, 1.4x faster on protein 8-of-11 seeds).
    fn spaced_in_register(&self, seq: &[u8], span: usize, kept: &[usize], mut f: impl FnMut(u64)) {
        let window_mask = if span * self.bits as usize == 64 {
            u64::MAX
        } else {
            (1u64 << (span * self.bits as usize)) - 1
        };
        // The kept positions as runs of consecutive ones (`11011011011`: four runs of two), each
        // read out of the register with one shift and mask and put in place with another: the
        // runs are independent, so the key costs a few operations in parallel rather than a
        // chain of one per kept residue. Window position j sits `(span - 1 - j) * bits` up (the
        // newest residue is the lowest digit); the key packs the kept residues oldest first.
        let bits = self.bits as usize;
        let mut runs: Vec<(u32, u64, u32)> = Vec::new(); // (shift in window, mask, shift in key)
        let mut i = 0;
        while i < kept.len() {
            let mut j = i;
            while j + 1 < kept.len() && kept[j + 1] == kept[j] + 1 {
                j += 1;
            }
            let (last, len) = (kept[j], j - i + 1);
            let from = ((span - 1 - last) * bits) as u32;
            let to = ((kept.len() - 1 - j) * bits) as u32;
            runs.push((from, (1u64 << (len * bits)) - 1, to));
            i = j + 1;
        }
        // A fixed number of runs, so the read-out unrolls (the protein default has four): each
        // arm hands `read` an array whose length the inlined loop sees.
        #[inline(always)]
        fn read(runs: &[(u32, u64, u32)], window: u64) -> u64 {
            runs.iter().fold(0, |v, &(from, mask, to)| {
                v | ((window >> from) & mask) << to
            })
        }
        match runs.len() {
            2 => {
                let r: [_; 2] = runs[..].try_into().unwrap();
                self.windows(seq, span, window_mask, |_, w| f(read(&r, w)))
            }
            3 => {
                let r: [_; 3] = runs[..].try_into().unwrap();
                self.windows(seq, span, window_mask, |_, w| f(read(&r, w)))
            }
            4 => {
                let r: [_; 4] = runs[..].try_into().unwrap();
                self.windows(seq, span, window_mask, |_, w| f(read(&r, w)))
            }
            _ => self.windows(seq, span, window_mask, |_, w| f(read(&runs, w))),
        }
    }

    /// Calls `f(end, window)` for every `width` consecutive residues free of unknown ones:
    /// `window` their codes packed, the newest lowest (kept to `mask`), `end` the position
    /// after the last. The rolling loop of both `for_each` and the spaced keys.
    #[inline(always)]
    fn windows(&self, seq: &[u8], width: usize, mask: u64, mut f: impl FnMut(usize, u64)) {
        let codes = self.alphabet.codes();
        let (mut window, mut valid) = (0u64, 0usize);
        for (i, &byte) in seq.iter().enumerate() {
            let code = codes[byte as usize];
            if code == UNKNOWN {
                valid = 0;
                window = 0;
                continue;
            }
            window = ((window << self.bits) | code as u64) & mask;
            valid += 1;
            if valid >= width {
                f(i + 1, window);
            }
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
        self.windows(seq, self.k, self.mask, |end, kmer| f(end - self.k, kmer));
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
    fn spaced_seeds_parse_and_key_the_kept_positions() {
        for bad in ["", "0110", "1100", "1201", &"1".repeat(65)] {
            assert_eq!(SpacedSeed::parse(bad), None, "{bad:?}");
        }
        let seed = SpacedSeed::parse("1101").unwrap();
        assert_eq!(
            (seed.weight(), seed.span(), seed.pattern()),
            (3, 4, "1101".into())
        );
        let coder = KmerCoder::spaced(Alphabet::Nucleotide, seed);
        assert_eq!(coder.k, 3);
        let mut keys = Vec::new();
        // Windows ACGT, CGTA, GTAN (void: N), TANC, ANCC (void), NCCG (void), then CCGT.
        coder.for_each_key(b"ACGTANCCGT", |k| keys.push(k));
        let packed = |s: &[u8]| {
            let mut v = None;
            KmerCoder::new(Alphabet::Nucleotide, 3).for_each(s, |_, k| v = Some(k));
            v.unwrap()
        };
        assert_eq!(keys, vec![packed(b"ACT"), packed(b"CGA"), packed(b"CCT")]);
        // A substitution at the skipped position keeps the key.
        let (mut a, mut b) = (Vec::new(), Vec::new());
        coder.for_each_key(b"ACGT", |k| a.push(k));
        coder.for_each_key(b"ACTT", |k| b.push(k));
        assert_eq!(a, b);
        // A contiguous pattern is plain k-mers.
        let plain = KmerCoder::spaced(Alphabet::Protein, SpacedSeed::parse("11111").unwrap());
        assert!(plain.seed().is_none());
        assert_eq!(SpacedSeed::parse(PROTEIN_SEED).unwrap().weight(), 8);
    }

    #[test]
    fn spaced_keys_from_the_register_equal_those_read_from_memory() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut random = |letters: &[u8], n: usize| -> Vec<u8> {
            (0..n)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    letters[(state % letters.len() as u64) as usize]
                })
                .collect()
        };
        let protein = random(b"ACDEFGHIKLMNPQRSTVWYX", 5000);
        let dna = random(b"ACGTACGTACGTACGTACGTACGTACGTACGTN", 5000);
        for (alphabet, seq, pattern) in [
            (Alphabet::Protein, &protein, PROTEIN_SEED),
            (Alphabet::Protein, &protein, "111010010100111"),
            (Alphabet::Nucleotide, &dna, "1101101101101101101101"),
            (Alphabet::Nucleotide, &dna, "11"),
            // Two, three and four runs of kept positions (the unrolled read-outs).
            (Alphabet::Protein, &protein, "1101"),
            (Alphabet::Nucleotide, &dna, "101101"),
            (Alphabet::Nucleotide, &dna, "1100111011"),
        ] {
            let seed = SpacedSeed::parse(pattern).unwrap();
            let coder = KmerCoder::spaced(alphabet, seed);
            let kept: Vec<usize> = (0..seed.span())
                .filter(|&j| seed.care >> j & 1 == 1)
                .collect();
            let (mut fast, mut slow) = (Vec::new(), Vec::new());
            coder.for_each_key(seq, |k| fast.push(k));
            coder.spaced_in_memory(seq, seed.span(), &kept, |k| slow.push(k));
            assert!(slow.len() > 1000, "{pattern}: {} keys", slow.len());
            assert_eq!(fast, slow, "{pattern}");
        }
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
