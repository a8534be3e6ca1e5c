//! The deltas file: magic + version header, then zstd-compressed frames of entries (one entry per
//! input record, input order), each frame checksummed, then a trailer frame with totals and the
//! checksums that tie it to its input and reduced FASTA. Frame boundaries depend only on the
//! entries, never on thread count or chunk size, so the file is byte-identical across runs.
//! The reader trusts nothing: every length is capped, every frame is checked against its crc32,
//! and memory grows only as decompressed data actually arrives — corrupt input is an error, never a
//! panic or a huge allocation.
//!
//! Layout (all integers little-endian; `varint` = unsigned LEB128, minimal, at most 10 bytes):
//!
//! ```text
//! file    = MAGIC "TLRDELTA" · VERSION u16 · varint n · header record (n bytes) · crc32(record) u32
//!           · entries-frame* · trailer-frame
//! record  = alphabet u8 ('p' | 'n') · threshold f64 · coverage f64 · (future fields, ignored)
//! frame   = kind u8 (1 entries, 2 trailer) · varint uncompressed length · varint compressed length
//!           · crc32(uncompressed payload) u32 · zstd frame (level 3, window <= 2 MiB)
//! entry   = 0 · varint len · bytes                                        (preamble)
//!         | 1 · crc u32                                                   (representative)
//!         | 2 · varint rep · varint len · header · varint len · layout
//!             · varint len · delta · varint seq_len                       (member)
//! trailer = varint records · varint representatives · varint members
//!           · varint input_bytes · input_xxh3 u64 · varint reduced_bytes · reduced_xxh3 u64
//! ```

use std::io::{self, Read, Write};

use crate::bio::alphabet::Alphabet;
use zstd::stream::raw::{InBuffer, Operation, OutBuffer};
use zstd::zstd_safe::{CParameter, DParameter};

pub const MAGIC: &[u8; 8] = b"TLRDELTA";
pub const VERSION: u16 = 1;

/// A frame is flushed once it holds this many entries...
pub const FRAME_MAX_ENTRIES: usize = 8192;
/// ...or before the next entry would take its uncompressed payload past this many bytes. 4 MiB
/// keeps a frame's working set small while giving zstd enough context to find repeated headers.
pub const FRAME_TARGET_BYTES: usize = 4 << 20;
/// The reader's cap on one frame's uncompressed payload. Only a single oversized entry (a huge
/// record encoded against an unrelated representative) ever makes a frame larger than
/// `FRAME_TARGET_BYTES`; the writer refuses entries larger than this.
pub const MAX_FRAME_PAYLOAD: usize = 1 << 30;
/// zstd window (log2 bytes) the writer uses and the reader accepts: a hostile frame cannot make the
/// decoder reserve more than this.
const ZSTD_WINDOW_LOG: u32 = 21;
const ZSTD_LEVEL: i32 = 3;
/// Compressed size cap: zstd's worst-case expansion of `MAX_FRAME_PAYLOAD` is well under 1/64.
const MAX_FRAME_COMPRESSED: u64 = (MAX_FRAME_PAYLOAD as u64) + (MAX_FRAME_PAYLOAD as u64 >> 6);
/// The trailer holds 7 fields, at most 66 bytes; anything larger is not a trailer.
const MAX_TRAILER_PAYLOAD: u64 = 128;
/// Header record: today 17 bytes; the length prefix leaves room for fields a later version adds.
const HEADER_RECORD_LEN: usize = 17;
const MAX_HEADER_RECORD: u64 = 4096;

const KIND_ENTRIES: u8 = 1;
const KIND_TRAILER: u8 = 2;
const TAG_PREAMBLE: u8 = 0;
const TAG_REPRESENTATIVE: u8 = 1;
const TAG_MEMBER: u8 = 2;

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

/// Entries seen so far; the writer and the reader both check the trailer against these.
#[derive(Debug, Default)]
struct Tally {
    entries: u64,
    representatives: u64,
    members: u64,
    /// One past the highest representative number a member refers to.
    reps_referenced: u64,
}

impl Tally {
    /// Counts `entry`; says why it cannot come next, if it cannot.
    fn add(&mut self, entry: &Entry) -> Result<(), &'static str> {
        match entry {
            Entry::Preamble(_) if self.entries > 0 => {
                return Err("a preamble may only be the first entry")
            }
            Entry::Preamble(_) => {}
            Entry::Representative { .. } => self.representatives += 1,
            Entry::Member { rep, .. } => {
                self.members += 1;
                self.reps_referenced = self.reps_referenced.max(rep.saturating_add(1));
            }
        }
        self.entries += 1;
        Ok(())
    }

    /// Why `trailer` does not describe the entries seen, if it does not.
    fn mismatch(&self, trailer: &Trailer) -> Option<String> {
        if trailer.representatives != self.representatives {
            Some(format!(
                "trailer counts {} representatives, the file holds {}",
                trailer.representatives, self.representatives
            ))
        } else if trailer.members != self.members {
            Some(format!(
                "trailer counts {} members, the file holds {}",
                trailer.members, self.members
            ))
        } else if trailer.records != self.representatives + self.members {
            Some(format!(
                "trailer counts {} records, the file holds {}",
                trailer.records,
                self.representatives + self.members
            ))
        } else if self.reps_referenced > self.representatives {
            Some(format!(
                "a member refers to representative {} but there are only {}",
                self.reps_referenced - 1,
                self.representatives
            ))
        } else {
            None
        }
    }
}

