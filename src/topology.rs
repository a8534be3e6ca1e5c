//! `talaria topology`: the machine as discovered (source, packages, NUMA nodes, L3 domains,
//! cores, PUs, CPU kinds, allowed CPUs) and the placement plan of a `reduce` run, as text or
//! JSON. It only renders: discovery and planning live in `talaria_stages::topology`.

use crate::config::Config;
use crate::reduce::placement;
use talaria_stages::numa::{NodeSet, Policy};
use talaria_stages::topology::cpuset::format_list;
use talaria_stages::topology::{Placement, QueuePlan, Topology};

/// The output writers a typical run has (representatives and deltas).
const SINKS: &[&str] = &["writer-fasta", "writer-deltas"];

pub fn report(topology: &Topology, config: &Config, json: bool) -> String {
    let plan = placement::plan(topology, config, config.performance.threads, SINKS);
    let memory = Memory::of(topology, config, &plan);
    if json {
        render_json(topology, config, &plan, &memory)
    } else {
        render_text(topology, config, &plan, &memory)
    }
}

/// What a run with this plan does about memory and queues: each thread's memory policy
/// (`numa_aware` + `local_allocation`), the index's (`interleave_memory`), and the per-L3 queues
/// (`ccx_affinity`), as `reduce` would set them with pinning on.
struct Memory {
    /// By plan entry.
    policies: Vec<String>,
    queues: Option<QueuePlan>,
    /// By plan entry: the queue it serves (aligners under ccx_affinity).
    queue_of: Vec<Option<usize>>,
    index_policy: String,
}

impl Memory {
    fn of(t: &Topology, config: &Config, plan: &[Placement]) -> Memory {
        let numa = &config.performance.numa;
        let node_of = |p: &Placement| p.cpus.first().and_then(|&c| t.cpu(c)).map(|c| c.numa);
        let policies = plan
            .iter()
            .map(
                |p| match (numa.numa_aware, numa.local_allocation, p.pin, node_of(p)) {
                    (true, true, true, Some(n)) => Policy::Preferred(NodeSet::of(&[n])).describe(),
                    (true, false, true, _) => "default (first touch)".into(),
                    _ => "default".into(),
                },
            )
            .collect();
        let queues = config
            .performance
            .amd
            .ccx_affinity
            .then(|| placement::queues(t, plan, config))
            .flatten();
        let mut worker = 0;
        let queue_of = plan
            .iter()
            .map(|p| {
                if !p.pin {
                    return None;
                }
                worker += 1;
                queues.as_ref()?.worker_queue.get(worker - 1).copied()
            })
            .collect();
        let mut used: Vec<usize> = plan.iter().filter(|p| p.pin).filter_map(node_of).collect();
        used.sort_unstable();
        used.dedup();
        let index_policy = if numa.numa_aware && numa.interleave_memory && !used.is_empty() {
            Policy::Interleave(NodeSet::of(&used)).describe()
        } else {
            "default".into()
        };
        Memory {
            policies,
            queues,
            queue_of,
            index_policy,
        }
    }
}

fn opt(x: Option<usize>) -> String {
    x.map_or("-".into(), |v| v.to_string())
}

fn render_text(t: &Topology, config: &Config, plan: &[Placement], memory: &Memory) -> String {
    let mut out = String::new();
    let source = match &t.note {
        Some(note) => format!("{} ({note})", t.source.name()),
        None => t.source.name().to_string(),
    };
    let domains = t.l3_domains();
    let smt = t
        .threads_per_core()
        .map_or("mixed".to_string(), |n| n.to_string());
    out.push_str(&format!("topology source: {source}\n"));
    out.push_str(&format!(
        "machine: {} packages, {} NUMA nodes, {} L3 domains, {} cores, {} PUs ({smt} per core)\n",
        t.packages(),
        t.numa_nodes(),
        domains.len(),
        t.cores(),
        t.cpus.len()
    ));
    out.push_str(&format!(
        "allowed CPUs: {} ({} of {})\n",
        format_list(&t.allowed),
        t.allowed.len(),
        t.cpus.len()
    ));
    if t.kinds.is_empty() {
        out.push_str("CPU kinds: one (none reported)\n");
    } else {
        for (i, name) in t.kinds.iter().enumerate() {
            out.push_str(&format!(
                "CPU kind {i}: {name}: CPUs {}\n",
                format_list(&t.kind_cpus(i))
            ));
        }
    }
    for node in 0..t.numa_nodes() {
        out.push_str(&format!(
            "NUMA node {node}: CPUs {}\n",
            format_list(&t.numa_cpus(node))
        ));
    }
    for d in &domains {
        out.push_str(&format!(
            "L3 domain {}: NUMA node {}, package {}, CPUs {}\n",
            d.index,
            d.numa,
            d.package,
            format_list(&d.cpus)
        ));
    }
    let workers = plan.iter().filter(|p| p.role == "aligner").count();
    let affinity = config.performance.numa.thread_affinity.name();
    out.push_str(&format!(
        "\nplan: {workers} aligner threads, affinity {affinity}; reduce {}\n",
        if config.performance.numa.pin_threads {
            "pins them (pin_threads on)"
        } else {
            "pins them only with --pin-threads"
        }
    ));
    let width = plan
        .iter()
        .map(|p| p.thread.len())
        .max()
        .unwrap_or(6)
        .max(6);
    out.push_str(&format!(
        "  {:width$}  {:8}  {:>3}  {:>4}  {:>5}  {:21}  cpus\n",
        "thread", "role", "L3", "NUMA", "queue", "memory policy"
    ));
    for (i, p) in plan.iter().enumerate() {
        out.push_str(&format!(
            "  {:width$}  {:8}  {:>3}  {:>4}  {:>5}  {:21}  {}{}\n",
            p.thread,
            p.role,
            opt(p.l3),
            opt(p.numa),
            memory.queue_of[i].map_or("-".into(), |q| format!("q{q}")),
            memory.policies[i],
            format_list(&p.cpus),
            if p.pin { "" } else { " (not pinned)" }
        ));
    }
    out.push_str(&format!("index memory policy: {}\n", memory.index_policy));
    match &memory.queues {
        Some(q) => {
            for d in &q.domains {
                let order: Vec<String> = q.steal_order[d.index]
                    .iter()
                    .map(|v| format!("q{v}"))
                    .collect();
                out.push_str(&format!(
                    "queue q{}: L3 {}, NUMA node {}, {} aligners, runs of {} chunks, steals from {}\n",
                    d.index,
                    d.l3,
                    d.numa,
                    d.workers.len(),
                    q.runs[d.index],
                    if order.is_empty() {
                        "none".to_string()
                    } else {
                        order.join(" ")
                    }
                ));
            }
        }
        None => out
            .push_str("queues: one shared by all aligners (ccx_affinity off or nothing pinned)\n"),
    }
    out
}

