//! Input readers, one per I/O engine, all delivering the same bytes:
//! - `read`: buffered read(2) calls; the fallback everywhere.
//! - `mmap`: a regular file memory-mapped, with sequential advice and pages dropped behind the
//!   reader (a file larger than memory never accumulates in the resident set).
//! - `uring`: io_uring reads kept several deep into a fixed set of reused buffers
//!   ([`uring`]); regular files and pipes alike. Where io_uring is unavailable (ENOSYS, EPERM:
//!   old kernel, seccomp) the input is read with `read` and [`Input::fallback`] says why.
//! - `auto`: mmap for a regular uncompressed file at or above the threshold; otherwise io_uring
//!   when asynchronous I/O is on; otherwise `read`.
//!
//! Compression (gzip incl. multi-member/bgzip, zstd, bzip2, xz) is sniffed from the first
//! bytes, never by seeking or by the file name, so pipes work; compressed bytes from any engine
//! are decoded the same way, optionally on a thread of their own ([`inflate`]).
//! A reader must not hold more than a block, its engine's fixed buffers and the mapping's
//! unreleased window in memory, must not panic on a bad file (every failure is a [`ReadError`]
//! naming the file and the offset), and knows nothing about FASTA.

use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Read};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

pub mod inflate;
pub mod pool;
pub mod readahead;
pub mod replay;
pub mod uring;

pub use pool::{BlockPool, PoolStats};
pub use readahead::ReadaheadStats;
use readahead::{Ahead, Readahead};
use std::sync::Arc;

/// `Read::read` for a source whose `BufRead` side does the work: copy what `fill_buf` has.
fn read_via_buf<R: BufRead>(source: &mut R, out: &mut [u8]) -> std::io::Result<usize> {
    let available = source.fill_buf()?;
    let n = available.len().min(out.len());
    out[..n].copy_from_slice(&available[..n]);
    source.consume(n);
    Ok(n)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
    Bzip2,
    Xz,
}

impl Compression {
    /// Lower-case name, as users write it: "none", "gzip", "zstd", "bzip2", "xz".
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Bzip2 => "bzip2",
            Compression::Xz => "xz",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// mmap for a regular uncompressed file >= `mmap_threshold`; else io_uring when `async_io`;
    /// else buffered reads.
    Auto,
    Read,
    /// mmap a regular file (compressed files are decoded from the mapping). Anything else
    /// (stdin, a pipe, a fifo) is an error of kind `Unsupported`: it cannot be mapped.
    Mmap,
    /// io_uring for any input, falling back to buffered reads where io_uring is unavailable.
    Uring,
}

impl Engine {
    /// As users write it: "auto", "read", "mmap", "uring".
    pub fn name(self) -> &'static str {
        match self {
            Engine::Auto => "auto",
            Engine::Read => "read",
            Engine::Mmap => "mmap",
            Engine::Uring => "uring",
        }
    }
}

/// The engine actually reading an open input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Used {
    Read,
    Mmap,
    /// `depth` reads in flight (1 on a pipe: `stream`), each of `buffer_size` bytes.
    Uring {
        depth: usize,
        buffer_size: usize,
        stream: bool,
    },
}

#[derive(Clone, Debug)]
pub struct InputSpec {
    /// `None` = standard input.
    pub path: Option<PathBuf>,
    pub engine: Engine,
    /// `Auto` maps regular uncompressed files at least this large (`u64::MAX`: never).
    pub mmap_threshold: u64,
    /// `Auto` reads with io_uring what it does not map.
    pub async_io: bool,
    /// io_uring: reads kept in flight on a regular file (buffers allocated).
    pub uring_depth: usize,
    /// io_uring: bytes per read (and per buffer).
    pub uring_buffer: usize,
    /// Decompress on a thread of its own, with a raw-byte channel of this many bytes between
    /// the `reader-raw` thread and the decoder; 0 = decode on the reading thread.
    pub inflate_thread_budget: usize,
    /// Readahead (`prefetch_distance` blocks): keep this many bytes of a regular file ahead of
    /// the reader advised with `posix_fadvise(WILLNEED)`; 0 = off.
    pub readahead: u64,
}

impl Default for InputSpec {
    /// Standard input, `Auto`, mmap from 64 MiB, no io_uring, decoding on the reading thread.
    fn default() -> Self {
        InputSpec {
            path: None,
            engine: Engine::Auto,
            mmap_threshold: 64 << 20,
            async_io: false,
            uring_depth: 100,
            uring_buffer: 64 << 10,
            inflate_thread_budget: 0,
            readahead: 0,
        }
    }
}

