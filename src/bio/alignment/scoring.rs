//! Substitution and gap scores for the aligner, built from raw bytes (case-insensitive) into one
//! 256×256 table so the kernel scores a column with a single indexed load and never needs the
//! alphabet's residue codes. Protein: BLOSUM62, gap open 11 extend 1. Nucleotide: +2/−3,
//! ambiguous bytes −1, gap open 5 extend 2.

use crate::bio::alphabet::Alphabet;

/// Row/column order of [`BLOSUM62`] (NCBI order).
const BLOSUM62_ORDER: &[u8; 24] = b"ARNDCQEGHILKMFPSTWYVBZX*";

/// The standard NCBI BLOSUM62 matrix, in [`BLOSUM62_ORDER`].
#[rustfmt::skip]
const BLOSUM62: [[i8; 24]; 24] = [
    //A   R   N   D   C   Q   E   G   H   I   L   K   M   F   P   S   T   W   Y   V   B   Z   X   *
    [ 4, -1, -2, -2,  0, -1, -1,  0, -2, -1, -1, -1, -1, -2, -1,  1,  0, -3, -2,  0, -2, -1,  0, -4], // A
    [-1,  5,  0, -2, -3,  1,  0, -2,  0, -3, -2,  2, -1, -3, -2, -1, -1, -3, -2, -3, -1,  0, -1, -4], // R
    [-2,  0,  6,  1, -3,  0,  0,  0,  1, -3, -3,  0, -2, -3, -2,  1,  0, -4, -2, -3,  3,  0, -1, -4], // N
    [-2, -2,  1,  6, -3,  0,  2, -1, -1, -3, -4, -1, -3, -3, -1,  0, -1, -4, -3, -3,  4,  1, -1, -4], // D
    [ 0, -3, -3, -3,  9, -3, -4, -3, -3, -1, -1, -3, -1, -2, -3, -1, -1, -2, -2, -1, -3, -3, -2, -4], // C
    [-1,  1,  0,  0, -3,  5,  2, -2,  0, -3, -2,  1,  0, -3, -1,  0, -1, -2, -1, -2,  0,  3, -1, -4], // Q
    [-1,  0,  0,  2, -4,  2,  5, -2,  0, -3, -3,  1, -2, -3, -1,  0, -1, -3, -2, -2,  1,  4, -1, -4], // E
    [ 0, -2,  0, -1, -3, -2, -2,  6, -2, -4, -4, -2, -3, -3, -2,  0, -2, -2, -3, -3, -1, -2, -1, -4], // G
    [-2,  0,  1, -1, -3,  0,  0, -2,  8, -3, -3, -1, -2, -1, -2, -1, -2, -2,  2, -3,  0,  0, -1, -4], // H
    [-1, -3, -3, -3, -1, -3, -3, -4, -3,  4,  2, -3,  1,  0, -3, -2, -1, -3, -1,  3, -3, -3, -1, -4], // I
    [-1, -2, -3, -4, -1, -2, -3, -4, -3,  2,  4, -2,  2,  0, -3, -2, -1, -2, -1,  1, -4, -3, -1, -4], // L
    [-1,  2,  0, -1, -3,  1,  1, -2, -1, -3, -2,  5, -1, -3, -1,  0, -1, -3, -2, -2,  0,  1, -1, -4], // K
    [-1, -1, -2, -3, -1,  0, -2, -3, -2,  1,  2, -1,  5,  0, -2, -1, -1, -1, -1,  1, -3, -1, -1, -4], // M
    [-2, -3, -3, -3, -2, -3, -3, -3, -1,  0,  0, -3,  0,  6, -4, -2, -2,  1,  3, -1, -3, -3, -1, -4], // F
    [-1, -2, -2, -1, -3, -1, -1, -2, -2, -3, -3, -1, -2, -4,  7, -1, -1, -4, -3, -2, -2, -1, -2, -4], // P
    [ 1, -1,  1,  0, -1,  0,  0,  0, -1, -2, -2,  0, -1, -2, -1,  4,  1, -3, -2, -2,  0,  0,  0, -4], // S
    [ 0, -1,  0, -1, -1, -1, -1, -2, -2, -1, -1, -1, -1, -2, -1,  1,  5, -2, -2,  0, -1, -1,  0, -4], // T
    [-3, -3, -4, -4, -2, -2, -3, -2, -2, -3, -2, -3, -1,  1, -4, -3, -2, 11,  2, -3, -4, -3, -2, -4], // W
    [-2, -2, -2, -3, -2, -1, -2, -3,  2, -1, -1, -2, -1,  3, -3, -2, -2,  2,  7, -1, -3, -2, -1, -4], // Y
    [ 0, -3, -3, -3, -1, -2, -2, -3, -3,  3,  1, -2,  1, -1, -2, -2,  0, -3, -1,  4, -3, -2, -1, -4], // V
    [-2, -1,  3,  4, -3,  0,  1, -1,  0, -3, -4,  0, -3, -3, -2,  0, -1, -4, -3, -3,  4,  1, -1, -4], // B
    [-1,  0,  0,  1, -3,  3,  4, -2,  0, -3, -3,  1, -1, -3, -1,  0, -1, -3, -2, -2,  1,  4, -1, -4], // Z
    [ 0, -1, -1, -1, -2, -1, -1, -1, -1, -1, -1, -1, -1, -1, -2,  0,  0, -2, -1, -1, -1, -1, -1, -4], // X
    [-4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4,  1], // *
];

