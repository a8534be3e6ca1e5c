//! Named stage threads and their counters. A stage's panic becomes an error naming the stage.
//! This module only runs and measures threads: it must not decide what a stage does, and it
//! must not swallow a panic (joining always reports it).

use crate::channel::{Receiver, SendError, Sender};
use crate::Weighted;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;

/// Per-stage accounting (all monotonic; relaxed atomics, except the waiting and blocked spans,
/// whose stamps and totals are ordered so a live reader never sees them go down).
#[derive(Debug, Default)]
pub struct StageCounters {
    pub items_in: AtomicU64,
    pub items_out: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub busy_ns: AtomicU64,
    pub wait_ns: AtomicU64,
    pub blocked_ns: AtomicU64,
    /// When the wait (or block) in progress began, in ns since [`crate::metrics::epoch`] plus
    /// one; 0 = none in progress. Lets a live view (the sampler behind `--profile-output`, the
    /// metrics export) count a wait that has not ended yet: two stores per wait, no lock, no
    /// extra clock read.
    wait_since: AtomicU64,
    blocked_since: AtomicU64,
}

fn stamp(at: Instant) -> u64 {
    crate::metrics::since_epoch_ns(at).saturating_add(1)
}

/// `counter` plus the span in progress since `since`, as of `now`, read so that successive
/// reads never go down: `since` is read before and after `counter` and the read is retried if a
/// span ended in between (see [`Timer`]'s drop for the other half).
fn with_in_flight(counter: &AtomicU64, since: &AtomicU64, now: u64) -> u64 {
    loop {
        let before = since.load(Ordering::SeqCst);
        let total = counter.load(Ordering::SeqCst);
        if since.load(Ordering::SeqCst) == before {
            return total
                + if before == 0 {
                    0
                } else {
                    now.saturating_sub(before)
                };
        }
    }
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
    /// The in-progress stamp this span sets, if live views can see it.
    since: Option<&'a AtomicU64>,
    /// None when accounting is off (`TALARIA_ACCOUNTING=off`): no clock reads at all.
    started: Option<Instant>,
}

impl Drop for Timer<'_> {
    fn drop(&mut self) {
        if let Some(started) = self.started {
            // Clear the stamp first, then read the clock, then add: a live reader that saw the
            // span in progress took its `now` before the stamp was cleared, so it counted no
            // more than the elapsed time added here (`with_in_flight`).
            if let Some(since) = self.since {
                since.store(0, Ordering::SeqCst);
            }
            let ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            self.counter.fetch_add(ns, Ordering::SeqCst);
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
            since: None,
            started: crate::metrics::accounting_on().then(Instant::now),
        }
    }
    fn time_visibly<'a>(&'a self, counter: &'a AtomicU64, since: &'a AtomicU64) -> Timer<'a> {
        let started = crate::metrics::accounting_on().then(Instant::now);
        if let Some(at) = started {
            since.store(stamp(at), Ordering::SeqCst);
        }
        Timer {
            counter,
            since: Some(since),
            started,
        }
    }
    /// Time working (not waiting): `let _busy = counters.busy();`.
    pub fn busy(&self) -> Timer<'_> {
        self.time(&self.busy_ns)
    }
    /// Time waiting for input.
    pub fn waiting(&self) -> Timer<'_> {
        self.time_visibly(&self.wait_ns, &self.wait_since)
    }
    /// Time blocked on a full output (backpressure).
    pub fn blocked(&self) -> Timer<'_> {
        self.time_visibly(&self.blocked_ns, &self.blocked_since)
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
    /// [`StageCounters::snapshot`] for a live view: waiting and blocked time include a wait or
    /// block still in progress at `now` (successive calls never go down).
    pub fn snapshot_at(&self, now: Instant) -> CountersSnapshot {
        let now = stamp(now);
        CountersSnapshot {
            wait_ns: with_in_flight(&self.wait_ns, &self.wait_since, now),
            blocked_ns: with_in_flight(&self.blocked_ns, &self.blocked_since, now),
            ..self.snapshot()
        }
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

/// Lowers the calling thread's scheduling priority: its nice value goes up by `by` (Linux: a
/// thread has a nice value of its own, and raising it needs no privilege; capped at 19).
/// Returns the nice value now in force.
pub fn raise_thread_nice(by: i32) -> std::io::Result<i32> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain system calls about the calling thread; getpriority's -1 is a valid
        // value, so errno tells an error apart.
        unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            *libc::__errno_location() = 0;
            let now = libc::getpriority(libc::PRIO_PROCESS, tid);
            if now == -1 && *libc::__errno_location() != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let nice = (now + by).min(19);
            if libc::setpriority(libc::PRIO_PROCESS, tid, nice) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(nice)
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = by;
        Err(std::io::Error::other("per-thread priorities need Linux"))
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
        // A wait in progress shows in a live snapshot, and is counted once when it ends.
        let waiting = counters.waiting();
        let t0 = Instant::now();
        let live = counters
            .snapshot_at(t0 + std::time::Duration::from_secs(1))
            .wait_ns;
        assert!(live >= 999_000_000, "{live}");
        assert_eq!(counters.snapshot().wait_ns, 0);
        drop(waiting);
        let ended = counters.snapshot().wait_ns;
        assert!(ended > 0);
        assert_eq!(counters.snapshot_at(Instant::now()).wait_ns, ended);
        // Seen while it lasts by a reader on the clock, and only once after.
        {
            let _wait = counters.waiting();
            std::thread::sleep(std::time::Duration::from_millis(3));
            let w = counters.snapshot_at(Instant::now()).wait_ns;
            assert!(w >= ended + 2_000_000, "open wait not seen: {w} vs {ended}");
        }
        let closed = counters.snapshot().wait_ns;
        assert_eq!(counters.snapshot_at(Instant::now()).wait_ns, closed);
        let h = spawn("quick", || 5).unwrap();
        while !h.is_finished() {
            std::thread::yield_now();
        }
        assert_eq!(h.join().unwrap(), 5);
    }

    /// On a thread of its own: the nice value goes up by what was asked, the process's other
    /// threads keep theirs, and it never passes 19.
    #[cfg(target_os = "linux")]
    #[test]
    fn raising_a_threads_nice_leaves_the_others_alone() {
        let before = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        let (first, second) = std::thread::spawn(|| {
            (
                raise_thread_nice(3).unwrap(),
                raise_thread_nice(40).unwrap(),
            )
        })
        .join()
        .unwrap();
        assert_eq!(first, (before + 3).min(19));
        assert_eq!(second, 19);
        assert_eq!(unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }, before);
    }
}
