//! The machine's CPU topology as talaria plans threads on it: packages, NUMA nodes, L3 domains
//! (a CCX is the set of cores sharing one L3), cores, processing units (PUs, hardware threads),
//! CPU kinds (big.LITTLE, where the OS reports them) and the CPUs this process is allowed to run
//! on. Discovered with hwloc (Cargo feature `hwloc`, which honours `HWLOC_SYNTHETIC` and
//! `HWLOC_XMLFILE`) or, without it, from /sys/devices/system/cpu. This module describes and
//! plans; it must not decide how many threads a job runs, and it never pins outside the
//! allowed set.

pub mod cpuset;
#[cfg(feature = "hwloc")]
mod hwloc;
pub mod placement;
pub mod queues;
mod sysfs;

pub use placement::{plan, Affinity, Placement, ThreadSpec};
pub use queues::{queue_plan, QueuePlan};

/// Where a topology came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// libhwloc (this machine, or a synthetic / XML topology given through the environment).
    Hwloc,
    /// /sys/devices/system/cpu and /sys/devices/system/node.
    Sysfs,
    /// Neither worked: every allowed CPU taken as its own core in one L3 domain.
    Flat,
    /// Built in code (tests, examples).
    Manual,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::Hwloc => "hwloc",
            Source::Sysfs => "sysfs",
            Source::Flat => "flat",
            Source::Manual => "manual",
        }
    }
}

/// One processing unit (what the OS calls a CPU). Indices are dense and logical (0, 1, 2, ...
/// in order of the lowest CPU number they contain), so they can index vectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cpu {
    /// The OS CPU number (what taskset, /proc and sched_setaffinity use).
    pub os: u32,
    pub package: usize,
    pub numa: usize,
    pub l3: usize,
    pub core: usize,
    /// Index into [`Topology::kinds`]; 0 = the most performant kind (0 when kinds are unknown).
    pub kind: usize,
}

/// A CPU as a discoverer reports it: any identifiers that are unique across the machine (such
/// as the first CPU of the core's sibling list); [`Topology::new`] makes them dense.
#[derive(Clone, Copy, Debug)]
pub struct RawCpu {
    pub os: u32,
    pub package: u64,
    pub numa: u64,
    pub l3: u64,
    pub core: u64,
    pub kind: usize,
}

/// An L3 domain: the CPUs sharing one L3 cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct L3Domain {
    pub index: usize,
    pub numa: usize,
    pub package: usize,
    /// Every PU of the domain (allowed or not), ascending.
    pub cpus: Vec<u32>,
}

#[derive(Clone, Debug)]
pub struct Topology {
    pub source: Source,
    /// What else to say about the source (e.g. "synthetic: pack:2 ...", or why hwloc was not
    /// used).
    pub note: Option<String>,
    /// Every PU, ascending by OS number.
    pub cpus: Vec<Cpu>,
    /// The PUs this process may use, ascending; never empty for a topology with CPUs.
    pub allowed: Vec<u32>,
    /// CPU kind names, most performant first; empty when the OS reports a single kind.
    pub kinds: Vec<String>,
    /// Whether this is the machine we run on (false for a synthetic or XML topology: plan
    /// with it, never pin by it).
    pub this_machine: bool,
}

impl Topology {
    /// Builds a topology from raw CPUs, renumbering packages, NUMA nodes, L3 domains and cores
    /// densely. `allowed` is intersected with the CPUs present; if that leaves nothing (an
    /// affinity mask that names no CPU of a synthetic machine), every CPU is taken as allowed.
    pub fn new(
        source: Source,
        note: Option<String>,
        mut raw: Vec<RawCpu>,
        allowed: Option<&[u32]>,
        kinds: Vec<String>,
    ) -> Topology {
        raw.sort_by_key(|c| c.os);
        raw.dedup_by_key(|c| c.os);
        let mut maps: [Vec<u64>; 4] = Default::default();
        let mut dense = |which: usize, id: u64| -> usize {
            let map = &mut maps[which];
            map.iter().position(|&x| x == id).unwrap_or_else(|| {
                map.push(id);
                map.len() - 1
            })
        };
        let cpus: Vec<Cpu> = raw
            .iter()
            .map(|c| Cpu {
                os: c.os,
                package: dense(0, c.package),
                numa: dense(1, c.numa),
                l3: dense(2, c.l3),
                core: dense(3, c.core),
                kind: if kinds.len() > 1 { c.kind } else { 0 },
            })
            .collect();
        let present: Vec<u32> = cpus.iter().map(|c| c.os).collect();
        let mut allowed: Vec<u32> = match allowed {
            Some(set) => set
                .iter()
                .copied()
                .filter(|c| present.binary_search(c).is_ok())
                .collect(),
            None => present.clone(),
        };
        if allowed.is_empty() {
            allowed = present;
        }
        allowed.sort_unstable();
        allowed.dedup();
        Topology {
            source,
            note,
            cpus,
            allowed,
            kinds: if kinds.len() > 1 { kinds } else { Vec::new() },
            this_machine: source != Source::Manual,
        }
    }