fn json_list(cpus: &[u32]) -> String {
    let items: Vec<String> = cpus.iter().map(u32::to_string).collect();
    format!("[{}]", items.join(","))
}

/// A JSON string (names and notes are ASCII in practice; escape what JSON requires anyway).
fn json_str(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_opt(x: Option<usize>) -> String {
    x.map_or("null".into(), |v| v.to_string())
}

fn render_json(t: &Topology, config: &Config, plan: &[Placement], memory: &Memory) -> String {
    let domains: Vec<String> = t
        .l3_domains()
        .iter()
        .map(|d| {
            format!(
                "{{\"index\":{},\"numa\":{},\"package\":{},\"cpus\":{}}}",
                d.index,
                d.numa,
                d.package,
                json_list(&d.cpus)
            )
        })
        .collect();
    let numa: Vec<String> = (0..t.numa_nodes())
        .map(|n| format!("{{\"index\":{n},\"cpus\":{}}}", json_list(&t.numa_cpus(n))))
        .collect();
    let kinds: Vec<String> = t
        .kinds
        .iter()
        .enumerate()
        .map(|(i, name)| {
            format!(
                "{{\"index\":{i},\"name\":{},\"cpus\":{}}}",
                json_str(name),
                json_list(&t.kind_cpus(i))
            )
        })
        .collect();
    let entries: Vec<String> = plan
        .iter()
        .enumerate()
        .map(|(i, p)| {
            format!(
                "{{\"thread\":{},\"role\":{},\"cpus\":{},\"l3\":{},\"numa\":{},\"pinned\":{},\"queue\":{},\"mempolicy\":{}}}",
                json_str(&p.thread),
                json_str(&p.role),
                json_list(&p.cpus),
                json_opt(p.l3),
                json_opt(p.numa),
                p.pin,
                json_opt(memory.queue_of[i]),
                json_str(&memory.policies[i])
            )
        })
        .collect();
    let usize_list = |v: &[usize]| {
        let items: Vec<String> = v.iter().map(usize::to_string).collect();
        format!("[{}]", items.join(","))
    };
    let queues: Vec<String> = memory.queues.as_ref().map_or(Vec::new(), |q| {
        q.domains
            .iter()
            .map(|d| {
                format!(
                    "{{\"index\":{},\"l3\":{},\"numa\":{},\"package\":{},\"aligners\":{},\"run\":{},\"steal_order\":{}}}",
                    d.index,
                    d.l3,
                    d.numa,
                    d.package,
                    usize_list(&d.workers),
                    q.runs[d.index],
                    usize_list(&q.steal_order[d.index])
                )
            })
            .collect()
    });
    let numa_cfg = &config.performance.numa;
    format!(
        "{{\"source\":{},\"note\":{},\"packages\":{},\"numa_nodes\":{},\"cores\":{},\"pus\":{},\
         \"allowed_cpus\":{},\"kinds\":[{}],\"numa\":[{}],\"l3_domains\":[{}],\
         \"affinity\":{},\"pin_threads\":{},\"plan\":[{}],\"queues\":[{}],\"index_mempolicy\":{}}}\n",
        json_str(t.source.name()),
        t.note.as_deref().map_or("null".into(), json_str),
        t.packages(),
        t.numa_nodes(),
        t.cores(),
        t.cpus.len(),
        json_list(&t.allowed),
        kinds.join(","),
        numa.join(","),
        domains.join(","),
        json_str(numa_cfg.thread_affinity.name()),
        numa_cfg.pin_threads,
        entries.join(","),
        queues.join(","),
        json_str(&memory.index_policy)
    )
}