/// Streams entries into a deltas file. Dropping it without `finish` leaves a file the reader
/// reports as truncated.
pub struct DeltaWriter<W: Write> {
    inner: W,
    /// Uncompressed payload of the frame being filled.
    payload: Vec<u8>,
    frame_entries: usize,
    compressed: Vec<u8>,
    compressor: zstd::bulk::Compressor<'static>,
    tally: Tally,
}

impl<W: Write> DeltaWriter<W> {
    pub fn new(mut inner: W, header: &FileHeader) -> std::io::Result<Self> {
        if !plausible_header(header) {
            return Err(invalid_input(format!(
                "deltas header out of range: threshold {} (needs 0 < t <= 1), coverage {} \
                 (needs 0 <= c <= 1)",
                header.threshold, header.coverage
            )));
        }
        let mut record = Vec::with_capacity(HEADER_RECORD_LEN);
        record.push(alphabet_code(header.alphabet));
        record.extend_from_slice(&header.threshold.to_le_bytes());
        record.extend_from_slice(&header.coverage.to_le_bytes());
        let mut head = Vec::with_capacity(64);
        head.extend_from_slice(MAGIC);
        head.extend_from_slice(&VERSION.to_le_bytes());
        put_varint(&mut head, record.len() as u64);
        head.extend_from_slice(&record);
        head.extend_from_slice(&crc32fast::hash(&record).to_le_bytes());
        inner.write_all(&head)?;

        // Single-threaded level 3 with a fixed window: the bytes depend only on the payload (and
        // the zstd version), and the reader can cap its window at the same size.
        let mut compressor = zstd::bulk::Compressor::new(ZSTD_LEVEL)?;
        compressor.set_parameter(CParameter::WindowLog(ZSTD_WINDOW_LOG))?;
        compressor.set_parameter(CParameter::ChecksumFlag(false))?;
        compressor.set_parameter(CParameter::ContentSizeFlag(true))?;
        Ok(DeltaWriter {
            inner,
            payload: Vec::new(),
            frame_entries: 0,
            compressed: Vec::new(),
            compressor,
            tally: Tally::default(),
        })
    }

    pub fn write_entry(&mut self, entry: &Entry) -> std::io::Result<()> {
        let size = encoded_len(entry);
        if size > MAX_FRAME_PAYLOAD {
            return Err(invalid_input(format!(
                "deltas entry of {size} bytes exceeds the format's {MAX_FRAME_PAYLOAD}-byte frame \
                 limit"
            )));
        }
        self.tally.add(entry).map_err(invalid_input)?;
        // The flush rule looks only at the entries, so callers may write in any batching.
        if self.frame_entries > 0 && self.payload.len() + size > FRAME_TARGET_BYTES {
            self.flush_frame()?;
        }
        encode_entry(&mut self.payload, entry);
        self.frame_entries += 1;
        if self.frame_entries >= FRAME_MAX_ENTRIES {
            self.flush_frame()?;
        }
        Ok(())
    }

    /// Flush the last frame, write the trailer, return the inner writer.
    pub fn finish(mut self, trailer: &Trailer) -> std::io::Result<W> {
        if let Some(why) = self.tally.mismatch(trailer) {
            return Err(invalid_input(format!("inconsistent deltas trailer: {why}")));
        }
        if self.frame_entries > 0 {
            self.flush_frame()?;
        }
        let mut payload = Vec::with_capacity(MAX_TRAILER_PAYLOAD as usize);
        encode_trailer(&mut payload, trailer);
        self.write_frame(KIND_TRAILER, &payload)?;
        self.inner.flush()?;
        Ok(self.inner)
    }

    fn flush_frame(&mut self) -> io::Result<()> {
        let payload = std::mem::take(&mut self.payload);
        let result = self.write_frame(KIND_ENTRIES, &payload);
        self.payload = payload;
        self.payload.clear();
        // An oversized single entry must not pin its buffer for the rest of the file.
        if self.payload.capacity() > 2 * FRAME_TARGET_BYTES {
            self.payload.shrink_to(FRAME_TARGET_BYTES);
        }
        self.frame_entries = 0;
        result
    }

    fn write_frame(&mut self, kind: u8, payload: &[u8]) -> io::Result<()> {
        self.compressed.clear();
        self.compressed
            .reserve(zstd::zstd_safe::compress_bound(payload.len()));
        self.compressor
            .compress_to_buffer(payload, &mut self.compressed)?;
        let mut head = Vec::with_capacity(32);
        head.push(kind);
        put_varint(&mut head, payload.len() as u64);
        put_varint(&mut head, self.compressed.len() as u64);
        head.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        self.inner.write_all(&head)?;
        self.inner.write_all(&self.compressed)?;
        if self.compressed.capacity() > 2 * FRAME_TARGET_BYTES {
            self.compressed.shrink_to(FRAME_TARGET_BYTES);
        }
        Ok(())
    }
}

/// Reads a deltas file entry by entry, holding one frame in memory.
pub struct DeltaReader<R: Read> {
    inner: R,
    /// Bytes consumed from `inner` so far (error offsets).
    offset: u64,
    /// File offset of the frame whose payload is being read.
    frame_offset: u64,
    compressed: Vec<u8>,
    payload: Vec<u8>,
    /// Cursor in `payload`; entries are decoded lazily from here.
    pos: usize,
    frame_entry: u64,
    decoder: zstd::stream::raw::Decoder<'static>,
    tally: Tally,
    trailer: Option<Trailer>,
    /// Set after the first error: the stream position is then meaningless.
    failed: bool,
}

