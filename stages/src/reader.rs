//! Input readers. A regular uncompressed file at or above the mmap threshold is memory-mapped
//! (sequential advice, pages dropped behind the reader); pipes, stdin and compressed input use
//! buffered reads. Compression (gzip incl. multi-member/bgzip, zstd, bzip2, xz) is sniffed from
//! the first bytes, never by seeking or by the file name, so pipes work.
//! A reader must not hold more than a block and the mapping's unreleased window in memory, must
//! not panic on a bad file (every failure is a [`ReadError`] naming the file and the offset), and
//! knows nothing about FASTA.

use std::fs::File;
use std::io::{BufReader, Cursor, Read};
use std::path::PathBuf;

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
    /// mmap for regular uncompressed files >= mmap_threshold, buffered reads otherwise.
    Auto,
    Read,
    /// mmap where possible (a regular, non-empty, uncompressed file), buffered reads otherwise.
    Mmap,
}

#[derive(Clone, Debug)]
pub struct InputSpec {
    /// `None` = standard input.
    pub path: Option<PathBuf>,
    pub engine: Engine,
    pub mmap_threshold: u64,
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

/// A block of decompressed input bytes.
#[derive(Debug)]
pub struct Block {
    pub index: u64,
    /// Offset of `data[0]` in the decompressed input.
    pub offset: u64,
    pub data: Vec<u8>,
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
}

impl MappedFile {
    /// Hand the next `max` bytes (fewer at the end) to `copy`; returns how many.
    fn read_with(&mut self, max: usize, copy: impl FnOnce(&[u8])) -> usize {
        let start = self.pos;
        let n = max.min(self.map.len() - start);
        copy(&self.map[start..start + n]);
        self.pos += n;
        self.release_behind();
        n
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

impl Input {
    pub fn open(spec: &InputSpec) -> Result<Input, ReadError> {
        let Some(path) = &spec.path else {
            return Input::from_reader("<stdin>", Box::new(std::io::stdin()), None);
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
        let want_map = regular
            && meta.len() > 0
            && match spec.engine {
                Engine::Mmap => true,
                Engine::Auto => meta.len() >= spec.mmap_threshold,
                Engine::Read => false,
            };
        if want_map {
            // SAFETY: the file is opened read-only and talaria never writes to its input. The one
            // hazard of any mmap reader remains: another process truncating the file while it is
            // read makes the access fault (SIGBUS), which we accept for regular input files.
            let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| open_error(&name, &e))?;
            if sniff(&map[..map.len().min(SNIFF_LEN)]) == Compression::None {
                let _ = map.advise(memmap2::Advice::Sequential);
                return Ok(Input {
                    name,
                    source: Source::Mapped(MappedFile {
                        map,
                        pos: 0,
                        released: 0,
                    }),
                    compression: Compression::None,
                    size,
                    delivered: 0,
                });
            }
            // Compressed: decode through buffered reads (the file position is still 0).
        }
        Input::from_reader(&name, Box::new(file), size)
    }

    /// Wrap any byte stream (stdin, a pipe, a test buffer) under the display name `name`;
    /// compression is sniffed from its first bytes (peeked, never seeked). `size` is what
    /// [`Input::size_hint`] reports.
    pub fn from_reader(
        name: &str,
        mut reader: Box<dyn Read + Send>,
        size: Option<u64>,
    ) -> Result<Input, ReadError> {
        // A pipe may deliver the magic bytes in pieces: gather SNIFF_LEN bytes (or EOF) first.
        let mut head = vec![0u8; SNIFF_LEN];
        let mut got = 0;
        while got < SNIFF_LEN {
            match reader.read(&mut head[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(open_error(name, &e)),
            }
        }
        head.truncate(got);
        let compression = sniff(&head);
        let buffered = BufReader::with_capacity(READ_BUFFER, Cursor::new(head).chain(reader));
        let stream: Box<dyn Read + Send> = match compression {
            Compression::None => Box::new(buffered),
            Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
            Compression::Zstd => Box::new(
                zstd::stream::read::Decoder::with_buffer(buffered)
                    .map_err(|e| open_error(name, &e))?,
            ),
            Compression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(buffered)),
            Compression::Xz => Box::new(xz2::bufread::XzDecoder::new_multi_decoder(buffered)),
        };
        Ok(Input {
            name: name.into(),
            source: Source::Stream(stream),
            compression,
            size,
            delivered: 0,
        })
    }

    pub fn compression(&self) -> Compression {
        self.compression
    }
    /// "mmap" or "buffered".
    pub fn engine_name(&self) -> &'static str {
        match self.source {
            Source::Mapped(_) => "mmap",
            Source::Stream(_) => "buffered",
        }
    }
    /// Size of the underlying file when it is a regular file (compressed size if compressed).
    pub fn size_hint(&self) -> Option<u64> {
        self.size
    }
    /// Display name: the path, or `"<stdin>"`.
    pub fn name(&self) -> &str {
        &self.name
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
    mut input: Input,
    block_size: usize,
    tx: crate::channel::Sender<Block>,
    counters: &crate::stage::StageCounters,
) -> Result<ReadSummary, ReadError> {
    use crate::stage::StageCounters as C;
    let block_size = block_size.max(1);
    let mut summary = ReadSummary::default();
    loop {
        let offset = input.position();
        let mut data = Vec::with_capacity(block_size);
        let n = {
            let _busy = counters.busy();
            let _call = crate::metrics::span("read");
            input.read_block(&mut data, block_size)?
        };
        if n == 0 {
            return Ok(summary);
        }
        let block = Block {
            index: summary.blocks,
            offset,
            data,
        };
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
