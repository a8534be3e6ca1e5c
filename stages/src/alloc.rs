//! A counting wrapper around a global allocator, for `talaria reduce --trace-memory`.
//!
//! [`Counting`] forwards every call to the allocator it wraps. Only while tracing is on (one
//! relaxed atomic load per call when off) it also counts, per stage and for the process:
//!
//! * per stage — the stage of the thread that makes the call (set by [`crate::stage::spawn`] from
//!   the thread name, a trailing `-N` dropped: `aligner-3` counts as `aligner`): allocations and
//!   bytes allocated, frees and bytes freed, performed by that stage's threads; `net` = bytes
//!   allocated minus bytes freed by those threads, and its peak. A block allocated by one stage and
//!   freed by another (a chunk made by the chunker, dropped by the writer) raises the first
//!   stage's net and lowers the second's, so a stage's net can be negative;
//! * for the process — bytes live (allocated minus freed by any thread) and their peak.
//!
//! A `realloc` counts as one free of the old size and one allocation of the new size. Sizes are
//! the sizes asked for (`Layout::size`), not what the allocator rounds them up to. Blocks
//! allocated before tracing was switched on and freed after count as frees only.
//! It must not allocate, lock or print inside an allocator call.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

/// Stages counted separately; a stage past these counts as `other`.
pub const MAX_STAGES: usize = 32;
/// The slot of threads that never said which stage they are.
const OTHER: usize = MAX_STAGES - 1;

static ENABLED: AtomicBool = AtomicBool::new(false);

struct Slot {
    allocs: AtomicU64,
    frees: AtomicU64,
    allocated: AtomicU64,
    freed: AtomicU64,
    net: AtomicI64,
    peak_net: AtomicI64,
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            allocs: AtomicU64::new(0),
            frees: AtomicU64::new(0),
            allocated: AtomicU64::new(0),
            freed: AtomicU64::new(0),
            net: AtomicI64::new(0),
            peak_net: AtomicI64::new(0),
        }
    }
}

static SLOTS: [Slot; MAX_STAGES] = [const { Slot::new() }; MAX_STAGES];
static LIVE: AtomicI64 = AtomicI64::new(0);
static PEAK_LIVE: AtomicI64 = AtomicI64::new(0);
/// Stage names by slot (`OTHER` is not stored). Touched only when a thread names its stage and
/// in [`snapshot`], never inside an allocator call.
static NAMES: Mutex<Vec<String>> = Mutex::new(Vec::new());

thread_local! {
    /// This thread's slot. Const-initialised without a destructor: reading it never allocates
    /// and works while the thread is being torn down.
    static STAGE: Cell<usize> = const { Cell::new(OTHER) };
}

/// A global allocator that counts while tracing is on: `#[global_allocator] static A:
/// Counting<std::alloc::System> = Counting(std::alloc::System);`.
pub struct Counting<A>(pub A);

#[inline]
fn slot() -> &'static Slot {
    &SLOTS[STAGE.try_with(Cell::get).unwrap_or(OTHER)]
}

fn raise(peak: &AtomicI64, value: i64) {
    if value > peak.load(Relaxed) {
        peak.fetch_max(value, Relaxed);
    }
}

#[cold]
fn on_alloc(size: usize) {
    let size = size as i64;
    let s = slot();
    s.allocs.fetch_add(1, Relaxed);
    s.allocated.fetch_add(size as u64, Relaxed);
    raise(&s.peak_net, s.net.fetch_add(size, Relaxed) + size);
    raise(&PEAK_LIVE, LIVE.fetch_add(size, Relaxed) + size);
}

#[cold]
fn on_free(size: usize) {
    let size = size as i64;
    let s = slot();
    s.frees.fetch_add(1, Relaxed);
    s.freed.fetch_add(size as u64, Relaxed);
    s.net.fetch_sub(size, Relaxed);
    LIVE.fetch_sub(size, Relaxed);
}

// SAFETY: every call is forwarded unchanged to `A`; the counting touches only atomics and a
// const thread-local, so it neither allocates nor unwinds.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Counting<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = self.0.alloc(layout);
        if ENABLED.load(Relaxed) && !p.is_null() {
            on_alloc(layout.size());
        }
        p
    }
    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = self.0.alloc_zeroed(layout);
        if ENABLED.load(Relaxed) && !p.is_null() {
            on_alloc(layout.size());
        }
        p
    }
    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.0.dealloc(ptr, layout);
        if ENABLED.load(Relaxed) {
            on_free(layout.size());
        }
    }
    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = self.0.realloc(ptr, layout, new_size);
        if ENABLED.load(Relaxed) && !p.is_null() {
            on_free(layout.size());
            on_alloc(new_size);
        }
        p
    }
}

