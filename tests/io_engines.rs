//! Reader engines end to end: the same input through every `--io-engine` (and the keys that
//! shape them), from a file and from a real pipe on stdin, plain and compressed, gives
//! byte-identical reduced FASTA, deltas and cluster table, and `reconstruct` gives the input
//! back; io_uring's fallback to `read`; `mmap` on stdin is a usage error; the summary names the
//! engine; and, where strace is installed, `--io-engine uring` really submits through io_uring.

mod common;

use common::{families, ok, run_with_stdin, talaria, Families};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The test hook of talaria-stages that makes io_uring look unavailable (see its docs).
const DISABLE_URING: &str = "STAGES_TEST_DISABLE_IO_URING";

/// One engine choice: (label, flags, environment).
type Variant = (
    &'static str,
    Vec<&'static str>,
    Vec<(&'static str, &'static str)>,
);

/// Engine choices and key settings.
fn variants() -> Vec<Variant> {
    vec![
        ("auto", vec!["--io-engine", "auto"], vec![]),
        (
            "auto-mapped",
            vec![],
            vec![("TALARIA_PERFORMANCE_MMAP_THRESHOLD_MB", "0")],
        ),
        (
            "auto-async",
            vec![],
            vec![
                ("TALARIA_PERFORMANCE_USE_ASYNC_IO", "true"),
                ("TALARIA_PERFORMANCE_USE_MEMORY_MAPPING", "false"),
            ],
        ),
        ("read", vec!["--io-engine", "read"], vec![]),
        ("mmap", vec!["--io-engine", "mmap"], vec![]),
        ("uring", vec!["--io-engine", "uring"], vec![]),
        (
            "uring-small",
            vec!["--io-engine", "uring"],
            vec![
                ("TALARIA_PERFORMANCE_IO_BUFFER_SIZE", "4K"),
                ("TALARIA_PERFORMANCE_ASYNC_QUEUE_SIZE", "3"),
            ],
        ),
        (
            "uring-parallel",
            vec!["--io-engine", "uring"],
            vec![("TALARIA_PERFORMANCE_PARALLEL_IO", "true")],
        ),
        (
            "read-parallel",
            vec!["--io-engine", "read"],
            vec![("TALARIA_PERFORMANCE_PARALLEL_IO", "true")],
        ),
    ]
}

fn input() -> Vec<u8> {
    families(&Families {
        families: 60,
        members: 8,
        length: 300,
        seed: 61,
        ..Families::default()
    })
}

struct Run {
    reduced: Vec<u8>,
    deltas: Vec<u8>,
    tsv: Vec<u8>,
    stderr: String,
}

impl Run {
    /// The reduced FASTA, deltas and cluster table are byte-identical to `reference`'s.
    fn assert_same_outputs(&self, reference: &Run, what: &str) {
        assert!(
            self.reduced == reference.reduced,
            "{what}: reduced FASTA differs"
        );
        assert!(self.deltas == reference.deltas, "{what}: deltas differ");
        assert!(self.tsv == reference.tsv, "{what}: cluster table differs");
    }
}

/// `talaria reduce` on `path`, or on `stdin_bytes` through a pipe when given; then checks that
/// `reconstruct` rebuilds `original` exactly.
fn reduce(
    dir: &Path,
    path: Option<&Path>,
    stdin_bytes: Option<&[u8]>,
    flags: &[&str],
    env: &[(&str, &str)],
    original: &[u8],
) -> Run {
    let (out, deltas, tsv, back) = (
        dir.join("out.fa"),
        dir.join("out.delta"),
        dir.join("out.tsv"),
        dir.join("back.fa"),
    );
    let mut cmd = talaria();
    cmd.arg("reduce");
    if !flags.contains(&"--order") {
        // Arrival order unless the test asks otherwise: a file and a stream of the same bytes
        // are then decided alike (`--order auto` would decide a file longest first).
        cmd.args(["--order", "input"]);
    }
    cmd.arg("-i");
    match path {
        Some(p) => cmd.arg(p),
        None => cmd.arg("-"),
    };
    cmd.arg("-o")
        .arg(&out)
        .arg("-m")
        .arg(&deltas)
        .arg("--clusters")
        .arg(&tsv)
        .args(["--threads", "2"])
        .args(flags)
        .envs(env.iter().copied());
    let output = feed(&mut cmd, stdin_bytes);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{flags:?} {env:?}: {stderr}");
    ok(talaria()
        .arg("reconstruct")
        .arg("-i")
        .arg(&out)
        .arg("-m")
        .arg(&deltas)
        .arg("-o")
        .arg(&back));
    assert!(
        std::fs::read(&back).unwrap() == original,
        "{flags:?} {env:?}: the round trip is not exact"
    );
    let read = |p: &Path| std::fs::read(p).unwrap();
    Run {
        reduced: read(&out),
        deltas: read(&deltas),
        tsv: read(&tsv),
        stderr,
    }
}