/// What went wrong reading, where. Display: `"<path>: <message> (at decompressed byte N)"`.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}{}", offset.map(|o| format!(" (at decompressed byte {o})")).unwrap_or_default())]
pub struct ReadError {
    /// The file name, or `"<stdin>"`.
    pub path: String,
    pub message: String,
    pub offset: Option<u64>,
    /// The underlying I/O error kind, when there is one.
    pub kind: Option<std::io::ErrorKind>,
}

/// A block of decompressed input bytes. A block read into a pooled buffer hands the buffer
/// back to its [`BlockPool`] when dropped.
#[derive(Debug)]
pub struct Block {
    pub index: u64,
    /// Offset of `data[0]` in the decompressed input.
    pub offset: u64,
    pub data: Vec<u8>,
    pool: Option<BlockPool>,
}

impl Block {
    /// A block whose buffer is freed when it is dropped.
    pub fn new(index: u64, offset: u64, data: Vec<u8>) -> Block {
        Block {
            index,
            offset,
            data,
            pool: None,
        }
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        if let Some(pool) = &self.pool {
            pool.give(std::mem::take(&mut self.data));
        }
    }
}

impl crate::Weighted for Block {
    fn weight(&self) -> usize {
        self.data.capacity()
    }
}

/// Buffered reads are done in pieces this large (large enough that a syscall or a decoder
/// refill is rare next to the work on its bytes).
const READ_BUFFER: usize = 1 << 20;
/// Pages behind the mmap reader are released in steps of this many bytes.
const RELEASE_STEP: usize = 8 << 20;
/// Release boundaries are rounded down to this: a multiple of every Linux page size (4, 16 and
/// 64 KiB), so madvise always gets whole pages that were entirely copied out.
const RELEASE_ALIGN: usize = 64 << 10;
/// Bytes needed to recognise every supported compression (xz's magic is the longest).
const SNIFF_LEN: usize = 6;

/// A read-only mapping of a regular file, read front to back.
struct MappedFile {
    map: memmap2::Mmap,
    pos: usize,
    /// Bytes before this offset have been handed back to the kernel.
    released: usize,
    ahead: Option<Readahead>,
}

impl MappedFile {
    /// Hand the next `max` bytes (fewer at the end) to `copy`; returns how many.
    fn read_with(&mut self, max: usize, copy: impl FnOnce(&[u8])) -> usize {
        let start = self.pos;
        let n = max.min(self.map.len() - start);
        copy(&self.map[start..start + n]);
        self.pos += n;
        self.moved();
        n
    }

    /// Readahead and release after the position moved.
    fn moved(&mut self) {
        if let Some(ahead) = &mut self.ahead {
            ahead.at(self.pos as u64);
        }
        self.release_behind();
    }

    /// Drop the pages already copied out, so a file larger than memory never accumulates in
    /// the resident set.
    fn release_behind(&mut self) {
        let end = self.pos - self.pos % RELEASE_ALIGN;
        let at_end = self.pos == self.map.len();
        if end > self.released && (end - self.released >= RELEASE_STEP || at_end) {
            // SAFETY: [released, end) lies inside the mapping (end <= pos <= len) and starts and
            // ends on page boundaries (both are multiples of RELEASE_ALIGN from the page-aligned
            // start of the map). Every byte in it was already copied out and no slice into it is
            // alive (`read_with`'s `copy` has returned). DONTNEED on a read-only file mapping only
            // drops the pages; touching them again would re-read them from the file.
            let _ = unsafe {
                self.map.unchecked_advise_range(
                    memmap2::UncheckedAdvice::DontNeed,
                    self.released,
                    end - self.released,
                )
            };
            self.released = end;
        }
    }
}

impl BufRead for MappedFile {
    /// The rest of the mapping (compressed input decoded straight from the map).
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        Ok(&self.map[self.pos..])
    }
    fn consume(&mut self, amount: usize) {
        self.pos = (self.pos + amount).min(self.map.len());
        self.moved();
    }
}

impl Read for MappedFile {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        Ok(self.read_with(out.len(), |bytes| out[..bytes.len()].copy_from_slice(bytes)))
    }
}

enum Source {
    Mapped(MappedFile),
    Stream(Box<dyn Read + Send>),
}

