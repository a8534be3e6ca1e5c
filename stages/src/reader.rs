//! Input readers. A regular uncompressed file at or above the mmap threshold is memory-mapped
//! (sequential advice, pages dropped behind the reader); pipes, stdin and compressed input use
//! buffered reads. Compression (gzip incl. multi-member/bgzip, zstd, bzip2, xz) is sniffed from
//! the first bytes, never by seeking or by the file name, so pipes work.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
    Bzip2,
    Xz,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// mmap for regular uncompressed files >= mmap_threshold, buffered reads otherwise.
    Auto,
    Read,
    Mmap,
}

#[derive(Clone, Debug)]
pub struct InputSpec {
    /// `None` = standard input.
    pub path: Option<PathBuf>,
    pub engine: Engine,
    pub mmap_threshold: u64,
}

/// What went wrong reading, where. Display: "<path>: <message> (at decompressed byte N)".
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}{}", offset.map(|o| format!(" (at decompressed byte {o})")).unwrap_or_default())]
pub struct ReadError {
    /// The file name, or "<stdin>".
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

/// Buffered reads are done in pieces this large.
const READ_BUFFER: usize = 1 << 20;
/// Pages behind the mmap reader are released in steps of this many bytes.
const RELEASE_STEP: usize = 8 << 20;

enum Source {
    Mapped { map: memmap2::Mmap, pos: usize, released: usize },
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

impl Input {
    pub fn open(spec: &InputSpec) -> Result<Input, ReadError> {
        match &spec.path {
            None => Input::from_reader("<stdin>", Box::new(std::io::stdin()), None),
            Some(path) => {
                let name = path.display().to_string();
                let fail = |e: std::io::Error| ReadError {
                    path: name.clone(),
                    message: e.to_string(),
                    offset: None,
                    kind: Some(e.kind()),
                };
                let file = File::open(path).map_err(fail)?;
                let meta = file.metadata().map_err(fail)?;
                if meta.is_dir() {
                    return Err(ReadError {
                        path: name,
                        message: "is a directory".into(),
                        offset: None,
                        kind: Some(std::io::ErrorKind::IsADirectory),
                    });
                }
                let regular = meta.is_file();
                let size = regular.then(|| meta.len());
                let want_map = regular
                    && meta.len() > 0
                    && match spec.engine {
                        Engine::Mmap => true,
                        Engine::Auto => meta.len() >= spec.mmap_threshold,
                        Engine::Read => false,
                    };
                if want_map {
                    // SAFETY: the file is opened read-only and talaria never writes to its
                    // input; a concurrent writer truncating it could fault, as with any mmap reader.
                    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(fail)?;
                    if sniff(&map[..map.len().min(8)]) == Compression::None {
                        let _ = map.advise(memmap2::Advice::Sequential);
                        return Ok(Input {
                            name,
                            source: Source::Mapped { map, pos: 0, released: 0 },
                            compression: Compression::None,
                            size,
                            delivered: 0,
                        });
                    }
                }
                Input::from_reader(&name, Box::new(file), size)
            }
        }
    }

