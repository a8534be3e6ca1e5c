//! Output sinks. Each output file gets its own writer thread fed through a byte-budget channel,
//! so no output waits on another. Files are written under a temporary name in the same
//! directory and renamed only on `commit`; dropping an uncommitted sink removes the temporary,
//! so a failed run leaves nothing that looks finished. Standard output is written directly.

use crate::channel::{self, Sender};
use crate::stage::{self, StageHandle};
use std::fs::File;
use std::io::Write;
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
    pub fn display(&self) -> String {
        match self {
            OutputPath::Stdout => "<stdout>".into(),
            OutputPath::File(p) => p.display().to_string(),
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

/// Bytes gathered before a buffer is handed to the writer thread.
const HANDOFF: usize = 256 << 10;

/// Buffered handle to an output's writer thread. Implements `std::io::Write`
/// (errors from the thread surface on a later write or on commit, kind preserved).
pub struct Sink {
    path: OutputPath,
    temp: Option<PathBuf>,
    buffer: Vec<u8>,
    tx: Option<Sender<Vec<u8>>>,
    thread: Option<StageHandle<std::io::Result<u64>>>,
    committed: bool,
}

fn temp_name(path: &std::path::Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "output".into());
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

impl Sink {
    /// Create the temporary file now (so an unwritable path fails before any work) and start the
    /// writer thread named `thread_name`. `budget_bytes` bounds the bytes queued for it.
    pub fn open(thread_name: &str, path: OutputPath, budget_bytes: usize) -> Result<Sink, SinkError> {
        let fail = |e: std::io::Error| SinkError { path: path.display(), message: e.to_string(), kind: Some(e.kind()) };
        let (target, temp): (Box<dyn Write + Send>, Option<PathBuf>) = match &path {
            OutputPath::Stdout => (Box::new(std::io::stdout()), None),
            OutputPath::File(p) => {
                let temp = temp_name(p);
                (Box::new(File::create(&temp).map_err(fail)?), Some(temp))
            }
        };
        let (tx, rx) = channel::bounded::<Vec<u8>>("sink", budget_bytes.max(2 * HANDOFF));
        let thread = stage::spawn(thread_name, move || -> std::io::Result<u64> {
            let mut target = target;
            let mut written = 0u64;
            while let Some(buf) = rx.recv() {
                target.write_all(&buf)?;
                written += buf.len() as u64;
            }
            target.flush()?;
            Ok(written)
        })
        .map_err(fail)?;
        Ok(Sink { path, temp, buffer: Vec::with_capacity(HANDOFF), tx: Some(tx), thread: Some(thread), committed: false })
    }

    fn error(&self, e: &std::io::Error) -> SinkError {
        SinkError { path: self.path.display(), message: e.to_string(), kind: Some(e.kind()) }
    }

    /// The writer thread stopped early: collect its error.
    fn thread_error(&mut self) -> std::io::Error {
        self.tx = None;
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(Err(e))) => e,
            Some(Err(panic)) => std::io::Error::other(panic.to_string()),
            _ => std::io::Error::other("output writer stopped"),
        }
    }

    fn hand_off(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let buf = std::mem::replace(&mut self.buffer, Vec::with_capacity(HANDOFF));
        let sent = match &self.tx {
            Some(tx) => tx.send(buf).is_ok(),
            None => false,
        };
        if sent {
            Ok(())
        } else {
            Err(self.thread_error())
        }
    }

    /// Flush, wait for the thread, rename the temporary to the final name. Returns bytes written.
    pub fn commit(mut self) -> Result<u64, SinkError> {
        self.hand_off().map_err(|e| self.error(&e))?;
        self.tx = None;
        let written = match self.thread.take().map(|t| t.join()) {
            Some(Ok(Ok(n))) => n,
            Some(Ok(Err(e))) => return Err(self.error(&e)),
            Some(Err(panic)) => return Err(self.error(&std::io::Error::other(panic.to_string()))),
            None => return Err(self.error(&std::io::Error::other("output writer stopped"))),
        };
        if let (Some(temp), OutputPath::File(path)) = (&self.temp, &self.path) {
            std::fs::rename(temp, path).map_err(|e| self.error(&e))?;
        }
        self.committed = true;
        Ok(written)
    }
}

impl Write for Sink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buffer.len() + data.len() > HANDOFF {
            self.hand_off()?;
        }
        if data.len() >= HANDOFF {
            // Large writes go straight through as their own buffer.
            self.buffer.extend_from_slice(data);
            self.hand_off()?;
        } else {
            self.buffer.extend_from_slice(data);
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.hand_off()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        if !self.committed {
            self.tx = None;
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
            if let Some(temp) = &self.temp {
                let _ = std::fs::remove_file(temp);
            }
        }
    }
}
