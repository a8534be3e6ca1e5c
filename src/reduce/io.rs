//! From the `[performance]` I/O keys to an open input: which engine reads it, how much of the
//! reader's share of the memory limit its buffers take, the one-line warning when io_uring is
//! unavailable, and the summary's `reader:` text. Used by `reduce` and by the reader benchmark
//! (`talaria-io-bench`); it must not read or parse anything itself.
//!
//! The reader's share of the memory limit (1/32, "blocks" in the pipeline's budgets) is split:
//! io_uring's fixed buffers take at most half of it (the queue depth is lowered to fit, and the
//! summary shows the depth used); with `parallel_io` the raw-byte channel to the decompressor
//! takes a quarter; the pool of idle block buffers (`allocation_pool_size`) at most a quarter;
//! the block channel to the chunker gets the rest (always room for one block; at most 4 MiB
//! when one thread reads sequentially, see `SEQUENTIAL_AHEAD`). Readahead
//! (`prefetch_distance`) fills the kernel's page cache, not talaria's buffers, so it takes
//! nothing from the budget.

use crate::config::{IoEngine, PerformanceConfig};
use std::path::PathBuf;
use talaria_stages::reader::{Engine, Input, InputSpec, ReadError, Used};

/// What the reader may use of `reader_budget` bytes, given the keys.
pub fn input_spec(p: &PerformanceConfig, path: Option<PathBuf>, reader_budget: usize) -> InputSpec {
    let engine = match p.io_engine {
        IoEngine::Auto => Engine::Auto,
        IoEngine::Read => Engine::Read,
        IoEngine::Mmap => Engine::Mmap,
        IoEngine::Uring => Engine::Uring,
    };
    let ring_budget = reader_budget / 2;
    InputSpec {
        path,
        engine,
        mmap_threshold: if p.use_memory_mapping {
            p.mmap_threshold_mb.saturating_mul(1 << 20)
        } else {
            u64::MAX
        },
        async_io: p.use_async_io,
        uring_depth: (ring_budget / p.io_buffer_size).clamp(1, p.async_queue_size),
        uring_buffer: p.io_buffer_size,
        inflate_thread_budget: if two_io_threads(p) {
            reader_budget / 4
        } else {
            0
        },
        readahead: (p.prefetch_distance as u64).saturating_mul(p.block_size as u64),
    }
}

/// `io_threads = 2`, or `0` with `parallel_io`: compressed input is read on `reader-raw` and
/// decompressed on `reader` (`Config::validate` refuses other combinations).
fn two_io_threads(p: &PerformanceConfig) -> bool {
    p.io_threads == 2 || (p.io_threads == 0 && p.parallel_io)
}

/// Idle bytes the reader's block pool may keep: `allocation_pool_size`, at most a quarter of
/// the reader's share of the memory limit (the summary and `--profile-io` show what it got).
pub fn pool_capacity(p: &PerformanceConfig, reader_budget: usize) -> usize {
    p.memory.allocation_pool_size.min(reader_budget / 4)
}

/// Open the input as the keys say; says once on stderr when io_uring had to give way to `read`.
pub fn open(spec: &InputSpec) -> Result<Input, ReadError> {
    let input = Input::open(spec)?;
    if let Some(why) = input.fallback() {
        eprintln!(
            "talaria: warning: io_uring is unavailable ({why}); reading {} with read(2) instead",
            input.name()
        );
    }
    Ok(input)
}

/// Bytes of blocks the reader may run ahead of the chunker when one thread reads sequentially
/// (`read`, `mmap`): four of the default 1 MiB blocks, enough that neither waits for the other.
/// With the whole share (12 MiB by default) the reader ran up to 8 MiB ahead; capped, the peak
/// of a 20k UniProt run at 0.9 is about 1.5 MiB lower (49.9 / 49.3 / 50.3 against 48.8 / 48.3 /
/// 48.0 MiB) in the same time. A byte cap, not a block count, so small `block_size`s keep
/// their depth; io_uring keeps the share, which its reads in flight need.
const SEQUENTIAL_AHEAD: usize = 4 << 20;

