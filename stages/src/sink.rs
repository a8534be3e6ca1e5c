//! Output sinks. Each output file gets its own writer thread fed through a byte-budget channel,
//! so no output waits on another. Files are written under a temporary name in the same
//! directory and renamed only on `commit`; dropping an uncommitted sink removes the temporary,
//! so a failed run leaves nothing that looks finished. Standard output is written directly.
//! A sink must not lose an error (a failed write surfaces on a later write, flush or commit with
//! its `io::ErrorKind`, so a closed pipe stays `BrokenPipe`), and must not panic on any I/O error.
//! `commit` does not fsync: outputs survive a crashed process, not necessarily a power cut.

use crate::channel::{self, ChannelStats, Receiver, Sender};
use crate::stage::{self, StageHandle};
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

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

/// Display: `"<path>: <message>"`. `kind` keeps the I/O error kind (BrokenPipe on a closed stdout).
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SinkError {
    pub path: String,
    pub message: String,
    pub kind: Option<std::io::ErrorKind>,
}

/// Bytes gathered before a buffer is handed to the writer thread (a write syscall per 256 KiB
/// keeps syscall cost negligible; larger buffers only add latency and budget).
const HANDOFF: usize = 256 << 10;

/// Where a writer thread puts its bytes.
enum Target {
    /// Locked inside the thread (a `StdoutLock` cannot move between threads).
    Stdout,
    Writer(Box<dyn Write + Send>),
}

/// Buffered handle to an output's writer thread. Implements `std::io::Write`
/// (errors from the thread surface on a later write or on commit, kind preserved).
pub struct Sink {
    /// For messages: the final path, `"<stdout>"`, or a caller's name.
    name: String,
    /// (temporary, final) for files.
    rename: Option<(PathBuf, PathBuf)>,
    buffer: Vec<u8>,
    tx: Option<Sender<Vec<u8>>>,
    thread: Option<StageHandle<std::io::Result<u64>>>,
    /// Set when the sink is dropped uncommitted: the thread stops writing queued buffers.
    abandoned: Arc<AtomicBool>,
    /// The writer thread's error, kept so every later call reports it with the same kind.
    failure: Option<(std::io::ErrorKind, String)>,
    committed: bool,
}

/// The temporary name for `path`: `<dir>/.<filename>.tmp-<pid>`.
pub fn temp_name(path: &std::path::Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "output".into());
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Writer thread body: write every buffer in order, then flush. Returns the bytes written.
fn pump(
    out: &mut dyn Write,
    rx: Receiver<Vec<u8>>,
    abandoned: &AtomicBool,
) -> std::io::Result<u64> {
    let mut written = 0u64;
    let counters = crate::metrics::counters();
    while let Some(buf) = counters.recv(&rx) {
        if abandoned.load(Ordering::Relaxed) {
            return Err(std::io::Error::other("output abandoned before commit"));
        }
        {
            let _busy = counters.busy();
            let _call = crate::metrics::span("write");
            out.write_all(&buf)?;
        }
        written += buf.len() as u64;
        counters.count_out(buf.len());
    }
    let _busy = counters.busy();
    out.flush()?;
    Ok(written)
}

impl Sink {
    /// Create the temporary file now (so an unwritable path fails before any work) and start the
    /// writer thread named `thread_name`. `budget_bytes` bounds the bytes queued for it.
    pub fn open(
        thread_name: &str,
        path: OutputPath,
        budget_bytes: usize,
    ) -> Result<Sink, SinkError> {
        let name = path.display();
        let fail = |e: &std::io::Error| SinkError {
            path: name.clone(),
            message: e.to_string(),
            kind: Some(e.kind()),
        };
        match path {
            OutputPath::Stdout => Sink::start(
                thread_name,
                name.clone(),
                Target::Stdout,
                None,
                budget_bytes,
            ),
            OutputPath::File(path) => {
                if path.is_dir() {
                    return Err(SinkError {
                        path: name,
                        message: "is a directory; give a file name".into(),
                        kind: Some(std::io::ErrorKind::IsADirectory),
                    });
                }
                let temp = temp_name(&path);
                let file = File::create(&temp).map_err(|e| fail(&e))?;
                let started = Sink::start(
                    thread_name,
                    name.clone(),
                    Target::Writer(Box::new(file)),
                    Some((temp.clone(), path)),
                    budget_bytes,
                );
                if started.is_err() {
                    let _ = std::fs::remove_file(&temp);
                }
                started
            }
        }
    }

    /// A sink writing to any `writer` (a pipe, a socket, a test double) on its own thread named
    /// `thread_name`; `name` appears in errors. No temporary file and no rename.
    pub fn from_writer(
        thread_name: &str,
        name: &str,
        writer: Box<dyn Write + Send>,
        budget_bytes: usize,
    ) -> Result<Sink, SinkError> {
        Sink::start(
            thread_name,
            name.to_string(),
            Target::Writer(writer),
            None,
            budget_bytes,
        )
    }

