//! `--profile`, `--profile-alignment`, `--profile-io` and `--json` on real runs of the sample
//! (3000 UniProt records): the reports carry figures consistent with the run and with the
//! cluster table. Never timing thresholds: only counts, names and ranges.

mod common;

use common::{data, ok, talaria};
use serde_json::Value;
use std::path::Path;

const RECORDS: u64 = 3000;
const STAGES: [&str; 6] = [
    "reader",
    "chunker",
    "prefetch",
    "aligner",
    "writer",
    "writer-fasta",
];

/// Run reduce on the sample with `flags`; returns stderr and the cluster table.
fn reduce(dir: &Path, flags: &[&str]) -> (String, String) {
    let tsv = dir.join("c.tsv");
    let out = ok(talaria()
        .args(["reduce", "-i"])
        .arg(data("sample.fasta"))
        .arg("-o")
        .arg(dir.join("r.fa"))
        .arg("-m")
        .arg(dir.join("r.delta"))
        .arg("--clusters")
        .arg(&tsv)
        .args(["-j", "2"])
        .args(flags));
    (
        String::from_utf8(out.stderr).unwrap(),
        std::fs::read_to_string(tsv).unwrap(),
    )
}

/// (records, representatives) from the cluster table: one line per record, a representative
/// is its own representative.
fn tsv_counts(tsv: &str) -> (u64, u64) {
    let lines: Vec<&str> = tsv.lines().collect();
    let reps = lines
        .iter()
        .filter(|l| {
            let (rep, member) = l.split_once('\t').unwrap();
            rep == member
        })
        .count();
    (lines.len() as u64, reps as u64)
}

fn pct_ok(v: &Value, what: &str) {
    let x = v
        .as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {v}"));
    assert!((0.0..=100.0).contains(&x), "{what} = {x}");
}

#[test]
fn profile_table_names_every_stage_and_grades_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let (err, tsv) = reduce(dir.path(), &["--profile"]);
    let (records, _) = tsv_counts(&tsv);
    assert_eq!(records, RECORDS);
    assert!(err.contains("talaria reduce: 3000 records"), "{err}");
    assert!(err.contains("talaria profile: wall "), "{err}");
    assert!(err.contains(" seq/s, "), "{err}");
    for stage in STAGES {
        let row = err
            .lines()
            .find(|l| l.split_whitespace().next() == Some(stage))
            .unwrap_or_else(|| panic!("no row for stage {stage}:\n{err}"));
        // busy, wait, block, ended percentages: each within 0..=100, together 100 (rounding).
        let cols: Vec<f64> = row
            .split_whitespace()
            .skip(2)
            .take(4)
            .map(|c| c.parse().unwrap())
            .collect();
        assert!(cols.iter().all(|c| (0.0..=100.0).contains(c)), "{row}");
        let total: f64 = cols.iter().sum();
        assert!((total - 100.0).abs() < 0.5, "{row}");
    }
    for needle in [
        "aligner-0",
        "aligner-1",
        "queue",
        "decided",
        "latency",
        "alignment  aligner",
        "caches: no caches",
        "bottleneck: ",
        "throughput ",
        "cache hit rate   no caches",
        "i/o wait",
    ] {
        assert!(err.contains(needle), "missing {needle:?}:\n{err}");
    }
}

