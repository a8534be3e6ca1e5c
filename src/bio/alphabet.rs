//! Residue alphabets: which one a stream is, and the compact residue codes k-mers are built from.
//! The code tables are built at compile time; lookups are one indexed load on the k-mer hot path.

use serde::{Deserialize, Serialize};

/// The two kinds of sequence talaria reduces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Alphabet {
    Protein,
    Nucleotide,
}

/// Code for a byte that is not a standard residue of the alphabet (breaks k-mers).
pub const UNKNOWN: u8 = 0xFF;

impl Alphabet {
    /// Number of distinct residue codes (20 for protein, 4 for nucleotide).
    pub fn size(self) -> usize {
        match self {
            Alphabet::Protein => 20,
            Alphabet::Nucleotide => 4,
        }
    }
    /// Bits needed per residue code when packing k-mers (5 for protein, 2 for nucleotide).
    pub fn bits(self) -> u32 {
        match self {
            Alphabet::Protein => 5,
            Alphabet::Nucleotide => 2,
        }
    }
    /// Byte -> residue code table: case-insensitive; protein ACDEFGHIKLMNPQRSTVWY -> 0..=19,
    /// nucleotide ACGT (and U as T) -> 0..=3; everything else -> UNKNOWN.
    pub fn codes(self) -> &'static [u8; 256] {
        match self {
            Alphabet::Protein => &PROTEIN_CODES,
            Alphabet::Nucleotide => &NUCLEOTIDE_CODES,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Alphabet::Protein => "protein",
            Alphabet::Nucleotide => "nucleotide",
        }
    }
}

/// Guess the alphabet from raw sequence bytes (no headers, no line ends): nucleotide when at
/// least 90% of the letters are A, C, G, T, U or N (any case), protein otherwise (and when there
/// are no letters at all).
pub fn detect(sequence_bytes: &[u8]) -> Alphabet {
    let (mut letters, mut nucleotide) = (0u64, 0u64);
    for &b in sequence_bytes {
        let class = LETTER_CLASS[b as usize];
        letters += u64::from(class != 0);
        nucleotide += u64::from(class == 2);
    }
    if letters > 0 && nucleotide * 10 >= letters * 9 {
        Alphabet::Nucleotide
    } else {
        Alphabet::Protein
    }
}

/// The 20 standard amino acids, in code order.
pub const PROTEIN_RESIDUES: &[u8; 20] = b"ACDEFGHIKLMNPQRSTVWY";
/// The 4 nucleotides, in code order (U shares T's code).
pub const NUCLEOTIDE_RESIDUES: &[u8; 4] = b"ACGT";

/// Maps each residue of `residues` (either case) to its position; everything else to UNKNOWN.
const fn code_table(residues: &[u8]) -> [u8; 256] {
    let mut t = [UNKNOWN; 256];
    let mut i = 0;
    while i < residues.len() {
        t[residues[i].to_ascii_uppercase() as usize] = i as u8;
        t[residues[i].to_ascii_lowercase() as usize] = i as u8;
        i += 1;
    }
    t
}

const fn nucleotide_table() -> [u8; 256] {
    let mut t = code_table(NUCLEOTIDE_RESIDUES);
    t[b'U' as usize] = t[b'T' as usize];
    t[b'u' as usize] = t[b'T' as usize];
    t
}

static PROTEIN_CODES: [u8; 256] = code_table(PROTEIN_RESIDUES);
static NUCLEOTIDE_CODES: [u8; 256] = nucleotide_table();

/// For `detect`: 0 = not an ASCII letter, 1 = other letter, 2 = A C G T U N (either case).
static LETTER_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        if (b as u8).is_ascii_alphabetic() {
            t[b] = 1;
        }
        b += 1;
    }
    let nt = b"ACGTUNacgtun";
    let mut i = 0;
    while i < nt.len() {
        t[nt[i] as usize] = 2;
        i += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protein_codes() {
        let t = Alphabet::Protein.codes();
        for (i, &r) in PROTEIN_RESIDUES.iter().enumerate() {
            assert_eq!(t[r as usize], i as u8);
            assert_eq!(t[r.to_ascii_lowercase() as usize], i as u8);
        }
        assert_eq!(t[b'A' as usize], 0);
        assert_eq!(t[b'Y' as usize], 19);
        for b in [
            b'X', b'B', b'Z', b'J', b'O', b'U', b'*', b'-', b' ', b'x', 0u8, 0xFF,
        ] {
            assert_eq!(t[b as usize], UNKNOWN, "{}", b as char);
        }
        assert_eq!(t.iter().filter(|&&c| c != UNKNOWN).count(), 40);
    }

    #[test]
    fn nucleotide_codes() {
        let t = Alphabet::Nucleotide.codes();
        for (s, code) in [("Aa", 0), ("Cc", 1), ("Gg", 2), ("TtUu", 3)] {
            for b in s.bytes() {
                assert_eq!(t[b as usize], code, "{}", b as char);
            }
        }
        for b in [b'N', b'n', b'R', b'Y', b'-', b'*', b'X'] {
            assert_eq!(t[b as usize], UNKNOWN);
        }
        assert_eq!(t.iter().filter(|&&c| c != UNKNOWN).count(), 10);
        for a in [Alphabet::Protein, Alphabet::Nucleotide] {
            assert!(t
                .iter()
                .all(|&c| c == UNKNOWN || (c as usize) < Alphabet::Nucleotide.size()));
            assert!(a
                .codes()
                .iter()
                .all(|&c| c == UNKNOWN || (c as usize) < a.size()));
            assert!(a.size() <= 1 << a.bits());
        }
    }

    #[test]
    fn detects() {
        assert_eq!(detect(b"ACGTACGTNNacgtu"), Alphabet::Nucleotide);
        assert_eq!(detect(b"MKVLAAGIVALLLAAGCSS"), Alphabet::Protein);
        assert_eq!(detect(b""), Alphabet::Protein);
        assert_eq!(detect(b"--**12"), Alphabet::Protein);
        // Exactly 90% ACGTUN letters (non-letters ignored) is nucleotide; below is protein.
        assert_eq!(detect(b"ACGTACGTAR-*"), Alphabet::Nucleotide);
        assert_eq!(detect(b"ACGTACGTRR"), Alphabet::Protein);
        // IUPAC-heavy DNA still reads as nucleotide when most letters are ACGTN.
        assert_eq!(detect(b"ACGTNNNNNNNNNNNNNNNNRY"), Alphabet::Nucleotide);
    }
}
