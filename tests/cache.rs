//! The reference cache (`performance.cache_alignments`): pure memoisation, so outputs are
//! byte-identical with it on or off, for every policy and size and any thread count; and its
//! figures (summary line, `--cache-stats`, `--json`, `--profile`) agree with each other and with
//! the run's own counts.

mod common;

use common::*;
use serde_json::Value;
use std::path::Path;

/// Many small families: more representatives than a 1 MiB cache split over threads holds, so
/// the small size really evicts.
fn input() -> Vec<u8> {
    families(&Families {
        families: 1500,
        members: 3,
        divergence: 0.05,
        seed: 11,
        ..Default::default()
    })
}

fn cache_env(cmd: &mut std::process::Command, on: bool, size_mb: u32, policy: &str) {
    cmd.env("TALARIA_PERFORMANCE_CACHE_ALIGNMENTS", on.to_string())
        .env("TALARIA_PERFORMANCE_CACHE_SIZE_MB", size_mb.to_string())
        .env("TALARIA_PERFORMANCE_CACHE_EVICTION", policy);
}

/// reduce with the cache set by environment; (reduced, deltas, tsv, stderr).
fn reduce(dir: &Path, input: &Path, cache: Option<(u32, &str)>, args: &[&str]) -> [Vec<u8>; 4] {
    let (out, deltas, tsv) = (dir.join("o.fa"), dir.join("o.delta"), dir.join("o.tsv"));
    let mut cmd = talaria();
    cmd.arg("reduce")
        .arg("-i")
        .arg(input)
        .arg("-o")
        .arg(&out)
        .arg("-m")
        .arg(&deltas)
        .arg("--clusters")
        .arg(&tsv)
        .args(args);
    match cache {
        Some((size, policy)) => cache_env(&mut cmd, true, size, policy),
        None => cache_env(&mut cmd, false, 64, "lru"),
    }
    let err = ok(&mut cmd).stderr;
    let read = |p: &Path| std::fs::read(p).unwrap();
    [read(&out), read(&deltas), read(&tsv), err]
}

#[test]
fn outputs_identical_with_the_cache_on_or_off_any_policy_size_or_threads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.fa");
    std::fs::write(&path, input()).unwrap();
    let [r0, d0, t0, _] = reduce(dir.path(), &path, None, &["-j", "1"]);
    let mut evicted = false;
    for threads in ["1", "3"] {
        for (size, policy) in [(64, "lru"), (1, "lru"), (1, "lfu"), (1, "fifo"), (0, "lfu")] {
            let [r, d, t, err] = reduce(dir.path(), &path, Some((size, policy)), &["-j", threads]);
            let what = format!("-j {threads}, {size} MiB {policy}");
            assert!(r == r0 && d == d0 && t == t0, "outputs differ with {what}");
            let err = String::from_utf8(err).unwrap();
            let line = err
                .lines()
                .find(|l| l.starts_with("  cache: "))
                .unwrap_or_else(|| panic!("no cache line with {what}:\n{err}"));
            assert!(line.contains(&format!("cache: {policy} ")), "{line}");
            if size == 1 && !line.contains(" 0 evictions") {
                evicted = true;
            }
        }
    }
    assert!(
        evicted,
        "the 1 MiB cache never evicted: the test does not test eviction"
    );
}

