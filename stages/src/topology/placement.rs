//! Thread placement as a pure function: (topology, threads, affinity) -> plan. Worker threads
//! (the aligners) get one CPU each, distinct while there are enough allowed CPUs, one PU per
//! core before any SMT sibling, performance cores before efficiency cores; `compact` fills one
//! L3 domain, then the next; `scatter` deals workers round-robin across NUMA nodes, and within
//! a node across its L3 domains. Other stage threads get the whole allowed set (they are not
//! pinned). It reads no system state and pins nothing: the caller applies the plan.

use super::Topology;

/// How worker threads are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Affinity {
    /// No placement: every thread may run on every allowed CPU.
    None,
    /// Fill one L3 domain (and so one NUMA node) before the next: workers share caches.
    Compact,
    /// Spread workers over NUMA nodes, then L3 domains: each gets the most cache and bandwidth.
    Scatter,
}

impl Affinity {
    pub fn parse(text: &str) -> Option<Affinity> {
        match text.trim().to_ascii_lowercase().as_str() {
            "none" => Some(Affinity::None),
            "compact" => Some(Affinity::Compact),
            "scatter" => Some(Affinity::Scatter),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Affinity::None => "none",
            Affinity::Compact => "compact",
            Affinity::Scatter => "scatter",
        }
    }
}

/// A thread the caller will start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadSpec {
    /// The thread's name (`aligner-3`, as /proc and `top -H` show it).
    pub name: String,
    /// What it does (`aligner`, `reader`, ...).
    pub role: String,
    /// Whether it is a worker that gets a CPU of its own.
    pub worker: bool,
}

/// Where one thread goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    pub thread: String,
    pub role: String,
    /// The CPUs it may run on, ascending.
    pub cpus: Vec<u32>,
    /// The L3 domain / NUMA node holding all of `cpus`, if one does.
    pub l3: Option<usize>,
    pub numa: Option<usize>,
    /// Whether the caller should pin the thread to `cpus` (workers under compact / scatter).
    pub pin: bool,
}

/// The plan for `threads` on `topo`. `performance_first`: workers take the CPUs of the most
/// performant kind first (when the topology reports kinds).
pub fn plan(
    topo: &Topology,
    threads: &[ThreadSpec],
    affinity: Affinity,
    performance_first: bool,
) -> Vec<Placement> {
    let order = worker_order(topo, affinity, performance_first);
    let mut next_worker = 0;
    threads
        .iter()
        .map(|t| {
            let (cpus, pin) = if t.worker && !order.is_empty() {
                // More workers than CPUs: wrap around, so CPUs are shared as evenly as possible.
                let cpu = order[next_worker % order.len()];
                next_worker += 1;
                (vec![cpu], true)
            } else {
                (topo.allowed.clone(), false)
            };
            let (l3, numa) = domains_of(topo, &cpus);
            Placement {
                thread: t.name.clone(),
                role: t.role.clone(),
                cpus,
                l3,
                numa,
                pin,
            }
        })
        .collect()
}

/// The allowed CPUs in the order workers take them (empty for `Affinity::None`).
pub fn worker_order(topo: &Topology, affinity: Affinity, performance_first: bool) -> Vec<u32> {
    if affinity == Affinity::None {
        return Vec::new();
    }
    // Each allowed CPU with its tier: (SMT rank within its core among allowed PUs, kind rank).
    // A free core of any kind beats a second hardware thread on a busy one.
    let mut cpus: Vec<(usize, usize, &super::Cpu)> = Vec::new();
    let mut seen_cores: Vec<(usize, usize)> = Vec::new(); // (core, PUs seen so far)
    for &os in &topo.allowed {
        let Some(cpu) = topo.cpu(os) else { continue };
        let rank = match seen_cores.iter_mut().find(|(core, _)| *core == cpu.core) {
            Some((_, n)) => {
                *n += 1;
                *n - 1
            }
            None => {
                seen_cores.push((cpu.core, 1));
                0
            }
        };
        let kind = if performance_first { cpu.kind } else { 0 };
        cpus.push((rank, kind, cpu));
    }
    cpus.sort_by_key(|&(rank, kind, c)| (rank, kind, c.numa, c.l3, c.core, c.os));
    if affinity == Affinity::Compact {
        return cpus.iter().map(|(_, _, c)| c.os).collect();
    }
    // Scatter, tier by tier: NUMA nodes in turn, each dealing from its L3 domains in turn.
    let mut order = Vec::with_capacity(cpus.len());
    let mut start = 0;
    while start < cpus.len() {
        let tier = (cpus[start].0, cpus[start].1);
        let end = start
            + cpus[start..]
                .iter()
                .take_while(|c| (c.0, c.1) == tier)
                .count();
        // nodes[n] = (numa, L3 queues of that node, next L3 to deal from)
        let mut nodes: Vec<(usize, Vec<Vec<u32>>, usize)> = Vec::new();
        let mut last_l3 = None;
        for &(_, _, c) in &cpus[start..end] {
            if nodes.last().map(|n| n.0) != Some(c.numa) {
                nodes.push((c.numa, Vec::new(), 0));
                last_l3 = None;
            }
            let node = nodes.last_mut().expect("pushed above");
            if last_l3 != Some(c.l3) {
                node.1.push(Vec::new());
                last_l3 = Some(c.l3);
            }
            node.1.last_mut().expect("pushed above").push(c.os);
        }
        for (_, queues, _) in &mut nodes {
            for q in queues.iter_mut() {
                q.reverse(); // pop() from the back takes the lowest core first
            }
        }
        let mut left = end - start;
        while left > 0 {
            for (_, queues, next) in &mut nodes {
                for step in 0..queues.len() {
                    let i = (*next + step) % queues.len();
                    if let Some(cpu) = queues[i].pop() {
                        order.push(cpu);
                        left -= 1;
                        *next = i + 1;
                        break;
                    }
                }
            }
        }
        start = end;
    }
    order
}

