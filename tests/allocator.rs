//! The global allocator: `--version` and the summary name the one compiled in, asking for another
//! is a one-line usage error naming the Cargo feature, and `reduce --trace-memory` counts
//! allocations per stage without changing any output; huge pages and page locking of the index
//! are reported and change no output either.

mod common;

use common::*;
use serde_json::Value;

/// The allocator this test binary's `talaria` was built with.
fn compiled() -> &'static str {
    talaria::alloc::COMPILED.name()
}

#[test]
fn version_names_the_allocator() {
    let out = ok(talaria().arg("--version"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.trim(),
        format!(
            "talaria {} (allocator: {})",
            env!("CARGO_PKG_VERSION"),
            compiled()
        )
    );
}

#[test]
fn config_show_names_the_allocator_and_another_one_is_refused() {
    let out = ok(talaria().args(["config", "show"]));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("[performance.memory]")
            && shown.contains(&format!("allocator = \"{}\"", compiled())),
        "{shown}"
    );
    // The compiled-in one is accepted.
    ok(talaria()
        .args(["config", "show"])
        .env("TALARIA_PERFORMANCE_MEMORY_ALLOCATOR", compiled()));
    for other in ["system", "jemalloc", "mimalloc"] {
        if other == compiled() {
            continue;
        }
        let out = run(talaria()
            .args(["config", "show"])
            .env("TALARIA_PERFORMANCE_MEMORY_ALLOCATOR", other));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains("TALARIA_PERFORMANCE_MEMORY_ALLOCATOR")
                && err.contains(&format!("built with the {} allocator", compiled())),
            "{err}"
        );
        if other == "system" {
            assert!(
                err.contains("without the jemalloc and mimalloc Cargo features"),
                "{err}"
            );
        } else {
            assert!(err.contains(&format!("--features hwloc,{other}")), "{err}");
        }
    }
    let out = run(talaria()
        .args(["config", "show"])
        .env("TALARIA_PERFORMANCE_MEMORY_ALLOCATOR", "tcmalloc"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("one of \"system\", \"jemalloc\", \"mimalloc\""),
        "{err}"
    );
}

#[test]
fn trace_memory_lists_the_stages_and_changes_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.fasta");
    std::fs::write(
        &input,
        families(&Families {
            families: 200,
            members: 6,
            ..Default::default()
        }),
    )
    .unwrap();
    let reduce = |tag: &str, extra: &[&str]| {
        let p = |name: &str| dir.path().join(format!("{tag}.{name}"));
        let out = ok(talaria()
            .args(["reduce", "-j", "2", "-i"])
            .arg(&input)
            .arg("-o")
            .arg(p("fa"))
            .arg("-m")
            .arg(p("delta"))
            .arg("--clusters")
            .arg(p("tsv"))
            .args(extra));
        let files: Vec<Vec<u8>> = ["fa", "delta", "tsv"]
            .iter()
            .map(|n| std::fs::read(p(n)).unwrap())
            .collect();
        (String::from_utf8_lossy(&out.stderr).into_owned(), files)
    };
    let (plain_err, plain) = reduce("plain", &[]);
    assert!(!plain_err.contains("memory trace"), "{plain_err}");
    assert!(
        plain_err.contains(&format!("allocator {}", compiled())),
        "{plain_err}"
    );
    let (text, traced) = reduce("text", &["--trace-memory"]);
    assert!(plain == traced, "--trace-memory changed an output");
    let table = text
        .split_once("talaria memory trace")
        .unwrap_or_else(|| panic!("no table: {text}"))
        .1;
    for stage in [
        "main",
        "reader",
        "chunker",
        "prefetch",
        "aligner",
        "writer",
        "writer-fasta",
    ] {
        assert!(
            table
                .lines()
                .any(|l| l.split_whitespace().next() == Some(stage)),
            "{stage} missing: {table}"
        );
    }
    let json = dir.path().join("run.json");
    let (_, traced) = reduce(
        "json",
        &["--trace-memory", "--json", json.to_str().unwrap()],
    );
    assert!(plain == traced, "--trace-memory --json changed an output");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let summary = &doc["summary"];
    let trace = &summary["memory_trace"];
    assert_eq!(trace["allocator"], compiled());
    let peak = trace["peak_live_bytes"].as_i64().unwrap();
    let rss = summary["peak_rss"]
        .as_i64()
        .expect("peak RSS is known on Linux");
    assert!(
        peak > 0 && peak <= rss,
        "peak live {peak} B, peak RSS {rss} B"
    );
    let stages = trace["stages"].as_array().unwrap();
    let aligner = stages.iter().find(|s| s["stage"] == "aligner").unwrap();
    assert!(aligner["allocs"].as_u64().unwrap() > 0);
    assert!(
        aligner["bytes_allocated"].as_u64().unwrap() >= aligner["peak_net_bytes"].as_u64().unwrap()
    );
    let allocated: u64 = stages
        .iter()
        .map(|s| s["bytes_allocated"].as_u64().unwrap())
        .sum();
    let freed: u64 = stages
        .iter()
        .map(|s| s["bytes_freed"].as_u64().unwrap())
        .sum();
    // The counters are read one after another while the main thread still allocates (the
    // snapshot itself does), so the sums match the process figure only closely.
    let live = trace["live_bytes"].as_i64().unwrap();
    assert!(
        (allocated as i64 - freed as i64 - live).abs() < 1 << 16,
        "allocated {allocated} - freed {freed} vs live {live}"
    );
    // Without the flag the JSON has no trace.
    let (_, _) = reduce("nojson", &["--json", json.to_str().unwrap()]);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(doc["summary"].get("memory_trace").is_none());
}

