//! Edit operations that rebuild a member's residue bytes from its representative's:
//! copy, skip, insert literal, substitute literal. Exact duplicates and exact substrings are one
//! or two ops (a few bytes). The decoder trusts nothing: every length is bounds-checked.
//! (HELPER B fills in.)

use crate::bio::alignment::Alignment;

#[derive(Debug, thiserror::Error)]
#[error("corrupt delta: {0}")]
pub struct DeltaError(pub String);

/// Append the edits turning `rep` into `member`, following `aln` (query = member, target = rep).
/// Compares raw bytes, so case differences become substitutions and the result is exact.
pub fn encode_alignment(rep: &[u8], member: &[u8], aln: &Alignment, out: &mut Vec<u8>) {
    let _ = (rep, member, aln, out);
    todo!("helper B")
}

/// Append the edits for `member == rep[offset..offset + len]`.
pub fn encode_substring(offset: usize, len: usize, out: &mut Vec<u8>) {
    let _ = (offset, len, out);
    todo!("helper B")
}

/// Rebuild the member: append its bytes to `out`. Fails (never panics) on ops that read outside
/// `rep` or produce more than `max_len` bytes.
pub fn apply(rep: &[u8], delta: &[u8], max_len: usize, out: &mut Vec<u8>) -> Result<(), DeltaError> {
    let _ = (rep, delta, max_len, out);
    todo!("helper B")
}
