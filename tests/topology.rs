//! `talaria topology` under hwloc's synthetic topologies (the plan for machines we do not have),
//! and `reduce --pin-threads` on this machine: each aligner thread's own Cpus_allowed_list, as
//! it reads it from /proc/thread-self/status (= /proc/<pid>/task/<tid>/status) while alive,
//! must be one CPU, and the outputs must not change.

mod common;

use common::{ok, talaria};
use serde_json::Value;
use std::collections::BTreeSet;

const SYNTHETIC: &str = "pack:2 numa:1 l3:2 core:4 pu:1";

fn hwloc_built() -> bool {
    if !cfg!(feature = "hwloc") {
        eprintln!("skipped: built without the `hwloc` feature, so HWLOC_SYNTHETIC is not read");
    }
    cfg!(feature = "hwloc")
}

fn topology_json(synthetic: Option<&str>, args: &[&str]) -> Value {
    let mut cmd = talaria();
    cmd.arg("topology").arg("--json").args(args);
    cmd.env_remove("HWLOC_XMLFILE").env_remove("TALARIA_CONFIG");
    match synthetic {
        Some(s) => cmd.env("HWLOC_SYNTHETIC", s),
        None => cmd.env_remove("HWLOC_SYNTHETIC"),
    };
    let out = ok(&mut cmd);
    serde_json::from_slice(&out.stdout).expect("topology --json prints JSON")
}

fn numbers(v: &Value) -> Vec<u64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect()
}