#[test]
fn json_on_stderr_replaces_the_text_and_matches_the_cluster_table() {
    let dir = tempfile::tempdir().unwrap();
    let (err, tsv) = reduce(
        dir.path(),
        &["--json", "--profile", "--profile-alignment", "--profile-io"],
    );
    let doc: Value = serde_json::from_str(&err).expect("stderr is one JSON document");
    let (records, reps) = tsv_counts(&tsv);
    let s = &doc["summary"];
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(s["records"], records);
    assert_eq!(s["representatives"], reps);
    assert_eq!(
        s["representatives"].as_u64().unwrap() + s["members"].as_u64().unwrap(),
        RECORDS
    );
    let p = &doc["profile"];
    let names: Vec<&str> = p["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for stage in STAGES {
        assert!(names.contains(&stage), "{names:?}");
    }
    for stage in p["stages"].as_array().unwrap() {
        for key in [
            "busy_pct",
            "waiting_pct",
            "blocked_pct",
            "ended_pct",
            "cpu_pct",
        ] {
            pct_ok(&stage[key], key);
        }
    }
    // Records flow through the chunker, prefetch and aligners as chunks: the same count each.
    let stage = |name: &str| {
        p["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(stage("chunker")["items_out"], stage("prefetch")["items_in"]);
    assert_eq!(stage("aligner")["items_in"], stage("writer")["items_in"]);
    assert_eq!(stage("reader")["bytes_out"], s["input_bytes"]);
    assert!(p["threads"].as_array().unwrap().len() >= STAGES.len());
    for t in p["threads"].as_array().unwrap() {
        pct_ok(&t["cpu_pct"], "thread cpu_pct");
    }
    assert!(p["records_per_second"].as_f64().unwrap() > 0.0);
    assert!(p["memory"]["peak_rss_bytes"].as_u64().unwrap() > 0);
    assert!(p["bottleneck"]["verdict"].as_str().unwrap().len() > 3);
    let kpis: Vec<&str> = p["kpis"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["metric"].as_str().unwrap())
        .collect();
    assert_eq!(
        kpis,
        [
            "throughput",
            "memory",
            "cpu utilization",
            "cache hit rate",
            "i/o wait"
        ]
    );
    assert_eq!(p["caches"].as_array().unwrap().len(), 0);

    let a = &doc["alignment"];
    assert_eq!(a["alignments"], s["alignments"]);
    assert_eq!(a["passed"], s["alignments_passed"]);
    assert_eq!(
        a["simd"],
        talaria::bio::alignment::SimdLevel::best().name(),
        "the default kernel is the widest level this CPU has"
    );
    let identities: u64 = a["identity_pct"]
        .as_array()
        .unwrap()
        .iter()
        .map(|bin| {
            // Every passed alignment reached the 0.9 threshold.
            assert!(bin[0].as_u64().unwrap() >= 90, "{bin}");
            bin[1].as_u64().unwrap()
        })
        .sum();
    assert_eq!(identities, a["passed"].as_u64().unwrap());
    let searches: u64 = a["candidates_hist"]
        .as_array()
        .unwrap()
        .iter()
        .map(|bin| bin[1].as_u64().unwrap())
        .sum();
    assert_eq!(searches, a["searches"].as_u64().unwrap());
    assert!(a["dp_cells"].as_u64().unwrap() > 0);

    let io = &doc["io"];
    assert_eq!(io["read_bytes"], s["input_bytes"]);
    assert!(io["read_calls"].as_u64().unwrap() >= 1);
    let fasta = io["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "writer-fasta")
        .unwrap();
    assert_eq!(fasta["bytes"], s["reduced_bytes"]);
    assert_eq!(
        fasta["bytes"].as_u64().unwrap(),
        std::fs::metadata(dir.path().join("r.fa")).unwrap().len()
    );
    pct_ok(&io["io_wait_pct"], "io_wait_pct");
}

#[test]
fn json_file_keeps_the_text_summary() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let (err, tsv) = reduce(dir.path(), &["--json", json.to_str().unwrap()]);
    assert!(err.starts_with("talaria reduce: 3000 records"), "{err}");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(doc["summary"]["records"], tsv_counts(&tsv).0);
    // Without --profile the document holds the summary only.
    assert!(doc.get("profile").is_none() && doc.get("alignment").is_none());
}

#[test]
fn alignment_and_io_tables() {
    let dir = tempfile::tempdir().unwrap();
    let (err, _) = reduce(
        dir.path(),
        &[
            "--profile-alignment",
            "--profile-io",
            "-q",
            "--order",
            "input",
        ],
    );
    assert!(!err.contains("talaria reduce:"), "quiet: {err}");
    let kernel = format!(
        "talaria alignment profile: kernel {}",
        talaria::bio::alignment::SimdLevel::best()
    );
    for needle in [
        kernel.as_str(),
        "DP cells",
        "band half-width: min ",
        "candidates per search: 0:",
        "identity of passed alignments: ",
        "talaria i/o profile: reader mode read, 1 MiB blocks, compression none",
        "writer-fasta",
        "bytes/call",
        "sketched",
    ] {
        assert!(err.contains(needle), "missing {needle:?}:\n{err}");
    }
    let read = err
        .lines()
        .find(|l| l.trim_start().starts_with("read "))
        .unwrap();
    let bytes: u64 = read.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert_eq!(
        bytes,
        std::fs::metadata(data("sample.fasta")).unwrap().len()
    );
}

#[test]
fn unwritable_json_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::run(
        talaria()
            .args(["reduce", "-q", "-i"])
            .arg(data("tiny.fasta"))
            .arg("-o")
            .arg(dir.path().join("r.fa"))
            .arg("--json")
            .arg(dir.path().join("missing/dir/run.json")),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("missing/dir/run.json"), "{err}");
}

#[test]
fn monitor_logs_plain_lines_when_stderr_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let (err, _) = reduce(dir.path(), &["--monitor", "-q"]);
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("talaria monitor: "))
        .collect();
    assert!(lines.len() >= 2, "{err}");
    assert!(
        !err.contains('\r') && !err.contains('\x1b'),
        "terminal codes in a log"
    );
    // The final line is the finished run: every record, the whole input, the budget.
    let last = lines.last().unwrap();
    let size = std::fs::metadata(data("sample.fasta")).unwrap().len() as f64 / 1048576.0;
    for needle in [
        "100% 3000 records".to_string(),
        format!("{size:.1}/{size:.1} MiB"),
        "queues blocks ".to_string(),
        "decided ".to_string(),
        "/2048 MiB".to_string(),
        "cpu over the run reader ".to_string(),
        " aligner ".to_string(),
        " rec/s, ETA 0s".to_string(),
    ] {
        assert!(last.contains(&needle), "missing {needle:?} in {last}");
    }
    assert!(lines[0].contains("cpu "), "{}", lines[0]);
}

