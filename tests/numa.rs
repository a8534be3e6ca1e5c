//! NUMA memory placement and per-L3 queues (`performance.numa.numa_aware`, `numa_nodes`,
//! `interleave_memory`, `local_allocation`, `performance.amd.ccx_affinity`,
//! `infinity_fabric_aware`): outputs byte-identical for any thread count with the queues on or
//! off; the policies the kernel reports (get_mempolicy per aligner, /proc/self/numa_maps for the
//! index); a refused syscall is one warning; and `talaria topology` on synthetic machines.

mod common;

use common::{ok, talaria};
use serde_json::Value;

/// Outputs (reduced FASTA, deltas, clusters) and the summary of one run of the sample.
fn run(
    dir: &std::path::Path,
    name: &str,
    config: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Vec<Vec<u8>>, String) {
    let cfg = dir.join(format!("{name}.toml"));
    std::fs::write(&cfg, config).unwrap();
    let files: Vec<_> = ["fa", "d", "tsv"]
        .iter()
        .map(|e| dir.join(format!("{name}.{e}")))
        .collect();
    let mut cmd = talaria();
    cmd.args(["reduce", "-i"])
        .arg(common::data("sample.fasta"))
        .arg("-o")
        .arg(&files[0])
        .arg("-m")
        .arg(&files[1])
        .arg("--clusters")
        .arg(&files[2])
        .arg("--config")
        .arg(&cfg)
        .args(args)
        .env_remove("HWLOC_SYNTHETIC")
        .env_remove("TALARIA_CONFIG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = ok(&mut cmd);
    let outputs = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    (outputs, String::from_utf8(out.stderr).unwrap())
}

const ALL_ON: &str = "[performance.numa]\npin_threads = true\nnuma_aware = true\n\
                      interleave_memory = true\nlocal_allocation = true\n\
                      [performance.amd]\nccx_affinity = true\n";

/// Per queue: (dealt, runs, own, stole, stolen) from the summary's `queues:` line.
fn queue_counts(summary: &str) -> Vec<(u64, u64, u64, u64, u64)> {
    let line = summary
        .lines()
        .find_map(|l| l.trim().strip_prefix("queues: "))
        .unwrap_or_else(|| panic!("no queues line in:\n{summary}"));
    line.split("; ")
        .skip(1)
        .map(|q| {
            let n: Vec<u64> = q
                .split(|c: char| !c.is_ascii_digit())
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().unwrap())
                .collect();
            // q<i> L3 <l3> node <n>: <dealt> chunks in <runs> runs, <own> own, stole <s>,
            // stolen <t> (the 3 of "L3" is a number too)
            (n[4], n[5], n[6], n[7], n[8])
        })
        .collect()
}

#[test]
fn outputs_identical_for_any_thread_count_with_queues_on_or_off() {
    let dir = tempfile::tempdir().unwrap();
    let (baseline, _) = run(dir.path(), "base", "", &["-j", "1"], &[]);
    // 3,000 records in chunks of 16: 188 chunks.
    let chunks = 188;
    for threads in ["1", "2", "3", "4"] {
        let args = ["-j", threads, "--chunk-size", "16"];
        let (plain, _) = run(dir.path(), &format!("plain{threads}"), "", &args, &[]);
        assert!(plain == baseline, "-j {threads} changed the outputs");
        let (on, summary) = run(dir.path(), &format!("on{threads}"), ALL_ON, &args, &[]);
        assert!(
            on == baseline,
            "-j {threads} with ccx_affinity + numa_aware changed the outputs"
        );
        let counts = queue_counts(&summary);
        assert_eq!(counts.len(), 1, "one L3 domain here: {summary}");
        assert_eq!(counts[0].0, chunks, "{summary}");
        // One queue per aligner (test-only switch): stealing between queues runs for real.
        let (split, summary) = run(
            dir.path(),
            &format!("split{threads}"),
            ALL_ON,
            &args,
            &[("TLR_TEST_QUEUE_PER_ALIGNER", "1")],
        );
        assert!(
            split == baseline,
            "-j {threads} with a queue per aligner changed the outputs"
        );
        let counts = queue_counts(&summary);
        assert_eq!(counts.len(), threads.parse::<usize>().unwrap(), "{summary}");
        let sum = |f: fn(&(u64, u64, u64, u64, u64)) -> u64| counts.iter().map(f).sum::<u64>();
        assert_eq!(sum(|c| c.0), chunks, "every chunk dealt once: {summary}");
        assert_eq!(
            sum(|c| c.2) + sum(|c| c.3),
            chunks,
            "every chunk taken once: {summary}"
        );
        assert_eq!(sum(|c| c.3), sum(|c| c.4), "steals balance: {summary}");
        // Runs of 2 chunks per aligner: at least chunks / 2 runs in all.
        assert!(sum(|c| c.1) >= chunks / 2, "{summary}");
        // Three prefetch threads finish chunks out of order; `reorder` hands them to the
        // queues in input order.
        let reordered = format!("[performance]\nprefetch_threads = 3\n{ALL_ON}");
        let (three, summary) = run(
            dir.path(),
            &format!("reorder{threads}"),
            &reordered,
            &args,
            &[("TLR_TEST_QUEUE_PER_ALIGNER", "1")],
        );
        assert!(
            three == baseline,
            "-j {threads} with 3 prefetch threads and a queue per aligner changed the outputs"
        );
        let counts = queue_counts(&summary);
        assert_eq!(counts.iter().map(|c| c.0).sum::<u64>(), chunks, "{summary}");
    }
}