/// An open input stream (Send: moved into the reader thread). Also implements `std::io::Read`.
pub struct Input {
    name: String,
    source: Source,
    compression: Compression,
    size: Option<u64>,
    delivered: u64,
    used: Used,
    fallback: Option<String>,
    inflate_thread: bool,
    buffer_bytes: usize,
    readahead: Arc<ReadaheadStats>,
}

fn sniff(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else if head.starts_with(b"BZh") {
        Compression::Bzip2
    } else if head.starts_with(&[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) {
        Compression::Xz
    } else {
        Compression::None
    }
}

fn open_error(path: &str, e: &std::io::Error) -> ReadError {
    ReadError {
        path: path.into(),
        message: e.to_string(),
        offset: None,
        kind: Some(e.kind()),
    }
}

/// Gather up to [`SNIFF_LEN`] bytes (a pipe may deliver the magic in pieces), or fewer at EOF.
fn read_head(reader: &mut dyn Read) -> std::io::Result<Vec<u8>> {
    let mut head = vec![0u8; SNIFF_LEN];
    let mut got = 0;
    while got < SNIFF_LEN {
        match reader.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    head.truncate(got);
    Ok(head)
}

/// The decoder for `compression` over a buffered source (the source itself when plain).
fn decoder<R: BufRead + Send + 'static>(
    name: &str,
    source: R,
    compression: Compression,
) -> Result<Box<dyn Read + Send>, ReadError> {
    Ok(match compression {
        Compression::None => Box::new(source),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(source)),
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::with_buffer(source).map_err(|e| open_error(name, &e))?,
        ),
        Compression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(source)),
        Compression::Xz => Box::new(xz2::bufread::XzDecoder::new_multi_decoder(source)),
    })
}

/// `--io-engine mmap` on something that is not a regular file.
fn not_mappable(name: &str) -> ReadError {
    ReadError {
        path: name.into(),
        message: "the mmap engine needs a regular file; standard input, pipes and fifos cannot \
                  be memory-mapped (use the auto, read or uring engine)"
            .into(),
        offset: None,
        kind: Some(std::io::ErrorKind::Unsupported),
    }
}

/// An owned duplicate of a borrowed descriptor, as a `File`.
trait AsFdDup {
    fn as_fd_dup(&self) -> std::io::Result<File>;
}

impl<T: std::os::fd::AsFd> AsFdDup for T {
    fn as_fd_dup(&self) -> std::io::Result<File> {
        Ok(File::from(self.as_fd().try_clone_to_owned()?))
    }
}

impl Input {
    /// Open the input with the engine `spec` asks for (see [`Engine`] for what each does with
    /// which kind of input).
    pub fn open(spec: &InputSpec) -> Result<Input, ReadError> {
        let wants_uring =
            spec.engine == Engine::Uring || (spec.engine == Engine::Auto && spec.async_io);
        let Some(path) = &spec.path else {
            if spec.engine == Engine::Mmap {
                return Err(not_mappable("<stdin>"));
            }
            let mut fallback = None;
            if wants_uring {
                // A duplicate of fd 0, so the ring's reads never race std's (unused) buffer.
                let fd = std::io::stdin()
                    .lock()
                    .as_fd_dup()
                    .map_err(|e| open_error("<stdin>", &e))?;
                match uring::UringSource::new(fd, spec.uring_depth, spec.uring_buffer) {
                    Ok(source) => return Input::from_uring("<stdin>", source, None, spec),
                    Err(uring::Unavailable(why)) => fallback = Some(why),
                }
            }
            let mut input =
                Input::from_stream("<stdin>", Box::new(std::io::stdin()), None, spec, None)?;
            input.fallback = fallback;
            return Ok(input);
        };
        let name = path.display().to_string();
        let file = File::open(path).map_err(|e| open_error(&name, &e))?;
        let meta = file.metadata().map_err(|e| open_error(&name, &e))?;
        if meta.is_dir() {
            return Err(ReadError {
                path: name,
                message: "is a directory, not a file".into(),
                offset: None,
                kind: Some(std::io::ErrorKind::IsADirectory),
            });
        }
        let regular = meta.is_file();
        let size = regular.then_some(meta.len());
        if spec.engine == Engine::Mmap && !regular {
            return Err(not_mappable(&name));
        }
        let plain = regular && {
            let mut head = [0u8; SNIFF_LEN];
            let mut got = 0;
            while got < SNIFF_LEN {
                match file.read_at(&mut head[got..], got as u64) {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(open_error(&name, &e)),
                }
            }
            sniff(&head[..got]) == Compression::None
        };
        let want_map = match spec.engine {
            Engine::Mmap => true,
            Engine::Auto => plain && meta.len() > 0 && meta.len() >= spec.mmap_threshold,
            Engine::Read | Engine::Uring => false,
        };
        // Readahead follows the file's own offsets: regular files only (a pipe has none).
        let stats = Arc::new(ReadaheadStats::default());
        let advisor = || {
            let dup = file.try_clone().ok().filter(|_| regular)?;
            Readahead::new(dup, meta.len(), spec.readahead, Arc::clone(&stats))
        };
        if want_map {
            let mut input = Input::from_map(&name, &file, size, spec, advisor())?;
            input.readahead = stats;
            return Ok(input);
        }
        let mut fallback = None;
        if wants_uring {
            let fd = file.try_clone().map_err(|e| open_error(&name, &e))?;
            match uring::UringSource::new(fd, spec.uring_depth, spec.uring_buffer) {
                // No advice: the ring's reads in flight are its readahead, and WILLNEED on top
                // measured 3x slower from a cold cache (README, "Hardware and I/O").
                Ok(source) => return Input::from_uring(&name, source, size, spec),
                Err(uring::Unavailable(why)) => fallback = Some(why),
            }
        }
        let ahead = advisor();
        let mut input = Input::from_stream(&name, Box::new(file), size, spec, ahead)?;
        input.fallback = fallback;
        input.readahead = stats;
        Ok(input)
    }

