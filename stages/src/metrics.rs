//! Run-wide accounting that stays on: a [`Registry`] collects, per stage thread, its counters,
//! wall and CPU time and latency histograms; a [`Sampler`] thread records memory and queue fill
//! over time. Hot paths never lock: each thread records into its own thread-local histograms,
//! handed to the registry once, when the thread ends (see `stage::spawn`).
//! This module only observes: it must not change what a stage does or the order of anything, and
//! it reports nothing by itself (the caller formats the figures).
//!
//! `TALARIA_ACCOUNTING=off` turns every timer, histogram and sample into a no-op; it exists to
//! measure the accounting's own cost.

use crate::channel::ChannelStats;
use crate::stage::{CountersSnapshot, StageCounters};
use hdrhistogram::Histogram;
use parking_lot::{Condvar, Mutex};
use std::cell::RefCell;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Histograms record nanoseconds from 1 ns to one hour with two significant digits
/// (~37 KiB each; a handful per thread).
const HIST_MAX_NS: u64 = 3_600_000_000_000;
const HIST_SIGFIG: u8 = 2;

/// True unless `TALARIA_ACCOUNTING=off` (read once per process; talaria's configuration
/// refuses any value but `on` and `off`).
pub fn accounting_on() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var("TALARIA_ACCOUNTING").as_deref() != Ok("off"))
}

/// A fresh latency histogram in nanoseconds.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIST_MAX_NS, HIST_SIGFIG).expect("constant bounds are valid")
}

/// The instant every accounting timestamp is measured from (fixed at first use).
pub fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// `t` as nanoseconds since [`epoch`] (0 for instants before it).
pub fn since_epoch_ns(t: Instant) -> u64 {
    u64::try_from(t.saturating_duration_since(epoch()).as_nanos()).unwrap_or(u64::MAX)
}

/// What one stage thread did, reported when it ended.
#[derive(Debug, Clone)]
pub struct ThreadReport {
    pub name: String,
    /// Linux thread id (as in /proc/self/task), 0 where unknown.
    pub tid: i64,
    pub wall_ns: u64,
    /// CPU time (user + system) of this thread, from `CLOCK_THREAD_CPUTIME_ID`.
    pub cpu_ns: Option<u64>,
    pub counters: CountersSnapshot,
    /// Latency histograms by kind ("chunk", "read", "write", "alignment").
    pub histograms: Vec<(&'static str, Histogram<u64>)>,
    /// The CPUs it was allowed to run on when it ended (`Cpus_allowed_list` of
    /// /proc/thread-self/status), where readable.
    pub cpus_allowed: Option<String>,
}

/// A stage thread as registered when it started; stays listed after it ends.
#[derive(Clone, Debug)]
pub struct LiveThread {
    pub name: String,
    /// Linux thread id, 0 where unknown.
    pub tid: i64,
    pub started: Instant,
    pub counters: Arc<StageCounters>,
    /// Set when it ends: wall and CPU ns.
    ended: Arc<OnceLock<(u64, Option<u64>)>>,
}

impl LiveThread {
    /// Whether the thread has ended (its report is in [`Registry::threads`]).
    pub fn has_ended(&self) -> bool {
        self.ended.get().is_some()
    }

    /// Wall time so far: until `now` while it runs, its whole life once ended.
    pub fn wall_ns(&self, now: Instant) -> u64 {
        match self.ended.get() {
            Some(&(wall, _)) => wall,
            None => now.saturating_duration_since(self.started).as_nanos() as u64,
        }
    }