    /// A regular machine built in code: `packages` x `numa` NUMA nodes per package x `l3` L3
    /// domains per node x `cores` per domain x `pus` per core. CPU numbers follow Linux on x86:
    /// first hardware thread of every core, then the second (so SMT siblings are `n` apart).
    pub fn regular(packages: usize, numa: usize, l3: usize, cores: usize, pus: usize) -> Topology {
        let total_cores = packages * numa * l3 * cores;
        let mut raw = Vec::new();
        for core in 0..total_cores {
            let l3_index = core / cores;
            let numa_index = l3_index / l3;
            for thread in 0..pus {
                raw.push(RawCpu {
                    os: (thread * total_cores + core) as u32,
                    package: (numa_index / numa) as u64,
                    numa: numa_index as u64,
                    l3: l3_index as u64,
                    core: core as u64,
                    kind: 0,
                });
            }
        }
        Topology::new(Source::Manual, None, raw, None, Vec::new())
    }

    /// The same machine, allowed only `allowed` (as taskset or a cgroup would).
    pub fn with_allowed(mut self, allowed: &[u32]) -> Topology {
        self.allowed = allowed
            .iter()
            .copied()
            .filter(|c| self.cpu(*c).is_some())
            .collect();
        self.allowed.sort_unstable();
        self.allowed.dedup();
        self
    }

    /// The NUMA nodes holding at least one allowed CPU, ascending.
    pub fn allowed_nodes(&self) -> Vec<usize> {
        let mut nodes: Vec<usize> = self
            .allowed
            .iter()
            .filter_map(|&c| self.cpu(c).map(|c| c.numa))
            .collect();
        nodes.sort_unstable();
        nodes.dedup();
        nodes
    }

    /// The same machine, allowed only the CPUs of the first `nodes` NUMA nodes that hold allowed
    /// CPUs (`performance.numa.numa_nodes`; 0 = all). Asking for more nodes than there are
    /// keeps them all; the caller compares with [`Topology::allowed_nodes`] to warn.
    pub fn first_nodes(mut self, nodes: usize) -> Topology {
        let keep = self.allowed_nodes();
        if nodes == 0 || nodes >= keep.len() {
            return self;
        }
        let keep = &keep[..nodes];
        let allowed: Vec<u32> = self
            .allowed
            .iter()
            .copied()
            .filter(|&c| self.cpu(c).is_some_and(|c| keep.contains(&c.numa)))
            .collect();
        self.allowed = allowed;
        self
    }

    pub fn cpu(&self, os: u32) -> Option<&Cpu> {
        self.cpus
            .binary_search_by_key(&os, |c| c.os)
            .ok()
            .map(|i| &self.cpus[i])
    }

    pub fn packages(&self) -> usize {
        self.count(|c| c.package)
    }

    pub fn numa_nodes(&self) -> usize {
        self.count(|c| c.numa)
    }

    pub fn cores(&self) -> usize {
        self.count(|c| c.core)
    }

    fn count(&self, field: impl Fn(&Cpu) -> usize) -> usize {
        self.cpus.iter().map(field).max().map_or(0, |m| m + 1)
    }

    /// Hardware threads per core, when every core has the same number.
    pub fn threads_per_core(&self) -> Option<usize> {
        let mut per_core = vec![0usize; self.cores()];
        for c in &self.cpus {
            per_core[c.core] += 1;
        }
        let first = *per_core.first()?;
        per_core.iter().all(|&n| n == first).then_some(first)
    }

    pub fn l3_domains(&self) -> Vec<L3Domain> {
        let mut domains: Vec<L3Domain> = Vec::new();
        for c in &self.cpus {
            if c.l3 == domains.len() {
                domains.push(L3Domain {
                    index: c.l3,
                    numa: c.numa,
                    package: c.package,
                    cpus: Vec::new(),
                });
            }
            domains[c.l3].cpus.push(c.os);
        }
        domains
    }

    /// The PUs of one NUMA node, ascending.
    pub fn numa_cpus(&self, node: usize) -> Vec<u32> {
        self.cpus
            .iter()
            .filter(|c| c.numa == node)
            .map(|c| c.os)
            .collect()
    }

    /// The PUs of one CPU kind, ascending.
    pub fn kind_cpus(&self, kind: usize) -> Vec<u32> {
        self.cpus
            .iter()
            .filter(|c| c.kind == kind)
            .map(|c| c.os)
            .collect()
    }
}

/// The topology of the machine we run on, for pinning: [`discover`], unless that loaded a
/// synthetic or XML machine (`HWLOC_SYNTHETIC`, `HWLOC_XMLFILE`), in which case sysfs.
pub fn discover_this_machine() -> Topology {
    let t = discover();
    if t.this_machine {
        return t;
    }
    let allowed = cpuset::allowed_cpus();
    sysfs::load(
        std::path::Path::new("/sys/devices/system"),
        allowed.as_deref(),
    )
    .unwrap_or(t)
}