/// Index of the X row in [`BLOSUM62_ORDER`]: where letters outside the matrix (U, O, J, digits…)
/// are scored.
const BLOSUM62_X: usize = 22;

/// Nucleotide scores: match, mismatch, and anything involving a byte other than A/C/G/T/U.
const NUCLEOTIDE_MATCH: i8 = 2;
const NUCLEOTIDE_MISMATCH: i8 = -3;
const NUCLEOTIDE_AMBIGUOUS: i8 = -1;

/// Most residue classes a scheme may have (BLOSUM62 has 24, nucleotides 5).
pub(super) const CLASS_STRIDE: usize = 32;

/// Scoring scheme: a byte-indexed substitution table plus affine gap costs. A gap of length `L`
/// costs `gap_open + L * gap_extend`.
#[derive(Clone)]
pub struct Scoring {
    table: Box<[[i8; 256]; 256]>,
    /// The same scores by residue class, for the SIMD kernel's vector gathers: bytes with equal
    /// rows share a query class, bytes with equal columns a target class, and
    /// `class_scores[query_class * CLASS_STRIDE + target_class]` is their score (widened to i32
    /// so one gather instruction fetches a lane's score).
    query_class: [u8; 256],
    target_class: [u8; 256],
    class_scores: Box<[i32; CLASS_STRIDE * CLASS_STRIDE]>,
    /// Charged once per gap (in addition to the per-residue extension).
    pub gap_open: i32,
    /// Charged for every gap position, the first included.
    pub gap_extend: i32,
}

impl std::fmt::Debug for Scoring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scoring")
            .field("gap_open", &self.gap_open)
            .field("gap_extend", &self.gap_extend)
            .finish_non_exhaustive()
    }
}

impl Scoring {
    /// The scheme talaria uses for `alphabet`.
    pub fn for_alphabet(alphabet: Alphabet) -> Self {
        match alphabet {
            Alphabet::Protein => Self::blosum62(),
            Alphabet::Nucleotide => Self::nucleotide(),
        }
    }

    /// BLOSUM62 with gap open 11, extend 1. Case-insensitive; bytes outside the matrix use the
    /// X row.
    pub fn blosum62() -> Self {
        let mut index = [BLOSUM62_X; 256];
        for (k, &letter) in BLOSUM62_ORDER.iter().enumerate() {
            index[letter as usize] = k;
            index[letter.to_ascii_lowercase() as usize] = k;
        }
        Self::from_fn(11, 1, |a, b| BLOSUM62[index[a as usize]][index[b as usize]])
    }

    /// +2 match, −3 mismatch among A/C/G/T (U scores as T), −1 when either byte is anything
    /// else (N included); gap open 5, extend 2. Case-insensitive.
    pub fn nucleotide() -> Self {
        fn base(byte: u8) -> Option<u8> {
            match byte.to_ascii_uppercase() {
                b'A' => Some(0),
                b'C' => Some(1),
                b'G' => Some(2),
                b'T' | b'U' => Some(3),
                _ => None,
            }
        }
        Self::from_fn(5, 2, |a, b| match (base(a), base(b)) {
            (Some(x), Some(y)) if x == y => NUCLEOTIDE_MATCH,
            (Some(_), Some(_)) => NUCLEOTIDE_MISMATCH,
            _ => NUCLEOTIDE_AMBIGUOUS,
        })
    }

