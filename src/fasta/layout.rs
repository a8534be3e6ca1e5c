//! The line layout of one record: header line end, sequence line widths and line ends, blank
//! lines, and whether the final line end is missing. Regular records (one width, one line-end
//! kind) cost a couple of bytes; anything irregular is stored as explicit exceptions.
//! (HELPER C fills in.)

/// See module docs. The representation is private to this module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    // helper C: private fields
}

/// Error decoding or applying a layout (corrupt deltas file).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LayoutError(pub String);

impl Layout {
    /// Heap bytes owned (for memory accounting).
    pub fn heap_bytes(&self) -> usize {
        todo!("helper C")
    }
    /// True when the layout is one width and one line-end kind, no blank lines.
    pub fn is_regular(&self) -> bool {
        todo!("helper C")
    }
    /// Append a compact, self-delimiting encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let _ = out;
        todo!("helper C")
    }
    /// Decode from the start of `buf`; returns the layout and the bytes consumed. Never panics,
    /// never allocates more than `buf` can justify.
    pub fn decode(buf: &[u8]) -> Result<(Layout, usize), LayoutError> {
        let _ = buf;
        todo!("helper C")
    }
    /// Write the record exactly as it was: `>` + header + line end + sequence lines.
    /// Fails if the layout's residue count differs from `seq.len()`.
    pub fn render(&self, header: &[u8], seq: &[u8], out: &mut Vec<u8>) -> Result<(), LayoutError> {
        let _ = (header, seq, out);
        todo!("helper C")
    }
}

/// Write a normalised record: `>` + header + `\n`, then residues in lines of `width`
/// (0 = one line), each ending in `\n`. An empty sequence writes the header line only.
pub fn render_wrapped(header: &[u8], seq: &[u8], width: usize, out: &mut Vec<u8>) {
    let _ = (header, seq, width, out);
    todo!("helper C")
}