    fn from_map(
        name: &str,
        file: &File,
        size: Option<u64>,
        spec: &InputSpec,
        ahead: Option<Readahead>,
    ) -> Result<Input, ReadError> {
        let mut input = Input {
            name: name.into(),
            source: Source::Stream(Box::new(std::io::empty())),
            compression: Compression::None,
            size,
            delivered: 0,
            used: Used::Mmap,
            fallback: None,
            inflate_thread: false,
            buffer_bytes: 0,
            readahead: Arc::default(),
        };
        if size == Some(0) {
            return Ok(input); // nothing to map (a zero-length mapping is an error)
        }
        // SAFETY: the file is opened read-only and talaria never writes to its input. The one
        // hazard of any mmap reader remains: another process truncating the file while it is
        // read makes the access fault (SIGBUS), which we accept for regular input files.
        let map = unsafe { memmap2::Mmap::map(file) }.map_err(|e| open_error(name, &e))?;
        let _ = map.advise(memmap2::Advice::Sequential);
        input.compression = sniff(&map[..map.len().min(SNIFF_LEN)]);
        let mapped = MappedFile {
            map,
            pos: 0,
            released: 0,
            ahead,
        };
        input.source = if input.compression == Compression::None {
            Source::Mapped(mapped)
        } else {
            Source::Stream(input.decode(mapped, spec)?)
        };
        Ok(input)
    }

    /// A streamed input whose first bytes `head` were read (to sniff the compression); its
    /// source is set by the caller once the decoder is built.
    fn streamed(
        name: &str,
        head: &[u8],
        size: Option<u64>,
        used: Used,
        buffer_bytes: usize,
    ) -> Input {
        Input {
            name: name.into(),
            source: Source::Stream(Box::new(std::io::empty())),
            compression: sniff(head),
            size,
            delivered: 0,
            used,
            fallback: None,
            inflate_thread: false,
            buffer_bytes,
            readahead: Arc::default(),
        }
    }

    fn from_uring(
        name: &str,
        mut source: uring::UringSource,
        size: Option<u64>,
        spec: &InputSpec,
    ) -> Result<Input, ReadError> {
        let head = read_head(&mut source).map_err(|e| open_error(name, &e))?;
        let used = Used::Uring {
            depth: source.depth(),
            buffer_size: source.buffer_size(),
            stream: !source.seekable(),
        };
        let mut input = Input::streamed(name, &head, size, used, source.buffer_bytes());
        input.source = Source::Stream(input.decode(Cursor::new(head).chain(source), spec)?);
        Ok(input)
    }

