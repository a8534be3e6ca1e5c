//! `talaria-io-bench`: a diagnostic that runs only the reader and the chunker of `reduce` on an
//! input (the same engine choice, keys, budgets and threads: `reader`, plus `reader-raw` with
//! `parallel_io`) and prints the throughput, so the I/O engines can be measured without the
//! aligners. It writes nothing; `perf/io-bench` drives it. The reader uses the same block pool
//! (`allocation_pool_size`) and readahead (`prefetch_distance`) as `reduce`.
//!
//! ```text
//! talaria-io-bench [--io-engine auto|read|mmap|uring] [--config FILE] [--no-chunk] INPUT|-
//! engine=<summary reader text> bytes=<decompressed> records=<n> seconds=<s> mb_per_s=<MB/s>
//!   pool_allocated=<n> pool_reused=<n> advised_ranges=<n> advised_bytes=<n>
//! talaria-io-bench --drop-cache FILE   # posix_fadvise(DONTNEED): drop FILE from the page cache
//! ```
//! Configuration keys come from `--config`, `TALARIA_CONFIG` and `TALARIA_*` as for `reduce`.

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use talaria::config::{self, IoEngine, Overrides};
use talaria::error::{EXIT_DATA, EXIT_IO, EXIT_USAGE};
use talaria::fasta::chunker::Chunker;
use talaria::reduce::io;
use talaria_stages::channel;
use talaria_stages::reader::{self, Block};
use talaria_stages::stage::{self, StageCounters};

/// Read and chunk an input with one I/O engine; print MB/s (1 MB = 10^6 bytes).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Input FASTA (plain or compressed); `-` for stdin.
    input: String,
    /// Reader engine [performance.io_engine].
    #[arg(long, value_parser = ["auto", "read", "mmap", "uring"])]
    io_engine: Option<String>,
    /// TOML configuration file.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Only read: count bytes and drop the blocks, no chunking.
    #[arg(long)]
    no_chunk: bool,
    /// Read nothing: drop INPUT's pages from this kernel's page cache
    /// (posix_fadvise(POSIX_FADV_DONTNEED); no root needed) and print how many stay resident.
    #[arg(long)]
    drop_cache: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.drop_cache {
        return match reader::readahead::drop_from_cache(std::path::Path::new(&args.input)) {
            Ok((resident, len)) => {
                println!("dropped {}: {resident} of {len} bytes resident", args.input);
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("talaria-io-bench: error: {}: {e}", args.input);
                ExitCode::from(EXIT_IO)
            }
        };
    }
    let overrides = Overrides {
        io_engine: args.io_engine.as_deref().and_then(IoEngine::parse),
        ..Overrides::default()
    };
    let cfg = match config::load(args.config.as_ref(), &overrides) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("talaria-io-bench: error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let p = &cfg.performance;
    // The same share of the memory limit as in `reduce` (pipeline.rs, Budgets::split).
    let reader_budget = (p.memory_limit / 32) as usize;
    let path = (args.input != "-").then(|| PathBuf::from(&args.input));
    let started = Instant::now();
    let spec = io::input_spec(p, path, reader_budget);
    let input = match io::open(&spec) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("talaria-io-bench: error: {e}");
            return ExitCode::from(EXIT_IO);
        }
    };
    let engine = io::describe(&input, p.block_size);
    let pool = reader::BlockPool::new(io::pool_capacity(p, reader_budget));
    let readahead = input.readahead();
    let budget = io::block_channel_budget(
        &input,
        &spec,
        reader_budget,
        pool.stats().capacity as usize,
        p.block_size,
    );
    let (tx, rx) = channel::bounded::<Block>("blocks", budget);
    let block_size = p.block_size;
    let reader_pool = pool.clone();
    let reading = match stage::spawn("reader", move || {
        reader::read_blocks_pooled(
            input,
            block_size,
            &reader_pool,
            tx,
            &StageCounters::default(),
        )
    }) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("talaria-io-bench: error: {e}");
            return ExitCode::from(EXIT_IO);
        }
    };
    // Chunk targets as `reduce` sets them (pipeline.rs: `chunk_size` records, an eighth of the
    // chunk channel's 1/20 share of the limit in bytes, clamped to 64 KiB..8 MiB).
    let chunk_bytes = ((p.memory_limit / 20) as usize / 8).clamp(1 << 16, 8 << 20);
    let mut chunker = Chunker::new(p.chunk_size, chunk_bytes);
    let (mut records, mut bytes, mut ready) = (0u64, 0u64, Vec::new());
    let mut failed = None;
    while let Some(block) = rx.recv() {
        bytes += block.data.len() as u64;
        if args.no_chunk || failed.is_some() {
            continue;
        }
        match chunker.push(&block.data, &mut ready) {
            Ok(()) => records += ready.drain(..).map(|c| c.records.len() as u64).sum::<u64>(),
            Err(e) => failed = Some(e),
        }
    }
    if failed.is_none() && !args.no_chunk {
        match chunker.finish(&mut ready) {
            Ok(()) => records += ready.drain(..).map(|c| c.records.len() as u64).sum::<u64>(),
            Err(e) => failed = Some(e),
        }
    }
    let read = reading.join();
    let seconds = started.elapsed().as_secs_f64();
    match read {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            eprintln!("talaria-io-bench: error: {e}");
            return ExitCode::from(EXIT_IO);
        }
        Err(e) => {
            eprintln!("talaria-io-bench: error: {e}");
            return ExitCode::from(EXIT_IO);
        }
    }
    if let Some(e) = failed {
        eprintln!("talaria-io-bench: error: {}: {e}", args.input);
        return ExitCode::from(EXIT_DATA);
    }
    let (ranges, advised, _, _) = readahead.snapshot();
    let s = pool.stats();
    println!(
        "engine={engine} bytes={bytes} records={records} seconds={seconds:.3} mb_per_s={:.0} \
         pool_allocated={} pool_reused={} advised_ranges={ranges} advised_bytes={advised}",
        bytes as f64 / 1e6 / seconds.max(1e-9),
        s.allocated,
        s.reused
    );
    ExitCode::SUCCESS
}
