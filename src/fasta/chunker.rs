//! Cuts the reader's byte blocks into chunks of whole records and parses each record (header,
//! residues, layout). Rejects input that is not FASTA.
//!
//! The scanner is a small state machine fed block by block, so results never depend on where the
//! blocks were cut, and every input byte is looked at once (no rescanning of a long pending line).
//! Bytes are copied once, from the block into the chunk; residues are then gathered from there.
//! It must not normalise anything: the layout it records has to give back the input exactly.

use super::layout::{Layout, LineEnd, LineRuns};
use super::record::{Chunk, Record};

/// What is wrong with the input, and where. The caller adds the file name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (byte offset {offset}{})", record.map(|r| format!(", record {}", r + 1)).unwrap_or_default())]
pub struct FastaError {
    pub message: String,
    /// Byte offset in the decompressed input.
    pub offset: u64,
    /// 0-based record ordinal, when the error is inside a record.
    pub record: Option<u64>,
}

/// Message for input with no record at all.
pub const NO_RECORDS: &str = "no FASTA records found (empty input)";
/// Message for input whose first non-blank byte is `@`.
pub const LOOKS_LIKE_FASTQ: &str = "input looks like FASTQ (starts with '@'); talaria reads FASTA";
/// Message for input whose first non-blank byte is anything else but a `>` starting a line.
pub const NOT_FASTA: &str = "not FASTA: expected '>' at the start of a record";

/// Byte classes. Only bytes below 0x20 and DEL are not `ORDINARY`, which is what lets
/// `find_special` skip eight ordinary bytes at a time.
const ORDINARY: u8 = 0;
const NEWLINE: u8 = 1;
const CR: u8 = 2;
/// `\t`, `\v`, `\f`: text, kept as content.
const TEXT_CONTROL: u8 = 3;
const BINARY: u8 = 4;

const fn byte_classes() -> [u8; 256] {
    let mut t = [ORDINARY; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = BINARY;
        b += 1;
    }
    t[0x7F] = BINARY;
    t[b'\n' as usize] = NEWLINE;
    t[b'\r' as usize] = CR;
    t[b'\t' as usize] = TEXT_CONTROL;
    t[0x0B] = TEXT_CONTROL;
    t[0x0C] = TEXT_CONTROL;
    t
}

static CLASS: [u8; 256] = byte_classes();

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// A mask whose lowest set bit is the high bit of the first byte of `w` (little-endian) that is
/// below 0x20 or is 0x7F; zero when there is none. These are the classic "has byte less than n"
/// and "has zero byte" tests: bits above the first hit may be wrong (borrows run upwards), the
/// lowest one never is.
#[inline]
fn special_mask(w: u64) -> u64 {
    let below = w.wrapping_sub(ONES * 0x20) & !w & HIGHS;
    let del = w ^ (ONES * 0x7F);
    let del = del.wrapping_sub(ONES) & !del & HIGHS;
    below | del
}

#[inline]
fn word(s: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(s[i..i + 8].try_into().expect("8 bytes"))
}

