//! Named stage threads and their counters. A stage's panic becomes an error naming the stage.

use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

/// Per-stage accounting (all monotonic, updated with relaxed atomics).
#[derive(Debug, Default)]
pub struct StageCounters {
    pub items_in: AtomicU64,
    pub items_out: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub busy_ns: AtomicU64,
    pub wait_ns: AtomicU64,
    pub blocked_ns: AtomicU64,
}

impl StageCounters {
    pub fn add(counter: &AtomicU64, v: u64) {
        counter.fetch_add(v, Ordering::Relaxed);
    }
}

#[derive(Debug, thiserror::Error)]
#[error("stage thread '{stage}' panicked: {message}")]
pub struct StagePanic {
    pub stage: String,
    pub message: String,
}

pub struct StageHandle<R> {
    name: String,
    handle: JoinHandle<R>,
}

/// Spawn `f` on an OS thread named `name` (visible in top -H, perf, /proc).
pub fn spawn<F, R>(name: impl Into<String>, f: F) -> std::io::Result<StageHandle<R>>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let name = name.into();
    let handle = std::thread::Builder::new().name(name.clone()).spawn(f)?;
    Ok(StageHandle { name, handle })
}

impl<R> StageHandle<R> {
    pub fn join(self) -> Result<R, StagePanic> {
        self.handle.join().map_err(|payload| {
            let message = if let Some(s) = payload.downcast_ref::<&str>() {
                s.to_string()
            } else if let Some(s) = payload.downcast_ref::<String>() {
                s.clone()
            } else {
                "unknown panic payload".to_string()
            };
            StagePanic { stage: self.name, message }
        })
    }
}
