//! Edit operations that rebuild a member's residue bytes from its representative's:
//! copy, skip, insert literal, substitute literal. Exact duplicates and exact substrings are one
//! or two ops (a few bytes). The decoder trusts nothing: every length is bounds-checked.
//!
//! Format: a sequence of ops, each `varint((len << 2) | opcode)` (unsigned LEB128, at most 10
//! bytes), with opcode 0 = Copy (copy `len` representative bytes at the cursor, advance it),
//! 1 = Skip (advance the cursor by `len`), 2 = Insert (`len` literal bytes follow),
//! 3 = Subst (`len` literal bytes follow; the cursor advances by `len`). The op stream ends where
//! the delta bytes end. Encoders merge adjacent ops of the same kind and never emit `len == 0`;
//! the decoder accepts zero-length ops as no-ops.

use crate::bio::alignment::{AlignOp, Alignment};

#[derive(Debug, thiserror::Error)]
#[error("corrupt delta: {0}")]
pub struct DeltaError(pub String);

/// Opcodes: the low two bits of each op's varint.
const COPY: u8 = 0;
const SKIP: u8 = 1;
const INSERT: u8 = 2;
const SUBST: u8 = 3;

/// Longest LEB128 encoding of a u64.
const MAX_VARINT_BYTES: usize = 10;

fn put_varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_op(opcode: u8, len: usize, out: &mut Vec<u8>) {
    put_varint(((len as u64) << 2) | opcode as u64, out);
}

/// Builds the op stream, merging adjacent ops of the same kind. Literal ops (Insert, Subst)
/// always take consecutive member bytes, so a pending op is just (opcode, member start, length).
struct OpWriter<'a> {
    member: &'a [u8],
    out: &'a mut Vec<u8>,
    pending: Option<(u8, usize, usize)>,
}

impl OpWriter<'_> {
    fn push(&mut self, opcode: u8, member_pos: usize, len: usize) {
        if len == 0 {
            return;
        }
        match &mut self.pending {
            Some((op, start, pending_len)) if *op == opcode => {
                debug_assert!(
                    !matches!(opcode, INSERT | SUBST) || *start + *pending_len == member_pos
                );
                *pending_len += len;
            }
            _ => {
                self.flush();
                self.pending = Some((opcode, member_pos, len));
            }
        }
    }

    fn flush(&mut self) {
        if let Some((opcode, start, len)) = self.pending.take() {
            put_op(opcode, len, self.out);
            if matches!(opcode, INSERT | SUBST) {
                self.out.extend_from_slice(&self.member[start..start + len]);
            }
        }
    }
}

/// Whether `aln` describes a path through `member` (query) × `rep` (target).
fn fits(rep: &[u8], member: &[u8], aln: &Alignment) -> bool {
    let (mut q, mut t) = (aln.query_start as u64, aln.target_start as u64);
    for &(op, len) in &aln.ops {
        let len = len as u64;
        match op {
            AlignOp::Pair => (q, t) = (q + len, t + len),
            AlignOp::Insert => q += len,
            AlignOp::Delete => t += len,
        }
    }
    aln.query_start <= aln.query_end
        && aln.query_end <= member.len()
        && aln.target_start <= aln.target_end
        && aln.target_end <= rep.len()
        && q == aln.query_end as u64
        && t == aln.target_end as u64
}

