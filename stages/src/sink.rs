//! Output sinks. Each output file gets its own writer thread fed through a byte-budget channel,
//! so no output waits on another. Files are written under a temporary name in the same
//! directory and renamed only on `commit`; dropping an uncommitted sink removes the temporary,
//! so a failed run leaves nothing that looks finished. Standard output is written directly.

use std::path::PathBuf;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputPath {
    Stdout,
    File(PathBuf),
}

impl OutputPath {
    /// "-" means standard output.
    pub fn parse(text: &str) -> OutputPath {
        if text == "-" {
            OutputPath::Stdout
        } else {
            OutputPath::File(PathBuf::from(text))
        }
    }
}

/// Display: "<path>: <message>". `kind` keeps the I/O error kind (BrokenPipe on a closed stdout).
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SinkError {
    pub path: String,
    pub message: String,
    pub kind: Option<std::io::ErrorKind>,
}

/// Buffered handle to an output's writer thread. Implements `std::io::Write`
/// (errors from the thread surface on a later write or on commit, kind preserved).
pub struct Sink {}

impl Sink {
    /// Create the temporary file now (so an unwritable path fails before any work) and start the
    /// writer thread named `thread_name`. `budget_bytes` bounds the bytes queued for it.
    pub fn open(thread_name: &str, path: OutputPath, budget_bytes: usize) -> Result<Sink, SinkError> {
        let _ = (thread_name, path, budget_bytes);
        todo!("helper A")
    }
    /// Flush, wait for the thread, sync, rename the temporary to the final name. Returns bytes written.
    pub fn commit(self) -> Result<u64, SinkError> {
        todo!("helper A")
    }
}
