//! Where `reduce`'s stage threads run: the pipeline's thread names and roles, the placement plan
//! for a run (computed once, before any thread starts, from the pure planner in
//! `talaria_stages::topology`), and the pinning each aligner applies to itself when it starts.
//! Placement never changes what is decided, only where: outputs stay byte-identical. A pin that
//! fails is a one-line warning, never an error. With `numa_nodes` the plan keeps to the first N
//! NUMA nodes; with `ccx_affinity` each L3 domain's aligners get a queue of their own
//! (`talaria_stages::topology::queues`); with `numa_aware` each aligner sets its memory policy
//! (`crate::reduce::numa`).

use crate::config::{Config, ThreadAffinity};
use parking_lot::Mutex;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use talaria_stages::numa::NodeSet;
use talaria_stages::stealing::{DomainProbe, DomainStats};
use talaria_stages::topology::{
    self, cpuset, Affinity, Placement, QueuePlan, ThreadSpec, Topology,
};

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
    // numa_nodes: keep to the first N nodes of the allowed CPUs (0 = all).
    let topology = &topology
        .clone()
        .first_nodes(config.performance.numa.numa_nodes);
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

/// The per-L3 queues of a run (`performance.amd.ccx_affinity`), or `None` when the plan has no
/// pinned aligners (affinity `none`).
pub fn queues(topology: &Topology, plan: &[Placement], config: &Config) -> Option<QueuePlan> {
    let fabric_aware = config.performance.amd.infinity_fabric_aware;
    if std::env::var_os(SPLIT_QUEUES).is_some_and(|v| v == "1") {
        // Test-only: every pinned aligner its own "L3 domain", so stealing between queues runs
        // on a machine with one L3.
        let placements: Vec<Placement> = plan
            .iter()
            .enumerate()
            .map(|(i, p)| Placement {
                l3: p.pin.then_some(i),
                ..p.clone()
            })
            .collect();
        return topology::queue_plan(topology, &placements, fabric_aware);
    }
    topology::queue_plan(topology, plan, fabric_aware)
}

/// Test-only switch (not a `TALARIA_` variable: talaria refuses unknown ones): `1` gives every
/// pinned aligner a queue of its own, as if each sat in its own L3 domain.
pub const SPLIT_QUEUES: &str = "TLR_TEST_QUEUE_PER_ALIGNER";

/// Pinning for one run: `None` from [`Pinning::for_run`] when pinning is off.
pub struct Pinning {
    affinity: Affinity,
    /// The CPUs of aligner i.
    cpus: Vec<Vec<u32>>,
    /// The NUMA node of aligner i's CPU.
    nodes: Vec<Option<usize>>,
    warned: AtomicBool,
    /// What each aligner's /proc/thread-self/status said after pinning (by aligner index).
    observed: Mutex<Vec<Option<Result<String, String>>>>,
    /// `ccx_affinity`: the queue plan, and the queues' counts once they exist.
    pub queues: Option<QueuePlan>,
    queue_probe: Mutex<Option<DomainProbe>>,
    /// `numa_aware`: each aligner's memory policy, and what the kernel then reported.
    pub memory: Option<crate::reduce::numa::MemoryPlan>,
    /// Why numa_nodes could not be honoured as given (more nodes asked than there are).
    pub numa_nodes_note: Option<String>,
    fabric_aware: bool,
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
            for (on, key) in placement_keys(config) {
                if on {
                    eprintln!("talaria: warning: {key} has no effect: thread_affinity \"none\" pins no aligner");
                }
            }
            return Some(Arc::new(Pinning {
                affinity,
                cpus: Vec::new(),
                nodes: Vec::new(),
                warned: AtomicBool::new(false),
                observed: Mutex::new(Vec::new()),
                queues: None,
                queue_probe: Mutex::new(None),
                memory: None,
                numa_nodes_note: None,
                fabric_aware: false,
            }));
        }
        let topology = topology::discover_this_machine();
        let numa = &config.performance.numa;
        let available = topology.allowed_nodes().len();
        let numa_nodes_note = (numa.numa_nodes > available).then(|| {
            let note = format!(
                "numa_nodes = {} but the allowed CPUs span {available} NUMA node{}; all are used",
                numa.numa_nodes,
                if available == 1 { "" } else { "s" }
            );
            eprintln!("talaria: warning: {note}");
            note
        });
        let placements: Vec<Placement> = plan(&topology, config, workers, &[])
            .into_iter()
            .filter(|p| p.role == "aligner")
            .collect();
        let queues = if config.performance.amd.ccx_affinity {
            queues(&topology, &placements, config)
        } else {
            None
        };
        let nodes: Vec<Option<usize>> = placements
            .iter()
            .map(|p| {
                p.cpus
                    .first()
                    .and_then(|&c| topology.cpu(c))
                    .map(|c| c.numa)
            })
            .collect();
        let memory = numa
            .numa_aware
            .then(|| crate::reduce::numa::MemoryPlan::new(numa, &nodes));
        if !numa.numa_aware && numa.interleave_memory {
            eprintln!("talaria: warning: performance.numa.interleave_memory has no effect without performance.numa.numa_aware");
        }
        let cpus: Vec<Vec<u32>> = placements.into_iter().map(|p| p.cpus).collect();
        Some(Arc::new(Pinning {
            affinity,
            observed: Mutex::new(vec![None; cpus.len()]),
            cpus,
            nodes,
            warned: AtomicBool::new(false),
            queues,
            queue_probe: Mutex::new(None),
            memory,
            numa_nodes_note,
            fabric_aware: config.performance.amd.infinity_fabric_aware,
        }))
    }

    /// Warnings for placement keys that cannot act because nothing is pinned (`pin_threads`
    /// off): said once each at the start of a run.
    pub fn warn_unpinned(config: &Config) {
        if config.performance.numa.pin_threads {
            return;
        }
        for (on, key) in placement_keys(config) {
            if on {
                eprintln!("talaria: warning: {key} has no effect: aligners are not pinned (performance.numa.pin_threads, --pin-threads)");
            }
        }
    }

    /// The queue of aligner `index` under `ccx_affinity`.
    pub fn queue_of(&self, index: usize) -> Option<usize> {
        self.queues.as_ref()?.worker_queue.get(index).copied()
    }

    /// Where the queues' per-domain counts are read at the end of the run.
    pub fn set_queue_probe(&self, probe: DomainProbe) {
        *self.queue_probe.lock() = Some(probe);
    }

    /// Called by aligner `index` after pinning: its memory policy under `numa_aware`.
    pub fn set_memory_policy(&self, index: usize) {
        if let Some(memory) = &self.memory {
            memory.apply(index, self.nodes.get(index).copied().flatten());
        }
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
        let domain_stats = self.queue_probe.lock().as_ref().map(DomainProbe::read);
        PlacementReport {
            affinity: self.affinity.name(),
            observed: self.observed.lock().clone(),
            queues: self
                .queues
                .as_ref()
                .map(|q| QueueReport::new(q, domain_stats, self.fabric_aware)),
            memory: self.memory.as_ref().map(|m| m.report()),
            numa_nodes_note: self.numa_nodes_note.clone(),
        }
    }
}

