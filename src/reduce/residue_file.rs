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

/// The input file and the span of every record in decision order.
pub struct ResidueFile {
    path: PathBuf,
    file: std::fs::File,
    /// Decision position -> span.
    spans: Arc<[FileSpan]>,
    order: Arc<[u32]>,
    failed: Mutex<Option<ReduceError>>,
    reads: AtomicU64,
    bytes: AtomicU64,
}

/// What the reads cost, for the summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResidueReads {
    pub reads: u64,
    pub bytes: u64,
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
            failed: Mutex::new(None),
            reads: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        })
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

    fn read(&self, span: FileSpan, raw: &mut Vec<u8>) -> Result<Vec<u8>, ReduceError> {
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

fn changed(path: &std::path::Path) -> ReduceError {
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