/// The L3 domain and NUMA node containing all of `cpus`, each if there is one.
fn domains_of(topo: &Topology, cpus: &[u32]) -> (Option<usize>, Option<usize>) {
    let found: Vec<&super::Cpu> = cpus.iter().filter_map(|&c| topo.cpu(c)).collect();
    let common = |field: fn(&super::Cpu) -> usize| {
        let first = field(found.first()?);
        found.iter().all(|c| field(c) == first).then_some(first)
    };
    (common(|c| c.l3), common(|c| c.numa))
}

#[cfg(test)]
mod tests {
    use super::super::{RawCpu, Source};
    use super::*;

    fn threads(workers: usize) -> Vec<ThreadSpec> {
        let stage = |name: &str| ThreadSpec {
            name: name.into(),
            role: name.into(),
            worker: false,
        };
        let mut v = vec![stage("reader"), stage("chunker")];
        v.extend((0..workers).map(|i| ThreadSpec {
            name: format!("aligner-{i}"),
            role: "aligner".into(),
            worker: true,
        }));
        v.push(stage("writer"));
        v
    }

    fn workers(plan: &[Placement]) -> Vec<u32> {
        plan.iter()
            .filter(|p| p.role == "aligner")
            .map(|p| {
                assert_eq!(p.cpus.len(), 1, "{p:?}");
                assert!(p.pin);
                p.cpus[0]
            })
            .collect()
    }

    fn distinct<T: Ord + Clone>(items: &[T]) -> bool {
        let mut v = items.to_vec();
        v.sort_unstable();
        v.dedup();
        v.len() == items.len()
    }

    /// 2 sockets x 2 NUMA nodes x 4 L3 domains x 8 cores x 2 threads = 256 PUs; SMT siblings
    /// are 128 apart, L3 domain d holds cores 8d..8d+8.
    fn big_server() -> Topology {
        Topology::regular(2, 2, 4, 8, 2)
    }

    #[test]
    fn compact_fills_one_l3_domain_then_the_next() {
        let t = big_server();
        let plan = plan(&t, &threads(12), Affinity::Compact, true);
        let cpus = workers(&plan);
        assert_eq!(cpus, (0..12).collect::<Vec<u32>>());
        let l3: Vec<usize> = plan
            .iter()
            .filter(|p| p.role == "aligner")
            .map(|p| p.l3.unwrap())
            .collect();
        assert_eq!(l3, [vec![0; 8], vec![1; 4]].concat());
        // Stage threads: not pinned, the whole allowed set, which spans domains.
        let reader = &plan[0];
        assert_eq!(
            (reader.cpus.len(), reader.pin, reader.l3, reader.numa),
            (256, false, None, None)
        );
    }

    #[test]
    fn cores_before_smt_siblings() {
        let t = big_server();
        for affinity in [Affinity::Compact, Affinity::Scatter] {
            let cpus = workers(&plan(&t, &threads(200), affinity, true));
            assert!(distinct(&cpus));
            // The first 128 workers take one PU of each core; then the siblings.
            let cores: Vec<usize> = cpus[..128]
                .iter()
                .map(|&c| t.cpu(c).unwrap().core)
                .collect();
            assert!(distinct(&cores), "{affinity:?}");
            assert!(cpus[128..].iter().all(|&c| c >= 128), "{affinity:?}");
        }
        // More workers than PUs: each PU at most twice.
        let cpus = workers(&plan(&t, &threads(300), Affinity::Compact, true));
        assert!(distinct(&cpus[..256]));
        assert_eq!(&cpus[256..], &cpus[..44]);
    }

