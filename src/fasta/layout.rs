//! The line layout of one record: header line end, sequence line widths and line ends, blank
//! lines, and whether the final line end is missing. Regular records (one width, one line-end
//! kind) cost a couple of bytes; anything irregular is stored as explicit exceptions.
//!
//! A layout never holds residues or header text: `render` gets those from the caller and only
//! decides where the line ends go. `decode` reads untrusted bytes (a deltas file), so it checks
//! every count and never allocates more than its input can describe.

/// How a line ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LineEnd {
    /// `\n`
    Lf,
    /// `\r\n`
    CrLf,
    /// No line end: the last line of an input that does not end in a newline.
    Missing,
}

impl LineEnd {
    /// The bytes this line end writes.
    pub fn bytes(self) -> &'static [u8] {
        match self {
            LineEnd::Lf => b"\n",
            LineEnd::CrLf => b"\r\n",
            LineEnd::Missing => b"",
        }
    }

    fn code(self) -> u8 {
        match self {
            LineEnd::Lf => 0,
            LineEnd::CrLf => 1,
            LineEnd::Missing => 2,
        }
    }

    fn from_code(code: u64) -> Option<LineEnd> {
        match code {
            0 => Some(LineEnd::Lf),
            1 => Some(LineEnd::CrLf),
            2 => Some(LineEnd::Missing),
            _ => None,
        }
    }
}

/// `count` consecutive sequence lines of `len` bytes each, each ending in `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Run {
    count: u64,
    len: u64,
    end: LineEnd,
}

/// A record's sequence lines, run-length encoded as they are scanned. One file-wide width makes
/// this two runs however long the record is; the chunker reuses one across records.
#[derive(Debug, Default)]
pub(crate) struct LineRuns {
    runs: Vec<Run>,
}

impl LineRuns {
    pub(crate) fn clear(&mut self) {
        self.runs.clear();
    }

    pub(crate) fn push(&mut self, len: u64, end: LineEnd) {
        match self.runs.last_mut() {
            Some(last) if last.len == len && last.end == end => last.count += 1,
            _ => self.runs.push(Run { count: 1, len, end }),
        }
    }

    /// Residues in the lines pushed so far.
    pub(crate) fn residues(&self) -> u64 {
        self.runs.iter().map(|r| r.count * r.len).sum()
    }

    /// Appends the residues of `body` (a record's bytes after its header line, laid out as these
    /// runs say) to `seq`, skipping line ends.
    pub(crate) fn gather(&self, body: &[u8], seq: &mut Vec<u8>) {
        let mut pos = 0;
        for r in &self.runs {
            let (len, step) = (r.len as usize, r.len as usize + r.end.bytes().len());
            for _ in 0..r.count {
                seq.extend_from_slice(&body[pos..pos + len]);
                pos += step;
            }
        }
    }
}

/// See module docs. The representation is private to this module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    repr: Repr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Repr {
    /// Header and sequence lines all end in the same line end; residues wrap at `width`
    /// (0 = all on one line; no line at all when there are no residues). With `open`, the very
    /// last line (the header line when there are no residues) has no line end.
    Regular {
        crlf: bool,
        width: usize,
        open: bool,
    },
    /// Anything else: every sequence line listed (run-length encoded).
    Lines {
        header_end: LineEnd,
        runs: Box<[Run]>,
    },
}

/// Error decoding or applying a layout (corrupt deltas file).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LayoutError(pub String);

/// Tag bits of the encoding. Regular: `0b0000_00oc` (o = open, c = CRLF), then varint width.
/// Lines: `0b1000_00hh` (hh = header line end code), then varint run count and per run
/// varint count, varint (len << 2 | line end code).
const TAG_LINES: u8 = 0x80;
const TAG_CRLF: u8 = 0x01;
const TAG_OPEN: u8 = 0x02;

