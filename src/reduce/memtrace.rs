//! `talaria reduce --trace-memory`: the allocator's counts per stage, as a table for stderr and
//! an object of the `--json` document. What is counted is defined in `talaria_stages::alloc`:
//! per stage, what that stage's threads allocated and freed (a block freed by another stage
//! counts there); for the process, bytes live and their peak.

use serde::Serialize;
use std::fmt::Write;

/// One stage's allocator counts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StageMemory {
    /// `reader`, `chunker`, `prefetch`, `aligner`, `writer`, `writer-fasta`, ..., `main` (the
    /// thread that sets the run up and joins it), `other` (threads that are no stage).
    pub stage: String,
    pub allocs: u64,
    pub bytes_allocated: u64,
    pub frees: u64,
    pub bytes_freed: u64,
    /// Bytes allocated minus bytes freed by this stage's threads, at the end (negative when the
    /// stage freed more of other stages' blocks than it left live of its own).
    pub net_bytes: i64,
    /// The largest `net_bytes` during the run.
    pub peak_net_bytes: i64,
}

/// The allocator's counts for the whole run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MemoryTrace {
    /// The allocator counted (the one compiled in).
    pub allocator: String,
    pub stages: Vec<StageMemory>,
    /// Bytes allocated and not yet freed, over all threads, at the end.
    pub live_bytes: i64,
    /// The most bytes live at once during the run.
    pub peak_live_bytes: i64,
}

impl MemoryTrace {
    /// The counts so far, or `None` when tracing is off.
    pub fn take() -> Option<MemoryTrace> {
        let t = talaria_stages::alloc::snapshot()?;
        Some(MemoryTrace {
            allocator: crate::alloc::COMPILED.name().to_string(),
            stages: t
                .stages
                .into_iter()
                .map(|s| StageMemory {
                    stage: s.stage,
                    allocs: s.allocs,
                    bytes_allocated: s.bytes_allocated,
                    frees: s.frees,
                    bytes_freed: s.bytes_freed,
                    net_bytes: s.net_bytes,
                    peak_net_bytes: s.peak_net_bytes,
                })
                .collect(),
            live_bytes: t.live_bytes,
            peak_live_bytes: t.peak_live_bytes,
        })
    }

    /// The table printed on stderr.
    pub fn table(&self) -> String {
        let mib = |b: i64| b as f64 / (1024.0 * 1024.0);
        let mut o = String::new();
        let _ = writeln!(
            o,
            "talaria memory trace ({} allocator): process peak live {:.1} MiB, live at end {:.1} MiB",
            self.allocator,
            mib(self.peak_live_bytes),
            mib(self.live_bytes)
        );
        let _ = writeln!(
            o,
            "  {:<14} {:>10} {:>12} {:>10} {:>12} {:>12} {:>12}",
            "stage", "allocs", "alloc MiB", "frees", "freed MiB", "net MiB", "peak net MiB"
        );
        for s in &self.stages {
            let _ = writeln!(
                o,
                "  {:<14} {:>10} {:>12.1} {:>10} {:>12.1} {:>12.1} {:>12.1}",
                s.stage,
                s.allocs,
                mib(s.bytes_allocated as i64),
                s.frees,
                mib(s.bytes_freed as i64),
                mib(s.net_bytes),
                mib(s.peak_net_bytes)
            );
        }
        let _ = writeln!(
            o,
            "  (per stage: what its threads allocated and freed; a block freed by another stage counts there)"
        );
        o
    }
}