    fn from_stream(
        name: &str,
        mut reader: Box<dyn Read + Send>,
        size: Option<u64>,
        spec: &InputSpec,
        ahead: Option<Readahead>,
    ) -> Result<Input, ReadError> {
        let head = read_head(&mut reader).map_err(|e| open_error(name, &e))?;
        let mut input = Input::streamed(name, &head, size, Used::Read, 0);
        let buffered = BufReader::with_capacity(READ_BUFFER, Cursor::new(head).chain(reader));
        input.source = Source::Stream(match ahead {
            // Outside the buffer: it follows what the decoder (or the caller) consumed, so the
            // window reaches past the buffer's next refill.
            Some(ahead) => input.decode(Ahead::new(buffered, 0, ahead), spec)?,
            None => input.decode(buffered, spec)?,
        });
        Ok(input)
    }

    /// The decoded stream over `raw`, decoded here or (compressed, with an inflate budget)
    /// with the raw reads moved to a `reader-raw` thread.
    fn decode<R: BufRead + Send + 'static>(
        &mut self,
        raw: R,
        spec: &InputSpec,
    ) -> Result<Box<dyn Read + Send>, ReadError> {
        if self.compression == Compression::None || spec.inflate_thread_budget == 0 {
            return decoder(&self.name, raw, self.compression);
        }
        let channel = inflate::spawn(Box::new(raw), spec.inflate_thread_budget)
            .map_err(|e| open_error(&self.name, &e))?;
        self.inflate_thread = true;
        decoder(&self.name, channel, self.compression)
    }

    /// Wrap any byte stream (stdin, a pipe, a test buffer) under the display name `name`;
    /// compression is sniffed from its first bytes (peeked, never seeked). `size` is what
    /// [`Input::size_hint`] reports. Read with buffered reads, decoded on the calling thread.
    pub fn from_reader(
        name: &str,
        reader: Box<dyn Read + Send>,
        size: Option<u64>,
    ) -> Result<Input, ReadError> {
        Input::from_stream(name, reader, size, &InputSpec::default(), None)
    }

    pub fn compression(&self) -> Compression {
        self.compression
    }
    /// "read", "mmap" or "io_uring": the engine actually reading.
    pub fn engine_name(&self) -> &'static str {
        match self.used {
            Used::Read => "read",
            Used::Mmap => "mmap",
            Used::Uring { .. } => "io_uring",
        }
    }
    /// The engine actually reading, with its parameters.
    pub fn engine(&self) -> Used {
        self.used
    }
    /// Why io_uring was asked for but not used (the input is then read with `read`).
    pub fn fallback(&self) -> Option<&str> {
        self.fallback.as_deref()
    }
    /// Whether decompression runs on its own thread (raw reads on `reader-raw`).
    pub fn inflate_thread(&self) -> bool {
        self.inflate_thread
    }
    /// Bytes held by the engine's own fixed buffers (io_uring's ring of buffers; 0 otherwise).
    pub fn buffer_bytes(&self) -> usize {
        self.buffer_bytes
    }
    /// Size of the underlying file when it is a regular file (compressed size if compressed).
    pub fn size_hint(&self) -> Option<u64> {
        self.size
    }
    /// Display name: the path, or `"<stdin>"`.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// What readahead did (shared: still readable once the input moved to its thread).
    pub fn readahead(&self) -> Arc<ReadaheadStats> {
        Arc::clone(&self.readahead)
    }
    /// Decompressed bytes delivered so far (the offset of the next byte).
    pub fn position(&self) -> u64 {
        self.delivered
    }

    /// The message for a failed read: decoder failures say which stream is damaged; failures
    /// of the underlying read (an OS error) are reported as they are.
    fn describe(&self, e: &std::io::Error) -> String {
        if self.compression == Compression::None || e.raw_os_error().is_some() {
            e.to_string()
        } else {
            format!(
                "truncated or corrupt {} stream: {e}",
                self.compression.name()
            )
        }
    }

    fn error(&self, e: &std::io::Error) -> ReadError {
        ReadError {
            path: self.name.clone(),
            message: self.describe(e),
            offset: Some(self.delivered),
            kind: Some(e.kind()),
        }
    }

    /// Append up to `max` decompressed bytes to `buf`; returns how many (0 = end of input).
    /// Fewer than `max` only at the end of the input.
    pub fn read_block(&mut self, buf: &mut Vec<u8>, max: usize) -> Result<usize, ReadError> {
        let got = match &mut self.source {
            Source::Mapped(mapped) => mapped.read_with(max, |bytes| buf.extend_from_slice(bytes)),
            Source::Stream(reader) => {
                let start = buf.len();
                buf.resize(start + max, 0);
                let mut filled = 0;
                while filled < max {
                    match reader.read(&mut buf[start + filled..]) {
                        Ok(0) => break,
                        Ok(n) => filled += n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(e) => {
                            buf.truncate(start + filled);
                            self.delivered += filled as u64;
                            return Err(self.error(&e));
                        }
                    }
                }
                buf.truncate(start + filled);
                filled
            }
        };
        self.delivered += got as u64;
        Ok(got)
    }
}