    #[test]
    fn scatter_deals_numa_nodes_then_l3_domains() {
        let t = big_server();
        let plan = plan(&t, &threads(16), Affinity::Scatter, true);
        let cpus = workers(&plan);
        let at = |i: usize| {
            let c = t.cpu(cpus[i]).unwrap();
            (c.numa, c.l3)
        };
        // First four: one per NUMA node; then each node's second L3 domain.
        assert_eq!(
            (0..8).map(at).collect::<Vec<_>>(),
            vec![
                (0, 0),
                (1, 4),
                (2, 8),
                (3, 12),
                (0, 1),
                (1, 5),
                (2, 9),
                (3, 13)
            ]
        );
        // 16 workers: each of the 16 L3 domains holds exactly one.
        let mut l3: Vec<usize> = (0..16).map(|i| at(i).1).collect();
        l3.sort_unstable();
        assert_eq!(l3, (0..16).collect::<Vec<_>>());
        assert_eq!(cpus[0], 0);
        assert_eq!(cpus[1], 32); // first core of NUMA node 1
    }

    #[test]
    fn none_pins_nothing() {
        let t = big_server();
        let plan = plan(&t, &threads(4), Affinity::None, true);
        assert!(plan.iter().all(|p| !p.pin && p.cpus.len() == 256));
    }

    /// One socket: 4 performance cores with 2 threads each (CPUs 0-7, siblings adjacent as on
    /// Intel hybrid parts) and 8 efficiency cores (CPUs 8-15), all under one L3.
    fn hybrid() -> Topology {
        let mut raw = Vec::new();
        for os in 0..16u32 {
            raw.push(RawCpu {
                os,
                package: 0,
                numa: 0,
                l3: 0,
                core: if os < 8 {
                    u64::from(os / 2)
                } else {
                    u64::from(os)
                },
                kind: usize::from(os >= 8),
            });
        }
        Topology::new(
            Source::Manual,
            None,
            raw,
            None,
            vec!["performance".into(), "efficiency".into()],
        )
    }

    #[test]
    fn big_cores_first() {
        let t = hybrid();
        assert_eq!(t.cores(), 12);
        let cpus = workers(&plan(&t, &threads(4), Affinity::Compact, true));
        assert_eq!(cpus, vec![0, 2, 4, 6]);
        // Then the efficiency cores, and only then the performance cores' second threads.
        let cpus = workers(&plan(&t, &threads(16), Affinity::Scatter, true));
        assert_eq!(
            cpus,
            vec![0, 2, 4, 6, 8, 9, 10, 11, 12, 13, 14, 15, 1, 3, 5, 7]
        );
        // Kinds ignored: cores in CPU order.
        let cpus = workers(&plan(&t, &threads(6), Affinity::Compact, false));
        assert_eq!(cpus, vec![0, 2, 4, 6, 8, 9]);
    }

    #[test]
    fn two_core_vm() {
        let t = Topology::regular(1, 1, 1, 2, 1);
        for affinity in [Affinity::Compact, Affinity::Scatter] {
            let plan = plan(&t, &threads(2), affinity, true);
            assert_eq!(workers(&plan), vec![0, 1]);
            assert!(plan.iter().all(|p| p.l3 == Some(0) && p.numa == Some(0)));
            // Three workers on two CPUs: the third shares CPU 0.
            assert_eq!(
                workers(&super::plan(&t, &threads(3), affinity, true)),
                vec![0, 1, 0]
            );
        }
    }

    #[test]
    fn never_outside_the_allowed_set() {
        // 2 L3 domains x 4 cores, CPU 0 not allowed (taskset -c 1-7).
        let t = Topology::regular(1, 1, 2, 4, 1).with_allowed(&[1, 2, 3, 4, 5, 6, 7]);
        let compact = workers(&plan(&t, &threads(4), Affinity::Compact, true));
        assert_eq!(compact, vec![1, 2, 3, 4]);
        let scatter = workers(&plan(&t, &threads(4), Affinity::Scatter, true));
        assert_eq!(scatter, vec![1, 4, 2, 5]);
        let plan = plan(&t, &threads(9), Affinity::Compact, true);
        assert!(plan.iter().all(|p| !p.cpus.contains(&0)));
        assert_eq!(plan[0].cpus, vec![1, 2, 3, 4, 5, 6, 7]);
        // SMT: with CPU 0 (core 0's first thread) excluded, its sibling counts as a first thread.
        let t = Topology::regular(1, 1, 1, 2, 2).with_allowed(&[1, 2, 3]);
        assert_eq!(
            workers(&super::plan(&t, &threads(2), Affinity::Compact, true)),
            vec![2, 1]
        );
    }
}
