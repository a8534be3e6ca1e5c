//! talaria's command line: parse flags into a job, run it, print one line per error.
//!
//! ```text
//! reduce:      input -> reader -> chunker -> prefetch -> aligners -> writer -> FASTA, deltas, TSV
//! reconstruct: reduced FASTA + deltas -> original FASTA, byte for byte
//! ```

mod cli;

use clap::Parser;
use cli::{Cli, Command, ConfigAction};
use std::process::ExitCode;
use talaria::error::{EXIT_DATA, EXIT_IO, EXIT_OK, EXIT_USAGE};
use talaria::reconstruct::{self, ReconstructError};
use talaria::reduce::{self, ReduceError};

/// The allocator compiled in (`talaria::alloc`), counting only under `--trace-memory`.
#[global_allocator]
static GLOBAL: talaria_stages::alloc::Counting<talaria::alloc::Inner> =
    talaria_stages::alloc::Counting(talaria::alloc::INNER);

/// jemalloc's options, read when it starts (the `_RJEM_MALLOC_CONF` environment variable still
/// overrides them).
/// - `dirty_decay_ms:100,muzzy_decay_ms:0`: freed pages go back to the kernel after 100 ms
///   instead of jemalloc's 10 s: a run shorter than that never returned any, and chunks,
///   features and alignment buffers are freed all the time. On 20k UniProt at 0.9 the peak fell
///   from 93 to 65 MiB (0.5: 153 to 115 MiB; 500k proteins: 594 to 557 MiB), and the wall time
///   did not move (hyperfine, 8 runs each: 625 ms and 623 ms). Purging at once
///   (`dirty_decay_ms:0`: 44 MiB at 0.9) cost about 5% of the time in madvise calls.
/// - `narenas:1`: one arena for every thread instead of jemalloc's four per CPU. A chunk is
///   allocated by the chunker and freed by the writer, features by the prefetcher and freed by
///   an aligner: with an arena per thread each arena kept its own dirty pages and half-empty
///   slabs. Medians of 6 alternated runs on 20k UniProt, 2 cores: peak RSS 70.2 -> 57.4 MiB at
///   0.9 and 94.5 -> 84.1 MiB at 0.5, wall 0.58 -> 0.50 s and 2.20 -> 2.05 s; 500k proteins
///   651 -> 598 MiB. The threads' caches (tcache) stay on, so most allocations never touch the
///   arena's lock; contention on a many-core machine is not measured (no such machine here).
#[cfg(feature = "jemalloc")]
#[export_name = "_rjem_malloc_conf"]
pub static JEMALLOC_CONF: &[u8; 46] = b"narenas:1,dirty_decay_ms:100,muzzy_decay_ms:0\0";

fn main() -> ExitCode {
    // Count from the start, so that blocks made while parsing are not freed uncounted later;
    // switched off again below unless `reduce --trace-memory` is what was parsed.
    if std::env::args_os().any(|a| a == "--trace-memory") {
        talaria_stages::alloc::enable();
    }
    talaria_stages::alloc::set_thread_stage("main");
    let cli = Cli::parse();
    if !matches!(&cli.command, Command::Reduce(args) if args.report.trace_memory) {
        talaria_stages::alloc::disable();
    }
    let (code, message) = match run(cli) {
        Ok(()) => (EXIT_OK, None),
        Err(failure) => failure,
    };
    if let Some(message) = message {
        eprintln!("talaria: error: {message}");
    }
    ExitCode::from(code)
}

/// An exit code and, unless the failure is a closed output pipe, one line to print.
type Failure = (u8, Option<String>);

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Reduce(args) => {
            let (quiet, report) = (args.quiet, args.report.clone());
            let job = args
                .into_job()
                .map_err(|e| (EXIT_USAGE, Some(e.to_string())))?;
            let summary =
                reduce::run_monitored(&job, report.live_views()).map_err(reduce_failure)?;
            report
                .emit(&summary, quiet)
                .map_err(|e| (EXIT_IO, Some(e)))?;
            Ok(())
        }
        Command::Reconstruct(args) => {
            let quiet = args.quiet;
            let started = std::time::Instant::now();
            let summary = reconstruct::run(&args.into_job()).map_err(reconstruct_failure)?;
            if !quiet {
                eprintln!(
                    "talaria reconstruct: {} records ({} representatives + {} members), {:.2} MiB in {:.2} s{}",
                    summary.records,
                    summary.representatives,
                    summary.members,
                    summary.bytes as f64 / (1024.0 * 1024.0),
                    started.elapsed().as_secs_f64(),
                    if summary.verified { "; checksum matches the original input" } else { "" }
                );
            }
            Ok(())
        }
        Command::Topology(args) => {
            let config = args
                .config()
                .map_err(|e| (EXIT_USAGE, Some(e.to_string())))?;
            let topology = talaria_stages::topology::discover();
            print!(
                "{}",
                talaria::topology::report(&topology, &config, args.json)
            );
            Ok(())
        }
        Command::Config {
            action: ConfigAction::Show(tuning),
        } => {
            let overrides = tuning
                .overrides()
                .map_err(|e| (EXIT_USAGE, Some(e.to_string())))?;
            let text = talaria::config::show(tuning.config_file().as_ref(), &overrides)
                .map_err(|e| (EXIT_USAGE, Some(e.to_string())))?;
            print!("{text}");
            Ok(())
        }
    }
}

/// A closed stdout (`talaria ... -o - | head`) ends quietly with success.
fn broken_pipe(kind: Option<std::io::ErrorKind>) -> bool {
    kind == Some(std::io::ErrorKind::BrokenPipe)
}

/// Errors about the data (corrupt compression, truncation) vs. errors reaching it.
fn read_failure_code(kind: Option<std::io::ErrorKind>) -> u8 {
    use std::io::ErrorKind::*;
    match kind {
        Some(NotFound | PermissionDenied | IsADirectory | Interrupted | OutOfMemory | Other) => {
            EXIT_IO
        }
        // An engine that cannot read this kind of input (`--io-engine mmap` on stdin).
        Some(Unsupported) => EXIT_USAGE,
        _ => EXIT_DATA,
    }
}

fn reduce_failure(e: ReduceError) -> Failure {
    let message = Some(e.to_string());
    match &e {
        ReduceError::Sink(s) if broken_pipe(s.kind) => (EXIT_OK, None),
        ReduceError::Read(r) => (read_failure_code(r.kind), message),
        ReduceError::Fasta { .. } => (EXIT_DATA, message),
        ReduceError::Usage(_) => (EXIT_USAGE, message),
        ReduceError::Sink(_)
        | ReduceError::Stage(_)
        | ReduceError::Spawn(_)
        | ReduceError::Export(_) => (EXIT_IO, message),
    }
}

fn reconstruct_failure(e: ReconstructError) -> Failure {
    let message = Some(e.to_string());
    match &e {
        ReconstructError::Sink(s) if broken_pipe(s.kind) => (EXIT_OK, None),
        ReconstructError::Read(r) => (read_failure_code(r.kind), message),
        ReconstructError::Fasta { .. }
        | ReconstructError::Deltas { .. }
        | ReconstructError::Mismatch(_) => (EXIT_DATA, message),
        ReconstructError::Sink(_) | ReconstructError::Stage(_) | ReconstructError::Spawn(_) => {
            (EXIT_IO, message)
        }
    }
}