/// Start counting (from now on; nothing before is known).
pub fn enable() {
    ENABLED.store(true, Relaxed);
}

/// Stop counting.
pub fn disable() {
    ENABLED.store(false, Relaxed);
}

pub fn enabled() -> bool {
    ENABLED.load(Relaxed)
}

/// The stage a thread name counts as: the name without a trailing `-N` (`aligner-3` ->
/// `aligner`, `writer-fasta` stays).
pub fn stage_of(thread_name: &str) -> &str {
    match thread_name.rsplit_once('-') {
        Some((stem, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => stem,
        _ => thread_name,
    }
}

/// From now on this thread's allocations count for the stage `thread_name` belongs to
/// ([`stage_of`]). [`crate::stage::spawn`] calls it for every stage thread.
pub fn set_thread_stage(thread_name: &str) {
    let stage = stage_of(thread_name);
    let index = {
        let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
        match names.iter().position(|n| n == stage) {
            Some(i) => i,
            None if names.len() < OTHER => {
                names.push(stage.to_string());
                names.len() - 1
            }
            None => OTHER,
        }
    };
    STAGE.with(|s| s.set(index));
}

/// One stage's counts (see the module documentation for what each means).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StageMemory {
    pub stage: String,
    pub allocs: u64,
    pub bytes_allocated: u64,
    pub frees: u64,
    pub bytes_freed: u64,
    pub net_bytes: i64,
    pub peak_net_bytes: i64,
}

/// The counts so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryTrace {
    /// Stages in the order their first thread started, then `other` if it allocated.
    pub stages: Vec<StageMemory>,
    pub live_bytes: i64,
    pub peak_live_bytes: i64,
}

/// The counts so far, or `None` when tracing is off.
pub fn snapshot() -> Option<MemoryTrace> {
    if !enabled() {
        return None;
    }
    let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner()).clone();
    names.resize(OTHER, String::new());
    names.push("other".to_string());
    let stages = names
        .into_iter()
        .zip(&SLOTS)
        .filter(|(name, s)| !name.is_empty() && s.allocs.load(Relaxed) + s.frees.load(Relaxed) > 0)
        .map(|(stage, s)| StageMemory {
            stage,
            allocs: s.allocs.load(Relaxed),
            bytes_allocated: s.allocated.load(Relaxed),
            frees: s.frees.load(Relaxed),
            bytes_freed: s.freed.load(Relaxed),
            net_bytes: s.net.load(Relaxed),
            peak_net_bytes: s.peak_net.load(Relaxed),
        })
        .collect();
    Some(MemoryTrace {
        stages,
        live_bytes: LIVE.load(Relaxed),
        peak_live_bytes: PEAK_LIVE.load(Relaxed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_names_drop_the_thread_number() {
        assert_eq!(stage_of("aligner-3"), "aligner");
        assert_eq!(stage_of("prefetch-0"), "prefetch");
        assert_eq!(stage_of("writer-fasta"), "writer-fasta");
        assert_eq!(stage_of("reader"), "reader");
        assert_eq!(stage_of("odd-"), "odd-");
    }

    /// The counting itself, without installing a global allocator: calls through the wrapper
    /// are counted for the calling thread's stage.
    #[test]
    fn counts_per_stage_and_process() {
        let a = Counting(std::alloc::System);
        enable();
        let t = std::thread::spawn(move || {
            set_thread_stage("tracetest-1");
            let layout = Layout::from_size_align(1000, 8).unwrap();
            // SAFETY: a valid layout; the block is freed once, with the same layout.
            unsafe {
                let p = a.alloc(layout);
                assert!(!p.is_null());
                let p = a.realloc(p, layout, 3000);
                assert!(!p.is_null());
                a.dealloc(p, Layout::from_size_align(3000, 8).unwrap());
            }
        });
        t.join().unwrap();
        let trace = snapshot().unwrap();
        let s = trace
            .stages
            .iter()
            .find(|s| s.stage == "tracetest")
            .unwrap();
        assert_eq!((s.allocs, s.bytes_allocated), (2, 4000));
        assert_eq!((s.frees, s.bytes_freed), (2, 4000));
        assert_eq!((s.net_bytes, s.peak_net_bytes), (0, 3000));
        assert!(trace.peak_live_bytes >= 3000);
    }
}
