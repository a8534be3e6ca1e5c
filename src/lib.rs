//! talaria: shrink a sequence database to representatives plus lossless deltas.
//!
//! The science lives here (records and their layout, k-mers, alignment, the delta codec, the
//! reduction decisions, configuration); the plumbing it runs on (threads, byte-budget channels,
//! readers, writers) lives in the `talaria-stages` crate and knows no biology.

pub mod alloc;
pub mod bio;
pub mod config;
pub mod delta;
pub mod error;
pub mod fasta;
pub mod generate;
pub mod reconstruct;
pub mod reduce;
pub mod topology;
