//! Input readers. A regular uncompressed file at or above the mmap threshold is memory-mapped
//! (sequential advice, pages dropped behind the reader); pipes, stdin and compressed input use
//! buffered reads. Compression (gzip incl. multi-member/bgzip, zstd, bzip2, xz) is sniffed from
//! the first bytes, never by seeking or by the file name, so pipes work.

use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
    Bzip2,
    Xz,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// mmap for regular uncompressed files >= mmap_threshold, buffered reads otherwise.
    Auto,
    Read,
    Mmap,
}

#[derive(Clone, Debug)]
pub struct InputSpec {
    /// `None` = standard input.
    pub path: Option<PathBuf>,
    pub engine: Engine,
    pub mmap_threshold: u64,
}

/// What went wrong reading, where. Display: "<path>: <message> (at decompressed byte N)".
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}{}", offset.map(|o| format!(" (at decompressed byte {o})")).unwrap_or_default())]
pub struct ReadError {
    /// The file name, or "<stdin>".
    pub path: String,
    pub message: String,
    pub offset: Option<u64>,
    /// The underlying I/O error kind, when there is one.
    pub kind: Option<std::io::ErrorKind>,
}

/// A block of decompressed input bytes.
#[derive(Debug)]
pub struct Block {
    pub index: u64,
    /// Offset of `data[0]` in the decompressed input.
    pub offset: u64,
    pub data: Vec<u8>,
}

impl crate::Weighted for Block {
    fn weight(&self) -> usize {
        self.data.capacity()
    }
}

/// An open input stream (Send: moved into the reader thread). Also implements `std::io::Read`.
pub struct Input {}

impl Input {
    pub fn open(spec: &InputSpec) -> Result<Input, ReadError> {
        let _ = spec;
        todo!("helper A")
    }
    pub fn compression(&self) -> Compression {
        todo!("helper A")
    }
    /// "mmap" or "buffered".
    pub fn engine_name(&self) -> &'static str {
        todo!("helper A")
    }
    /// Size of the underlying file when it is a regular file (compressed size if compressed).
    pub fn size_hint(&self) -> Option<u64> {
        todo!("helper A")
    }
    /// Display name: the path, or "<stdin>".
    pub fn name(&self) -> &str {
        todo!("helper A")
    }
    /// Append up to `max` decompressed bytes to `buf`; returns how many (0 = end of input).
    pub fn read_block(&mut self, buf: &mut Vec<u8>, max: usize) -> Result<usize, ReadError> {
        let _ = (buf, max);
        todo!("helper A")
    }
}

/// Totals of a finished read.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadSummary {
    pub bytes: u64,
    pub blocks: u64,
}

/// Reader stage body: read blocks of `block_size` bytes and send them until EOF or until the
/// receiver is gone.
pub fn read_blocks(
    input: Input,
    block_size: usize,
    tx: crate::channel::Sender<Block>,
    counters: &crate::stage::StageCounters,
) -> Result<ReadSummary, ReadError> {
    let _ = (input, block_size, tx, counters);
    todo!("helper A")
}