    /// Wrap any byte stream (stdin, a pipe, a test buffer); compression is sniffed from it.
    pub fn from_reader(name: &str, reader: Box<dyn Read + Send>, size: Option<u64>) -> Result<Input, ReadError> {
        let mut buffered = BufReader::with_capacity(READ_BUFFER, reader);
        let head = loop {
            match buffered.fill_buf() {
                Ok(head) => break head.to_vec(),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(ReadError { path: name.into(), message: e.to_string(), offset: None, kind: Some(e.kind()) })
                }
            }
        };
        let compression = sniff(&head);
        let fail = |e: std::io::Error| ReadError { path: name.into(), message: e.to_string(), offset: None, kind: Some(e.kind()) };
        let stream: Box<dyn Read + Send> = match compression {
            Compression::None => Box::new(buffered),
            Compression::Gzip => Box::new(BufReader::with_capacity(READ_BUFFER, flate2::bufread::MultiGzDecoder::new(buffered))),
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(buffered).map_err(fail)?),
            Compression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(buffered)),
            Compression::Xz => Box::new(xz2::bufread::XzDecoder::new_multi_decoder(buffered)),
        };
        Ok(Input { name: name.into(), source: Source::Stream(stream), compression, size, delivered: 0 })
    }

    pub fn compression(&self) -> Compression {
        self.compression
    }
    /// "mmap" or "buffered".
    pub fn engine_name(&self) -> &'static str {
        match self.source {
            Source::Mapped { .. } => "mmap",
            Source::Stream(_) => "buffered",
        }
    }
    /// Size of the underlying file when it is a regular file (compressed size if compressed).
    pub fn size_hint(&self) -> Option<u64> {
        self.size
    }
    /// Display name: the path, or "<stdin>".
    pub fn name(&self) -> &str {
        &self.name
    }

    fn error(&self, e: std::io::Error) -> ReadError {
        let what = match self.compression {
            Compression::None => String::new(),
            c => format!(" ({} stream truncated or corrupt)", format!("{c:?}").to_lowercase()),
        };
        ReadError { path: self.name.clone(), message: format!("{e}{what}"), offset: Some(self.delivered), kind: Some(e.kind()) }
    }

    /// Append up to `max` decompressed bytes to `buf`; returns how many (0 = end of input).
    pub fn read_block(&mut self, buf: &mut Vec<u8>, max: usize) -> Result<usize, ReadError> {
        let got = match &mut self.source {
            Source::Mapped { map, pos, released } => {
                let n = max.min(map.len() - *pos);
                buf.extend_from_slice(&map[*pos..*pos + n]);
                *pos += n;
                // Release pages already copied out, so a file larger than memory never
                // accumulates in the resident set.
                if *pos - *released >= RELEASE_STEP {
                    let end = *pos & !(4095usize);
                    if end > *released {
                        // SAFETY: the range lies inside the mapping and its bytes were already
                        // copied out; DONTNEED on a private read-only file mapping only drops
                        // pages that will be re-read from the file if touched again.
                        let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, *released, end - *released) };
                        *released = end;
                    }
                }
                n
            }
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
                            return Err(self.error(e));
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
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        match &mut self.source {
            Source::Mapped { map, pos, .. } => {
                let n = out.len().min(map.len() - *pos);
                out[..n].copy_from_slice(&map[*pos..*pos + n]);
                *pos += n;
                self.delivered += n as u64;
                Ok(n)
            }
            Source::Stream(reader) => {
                let n = reader.read(out)?;
                self.delivered += n as u64;
                Ok(n)
            }
        }
    }
}

/// Totals of a finished read.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadSummary {
    pub bytes: u64,
    pub blocks: u64,
}

/// Reader stage body: read blocks of `block_size` bytes and send them until EOF or until the
/// receiver is gone.
pub fn read_blocks(
    mut input: Input,
    block_size: usize,
    tx: crate::channel::Sender<Block>,
    counters: &crate::stage::StageCounters,
) -> Result<ReadSummary, ReadError> {
    use crate::stage::StageCounters as C;
    let mut summary = ReadSummary::default();
    loop {
        let started = Instant::now();
        let mut data = Vec::with_capacity(block_size);
        let n = input.read_block(&mut data, block_size)?;
        C::add(&counters.busy_ns, started.elapsed().as_nanos() as u64);
        if n == 0 {
            return Ok(summary);
        }
        let block = Block { index: summary.blocks, offset: summary.bytes, data };
        summary.blocks += 1;
        summary.bytes += n as u64;
        C::add(&counters.items_out, 1);
        C::add(&counters.bytes_out, n as u64);
        let sent = Instant::now();
        if tx.send(block).is_err() {
            return Ok(summary);
        }
        C::add(&counters.blocked_ns, sent.elapsed().as_nanos() as u64);
    }
}
