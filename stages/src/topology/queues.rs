//! Per-L3 work queues as a pure function of a topology and a placement plan: which queue each
//! pinned worker serves (the queue of its L3 domain), how many consecutive items a run dealt to
//! a queue holds, and the order in which an idle queue's workers steal from the others. With
//! `fabric_aware` (AMD's Infinity Fabric, or any multi-socket machine) stealing prefers queues
//! on the same NUMA node, then the same package, before crossing to another package; without
//! it, the other queues in turn. It reads no system state.

use super::{Placement, Topology};

/// One queue: the workers pinned in one L3 domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueDomain {
    /// The queue's number (0, 1, ... in L3 order).
    pub index: usize,
    pub l3: usize,
    pub numa: usize,
    pub package: usize,
    /// The workers it serves, by worker ordinal (0 = the first worker of the plan).
    pub workers: Vec<usize>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuePlan {
    pub domains: Vec<QueueDomain>,
    /// Worker ordinal -> its queue.
    pub worker_queue: Vec<usize>,
    /// Queue -> the other queues in the order its workers steal from them.
    pub steal_order: Vec<Vec<usize>>,
    /// Queue -> items per run dealt to it.
    pub runs: Vec<usize>,
}

/// Items per worker in one run: each worker of a domain gets about this many consecutive
/// items before the next run goes elsewhere. 2 keeps every worker busy while its neighbour
/// finishes, yet runs short enough that a domain rarely holds more than its share.
pub const RUN_PER_WORKER: usize = 2;

/// The queues for the pinned workers of `plan` (placements with `pin`), or `None` when there
/// are none or one of them has no single L3 domain.
pub fn queue_plan(topo: &Topology, plan: &[Placement], fabric_aware: bool) -> Option<QueuePlan> {
    let l3s: Vec<usize> = plan
        .iter()
        .filter(|p| p.pin)
        .map(|p| p.l3)
        .collect::<Option<Vec<usize>>>()?;
    if l3s.is_empty() {
        return None;
    }
    let all = topo.l3_domains();
    let mut used: Vec<usize> = l3s.clone();
    used.sort_unstable();
    used.dedup();
    let domains: Vec<QueueDomain> = used
        .iter()
        .enumerate()
        .map(|(index, &l3)| {
            let d = all.iter().find(|d| d.index == l3);
            QueueDomain {
                index,
                l3,
                numa: d.map_or(0, |d| d.numa),
                package: d.map_or(0, |d| d.package),
                workers: l3s
                    .iter()
                    .enumerate()
                    .filter(|(_, &w)| w == l3)
                    .map(|(i, _)| i)
                    .collect(),
            }
        })
        .collect();
    let worker_queue = l3s
        .iter()
        .map(|l3| used.binary_search(l3).expect("collected above"))
        .collect();
    let places: Vec<(usize, usize)> = domains.iter().map(|d| (d.numa, d.package)).collect();
    Some(QueuePlan {
        steal_order: steal_order(&places, fabric_aware),
        runs: domains
            .iter()
            .map(|d| RUN_PER_WORKER * d.workers.len())
            .collect(),
        domains,
        worker_queue,
    })
}

