//! Named stage threads and their counters. A stage's panic becomes an error naming the stage.
//! This module only runs and measures threads: it must not decide what a stage does, and it
//! must not swallow a panic (joining always reports it).

use crate::channel::{Receiver, SendError, Sender};
use crate::Weighted;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;

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
    /// When the wait (or blocked) span in progress began, in ns since [`crate::metrics::epoch`]
    /// plus one; 0 when none is open. Lets a sampler count time inside a long wait before it
    /// ends (two relaxed stores per wait: no lock, no extra clock read).
    wait_open: AtomicU64,
    blocked_open: AtomicU64,
}

/// A point-in-time copy of [`StageCounters`], for summaries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CountersSnapshot {
    pub items_in: u64,
    pub items_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub busy_ns: u64,
    pub wait_ns: u64,
    pub blocked_ns: u64,
}

/// Adds the time from its creation to its drop to one counter (see [`StageCounters::busy`]).
#[must_use = "the time is counted when the timer is dropped"]
pub struct Timer<'a> {
    counter: &'a AtomicU64,
    /// The span-in-progress slot to clear on drop (waiting and blocked timers only).
    open: Option<&'a AtomicU64>,
    /// None when accounting is off (`TALARIA_ACCOUNTING=off`): no clock reads at all.
    started: Option<Instant>,
}

impl Drop for Timer<'_> {
    fn drop(&mut self) {
        if let Some(started) = self.started {
            let ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            self.counter.fetch_add(ns, Ordering::Relaxed);
            if let Some(open) = self.open {
                open.store(0, Ordering::Relaxed);
            }
        }
    }
}

impl StageCounters {
    pub fn add(counter: &AtomicU64, v: u64) {
        counter.fetch_add(v, Ordering::Relaxed);
    }
    /// Count time until the returned guard drops into `counter` (one of this struct's fields).
    pub fn time<'a>(&'a self, counter: &'a AtomicU64) -> Timer<'a> {
        Timer {
            counter,
            open: None,
            started: crate::metrics::accounting_on().then(Instant::now),
        }
    }
    /// Like [`Self::time`], and publishes the span's start in `open` while it lasts.
    fn time_open<'a>(&'a self, counter: &'a AtomicU64, open: &'a AtomicU64) -> Timer<'a> {
        let started = crate::metrics::accounting_on().then(Instant::now);
        if let Some(t) = started {
            open.store(crate::metrics::since_epoch_ns(t) + 1, Ordering::Relaxed);
        }
        Timer {
            counter,
            open: started.map(|_| open),
            started,
        }
    }
    /// Time working (not waiting): `let _busy = counters.busy();`.
    pub fn busy(&self) -> Timer<'_> {
        self.time(&self.busy_ns)
    }
    /// Time waiting for input.
    pub fn waiting(&self) -> Timer<'_> {
        self.time_open(&self.wait_ns, &self.wait_open)
    }
    /// Time blocked on a full output (backpressure).
    pub fn blocked(&self) -> Timer<'_> {
        self.time_open(&self.blocked_ns, &self.blocked_open)
    }
    /// (waiting, blocked) ns as of `now`, counting the span in progress, if any, up to `now`
    /// (a sampler's view; the totals in [`Self::snapshot`] count a span once it has ended).
    pub fn waiting_blocked_at(&self, now: Instant) -> (u64, u64) {
        let now_ns = crate::metrics::since_epoch_ns(now);
        let at = |closed: &AtomicU64, open: &AtomicU64| {
            let done = closed.load(Ordering::Relaxed);
            match open.load(Ordering::Relaxed) {
                0 => done,
                since => done + now_ns.saturating_sub(since - 1),
            }
        };
        (
            at(&self.wait_ns, &self.wait_open),
            at(&self.blocked_ns, &self.blocked_open),
        )
    }
    /// `rx.recv()`, timed as waiting for input and counted in `items_in` / `bytes_in`.
    pub fn recv<T: Weighted + Send>(&self, rx: &Receiver<T>) -> Option<T> {
        let item = {
            let _wait = self.waiting();
            rx.recv()
        }?;
        self.count_in(item.weight());
        Some(item)
    }
    /// `tx.send(item)`, timed as blocked on output and counted in `items_out` / `bytes_out`.
    pub fn send<T: Weighted + Send>(&self, tx: &Sender<T>, item: T) -> Result<(), SendError<T>> {
        let weight = item.weight();
        let _blocked = self.blocked();
        tx.send(item)?;
        self.count_out(weight);
        Ok(())
    }
    /// One item of `bytes` taken in.
    pub fn count_in(&self, bytes: usize) {
        Self::add(&self.items_in, 1);
        Self::add(&self.bytes_in, bytes as u64);
    }
    /// One item of `bytes` handed on.
    pub fn count_out(&self, bytes: usize) {
        self.count_out_n(1, bytes);
    }
    /// `items` of `bytes` in all handed on.
    pub fn count_out_n(&self, items: u64, bytes: usize) {
        Self::add(&self.items_out, items);
        Self::add(&self.bytes_out, bytes as u64);
    }
    pub fn snapshot(&self) -> CountersSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CountersSnapshot {
            items_in: get(&self.items_in),
            items_out: get(&self.items_out),
            bytes_in: get(&self.bytes_in),
            bytes_out: get(&self.bytes_out),
            busy_ns: get(&self.busy_ns),
            wait_ns: get(&self.wait_ns),
            blocked_ns: get(&self.blocked_ns),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("stage thread '{stage}' panicked: {message}")]