impl Layout {
    /// Builds the canonical layout of a record from its header line end and its sequence lines
    /// (content length without the line end, and line end), in order. Fails when the lines could
    /// not come from a FASTA record: a line end missing anywhere but on the very last line, or a
    /// missing last line end on an empty line.
    pub fn from_lines(
        header_end: LineEnd,
        lines: impl IntoIterator<Item = (usize, LineEnd)>,
    ) -> Result<Layout, LayoutError> {
        let mut runs = LineRuns::default();
        for (len, end) in lines {
            runs.push(len as u64, end);
        }
        check_runs(header_end, &runs.runs)?;
        Ok(Layout::from_runs(header_end, &runs))
    }

    /// Canonical layout from scanned lines; the scanner guarantees `check_runs` holds.
    pub(crate) fn from_runs(header_end: LineEnd, lines: &LineRuns) -> Layout {
        let runs = &lines.runs;
        let regular = |crlf, width, open| Layout {
            repr: Repr::Regular { crlf, width, open },
        };
        if header_end == LineEnd::Missing {
            return regular(false, 0, true);
        }
        let crlf = header_end == LineEnd::CrLf;
        let end_ok = |e: LineEnd| e == header_end || e == LineEnd::Missing;
        match runs.as_slice() {
            [] => regular(crlf, 0, false),
            // One line: width 0 ("unwrapped") so that a long single-line sequence stays short.
            [r] if r.count == 1 && r.len > 0 && end_ok(r.end) => {
                regular(crlf, 0, r.end == LineEnd::Missing)
            }
            [r] if r.len > 0 && r.end == header_end && usize::try_from(r.len).is_ok() => {
                regular(crlf, r.len as usize, false)
            }
            [full, last]
                if full.len > 0
                    && full.end == header_end
                    && last.count == 1
                    && last.len > 0
                    && last.len <= full.len
                    && end_ok(last.end)
                    && usize::try_from(full.len).is_ok() =>
            {
                regular(crlf, full.len as usize, last.end == LineEnd::Missing)
            }
            _ => Layout {
                repr: Repr::Lines {
                    header_end,
                    runs: runs.clone().into_boxed_slice(),
                },
            },
        }
    }

    /// Heap bytes owned (for memory accounting).
    pub fn heap_bytes(&self) -> usize {
        match &self.repr {
            Repr::Regular { .. } => 0,
            Repr::Lines { runs, .. } => std::mem::size_of_val(&**runs),
        }
    }

    /// True when the layout is one width and one line-end kind, no blank lines.
    pub fn is_regular(&self) -> bool {
        matches!(self.repr, Repr::Regular { .. })
    }

    /// The wrap width of a regular layout with more than one sequence line; `None` for a
    /// single-line or empty sequence and for irregular layouts.
    pub fn line_width(&self) -> Option<usize> {
        match self.repr {
            Repr::Regular { width, .. } if width > 0 => Some(width),
            _ => None,
        }
    }