    /// Its cumulative figures as of `now`.
    fn sample_at(&self, now: Instant) -> ThreadSample {
        let counters = self.counters.snapshot_at(now);
        let (wait_ns, blocked_ns) = (counters.wait_ns, counters.blocked_ns);
        let alive = |now: Instant| now.saturating_duration_since(self.started).as_nanos() as u64;
        let (alive_ns, cpu_ns) = match self.ended.get() {
            Some(&(wall, cpu)) => (wall, cpu),
            None => match tid_cpu_ns(self.tid) {
                Some(cpu) => (alive(now), Some(cpu)),
                // It ended between the two looks: its final figures are there now, or soon.
                None => match self.ended.get() {
                    Some(&(wall, cpu)) => (wall, cpu),
                    None => (alive(now), None),
                },
            },
        };
        ThreadSample {
            alive_ns,
            wait_ns,
            blocked_ns,
            cpu_ns,
        }
    }
}

/// One stage thread's cumulative figures at a sample: time alive, waiting for input, blocked on
/// output (spans in progress counted up to the sample), and CPU time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ThreadSample {
    pub alive_ns: u64,
    pub wait_ns: u64,
    pub blocked_ns: u64,
    /// None where the thread's CPU clock could not be read.
    pub cpu_ns: Option<u64>,
}

/// Reads a channel's stats; keeps the channel's shared state (not its senders or receivers)
/// alive, so the final figures are there after the stages have gone.
pub struct Probe {
    pub name: String,
    read: Box<dyn Fn() -> ChannelStats + Send + Sync>,
}

impl Probe {
    pub fn new(
        name: impl Into<String>,
        read: impl Fn() -> ChannelStats + Send + Sync + 'static,
    ) -> Probe {
        Probe {
            name: name.into(),
            read: Box::new(read),
        }
    }
    pub fn stats(&self) -> ChannelStats {
        (self.read)()
    }
}

/// One point of the time series.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// Milliseconds since the registry was created.
    pub at_ms: u64,
    pub rss_bytes: Option<u64>,
    /// Bytes queued per probe (same order as [`Registry::channel_stats`]).
    pub queued: Vec<usize>,
    /// Per stage thread registered by then, in [`Registry::stage_threads`] order.
    pub threads: Vec<ThreadSample>,
}

/// A bounded time series: when full, every other sample is dropped and the stride doubles, so it
/// always spans the whole run at an even (coarser) spacing.
#[derive(Debug, Clone, Default)]
pub struct Series {
    pub samples: Vec<Sample>,
    /// Keep one tick in `stride`.
    pub stride: u64,
    ticks: u64,
    capacity: usize,
}

impl Series {
    pub fn new(capacity: usize) -> Series {
        Series {
            samples: Vec::new(),
            stride: 1,
            ticks: 0,
            capacity: capacity.max(2),
        }
    }
    pub fn push(&mut self, sample: Sample) {
        let keep = self.ticks.is_multiple_of(self.stride);
        self.ticks += 1;
        if !keep {
            return;
        }
        if self.samples.len() == self.capacity {
            let mut i = 0;
            self.samples.retain(|_| {
                i += 1;
                i % 2 == 1
            });
            self.stride *= 2;
            if !(self.ticks - 1).is_multiple_of(self.stride) {
                return;
            }
        }
        self.samples.push(sample);
    }
}

/// Where a run's stage threads report. Install it on the thread that spawns the stages
/// ([`Registry::install`]); threads spawned from there inherit it.
pub struct Registry {
    pub started: Instant,
    threads: Mutex<Vec<ThreadReport>>,
    /// The thread that installed the registry, then every stage thread, registered when it
    /// starts (for live views and the sampler).
    live: Mutex<Vec<(bool, LiveThread)>>,
    probes: Mutex<Vec<Probe>>,
    series: Mutex<Series>,
    /// The newest sample, also when the series' thinning dropped it.
    last: Mutex<Option<Sample>>,
}

/// Samples kept at most (at 100 ms, a minute at full resolution; longer runs are thinned).
const SERIES_CAPACITY: usize = 600;

impl Registry {
    pub fn new() -> Arc<Registry> {
        epoch();
        Arc::new(Registry {
            started: Instant::now(),
            threads: Mutex::new(Vec::new()),
            live: Mutex::new(Vec::new()),
            probes: Mutex::new(Vec::new()),
            series: Mutex::new(Series::new(SERIES_CAPACITY)),
            last: Mutex::new(None),
        })
    }