pub struct StagePanic {
    pub stage: String,
    pub message: String,
}

/// A running stage; `join` it to get its result or its panic.
pub struct StageHandle<R> {
    name: String,
    handle: JoinHandle<R>,
}

/// Spawn `f` on an OS thread named `name` (visible in top -H, perf, /proc).
/// Linux shows the first 15 bytes of a thread name. When the spawning thread reports to a
/// [`crate::metrics::Registry`], so does the new one: its counters ([`crate::metrics::counters`]),
/// histograms, wall and CPU time are reported when `f` returns. Its allocations count for its
/// stage under `--trace-memory` ([`crate::alloc`]).
pub fn spawn<F, R>(name: impl Into<String>, f: F) -> std::io::Result<StageHandle<R>>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let name = name.into();
    let registry = crate::metrics::current();
    let thread_name = name.clone();
    let handle = std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || {
            let started = Instant::now();
            crate::alloc::set_thread_stage(&thread_name);
            let has_registry = registry.is_some();
            crate::metrics::enter(registry, &thread_name);
            let result = f();
            if has_registry {
                crate::metrics::finish_thread(&thread_name, started);
            }
            result
        })?;
    Ok(StageHandle { name, handle })
}

/// The text of a panic payload (`panic!` gives `&str` or `String`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_string()
    }
}

impl<R> StageHandle<R> {
    pub fn name(&self) -> &str {
        &self.name
    }
    /// True once the thread has returned (or panicked); `join` will not block.
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }
    pub fn join(self) -> Result<R, StagePanic> {
        let StageHandle { name, handle } = self;
        handle.join().map_err(|payload| StagePanic {
            stage: name,
            message: panic_message(payload.as_ref()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_on_a_thread_with_the_stage_name() {
        let h = spawn("chunker", || {
            std::thread::current().name().map(str::to_string)
        })
        .unwrap();
        assert_eq!(h.name(), "chunker");
        assert_eq!(h.join().unwrap().as_deref(), Some("chunker"));
    }

    #[test]
    fn panics_become_errors_naming_the_stage() {
        let e = spawn("aligner-3", || -> u32 { panic!("static message") })
            .unwrap()
            .join()
            .unwrap_err();
        assert_eq!(
            (e.stage.as_str(), e.message.as_str()),
            ("aligner-3", "static message")
        );
        assert_eq!(
            e.to_string(),
            "stage thread 'aligner-3' panicked: static message"
        );

        let e = spawn("writer", || panic!("record {} is bad", 42))
            .unwrap()
            .join()
            .unwrap_err();
        assert_eq!(e.message, "record 42 is bad");

        let e = spawn("odd", || std::panic::panic_any(7u8))
            .unwrap()
            .join()
            .unwrap_err();
        assert_eq!(e.message, "unknown panic payload");
    }

    #[test]
    fn timers_add_elapsed_time_and_snapshot_copies() {
        let counters = StageCounters::default();
        {
            let _busy = counters.busy();
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        {
            let _blocked = counters.blocked();
        }
        StageCounters::add(&counters.items_out, 3);
        StageCounters::add(&counters.bytes_out, 300);
        let snap = counters.snapshot();
        assert!(snap.busy_ns >= 2_000_000, "busy time not counted: {snap:?}");
        assert_eq!(
            (snap.items_out, snap.bytes_out, snap.items_in, snap.wait_ns),
            (3, 300, 0, 0)
        );
        // A wait in progress is seen before it ends, and only once after.
        let t0 = Instant::now();
        let (w0, _) = counters.waiting_blocked_at(t0);
        {
            let _wait = counters.waiting();
            std::thread::sleep(std::time::Duration::from_millis(3));
            let (w, _) = counters.waiting_blocked_at(Instant::now());
            assert!(w >= w0 + 2_000_000, "open wait not seen: {w} vs {w0}");
        }
        let closed = counters.snapshot().wait_ns;
        let (w, _) = counters.waiting_blocked_at(Instant::now());
        assert_eq!(w, closed);
        let h = spawn("quick", || 5).unwrap();
        while !h.is_finished() {
            std::thread::yield_now();
        }
        assert_eq!(h.join().unwrap(), 5);
    }
}