    /// Append a compact, self-delimiting encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match &self.repr {
            Repr::Regular { crlf, width, open } => {
                let mut tag = 0;
                if *crlf {
                    tag |= TAG_CRLF;
                }
                if *open {
                    tag |= TAG_OPEN;
                }
                out.push(tag);
                put_varint(out, *width as u64);
            }
            Repr::Lines { header_end, runs } => {
                out.push(TAG_LINES | header_end.code());
                put_varint(out, runs.len() as u64);
                for r in runs.iter() {
                    put_varint(out, r.count);
                    put_varint(out, (r.len << 2) | u64::from(r.end.code()));
                }
            }
        }
    }

    /// Decode from the start of `buf`; returns the layout and the bytes consumed. Never panics,
    /// never allocates more than `buf` can justify.
    pub fn decode(buf: &[u8]) -> Result<(Layout, usize), LayoutError> {
        let mut pos = 0;
        let tag = *buf
            .first()
            .ok_or_else(|| LayoutError("layout: truncated (no tag byte)".into()))?;
        pos += 1;
        if tag & TAG_LINES == 0 {
            if tag & !(TAG_CRLF | TAG_OPEN) != 0 {
                return Err(LayoutError(format!("layout: bad tag byte 0x{tag:02X}")));
            }
            let width = get_varint(buf, &mut pos)?;
            let width = usize::try_from(width)
                .map_err(|_| LayoutError(format!("layout: line width {width} too large")))?;
            let repr = Repr::Regular {
                crlf: tag & TAG_CRLF != 0,
                width,
                open: tag & TAG_OPEN != 0,
            };
            return Ok((Layout { repr }, pos));
        }
        let header_end = LineEnd::from_code(u64::from(tag & !TAG_LINES))
            .ok_or_else(|| LayoutError(format!("layout: bad tag byte 0x{tag:02X}")))?;
        let n_runs = get_varint(buf, &mut pos)?;
        // Each run takes at least two bytes, so the rest of `buf` bounds the allocation.
        let cap = (n_runs).min(((buf.len() - pos) / 2) as u64) as usize;
        let mut runs = LineRuns {
            runs: Vec::with_capacity(cap),
        };
        for _ in 0..n_runs {
            let count = get_varint(buf, &mut pos)?;
            let len_end = get_varint(buf, &mut pos)?;
            let end = LineEnd::from_code(len_end & 3)
                .ok_or_else(|| LayoutError("layout: bad line end code 3".into()))?;
            if count == 0 {
                return Err(LayoutError("layout: empty run of lines".into()));
            }
            // Pushed one at a time so that equal neighbours merge, as the scanner would.
            let run = Run {
                count,
                len: len_end >> 2,
                end,
            };
            match runs.runs.last_mut() {
                Some(last) if last.len == run.len && last.end == run.end => {
                    last.count = last
                        .count
                        .checked_add(count)
                        .ok_or_else(|| LayoutError("layout: line count overflows".into()))?;
                }
                _ => runs.runs.push(run),
            }
        }
        check_runs(header_end, &runs.runs)?;
        Ok((Layout::from_runs(header_end, &runs), pos))
    }

    /// Write the record exactly as it was: `>` + header + line end + sequence lines.
    /// Fails if the layout's residue count differs from `seq.len()`.
    pub fn render(&self, header: &[u8], seq: &[u8], out: &mut Vec<u8>) -> Result<(), LayoutError> {
        match &self.repr {
            Repr::Regular { crlf, width, open } => {
                let end: &[u8] = if *crlf { b"\r\n" } else { b"\n" };
                let width = if *width == 0 {
                    seq.len().max(1)
                } else {
                    *width
                };
                let n_lines = seq.len().div_ceil(width);
                // Residues + one line end per line (+ header line end), minus the open one.
                let total = (1 + header.len() + seq.len()) as u128
                    + (n_lines as u128 + 1) * end.len() as u128;
                reserve(out, total)?;
                out.push(b'>');
                out.extend_from_slice(header);
                if seq.is_empty() {
                    if !open {
                        out.extend_from_slice(end);
                    }
                    return Ok(());
                }
                out.extend_from_slice(end);
                let mut lines = seq.chunks(width).peekable();
                while let Some(line) = lines.next() {
                    out.extend_from_slice(line);
                    if !(*open && lines.peek().is_none()) {
                        out.extend_from_slice(end);
                    }
                }
                Ok(())
            }
            Repr::Lines { header_end, runs } => {
                let mut residues: u128 = 0;
                let mut total: u128 = 1 + header.len() as u128 + header_end.bytes().len() as u128;
                for r in runs.iter() {
                    residues += u128::from(r.count) * u128::from(r.len);
                    total +=
                        u128::from(r.count) * (u128::from(r.len) + r.end.bytes().len() as u128);
                }
                if residues != seq.len() as u128 {
                    return Err(LayoutError(format!(
                        "layout describes {residues} residues but the sequence has {}",
                        seq.len()
                    )));
                }
                // A corrupt file can claim billions of blank lines; refuse what cannot be held
                // instead of aborting on allocation failure.
                reserve(out, total)?;
                out.push(b'>');
                out.extend_from_slice(header);
                out.extend_from_slice(header_end.bytes());
                let mut pos = 0;
                for r in runs.iter() {
                    // residues == seq.len() was checked, so each len fits usize and slicing holds.
                    let len = r.len as usize;
                    for _ in 0..r.count {
                        out.extend_from_slice(&seq[pos..pos + len]);
                        out.extend_from_slice(r.end.bytes());
                        pos += len;
                    }
                }
                Ok(())
            }
        }
    }
}