#[test]
fn huge_pages_are_reported_and_change_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.fasta");
    std::fs::write(&input, families(&Families::default())).unwrap();
    let reduce = |huge: &str| {
        let out_path = dir.path().join(format!("{huge}.fa"));
        let out = ok(talaria()
            .args(["reduce", "-i"])
            .arg(&input)
            .arg("-o")
            .arg(&out_path)
            .env("TALARIA_PERFORMANCE_MEMORY_USE_HUGE_PAGES", huge));
        (
            String::from_utf8_lossy(&out.stderr).into_owned(),
            std::fs::read(out_path).unwrap(),
        )
    };
    let (off_err, off) = reduce("false");
    let (on_err, on) = reduce("true");
    assert!(off == on, "use_huge_pages changed the output");
    assert!(!off_err.contains("huge pages:"), "{off_err}");
    let line = on_err
        .lines()
        .find(|l| l.trim_start().starts_with("huge pages:"))
        .unwrap_or_else(|| panic!("no huge pages line: {on_err}"));
    assert!(
        line.contains("of the index advised (MADV_HUGEPAGE), kernel THP mode"),
        "{line}"
    );
}

/// Runs `reduce` with page locking of at most `lock_mib` MiB and RLIMIT_MEMLOCK lowered to
/// `rlimit_mib` MiB (soft and hard) for the child; returns stderr and the outputs.
fn locked_run(
    dir: &std::path::Path,
    tag: &str,
    lock_mib: u32,
    rlimit: Option<u64>,
) -> (String, Vec<u8>, Vec<u8>) {
    use std::os::unix::process::CommandExt;
    let input = dir.join("in.fasta");
    if !input.exists() {
        std::fs::write(
            &input,
            families(&Families {
                families: 300,
                members: 4,
                ..Default::default()
            }),
        )
        .unwrap();
    }
    let (fa, delta) = (
        dir.join(format!("{tag}.fa")),
        dir.join(format!("{tag}.delta")),
    );
    let mut cmd = talaria();
    // The exhaustive search's 5-mers have a direct-addressed heads table to lock.
    cmd.args(["reduce", "--use-sketching", "false", "-i"])
        .arg(&input)
        .arg("-o")
        .arg(&fa)
        .arg("-m")
        .arg(&delta)
        .env(
            "TALARIA_PERFORMANCE_USE_PAGE_LOCKING",
            if lock_mib > 0 { "true" } else { "false" },
        )
        .env(
            "TALARIA_PERFORMANCE_LOCKED_MEMORY_GB",
            format!("{}", lock_mib.max(1) as f64 / 1024.0),
        );
    if let Some(bytes) = rlimit {
        // SAFETY: setrlimit is async-signal-safe; it only lowers this child's limit.
        unsafe {
            cmd.pre_exec(move || {
                let r = libc::rlimit {
                    rlim_cur: bytes as libc::rlim_t,
                    rlim_max: bytes as libc::rlim_t,
                };
                if libc::setrlimit(libc::RLIMIT_MEMLOCK, &r) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
    }
    let out = ok(&mut cmd);
    (
        String::from_utf8_lossy(&out.stderr).into_owned(),
        std::fs::read(fa).unwrap(),
        std::fs::read(delta).unwrap(),
    )
}

fn memlock_hard() -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit through a valid pointer.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut r) }, 0);
    r.rlim_max
}

#[test]
fn page_locking_below_rlimit_memlock_warns_once_and_runs_unlocked() {
    let dir = tempfile::tempdir().unwrap();
    let (plain_err, fa, delta) = locked_run(dir.path(), "plain", 0, None);
    assert!(!plain_err.contains("page locking"), "{plain_err}");
    let (err, fa_low, delta_low) = locked_run(dir.path(), "low", 4, Some(1 << 20));
    assert!(
        fa == fa_low && delta == delta_low,
        "outputs differ with page locking refused"
    );
    let warnings: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("talaria: warning:"))
        .collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(
        warnings[0].contains("RLIMIT_MEMLOCK (ulimit -l) is 1.0 MiB, below the 4.0 MiB to lock")
            && warnings[0].ends_with("running without page locking"),
        "{err}"
    );
    let line = err
        .lines()
        .find(|l| l.trim_start().starts_with("page locking:"))
        .unwrap();
    assert!(
        line.contains("0.0 MiB of the index locked") && line.contains("not locked: RLIMIT_MEMLOCK"),
        "{line}"
    );
}

#[test]
fn page_locking_locks_the_index_and_changes_no_output() {
    if memlock_hard() < 4 << 20 {
        eprintln!("skipped: RLIMIT_MEMLOCK hard limit under 4 MiB here");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_, fa, delta) = locked_run(dir.path(), "plain", 0, None);
    let (err, fa_locked, delta_locked) = locked_run(dir.path(), "locked", 2, Some(4 << 20));
    assert!(
        fa == fa_locked && delta == delta_locked,
        "outputs differ with page locking"
    );
    assert!(!err.contains("warning"), "{err}");
    let line = err
        .lines()
        .find(|l| l.trim_start().starts_with("page locking:"))
        .unwrap();
    // The heads table alone (protein, k=5: 20^5 x 4 bytes) is larger than 2 MiB.
    assert!(
        line.contains("2.0 MiB of the index locked") && line.contains("2.0 MiB allowed"),
        "{line}"
    );
    assert!(!line.contains("not locked"), "{line}");
}