impl<R: Read> DeltaReader<R> {
    pub fn new(inner: R) -> Result<(Self, FileHeader), DeltaFileError> {
        let mut decoder = zstd::stream::raw::Decoder::new()?;
        decoder.set_parameter(DParameter::WindowLogMax(ZSTD_WINDOW_LOG))?;
        let mut reader = DeltaReader {
            inner,
            offset: 0,
            frame_offset: 0,
            compressed: Vec::new(),
            payload: Vec::new(),
            pos: 0,
            frame_entry: 0,
            decoder,
            tally: Tally::default(),
            trailer: None,
            failed: false,
        };
        let header = reader.read_file_header()?;
        Ok((reader, header))
    }

    /// Next entry, or `None` after the trailer (then `trailer()` is available).
    pub fn next_entry(&mut self) -> Result<Option<Entry>, DeltaFileError> {
        if self.failed {
            return Err(DeltaFileError::Corrupt {
                offset: self.offset,
                message: "reading past an earlier error".into(),
            });
        }
        let result = self.advance();
        if result.is_err() {
            self.failed = true;
        }
        result
    }

    pub fn trailer(&self) -> Option<&Trailer> {
        self.trailer.as_ref()
    }

    fn advance(&mut self) -> Result<Option<Entry>, DeltaFileError> {
        loop {
            if self.trailer.is_some() {
                return Ok(None);
            }
            if self.pos < self.payload.len() {
                return self.decode_entry().map(Some);
            }
            self.read_frame()?;
        }
    }

    fn read_file_header(&mut self) -> Result<FileHeader, DeltaFileError> {
        let mut magic = [0u8; 8];
        let got = self.read_up_to(&mut magic)?;
        if magic[..got] != MAGIC[..got] {
            return Err(DeltaFileError::BadMagic);
        }
        if got < magic.len() {
            return Err(DeltaFileError::Truncated);
        }
        let mut version = [0u8; 2];
        self.read_all(&mut version)?;
        let version = u16::from_le_bytes(version);
        if version != VERSION {
            return Err(DeltaFileError::Version(version));
        }
        let at = self.offset;
        let len = self.read_varint()?;
        if !(HEADER_RECORD_LEN as u64..=MAX_HEADER_RECORD).contains(&len) {
            return Err(corrupt(
                at,
                format!("header record length {len} is implausible"),
            ));
        }
        let mut record = vec![0u8; len as usize];
        self.read_all(&mut record)?;
        let mut crc = [0u8; 4];
        self.read_all(&mut crc)?;
        if crc32fast::hash(&record) != u32::from_le_bytes(crc) {
            return Err(corrupt(at, "header checksum mismatch"));
        }
        let alphabet = match record[0] {
            b'p' => Alphabet::Protein,
            b'n' => Alphabet::Nucleotide,
            other => return Err(corrupt(at, format!("unknown alphabet code {other:#04x}"))),
        };
        let f64_at = |i: usize| f64::from_le_bytes(record[i..i + 8].try_into().expect("8 bytes"));
        let header = FileHeader {
            alphabet,
            threshold: f64_at(1),
            coverage: f64_at(9),
        };
        if !plausible_header(&header) {
            return Err(corrupt(
                at,
                format!(
                    "implausible header: threshold {}, coverage {}",
                    header.threshold, header.coverage
                ),
            ));
        }
        Ok(header)
    }

    /// Reads the next frame into `payload`, or the trailer into `trailer`.
    fn read_frame(&mut self) -> Result<(), DeltaFileError> {
        let start = self.offset;
        self.frame_offset = start;
        let mut kind = [0u8; 1];
        self.read_all(&mut kind)?;
        let kind = kind[0];
        let cap = match kind {
            KIND_ENTRIES => MAX_FRAME_PAYLOAD as u64,
            KIND_TRAILER => MAX_TRAILER_PAYLOAD,
            other => return Err(corrupt(start, format!("unknown frame kind {other}"))),
        };
        let ulen = self.read_varint()?;
        if ulen == 0 || ulen > cap {
            return Err(corrupt(
                start,
                format!("frame length {ulen} out of range (1..={cap})"),
            ));
        }
        let clen = self.read_varint()?;
        if clen == 0 || clen > MAX_FRAME_COMPRESSED {
            return Err(corrupt(
                start,
                format!("compressed frame length {clen} out of range"),
            ));
        }
        let mut crc = [0u8; 4];
        self.read_all(&mut crc)?;
        let crc = u32::from_le_bytes(crc);

        // Read the compressed bytes as they come: a lying length costs at most what the file holds.
        self.compressed.clear();
        if self.compressed.capacity() > 2 * FRAME_TARGET_BYTES {
            self.compressed.shrink_to(FRAME_TARGET_BYTES);
        }
        self.compressed
            .reserve(clen.min(FRAME_TARGET_BYTES as u64) as usize);
        let got = (&mut self.inner)
            .take(clen)
            .read_to_end(&mut self.compressed)?;
        self.offset += got as u64;
        if (got as u64) < clen {
            return Err(DeltaFileError::Truncated);
        }
        self.decompress(ulen as usize)
            .map_err(|message| corrupt(start, message))?;
        if crc32fast::hash(&self.payload) != crc {
            return Err(corrupt(start, "frame checksum mismatch"));
        }
        self.pos = 0;
        self.frame_entry = 0;
        if kind == KIND_TRAILER {
            self.finish_trailer(start)?;
        }
        Ok(())
    }