/// Bytes left for the reader -> chunker block channel once the engine's own buffers and the
/// raw-byte channel are paid for (never less than one block; at most [`SEQUENTIAL_AHEAD`]
/// bytes unless io_uring reads).
pub fn block_channel_budget(
    input: &Input,
    spec: &InputSpec,
    reader_budget: usize,
    pool: usize,
    block: usize,
) -> usize {
    let raw = if input.inflate_thread() {
        spec.inflate_thread_budget
    } else {
        0
    };
    let left = reader_budget.saturating_sub(input.buffer_bytes() + raw + pool);
    let left = match input.engine() {
        Used::Uring { .. } => left,
        Used::Read | Used::Mmap => left.min(SEQUENTIAL_AHEAD),
    };
    left.max(block)
}

/// The summary's reader text: `io_uring, depth 100, 64 KiB buffers`, `mmap`,
/// `read, 1 MiB blocks`, plus the fallback and the decompression thread when they apply.
pub fn describe(input: &Input, block_size: usize) -> String {
    let mut text = match input.engine() {
        Used::Read => format!("read, {} blocks", size(block_size)),
        Used::Mmap => "mmap".to_string(),
        Used::Uring {
            depth,
            buffer_size,
            stream,
        } => format!(
            "io_uring, depth {depth}{}, {} buffers",
            if stream {
                " (pipe: one read in flight)"
            } else {
                ""
            },
            size(buffer_size)
        ),
    };
    if let Some(why) = input.fallback() {
        text.push_str(&format!(" (fallback: io_uring unavailable, {why})"));
    }
    if input.inflate_thread() {
        text.push_str(&format!(
            "; {} decompressed on its own thread",
            input.compression().name()
        ));
    }
    text
}

/// `64 KiB`, `1 MiB`, `4099 B`: exact binary units, as the keys are written.
fn size(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} B"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn keys_become_the_spec() {
        let mut p = Config::default().performance;
        let spec = input_spec(&p, None, 64 << 20);
        assert_eq!(spec.engine, Engine::Auto);
        assert_eq!(spec.mmap_threshold, 64 << 20);
        assert!(!spec.async_io);
        assert_eq!((spec.uring_depth, spec.uring_buffer), (100, 64 << 10));
        assert_eq!(spec.inflate_thread_budget, 0);
        p.use_memory_mapping = false;
        p.parallel_io = true;
        p.io_engine = IoEngine::Uring;
        let spec = input_spec(&p, None, 64 << 20);
        assert_eq!(spec.mmap_threshold, u64::MAX);
        assert_eq!(spec.inflate_thread_budget, 16 << 20);
        assert_eq!(spec.engine, Engine::Uring);
        // The ring takes at most half of the reader's budget: the depth is lowered to fit.
        assert_eq!(input_spec(&p, None, 1 << 20).uring_depth, 8);
        assert_eq!(input_spec(&p, None, 1 << 10).uring_depth, 1);
        // io_threads = 2 is parallel_io; the distance is in blocks.
        p.parallel_io = false;
        p.io_threads = 2;
        p.prefetch_distance = 3;
        let spec = input_spec(&p, None, 64 << 20);
        assert_eq!(spec.inflate_thread_budget, 16 << 20);
        assert_eq!(spec.readahead, 3 << 20);
        p.io_threads = 1;
        assert_eq!(input_spec(&p, None, 64 << 20).inflate_thread_budget, 0);
        // The pool is capped at a quarter of the reader's share.
        assert_eq!(pool_capacity(&p, 64 << 20), 4 << 20);
        assert_eq!(pool_capacity(&p, 4 << 20), 1 << 20);
        p.memory.allocation_pool_size = 0;
        assert_eq!(pool_capacity(&p, 64 << 20), 0);
    }

    #[test]
    fn sizes_are_exact() {
        assert_eq!(size(64 << 10), "64 KiB");
        assert_eq!(size(1 << 20), "1 MiB");
        assert_eq!(size(1536 << 10), "1536 KiB");
        assert_eq!(size(4099), "4099 B");
    }
}
