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
/// zstd level of the frames unless the caller asks for another ([`DeltaWriter::with_level`]).
pub const DEFAULT_ZSTD_LEVEL: i32 = 3;
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
    pub fn new(inner: W, header: &FileHeader) -> std::io::Result<Self> {
        Self::with_level(inner, header, DEFAULT_ZSTD_LEVEL)
    }

    /// A writer whose frames are compressed at zstd `level` (the reader accepts any level: the
    /// window stays capped at the same size).
    pub fn with_level(mut inner: W, header: &FileHeader, level: i32) -> std::io::Result<Self> {
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

        // Single-threaded, one level, a fixed window: the bytes depend only on the payload, the
        // level (and the zstd version), and the reader can cap its window at the same size.
        let mut compressor = zstd::bulk::Compressor::new(level)?;
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

    /// The writer entries go to.
    pub fn get_ref(&self) -> &W {
        &self.inner
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
mod tests;