/// For queues at `places` (NUMA node, package), each queue's steal order over the others:
/// the next queues after it in turn (so victims spread evenly); with `fabric_aware`, first
/// those on its NUMA node, then its package, then the rest, each group in that turn order.
pub fn steal_order(places: &[(usize, usize)], fabric_aware: bool) -> Vec<Vec<usize>> {
    let n = places.len();
    (0..n)
        .map(|me| {
            let mut others: Vec<usize> = (1..n).map(|step| (me + step) % n).collect();
            if fabric_aware {
                // Stable: within a tier, turn order is kept.
                others.sort_by_key(|&v| {
                    if places[v].0 == places[me].0 {
                        0
                    } else if places[v].1 == places[me].1 {
                        1
                    } else {
                        2
                    }
                });
            }
            others
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::{plan, Affinity, ThreadSpec};
    use super::*;

    fn workers(n: usize) -> Vec<ThreadSpec> {
        let mut v = vec![ThreadSpec {
            name: "reader".into(),
            role: "reader".into(),
            worker: false,
        }];
        v.extend((0..n).map(|i| ThreadSpec {
            name: format!("aligner-{i}"),
            role: "aligner".into(),
            worker: true,
        }));
        v
    }

    /// 2 sockets x 2 NUMA nodes x 4 L3 domains x 8 cores x 2 threads (256 PUs, 16 L3 domains).
    fn big_server() -> Topology {
        Topology::regular(2, 2, 4, 8, 2)
    }

    #[test]
    fn fabric_aware_steals_near_before_far() {
        let t = big_server();
        // 16 workers scattered: one per L3 domain, so 16 queues of one worker each.
        let p = plan(&t, &workers(16), Affinity::Scatter, true);
        let q = queue_plan(&t, &p, true).unwrap();
        assert_eq!(q.domains.len(), 16);
        assert!(q.domains.iter().all(|d| d.workers.len() == 1));
        assert_eq!(q.runs, vec![2; 16]);
        // Queue 5 = L3 5, NUMA node 1 (L3 4-7), package 0 (nodes 0-1).
        assert_eq!((q.domains[5].numa, q.domains[5].package), (1, 0));
        // Near first: its node's queues (L3 6, 7, 4), its package's (0-3), the other package.
        assert_eq!(
            q.steal_order[5],
            vec![6, 7, 4, 0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15]
        );
        // Every order is a permutation of the other queues.
        for (me, order) in q.steal_order.iter().enumerate() {
            let mut sorted = order.clone();
            sorted.sort_unstable();
            let expected: Vec<usize> = (0..16).filter(|&v| v != me).collect();
            assert_eq!(sorted, expected);
        }
        // Without fabric awareness: plain turn order.
        let q = queue_plan(&t, &p, false).unwrap();
        assert_eq!(
            q.steal_order[5],
            vec![6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4]
        );
    }

    #[test]
    fn compact_workers_share_queues_per_l3() {
        let t = big_server();
        // 20 compact workers: L3 0 takes 8, L3 1 takes 8, L3 2 takes 4.
        let p = plan(&t, &workers(20), Affinity::Compact, true);
        let q = queue_plan(&t, &p, true).unwrap();
        let sizes: Vec<usize> = q.domains.iter().map(|d| d.workers.len()).collect();
        assert_eq!(sizes, vec![8, 8, 4]);
        assert_eq!(q.runs, vec![16, 16, 8]);
        assert_eq!(q.domains[2].workers, (16..20).collect::<Vec<_>>());
        assert_eq!(q.worker_queue[..9], [0, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(q.steal_order, vec![vec![1, 2], vec![2, 0], vec![0, 1]]);
    }

    #[test]
    fn synthetic_issue_machine_scatter() {
        // pack:2 numa:1 l3:2 core:4 pu:1: 2 NUMA nodes, 4 L3 domains, 16 CPUs.
        let t = Topology::regular(2, 1, 2, 4, 1);
        let p = plan(&t, &workers(4), Affinity::Scatter, true);
        let q = queue_plan(&t, &p, true).unwrap();
        let l3: Vec<usize> = q.domains.iter().map(|d| d.l3).collect();
        assert_eq!(l3, vec![0, 1, 2, 3]);
        // Scatter order: node 0 / L3 0, node 1 / L3 2, node 0 / L3 1, node 1 / L3 3.
        assert_eq!(q.worker_queue, vec![0, 2, 1, 3]);
        // Steal within the package (same node here) first, then across.
        assert_eq!(
            q.steal_order,
            vec![vec![1, 2, 3], vec![0, 2, 3], vec![3, 0, 1], vec![2, 0, 1]]
        );
    }

    #[test]
    fn no_pinned_workers_no_queues() {
        let t = Topology::regular(1, 1, 1, 2, 1);
        let p = plan(&t, &workers(2), Affinity::None, true);
        assert_eq!(queue_plan(&t, &p, true), None);
        // A 2-core VM: one queue for both workers, nothing to steal from.
        let p = plan(&t, &workers(2), Affinity::Compact, true);
        let q = queue_plan(&t, &p, true).unwrap();
        assert_eq!(q.domains.len(), 1);
        assert_eq!(q.steal_order, vec![Vec::<usize>::new()]);
        assert_eq!(q.worker_queue, vec![0, 0]);
    }

    #[test]
    fn allowed_set_without_cpu_0() {
        // 2 L3 domains x 4 cores, CPU 0 not allowed: compact 4 workers = CPUs 1-4, split 3 + 1.
        let t = Topology::regular(1, 1, 2, 4, 1).with_allowed(&[1, 2, 3, 4, 5, 6, 7]);
        let p = plan(&t, &workers(4), Affinity::Compact, true);
        let q = queue_plan(&t, &p, false).unwrap();
        assert_eq!(q.domains[0].workers, vec![0, 1, 2]);
        assert_eq!(q.domains[1].workers, vec![3]);
    }
}