/// Append the edits turning `rep` into `member`, following `aln` (query = member, target = rep).
/// Compares raw bytes, so case differences become substitutions and the result is exact.
///
/// An alignment that does not fit the two sequences is a caller bug (a debug assertion); release
/// builds then fall back to one Insert of the whole member, which is still exact.
pub fn encode_alignment(rep: &[u8], member: &[u8], aln: &Alignment, out: &mut Vec<u8>) {
    if !fits(rep, member, aln) {
        debug_assert!(false, "alignment does not fit the sequences: {aln:?}");
        if !member.is_empty() {
            put_op(INSERT, member.len(), out);
            out.extend_from_slice(member);
        }
        return;
    }
    let mut writer = OpWriter {
        member,
        out,
        pending: None,
    };
    writer.push(SKIP, 0, aln.target_start);
    writer.push(INSERT, 0, aln.query_start);
    let (mut q, mut t) = (aln.query_start, aln.target_start);
    for &(op, len) in &aln.ops {
        let len = len as usize;
        match op {
            AlignOp::Pair => {
                for k in 0..len {
                    let opcode = if member[q + k] == rep[t + k] {
                        COPY
                    } else {
                        SUBST
                    };
                    writer.push(opcode, q + k, 1);
                }
                q += len;
                t += len;
            }
            AlignOp::Insert => {
                writer.push(INSERT, q, len);
                q += len;
            }
            AlignOp::Delete => {
                writer.push(SKIP, q, len);
                t += len;
            }
        }
    }
    writer.push(INSERT, q, member.len() - q);
    writer.flush();
}

/// Append the edits for `member == rep[offset..offset + len]`.
///
/// Skip(offset) then Copy(len); nothing at all for an empty member. Sizes: an exact duplicate
/// shorter than 2^19 is at most 3 bytes (4 below 2^20); a substring at most 6 bytes while offset
/// and length are below 2^19, 8 below 2^20.
pub fn encode_substring(offset: usize, len: usize, out: &mut Vec<u8>) {
    if len == 0 {
        return;
    }
    if offset > 0 {
        put_op(SKIP, offset, out);
    }
    put_op(COPY, len, out);
}

/// One decoded op: opcode, length (not yet checked against anything but the delta's own size),
/// and its literal bytes (empty for Copy and Skip).
type RawOp<'a> = (u8, u64, &'a [u8]);

/// Reads ops from untrusted bytes.
struct OpReader<'a> {
    delta: &'a [u8],
    pos: usize,
}

impl<'a> OpReader<'a> {
    fn varint(&mut self) -> Result<u64, DeltaError> {
        let start = self.pos;
        let mut value = 0u64;
        for k in 0..MAX_VARINT_BYTES {
            let Some(&byte) = self.delta.get(self.pos) else {
                return Err(DeltaError(format!("op at byte {start} is truncated")));
            };
            self.pos += 1;
            let bits = (byte & 0x7f) as u64;
            // The 10th byte may only carry the top bit of a u64.
            if k == MAX_VARINT_BYTES - 1 && bits > 1 {
                break;
            }
            value |= bits << (7 * k);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DeltaError(format!("op at byte {start} overflows 64 bits")))
    }

    /// Next op, or `None` at the end of the delta.
    fn next(&mut self) -> Result<Option<RawOp<'a>>, DeltaError> {
        if self.pos == self.delta.len() {
            return Ok(None);
        }
        let start = self.pos;
        let word = self.varint()?;
        let (opcode, len) = ((word & 3) as u8, word >> 2);
        let mut literal: &[u8] = &[];
        if matches!(opcode, INSERT | SUBST) {
            let available = (self.delta.len() - self.pos) as u64;
            if len > available {
                return Err(DeltaError(format!(
                    "op at byte {start} wants {len} literal bytes, {available} remain"
                )));
            }
            literal = &self.delta[self.pos..self.pos + len as usize];
            self.pos += len as usize;
        }
        Ok(Some((opcode, len, literal)))
    }
}