/// (cpu, l3, numa) of each aligner in the plan, which must hold exactly one CPU each.
fn aligners(json: &Value) -> Vec<(u64, u64, u64)> {
    json["plan"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["role"] == "aligner")
        .map(|p| {
            let cpus = numbers(&p["cpus"]);
            assert_eq!(cpus.len(), 1, "{p}");
            assert_eq!(p["pinned"], true);
            (
                cpus[0],
                p["l3"].as_u64().unwrap(),
                p["numa"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn synthetic_machine_is_described() {
    if !hwloc_built() {
        return;
    }
    let json = topology_json(Some(SYNTHETIC), &[]);
    assert_eq!(json["source"], "hwloc");
    assert_eq!(json["note"], format!("synthetic: {SYNTHETIC}"));
    assert_eq!(
        numbers(&json["allowed_cpus"]),
        (0..16).collect::<Vec<u64>>()
    );
    let domains = json["l3_domains"].as_array().unwrap();
    assert_eq!(domains.len(), 4);
    for (i, d) in domains.iter().enumerate() {
        assert_eq!(d["index"], i);
        assert_eq!(d["numa"], i / 2);
        let first = 4 * i as u64;
        assert_eq!(
            numbers(&d["cpus"]),
            (first..first + 4).collect::<Vec<u64>>()
        );
    }
    assert_eq!(
        (json["packages"].as_u64(), json["numa_nodes"].as_u64()),
        (Some(2), Some(2))
    );
    // Without --threads: one aligner per allowed CPU (16), plus the other stage threads.
    assert_eq!(aligners(&json).len(), 16);
    for name in ["reader", "chunker", "prefetch-0", "writer", "writer-fasta"] {
        assert!(
            json["plan"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["thread"] == name),
            "{name}"
        );
    }
}

#[test]
fn eight_aligners_on_eight_distinct_cpus() {
    if !hwloc_built() {
        return;
    }
    let placed = aligners(&topology_json(Some(SYNTHETIC), &["--threads", "8"]));
    assert_eq!(placed.len(), 8);
    let cpus: BTreeSet<u64> = placed.iter().map(|p| p.0).collect();
    assert_eq!(cpus.len(), 8, "{placed:?}");
}

#[test]
fn compact_shares_one_l3_domain() {
    if !hwloc_built() {
        return;
    }
    let placed = aligners(&topology_json(
        Some(SYNTHETIC),
        &["--threads", "4", "--affinity", "compact"],
    ));
    assert_eq!(placed.len(), 4);
    let l3: BTreeSet<u64> = placed.iter().map(|p| p.1).collect();
    assert_eq!(l3.len(), 1, "{placed:?}");
    let cpus: BTreeSet<u64> = placed.iter().map(|p| p.0).collect();
    assert_eq!(cpus.len(), 4);
}

#[test]
fn scatter_spreads_over_l3_domains_and_numa_nodes() {
    if !hwloc_built() {
        return;
    }
    let placed = aligners(&topology_json(
        Some(SYNTHETIC),
        &["--threads", "4", "--affinity", "scatter"],
    ));
    let l3: BTreeSet<u64> = placed.iter().map(|p| p.1).collect();
    assert_eq!(l3.len(), 4, "{placed:?}");
    for node in 0..2 {
        assert_eq!(
            placed.iter().filter(|p| p.2 == node).count(),
            2,
            "{placed:?}"
        );
    }
}

/// A two-socket SMT server as the placement tests model it: 2 NUMA nodes x 4 L3 domains x
/// 8 cores x 2 PUs = 128 CPUs; hwloc numbers a core's two PUs consecutively.
const SMT_SERVER: &str = "pack:2 numa:1 l3:4 core:8 pu:2";

#[test]
fn smt_server_compact_and_scatter() {
    if !hwloc_built() {
        return;
    }
    let plan = |threads: &str, affinity: &str| {
        aligners(&topology_json(
            Some(SMT_SERVER),
            &["--threads", threads, "--affinity", affinity],
        ))
    };
    let core = |cpu: u64| cpu / 2;
    // compact: the 8 cores of L3 domain 0 (one PU each), then domain 1.
    let compact = plan("10", "compact");
    let l3: Vec<u64> = compact.iter().map(|p| p.1).collect();
    assert_eq!(l3, [0, 0, 0, 0, 0, 0, 0, 0, 1, 1], "{compact:?}");
    let cores: BTreeSet<u64> = compact.iter().map(|p| core(p.0)).collect();
    assert_eq!(cores.len(), 10, "{compact:?}");
    // scatter: alternate NUMA nodes, each node's L3 domains in turn; all 8 domains used.
    let scatter = plan("8", "scatter");
    let numa: Vec<u64> = scatter.iter().map(|p| p.2).collect();
    assert_eq!(numa, [0, 1, 0, 1, 0, 1, 0, 1], "{scatter:?}");
    let l3: BTreeSet<u64> = scatter.iter().map(|p| p.1).collect();
    assert_eq!(l3.len(), 8, "{scatter:?}");
    // Past 64 workers every core has one; only then do SMT siblings take work.
    let full = plan("70", "compact");
    let cores: BTreeSet<u64> = full[..64].iter().map(|p| core(p.0)).collect();
    assert_eq!(cores.len(), 64);
    for p in &full[64..] {
        assert_eq!(p.0 % 2, 1, "sibling PU expected: {p:?}");
    }
    let cpus: BTreeSet<u64> = full.iter().map(|p| p.0).collect();
    assert_eq!(cpus.len(), 70, "distinct CPUs while there are enough");
}

#[test]
fn smt_siblings_come_last_and_text_names_the_source() {
    if !hwloc_built() {
        return;
    }
    // 1 package, 2 L3 domains x 2 cores x 2 PUs: 4 aligners take one PU of each core.
    let json = topology_json(Some("pack:1 l3:2 core:2 pu:2"), &["--threads", "4"]);
    let placed = aligners(&json);
    let cores: BTreeSet<u64> = placed.iter().map(|p| p.0 / 2).collect();
    assert_eq!(cores.len(), 4, "{placed:?}");
    let out = ok(talaria()
        .args(["topology", "--threads", "2", "--affinity", "scatter"])
        .env("HWLOC_SYNTHETIC", SYNTHETIC));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with(&format!(
            "topology source: hwloc (synthetic: {SYNTHETIC})\n"
        )),
        "{text}"
    );
    assert!(
        text.contains("L3 domain 3: NUMA node 1, package 1, CPUs 12-15\n"),
        "{text}"
    );
    assert!(
        text.contains("aligner-1      aligner     2     1      -  default                8\n"),
        "{text}"
    );
}

#[test]
fn unusable_synthetic_description_is_named_and_this_machine_is_shown() {
    if !hwloc_built() {
        return;
    }
    // hwloc quietly loads this machine when HWLOC_SYNTHETIC does not parse; talaria must not
    // then present this machine as the synthetic one, nor treat its allowed set as meaningless.
    let json = topology_json(Some("not a topology"), &["--threads", "2"]);
    let note = json["note"].as_str().expect("a note names the bad source");
    assert!(
        note.contains("synthetic: not a topology is not usable, so hwloc read this machine"),
        "{note}"
    );
    assert_eq!(numbers(&json["allowed_cpus"]), my_cpus());
}

#[test]
fn this_machine_without_synthetic() {
    let json = topology_json(None, &["--threads", "2"]);
    let expected = if cfg!(feature = "hwloc") {
        "hwloc"
    } else {
        "sysfs"
    };
    assert_eq!(json["source"], expected);
    if !cfg!(feature = "hwloc") {
        assert!(json["note"]
            .as_str()
            .unwrap()
            .contains("built without the hwloc feature"));
    }
    let allowed: BTreeSet<u64> = numbers(&json["allowed_cpus"]).into_iter().collect();
    assert!(!allowed.is_empty());
    for (cpu, _, _) in aligners(&json) {
        assert!(allowed.contains(&cpu));
    }
}

/// The CPUs this test process may use, as the kernel says.
fn my_cpus() -> Vec<u64> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let list = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap()
        .trim();
    let mut cpus = Vec::new();
    for part in list.split(',') {
        match part.split_once('-') {
            Some((a, b)) => cpus.extend(a.parse::<u64>().unwrap()..=b.parse().unwrap()),
            None => cpus.push(part.parse().unwrap()),
        }
    }
    cpus
}

#[test]
fn allowed_set_is_respected() {
    let mine = my_cpus();
    if mine.len() < 2
        || std::process::Command::new("taskset")
            .arg("-V")
            .output()
            .is_err()
    {
        eprintln!("skipped: needs two CPUs and taskset");
        return;
    }
    // Exclude our lowest CPU (CPU 0 on most machines), as `taskset -c 1-...` would.
    let rest: Vec<String> = mine[1..].iter().map(u64::to_string).collect();
    let out = ok(std::process::Command::new("taskset")
        .args(["-c", &rest.join(",")])
        .arg(env!("CARGO_BIN_EXE_talaria"))
        .args(["topology", "--json", "--threads", "3"])
        .env_remove("HWLOC_SYNTHETIC")
        .env_remove("HWLOC_XMLFILE"));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(numbers(&json["allowed_cpus"]), mine[1..].to_vec());
    for p in json["plan"].as_array().unwrap() {
        assert!(!numbers(&p["cpus"]).contains(&mine[0]), "{p}");
    }
}

/// Each aligner reports the Cpus_allowed_list it read from its own /proc status after pinning.
fn pinned_lists(summary: &str) -> Vec<String> {
    let line = summary
        .lines()
        .find_map(|l| l.trim().strip_prefix("placement: "))
        .unwrap_or_else(|| panic!("no placement line in:\n{summary}"));
    let (_, lists) = line.split_once("Cpus_allowed_list per aligner: ").unwrap();
    lists.split(' ').map(str::to_string).collect()
}

#[test]
fn pinned_aligners_each_have_one_cpu_and_outputs_do_not_change() {
    let dir = tempfile::tempdir().unwrap();
    let input = common::data("sample.fasta");
    let run = |name: &str, extra: &[&str]| {
        let (fa, deltas) = (
            dir.path().join(format!("{name}.fa")),
            dir.path().join(format!("{name}.d")),
        );
        let out = ok(talaria()
            .args(["reduce", "-j", "2", "-i"])
            .arg(&input)
            .arg("-o")
            .arg(&fa)
            .arg("-m")
            .arg(&deltas)
            .args(extra)
            .env_remove("HWLOC_SYNTHETIC"));
        let summary = String::from_utf8(out.stderr).unwrap();
        (
            std::fs::read(fa).unwrap(),
            std::fs::read(deltas).unwrap(),
            summary,
        )
    };
    let plain = run("plain", &[]);
    assert!(!plain.2.contains("placement:"), "{}", plain.2);
    let mine = my_cpus();
    for affinity in ["compact", "scatter"] {
        let pinned = run(affinity, &["--pin-threads", "--affinity", affinity]);
        assert!(
            pinned.0 == plain.0 && pinned.1 == plain.1,
            "outputs changed with {affinity}"
        );
        assert!(
            pinned
                .2
                .contains(&format!("placement: 2 aligners pinned ({affinity})")),
            "{}",
            pinned.2
        );
        let lists = pinned_lists(&pinned.2);
        assert_eq!(lists.len(), 2, "{}", pinned.2);
        let cpus: Vec<u64> = lists
            .iter()
            .map(|l| l.parse().unwrap_or_else(|_| panic!("not one CPU: {l:?}")))
            .collect();
        assert!(
            cpus.iter().all(|c| mine.contains(c)),
            "{cpus:?} not in {mine:?}"
        );
        if mine.len() >= 2 {
            assert_ne!(cpus[0], cpus[1], "two CPUs allowed, both aligners on one");
        }
    }
    // --affinity none: nothing pinned, and the summary says so.
    let none = run("none", &["--pin-threads", "--affinity", "none"]);
    assert!(none.2.contains("placement: nothing pinned"), "{}", none.2);
    assert!(none.0 == plain.0 && none.1 == plain.1);
}
