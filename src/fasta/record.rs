//! One FASTA record as it sits in a chunk: where its bytes are, its header, its residues and its
//! layout. Records borrow nothing: their ranges index the owning chunk's `data`, so a chunk moves
//! between threads as one value.

use super::layout::Layout;
use std::ops::Range;

/// A parsed record. Ranges index into the owning `Chunk::data`.
#[derive(Debug, Clone)]
pub struct Record {
    /// 0-based position of the record in the input.
    pub ordinal: u64,
    /// Byte offset of the record's `>` in the decompressed input.
    pub offset: u64,
    /// The record's raw bytes: from its `>` up to (not including) the next record's `>`, or EOF.
    pub raw: Range<usize>,
    /// The header text: after `>`, up to (not including) the line end (`\n` or `\r\n`).
    pub header: Range<usize>,
    /// Residues: the bytes of all sequence lines concatenated, line ends removed, case kept.
    pub seq: Vec<u8>,
    /// How the residues were laid out in lines, enough to re-render `raw` exactly.
    pub layout: Layout,
}

/// A record-aligned piece of the input.
#[derive(Debug, Default)]
pub struct Chunk {
    /// 0-based chunk number, in input order.
    pub index: u64,
    /// Raw bytes of whole records (all records' `raw` ranges, contiguous).
    pub data: Vec<u8>,
    pub records: Vec<Record>,
    /// Bytes before the first `>` of the input (blank lines only); set on the first chunk only.
    pub preamble: Option<Vec<u8>>,
}

impl Record {
    pub fn raw<'a>(&self, chunk_data: &'a [u8]) -> &'a [u8] {
        &chunk_data[self.raw.clone()]
    }
    pub fn header<'a>(&self, chunk_data: &'a [u8]) -> &'a [u8] {
        &chunk_data[self.header.clone()]
    }
    /// The header's first whitespace-delimited token (the record id); empty if the header is.
    pub fn id<'a>(&self, chunk_data: &'a [u8]) -> &'a [u8] {
        first_token(self.header(chunk_data))
    }
}

/// First whitespace-delimited token of a header: everything up to the first space or tab.
pub fn first_token(header: &[u8]) -> &[u8] {
    let end = header
        .iter()
        .position(|&b| b == b' ' || b == b'\t')
        .unwrap_or(header.len());
    &header[..end]
}

impl Chunk {
    /// Bytes this chunk holds in memory (for byte budgets).
    pub fn weight(&self) -> usize {
        self.data.capacity()
            + self
                .records
                .iter()
                .map(|r| r.seq.capacity() + std::mem::size_of::<Record>() + r.layout.heap_bytes())
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::first_token;

    #[test]
    fn first_token_stops_at_space_or_tab() {
        assert_eq!(first_token(b"sp|P1|X desc"), b"sp|P1|X");
        assert_eq!(first_token(b"id\tdesc"), b"id");
        assert_eq!(first_token(b"id"), b"id");
        assert_eq!(first_token(b" lead"), b"");
        assert_eq!(first_token(b""), b"");
    }
}