    /// Make this thread (and stage threads it spawns) report here, until the guard drops.
    /// Does nothing when accounting is off.
    pub fn install(self: &Arc<Self>) -> InstallGuard {
        if accounting_on() {
            enter_as(Some(Arc::clone(self)), "main", false);
        }
        InstallGuard { _private: () }
    }

    pub fn add_probe(&self, probe: Probe) {
        self.probes.lock().push(probe);
    }

    /// Current stats of every probed channel, in the order they were added.
    pub fn channel_stats(&self) -> Vec<(String, ChannelStats)> {
        self.probes
            .lock()
            .iter()
            .map(|p| (p.name.clone(), p.stats()))
            .collect()
    }

    /// Every stage thread's counters as they are now (threads still running included).
    pub fn live_counters(&self) -> Vec<(String, Arc<StageCounters>)> {
        self.live
            .lock()
            .iter()
            .map(|(_, t)| (t.name.clone(), Arc::clone(&t.counters)))
            .collect()
    }

    /// Every stage thread registered so far, in the order they started (the order of
    /// [`Sample::threads`]); the installing thread is not one.
    pub fn stage_threads(&self) -> Vec<LiveThread> {
        self.live
            .lock()
            .iter()
            .filter(|(stage, _)| *stage)
            .map(|(_, t)| t.clone())
            .collect()
    }

    /// The newest sample taken, if any.
    pub fn last_sample(&self) -> Option<Sample> {
        self.last.lock().clone()
    }

    pub fn report(&self, thread: ThreadReport) {
        self.threads.lock().push(thread);
    }

    /// Reports of the threads that have ended, in the order they ended.
    pub fn threads(&self) -> Vec<ThreadReport> {
        self.threads.lock().clone()
    }

    pub fn series(&self) -> Series {
        self.series.lock().clone()
    }

    /// Take one sample now (the sampler calls this; also useful at the very end).
    pub fn sample(&self) {
        let queued = self.probes.lock().iter().map(|p| p.stats().used).collect();
        let now = Instant::now();
        let threads = self
            .live
            .lock()
            .iter()
            .filter(|(stage, _)| *stage)
            .map(|(_, t)| t.sample_at(now))
            .collect();
        let sample = Sample {
            at_ms: now.saturating_duration_since(self.started).as_millis() as u64,
            rss_bytes: crate::memory::statm_rss_bytes(),
            queued,
            threads,
        };
        *self.last.lock() = Some(sample.clone());
        self.series.lock().push(sample);
    }
}

/// Undoes [`Registry::install`] on drop.
pub struct InstallGuard {
    _private: (),
}

impl Drop for InstallGuard {
    fn drop(&mut self) {
        leave();
    }
}

