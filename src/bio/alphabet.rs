//! Residue alphabets: which one a stream is, and the compact residue codes k-mers are built from.
//! (HELPER C fills in: detect(), code tables.)

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
        todo!("helper C")
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
    let _ = sequence_bytes;
    todo!("helper C")
}
