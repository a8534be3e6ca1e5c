//! Representatives' residues read back from the input file instead of held in memory.
//!
//! When records are decided longest first the input is a regular, uncompressed file that stays
//! where it is for the whole run (`reduce::longest_first`), so the index need not keep a copy
//! of every representative's residues: it keeps where the record sits, and a candidate pair
//! reads them back with one `pread`. On 500,000 generated proteins at 0.9 the residues were
//! 149 MB of a 594 MiB peak (README, "Memory"). The kernel's page cache holds the file; those
//! pages are not the process's resident memory.
//!
//! A read that fails, or a record that no longer parses to the residues counted in the scan,
//! means the file changed or broke under the run: the first such error is kept here, the run
//! fails with it after the deciding pass, and nothing is written (longest-first outputs are
//! written only after every decision).
//!
//! Streams and compressed input are read once, so there is no file to read back from; there the
//! writer spills representatives' residues to an unnamed temporary file instead (`TMPDIR`, gone
//! when the run ends), a batch of about [`SPILL_BATCH`] bytes at a time, at most as many bytes as
//! `--memory-limit` (so a run never puts more on disk than it was allowed in memory). Until
//! their batch is written they are held. A spill that cannot be created or written only ends
//! the spilling (the rest is held, and the summary says why); a spilled record that cannot be
//! read back fails the run, before the outputs get their final names.

use crate::fasta::chunker::Chunker;
use crate::reduce::ReduceError;
use parking_lot::Mutex;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Where one record sits in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileSpan {
    /// Offset of its `>`.
    pub offset: u64,
    /// Bytes from its `>` up to the next record's (or the end of the file).
    pub raw_len: u32,
    /// Residues the scan counted.
    pub seq_len: u32,
}

/// Bytes of residues the writer collects before it writes them to the spill file.
pub const SPILL_BATCH: usize = 1 << 20;

/// The input file and the span of every record in decision order, or a spill file.
pub struct ResidueFile {
    path: PathBuf,
    file: std::fs::File,
    /// Decision position -> span (empty for a spill file).
    spans: Arc<[FileSpan]>,
    order: Arc<[u32]>,
    /// A spill file: bytes written, the most it may hold, and why spilling stopped.
    spill: Option<Spill>,
    failed: Mutex<Option<ReduceError>>,
    reads: AtomicU64,
    bytes: AtomicU64,
}

struct Spill {
    written: AtomicU64,
    cap: u64,
    stopped: Mutex<Option<String>>,
}

/// What the reads cost, for the summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResidueReads {
    pub reads: u64,
    pub bytes: u64,
    /// Spill files: bytes written to it, and why spilling stopped (if it did).
    pub spilled: u64,
    pub spill_stopped: Option<String>,
}

impl ResidueFile {
    /// `spans` by input index and `order` (decision position -> input index), as the plan
    /// keeps them.
    pub fn open(
        path: PathBuf,
        spans: Arc<[FileSpan]>,
        order: Arc<[u32]>,
    ) -> Result<ResidueFile, ReduceError> {
        let file = std::fs::File::open(&path).map_err(|e| read_error(&path, &e))?;
        Ok(ResidueFile {
            path,
            file,
            spans,
            order,
            spill: None,
            failed: Mutex::new(None),
            reads: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        })
    }

    /// An unnamed temporary file for the residues of up to `cap` bytes of representatives;
    /// `Err(why)` if none can be made here.
    pub fn spill(cap: u64) -> Result<ResidueFile, String> {
        let file = tempfile::tempfile().map_err(|e| {
            format!(
                "no temporary file in {}: {e}",
                std::env::temp_dir().display()
            )
        })?;
        Ok(ResidueFile {
            path: std::env::temp_dir().join("(talaria spill file)"),
            file,
            spans: Arc::from(Vec::new()),
            order: Arc::from(Vec::new()),
            spill: Some(Spill {
                written: AtomicU64::new(0),
                cap,
                stopped: Mutex::new(None),
            }),
            failed: Mutex::new(None),
            reads: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        })
    }

    pub fn is_spill(&self) -> bool {
        self.spill.is_some()
    }