/// This thread's accounting state.
struct Local {
    registry: Arc<Registry>,
    counters: Arc<StageCounters>,
    histograms: Vec<(&'static str, Histogram<u64>)>,
    ended: Arc<OnceLock<(u64, Option<u64>)>>,
}

thread_local! {
    static LOCAL: RefCell<Option<Local>> = const { RefCell::new(None) };
}

/// The registry this thread reports to, if any (for threads it spawns).
pub fn current() -> Option<Arc<Registry>> {
    LOCAL.with(|l| l.borrow().as_ref().map(|l| Arc::clone(&l.registry)))
}

/// Start reporting this thread, named `name`, to `registry` (None: no accounting).
pub fn enter(registry: Option<Arc<Registry>>, name: &str) {
    enter_as(registry, name, true);
}

fn enter_as(registry: Option<Arc<Registry>>, name: &str, stage: bool) {
    LOCAL.with(|l| {
        *l.borrow_mut() = registry.map(|registry| {
            let counters = Arc::new(StageCounters::default());
            let ended = Arc::new(OnceLock::new());
            registry.live.lock().push((
                stage,
                LiveThread {
                    name: name.to_string(),
                    tid: thread_id(),
                    started: Instant::now(),
                    counters: Arc::clone(&counters),
                    ended: Arc::clone(&ended),
                },
            ));
            Local {
                registry,
                counters,
                histograms: Vec::new(),
                ended,
            }
        })
    });
}

/// Stop reporting; returns what this thread recorded (None if it reported nowhere).
fn leave() -> Option<Local> {
    LOCAL.with(|l| l.borrow_mut().take())
}

/// End this stage thread's accounting: its report goes to the registry it was entered with.
pub fn finish_thread(name: &str, started: Instant) {
    let Some(Local {
        registry,
        counters,
        histograms,
        ended,
    }) = leave()
    else {
        return;
    };
    let cpus_allowed = cpus_allowed_list("thread-self");
    // The final figures, then the report, then `ended` at once: a live view reads the thread's
    // wall time on the clock only until then.
    let (wall_ns, cpu_ns) = (started.elapsed().as_nanos() as u64, thread_cpu_ns());
    registry.report(ThreadReport {
        name: name.to_string(),
        tid: thread_id(),
        wall_ns,
        cpu_ns,
        counters: counters.snapshot(),
        histograms,
        cpus_allowed,
    });
    let _ = ended.set((wall_ns, cpu_ns));
}

/// This thread's counters (registered with its report), or unregistered ones without accounting.
pub fn counters() -> Arc<StageCounters> {
    LOCAL
        .with(|l| l.borrow().as_ref().map(|l| Arc::clone(&l.counters)))
        .unwrap_or_default()
}

/// Record `ns` into this thread's histogram `kind`. No lock; a no-op without accounting.
pub fn record(kind: &'static str, ns: u64) {
    LOCAL.with(|l| {
        if let Some(local) = l.borrow_mut().as_mut() {
            let hist = match local.histograms.iter_mut().position(|(k, _)| *k == kind) {
                Some(i) => &mut local.histograms[i].1,
                None => {
                    local.histograms.push((kind, new_histogram()));
                    &mut local.histograms.last_mut().expect("just pushed").1
                }
            };
            hist.saturating_record(ns.max(1));
        }
    });
}

/// Times a span into histogram `kind` when dropped (`let _t = metrics::span("chunk");`).
#[must_use = "the span is recorded when dropped"]
pub struct Span {
    kind: &'static str,
    started: Option<Instant>,
}

pub fn span(kind: &'static str) -> Span {
    Span {
        kind,
        started: accounting_on().then(Instant::now),
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        if let Some(t) = self.started {
            record(self.kind, t.elapsed().as_nanos() as u64);
        }
    }
}

fn thread_id() -> i64 {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid has no preconditions.
        unsafe { libc::gettid() as i64 }
    }
    #[cfg(not(target_os = "linux"))]
    {
        0
    }
}

/// CPU time of the calling thread: the kernel's own per-thread accounting (the same source as
/// utime+stime in `/proc/self/task/<tid>/stat`, but in nanoseconds instead of 10 ms ticks).
pub fn thread_cpu_ns() -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// CPU time of thread `tid` of this process, read through its per-thread CPU clock (the clock id
/// glibc's `pthread_getcpuclockid` builds; the kernel refuses a tid outside this process).
/// None when the thread has gone or off Linux.
pub fn tid_cpu_ns(tid: i64) -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        let tid = libc::clockid_t::try_from(tid).ok().filter(|&t| t > 0)?;
        // CPUCLOCK_PERTHREAD_MASK (4) | CPUCLOCK_SCHED (2), tid in the upper bits, inverted.
        let clock: libc::clockid_t = (!tid << 3) | 6;
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: ts is a valid, writable timespec; a bad clock id only makes the call fail.
        let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
        (rc == 0).then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = tid;
        None
    }
}

/// `Cpus_allowed_list` of /proc/self/`task` /status (`task`: a tid, or "thread-self" from
/// /proc itself), e.g. "0-3,8"; None when the thread has gone or /proc is absent.
pub fn cpus_allowed_list(task: &str) -> Option<String> {
    let path = if task == "thread-self" {
        "/proc/thread-self/status".to_string()
    } else {
        format!("/proc/self/task/{task}/status")
    };
    let status = std::fs::read_to_string(path).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(|v| v.trim().to_string())
}