/// Rebuild the member: append its bytes to `out`. Fails (never panics) on ops that read outside
/// `rep` or produce more than `max_len` bytes.
///
/// On error, `out` may hold a partial member (at most `max_len` bytes appended); it never
/// reserves more than the bytes it is about to write.
pub fn apply(
    rep: &[u8],
    delta: &[u8],
    max_len: usize,
    out: &mut Vec<u8>,
) -> Result<(), DeltaError> {
    let mut reader = OpReader { delta, pos: 0 };
    let mut cursor = 0usize; // position in `rep`
    let mut written = 0usize;
    while let Some((opcode, len, literal)) = reader.next()? {
        // Output limit first: Copy, Insert and Subst all emit `len` bytes.
        if opcode != SKIP && len > (max_len - written) as u64 {
            return Err(DeltaError(format!(
                "member would exceed its length of {max_len} bytes"
            )));
        }
        // Rep cursor: Copy, Skip and Subst all advance it by `len`.
        if opcode != INSERT && len > (rep.len() - cursor) as u64 {
            return Err(DeltaError(format!(
                "op reads past the end of the {}-byte representative (cursor {cursor}, length {len})",
                rep.len()
            )));
        }
        // Both checks above bound `len` by a usize, so this cannot truncate.
        let len = len as usize;
        match opcode {
            COPY => out.extend_from_slice(&rep[cursor..cursor + len]),
            SKIP => {}
            _ => out.extend_from_slice(literal),
        }
        if opcode != INSERT {
            cursor += len;
        }
        if opcode != SKIP {
            written += len;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bio::alignment::Aligner;
    use crate::bio::alphabet::Alphabet;
    use proptest::prelude::*;

    fn roundtrip(aligner: &Aligner, rep: &[u8], member: &[u8]) -> Vec<u8> {
        let aln = aligner
            .align(member, rep)
            .expect("small pairs fit the cell cap");
        let mut delta = Vec::new();
        encode_alignment(rep, member, &aln, &mut delta);
        let mut rebuilt = b"prefix".to_vec();
        apply(rep, &delta, member.len(), &mut rebuilt).unwrap();
        assert_eq!(&rebuilt[6..], member, "delta {delta:?} for {aln:?}");
        if !member.is_empty() {
            let mut short = Vec::new();
            assert!(apply(rep, &delta, member.len() - 1, &mut short).is_err());
            assert!(short.len() < member.len());
        }
        delta
    }

    #[test]
    fn substitution_and_case_change_bytes() {
        let aligner = Aligner::for_alphabet(Alphabet::Nucleotide);
        let rep = b"ACGTACGTAC";
        let member = b"ACGTAcGTAC";
        let delta = roundtrip(&aligner, rep, member);
        // Copy(5), Subst(1) 'c', Copy(4).
        assert_eq!(delta, vec![5 << 2, (1 << 2) | 3, b'c', 4 << 2]);
    }

    #[test]
    fn indels_and_clipped_ends() {
        let aligner = Aligner::new();
        let rep = b"MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ";
        // Member: drops rep's first 3, has an insertion, a deletion, and an extra tail.
        let mut member = rep[3..].to_vec();
        member.insert(10, b'W');
        member.remove(20);
        member.extend_from_slice(b"GGGGG");
        let delta = roundtrip(&aligner, rep, &member);
        assert_eq!(delta[0], (3 << 2) | SKIP, "{delta:?}");
    }

    #[test]
    fn unrelated_member_is_all_literal_and_still_exact() {
        let aligner = Aligner::for_alphabet(Alphabet::Nucleotide);
        roundtrip(&aligner, b"AAAAAAAAAA", b"CCCCCCCC");
        roundtrip(&aligner, b"A", b"");
        roundtrip(&aligner, b"", b"ACGT");
        roundtrip(&aligner, b"", b"");
    }

    #[test]
    fn empty_member_encodes_as_nothing() {
        let mut out = Vec::new();
        encode_substring(5, 0, &mut out);
        encode_substring(0, 0, &mut out);
        assert!(out.is_empty());
        let mut rebuilt = Vec::new();
        apply(b"ACGT", &out, 0, &mut rebuilt).unwrap();
        assert!(rebuilt.is_empty());
    }

    #[test]
    fn substrings_roundtrip() {
        let rep = b"0123456789";
        for offset in 0..=rep.len() {
            for len in 0..=rep.len() - offset {
                let mut delta = Vec::new();
                encode_substring(offset, len, &mut delta);
                let mut rebuilt = Vec::new();
                apply(rep, &delta, len, &mut rebuilt).unwrap();
                assert_eq!(rebuilt, &rep[offset..offset + len]);
            }
        }
    }

    fn substring_size(offset: usize, len: usize) -> usize {
        let mut out = Vec::new();
        encode_substring(offset, len, &mut out);
        out.len()
    }

    #[test]
    fn duplicates_and_substrings_are_a_few_bytes() {
        // LEB128 carries 7 bits a byte and the opcode takes 2: 3 bytes hold lengths < 2^19,
        // 4 bytes lengths < 2^26.
        for len in [1, 31, 32, 4095, 4096, (1 << 19) - 1] {
            assert!(substring_size(0, len) <= 3, "{len}");
            assert!(substring_size((1 << 19) - 1, len) <= 6, "{len}");
        }
        for len in [1 << 19, (1 << 20) - 1] {
            assert!(substring_size(0, len) <= 4, "{len}");
            assert!(substring_size((1 << 20) - 1, len) <= 8, "{len}");
        }
        assert_eq!(substring_size(0, 20), 1);
        assert_eq!(substring_size(20, 20), 2);
    }

    #[test]
    fn duplicate_via_alignment_is_one_copy() {
        let rep = b"MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ";
        let delta = roundtrip(&Aligner::new(), rep, rep);
        let mut expected = Vec::new();
        encode_substring(0, rep.len(), &mut expected);
        assert_eq!(delta, expected);
        assert_eq!(delta.len(), 2);
    }

    #[test]
    fn substring_via_alignment_is_skip_then_copy() {
        let rep = b"MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ";
        let member = &rep[5..20];
        let delta = roundtrip(&Aligner::new(), rep, member);
        let mut expected = Vec::new();
        encode_substring(5, member.len(), &mut expected);
        assert_eq!(delta, expected);
    }

    #[test]
    fn corrupt_deltas_are_errors() {
        let rep = b"ACGTACGT";
        let cases: &[(&[u8], &str)] = &[
            (&[(9 << 2) | COPY], "copy past the end of rep"),
            (
                &[(8 << 2) | SKIP, (1 << 2) | COPY],
                "skip to the end, then copy",
            ),
            (&[(9 << 2) | SKIP], "skip past the end of rep"),
            (
                &[(9 << 2) | SUBST, 1, 2, 3, 4, 5, 6, 7, 8, 9],
                "subst past the end of rep",
            ),
            (
                &[(3 << 2) | INSERT, b'A', b'C'],
                "literal past the end of the delta",
            ),
            (&[0x80], "truncated varint"),
            (&[0xff; 11], "varint longer than 10 bytes"),
            (
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
                "varint > u64",
            ),
            (
                &[0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
                "insert of 2^62-1",
            ),
            (
                &[0xfc, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
                "copy of 2^62-1",
            ),
            (
                &[(4 << 2) | COPY, (4 << 2) | COPY, (1 << 2) | INSERT, b'A'],
                "over max_len",
            ),
        ];
        for (delta, why) in cases {
            let mut out = Vec::new();
            assert!(apply(rep, delta, 8, &mut out).is_err(), "{why}");
            assert!(out.len() <= 8, "{why}");
        }
        // Zero-length ops are harmless no-ops.
        let mut out = Vec::new();
        apply(rep, &[COPY, SKIP, INSERT, SUBST], 0, &mut out).unwrap();
        assert!(out.is_empty());
    }

    /// One edit applied to a copy of the representative.
    #[derive(Clone, Debug)]
    enum Edit {
        Substitute(usize, u8),
        FlipCase(usize),
        Insert(usize, Vec<u8>),
        Delete(usize, usize),
        TrimStart(usize),
        TrimEnd(usize),
    }

    fn residues(letters: &'static [u8], max: usize) -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(proptest::sample::select(letters), 0..max)
    }

    fn edit(letters: &'static [u8]) -> impl Strategy<Value = Edit> {
        let byte = proptest::sample::select(letters);
        prop_oneof![
            4 => (any::<usize>(), byte).prop_map(|(at, b)| Edit::Substitute(at, b)),
            2 => any::<usize>().prop_map(Edit::FlipCase),
            2 => (any::<usize>(), residues(letters, 8)).prop_map(|(at, s)| Edit::Insert(at, s)),
            1 => (any::<usize>(), residues(letters, 300)).prop_map(|(at, s)| Edit::Insert(at, s)),
            2 => (any::<usize>(), 1..12usize).prop_map(|(at, n)| Edit::Delete(at, n)),
            1 => (0..30usize).prop_map(Edit::TrimStart),
            1 => (0..30usize).prop_map(Edit::TrimEnd),
        ]
    }

    fn apply_edits(rep: &[u8], edits: &[Edit]) -> Vec<u8> {
        let mut member = rep.to_vec();
        for edit in edits {
            let at = |p: usize, extra: usize| p % (member.len() + extra);
            match edit {
                Edit::Substitute(p, b) if !member.is_empty() => {
                    let k = at(*p, 0);
                    member[k] = *b;
                }
                Edit::FlipCase(p) if !member.is_empty() => {
                    let k = at(*p, 0);
                    member[k] ^= 0x20;
                }
                Edit::Insert(p, s) => {
                    let k = at(*p, 1);
                    member.splice(k..k, s.iter().copied());
                }
                Edit::Delete(p, n) if !member.is_empty() => {
                    let k = at(*p, 0);
                    let end = (k + n).min(member.len());
                    member.drain(k..end);
                }
                Edit::TrimStart(n) => {
                    member.drain(..(*n).min(member.len()));
                }
                Edit::TrimEnd(n) => member.truncate(member.len().saturating_sub(*n)),
                _ => {}
            }
        }
        member
    }

    const PROTEIN: &[u8] = b"ACDEFGHIKLMNPQRSTVWYXacdefghiklmnpqrstvwy";
    const DNA: &[u8] = b"ACGTNacgtn";

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn protein_alignment_roundtrips(
            rep in residues(PROTEIN, 250),
            edits in proptest::collection::vec(edit(PROTEIN), 0..12),
        ) {
            let member = apply_edits(&rep, &edits);
            roundtrip(&Aligner::new(), &rep, &member);
        }

        #[test]
        fn nucleotide_alignment_roundtrips(
            rep in residues(DNA, 400),
            edits in proptest::collection::vec(edit(DNA), 0..12),
        ) {
            let member = apply_edits(&rep, &edits);
            roundtrip(&Aligner::for_alphabet(Alphabet::Nucleotide), &rep, &member);
        }

        #[test]
        fn garbage_never_panics(
            rep in proptest::collection::vec(any::<u8>(), 0..64),
            delta in proptest::collection::vec(any::<u8>(), 0..64),
            max_len in 0..128usize,
        ) {
            let mut out = Vec::new();
            let _ = apply(&rep, &delta, max_len, &mut out);
            prop_assert!(out.len() <= max_len);
        }

        #[test]
        fn random_substrings_roundtrip(
            rep in proptest::collection::vec(any::<u8>(), 0..200),
            a in any::<usize>(),
            b in any::<usize>(),
        ) {
            let offset = a % (rep.len() + 1);
            let len = b % (rep.len() - offset + 1);
            let mut delta = Vec::new();
            encode_substring(offset, len, &mut delta);
            let mut out = Vec::new();
            apply(&rep, &delta, len, &mut out).unwrap();
            prop_assert_eq!(&out[..], &rep[offset..offset + len]);
        }
    }
}
