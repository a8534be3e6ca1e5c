//! Named stage threads and their counters. A stage's panic becomes an error naming the stage.

use std::sync::atomic::{AtomicU64, Ordering};

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
    _p: std::marker::PhantomData<R>,
}

/// Spawn `f` on an OS thread named `name` (visible in top -H, perf, /proc).
pub fn spawn<F, R>(name: impl Into<String>, f: F) -> std::io::Result<StageHandle<R>>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let _ = (name.into(), f);
    todo!("helper A")
}

impl<R> StageHandle<R> {
    pub fn join(self) -> Result<R, StagePanic> {
        todo!("helper A")
    }
}
