//! talaria-stages: the plumbing talaria runs on, with no biology in it.
//!
//! Named stage threads, channels whose capacity is a byte budget (backpressure is the memory
//! limit), ordered reassembly, input readers (mmap for regular files, buffered reads for pipes
//! and compressed input, compression sniffed from the first bytes), output sinks that write
//! under a temporary name and rename when complete, and per-stage counters.
//! (HELPER A fills in every module; the signatures in the stubs are the contract.)

pub mod budget;
pub mod channel;
pub mod memory;
pub mod ordered;
pub mod reader;
pub mod sink;
pub mod stage;

/// Anything that travels through a byte-budget channel says how many bytes it holds.
pub trait Weighted {
    fn weight(&self) -> usize;
}

impl Weighted for Vec<u8> {
    fn weight(&self) -> usize {
        self.capacity()
    }
}