#[test]
fn figures_agree_with_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.fa");
    std::fs::write(&path, input()).unwrap();
    for policy in ["lru", "lfu", "fifo"] {
        let json = dir.path().join(format!("{policy}.json"));
        let [_, _, tsv, err] = reduce(
            dir.path(),
            &path,
            Some((1, policy)),
            &[
                "-j",
                "2",
                "--cache-stats",
                "--profile",
                "--json",
                json.to_str().unwrap(),
            ],
        );
        let err = String::from_utf8(err).unwrap();
        let doc: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        let s = &doc["summary"];
        let c = &s["cache"];
        assert_eq!(c["policy"], policy);
        let n = |v: &Value, k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k}: {v}"));
        let total = &c["total"];
        // One lookup per candidate pair that reached the LCS bound: every pair the bound ruled
        // out, plus every pair aligned (alignments count each widening again).
        assert_eq!(
            n(total, "lookups"),
            n(s, "ruled_out_by_lcs") + n(s, "alignments") - n(s, "widened"),
            "{c}"
        );
        assert!(n(total, "lookups") > 0);
        // Two aligners and the writer, each with a third of 1 MiB; they add up to the total.
        let threads = c["threads"].as_array().unwrap();
        let names: Vec<&str> = threads
            .iter()
            .map(|t| t["thread"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["aligner-0", "aligner-1", "writer"]);
        for key in [
            "capacity_bytes",
            "entries",
            "bytes",
            "lookups",
            "hits",
            "misses",
            "evictions",
            "inserted",
        ] {
            let sum: u64 = threads.iter().map(|t| n(t, key)).sum();
            assert_eq!(sum, n(total, key), "{key}");
        }
        for row in threads.iter().chain([total]) {
            assert_eq!(
                n(row, "hits") + n(row, "misses"),
                n(row, "lookups"),
                "{row}"
            );
            // Every miss builds a profile; it is kept unless larger than the whole share.
            assert_eq!(
                n(row, "inserted") + n(row, "rejected"),
                n(row, "misses"),
                "{row}"
            );
            // Nothing is replaced, so what is held is what went in less what was evicted.
            assert_eq!(
                n(row, "inserted") - n(row, "evictions"),
                n(row, "entries"),
                "{row}"
            );
            assert!(n(row, "bytes") <= n(row, "capacity_bytes"), "{row}");
            assert!(n(row, "peak_bytes") <= n(row, "capacity_bytes"), "{row}");
            match n(row, "lookups") {
                0 => assert!(row["hit_rate"].is_null(), "{row}"),
                lookups => {
                    let rate = row["hit_rate"].as_f64().unwrap();
                    let want = n(row, "hits") as f64 / lookups as f64;
                    assert!((rate - want).abs() < 1e-12, "{row}");
                }
            }
        }
        assert_eq!(n(total, "capacity_bytes"), n(c, "capacity_bytes"));
        assert!(n(c, "capacity_bytes") <= 1 << 20 && n(c, "capacity_bytes") > 1 << 19);
        assert!(n(total, "evictions") > 0, "{c}");

        // --cache-stats: a row per thread and the total, with the JSON's numbers.
        let table: Vec<&str> = err
            .lines()
            .skip_while(|l| !l.starts_with("talaria cache-stats:"))
            .skip(2)
            .take_while(|l| l.starts_with("  "))
            .collect();
        assert_eq!(table.len(), 4, "{err}");
        for (line, row) in table.iter().zip(threads.iter().chain([total])) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(cols[0], row["thread"].as_str().unwrap());
            assert_eq!(cols[1], policy);
            let num = |i: usize| cols[i].parse::<u64>().unwrap();
            assert_eq!(num(2), n(row, "capacity_bytes"), "{line}");
            assert_eq!(num(3), n(row, "entries"), "{line}");
            assert_eq!(num(5), n(row, "lookups"), "{line}");
            assert_eq!(num(6), n(row, "hits"), "{line}");
            assert_eq!(num(7), n(row, "misses"), "{line}");
            assert_eq!(num(9), n(row, "evictions"), "{line}");
            assert_eq!(num(10), n(row, "inserted"), "{line}");
            let pct = row["hit_rate"]
                .as_f64()
                .map_or("n/a".to_string(), |r| format!("{:.1}%", 100.0 * r));
            assert_eq!(cols[8], pct, "{line}");
        }
        // The summary line and the profile's KPI carry the same hit rate.
        let pct = format!("{:.1}%", 100.0 * total["hit_rate"].as_f64().unwrap());
        let summary = err.lines().find(|l| l.starts_with("  cache: ")).unwrap();
        assert!(
            summary.contains(&format!(
                "hit rate {pct} ({} hits / {} lookups)",
                n(total, "hits"),
                n(total, "lookups")
            )),
            "{summary}"
        );
        let kpi = err.lines().find(|l| l.contains("cache hit rate")).unwrap();
        assert!(kpi.contains(&pct), "{kpi}");
        let rate = 100.0 * total["hit_rate"].as_f64().unwrap();
        let grade = if rate < 50.0 {
            "critical"
        } else if rate < 70.0 {
            "warning"
        } else if rate > 90.0 {
            "target"
        } else {
            "ok"
        };
        assert!(kpi.contains(grade), "{kpi} (rate {rate})");
        let caches = doc["profile"]["caches"].as_array().unwrap();
        assert_eq!(caches.len(), 1);
        assert_eq!(caches[0]["lookups"], total["lookups"]);
        assert!(!tsv.is_empty());
    }
}

#[test]
fn with_the_cache_off_there_are_no_cache_figures() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("s.json");
    let [_, _, _, err] = reduce(
        dir.path(),
        &data("sample.fasta"),
        None,
        &[
            "--cache-stats",
            "--profile",
            "--json",
            json.to_str().unwrap(),
        ],
    );
    let err = String::from_utf8(err).unwrap();
    assert!(!err.lines().any(|l| l.starts_with("  cache: ")), "{err}");
    assert!(
        err.contains("talaria cache-stats: reference cache off"),
        "{err}"
    );
    assert!(err.contains("caches: no caches"), "{err}");
    assert!(err.contains("cache hit rate   no caches"), "{err}");
    let doc: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert!(doc["summary"]["cache"].is_null());
    assert_eq!(doc["profile"]["caches"].as_array().unwrap().len(), 0);
}

#[test]
fn keys_are_set_from_the_file_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("t.toml");
    std::fs::write(
        &cfg,
        "[performance]\ncache_alignments = true\ncache_size_mb = 8\ncache_eviction = \"fifo\"\n",
    )
    .unwrap();
    let shown = ok(talaria()
        .args(["config", "show", "--config"])
        .arg(&cfg)
        .env_remove("TALARIA_PERFORMANCE_CACHE_ALIGNMENTS"))
    .stdout;
    let shown = String::from_utf8(shown).unwrap();
    for line in [
        "cache_alignments = true",
        "cache_size_mb = 8",
        "cache_eviction = \"fifo\"",
    ] {
        assert!(
            shown
                .lines()
                .any(|l| l.starts_with(line) && l.contains("from ")),
            "{line} missing:\n{shown}"
        );
    }
    assert!(
        !shown.contains("#   performance.cache_"),
        "still listed as refused:\n{shown}"
    );
    let out = dir.path().join("o.fa");
    let err = ok(talaria()
        .args(["reduce", "-i"])
        .arg(data("sample.fasta"))
        .arg("-o")
        .arg(&out)
        .arg("--config")
        .arg(&cfg))
    .stderr;
    let err = String::from_utf8(err).unwrap();
    assert!(err.contains("  cache: fifo 8.0 MiB over "), "{err}");

    std::fs::write(&cfg, "[performance]\ncache_eviction = \"random\"\n").unwrap();
    let bad = run(talaria().args(["config", "show", "--config"]).arg(&cfg));
    assert!(!bad.status.success());
    let msg = String::from_utf8(bad.stderr).unwrap();
    assert!(
        msg.contains("cache_eviction") && msg.contains("lru"),
        "{msg}"
    );
}