/// Run `cmd` with `bytes` written to its stdin by another thread (a real pipe), or no stdin.
fn feed(cmd: &mut Command, bytes: Option<&[u8]>) -> Output {
    let Some(bytes) = bytes else {
        return cmd.stdin(Stdio::null()).output().unwrap();
    };
    // A run that fails early (the usage-error test) stops reading; callers check the status.
    run_with_stdin(cmd, bytes)
}

fn reader_line(stderr: &str) -> &str {
    stderr
        .lines()
        .find(|l| l.trim_start().starts_with("reader: "))
        .unwrap_or_else(|| panic!("no reader line in:\n{stderr}"))
        .trim()
}

fn uring_works() -> bool {
    // The summary of a tiny run says whether talaria had to fall back.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("probe.fa");
    std::fs::write(&path, b">a\nACDE\n").unwrap();
    let out = ok(talaria()
        .args(["reduce", "--io-engine", "uring", "-o"])
        .arg(dir.path().join("o.fa"))
        .arg("-i")
        .arg(&path));
    !String::from_utf8_lossy(&out.stderr).contains("fallback")
}

fn compress(kind: &str, data: &[u8]) -> Vec<u8> {
    match kind {
        "none" => data.to_vec(),
        "gzip" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        "zstd" => zstd::encode_all(data, 3).unwrap(),
        tool => {
            // bzip2 and xz through their command-line tools (installed by .ci/run).
            let mut child = Command::new(tool)
                .arg("-c")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("{tool}: {e}"));
            let mut stdin = child.stdin.take().unwrap();
            let data = data.to_vec();
            let w = std::thread::spawn(move || stdin.write_all(&data));
            let out = child.wait_with_output().unwrap();
            w.join().unwrap().unwrap();
            assert!(out.status.success());
            out.stdout
        }
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn every_engine_from_a_file_and_from_stdin_gives_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let data = input();
    let path = write(dir.path(), "in.fa", &data);
    let reference = reduce(
        dir.path(),
        Some(&path),
        None,
        &["--io-engine", "read"],
        &[],
        &data,
    );
    let uring = uring_works();
    for (label, flags, env) in variants() {
        for from_stdin in [false, true] {
            if from_stdin && label == "mmap" {
                continue; // a usage error: see mmap_on_stdin_is_a_usage_error
            }
            let run = if from_stdin {
                reduce(dir.path(), None, Some(&data), &flags, &env, &data)
            } else {
                reduce(dir.path(), Some(&path), None, &flags, &env, &data)
            };
            let what = format!("{label} (stdin: {from_stdin})");
            run.assert_same_outputs(&reference, &what);
            let line = reader_line(&run.stderr);
            let expected = match (label, from_stdin) {
                ("auto", _) | ("read", _) | ("auto-mapped", true) | ("read-parallel", _) => {
                    "reader: read, 1 MiB blocks".to_string()
                }
                ("auto-mapped", false) | ("mmap", false) => "reader: mmap".to_string(),
                (_, _) if !uring => "reader: read, 1 MiB blocks (fallback".to_string(),
                ("uring-small", false) => "reader: io_uring, depth 3, 4 KiB buffers".to_string(),
                (_, false) => "reader: io_uring, depth 100, 64 KiB buffers".to_string(),
                ("uring-small", true) => {
                    "reader: io_uring, depth 1 (pipe: one read in flight), 4 KiB buffers".into()
                }
                (_, true) => {
                    "reader: io_uring, depth 1 (pipe: one read in flight), 64 KiB buffers".into()
                }
            };
            assert!(line.starts_with(&expected), "{what}: {line}");
        }
    }
}