/// Index of the first non-`ORDINARY` byte of `s` at or after `from`, or `s.len()`.
#[inline]
fn find_special(s: &[u8], from: usize) -> usize {
    let mut i = from;
    // Residues are letters: most words hold nothing special, and a line end costs one word.
    while i + 8 <= s.len() {
        let m = special_mask(word(s, i));
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < s.len() && CLASS[s[i] as usize] == ORDINARY {
        i += 1;
    }
    i
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Before the first `>`: only blank lines are allowed.
    Preamble,
    /// Inside a header line.
    Header,
    /// At the start of a line after the header: a `>` here starts the next record.
    LineStart,
    /// Inside a sequence line.
    Line,
}

/// Size of the first chunk's buffer when `target_bytes` is larger; later chunks reserve what
/// the previous one held.
const FIRST_RESERVE: usize = 1 << 20;

/// The scanner: feed it blocks with `push`, end with `finish`; chunks come out in input order
/// and are the same whatever the block sizes.
pub struct Chunker {
    target_records: usize,
    target_bytes: usize,
    /// Input offset of the first byte of the next block.
    consumed: u64,
    phase: Phase,
    /// Preamble only: the next byte starts a line.
    at_line_start: bool,
    preamble: Vec<u8>,
    /// Input offset of the last `\r` seen, to tell `\r\n` from `\n` across block boundaries.
    last_cr: Option<u64>,
    chunk_index: u64,
    /// The chunk being filled: whole records, then the current record's bytes so far.
    data: Vec<u8>,
    records: Vec<Record>,
    /// Capacity for the next chunk's buffer: the last chunk's size, at most `target_bytes`.
    reserve: usize,
    /// Ordinal of the current record (once the first `>` is seen).
    ordinal: u64,
    /// Current record: index of its `>` in `data`, its input offset, its header length so far
    /// (a trailing `\r` included until the line end decides), its header line end, the length
    /// so far of the line being scanned, and its finished sequence lines.
    rec_start: usize,
    rec_offset: u64,
    header_len: usize,
    header_end: LineEnd,
    line_len: u64,
    runs: LineRuns,
    /// Once an error is returned, every later call returns it again.
    failed: Option<FastaError>,
}

impl Chunker {
    /// A chunk is emitted once it holds `target_records` records or `target_bytes` raw bytes.
    ///
    /// A record of `target_bytes` or more is never added to a chunk that already holds records:
    /// the records before it are emitted first, and it makes a chunk of its own. Targets of 0
    /// act as 1.
    pub fn new(target_records: usize, target_bytes: usize) -> Self {
        let target_records = target_records.max(1);
        let target_bytes = target_bytes.max(1);
        Chunker {
            target_records,
            target_bytes,
            consumed: 0,
            phase: Phase::Preamble,
            at_line_start: true,
            preamble: Vec::new(),
            last_cr: None,
            chunk_index: 0,
            data: Vec::new(),
            records: Vec::new(),
            reserve: target_bytes.min(FIRST_RESERVE),
            ordinal: 0,
            rec_start: 0,
            rec_offset: 0,
            header_len: 0,
            header_end: LineEnd::Lf,
            line_len: 0,
            runs: LineRuns::default(),
            failed: None,
        }
    }

    /// Feed the next block of decompressed input; completed chunks are appended to `out`.
    pub fn push(&mut self, block: &[u8], out: &mut Vec<Chunk>) -> Result<(), FastaError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = self.scan(block, out);
        if let Err(e) = &result {
            self.failed = Some(e.clone());
        }
        result
    }

    /// End of input: flush the last chunk. Errors if the input held no record at all.
    pub fn finish(mut self, out: &mut Vec<Chunk>) -> Result<(), FastaError> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        match self.phase {
            Phase::Preamble => {
                return Err(FastaError {
                    message: NO_RECORDS.to_string(),
                    offset: 0,
                    record: None,
                })
            }
            // The header runs to EOF; a trailing `\r` is header text, there is no `\n` after it.
            Phase::Header => self.header_end = LineEnd::Missing,
            Phase::LineStart => {}
            Phase::Line if self.line_len > 0 => self.runs.push(self.line_len, LineEnd::Missing),
            Phase::Line => {}
        }
        self.end_record(out);
        if !self.records.is_empty() {
            self.emit(out);
        }
        Ok(())
    }

    /// Reads a whole input held in memory (tests, small files): all chunks in order.
    pub fn chunk_all(
        input: &[u8],
        target_records: usize,
        target_bytes: usize,
    ) -> Result<Vec<Chunk>, FastaError> {
        let mut chunker = Chunker::new(target_records, target_bytes);
        let mut out = Vec::new();
        chunker.push(input, &mut out)?;
        chunker.finish(&mut out)?;
        Ok(out)
    }

    fn scan(&mut self, b: &[u8], out: &mut Vec<Chunk>) -> Result<(), FastaError> {
        let mut i = 0;
        // First byte of `b` not yet copied into `data`.
        let mut copied = 0;
        while i < b.len() {
            match self.phase {
                Phase::Preamble => {
                    let c = b[i];
                    match c {
                        b'>' if self.at_line_start => {
                            copied = i;
                            self.begin_record(i);
                            i += 1;
                        }
                        b' ' | b'\t' | b'\r' | b'\n' => {
                            self.preamble.push(c);
                            self.at_line_start = c == b'\n';
                            i += 1;
                        }
                        _ => return Err(self.preamble_error(c, i)),
                    }
                }
                Phase::Header => match self.find_newline(b, i)? {
                    Some(nl) => {
                        let crlf = self.crlf_at(nl);
                        // The `\r` may have been counted in an earlier block: add, then drop it.
                        self.header_len = self.header_len + (nl - i) - usize::from(crlf);
                        self.header_end = if crlf { LineEnd::CrLf } else { LineEnd::Lf };
                        self.phase = Phase::LineStart;
                        i = nl + 1;
                    }
                    None => {
                        self.header_len += b.len() - i;
                        i = b.len();
                    }
                },
                Phase::LineStart => {
                    if b[i] == b'>' {
                        self.keep(&b[copied..i]);
                        copied = i;
                        self.end_record(out);
                        self.ordinal += 1;
                        self.begin_record(i);
                        i += 1;
                    } else {
                        self.phase = Phase::Line;
                        self.line_len = 0;
                    }
                }
                Phase::Line => match self.find_newline(b, i)? {
                    Some(nl) => {
                        let crlf = self.crlf_at(nl);
                        let len = self.line_len + (nl - i) as u64 - u64::from(crlf);
                        let end = if crlf { LineEnd::CrLf } else { LineEnd::Lf };
                        self.runs.push(len, end);
                        self.phase = Phase::LineStart;
                        i = nl + 1;
                    }
                    None => {
                        self.line_len += (b.len() - i) as u64;
                        i = b.len();
                    }
                },
            }
        }
        if self.phase != Phase::Preamble {
            self.keep(&b[copied..]);
        }
        self.consumed += b.len() as u64;
        // A record this large gets a chunk of its own; let the records before it go now rather
        // than hold them until it ends.
        if self.phase != Phase::Preamble
            && !self.records.is_empty()
            && self.data.len() - self.rec_start >= self.target_bytes
        {
            self.emit_before_current(out);
        }
        Ok(())
    }

    /// Index of the next `\n` in `b` at or after `from`; checks every byte before it for binary
    /// data and remembers the last `\r`.
    #[inline]
    fn find_newline(&mut self, b: &[u8], from: usize) -> Result<Option<usize>, FastaError> {
        let mut k = from;
        loop {
            let j = find_special(b, k);
            let Some(&c) = b.get(j) else {
                return Ok(None);
            };
            match CLASS[c as usize] {
                NEWLINE => return Ok(Some(j)),
                CR => self.last_cr = Some(self.consumed + j as u64),
                TEXT_CONTROL => {}
                _ => {
                    return Err(FastaError {
                        message: format!("binary data (byte 0x{c:02X})"),
                        offset: self.consumed + j as u64,
                        record: Some(self.ordinal),
                    })
                }
            }
            k = j + 1;
        }
    }

    /// Whether the `\n` at `b[nl]` is preceded by `\r` (possibly in an earlier block).
    fn crlf_at(&self, nl: usize) -> bool {
        let offset = self.consumed + nl as u64;
        offset > 0 && self.last_cr == Some(offset - 1)
    }

    fn preamble_error(&self, c: u8, i: usize) -> FastaError {
        let message = if CLASS[c as usize] == BINARY {
            format!("binary data (byte 0x{c:02X})")
        } else if c == b'@' {
            LOOKS_LIKE_FASTQ.to_string()
        } else {
            NOT_FASTA.to_string()
        };
        FastaError {
            message,
            offset: self.consumed + i as u64,
            record: None,
        }
    }

    /// The record whose `>` is `b[i]` starts; everything of `b` before `i` is already in `data`.
    fn begin_record(&mut self, i: usize) {
        self.phase = Phase::Header;
        self.rec_start = self.data.len();
        self.rec_offset = self.consumed + i as u64;
        self.header_len = 0;
        self.line_len = 0;
        self.runs.clear();
    }

    /// The current record's bytes are all in `data`; parse it into `records`, emitting the
    /// chunk when full.
    fn end_record(&mut self, out: &mut Vec<Chunk>) {
        if !self.records.is_empty() && self.data.len() - self.rec_start >= self.target_bytes {
            self.emit_before_current(out);
        }
        let start = self.rec_start;
        let header = start + 1..start + 1 + self.header_len;
        let body = header.end + self.header_end.bytes().len();
        let mut seq = Vec::with_capacity(self.runs.residues() as usize);
        self.runs.gather(&self.data[body..], &mut seq);
        self.records.push(Record {
            ordinal: self.ordinal,
            offset: self.rec_offset,
            raw: start..self.data.len(),
            header,
            seq,
            layout: Layout::from_runs(self.header_end, &self.runs),
        });
        if self.records.len() >= self.target_records || self.data.len() >= self.target_bytes {
            self.emit(out);
        }
    }

    /// Emits the finished records, moving the current record's bytes to a fresh buffer.
    fn emit_before_current(&mut self, out: &mut Vec<Chunk>) {
        let current = self.data[self.rec_start..].to_vec();
        self.data.truncate(self.rec_start);
        self.emit(out);
        self.data = current;
        self.rec_start = 0;
    }

    fn emit(&mut self, out: &mut Vec<Chunk>) {
        let mut data = std::mem::take(&mut self.data);
        // The weight of a chunk is its capacity; give back a large unused tail (realloc shrinks
        // in place, no copy).
        if data.capacity() - data.len() > data.len() / 4 + 4096 {
            data.shrink_to_fit();
        }
        let preamble = if self.chunk_index == 0 && !self.preamble.is_empty() {
            Some(std::mem::take(&mut self.preamble))
        } else {
            None
        };
        self.reserve = data.len().min(self.target_bytes);
        out.push(Chunk {
            index: self.chunk_index,
            data,
            records: std::mem::take(&mut self.records),
            preamble,
        });
        self.chunk_index += 1;
    }

    /// Appends input bytes to the chunk being filled, sizing a fresh buffer for a whole chunk
    /// (by the last one) so it grows by doubling rarely, if ever.
    fn keep(&mut self, bytes: &[u8]) {
        if self.data.capacity() == 0 {
            self.data.reserve(self.reserve + self.reserve / 16);
        }
        self.data.extend_from_slice(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_mask_finds_the_first_special_byte() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        let interesting = [
            0x00, 0x09, 0x0A, 0x0D, 0x1F, 0x20, 0x7E, 0x7F, 0x80, 0xFF, b'A',
        ];
        for _ in 0..200_000 {
            let mut w = [0u8; 8];
            for x in &mut w {
                *x = if rng.gen_bool(0.5) {
                    interesting[rng.gen_range(0..interesting.len())]
                } else {
                    rng.gen()
                };
            }
            let first = w.iter().position(|&b| CLASS[b as usize] != ORDINARY);
            let m = special_mask(u64::from_le_bytes(w));
            let got = (m != 0).then(|| (m.trailing_zeros() / 8) as usize);
            assert_eq!(got, first, "{w:02X?}");
        }
    }

    #[test]
    fn find_special_finds_first_control_byte() {
        for pos in 0..40 {
            for c in [b'\n', b'\r', 0x7F, 0x00, b'\t'] {
                let mut s = vec![b'A'; 40];
                s[pos] = c;
                assert_eq!(find_special(&s, 0), pos);
                assert_eq!(find_special(&s, pos + 1), 40);
            }
        }
        assert_eq!(find_special(b"", 0), 0);
    }

    #[test]
    fn parses_records_and_layouts() {
        let input = b"\n>a x\nACGT\nAC\n>b\r\nMK\r\n\r\n>c";
        let chunks = Chunker::chunk_all(input, 100, 1 << 20).unwrap();
        assert_eq!(chunks.len(), 1);
        let c = &chunks[0];
        assert_eq!(c.preamble.as_deref(), Some(&b"\n"[..]));
        assert_eq!(c.data, &input[1..]);
        let r: Vec<_> = c.records.iter().collect();
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].header(&c.data), b"a x");
        assert_eq!(r[0].id(&c.data), b"a");
        assert_eq!(r[0].seq, b"ACGTAC");
        assert_eq!(r[0].offset, 1);
        assert!(r[0].layout.is_regular());
        assert_eq!(r[1].header(&c.data), b"b");
        assert_eq!(r[1].seq, b"MK");
        assert!(!r[1].layout.is_regular());
        assert_eq!(r[2].header(&c.data), b"c");
        assert_eq!(r[2].seq, b"");
        assert_eq!(r[2].ordinal, 2);
        for rec in r {
            let mut out = Vec::new();
            rec.layout
                .render(rec.header(&c.data), &rec.seq, &mut out)
                .unwrap();
            assert_eq!(out, rec.raw(&c.data));
        }
    }

    #[test]
    fn errors_say_where() {
        let e = Chunker::chunk_all(b"\n\n@r1\nACGT\n+\nIIII\n", 10, 100).unwrap_err();
        assert_eq!(
            (e.message.as_str(), e.offset, e.record),
            (LOOKS_LIKE_FASTQ, 2, None)
        );
        let e = Chunker::chunk_all(b">a\nAC\n>b\nA\x01C\n", 10, 100).unwrap_err();
        assert_eq!(
            (e.message.as_str(), e.offset, e.record),
            ("binary data (byte 0x01)", 10, Some(1))
        );
        assert_eq!(
            e.to_string(),
            "binary data (byte 0x01) (byte offset 10, record 2)"
        );
        let e = Chunker::chunk_all(b"", 10, 100).unwrap_err();
        assert_eq!(e.message, NO_RECORDS);
        let e = Chunker::chunk_all(b" >a\nAC\n", 10, 100).unwrap_err();
        assert_eq!((e.message.as_str(), e.offset), (NOT_FASTA, 1));
    }

    #[test]
    fn error_is_sticky() {
        let mut c = Chunker::new(10, 100);
        let mut out = Vec::new();
        assert!(c.push(b"ACGT", &mut out).is_err());
        assert!(c.push(b">a\nAC\n", &mut out).is_err());
        assert!(c.finish(&mut out).is_err());
        assert!(out.is_empty());
    }
}
