//! `talaria reduce`: the stage pipeline that turns a FASTA stream into representatives, deltas
//! and a cluster table.
//!
//! ```text
//! reader -> chunker -> prefetch xP -> aligner xN -> writer -> sinks (fasta, deltas, tsv, clstr)
//! ```
//! Decisions are made in parallel against snapshots of the representatives' index and completed
//! in input order by the writer, so outputs are identical for any thread count or chunk size.

pub mod banding;
pub mod cache_report;
pub mod clstr;
pub mod debug_threads;
pub mod decide;
pub mod emit;
pub mod export;
pub mod index;
pub mod io;
mod key_hash;
pub mod longest_first;
pub mod lookahead;
pub mod memtrace;
pub mod monitor;
pub mod numa;
pub mod pipeline;
pub mod placement;
pub mod priority;
pub mod profile;
mod profile_html;
mod profile_text;
pub mod rep_cache;
pub mod report;
pub mod residue_file;
mod sparse_heads;
pub mod summary;
pub mod writer;

pub use pipeline::{run, run_monitored, LiveViews, ReduceError, ReduceJob};
pub use summary::Summary;
