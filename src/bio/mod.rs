//! Sequence biology: alphabets, k-mers and pairwise alignment.

pub mod alignment;
pub mod alphabet;
pub mod kmer;
pub mod sketch;