/// CPU time (user + system) of the whole process so far, all threads.
pub fn process_cpu_ns() -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// Kernel clock ticks per second (the unit of utime/stime in /proc).
pub fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(hz).ok().filter(|&h| h > 0).unwrap_or(100)
}

/// (tid, name, utime + stime in clock ticks) of every thread of this process, from
/// `/proc/self/task/<tid>/stat`; empty where /proc is absent.
pub fn task_cpu_ticks() -> Vec<(i64, String, u64)> {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let e = e.ok()?;
        let tid: i64 = e.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
        let (name, ticks) = parse_task_stat(&stat)?;
        Some((tid, name, ticks))
    })
    .collect()
}

/// (comm, utime + stime) of a /proc/<pid>/task/<tid>/stat line. The name is between the first
/// '(' and the last ')' (it may itself hold spaces and parentheses).
fn parse_task_stat(stat: &str) -> Option<(String, u64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_string();
    let fields: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    // After the name: field 3 (state) is index 0, so utime (14) and stime (15) are 11 and 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((name, utime + stime))
}

/// A thread sampling the registry every `interval` until stopped.
pub struct Sampler {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sampler {
    /// Start sampling (nothing is started when accounting is off). `tick` runs after each
    /// sample on the sampler thread (a live monitor hooks in there); its flag is true for the
    /// last one, taken when [`Sampler::stop`] is called.
    pub fn start(
        registry: &Arc<Registry>,
        interval: Duration,
        mut tick: impl FnMut(&Registry, bool) + Send + 'static,
    ) -> Sampler {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let thread = accounting_on().then(|| {
            let (registry, stop) = (Arc::clone(registry), Arc::clone(&stop));
            std::thread::Builder::new()
                .name("sampler".into())
                .spawn(move || loop {
                    registry.sample();
                    let stopped = *stop.0.lock();
                    tick(&registry, stopped);
                    if stopped {
                        return;
                    }
                    let mut stopped = stop.0.lock();
                    if !*stopped {
                        stop.1.wait_for(&mut stopped, interval);
                    }
                })
                .ok()
        });
        Sampler {
            stop,
            thread: thread.flatten(),
        }
    }

