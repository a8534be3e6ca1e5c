//! `talaria reconstruct`: rebuild the original FASTA from the reduced FASTA and its deltas,
//! byte for byte (or rewrapped, on request).
//!
//! It streams: the deltas are read one frame at a time and the reduced FASTA one chunk at a time
//! on its own thread; only the representatives' residues are kept, because members refer back to
//! them. Every representative is checked against the crc the deltas recorded, so a deltas file
//! from another run is rejected at the first representative, and the output's checksum is
//! compared with the original input's at the end.

use crate::delta::file::{DeltaFileError, DeltaReader, Entry};
use crate::delta::ops;
use crate::fasta::chunker::{Chunker, FastaError};
use crate::fasta::layout::{render_wrapped, Layout};
use crate::fasta::record::Chunk;
use std::io::Write;
use std::path::PathBuf;
use talaria_stages::channel::{self, Receiver};
use talaria_stages::reader::{self, Block, Engine, Input, InputSpec, ReadError};
use talaria_stages::sink::{OutputPath, Sink, SinkError};
use talaria_stages::stage::{self, StageCounters, StagePanic};

#[derive(Clone, Debug)]
pub struct ReconstructJob {
    /// Reduced FASTA; `None` = standard input.
    pub reduced: Option<PathBuf>,
    pub deltas: PathBuf,
    pub output: OutputPath,
    /// Rewrap every record to this width (0 = one line) instead of restoring the layout.
    pub line_width: Option<usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReconstructError {
    #[error("{0}")]
    Read(#[from] ReadError),
    #[error("{path}: {error}")]
    Fasta { path: String, error: FastaError },
    #[error("{path}: {error}")]
    Deltas { path: String, error: DeltaFileError },
    /// The deltas file and the reduced FASTA do not belong together, or the deltas are corrupt.
    #[error("{0}")]
    Mismatch(String),
    #[error("{0}")]
    Sink(#[from] SinkError),
    #[error("{0}")]
    Stage(#[from] StagePanic),
    #[error("could not start a thread: {0}")]
    Spawn(#[from] std::io::Error),
}

/// Totals of a finished reconstruction.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReconstructSummary {
    pub records: u64,
    pub representatives: u64,
    pub members: u64,
    pub bytes: u64,
    /// True when the output was checked against the original input's checksum.
    pub verified: bool,
}

const CHUNK_RECORDS: usize = 1024;
const CHUNK_BYTES: usize = 4 << 20;

pub fn run(job: &ReconstructJob) -> Result<ReconstructSummary, ReconstructError> {
    let deltas_name = job.deltas.display().to_string();
    let deltas_err = |error| ReconstructError::Deltas {
        path: deltas_name.clone(),
        error,
    };
    let deltas_input = Input::open(&InputSpec {
        path: Some(job.deltas.clone()),
        engine: Engine::Read,
        mmap_threshold: u64::MAX,
        ..InputSpec::default()
    })?;
    let (mut deltas, _header) = DeltaReader::new(deltas_input).map_err(deltas_err)?;

    let reduced_spec = InputSpec {
        path: job.reduced.clone(),
        engine: Engine::Auto,
        mmap_threshold: 64 << 20,
        ..InputSpec::default()
    };
    let reduced_input = Input::open(&reduced_spec)?;
    let reduced_name = reduced_input.name().to_string();
    let mut out = Sink::open("writer-fasta", job.output.clone(), 16 << 20)?;

    // Reduced FASTA -> chunks of representatives, on their own threads.
    let (block_tx, block_rx) = channel::bounded::<Block>("reduced-blocks", 16 << 20);
    let (chunk_tx, chunk_rx) = channel::bounded::<Chunk>("reduced-chunks", 32 << 20);
    let reader = stage::spawn("reader", move || {
        reader::read_blocks(reduced_input, 1 << 20, block_tx, &StageCounters::default())
    })?;
    let chunker = stage::spawn("chunker", move || -> Result<(), FastaError> {
        let mut chunker = Chunker::new(CHUNK_RECORDS, CHUNK_BYTES);
        let mut ready = Vec::new();
        while let Some(block) = block_rx.recv() {
            chunker.push(&block.data, &mut ready)?;
            for chunk in ready.drain(..) {
                if chunk_tx.send(chunk).is_err() {
                    return Ok(());
                }
            }
        }
        chunker.finish(&mut ready)?;
        for chunk in ready.drain(..) {
            if chunk_tx.send(chunk).is_err() {
                return Ok(());
            }
        }
        Ok(())
    })?;

    let result = rebuild(
        &mut deltas,
        chunk_rx,
        &mut out,
        job.line_width,
        &deltas_name,
        &reduced_name,
    );
    let read_result = reader.join();
    let chunk_result = chunker.join();
    // A reader/chunker failure explains a rebuild failure better than the rebuild's own error.
    read_result??;
    if let Err(error) = chunk_result? {
        // An empty reduced FASTA is a legitimate "no representatives" only if the deltas agree;
        // any other FASTA error is reported as is.
        return Err(ReconstructError::Fasta {
            path: reduced_name,
            error,
        });
    }
    let summary = result.map_err(|e| match e {
        RebuildError::Deltas(error) => deltas_err(error),
        RebuildError::Mismatch(m) => ReconstructError::Mismatch(m),
        RebuildError::Sink(e) => ReconstructError::Sink(e),
    })?;
    let bytes = out.commit()?;
    Ok(ReconstructSummary { bytes, ..summary })
}

enum RebuildError {
    Deltas(DeltaFileError),
    Mismatch(String),
    Sink(SinkError),
}

impl From<DeltaFileError> for RebuildError {
    fn from(e: DeltaFileError) -> Self {
        RebuildError::Deltas(e)
    }
}

fn write_out(out: &mut Sink, bytes: &[u8]) -> Result<(), RebuildError> {
    out.write_all(bytes).map_err(|e| {
        RebuildError::Sink(SinkError {
            path: "output".into(),
            message: e.to_string(),
            kind: Some(e.kind()),
        })
    })
}

/// Iterates the reduced FASTA's records across chunks.
struct Representatives {
    rx: Receiver<Chunk>,
    chunk: Option<Chunk>,
    next: usize,
}

/// The representatives read so far. Records decided longest first (`reduce::longest_first`)
/// can name a representative that comes later in the file than they do, so the reduced FASTA
/// is read ahead until it is there; the representatives read ahead wait in `ahead` until their
/// own entry in the deltas writes them out (and checks their crc).
struct RepTable {
    source: Representatives,
    /// Residues of every representative read, by number.
    residues: Vec<Box<[u8]>>,
    /// (raw bytes, header) of those read ahead of their entry, in file order.
    ahead: std::collections::VecDeque<(Vec<u8>, Vec<u8>)>,
    /// Representatives whose entry was seen.
    emitted: usize,
}

impl RepTable {
    /// The next representative in file order, for its `Representative` entry: (raw, header,
    /// residues), or `None` when the reduced FASTA has no more.
    fn next_entry(&mut self) -> Option<(Vec<u8>, Vec<u8>, &[u8])> {
        let (raw, header) = match self.ahead.pop_front() {
            Some(read) => read,
            None => {
                let (raw, header, residues) = self.source.next()?;
                self.residues.push(residues.into_boxed_slice());
                (raw, header)
            }
        };
        self.emitted += 1;
        Some((raw, header, &self.residues[self.emitted - 1]))
    }

    /// Residues of representative `rep` (0-based), reading ahead as far as needed.
    fn residues(&mut self, rep: usize) -> Option<&[u8]> {
        while self.residues.len() <= rep {
            let (raw, header, residues) = self.source.next()?;
            self.residues.push(residues.into_boxed_slice());
            self.ahead.push_back((raw, header));
        }
        Some(&self.residues[rep])
    }

    /// Whether the reduced FASTA holds records no entry wrote out.
    fn has_more(&mut self) -> bool {
        !self.ahead.is_empty() || self.source.next().is_some()
    }
}

impl Representatives {
    /// (raw bytes, header, residues) of the next representative.
    fn next(&mut self) -> Option<(Vec<u8>, Vec<u8>, Vec<u8>)> {
        loop {
            if let Some(chunk) = &mut self.chunk {
                if self.next < chunk.records.len() {
                    let record = &mut chunk.records[self.next];
                    self.next += 1;
                    let raw = record.raw(&chunk.data).to_vec();
                    let header = record.header(&chunk.data).to_vec();
                    return Some((raw, header, std::mem::take(&mut record.seq)));
                }
            }
            self.chunk = Some(self.rx.recv()?);
            self.next = 0;
        }
    }
}

fn rebuild(
    deltas: &mut DeltaReader<Input>,
    chunks: Receiver<Chunk>,
    out: &mut Sink,
    line_width: Option<usize>,
    deltas_name: &str,
    reduced_name: &str,
) -> Result<ReconstructSummary, RebuildError> {
    let mut reps = RepTable {
        source: Representatives {
            rx: chunks,
            chunk: None,
            next: 0,
        },
        residues: Vec::new(),
        ahead: Default::default(),
        emitted: 0,
    };
    let mut summary = ReconstructSummary::default();
    let mut output_hash = xxhash_rust::xxh3::Xxh3::new();
    let mut reduced_hash = xxhash_rust::xxh3::Xxh3::new();
    let mut reduced_bytes = 0u64;
    let mut buf = Vec::new();
    let mut seq = Vec::new();
    let mismatch = |what: String| {
        RebuildError::Mismatch(format!(
            "{deltas_name} does not belong to {reduced_name}: {what} (use the deltas file written by the same `talaria reduce` run)"
        ))
    };
    while let Some(entry) = deltas.next_entry()? {
        buf.clear();
        match entry {
            Entry::Preamble(bytes) => {
                if line_width.is_none() {
                    buf.extend_from_slice(&bytes);
                }
            }
            Entry::Representative { crc } => {
                let number = reps.emitted + 1;
                let Some((raw, header, residues)) = reps.next_entry() else {
                    return Err(mismatch(format!(
                        "the deltas expect representative {number} but the reduced FASTA has only {} records",
                        number - 1
                    )));
                };
                if crc32fast::hash(&raw) != crc {
                    return Err(mismatch(format!(
                        "representative {number} ('{}') differs from the one the deltas were made with",
                        String::from_utf8_lossy(crate::fasta::record::first_token(&header))
                    )));
                }
                reduced_hash.update(&raw);
                reduced_bytes += raw.len() as u64;
                match line_width {
                    None => buf.extend_from_slice(&raw),
                    Some(width) => render_wrapped(&header, residues, width, &mut buf),
                }
                summary.representatives += 1;
            }
            Entry::Member {
                rep,
                header,
                layout,
                delta,
                seq_len,
            } => {
                let Some(rep_seq) = reps.residues(rep as usize) else {
                    return Err(mismatch(format!(
                        "record {} refers to representative {} but the reduced FASTA has only {} records",
                        summary.records + 1,
                        rep + 1,
                        reps.residues.len()
                    )));
                };
                seq.clear();
                ops::apply(rep_seq, &delta, seq_len as usize, &mut seq)
                    .map_err(|e| mismatch(format!("record {}: {e}", summary.records + 1)))?;
                if seq.len() as u64 != seq_len {
                    return Err(mismatch(format!(
                        "record {}: rebuilt length differs",
                        summary.records + 1
                    )));
                }
                match line_width {
                    None => {
                        let (layout, _) = Layout::decode(&layout).map_err(|e| {
                            mismatch(format!("record {}: {e}", summary.records + 1))
                        })?;
                        layout.render(&header, &seq, &mut buf).map_err(|e| {
                            mismatch(format!("record {}: {e}", summary.records + 1))
                        })?;
                    }
                    Some(width) => render_wrapped(&header, &seq, width, &mut buf),
                }
                summary.members += 1;
            }
        }
        output_hash.update(&buf);
        summary.bytes += buf.len() as u64;
        write_out(out, &buf)?;
        summary.records = summary.representatives + summary.members;
    }
    if reps.has_more() {
        return Err(mismatch(
            "the reduced FASTA has more records than the deltas describe".into(),
        ));
    }
    let trailer = deltas.trailer().cloned().unwrap_or_default();
    if trailer.records != summary.records || trailer.representatives != summary.representatives {
        return Err(mismatch(format!(
            "the deltas' trailer counts {} records, {} rebuilt",
            trailer.records, summary.records
        )));
    }
    if trailer.reduced_bytes != reduced_bytes || trailer.reduced_xxh3 != reduced_hash.digest() {
        return Err(mismatch(
            "the reduced FASTA's checksum differs from the recorded one".into(),
        ));
    }
    if line_width.is_none() {
        if summary.bytes != trailer.input_bytes || output_hash.digest() != trailer.input_xxh3 {
            return Err(mismatch(
                "the rebuilt output does not match the original input's checksum (corrupt deltas?)"
                    .into(),
            ));
        }
        summary.verified = true;
    }
    Ok(summary)
}