    /// Writes `batch` at the end of the spill file: its offset there, or `None` once spilling
    /// has stopped (full, or a write failed: the reason is kept for the summary). Only the
    /// writer stage appends.
    pub fn append(&self, batch: &[u8]) -> Option<u64> {
        let spill = self.spill.as_ref()?;
        if spill.stopped.lock().is_some() {
            return None;
        }
        let at = spill.written.load(Ordering::Relaxed);
        if at + batch.len() as u64 > spill.cap {
            *spill.stopped.lock() = Some(format!(
                "the spill file reached {} MiB, the memory limit; later ones are held",
                spill.cap >> 20
            ));
            return None;
        }
        if let Err(e) = self.file.write_all_at(batch, at) {
            *spill.stopped.lock() = Some(format!(
                "writing the spill file failed ({e}); later ones are held"
            ));
            return None;
        }
        spill
            .written
            .store(at + batch.len() as u64, Ordering::Relaxed);
        Some(at)
    }

    /// `len` residues the writer spilled at `offset`; `None` (with the error kept for the end
    /// of the run) if they cannot be read back.
    pub fn spilled(&self, offset: u64, len: u32) -> Option<Vec<u8>> {
        let mut seq = vec![0u8; len as usize];
        match self.file.read_exact_at(&mut seq, offset) {
            Ok(()) => {
                self.reads.fetch_add(1, Ordering::Relaxed);
                self.bytes.fetch_add(len as u64, Ordering::Relaxed);
                Some(seq)
            }
            Err(e) => {
                self.failed.lock().get_or_insert(read_error(&self.path, &e));
                None
            }
        }
    }

    /// The span of the record decided at `position` (the replay's record ordinal).
    pub fn span_at(&self, position: u64) -> Option<FileSpan> {
        let index = *self.order.get(position as usize)?;
        self.spans.get(index as usize).copied()
    }

    /// The residues of the record at `span`, exactly as the chunker gives them; `None` (with
    /// the error kept for the end of the run) if the file no longer holds them.
    pub fn residues(&self, span: FileSpan, raw: &mut Vec<u8>) -> Option<Vec<u8>> {
        match self.read(span, raw) {
            Ok(seq) => Some(seq),
            Err(e) => {
                self.failed.lock().get_or_insert(e);
                None
            }
        }
    }

    /// [`Self::residues`] with the error returned (pass 3 of longest first recomputing a
    /// delta), `raw` the buffer the record's bytes are read into.
    pub fn read(&self, span: FileSpan, raw: &mut Vec<u8>) -> Result<Vec<u8>, ReduceError> {
        raw.clear();
        raw.resize(span.raw_len as usize, 0);
        self.file
            .read_exact_at(raw, span.offset)
            .map_err(|e| read_error(&self.path, &e))?;
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(raw.len() as u64, Ordering::Relaxed);
        let seq = match plain_residues(raw, span.seq_len as usize) {
            Some(seq) => seq,
            None => self.parsed(raw)?,
        };
        if seq.len() != span.seq_len as usize {
            return Err(changed(&self.path));
        }
        Ok(seq)
    }

    /// The chunker's residues of one record's bytes (any line endings, any layout).
    fn parsed(&self, raw: &[u8]) -> Result<Vec<u8>, ReduceError> {
        let mut chunks =
            Chunker::chunk_all(raw, 1, raw.len().max(1)).map_err(|error| ReduceError::Fasta {
                path: self.path.display().to_string(),
                error,
            })?;
        chunks
            .first_mut()
            .and_then(|c| c.records.first_mut())
            .map(|r| std::mem::take(&mut r.seq))
            .ok_or_else(|| changed(&self.path))
    }

    /// The first read that failed, if any: the run must fail with it.
    pub fn take_error(&self) -> Option<ReduceError> {
        self.failed.lock().take()
    }

    pub fn reads(&self) -> ResidueReads {
        ResidueReads {
            reads: self.reads.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            spilled: self
                .spill
                .as_ref()
                .map_or(0, |s| s.written.load(Ordering::Relaxed)),
            spill_stopped: self.spill.as_ref().and_then(|s| s.stopped.lock().clone()),
        }
    }
}

/// The residues of a record with `\n` line ends only: every byte after the header line but the
/// line ends. `None` when the record has a `\r` (CRLF, or a lone `\r` the chunker keeps as a
/// residue) or does not start like a record, for the chunker to parse; also when the count is
/// not `expected`, so that the chunker has the last word on anything unusual.
fn plain_residues(raw: &[u8], expected: usize) -> Option<Vec<u8>> {
    if raw.first() != Some(&b'>') || raw.contains(&b'\r') {
        return None;
    }
    let body = &raw[raw.iter().position(|&b| b == b'\n')? + 1..];
    let mut seq = Vec::with_capacity(expected);
    for line in body.split(|&b| b == b'\n') {
        seq.extend_from_slice(line);
    }
    (seq.len() == expected).then_some(seq)
}