    /// Decompresses `compressed` into `payload`, which must come out exactly `expected` bytes.
    /// The buffer grows only as output arrives, so a lying length cannot force a big allocation.
    fn decompress(&mut self, expected: usize) -> Result<(), String> {
        self.payload.clear();
        if self.payload.capacity() > 2 * FRAME_TARGET_BYTES {
            self.payload.shrink_to(FRAME_TARGET_BYTES);
        }
        self.decoder.reinit().map_err(|e| format!("zstd: {e}"))?;
        let mut in_pos = 0;
        loop {
            if self.payload.len() == self.payload.capacity() {
                if self.payload.len() > expected {
                    break;
                }
                // Double, but never past one byte more than declared (the byte that proves a lie).
                let room =
                    (expected + 1 - self.payload.len()).min(self.payload.len().max(64 << 10));
                self.payload.reserve_exact(room);
            }
            let before = self.payload.len();
            let mut input = InBuffer::around(&self.compressed[in_pos..]);
            let mut output = OutBuffer::around_pos(&mut self.payload, before);
            let remaining = self
                .decoder
                .run(&mut input, &mut output)
                .map_err(|e| format!("zstd: {e}"))?;
            let written = output.pos() - before;
            drop(output);
            let read = input.pos();
            in_pos += read;
            if self.payload.len() > expected || remaining == 0 {
                break;
            }
            if read == 0 && written == 0 {
                return Err("compressed payload ends early".into());
            }
        }
        if self.payload.len() != expected {
            return Err(format!(
                "frame declares {expected} bytes but holds {}{}",
                if self.payload.len() > expected {
                    "more than "
                } else {
                    ""
                },
                self.payload.len().min(expected)
            ));
        }
        if in_pos != self.compressed.len() {
            return Err("unexpected bytes after the compressed payload".into());
        }
        Ok(())
    }

    fn finish_trailer(&mut self, start: u64) -> Result<(), DeltaFileError> {
        let mut cursor = Cursor::new(&self.payload);
        let trailer =
            decode_trailer(&mut cursor).map_err(|m| corrupt(start, format!("trailer: {m}")))?;
        if !cursor.is_empty() {
            return Err(corrupt(start, "trailer has unexpected extra bytes"));
        }
        if let Some(why) = self.tally.mismatch(&trailer) {
            return Err(corrupt(start, why));
        }
        let mut probe = [0u8; 1];
        if self.read_up_to(&mut probe)? > 0 {
            return Err(corrupt(
                self.offset - 1,
                "unexpected data after the trailer",
            ));
        }
        self.payload.clear();
        self.pos = 0;
        self.trailer = Some(trailer);
        Ok(())
    }

    fn decode_entry(&mut self) -> Result<Entry, DeltaFileError> {
        let mut cursor = Cursor::new(&self.payload[self.pos..]);
        let decoded = decode_entry(&mut cursor);
        let used = cursor.used();
        let at = self.pos;
        let entry = decoded.and_then(|entry| match self.tally.add(&entry) {
            Ok(()) => Ok(entry),
            Err(why) => Err(why.to_string()),
        });
        match entry {
            Ok(entry) => {
                self.pos += used;
                self.frame_entry += 1;
                Ok(entry)
            }
            Err(message) => Err(corrupt(
                self.frame_offset,
                format!(
                    "entry {} of the frame (payload byte {at}): {message}",
                    self.frame_entry
                ),
            )),
        }
    }

    /// Fills `buf`; running out of file here means the file was cut short.
    fn read_all(&mut self, buf: &mut [u8]) -> Result<(), DeltaFileError> {
        if self.read_up_to(buf)? < buf.len() {
            return Err(DeltaFileError::Truncated);
        }
        Ok(())
    }

    /// Reads until `buf` is full or the file ends; returns the bytes read.
    fn read_up_to(&mut self, buf: &mut [u8]) -> Result<usize, DeltaFileError> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.inner.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.offset += filled as u64;
        Ok(filled)
    }

    fn read_varint(&mut self) -> Result<u64, DeltaFileError> {
        let at = self.offset;
        let mut bytes = [0u8; 10];
        for i in 0..bytes.len() {
            self.read_all(&mut bytes[i..=i])?;
            if bytes[i] & 0x80 == 0 {
                let mut cursor = Cursor::new(&bytes[..=i]);
                return cursor.varint().map_err(|m| corrupt(at, m));
            }
        }
        Err(corrupt(at, "varint longer than 10 bytes"))
    }
}

fn corrupt(offset: u64, message: impl Into<String>) -> DeltaFileError {
    DeltaFileError::Corrupt {
        offset,
        message: message.into(),
    }
}

fn invalid_input(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message.into())
}

fn plausible_header(header: &FileHeader) -> bool {
    header.threshold > 0.0 && header.threshold <= 1.0 && (0.0..=1.0).contains(&header.coverage)
}