impl Input {
    /// Replace `buf`'s contents with up to `max` decompressed bytes; returns how many (0 = end
    /// of input). Unlike [`Input::read_block`], a buffer reused from a pool is written over in
    /// place, so its bytes are not zeroed again before each read.
    pub fn fill_block(&mut self, buf: &mut Vec<u8>, max: usize) -> Result<usize, ReadError> {
        if matches!(self.source, Source::Mapped(_)) {
            buf.clear();
            return self.read_block(buf, max);
        }
        if buf.len() < max {
            buf.resize(max, 0); // new bytes only: the rest were initialised by an earlier read
        }
        buf.truncate(max);
        let Source::Stream(reader) = &mut self.source else {
            unreachable!("mapped sources returned above")
        };
        let mut filled = 0;
        while filled < max {
            match reader.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    buf.truncate(filled);
                    self.delivered += filled as u64;
                    return Err(self.error(&e));
                }
            }
        }
        buf.truncate(filled);
        self.delivered += filled as u64;
        Ok(filled)
    }
}

impl Read for Input {
    /// Errors keep their kind; a damaged compressed stream says so in the message.
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = match &mut self.source {
            Source::Mapped(mapped) => {
                mapped.read_with(out.len(), |bytes| out[..bytes.len()].copy_from_slice(bytes))
            }
            Source::Stream(reader) => match reader.read(out) {
                Ok(n) => n,
                Err(e)
                    if e.kind() == std::io::ErrorKind::Interrupted
                        || e.raw_os_error().is_some() =>
                {
                    return Err(e)
                }
                Err(e) if self.compression == Compression::None => return Err(e),
                Err(e) => return Err(std::io::Error::new(e.kind(), self.describe(&e))),
            },
        };
        self.delivered += n as u64;
        Ok(n)
    }
}

/// Totals of a finished read.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadSummary {
    /// Bytes in the blocks sent.
    pub bytes: u64,
    /// Blocks sent.
    pub blocks: u64,
}

/// Reader stage body: read blocks of `block_size` bytes and send them until EOF or until the
/// receiver is gone (then it stops quietly). Blocks are numbered from 0 by this call; offsets
/// continue from whatever was already read from `input` (see [`Input::position`]). Counts
/// `items_out`, `bytes_out`, `busy_ns` (reading) and `blocked_ns` (waiting to send).
pub fn read_blocks(
    input: Input,
    block_size: usize,
    tx: crate::channel::Sender<Block>,
    counters: &crate::stage::StageCounters,
) -> Result<ReadSummary, ReadError> {
    read_blocks_pooled(input, block_size, &BlockPool::new(0), tx, counters)
}

/// [`read_blocks`] into buffers taken from `pool`; each block hands its buffer back to the pool
/// when its consumer drops it, so a steady read reuses a few buffers.
pub fn read_blocks_pooled(
    mut input: Input,
    block_size: usize,
    pool: &BlockPool,
    tx: crate::channel::Sender<Block>,
    counters: &crate::stage::StageCounters,
) -> Result<ReadSummary, ReadError> {
    use crate::stage::StageCounters as C;
    let block_size = block_size.max(1);
    let mut summary = ReadSummary::default();
    loop {
        let offset = input.position();
        let mut block = Block {
            index: summary.blocks,
            offset,
            data: pool.take(block_size),
            pool: Some(pool.clone()),
        };
        let n = {
            let _busy = counters.busy();
            let _call = crate::metrics::span("read");
            input.fill_block(&mut block.data, block_size)?
        };
        if n == 0 {
            return Ok(summary);
        }
        let sent = {
            let _blocked = counters.blocked();
            tx.send(block).is_ok()
        };
        if !sent {
            return Ok(summary);
        }
        summary.blocks += 1;
        summary.bytes += n as u64;
        C::add(&counters.items_out, 1);
        C::add(&counters.bytes_out, n as u64);
    }
}

#[cfg(test)]
mod tests;