fn read_error(path: &std::path::Path, e: &std::io::Error) -> ReduceError {
    ReduceError::Read(talaria_stages::reader::ReadError {
        path: path.display().to_string(),
        message: format!("reading a representative's residues back: {e}"),
        offset: None,
        kind: Some(e.kind()),
    })
}

/// The error of a file that no longer holds what the longest-first scan found in it.
pub(crate) fn changed(path: &std::path::Path) -> ReduceError {
    ReduceError::Read(talaria_stages::reader::ReadError {
        path: path.display().to_string(),
        message: "the file changed while it was read (longest-first order reads it more than once)"
            .into(),
        offset: None,
        kind: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spans and residues of every record of `text`, as the chunker sees them.
    fn scanned(text: &[u8]) -> (Vec<FileSpan>, Vec<Vec<u8>>) {
        let chunks = Chunker::chunk_all(text, 1000, 1 << 20).unwrap();
        let records: Vec<_> = chunks.iter().flat_map(|c| c.records.iter()).collect();
        let spans = records
            .iter()
            .map(|r| FileSpan {
                offset: r.offset,
                raw_len: r.raw.len() as u32,
                seq_len: r.seq.len() as u32,
            })
            .collect();
        (spans, records.iter().map(|r| r.seq.clone()).collect())
    }

    fn file_with(text: &[u8]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.fa");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn reads_back_what_the_chunker_parsed() {
        let text: &[u8] =
            b">a first\nMKVL\nAAGI\n\n>b\r\nAC\r\nGT\r\n>c\nac gt\tAC\n>empty\n>d\nA>C\nAC\r";
        let (spans, seqs) = scanned(text);
        let (_dir, path) = file_with(text);
        let order: Arc<[u32]> = (0..spans.len() as u32).rev().collect();
        let file = ResidueFile::open(path, spans.clone().into(), order).unwrap();
        let mut raw = Vec::new();
        for (position, index) in (0..spans.len()).rev().enumerate() {
            let span = file.span_at(position as u64).unwrap();
            assert_eq!(span, spans[index]);
            assert_eq!(
                file.residues(span, &mut raw).unwrap(),
                seqs[index],
                "record {index}"
            );
        }
        assert_eq!(seqs[3], b"");
        assert_eq!(seqs[4], b"A>CAC\r");
        assert_eq!(file.reads().reads, spans.len() as u64);
        assert!(file.take_error().is_none());
    }

    #[test]
    fn a_spill_file_gives_back_what_was_written_up_to_its_cap() {
        let file = ResidueFile::spill(10).unwrap();
        assert!(file.is_spill());
        assert_eq!(file.append(b"MKV"), Some(0));
        assert_eq!(file.append(b"acgtn"), Some(3));
        assert_eq!(file.spilled(3, 5).unwrap(), b"acgtn");
        assert_eq!(file.spilled(0, 3).unwrap(), b"MKV");
        // Past the cap: refused, and spilling stops for good.
        assert_eq!(file.append(b"WWW"), None);
        assert_eq!(file.append(b"W"), None);
        let reads = file.reads();
        assert_eq!((reads.reads, reads.bytes, reads.spilled), (2, 8, 8));
        assert!(reads.spill_stopped.unwrap().contains("memory limit"));
        // Reading past the end is an error kept for the end of the run.
        assert!(file.spilled(6, 5).is_none());
        assert!(file.take_error().is_some());
    }

    #[test]
    fn a_changed_file_is_an_error_kept_for_the_end() {
        let text: &[u8] = b">a\nMKVLAAGI\n>b\nACGT\n";
        let (spans, _) = scanned(text);
        let (_dir, path) = file_with(text);
        let file =
            ResidueFile::open(path.clone(), spans.clone().into(), vec![0, 1].into()).unwrap();
        std::fs::write(&path, b">a\nMKVL\n>b\nACGT\n").unwrap();
        let mut raw = Vec::new();
        assert!(file.residues(spans[0], &mut raw).is_none());
        let message = file.take_error().unwrap().to_string();
        assert!(message.contains("in.fa"), "{message}");
        assert!(message.contains("changed"), "{message}");
        assert!(file.take_error().is_none());
    }
}