fn alphabet_code(alphabet: Alphabet) -> u8 {
    match alphabet {
        Alphabet::Protein => b'p',
        Alphabet::Nucleotide => b'n',
    }
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn varint_len(value: u64) -> usize {
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

/// Exact size of `entry` once encoded (decides frame boundaries before encoding).
fn encoded_len(entry: &Entry) -> usize {
    let bytes = |b: &[u8]| varint_len(b.len() as u64) + b.len();
    1 + match entry {
        Entry::Preamble(bytes_) => bytes(bytes_),
        Entry::Representative { .. } => 4,
        Entry::Member {
            rep,
            header,
            layout,
            delta,
            seq_len,
        } => varint_len(*rep) + bytes(header) + bytes(layout) + bytes(delta) + varint_len(*seq_len),
    }
}

fn encode_entry(out: &mut Vec<u8>, entry: &Entry) {
    let put_bytes = |out: &mut Vec<u8>, b: &[u8]| {
        put_varint(out, b.len() as u64);
        out.extend_from_slice(b);
    };
    match entry {
        Entry::Preamble(bytes) => {
            out.push(TAG_PREAMBLE);
            put_bytes(out, bytes);
        }
        Entry::Representative { crc } => {
            out.push(TAG_REPRESENTATIVE);
            out.extend_from_slice(&crc.to_le_bytes());
        }
        Entry::Member {
            rep,
            header,
            layout,
            delta,
            seq_len,
        } => {
            out.push(TAG_MEMBER);
            put_varint(out, *rep);
            put_bytes(out, header);
            put_bytes(out, layout);
            put_bytes(out, delta);
            put_varint(out, *seq_len);
        }
    }
}

fn encode_trailer(out: &mut Vec<u8>, t: &Trailer) {
    put_varint(out, t.records);
    put_varint(out, t.representatives);
    put_varint(out, t.members);
    put_varint(out, t.input_bytes);
    out.extend_from_slice(&t.input_xxh3.to_le_bytes());
    put_varint(out, t.reduced_bytes);
    out.extend_from_slice(&t.reduced_xxh3.to_le_bytes());
}

fn decode_entry(c: &mut Cursor<'_>) -> Result<Entry, String> {
    match c.byte()? {
        TAG_PREAMBLE => Ok(Entry::Preamble(c.bytes()?.to_vec())),
        TAG_REPRESENTATIVE => Ok(Entry::Representative { crc: c.u32()? }),
        TAG_MEMBER => Ok(Entry::Member {
            rep: c.varint()?,
            header: c.bytes()?.to_vec(),
            layout: c.bytes()?.to_vec(),
            delta: c.bytes()?.to_vec(),
            seq_len: c.varint()?,
        }),
        tag => Err(format!("unknown entry tag {tag}")),
    }
}

fn decode_trailer(c: &mut Cursor<'_>) -> Result<Trailer, String> {
    Ok(Trailer {
        records: c.varint()?,
        representatives: c.varint()?,
        members: c.varint()?,
        input_bytes: c.varint()?,
        input_xxh3: c.u64()?,
        reduced_bytes: c.varint()?,
        reduced_xxh3: c.u64()?,
    })
}

/// Bounds-checked reads from a decoded payload: every length is checked against what is left.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(data: &'a [u8]) -> Self {
        Cursor { data, pos: 0 }
    }
    fn used(&self) -> usize {
        self.pos
    }
    fn is_empty(&self) -> bool {
        self.pos == self.data.len()
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let left = self.data.len() - self.pos;
        if n > left {
            return Err(format!("needs {n} bytes, only {left} left in the frame"));
        }
        let slice = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(slice)
    }
    fn byte(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    /// Minimal LEB128: overlong or overflowing encodings are corruption, not alternative spellings.
    fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for i in 0..10 {
            let b = self.byte()?;
            if i == 9 && b > 1 {
                return Err("varint overflows 64 bits".into());
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                if b == 0 && i > 0 {
                    return Err("overlong varint".into());
                }
                return Ok(value);
            }
        }
        Err("varint longer than 10 bytes".into())
    }
    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let len = self.varint()?;
        let len = usize::try_from(len).map_err(|_| format!("length {len} too large"))?;
        self.take(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn header() -> FileHeader {
        FileHeader {
            alphabet: Alphabet::Protein,
            threshold: 0.9,
            coverage: 0.8,
        }
    }

    /// A deterministic mix of entries; members carry varied, partly random bytes.
    fn sample_entries(n: usize) -> Vec<Entry> {
        let mut state = 0x1234_5678_9abc_def0u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut entries = vec![Entry::Preamble(b"\n\n".to_vec())];
        let mut reps = 0u64;
        for i in 0..n {
            if i % 5 == 0 {
                entries.push(Entry::Representative { crc: next() as u32 });
                reps += 1;
            } else {
                let r = next();
                let delta: Vec<u8> = (0..(r % 40) as usize).map(|_| next() as u8).collect();
                entries.push(Entry::Member {
                    rep: r % reps,
                    header: format!("sp|P{i:06}|PROT_{i} some protein OS=Homo sapiens")
                        .into_bytes(),
                    layout: vec![60],
                    delta,
                    seq_len: 100 + r % 900,
                });
            }
        }
        entries
    }

    fn trailer_for(entries: &[Entry]) -> Trailer {
        let reps = entries
            .iter()
            .filter(|e| matches!(e, Entry::Representative { .. }))
            .count() as u64;
        let members = entries
            .iter()
            .filter(|e| matches!(e, Entry::Member { .. }))
            .count() as u64;
        Trailer {
            records: reps + members,
            representatives: reps,
            members,
            input_bytes: 123_456_789,
            input_xxh3: 0xdead_beef_cafe_f00d,
            reduced_bytes: 42,
            reduced_xxh3: u64::MAX,
        }
    }

    fn write_all(entries: &[Entry]) -> Vec<u8> {
        let mut w = DeltaWriter::new(Vec::new(), &header()).unwrap();
        for e in entries {
            w.write_entry(e).unwrap();
        }
        w.finish(&trailer_for(entries)).unwrap()
    }

    fn read_all(bytes: &[u8]) -> Result<(FileHeader, Vec<Entry>, Trailer), DeltaFileError> {
        let (mut r, h) = DeltaReader::new(bytes)?;
        let mut out = Vec::new();
        while let Some(e) = r.next_entry()? {
            out.push(e);
        }
        let t = r.trailer().cloned().expect("trailer after None");
        Ok((h, out, t))
    }

    /// Counts frames by walking the frame headers (test-only view of the layout).
    fn frame_kinds(bytes: &[u8]) -> Vec<u8> {
        let mut c = Cursor::new(bytes);
        c.take(10).unwrap();
        let n = c.varint().unwrap() as usize;
        c.take(n + 4).unwrap();
        let mut kinds = Vec::new();
        while !c.is_empty() {
            kinds.push(c.byte().unwrap());
            c.varint().unwrap();
            let clen = c.varint().unwrap() as usize;
            c.take(4 + clen).unwrap();
        }
        kinds
    }

    #[test]
    fn round_trip_across_many_frames() {
        let entries = sample_entries(3 * FRAME_MAX_ENTRIES + 17);
        let bytes = write_all(&entries);
        assert_eq!(
            frame_kinds(&bytes),
            vec![
                KIND_ENTRIES,
                KIND_ENTRIES,
                KIND_ENTRIES,
                KIND_ENTRIES,
                KIND_TRAILER
            ]
        );
        let (h, got, t) = read_all(&bytes).unwrap();
        assert_eq!(h, header());
        assert_eq!(got, entries);
        assert_eq!(t, trailer_for(&entries));
    }

    #[test]
    fn empty_file_round_trips() {
        let bytes = write_all(&[]);
        assert_eq!(frame_kinds(&bytes), vec![KIND_TRAILER]);
        let (_, got, t) = read_all(&bytes).unwrap();
        assert!(got.is_empty());
        assert_eq!(t.records, 0);
    }

    #[test]
    fn header_fields_round_trip() {
        let h = FileHeader {
            alphabet: Alphabet::Nucleotide,
            threshold: 1.0,
            coverage: 0.0,
        };
        let w = DeltaWriter::new(Vec::new(), &h).unwrap();
        let bytes = w.finish(&Trailer::default()).unwrap();
        let (_, got) = DeltaReader::new(&bytes[..]).unwrap();
        assert_eq!(got, h);
    }

    #[test]
    fn output_does_not_depend_on_call_pattern() {
        let entries = sample_entries(FRAME_MAX_ENTRIES + 300);
        let reference = write_all(&entries);
        // Interleave writes with reads of unrelated state and write through a chunky sink:
        // the bytes must not change.
        struct Dribble(Vec<u8>);
        impl Write for Dribble {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                let n = buf.len().min(7);
                self.0.extend_from_slice(&buf[..n]);
                Ok(n)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        for batch in [1usize, 3, 1000, 8191, 8193] {
            let mut w = DeltaWriter::new(Dribble(Vec::new()), &header()).unwrap();
            for chunk in entries.chunks(batch) {
                for e in chunk {
                    w.write_entry(e).unwrap();
                }
            }
            let got = w.finish(&trailer_for(&entries)).unwrap().0;
            assert!(got == reference, "batch {batch} changed the bytes");
        }
    }

    #[test]
    fn large_entries_split_frames_by_size() {
        // 600 KiB headers: 6 fit under 4 MiB, so frames hold 6 entries each.
        let mut entries = vec![Entry::Representative { crc: 1 }];
        for i in 0..20u8 {
            entries.push(Entry::Member {
                rep: 0,
                header: vec![b'A' + i; 600 << 10],
                layout: vec![],
                delta: vec![],
                seq_len: 0,
            });
        }
        let bytes = write_all(&entries);
        assert_eq!(frame_kinds(&bytes).len(), 4 + 1);
        assert_eq!(read_all(&bytes).unwrap().1, entries);
    }

    #[test]
    fn oversized_entry_gets_its_own_frame() {
        let big = Entry::Member {
            rep: 0,
            header: b"big".to_vec(),
            layout: vec![60],
            delta: (0..(FRAME_TARGET_BYTES + 1000))
                .map(|i| (i * 7 % 251) as u8)
                .collect(),
            seq_len: 10_000_000,
        };
        let entries = vec![
            Entry::Representative { crc: 7 },
            big.clone(),
            Entry::Representative { crc: 8 },
        ];
        let bytes = write_all(&entries);
        assert_eq!(frame_kinds(&bytes).len(), 3 + 1);
        assert_eq!(read_all(&bytes).unwrap().1, entries);
    }

    #[test]
    fn writer_refuses_inconsistent_input() {
        let mut w = DeltaWriter::new(Vec::new(), &header()).unwrap();
        w.write_entry(&Entry::Representative { crc: 0 }).unwrap();
        assert!(w.write_entry(&Entry::Preamble(vec![b'\n'])).is_err());

        let w = DeltaWriter::new(Vec::new(), &header()).unwrap();
        let wrong = Trailer {
            records: 1,
            ..Trailer::default()
        };
        assert!(w.finish(&wrong).is_err());

        let bad = FileHeader {
            threshold: 0.0,
            ..header()
        };
        assert!(DeltaWriter::new(Vec::new(), &bad).is_err());
    }

    fn small_file() -> Vec<u8> {
        write_all(&[
            Entry::Preamble(b"\n".to_vec()),
            Entry::Representative { crc: 0xabcd },
            Entry::Member {
                rep: 0,
                header: b"seq2 desc".to_vec(),
                layout: vec![60, 1],
                delta: vec![1, 2, 3],
                seq_len: 77,
            },
            Entry::Representative { crc: 5 },
        ])
    }

    #[test]
    fn every_flipped_byte_is_an_error() {
        let good = small_file();
        assert!(read_all(&good).is_ok());
        for i in 0..good.len() {
            for mask in [0x01u8, 0x80, 0xff] {
                let mut bad = good.clone();
                bad[i] ^= mask;
                assert!(
                    read_all(&bad).is_err(),
                    "flip {mask:#x} at byte {i} went unnoticed"
                );
            }
        }
    }

    #[test]
    fn every_truncation_is_an_error() {
        let good = small_file();
        for len in 0..good.len() {
            match read_all(&good[..len]) {
                Err(DeltaFileError::Truncated) => {}
                other => panic!("truncated at {len}: {other:?}"),
            }
        }
    }

    #[test]
    fn data_after_the_trailer_is_corrupt() {
        let mut bytes = small_file();
        bytes.push(0);
        assert!(matches!(
            read_all(&bytes),
            Err(DeltaFileError::Corrupt { .. })
        ));
    }

    #[test]
    fn bad_magic_and_version_are_named() {
        let mut bytes = small_file();
        bytes[0] = b'X';
        assert!(matches!(read_all(&bytes), Err(DeltaFileError::BadMagic)));
        assert!(matches!(
            read_all(b">seq1\nACGT\n"),
            Err(DeltaFileError::BadMagic)
        ));
        let mut bytes = small_file();
        bytes[8..10].copy_from_slice(&2u16.to_le_bytes());
        assert!(matches!(read_all(&bytes), Err(DeltaFileError::Version(2))));
    }

    #[test]
    fn hostile_lengths_do_not_allocate() {
        // A frame claiming the maximum sizes but holding a few bytes: the reader must fail after
        // reading what is there, without reserving a gigabyte first.
        let mut bytes = write_all(&[]);
        let trailer_at = header_len(&bytes);
        bytes.truncate(trailer_at);
        bytes.push(KIND_ENTRIES);
        put_varint(&mut bytes, MAX_FRAME_PAYLOAD as u64);
        put_varint(&mut bytes, MAX_FRAME_COMPRESSED);
        bytes.extend_from_slice(&[0; 4]);
        bytes.extend_from_slice(&[0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0]);
        let (mut r, _) = DeltaReader::new(&bytes[..]).unwrap();
        assert!(matches!(r.next_entry(), Err(DeltaFileError::Truncated)));
        assert!(r.compressed.capacity() <= FRAME_TARGET_BYTES);
        assert!(r.payload.capacity() <= FRAME_TARGET_BYTES);

        // Claimed length beyond the cap.
        bytes.truncate(trailer_at);
        bytes.push(KIND_ENTRIES);
        put_varint(&mut bytes, MAX_FRAME_PAYLOAD as u64 + 1);
        assert!(matches!(
            read_all(&bytes),
            Err(DeltaFileError::Corrupt { .. })
        ));

        // A valid zstd frame that decompresses to more than declared.
        bytes.truncate(trailer_at);
        let payload = vec![TAG_REPRESENTATIVE, 0, 0, 0, 0].repeat(1000);
        let z = zstd::bulk::compress(&payload, 3).unwrap();
        bytes.push(KIND_ENTRIES);
        put_varint(&mut bytes, 5);
        put_varint(&mut bytes, z.len() as u64);
        bytes.extend_from_slice(&crc32fast::hash(&payload[..5]).to_le_bytes());
        bytes.extend_from_slice(&z);
        assert!(matches!(
            read_all(&bytes),
            Err(DeltaFileError::Corrupt { .. })
        ));
    }

    #[test]
    fn member_pointing_past_the_representatives_is_corrupt() {
        let entries = [
            Entry::Representative { crc: 0 },
            Entry::Member {
                rep: 1,
                header: vec![],
                layout: vec![],
                delta: vec![],
                seq_len: 0,
            },
        ];
        let mut w = DeltaWriter::new(Vec::new(), &header()).unwrap();
        for e in &entries {
            w.write_entry(e).unwrap();
        }
        // The writer refuses the trailer, so such a file can only come from corruption.
        assert!(w.finish(&trailer_for(&entries)).is_err());
    }

    /// A file whose single entries frame holds `payload` verbatim (valid crcs and lengths), so the
    /// reader's checks on the entries themselves can be exercised.
    fn raw_file(payload: &[u8], trailer: &Trailer) -> Vec<u8> {
        let mut bytes = write_all(&[]);
        bytes.truncate(header_len(&bytes));
        for (kind, body) in [
            (KIND_ENTRIES, payload.to_vec()),
            (KIND_TRAILER, {
                let mut t = Vec::new();
                encode_trailer(&mut t, trailer);
                t
            }),
        ] {
            if body.is_empty() {
                continue;
            }
            let z = zstd::bulk::compress(&body, 3).unwrap();
            bytes.push(kind);
            put_varint(&mut bytes, body.len() as u64);
            put_varint(&mut bytes, z.len() as u64);
            bytes.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
            bytes.extend_from_slice(&z);
        }
        bytes
    }

    fn header_len(bytes: &[u8]) -> usize {
        let mut c = Cursor::new(bytes);
        c.take(10).unwrap();
        let n = c.varint().unwrap() as usize;
        c.take(n + 4).unwrap();
        c.used()
    }

    fn corrupt_message(bytes: &[u8]) -> String {
        match read_all(bytes) {
            Err(DeltaFileError::Corrupt { message, .. }) => message,
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    #[test]
    fn reader_checks_entries_and_trailer() {
        let one_rep = Trailer {
            records: 1,
            representatives: 1,
            ..Trailer::default()
        };
        let mut rep = Vec::new();
        encode_entry(&mut rep, &Entry::Representative { crc: 3 });
        assert!(read_all(&raw_file(&rep, &one_rep)).is_ok());

        // A member referring to a representative that does not exist.
        let mut payload = rep.clone();
        encode_entry(
            &mut payload,
            &Entry::Member {
                rep: 1,
                header: vec![],
                layout: vec![],
                delta: vec![],
                seq_len: 0,
            },
        );
        let t = Trailer {
            records: 2,
            representatives: 1,
            members: 1,
            ..Trailer::default()
        };
        assert!(corrupt_message(&raw_file(&payload, &t)).contains("representative 1"));

        // A preamble after a record.
        let mut payload = rep.clone();
        encode_entry(&mut payload, &Entry::Preamble(vec![b'\n']));
        assert!(corrupt_message(&raw_file(&payload, &one_rep)).contains("preamble"));

        // Unknown tag; a length running past the frame.
        assert!(corrupt_message(&raw_file(&[9], &one_rep)).contains("tag"));
        assert!(corrupt_message(&raw_file(&[TAG_PREAMBLE, 5, b'x'], &one_rep)).contains("left"));

        // Trailer counts that disagree with the entries.
        let two = Trailer {
            records: 2,
            representatives: 2,
            ..Trailer::default()
        };
        assert!(corrupt_message(&raw_file(&rep, &two)).contains("representatives"));
    }

    #[test]
    fn oversized_zstd_window_is_refused() {
        // 5 MiB compressed with a 128 MiB window: a conforming zstd frame that would make the
        // decoder reserve more than this format's writer ever needs.
        let body: Vec<u8> = [TAG_REPRESENTATIVE, 1, 2, 3, 4].repeat(1 << 20);
        let mut c = zstd::bulk::Compressor::new(3).unwrap();
        c.set_parameter(CParameter::WindowLog(27)).unwrap();
        let z = c.compress(&body).unwrap();
        let mut bytes = write_all(&[]);
        bytes.truncate(header_len(&bytes));
        bytes.push(KIND_ENTRIES);
        put_varint(&mut bytes, body.len() as u64);
        put_varint(&mut bytes, z.len() as u64);
        bytes.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        bytes.extend_from_slice(&z);
        assert!(corrupt_message(&bytes).contains("zstd"));
    }

    #[test]
    fn varints_round_trip_and_reject_overlong() {
        for v in [0, 1, 127, 128, 300, u32::MAX as u64, u64::MAX - 1, u64::MAX] {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            assert_eq!(buf.len(), varint_len(v));
            assert_eq!(Cursor::new(&buf).varint().unwrap(), v);
        }
        assert!(Cursor::new(&[0x80, 0x00]).varint().is_err());
        assert!(Cursor::new(&[0xff; 10]).varint().is_err());
        assert!(Cursor::new(&[0x80]).varint().is_err());
    }

    fn arb_entry() -> impl Strategy<Value = Entry> {
        let bytes = || proptest::collection::vec(any::<u8>(), 0..64);
        prop_oneof![
            any::<u32>().prop_map(|crc| Entry::Representative { crc }),
            (0u64..4, bytes(), bytes(), bytes(), any::<u64>()).prop_map(
                |(rep, header, layout, delta, seq_len)| Entry::Member {
                    rep,
                    header,
                    layout,
                    delta,
                    seq_len,
                }
            ),
        ]
    }

    proptest! {
        #[test]
        fn entries_round_trip(
            preamble in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..16)),
            body in proptest::collection::vec(arb_entry(), 0..200),
        ) {
            // Four representatives first so every member's `rep` (< 4) is valid.
            let mut entries: Vec<Entry> = preamble.into_iter().map(Entry::Preamble).collect();
            entries.extend((0..4).map(|crc| Entry::Representative { crc }));
            entries.extend(body);
            let bytes = write_all(&entries);
            let (_, got, t) = read_all(&bytes).unwrap();
            prop_assert_eq!(got, entries.clone());
            prop_assert_eq!(t, trailer_for(&entries));
        }

        #[test]
        fn arbitrary_bytes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut bytes = write_all(&[]);
            let keep = bytes.len() - tail.len().min(20);
            bytes.truncate(keep);
            bytes.extend_from_slice(&tail);
            let _ = read_all(&bytes);
        }
    }
}