/// The policies as the kernel reports them: each aligner's from get_mempolicy after it set
/// MPOL_PREFERRED on its own node; the index's heads table from /proc/self/numa_maps.
#[test]
fn policies_are_visible_to_the_kernel() {
    let dir = tempfile::tempdir().unwrap();
    let (_, summary) = run(dir.path(), "on", ALL_ON, &["-j", "2"], &[]);
    let line = summary
        .lines()
        .find_map(|l| l.trim().strip_prefix("numa: "))
        .unwrap_or_else(|| panic!("no numa line in:\n{summary}"));
    if summary.contains("talaria: warning: could not set") {
        eprintln!("skipped: this kernel refuses set_mempolicy here:\n{summary}");
        return;
    }
    let policies = line
        .split("(get_mempolicy): ")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap();
    let policies: Vec<&str> = policies.split(' ').collect();
    assert_eq!(policies.len(), 2, "{line}");
    assert!(policies.iter().all(|p| p.starts_with("prefer:")), "{line}");
    // The nodes in use here, interleaved: on a one-node machine, interleave:0.
    assert!(line.contains("; index interleave:"), "{line}");
    let seen = line
        .split("(numa_maps: ")
        .nth(1)
        .map(|s| s.trim_end_matches(')'));
    let asked = line
        .split("; index ")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap();
    if let Some(seen) = seen {
        assert_eq!(seen, asked, "{line}");
    }
    // local_allocation off: the policy stays the default, first touch still by the aligner.
    let off = ALL_ON.replace("local_allocation = true", "local_allocation = false");
    let (_, summary) = run(dir.path(), "off", &off, &["-j", "2"], &[]);
    assert!(
        summary.contains("policy per aligner (get_mempolicy): default default"),
        "{summary}"
    );
}

/// A kernel that refuses the calls (EPERM, as container seccomp does): one warning line, the
/// summary says so, the run succeeds with the same outputs.
#[test]
fn refused_syscalls_are_one_warning() {
    let dir = tempfile::tempdir().unwrap();
    let (plain, _) = run(dir.path(), "plain", "", &["-j", "2"], &[]);
    let (refused, summary) = run(
        dir.path(),
        "refused",
        ALL_ON,
        &["-j", "2"],
        &[("STAGES_NUMA_ERRNO", "1")],
    );
    assert!(refused == plain);
    let warnings: Vec<&str> = summary
        .lines()
        .filter(|l| l.starts_with("talaria: warning:") && l.contains("memory policy"))
        .collect();
    assert_eq!(warnings.len(), 1, "{summary}");
    assert!(warnings[0].contains("Operation not permitted"), "{summary}");
    assert!(
        summary.contains("failed (set_mempolicy: Operation not permitted"),
        "{summary}"
    );
    assert!(
        summary.contains("not bound: mbind: Operation not permitted"),
        "{summary}"
    );
}

#[test]
fn keys_without_pinning_or_beyond_the_machine_warn() {
    let dir = tempfile::tempdir().unwrap();
    let (_, summary) = run(
        dir.path(),
        "unpinned",
        "[performance.numa]\nnuma_aware = true\n[performance.amd]\nccx_affinity = true\n",
        &["-j", "2"],
        &[],
    );
    for key in [
        "performance.amd.ccx_affinity",
        "performance.numa.numa_aware",
    ] {
        assert!(
            summary.contains(&format!(
                "talaria: warning: {key} has no effect: aligners are not pinned"
            )),
            "{summary}"
        );
    }
    assert!(!summary.contains("queues:"), "{summary}");
    // More nodes than the allowed CPUs span: a warning, all nodes used.
    let (_, summary) = run(
        dir.path(),
        "many",
        "[performance.numa]\npin_threads = true\nnuma_nodes = 1024\n",
        &["-j", "2"],
        &[],
    );
    let nodes = std::fs::read_dir("/sys/devices/system/node")
        .map(|d| {
            d.filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("node"))
            })
            .count()
        })
        .unwrap_or(1);
    if nodes == 1 {
        assert!(
            summary.contains("talaria: warning: numa_nodes = 1024 but the allowed CPUs span 1 NUMA node; all are used"),
            "{summary}"
        );
    }
    assert!(
        summary.contains("placement: 2 aligners pinned"),
        "{summary}"
    );
}

fn hwloc_built() -> bool {
    if !cfg!(feature = "hwloc") {
        eprintln!("skipped: built without the `hwloc` feature, so HWLOC_SYNTHETIC is not read");
    }
    cfg!(feature = "hwloc")
}

