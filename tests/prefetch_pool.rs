//! The prefetcher (`prefetch_distance` readahead, `prefetch_threads`), the I/O threads
//! (`io_threads`) and the reader's block pool (`allocation_pool_size`): with each key on or off,
//! with each engine, and for any thread count, the outputs are byte-identical and the round trip
//! is exact; `--profile-io` shows the readahead advice issued and the pool's reuse; the pool's
//! bytes come out of the reader's share of the memory limit; io_threads above 2 is refused with
//! its reason.

mod common;

use common::{families, ok, round_trip, run, talaria, Families};
use std::path::Path;

fn input(dir: &Path) -> (std::path::PathBuf, Vec<u8>) {
    let bytes = families(&Families {
        // Over 1 MiB: the first MiB is read before the reader starts (alphabet detection).
        families: 600,
        members: 8,
        length: 300,
        seed: 62,
        ..Families::default()
    });
    let path = dir.join("in.fa");
    std::fs::write(&path, &bytes).unwrap();
    (path, bytes)
}

/// A config file with the keys under test, small blocks so that a small input spans many.
fn config(dir: &Path, name: &str, performance: &str, pool: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "[performance]\nblock_size = \"4K\"\n{performance}\n[performance.memory]\nallocation_pool_size = {pool}\n"
        ),
    )
    .unwrap();
    path
}

