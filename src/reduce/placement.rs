//! Where `reduce`'s stage threads run: the pipeline's thread names and roles, the placement plan
//! for a run (computed once, before any thread starts, from the pure planner in
//! `talaria_stages::topology`), and the pinning each aligner applies to itself when it starts.
//! Placement never changes what is decided, only where: outputs stay byte-identical. A pin that
//! fails is a one-line warning, never an error.

use crate::config::{Config, ThreadAffinity};
use parking_lot::Mutex;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use talaria_stages::topology::{self, cpuset, Affinity, Placement, ThreadSpec, Topology};

/// The threads of a `reduce` run, in pipeline order, named as they are spawned (so the plan
/// names what `top -H` and /proc show). `sinks`: the output writers' thread names.
pub fn stage_threads(workers: usize, sinks: &[&str]) -> Vec<ThreadSpec> {
    let stage = |name: &str, role: &str| ThreadSpec {
        name: name.into(),
        role: role.into(),
        worker: false,
    };
    let mut threads = vec![
        stage("reader", "reader"),
        stage("chunker", "chunker"),
        stage("prefetch-0", "prefetch"),
    ];
    threads.extend((0..workers).map(|i| ThreadSpec {
        name: format!("aligner-{i}"),
        role: "aligner".into(),
        worker: true,
    }));
    threads.push(stage("writer", "writer"));
    threads.extend(sinks.iter().map(|s| stage(s, "output")));
    threads
}

pub fn affinity(config: &Config) -> Affinity {
    match config.performance.numa.thread_affinity {
        ThreadAffinity::Compact => Affinity::Compact,
        ThreadAffinity::Scatter => Affinity::Scatter,
        ThreadAffinity::None => Affinity::None,
    }
}

/// The plan for `workers` aligners (0 = one per allowed CPU) on `topology`, as `config` asks.
pub fn plan(
    topology: &Topology,
    config: &Config,
    workers: usize,
    sinks: &[&str],
) -> Vec<Placement> {
    let workers = if workers == 0 {
        topology.allowed.len()
    } else {
        workers
    };
    topology::plan(
        topology,
        &stage_threads(workers, sinks),
        affinity(config),
        config.performance.arm.big_little_aware,
    )
}

/// Pinning for one run: `None` from [`Pinning::for_run`] when pinning is off.
pub struct Pinning {
    affinity: Affinity,
    /// The CPUs of aligner i.
    cpus: Vec<Vec<u32>>,
    warned: AtomicBool,
    /// What each aligner's /proc/thread-self/status said after pinning (by aligner index).
    observed: Mutex<Vec<Option<Result<String, String>>>>,
}

impl Pinning {
    /// The plan for this run's aligners when `performance.numa.pin_threads` is on (with
    /// affinity `none` it plans nothing, and the summary says so); discovers the topology once (this machine's, even when hwloc is
    /// pointed at a synthetic one).
    pub fn for_run(config: &Config, workers: usize) -> Option<Arc<Pinning>> {
        let affinity = affinity(config);
        if !config.performance.numa.pin_threads {
            return None;
        }
        if affinity == Affinity::None {
            return Some(Arc::new(Pinning {
                affinity,
                cpus: Vec::new(),
                warned: AtomicBool::new(false),
                observed: Mutex::new(Vec::new()),
            }));
        }
        let topology = topology::discover_this_machine();
        let cpus: Vec<Vec<u32>> = plan(&topology, config, workers, &[])
            .into_iter()
            .filter(|p| p.role == "aligner")
            .map(|p| p.cpus)
            .collect();
        Some(Arc::new(Pinning {
            affinity,
            observed: Mutex::new(vec![None; cpus.len()]),
            cpus,
            warned: AtomicBool::new(false),
        }))
    }

    /// Called by aligner `index` as its first act: pin to its CPU and record what the kernel
    /// then reports for this thread.
    pub fn pin_aligner(&self, index: usize) {
        let Some(cpus) = self.cpus.get(index) else {
            return;
        };
        let outcome = match cpuset::pin_current_thread(cpus) {
            Ok(()) => Ok(own_cpus_allowed_list()),
            Err(e) => {
                if !self.warned.swap(true, Ordering::Relaxed) {
                    eprintln!(
                        "talaria: warning: could not pin aligner-{index} to CPU {} ({e}); it runs unpinned",
                        cpuset::format_list(cpus)
                    );
                }
                Err(e.to_string())
            }
        };
        self.observed.lock()[index] = Some(outcome);
    }

    /// The summary line's content, once every aligner has run.
    pub fn report(&self) -> PlacementReport {
        PlacementReport {
            affinity: self.affinity.name(),
            observed: self.observed.lock().clone(),
        }
    }
}

/// This thread's `Cpus_allowed_list` as /proc/thread-self/status (= /proc/<pid>/task/<tid>/status)
/// shows it, or "?" if /proc cannot be read.
fn own_cpus_allowed_list() -> String {
    std::fs::read_to_string("/proc/thread-self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_else(|| "?".into())
}

/// What pinning did in a run, for the summary.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PlacementReport {
    pub affinity: &'static str,
    /// Per aligner: its Cpus_allowed_list after pinning, or why pinning failed (None: the thread
    /// never started).
    pub observed: Vec<Option<Result<String, String>>>,
}

impl fmt::Display for PlacementReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.affinity == Affinity::None.name() {
            return write!(
                f,
                "placement: nothing pinned (pin_threads on, thread_affinity \"none\")"
            );
        }
        let pinned: Vec<&str> = self
            .observed
            .iter()
            .filter_map(|o| o.as_ref()?.as_ref().ok().map(String::as_str))
            .collect();
        write!(
            f,
            "placement: {} aligners pinned ({}), Cpus_allowed_list per aligner: {}",
            pinned.len(),
            self.affinity,
            pinned.join(" ")
        )?;
        let failed = self.observed.len() - pinned.len();
        if failed > 0 {
            write!(f, "; {failed} not pinned")?;
        }
        Ok(())
    }
}