/// The placement keys that act only on pinned aligners, with whether each is asked for.
fn placement_keys(config: &Config) -> [(bool, &'static str); 3] {
    let p = &config.performance;
    [
        (p.amd.ccx_affinity, "performance.amd.ccx_affinity"),
        (p.numa.numa_aware, "performance.numa.numa_aware"),
        (p.numa.numa_nodes != 0, "performance.numa.numa_nodes"),
    ]
}

/// The interleave set for the index under `numa_aware` + `interleave_memory`: the nodes the
/// aligners run on.
pub fn interleave_nodes(pinning: Option<&Pinning>) -> Option<NodeSet> {
    pinning?.memory.as_ref()?.interleave
}

/// One queue's line of the summary.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct QueueCounts {
    pub queue: usize,
    pub l3: usize,
    pub numa: usize,
    pub aligners: Vec<usize>,
    pub steal_order: Vec<usize>,
    pub dealt: u64,
    pub runs: u64,
    pub own: u64,
    pub stole: u64,
    pub stolen: u64,
}

/// What the per-L3 queues did in a run.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct QueueReport {
    pub fabric_aware: bool,
    pub queues: Vec<QueueCounts>,
}

impl QueueReport {
    fn new(plan: &QueuePlan, stats: Option<Vec<DomainStats>>, fabric_aware: bool) -> QueueReport {
        let stats = stats.unwrap_or_default();
        QueueReport {
            fabric_aware,
            queues: plan
                .domains
                .iter()
                .map(|d| {
                    let s = stats.get(d.index).copied().unwrap_or_default();
                    QueueCounts {
                        queue: d.index,
                        l3: d.l3,
                        numa: d.numa,
                        aligners: d.workers.clone(),
                        steal_order: plan.steal_order[d.index].clone(),
                        dealt: s.dealt,
                        runs: s.runs,
                        own: s.own,
                        stole: s.stole,
                        stolen: s.stolen,
                    }
                })
                .collect(),
        }
    }
}

impl fmt::Display for QueueReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "queues: {} per-L3 (ccx_affinity), stealing {}",
            self.queues.len(),
            if self.fabric_aware {
                "near first (infinity_fabric_aware)"
            } else {
                "in turn"
            }
        )?;
        for q in &self.queues {
            write!(
                f,
                "; q{} L3 {} node {}: {} chunks in {} runs, {} own, stole {}, stolen {}",
                q.queue, q.l3, q.numa, q.dealt, q.runs, q.own, q.stole, q.stolen
            )?;
        }
        Ok(())
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
    /// `ccx_affinity`: the per-L3 queues and their counts.
    pub queues: Option<QueueReport>,
    /// `numa_aware`: memory policies applied.
    pub memory: Option<crate::reduce::numa::MemoryReport>,
    pub numa_nodes_note: Option<String>,
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
        if let Some(note) = &self.numa_nodes_note {
            write!(f, "; {note}")?;
        }
        if let Some(q) = &self.queues {
            write!(f, "\n  {q}")?;
        }
        if let Some(m) = &self.memory {
            write!(f, "\n  {m}")?;
        }
        Ok(())
    }
}