/// This machine's topology: hwloc when built with it and it loads, else sysfs, else a flat
/// topology of the allowed CPUs. Always returns something usable; `source` and `note` say which.
pub fn discover() -> Topology {
    #[cfg(feature = "hwloc")]
    let fallback_note = match hwloc::load() {
        Ok(t) => return t,
        Err(why) => format!("hwloc failed ({why}); read from /sys instead"),
    };
    #[cfg(not(feature = "hwloc"))]
    let fallback_note = {
        let ignored: Vec<&str> = ["HWLOC_SYNTHETIC", "HWLOC_XMLFILE"]
            .into_iter()
            .filter(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
            .collect();
        let mut note = "built without the hwloc feature".to_string();
        if !ignored.is_empty() {
            note.push_str(&format!("; {} ignored", ignored.join(", ")));
        }
        note
    };
    let allowed = cpuset::allowed_cpus();
    match sysfs::load(
        std::path::Path::new("/sys/devices/system"),
        allowed.as_deref(),
    ) {
        Some(mut t) => {
            t.note = Some(fallback_note);
            t
        }
        None => {
            let cpus = allowed.clone().unwrap_or_else(|| {
                let n = std::thread::available_parallelism().map_or(1, |n| n.get());
                (0..n as u32).collect()
            });
            let raw = cpus
                .iter()
                .map(|&os| RawCpu {
                    os,
                    package: 0,
                    numa: 0,
                    l3: 0,
                    core: os as u64,
                    kind: 0,
                })
                .collect();
            Topology::new(
                Source::Flat,
                Some(format!(
                    "{fallback_note}; /sys/devices/system/cpu unreadable"
                )),
                raw,
                allowed.as_deref(),
                Vec::new(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_machine_shape() {
        let t = Topology::regular(2, 2, 4, 8, 2);
        assert_eq!(t.cpus.len(), 256);
        assert_eq!((t.packages(), t.numa_nodes(), t.cores()), (2, 4, 128));
        assert_eq!(t.threads_per_core(), Some(2));
        let domains = t.l3_domains();
        assert_eq!(domains.len(), 16);
        // Domain 5: cores 40..48, their siblings 168..176; NUMA node 1, package 0.
        assert_eq!((domains[5].numa, domains[5].package), (1, 0));
        let expected: Vec<u32> = (40..48).chain(168..176).collect();
        assert_eq!(domains[5].cpus, expected);
        assert_eq!(t.cpu(168).unwrap().core, t.cpu(40).unwrap().core);
        assert_eq!(t.allowed.len(), 256);
    }

    #[test]
    fn first_nodes_of_the_allowed_set() {
        // 4 NUMA nodes of 16 cores (x2 threads); node 0 not allowed at all.
        let t = Topology::regular(2, 2, 4, 8, 2);
        let not_node0: Vec<u32> = (0..256).filter(|c| t.cpu(*c).unwrap().numa != 0).collect();
        let t = t.with_allowed(&not_node0);
        assert_eq!(t.allowed_nodes(), vec![1, 2, 3]);
        let two = t.clone().first_nodes(2);
        assert_eq!(two.allowed_nodes(), vec![1, 2]);
        assert_eq!(two.allowed.len(), 128);
        assert_eq!(t.clone().first_nodes(0).allowed.len(), 192);
        assert_eq!(t.first_nodes(9).allowed.len(), 192);
    }

    #[test]
    fn ids_become_dense_and_allowed_is_clipped() {
        let raw = [(4u32, 9u64), (6, 9), (8, 17), (10, 17)]
            .iter()
            .map(|&(os, l3)| RawCpu {
                os,
                package: 3,
                numa: 7,
                l3,
                core: os as u64,
                kind: 0,
            })
            .collect();
        let t = Topology::new(Source::Manual, None, raw, Some(&[0, 1, 6, 10]), Vec::new());
        assert_eq!(t.allowed, vec![6, 10]);
        assert_eq!(
            t.cpus
                .iter()
                .map(|c| (c.package, c.numa, c.l3))
                .collect::<Vec<_>>(),
            vec![(0, 0, 0), (0, 0, 0), (0, 0, 1), (0, 0, 1)]
        );
        // An affinity mask naming none of the machine's CPUs (a synthetic machine): all allowed.
        let t = Topology::new(Source::Manual, None, t_raw(), Some(&[99]), Vec::new());
        assert_eq!(t.allowed, vec![0, 1]);
    }

    fn t_raw() -> Vec<RawCpu> {
        (0..2)
            .map(|os| RawCpu {
                os,
                package: 0,
                numa: 0,
                l3: 0,
                core: os as u64,
                kind: 0,
            })
            .collect()
    }

    #[test]
    fn this_machine_is_discovered() {
        let t = discover();
        assert!(!t.cpus.is_empty());
        assert!(!t.allowed.is_empty());
        let mine = cpuset::allowed_cpus().unwrap();
        if std::env::var_os("HWLOC_SYNTHETIC").is_none()
            && std::env::var_os("HWLOC_XMLFILE").is_none()
        {
            assert_eq!(t.allowed, mine, "source {:?} {:?}", t.source, t.note);
        }
        for d in t.l3_domains() {
            assert!(!d.cpus.is_empty());
        }
    }
}