/// Rejects line lists no FASTA record has: a missing line end before the last line, an empty
/// last line without a line end, sequence lines after a header with no line end.
fn check_runs(header_end: LineEnd, runs: &[Run]) -> Result<(), LayoutError> {
    if header_end == LineEnd::Missing && !runs.is_empty() {
        return Err(LayoutError(
            "layout: sequence lines after a header without a line end".into(),
        ));
    }
    let mut residues: u64 = 0;
    for (i, r) in runs.iter().enumerate() {
        if r.count == 0 {
            return Err(LayoutError("layout: empty run of lines".into()));
        }
        if r.end == LineEnd::Missing && (i + 1 != runs.len() || r.count != 1 || r.len == 0) {
            return Err(LayoutError(
                "layout: missing line end before the last line".into(),
            ));
        }
        residues = r
            .count
            .checked_mul(r.len)
            .and_then(|n| n.checked_add(residues))
            .filter(|&n| usize::try_from(n).is_ok())
            .ok_or_else(|| LayoutError("layout: residue count overflows".into()))?;
    }
    Ok(())
}

fn reserve(out: &mut Vec<u8>, total: u128) -> Result<(), LayoutError> {
    usize::try_from(total)
        .ok()
        .and_then(|n| out.try_reserve(n).ok())
        .ok_or_else(|| LayoutError(format!("layout: record of {total} bytes cannot be held")))
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(buf: &[u8], pos: &mut usize) -> Result<u64, LayoutError> {
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let b = *buf
            .get(*pos)
            .ok_or_else(|| LayoutError("layout: truncated".into()))?;
        *pos += 1;
        let bits = u64::from(b & 0x7F);
        if shift == 63 && bits > 1 {
            return Err(LayoutError("layout: varint overflows".into()));
        }
        v |= bits << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(LayoutError("layout: varint overflows".into()))
}

/// Write a normalised record: `>` + header + `\n`, then residues in lines of `width`
/// (0 = one line), each ending in `\n`. An empty sequence writes the header line only.
pub fn render_wrapped(header: &[u8], seq: &[u8], width: usize, out: &mut Vec<u8>) {
    let width = if width == 0 { seq.len().max(1) } else { width };
    out.reserve(2 + header.len() + seq.len() + seq.len().div_ceil(width));
    out.push(b'>');
    out.extend_from_slice(header);
    out.push(b'\n');
    for line in seq.chunks(width) {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lay(header_end: LineEnd, lines: &[(usize, LineEnd)]) -> Layout {
        Layout::from_lines(header_end, lines.iter().copied()).unwrap()
    }

    fn render(l: &Layout, header: &[u8], seq: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        l.render(header, seq, &mut out).unwrap();
        out
    }

    fn roundtrip(l: &Layout) -> Vec<u8> {
        let mut enc = Vec::new();
        l.encode(&mut enc);
        enc.extend_from_slice(b"trailing");
        let (back, used) = Layout::decode(&enc).unwrap();
        assert_eq!(&back, l);
        assert_eq!(&enc[used..], b"trailing");
        enc.truncate(used);
        enc
    }

    use LineEnd::{CrLf, Lf, Missing};

    #[test]
    fn regular_wrapped_lf() {
        let l = lay(Lf, &[(4, Lf), (4, Lf), (2, Lf)]);
        assert!(l.is_regular());
        assert_eq!(l.line_width(), Some(4));
        assert_eq!(
            render(&l, b"id x", b"ACGTACGTAC"),
            b">id x\nACGT\nACGT\nAC\n"
        );
        assert_eq!(roundtrip(&l), [0x00, 4]);
    }

    #[test]
    fn regular_crlf_open_last_line() {
        let l = lay(CrLf, &[(3, CrLf), (3, Missing)]);
        assert!(l.is_regular());
        assert_eq!(render(&l, b"a", b"MKVLAA"), b">a\r\nMKV\r\nLAA");
        assert_eq!(roundtrip(&l), [TAG_CRLF | TAG_OPEN, 3]);
    }

    #[test]
    fn single_line_and_empty_and_headerless_end() {
        let one = lay(Lf, &[(5_000_000, Lf)]);
        assert!(one.is_regular());
        assert_eq!(one.line_width(), None);
        assert_eq!(roundtrip(&one).len(), 2);
        let empty = lay(CrLf, &[]);
        assert_eq!(render(&empty, b"h", b""), b">h\r\n");
        let bare = lay(Missing, &[]);
        assert!(bare.is_regular());
        assert_eq!(render(&bare, b"h", b""), b">h");
    }

    #[test]
    fn irregular_layouts_render_exactly() {
        type Case = (LineEnd, Vec<(usize, LineEnd)>, &'static [u8], &'static [u8]);
        let cases: Vec<Case> = vec![
            (
                Lf,
                vec![(2, Lf), (0, Lf), (2, Lf)],
                b"ACGT",
                b">h\nAC\n\nGT\n",
            ),
            (Lf, vec![(2, Lf), (2, CrLf)], b"ACGT", b">h\nAC\nGT\r\n"),
            (CrLf, vec![(2, Lf)], b"AC", b">h\r\nAC\n"),
            (Lf, vec![(1, Lf), (3, Lf)], b"ACGT", b">h\nA\nCGT\n"),
            (
                Lf,
                vec![(4, Lf), (0, Lf), (0, Lf)],
                b"ACGT",
                b">h\nACGT\n\n\n",
            ),
            (Lf, vec![(0, Lf)], b"", b">h\n\n"),
        ];
        for (he, lines, seq, want) in cases {
            let l = lay(he, &lines);
            assert!(!l.is_regular(), "{lines:?}");
            assert_eq!(render(&l, b"h", seq), want);
            roundtrip(&l);
        }
    }

    #[test]
    fn render_checks_residue_count() {
        let l = lay(Lf, &[(2, Lf), (0, Lf)]);
        let mut out = Vec::new();
        assert!(l.render(b"h", b"ACG", &mut out).is_err());
        assert!(l.render(b"h", b"A", &mut out).is_err());
    }

    #[test]
    fn from_lines_rejects_impossible_records() {
        assert!(Layout::from_lines(Lf, [(2, Missing), (2, Lf)]).is_err());
        assert!(Layout::from_lines(Lf, [(0, Missing)]).is_err());
        assert!(Layout::from_lines(Missing, [(2, Lf)]).is_err());
    }

    #[test]
    fn decode_rejects_garbage() {
        assert!(Layout::decode(&[]).is_err());
        assert!(Layout::decode(&[0x00]).is_err());
        assert!(Layout::decode(&[0x04, 1]).is_err());
        assert!(Layout::decode(&[0x83]).is_err());
        // Claims 2^62 runs with nothing behind them: must fail fast, not allocate.
        assert!(
            Layout::decode(&[0x80, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F]).is_err()
        );
        // Varint longer than 64 bits.
        assert!(Layout::decode(&[
            0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02
        ])
        .is_err());
    }

    #[test]
    fn huge_blank_line_claim_is_an_error_not_an_abort() {
        // One run of 2^60 blank lines.
        let mut enc = vec![0x80];
        put_varint(&mut enc, 1);
        put_varint(&mut enc, 1 << 60);
        put_varint(&mut enc, 0);
        let (l, _) = Layout::decode(&enc).unwrap();
        assert!(l.render(b"h", b"", &mut Vec::new()).is_err());
    }

    #[test]
    fn wrapped() {
        let mut out = Vec::new();
        render_wrapped(b"x", b"ACGTA", 2, &mut out);
        render_wrapped(b"y", b"ACGTA", 0, &mut out);
        render_wrapped(b"z", b"", 3, &mut out);
        assert_eq!(out, b">x\nAC\nGT\nA\n>y\nACGTA\n>z\n");
    }
}