#[test]
fn longest_first_through_every_engine_gives_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let data = input();
    let path = write(dir.path(), "in.fa", &data);
    let flags = |engine: &'static str| vec!["--order", "auto", "--io-engine", engine];
    let reference = reduce(dir.path(), Some(&path), None, &flags("read"), &[], &data);
    let arrival = reduce(
        dir.path(),
        Some(&path),
        None,
        &["--order", "input"],
        &[],
        &data,
    );
    assert!(
        reference.reduced != arrival.reduced,
        "longest first should pick other representatives on this input"
    );
    let uring = uring_works();
    for (label, mut variant_flags, env) in variants() {
        variant_flags.splice(0..0, ["--order", "auto"]);
        let run = reduce(dir.path(), Some(&path), None, &variant_flags, &env, &data);
        run.assert_same_outputs(&reference, label);
        let line = reader_line(&run.stderr);
        assert!(
            line.ends_with("(scan and write passes); deciding pass: pread, records longest first"),
            "{label}: {line}"
        );
        if label.starts_with("uring") && uring {
            assert!(line.starts_with("reader: io_uring"), "{label}: {line}");
        }
    }
}

#[test]
fn compressed_input_through_every_engine_gives_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let data = input();
    let plain = write(dir.path(), "in.fa", &data);
    let reference = reduce(dir.path(), Some(&plain), None, &[], &[], &data);
    for kind in ["gzip", "zstd", "bzip2", "xz"] {
        let packed = compress(kind, &data);
        let path = write(dir.path(), &format!("in.fa.{kind}"), &packed);
        for (label, flags, env) in variants() {
            let run = reduce(dir.path(), Some(&path), None, &flags, &env, &data);
            let what = format!("{kind} via {label}");
            run.assert_same_outputs(&reference, &what);
            let line = reader_line(&run.stderr);
            assert_eq!(
                line.ends_with(&format!("; {kind} decompressed on its own thread")),
                label.ends_with("parallel"),
                "{what}: {line}"
            );
        }
        // And through a pipe on stdin, decompressed on its own thread.
        let run = reduce(
            dir.path(),
            None,
            Some(&packed),
            &["--io-engine", "uring"],
            &[("TALARIA_PERFORMANCE_PARALLEL_IO", "1")],
            &data,
        );
        assert!(run.reduced == reference.reduced && run.deltas == reference.deltas);
    }
}

