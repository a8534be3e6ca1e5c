//! `--debug-threads` on a real run of the sample: every stage thread is announced with its name,
//! a Linux thread id the same run reports in `--json`, and the CPUs /proc lists for it; a CPU
//! line follows, and a closing table has one row per thread. Never timings.

mod common;

use common::{data, ok, talaria};
use serde_json::Value;
use std::collections::BTreeSet;

const PREFIX: &str = "talaria threads: ";

/// The CPUs this test process may use (the child inherits them).
fn own_cpus() -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn lists_every_stage_thread_with_its_tid_and_cpus() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let out = ok(talaria()
        .args([
            "reduce",
            "-q",
            "-j",
            "2",
            "--debug-threads",
            "--profile",
            "-i",
        ])
        .arg(data("sample.fasta"))
        .arg("-o")
        .arg(dir.path().join("r.fa"))
        .arg("--json")
        .arg(&json));
    let err = String::from_utf8(out.stderr).unwrap();
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    let reported: BTreeSet<(String, i64)> = doc["profile"]["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["tid"].as_i64().unwrap(),
            )
        })
        .collect();

    // "start NAME tid TID cpus LIST"
    let cpus = own_cpus();
    let mut started = BTreeSet::new();
    for line in err.lines().filter_map(|l| l.strip_prefix(PREFIX)) {
        let Some(rest) = line.strip_prefix("start ") else {
            continue;
        };
        let words: Vec<&str> = rest.split_whitespace().collect();
        assert_eq!((words[1], words[3]), ("tid", "cpus"), "{line}");
        let tid: i64 = words[2].parse().unwrap_or_else(|_| panic!("{line}"));
        assert!(tid > 0, "{line}");
        // Read from /proc/self/task/TID while the thread ran (or, for a thread that ended
        // between two samples, from its own /proc entry when it ended): the CPUs it inherited.
        let list = if words[4] == "?" {
            rest.rsplit(": ").next().unwrap().trim_end_matches(')')
        } else {
            words[4]
        };
        assert_eq!(list, cpus, "{line}");
        assert!(started.insert((words[0].to_string(), tid)), "twice: {line}");
    }
    let names: BTreeSet<&str> = started.iter().map(|(n, _)| n.as_str()).collect();
    for name in [
        "reader",
        "chunker",
        "prefetch-0",
        "aligner-0",
        "aligner-1",
        "writer",
        "writer-fasta",
    ] {
        assert!(names.contains(name), "{name} not announced:\n{err}");
    }
    // Exactly the threads the run had, with the ids the run itself recorded (gettid).
    assert_eq!(started, reported, "{err}");
    let tids: BTreeSet<i64> = started.iter().map(|t| t.1).collect();
    assert_eq!(tids.len(), started.len(), "distinct tids");

    // CPU lines name threads with a percentage.
    let cpu_lines: Vec<&str> = err
        .lines()
        .filter_map(|l| l.strip_prefix(PREFIX))
        .filter(|l| l.starts_with("at "))
        .collect();
    assert!(!cpu_lines.is_empty(), "{err}");
    for line in &cpu_lines {
        let (_, parts) = line.split_once(": ").unwrap();
        for part in parts.split(", ") {
            let words: Vec<&str> = part.split_whitespace().collect();
            assert!(names.contains(words[0]), "{line}");
            assert!(words[1].ends_with('%'), "{line}");
        }
    }

    // The closing table: a header, then one row per thread, in start order, CPUs included.
    let table: Vec<&str> = err
        .lines()
        .filter_map(|l| l.strip_prefix(PREFIX))
        .skip_while(|l| !l.starts_with("thread "))
        .collect();
    assert!(table[0].split_whitespace().eq([
        "thread", "tid", "cpus", "wall", "s", "cpu", "s", "cpu%", "busy%", "wait%", "block%"
    ]));
    let rows: BTreeSet<(String, i64)> = table[1..]
        .iter()
        .map(|row| {
            let w: Vec<&str> = row.split_whitespace().collect();
            assert_eq!(w[2], cpus, "{row}");
            (w[0].to_string(), w[1].parse().unwrap())
        })
        .collect();
    assert_eq!(rows, reported);
}

#[test]
fn needs_the_accounting() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::run(
        talaria()
            .env("TALARIA_ACCOUNTING", "off")
            .args(["reduce", "-q", "--debug-threads", "-i"])
            .arg(data("tiny.fasta"))
            .arg("-o")
            .arg(dir.path().join("r.fa")),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--debug-threads"), "{err}");
    assert!(!dir.path().join("r.fa").exists());
}