    fn start(
        thread_name: &str,
        name: String,
        target: Target,
        rename: Option<(PathBuf, PathBuf)>,
        budget_bytes: usize,
    ) -> Result<Sink, SinkError> {
        let (tx, rx) = channel::bounded::<Vec<u8>>("sink", budget_bytes.max(2 * HANDOFF));
        let abandoned = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&abandoned);
        let thread = stage::spawn(thread_name, move || match target {
            Target::Stdout => pump(&mut std::io::stdout().lock(), rx, &stop),
            Target::Writer(mut writer) => pump(&mut writer, rx, &stop),
        })
        .map_err(|e| SinkError {
            path: name.clone(),
            message: format!("cannot start writer thread: {e}"),
            kind: Some(e.kind()),
        })?;
        Ok(Sink {
            name,
            rename,
            buffer: Vec::with_capacity(HANDOFF),
            tx: Some(tx),
            thread: Some(thread),
            abandoned,
            failure: None,
            committed: false,
        })
    }

    /// The output's name in messages: its path, `"<stdout>"`, or the name given to [`Sink::from_writer`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The queue to the writer thread: `send_blocked_ns` is how long producers waited on this
    /// output (the output is the bottleneck when it is large). `None` once the thread has stopped.
    pub fn queue_stats(&self) -> Option<ChannelStats> {
        self.tx.as_ref().map(Sender::stats)
    }

    /// A stats reader for the queue to the writer thread, named after that thread (for the
    /// sampler). `None` once the thread has stopped.
    pub fn probe(&self) -> Option<crate::metrics::Probe> {
        let (tx, thread) = (self.tx.as_ref()?, self.thread.as_ref()?);
        let probe = tx.probe();
        Some(crate::metrics::Probe::new(thread.name(), move || {
            probe.stats()
        }))
    }

    fn error(&self, e: &std::io::Error) -> SinkError {
        SinkError {
            path: self.name.clone(),
            message: e.to_string(),
            kind: Some(e.kind()),
        }
    }

    /// The error the writer thread already reported, if any.
    fn check(&self) -> std::io::Result<()> {
        match &self.failure {
            Some((kind, message)) => Err(std::io::Error::new(*kind, message.clone())),
            None => Ok(()),
        }
    }

    /// The writer thread stopped early: collect its error and keep it for later calls.
    fn thread_error(&mut self) -> std::io::Error {
        self.tx = None;
        let e = match self.thread.take().map(StageHandle::join) {
            Some(Ok(Err(e))) => e,
            Some(Err(panic)) => std::io::Error::other(panic.to_string()),
            Some(Ok(Ok(_))) | None => std::io::Error::other("output writer stopped"),
        };
        self.failure = Some((e.kind(), e.to_string()));
        e
    }

    fn send(&mut self, buf: Vec<u8>) -> std::io::Result<()> {
        self.check()?;
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

    fn hand_off(&mut self) -> std::io::Result<()> {
        self.check()?;
        if self.buffer.is_empty() {
            return Ok(());
        }
        let buf = std::mem::replace(&mut self.buffer, Vec::with_capacity(HANDOFF));
        self.send(buf)
    }

    /// Flush, wait for the thread, rename the temporary to the final name. Returns bytes written.
    pub fn commit(mut self) -> Result<u64, SinkError> {
        self.hand_off().map_err(|e| self.error(&e))?;
        self.tx = None;
        let written = match self.thread.take().map(StageHandle::join) {
            Some(Ok(Ok(n))) => n,
            Some(Ok(Err(e))) => return Err(self.error(&e)),
            Some(Err(panic)) => return Err(self.error(&std::io::Error::other(panic.to_string()))),
            None => return Err(self.error(&std::io::Error::other("output writer stopped"))),
        };
        if let Some((temp, path)) = &self.rename {
            std::fs::rename(temp, path).map_err(|e| self.error(&e))?;
        }
        self.committed = true;
        Ok(written)
    }
}

impl Write for Sink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.check()?;
        if self.buffer.len() + data.len() > HANDOFF {
            self.hand_off()?;
        }
        if data.len() >= HANDOFF {
            // Large writes go straight through as their own buffer.
            self.send(data.to_vec())?;
        } else {
            self.buffer.extend_from_slice(data);
        }
        Ok(data.len())
    }
    /// Hands buffered bytes to the writer thread (it does not wait for them to be written).
    fn flush(&mut self) -> std::io::Result<()> {
        self.hand_off()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        self.abandoned.store(true, Ordering::Relaxed);
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some((temp, _)) = &self.rename {
            let _ = std::fs::remove_file(temp);
        }
    }
}

#[cfg(test)]
mod tests;