#[test]
fn without_io_uring_uring_falls_back_to_read_and_says_so_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = input();
    let path = write(dir.path(), "in.fa", &data);
    let reference = reduce(dir.path(), Some(&path), None, &[], &[], &data);
    for (stdin, flags, env) in [
        (
            false,
            vec!["--io-engine", "uring"],
            vec![(DISABLE_URING, "1")],
        ),
        (
            true,
            vec!["--io-engine", "uring"],
            vec![(DISABLE_URING, "1")],
        ),
        (
            false,
            vec![],
            vec![
                (DISABLE_URING, "1"),
                ("TALARIA_PERFORMANCE_USE_ASYNC_IO", "yes"),
            ],
        ),
    ] {
        let run = if stdin {
            reduce(dir.path(), None, Some(&data), &flags, &env, &data)
        } else {
            reduce(dir.path(), Some(&path), None, &flags, &env, &data)
        };
        assert!(run.reduced == reference.reduced && run.deltas == reference.deltas);
        assert!(run.tsv == reference.tsv);
        let warnings: Vec<&str> = run
            .stderr
            .lines()
            .filter(|l| l.starts_with("talaria: warning:"))
            .collect();
        assert_eq!(warnings.len(), 1, "{}", run.stderr);
        assert!(
            warnings[0].contains("io_uring is unavailable (io_uring_setup: ENOSYS")
                && warnings[0].ends_with("with read(2) instead"),
            "{}",
            warnings[0]
        );
        let line = reader_line(&run.stderr);
        assert!(
            line.starts_with("reader: read, 1 MiB blocks (fallback: io_uring unavailable, io_uring_setup: ENOSYS"),
            "{line}"
        );
    }
    // --quiet drops the summary but not the warning.
    let out = ok(talaria()
        .args(["reduce", "-q", "--io-engine", "uring", "-i"])
        .arg(&path)
        .arg("-o")
        .arg(dir.path().join("q.fa"))
        .env(DISABLE_URING, "1"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn mmap_on_stdin_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = input();
    let out = feed(
        talaria()
            .args(["reduce", "-i", "-", "--io-engine", "mmap", "-o"])
            .arg(dir.path().join("o.fa")),
        Some(&data),
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim_end(),
        "talaria: error: <stdin>: the mmap engine needs a regular file; standard input, pipes \
         and fifos cannot be memory-mapped (use the auto, read or uring engine)"
    );
    assert!(!dir.path().join("o.fa").exists(), "nothing is committed");
}

#[test]
fn io_keys_are_typed_shown_and_refused_where_not_implemented() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "c.toml",
        b"[performance]\nuse_memory_mapping = false\nmmap_threshold_mb = 100\nuse_async_io = true\n\
          async_queue_size = 32\nio_buffer_size = \"256K\"\nparallel_io = true\nio_engine = \"uring\"\n",
    );
    let out = ok(talaria()
        .args(["config", "show", "--io-engine", "read", "--config"])
        .arg(&config));
    let text = String::from_utf8_lossy(&out.stdout);
    let from = format!("# from {}", config.display());
    for line in [
        "use_memory_mapping = false",
        "mmap_threshold_mb = 100",
        "use_async_io = true",
        "async_queue_size = 32",
        "io_buffer_size = \"256K\"",
        "parallel_io = true",
    ] {
        let shown = text
            .lines()
            .find(|l| l.starts_with(line))
            .unwrap_or_else(|| panic!("{line} missing:\n{text}"));
        assert!(shown.ends_with(&from), "{shown}");
    }
    assert!(text
        .lines()
        .any(|l| l.starts_with("io_engine = \"read\"") && l.ends_with("# from --io-engine")));
    // io_threads above 2 is refused, with the reason.
    let bad = write(dir.path(), "bad.toml", b"[performance]\nio_threads = 4\n");
    let out = talaria()
        .args(["config", "show", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("performance.io_threads") && stderr.contains("no parallel decompressor"),
        "{stderr}"
    );
    // Ill-typed values name the key.
    let out = talaria()
        .args(["config", "show"])
        .env("TALARIA_PERFORMANCE_IO_ENGINE", "aio")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("one of \"auto\", \"read\", \"mmap\", \"uring\""));
}

/// `--io-engine uring` submits its reads with io_uring_enter (and `read` does not set up a
/// ring). Skipped, saying so, where strace is not installed or cannot trace here.
#[test]
fn uring_engine_issues_io_uring_enter() {
    let traced = Command::new("strace")
        .args(["-f", "-o", "/dev/null", "true"])
        .output();
    if !traced.is_ok_and(|o| o.status.success()) {
        eprintln!("SKIPPED: strace is not installed or cannot trace in this environment");
        return;
    }
    if !uring_works() {
        eprintln!("SKIPPED: io_uring is unavailable here (the fallback is tested instead)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = input();
    let path = write(dir.path(), "in.fa", &data);
    let calls = |engine: &str| -> String {
        let log = dir.path().join(format!("strace.{engine}"));
        ok(Command::new("strace")
            .args(["-f", "-e", "trace=io_uring_setup,io_uring_enter", "-o"])
            .arg(&log)
            .arg(env!("CARGO_BIN_EXE_talaria"))
            .args(["reduce", "-q", "--io-engine", engine, "-i"])
            .arg(&path)
            .arg("-o")
            .arg(dir.path().join(format!("{engine}.fa"))));
        std::fs::read_to_string(&log).unwrap()
    };
    let uring = calls("uring");
    assert!(uring.contains("io_uring_setup("), "{uring}");
    assert!(uring.contains("io_uring_enter("), "{uring}");
    let read = calls("read");
    assert!(!read.contains("io_uring_setup("), "{read}");
}