    fn from_fn(gap_open: i32, gap_extend: i32, score: impl Fn(u8, u8) -> i8) -> Self {
        let mut table = Box::new([[0i8; 256]; 256]);
        for (a, row) in table.iter_mut().enumerate() {
            for (b, cell) in row.iter_mut().enumerate() {
                *cell = score(a as u8, b as u8);
            }
        }
        let query_class = classes(|a| table[a as usize]);
        let target_class = classes(|b| std::array::from_fn(|a| table[a][b as usize]));
        let mut class_scores = Box::new([0i32; CLASS_STRIDE * CLASS_STRIDE]);
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let k = query_class[a as usize] as usize * CLASS_STRIDE
                    + target_class[b as usize] as usize;
                class_scores[k] = table[a as usize][b as usize] as i32;
            }
        }
        Scoring {
            table,
            query_class,
            target_class,
            class_scores,
            gap_open,
            gap_extend,
        }
    }

    /// Class of `a` as a query residue (row of `class_scores`).
    #[inline]
    pub(super) fn query_class(&self, a: u8) -> u8 {
        self.query_class[a as usize]
    }

    /// Class of `b` as a target residue (column of `class_scores`).
    #[inline]
    pub(super) fn target_class(&self, b: u8) -> u8 {
        self.target_class[b as usize]
    }

    /// Scores by class: `[query_class * CLASS_STRIDE + target_class]`.
    #[inline]
    pub(super) fn class_scores(&self) -> &[i32; CLASS_STRIDE * CLASS_STRIDE] {
        &self.class_scores
    }

    /// Score of aligning byte `a` with byte `b`.
    #[inline]
    pub fn score(&self, a: u8, b: u8) -> i32 {
        self.table[a as usize][b as usize] as i32
    }

    /// Scores of `a` against every byte: the kernel's per-query-residue row.
    #[inline]
    pub fn row(&self, a: u8) -> &[i8; 256] {
        &self.table[a as usize]
    }

    /// Cost (positive) of a gap of `len` residues.
    pub fn gap_cost(&self, len: usize) -> i64 {
        if len == 0 {
            0
        } else {
            self.gap_open as i64 + self.gap_extend as i64 * len as i64
        }
    }

    /// Largest substitution score in the table (bounds the best possible score per column).
    pub fn max_score(&self) -> i32 {
        self.table.iter().flatten().copied().max().unwrap_or(0) as i32
    }

    /// Smallest substitution score in the table.
    pub fn min_score(&self) -> i32 {
        self.table.iter().flatten().copied().min().unwrap_or(0) as i32
    }
}

/// Number the distinct score vectors `scores(byte)` in order of first appearance.
fn classes(scores: impl Fn(u8) -> [i8; 256]) -> [u8; 256] {
    let mut seen: Vec<[i8; 256]> = Vec::new();
    let mut class = [0u8; 256];
    for byte in 0..=255u8 {
        let vector = scores(byte);
        let k = seen.iter().position(|v| *v == vector).unwrap_or_else(|| {
            seen.push(vector);
            seen.len() - 1
        });
        assert!(
            k < CLASS_STRIDE,
            "a scoring scheme with over {CLASS_STRIDE} classes"
        );
        class[byte as usize] = k as u8;
    }
    class
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blosum62_is_symmetric_and_has_known_values() {
        for (a, row) in BLOSUM62.iter().enumerate() {
            for (b, &score) in row.iter().enumerate() {
                assert_eq!(score, BLOSUM62[b][a], "{a} {b}");
            }
        }
        let s = Scoring::blosum62();
        assert_eq!(s.score(b'W', b'W'), 11);
        assert_eq!(s.score(b'C', b'C'), 9);
        assert_eq!(s.score(b'A', b'A'), 4);
        assert_eq!(s.score(b'L', b'I'), 2);
        assert_eq!(s.score(b'D', b'L'), -4);
        assert_eq!(s.score(b'*', b'*'), 1);
        // Case-insensitive; unknown letters use the X row.
        assert_eq!(s.score(b'w', b'W'), 11);
        assert_eq!(s.score(b'U', b'A'), 0);
        assert_eq!(s.score(b'U', b'P'), -2);
        assert_eq!(s.score(b'j', b'u'), -1);
        assert_eq!((s.gap_open, s.gap_extend), (11, 1));
        assert_eq!(s.gap_cost(3), 14);
        assert_eq!((s.max_score(), s.min_score()), (11, -4));
        assert_class_scores_equal_the_table(&s);
    }

    /// The class table the SIMD kernel gathers from scores every byte pair as the byte table.
    fn assert_class_scores_equal_the_table(s: &Scoring) {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let k = s.query_class(a) as usize * CLASS_STRIDE + s.target_class(b) as usize;
                assert_eq!(s.class_scores()[k], s.score(a, b), "{a} {b}");
            }
        }
    }

    #[test]
    fn nucleotide_scores() {
        let s = Scoring::nucleotide();
        assert_eq!(s.score(b'A', b'a'), 2);
        assert_eq!(s.score(b'T', b'U'), 2);
        assert_eq!(s.score(b'A', b'C'), -3);
        assert_eq!(s.score(b'N', b'N'), -1);
        assert_eq!(s.score(b'N', b'A'), -1);
        assert_eq!(s.score(b'R', b'G'), -1);
        assert_eq!((s.gap_open, s.gap_extend), (5, 2));
        assert_eq!(s.gap_cost(1), 7);
        assert_class_scores_equal_the_table(&s);
    }
}
