//! The memory limit holds to the end of a streamed run: peak RSS of the real process (read from
//! /proc while it runs) stays under the limit plus a fixed allowance for the binary and stacks.

mod common;

use common::*;
use std::io::Write;
use std::process::Stdio;

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn streamed_run_stays_within_memory_limit() {
    // ~120 MB of mostly unrelated protein records through stdin -> stdout: every record becomes
    // a representative, so the index must evict to stay inside 96 MiB.
    let limit_mib = 96u64;
    let mut child = talaria()
        .args(["reduce", "-i", "-", "-o", "-", "-j", "2", "--memory-limit"])
        .arg(format!("{limit_mib}M"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        let mut total = 0usize;
        for seed in 0.. {
            let block = families(&Families {
                families: 2000,
                members: 1,
                length: 300,
                seed,
                ..Default::default()
            });
            total += block.len();
            if stdin.write_all(&block).is_err() || total > 120 << 20 {
                break;
            }
        }
        total
    });
    let mut stdout = child.stdout.take().unwrap();
    let drain =
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()).unwrap());
    let mut peak = 0;
    while child.try_wait().unwrap().is_none() {
        if let Some(kib) = peak_rss_kib(pid) {
            peak = peak.max(kib);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let fed = feeder.join().unwrap();
    let written = drain.join().unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        fed > 100 << 20 && written > 50 << 20,
        "fed {fed}, wrote {written}"
    );
    assert!(
        stderr.contains("evicted"),
        "the summary reports the full index: {stderr}"
    );
    // Allowance: binary, thread stacks, allocator slack.
    let bound_kib = (limit_mib + 32) * 1024;
    assert!(
        peak > 0 && peak <= bound_kib,
        "peak RSS {peak} KiB over {bound_kib} KiB"
    );
}
