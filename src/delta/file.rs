//! The deltas file: magic + version header, then zstd-compressed frames of entries (one entry per
//! input record, input order), each frame checksummed, then a trailer frame with totals and the
//! checksums that tie it to its input and reduced FASTA. Frame boundaries depend only on the
//! entries, never on thread count or chunk size. (HELPER D fills in.)

use std::io::{Read, Write};

pub const MAGIC: &[u8; 8] = b"TLRDELTA";
pub const VERSION: u16 = 1;

/// What the file was made with (informational; shown by tools, checked for plausibility).
#[derive(Debug, Clone, PartialEq)]
pub struct FileHeader {
    pub alphabet: crate::bio::alphabet::Alphabet,
    pub threshold: f64,
    pub coverage: f64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// Bytes before the first record (blank lines); at most one, first.
    Preamble(Vec<u8>),
    /// The next record of the reduced FASTA, verbatim; `crc` is crc32 of its raw bytes.
    Representative { crc: u32 },
    /// A record rebuilt from representative number `rep` (0-based, order in the reduced FASTA).
    Member {
        rep: u64,
        header: Vec<u8>,
        /// `fasta::layout::Layout::encode` bytes.
        layout: Vec<u8>,
        /// `delta::ops` bytes.
        delta: Vec<u8>,
        /// Residue count of the rebuilt sequence (bounds the decoder).
        seq_len: u64,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trailer {
    pub records: u64,
    pub representatives: u64,
    pub members: u64,
    /// Decompressed input size and xxh3-64 of its bytes.
    pub input_bytes: u64,
    pub input_xxh3: u64,
    /// Reduced FASTA size and xxh3-64 of its bytes.
    pub reduced_bytes: u64,
    pub reduced_xxh3: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum DeltaFileError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("not a talaria deltas file (bad magic)")]
    BadMagic,
    #[error("deltas format version {0} is not supported (this talaria reads version {VERSION})")]
    Version(u16),
    #[error("corrupt deltas file at byte {offset}: {message}")]
    Corrupt { offset: u64, message: String },
    #[error("deltas file is truncated (no trailer)")]
    Truncated,
}

pub struct DeltaWriter<W: Write> {
    inner: W,
}

impl<W: Write> DeltaWriter<W> {
    pub fn new(inner: W, header: &FileHeader) -> std::io::Result<Self> {
        let _ = header;
        let _ = inner;
        todo!("helper D")
    }
    pub fn write_entry(&mut self, entry: &Entry) -> std::io::Result<()> {
        let _ = entry;
        todo!("helper D")
    }
    /// Flush the last frame, write the trailer, return the inner writer.
    pub fn finish(self, trailer: &Trailer) -> std::io::Result<W> {
        let _ = trailer;
        todo!("helper D")
    }
}

pub struct DeltaReader<R: Read> {
    inner: R,
}

impl<R: Read> DeltaReader<R> {
    pub fn new(inner: R) -> Result<(Self, FileHeader), DeltaFileError> {
        let _ = inner;
        todo!("helper D")
    }
    /// Next entry, or `None` after the trailer (then `trailer()` is available).
    pub fn next_entry(&mut self) -> Result<Option<Entry>, DeltaFileError> {
        todo!("helper D")
    }
    pub fn trailer(&self) -> Option<&Trailer> {
        todo!("helper D")
    }
}
