//! `performance.numa.numa_aware`: where a run's memory lives. Each pinned aligner builds its own
//! working memory (its decider's buffers) after it is pinned, so the kernel's first-touch rule
//! puts it on the aligner's node; with `local_allocation` the aligner also sets its policy to
//! prefer that node (MPOL_PREFERRED) so nothing it allocates later drifts elsewhere; with
//! `interleave_memory` the representative index's big arrays, read by every aligner, are
//! interleaved over the nodes the aligners run on (mbind MPOL_INTERLEAVE). A refused syscall
//! (EPERM in containers, ENOSYS) is one warning and the run carries on; the summary says what
//! the kernel then reported. Placement only: outputs never change.

use crate::config::NumaConfig;
use parking_lot::Mutex;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use talaria_stages::numa::{self, NodeSet, Policy};

/// The memory policies of one run.
pub struct MemoryPlan {
    local_allocation: bool,
    /// The nodes the index is interleaved over (`interleave_memory`).
    pub interleave: Option<NodeSet>,
    warned: AtomicBool,
    /// Per aligner: its policy as get_mempolicy reported it after setting, or why not.
    observed: Mutex<Vec<Option<Result<String, String>>>>,
}

impl MemoryPlan {
    /// `nodes`: the NUMA node of each aligner's CPU (None when unknown).
    pub fn new(numa: &NumaConfig, nodes: &[Option<usize>]) -> MemoryPlan {
        let mut used: Vec<usize> = nodes.iter().flatten().copied().collect();
        used.sort_unstable();
        used.dedup();
        MemoryPlan {
            local_allocation: numa.local_allocation,
            interleave: (numa.interleave_memory && !used.is_empty()).then(|| NodeSet::of(&used)),
            warned: AtomicBool::new(false),
            observed: Mutex::new(vec![None; nodes.len()]),
        }
    }

    /// Called by aligner `index`, pinned to a CPU of `node`, before it allocates anything.
    pub fn apply(&self, index: usize, node: Option<usize>) {
        let set = if self.local_allocation {
            let policy = match node {
                Some(n) => Policy::Preferred(NodeSet::of(&[n])),
                None => Policy::Local,
            };
            numa::set_thread_policy(&policy).map_err(|e| {
                self.warn(format!(
                    "could not set aligner-{index}'s memory policy to {} (set_mempolicy: {e}); it allocates where the kernel chooses",
                    policy.describe()
                ));
                format!("set_mempolicy: {e}")
            })
        } else {
            Ok(())
        };
        let outcome = set.and_then(|()| {
            numa::thread_policy()
                .map(|p| p.describe())
                .map_err(|e| format!("get_mempolicy: {e}"))
        });
        if let Some(slot) = self.observed.lock().get_mut(index) {
            *slot = Some(outcome);
        }
    }

    fn warn(&self, line: String) {
        if !self.warned.swap(true, Ordering::Relaxed) {
            eprintln!("talaria: warning: {line}");
        }
    }

    pub fn report(&self) -> MemoryReport {
        MemoryReport {
            local_allocation: self.local_allocation,
            aligners: self.observed.lock().clone(),
            interleave: self.interleave.map(|n| Policy::Interleave(n).describe()),
            index: None,
        }
    }
}

/// What `numa_aware` did in a run, for the summary.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct MemoryReport {
    pub local_allocation: bool,
    /// Per aligner: the policy get_mempolicy reported once it was set, or why not.
    pub aligners: Vec<Option<Result<String, String>>>,
    /// The policy asked for the index (`interleave:0-1`), if `interleave_memory`.
    pub interleave: Option<String>,
    /// What the index's arrays got.
    pub index: Option<IndexPlacement>,
}

/// The index's arrays under `interleave_memory`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct IndexPlacement {
    /// Bytes of the heads table and the postings bound (whole pages).
    pub bound_bytes: u64,
    /// The heads table's policy as /proc/self/numa_maps shows it at the end of the run.
    pub numa_maps: Option<String>,
    /// Why binding stopped, if mbind failed.
    pub error: Option<String>,
}

impl fmt::Display for MemoryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let policies: Vec<String> = self
            .aligners
            .iter()
            .map(|o| match o {
                Some(Ok(p)) => p.clone(),
                Some(Err(e)) => format!("failed ({e})"),
                None => "-".into(),
            })
            .collect();
        write!(
            f,
            "numa: aligners first-touch their own memory{}; policy per aligner (get_mempolicy): {}",
            if self.local_allocation {
                ", local_allocation prefers their node"
            } else {
                ""
            },
            policies.join(" ")
        )?;
        match (&self.interleave, &self.index) {
            (Some(asked), Some(index)) => {
                write!(
                    f,
                    "; index {asked}, {:.1} MiB bound",
                    index.bound_bytes as f64 / (1024.0 * 1024.0)
                )?;
                if let Some(seen) = &index.numa_maps {
                    write!(f, " (numa_maps: {seen})")?;
                }
                if let Some(e) = &index.error {
                    write!(f, "; not bound: mbind: {e}")?;
                }
                Ok(())
            }
            (Some(asked), None) => write!(f, "; index {asked} asked"),
            (None, _) => write!(f, "; index not interleaved (interleave_memory off)"),
        }
    }
}
