//! talaria-stages: the plumbing talaria runs on, with no biology in it.
//!
//! Named stage threads, channels whose capacity is a byte budget (backpressure is the memory
//! limit), ordered reassembly, input readers (mmap for regular files, buffered reads for pipes
//! and compressed input, compression sniffed from the first bytes), output sinks that write
//! under a temporary name and rename when complete, per-stage counters, and the export of live
//! figures (Prometheus text over HTTP, StatsD over UDP).
//! It must not know about records, sequences or formats: everything here is tested with bytes.
//!
//! A reader stage feeding a consumer through a byte-budget channel:
//!
//! ```
//! use std::io::Cursor;
//! use talaria_stages::{channel, reader, stage};
//!
//! let input = reader::Input::from_reader("example", Box::new(Cursor::new(b">a\nACGT\n".repeat(1000))), None).unwrap();
//! let (tx, rx) = channel::bounded::<reader::Block>("blocks", 1 << 20);
//! let reading = stage::spawn("reader", move || {
//!     reader::read_blocks(input, 4096, tx, &stage::StageCounters::default())
//! })
//! .unwrap();
//! let bytes: usize = rx.iter().map(|block| block.data.len()).sum();
//! let summary = reading.join().unwrap().unwrap();
//! assert_eq!((bytes, summary.bytes, summary.blocks), (8000, 8000, 2));
//! ```

pub mod alloc;
pub mod budget;
pub mod cache;
pub mod channel;
pub mod export;
pub mod memory;
pub mod metrics;
pub mod numa;
pub mod ordered;
pub mod reader;
pub mod sink;
pub mod stage;
pub mod stealing;
pub mod term;
pub mod topology;

/// Anything that travels through a byte-budget channel says how many bytes it holds.
pub trait Weighted {
    fn weight(&self) -> usize;
}

impl Weighted for Vec<u8> {
    fn weight(&self) -> usize {
        self.capacity()
    }
}

/// Test helper: wait until `condition` holds (another thread reached a state), failing the test
/// if it never does. Polls; never used to measure time.
#[cfg(test)]
pub(crate) fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !condition() {
        assert!(
            std::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}