    /// Stop and wait for the thread (also on drop).
    pub fn stop(&mut self) {
        *self.stop.0.lock() = true;
        self.stop.1.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Latency percentiles of a histogram, in nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Percentiles {
    pub count: u64,
    pub mean_ns: f64,
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub p99_ns: u64,
    pub max_ns: u64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Percentiles {
        Percentiles {
            count: h.len(),
            mean_ns: if h.is_empty() { 0.0 } else { h.mean() },
            p50_ns: h.value_at_quantile(0.5),
            p90_ns: h.value_at_quantile(0.9),
            p99_ns: h.value_at_quantile(0.99),
            max_ns: h.max(),
        }
    }
}

/// Merge the histograms of `kind` over every thread whose report `include` accepts.
pub fn merged(
    threads: &[ThreadReport],
    kind: &str,
    include: impl Fn(&ThreadReport) -> bool,
) -> Histogram<u64> {
    let mut out = new_histogram();
    for t in threads.iter().filter(|t| include(t)) {
        for (k, h) in &t.histograms {
            if *k == kind {
                // Same bounds everywhere, so adding cannot fail.
                let _ = out.add(h);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_task_stat_lines() {
        let line = "4242 (aligner (1)) R 1 2 3 4 5 6 7 8 9 10 250 17 0 0 20 0";
        assert_eq!(
            parse_task_stat(line),
            Some(("aligner (1)".to_string(), 267))
        );
        assert_eq!(parse_task_stat("12 (x) R 1 2"), None);
        assert!(task_cpu_ticks()
            .iter()
            .any(|(tid, _, _)| *tid == thread_id()));
        let me = thread_id();
        assert!(tid_cpu_ns(me).is_some_and(|ns| ns > 0));
        assert_eq!(tid_cpu_ns(0), None);
        assert_eq!(
            cpus_allowed_list(&me.to_string()),
            cpus_allowed_list("thread-self")
        );
    }

    #[test]
    fn series_stays_bounded_and_spans_the_run() {
        let mut s = Series::new(8);
        for i in 0..100u64 {
            s.push(Sample {
                at_ms: i,
                ..Default::default()
            });
        }
        assert!(s.samples.len() <= 8, "{}", s.samples.len());
        let at: Vec<u64> = s.samples.iter().map(|x| x.at_ms).collect();
        assert_eq!(at[0], 0);
        assert!(*at.last().unwrap() >= 100 - s.stride, "{at:?}");
        assert!(at.windows(2).all(|w| w[1] - w[0] == s.stride), "{at:?}");
    }

    #[test]
    fn stage_threads_report_counters_histograms_and_cpu() {
        let registry = Registry::new();
        let _guard = registry.install();
        let h = crate::stage::spawn("worker-0", || {
            let c = counters();
            StageCounters::add(&c.items_in, 3);
            for ns in [10, 20, 30] {
                record("chunk", ns);
            }
            let mut x = 0u64;
            for i in 0..1_000_000u64 {
                x = x.wrapping_add(i * i);
            }
            std::hint::black_box(x);
        })
        .unwrap();
        h.join().unwrap();
        let threads = registry.threads();
        assert_eq!(threads.len(), 1);
        let t = &threads[0];
        assert_eq!((t.name.as_str(), t.counters.items_in), ("worker-0", 3));
        let stages = registry.stage_threads();
        assert_eq!(stages.len(), 1);
        assert!(stages[0].has_ended() && stages[0].tid == t.tid && t.tid > 0);
        assert!(t.cpus_allowed.as_deref().is_some_and(|c| !c.is_empty()));
        registry.sample();
        let last = registry.last_sample().unwrap().threads;
        assert_eq!(
            (last.len(), last[0].alive_ns, last[0].cpu_ns),
            (1, t.wall_ns, t.cpu_ns)
        );
        let live = registry.live_counters();
        assert_eq!(live[0].0, "main");
        assert_eq!(live[1].0, "worker-0");
        assert_eq!(live[1].1.snapshot().items_in, 3);
        assert_eq!(stages[0].wall_ns(Instant::now()), t.wall_ns);
        assert!(t.cpu_ns.unwrap() > 0 && t.wall_ns > 0);
        let h = merged(&threads, "chunk", |_| true);
        assert_eq!((h.len(), h.min(), h.max()), (3, 10, 30));
        assert_eq!(merged(&threads, "read", |_| true).len(), 0);
    }

    #[test]
    fn threads_without_a_registry_record_nothing() {
        let h = crate::stage::spawn("lonely", || {
            record("chunk", 5);
            current().is_none()
        })
        .unwrap();
        assert!(h.join().unwrap());
    }

    #[test]
    fn sampler_samples_probes_and_stops() {
        let registry = Registry::new();
        let (tx, _rx) = crate::channel::bounded::<Vec<u8>>("q", 1 << 20);
        tx.send(vec![0u8; 100]).unwrap();
        registry.add_probe(tx.probe());
        let last = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&last);
        let mut sampler = Sampler::start(&registry, Duration::from_millis(1), move |_, l| {
            seen.lock().push(l)
        });
        crate::wait_until("two samples", || registry.series().samples.len() >= 2);
        sampler.stop();
        let flags = last.lock().clone();
        assert_eq!(flags.iter().filter(|&&l| l).count(), 1, "{flags:?}");
        assert_eq!(flags.last(), Some(&true));
        let s = registry.series();
        assert_eq!(s.samples[0].queued, vec![100]);
        assert_eq!(registry.channel_stats()[0].0, "q");
    }
}