#[test]
fn every_key_on_or_off_gives_the_same_bytes_with_every_engine() {
    let dir = tempfile::tempdir().unwrap();
    let (path, original) = input(dir.path());
    let settings = [
        (
            "off",
            "prefetch_distance = 0\nprefetch_threads = 1\nio_threads = 1",
            "0",
        ),
        (
            "on",
            "prefetch_distance = 4\nprefetch_threads = 3\nio_threads = 2",
            "\"64K\"",
        ),
        (
            "wide",
            "prefetch_distance = 1000\nprefetch_threads = 2",
            "\"8K\"",
        ),
    ];
    let mut reference = None;
    for engine in ["read", "mmap", "uring"] {
        for (label, perf, pool) in settings {
            let cfg = config(dir.path(), &format!("{label}.toml"), perf, pool);
            for (order, threads) in [("input", "1"), ("input", "4"), ("longest-first", "2")] {
                let work = dir
                    .path()
                    .join(format!("{engine}-{label}-{order}-{threads}"));
                std::fs::create_dir(&work).unwrap();
                let args = [
                    "--config",
                    cfg.to_str().unwrap(),
                    "--io-engine",
                    engine,
                    "--order",
                    order,
                    "-j",
                    threads,
                ];
                let (reduced, deltas, tsv, back) = round_trip(&work, &path, &args);
                assert!(
                    back == original,
                    "{engine} {label} {order} -j {threads}: round trip"
                );
                let got = (order, reduced, deltas, tsv);
                match &reference {
                    None => reference = Some(vec![got]),
                    Some(seen) => {
                        if let Some(first) = seen.iter().find(|r| r.0 == order) {
                            assert!(
                                first.1 == got.1 && first.2 == got.2 && first.3 == got.3,
                                "{engine} {label} {order} -j {threads}: outputs differ"
                            );
                        } else {
                            reference.as_mut().unwrap().push(got);
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn compressed_input_with_two_io_threads_gives_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (path, original) = input(dir.path());
    let gz = dir.path().join("in.fa.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut enc, &original).unwrap();
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    let plain = round_trip(dir.path(), &path, &["--order", "input"]);
    for (label, perf) in [
        ("one", "io_threads = 1"),
        ("two", "io_threads = 2\nprefetch_distance = 2"),
    ] {
        let cfg = config(dir.path(), &format!("{label}.toml"), perf, "\"64K\"");
        let out = ok(talaria()
            .args(["reduce", "--config", cfg.to_str().unwrap(), "-i"])
            .arg(&gz)
            .arg("-o")
            .arg(dir.path().join("gz.fa")));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            stderr.contains("gzip decompressed on its own thread"),
            label == "two",
            "{stderr}"
        );
        assert!(
            std::fs::read(dir.path().join("gz.fa")).unwrap() == plain.0,
            "{label}"
        );
    }
}

/// `reduce --profile-io --json FILE` on `path` with `cfg`: the `io` document.
fn io_profile(dir: &Path, path: &Path, cfg: &Path, engine: &str) -> serde_json::Value {
    let json = dir.join(format!("{engine}.json"));
    ok(talaria()
        .args([
            "reduce",
            "-q",
            "--profile-io",
            "--order",
            "input",
            "--io-engine",
            engine,
        ])
        .arg("--config")
        .arg(cfg)
        .arg("--json")
        .arg(&json)
        .arg("-i")
        .arg(path)
        .arg("-o")
        .arg(dir.join("p.fa")));
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    doc["io"].clone()
}

#[test]
fn profile_io_shows_the_advice_issued_and_the_pool() {
    let dir = tempfile::tempdir().unwrap();
    let (path, original) = input(dir.path());
    let size = original.len() as u64;
    let on = config(
        dir.path(),
        "on.toml",
        "prefetch_distance = 4\nprefetch_threads = 2",
        "\"64K\"",
    );
    let off = config(dir.path(), "off.toml", "prefetch_distance = 0", "0");
    for engine in ["read", "mmap", "uring"] {
        let io = io_profile(dir.path(), &path, &on, engine);
        let (f, p) = (&io["prefetch"], &io["pool"]);
        assert_eq!(f["distance_blocks"], 4, "{engine}: {io}");
        assert_eq!(f["threads"], 2, "{engine}: {io}");
        // 16 KiB ahead in 8 KiB steps past the first MiB (read in one go before the reader
        // starts): each byte ahead of the reader advised once, up to the end.
        let (ranges, bytes) = (
            f["ranges_advised"].as_u64().unwrap(),
            f["bytes_advised"].as_u64().unwrap(),
        );
        let after_prefix = size - (1 << 20);
        if engine == "uring" {
            // The ring's own reads in flight are its readahead: no advice on top.
            assert_eq!((ranges, bytes), (0, 0), "{engine}: {io}");
        } else {
            assert!(
                ranges >= after_prefix / (16 << 10),
                "{engine}: {ranges} ranges"
            );
            assert!(
                bytes >= after_prefix && bytes <= size,
                "{engine}: {bytes} of {size}"
            );
        }
        assert_eq!(f["advice_failed"], 0, "{engine}: {io}");
        assert_eq!(p["capacity_bytes"], 64 << 10, "{engine}: {io}");
        // The reader's first block is the alphabet prefix; the rest are 4 KiB blocks, most of
        // them in buffers handed back by the chunker.
        let blocks = after_prefix.div_ceil(4096);
        let (allocated, reused) = (
            p["buffers_allocated"].as_u64().unwrap(),
            p["buffers_reused"].as_u64().unwrap(),
        );
        assert_eq!(allocated + reused, blocks + 1, "{engine}: {io}"); // +1: the read at EOF
        let io = io_profile(dir.path(), &path, &off, engine);
        assert_eq!(io["prefetch"]["ranges_advised"], 0, "{engine}: {io}");
        assert_eq!(io["pool"]["buffers_reused"], 0, "{engine}: {io}");
    }
    // The text form names both.
    let out = ok(talaria()
        .args([
            "reduce",
            "-q",
            "--profile-io",
            "--order",
            "input",
            "--config",
        ])
        .arg(&on)
        .arg("-i")
        .arg(&path)
        .arg("-o")
        .arg(dir.path().join("t.fa")));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("prefetch: distance 4 blocks") && text.contains("block pool: 0.1 MiB"),
        "{text}"
    );
}

#[test]
fn the_pool_comes_out_of_the_readers_share_of_the_memory_limit() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = input(dir.path());
    // 64 MiB limit: the reader's share is 2 MiB; the pool may take a quarter (512 KiB) of it,
    // whatever is asked, and the block channel gets the rest.
    let blocks_capacity = |pool: &str| {
        let cfg = config(dir.path(), "m.toml", "memory_limit = \"64M\"", pool);
        let io = io_profile(dir.path(), &path, &cfg, "read");
        io["pool"]["capacity_bytes"].as_u64().unwrap()
    };
    assert_eq!(blocks_capacity("0"), 0);
    assert_eq!(blocks_capacity("\"256K\""), 256 << 10);
    assert_eq!(blocks_capacity("\"1G\""), 512 << 10);
    // The blocks queue's capacity in --profile shows the pool's bytes taken out.
    let capacity = |pool: &str| {
        let cfg = config(dir.path(), "m.toml", "memory_limit = \"64M\"", pool);
        let json = dir.path().join("prof.json");
        ok(talaria()
            .args([
                "reduce",
                "-q",
                "--profile",
                "--order",
                "input",
                "--io-engine",
                "read",
            ])
            .arg("--config")
            .arg(&cfg)
            .arg("--json")
            .arg(&json)
            .arg("-i")
            .arg(&path)
            .arg("-o")
            .arg(dir.path().join("c.fa")));
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        doc["profile"]["channels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "blocks")
            .unwrap_or_else(|| panic!("no blocks channel: {doc}"))["capacity_bytes"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(capacity("0") - capacity("\"256K\""), 256 << 10);
}

#[test]
fn io_threads_above_two_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = input(dir.path());
    for (perf, needle) in [
        ("io_threads = 4", "no parallel decompressor"),
        ("io_threads = 1\nparallel_io = true", "set one of them"),
    ] {
        let cfg = config(dir.path(), "bad.toml", perf, "0");
        let out = run(talaria()
            .args(["reduce", "--config", cfg.to_str().unwrap(), "-i"])
            .arg(&path)
            .arg("-o")
            .arg(dir.path().join("x.fa")));
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("performance.io_threads") && stderr.contains(needle),
            "{stderr}"
        );
    }
}
