//! FASTA records as they appear on disk: scanning byte blocks into records, cutting record-aligned
//! chunks, and each record's line layout so that `reconstruct` can restore it byte for byte.

pub mod chunker;
pub mod layout;
pub mod record;