fn topology(synthetic: &str, config: &str, args: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, config).unwrap();
    let out = ok(talaria()
        .args(["topology", "--json", "--config"])
        .arg(&cfg)
        .args(args)
        .env("HWLOC_SYNTHETIC", synthetic)
        .env_remove("HWLOC_XMLFILE")
        .env_remove("TALARIA_CONFIG"));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn list(v: &Value) -> Vec<u64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect()
}

/// 2 sockets x 2 NUMA nodes x 4 L3 x 8 cores x 2 threads: 16 scattered aligners get 16 queues,
/// each stealing from its NUMA node's queues, then its package's, then across the fabric.
#[test]
fn big_server_queues_and_steal_order() {
    if !hwloc_built() {
        return;
    }
    let synthetic = "pack:2 numa:2 l3:4 core:8 pu:2";
    let json = topology(
        synthetic,
        ALL_ON,
        &["--threads", "16", "--affinity", "scatter"],
    );
    let queues = json["queues"].as_array().unwrap();
    assert_eq!(queues.len(), 16);
    for q in queues {
        let (index, numa) = (q["index"].as_u64().unwrap(), q["numa"].as_u64().unwrap());
        assert_eq!(q["l3"].as_u64().unwrap(), index);
        assert_eq!(numa, index / 4);
        assert_eq!(list(&q["aligners"]).len(), 1);
        let order = list(&q["steal_order"]);
        // Near first: the node's 3 other queues, then the package's 4, then the other 8.
        let tier = |v: u64| {
            if v / 4 == numa {
                0
            } else if v / 8 == numa / 2 {
                1
            } else {
                2
            }
        };
        let tiers: Vec<u32> = order.iter().map(|&v| tier(v)).collect();
        assert_eq!(
            tiers,
            [vec![0; 3], vec![1; 4], vec![2; 8]].concat(),
            "queue {index}: {order:?}"
        );
    }
    // Each aligner serves its L3's queue and prefers its node's memory; the index interleaves
    // over all four nodes.
    for p in json["plan"].as_array().unwrap() {
        if p["role"] == "aligner" {
            assert_eq!(p["queue"], p["l3"], "{p}");
            assert_eq!(p["mempolicy"], format!("prefer:{}", p["numa"]), "{p}");
        } else {
            assert_eq!(
                (&p["queue"], &p["mempolicy"]),
                (&Value::Null, &Value::from("default"))
            );
        }
    }
    assert_eq!(json["index_mempolicy"], "interleave:0-3");
    // Without fabric awareness: plain turn order.
    let off = format!("{ALL_ON}infinity_fabric_aware = false\n");
    let json = topology(
        synthetic,
        &off,
        &["--threads", "16", "--affinity", "scatter"],
    );
    assert_eq!(
        list(&json["queues"][5]["steal_order"]),
        vec![6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4]
    );
}

/// numa_nodes = 2 keeps the plan on the first two nodes (the first package); compact 20
/// aligners share queues per L3 domain (8 + 8 + 4).
#[test]
fn numa_nodes_and_compact_queues() {
    if !hwloc_built() {
        return;
    }
    let synthetic = "pack:2 numa:2 l3:4 core:8 pu:2";
    let config = ALL_ON.replace("numa_aware = true", "numa_aware = true\nnuma_nodes = 2");
    let json = topology(
        synthetic,
        &config,
        &["--threads", "64", "--affinity", "scatter"],
    );
    let nodes: std::collections::BTreeSet<u64> = json["plan"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["role"] == "aligner")
        .map(|p| p["numa"].as_u64().unwrap())
        .collect();
    assert_eq!(nodes.into_iter().collect::<Vec<_>>(), vec![0, 1]);
    assert_eq!(json["index_mempolicy"], "interleave:0-1");
    assert_eq!(json["queues"].as_array().unwrap().len(), 8);
    let json = topology(
        synthetic,
        ALL_ON,
        &["--threads", "20", "--affinity", "compact"],
    );
    let sizes: Vec<usize> = json["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| list(&q["aligners"]).len())
        .collect();
    assert_eq!(sizes, vec![8, 8, 4]);
    assert_eq!(list(&json["queues"][2]["steal_order"]), vec![0, 1]);
    assert_eq!(json["queues"][0]["run"], 16);
    // The machine: 2 NUMA nodes x 2 L3, scatter 4 = one per L3, 2 per node.
    let json = topology(
        "pack:2 numa:1 l3:2 core:4 pu:1",
        ALL_ON,
        &["--threads", "4", "--affinity", "scatter"],
    );
    let q: Vec<(u64, u64)> = json["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| (q["l3"].as_u64().unwrap(), q["numa"].as_u64().unwrap()))
        .collect();
    assert_eq!(q, vec![(0, 0), (1, 0), (2, 1), (3, 1)]);
    assert_eq!(list(&json["queues"][0]["steal_order"]), vec![1, 2, 3]);
    assert_eq!(list(&json["queues"][2]["steal_order"]), vec![3, 0, 1]);
}