#[test]
fn monitor_needs_the_accounting() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::run(
        talaria()
            .env("TALARIA_ACCOUNTING", "off")
            .args(["reduce", "--monitor", "-i"])
            .arg(data("tiny.fasta"))
            .arg("-o")
            .arg(dir.path().join("r.fa")),
    );
    assert_eq!(out.status.code(), Some(2));
    let out = common::run(
        talaria()
            .env("TALARIA_ACCOUNTING", "maybe")
            .args(["reduce", "-i"])
            .arg(data("tiny.fasta"))
            .arg("-o")
            .arg(dir.path().join("r.fa")),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("TALARIA_ACCOUNTING must be on or off"));
}

#[test]
fn profile_with_accounting_off_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(talaria()
        .env("TALARIA_ACCOUNTING", "off")
        .args(["reduce", "--profile", "-q", "-i"])
        .arg(data("sample.fasta"))
        .arg("-o")
        .arg(dir.path().join("r.fa")));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("accounting off"), "{err}");
    assert!(err.contains("bottleneck: unknown"), "{err}");
}

#[test]
fn accounting_off_measures_nothing_and_changes_no_output() {
    let on = tempfile::tempdir().unwrap();
    let off = tempfile::tempdir().unwrap();
    reduce(on.path(), &[]);
    let tsv = off.path().join("c.tsv");
    let out = ok(talaria()
        .env("TALARIA_ACCOUNTING", "off")
        .args([
            "reduce",
            "--json",
            "--profile",
            "--profile-io",
            "-j",
            "2",
            "-i",
        ])
        .arg(data("sample.fasta"))
        .arg("-o")
        .arg(off.path().join("r.fa"))
        .arg("-m")
        .arg(off.path().join("r.delta"))
        .arg("--clusters")
        .arg(&tsv));
    let doc: Value = serde_json::from_str(&String::from_utf8_lossy(&out.stderr)).unwrap();
    let p = &doc["profile"];
    assert_eq!(p["accounting"], false);
    // No stage thread reported, no queue fill was sampled, no call was timed.
    assert_eq!(p["stages"].as_array().unwrap().len(), 0, "{p}");
    assert_eq!(p["threads"].as_array().unwrap().len(), 0, "{p}");
    assert_eq!(p["latency"].as_array().unwrap().len(), 0, "{p}");
    assert_eq!(p["series"]["at_ms"].as_array().unwrap().len(), 0, "{p}");
    assert_eq!(p["memory"]["samples"], 0);
    assert!(doc["io"]["io_wait_pct"].is_null(), "{}", doc["io"]);
    assert_eq!(doc["io"]["read_seconds"], 0.0);
    let wait = p["kpis"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["metric"] == "i/o wait")
        .unwrap();
    assert_eq!(wait["grade"], "n/a");
    for f in ["r.fa", "r.delta", "c.tsv"] {
        assert_eq!(
            std::fs::read(on.path().join(f)).unwrap(),
            std::fs::read(off.path().join(f)).unwrap(),
            "{f} differs with accounting off"
        );
    }
}

#[test]
fn longest_first_io_table_counts_its_scan_and_rewrite_passes() {
    let dir = tempfile::tempdir().unwrap();
    let (err, _) = reduce(
        dir.path(),
        &["--profile-io", "-q", "--order", "longest-first"],
    );
    let size = std::fs::metadata(data("sample.fasta")).unwrap().len();
    for pass in ["scan-read", "rewrite-read"] {
        let line = err
            .lines()
            .find(|l| l.trim_start().starts_with(pass))
            .unwrap_or_else(|| panic!("no {pass} row:\n{err}"));
        let bytes: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        assert_eq!(bytes, size, "{line}");
    }
    assert!(
        err.contains("deciding pass: pread, records longest first"),
        "{err}"
    );
}
