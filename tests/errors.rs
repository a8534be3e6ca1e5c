//! Bad input: one line naming the file and the record or offset, a documented exit code, and no
//! output left behind that looks complete.

mod common;

use common::*;
use std::path::Path;

const EXIT_IO: i32 = 1;
const EXIT_USAGE: i32 = 2;
const EXIT_DATA: i32 = 3;

/// Run `reduce` on `input`; returns (exit code, stderr) and asserts no output file exists.
fn reduce_fails(input: &Path, extra: &[&str]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.fa");
    let deltas = dir.path().join("out.delta");
    let res = run(talaria()
        .arg("reduce")
        .arg("-i")
        .arg(input)
        .arg("-o")
        .arg(&out)
        .arg("-m")
        .arg(&deltas)
        .args(extra));
    assert!(!res.status.success());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
    let stderr = String::from_utf8_lossy(&res.stderr).to_string();
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    (res.status.code().unwrap(), stderr)
}

fn write_temp(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn empty_input_is_a_data_error() {
    let (code, msg) = reduce_fails(&data("empty.fasta"), &[]);
    assert_eq!(code, EXIT_DATA);
    assert!(
        msg.contains("empty.fasta") && msg.contains("no FASTA records"),
        "{msg}"
    );
}

#[test]
fn fastq_is_named() {
    let (code, msg) = reduce_fails(&data("tiny.fastq"), &[]);
    assert_eq!(code, EXIT_DATA);
    assert!(msg.contains("tiny.fastq") && msg.contains("FASTQ"), "{msg}");
}

#[test]
fn binary_input_is_rejected_with_offset() {
    let (code, msg) = reduce_fails(&data("binary.bin"), &[]);
    assert_eq!(code, EXIT_DATA);
    assert!(
        msg.contains("binary.bin") && msg.contains("byte offset"),
        "{msg}"
    );
}

#[test]
fn binary_inside_a_record_names_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_temp(dir.path(), "bad.fa", b">a\nACGT\n>b\nAC\0GT\n");
    let (code, msg) = reduce_fails(&p, &[]);
    assert_eq!(code, EXIT_DATA);
    assert!(msg.contains("bad.fa") && msg.contains("record 2"), "{msg}");
}

#[test]
fn not_fasta_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_temp(dir.path(), "notes.txt", b"hello world\nthis is not fasta\n");
    let (code, msg) = reduce_fails(&p, &[]);
    assert_eq!(code, EXIT_DATA);
    assert!(msg.contains("notes.txt"), "{msg}");
}

#[test]
fn truncated_gzip_is_a_data_error() {
    let (code, msg) = reduce_fails(&data("tiny_truncated.fasta.gz"), &[]);
    assert_eq!(code, EXIT_DATA);
    assert!(msg.contains("tiny_truncated.fasta.gz"), "{msg}");
}

#[test]
fn missing_input_is_an_io_error() {
    let (code, msg) = reduce_fails(Path::new("/nonexistent/input.fa"), &[]);
    assert_eq!(code, EXIT_IO);
    assert!(msg.contains("/nonexistent/input.fa"), "{msg}");
}

#[test]
fn unwritable_output_fails_before_work() {
    let res = run(talaria()
        .arg("reduce")
        .arg("-i")
        .arg(data("tiny.fasta"))
        .args(["-o", "/nonexistent-dir/out.fa"]));
    assert_eq!(res.status.code(), Some(EXIT_IO));
    let msg = String::from_utf8_lossy(&res.stderr);
    assert!(msg.contains("/nonexistent-dir/out.fa"), "{msg}");
}

#[test]
fn bad_threshold_and_unknown_config_keys_are_usage_errors() {
    let (code, msg) = reduce_fails(&data("tiny.fasta"), &["--threshold", "1.5"]);
    assert_eq!(code, EXIT_USAGE);
    assert!(msg.contains("threshold"), "{msg}");
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_temp(dir.path(), "talaria.toml", b"[reduce]\ntreshold = 0.8\n");
    let (code, msg) = reduce_fails(&data("tiny.fasta"), &["--config", cfg.to_str().unwrap()]);
    assert_eq!(code, EXIT_USAGE);
    assert!(
        msg.contains("talaria.toml") && msg.contains("treshold"),
        "{msg}"
    );
}

#[test]
fn mismatched_deltas_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let a = write_temp(
        dir.path(),
        "a.fa",
        &families(&Families {
            seed: 1,
            ..Default::default()
        }),
    );
    let b = write_temp(
        dir.path(),
        "b.fa",
        &families(&Families {
            seed: 2,
            ..Default::default()
        }),
    );
    for (input, tag) in [(&a, "a"), (&b, "b")] {
        ok(talaria()
            .arg("reduce")
            .arg("-i")
            .arg(input)
            .arg("-o")
            .arg(dir.path().join(format!("{tag}.out")))
            .arg("-m")
            .arg(dir.path().join(format!("{tag}.delta"))));
    }
    let back = dir.path().join("back.fa");
    let res = run(talaria()
        .arg("reconstruct")
        .arg("-i")
        .arg(dir.path().join("a.out"))
        .arg("-m")
        .arg(dir.path().join("b.delta"))
        .arg("-o")
        .arg(&back));
    assert_eq!(res.status.code(), Some(EXIT_DATA));
    let msg = String::from_utf8_lossy(&res.stderr);
    assert!(msg.contains("does not belong"), "{msg}");
    assert!(!back.exists(), "no finished-looking output");
}

#[test]
fn corrupt_deltas_are_rejected_without_panic() {
    let dir = tempfile::tempdir().unwrap();
    let (out, deltas) = (dir.path().join("o.fa"), dir.path().join("o.delta"));
    ok(talaria()
        .arg("reduce")
        .arg("-i")
        .arg(data("sample.fasta"))
        .arg("-o")
        .arg(&out)
        .arg("-m")
        .arg(&deltas));
    let good = std::fs::read(&deltas).unwrap();
    for at in [0, 9, good.len() / 2, good.len() - 3] {
        let mut bad = good.clone();
        bad[at] ^= 0x5a;
        std::fs::write(&deltas, &bad).unwrap();
        let back = dir.path().join("back.fa");
        let res = run(talaria()
            .arg("reconstruct")
            .arg("-i")
            .arg(&out)
            .arg("-m")
            .arg(&deltas)
            .arg("-o")
            .arg(&back));
        assert_eq!(res.status.code(), Some(EXIT_DATA), "flip at {at}");
        assert!(!String::from_utf8_lossy(&res.stderr).contains("panicked"));
        assert!(!back.exists());
    }
    std::fs::write(&deltas, &good[..good.len() - 10]).unwrap();
    let res = run(talaria()
        .arg("reconstruct")
        .arg("-i")
        .arg(&out)
        .arg("-m")
        .arg(&deltas)
        .arg("-o")
        .arg(dir.path().join("b2.fa")));
    assert_eq!(res.status.code(), Some(EXIT_DATA));
}

#[test]
fn closed_stdout_ends_quietly() {
    use std::io::Read;
    use std::process::Stdio;
    // Enough output that talaria is still writing when the reader goes away.
    let input = families(&Families {
        families: 3000,
        members: 1,
        length: 300,
        seed: 8,
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let p = write_temp(dir.path(), "in.fa", &input);
    let mut child = talaria()
        .arg("reduce")
        .arg("-i")
        .arg(&p)
        .args(["-o", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 100];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("error"),
        "{stderr}"
    );
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn million_residue_record_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let mut input = b">huge one long line\n".to_vec();
    input.extend((0..3_000_000u32).map(|i| b"ACGT"[(i.wrapping_mul(2654435761) >> 30) as usize]));
    input.extend_from_slice(b"\n>small\nACGTACGTAC\n>huge_again copy\n");
    let copy = input[20..3_000_020].to_vec();
    input.extend_from_slice(&copy);
    input.push(b'\n');
    let p = write_temp(dir.path(), "huge.fa", &input);
    let (reduced, _, tsv, back) = round_trip(dir.path(), &p, &[]);
    assert_eq!(sha256(&back), sha256(&input));
    assert_eq!(
        parse(&reduced).len(),
        2,
        "the exact copy joins the first record"
    );
    assert!(String::from_utf8_lossy(&tsv).contains("huge\thuge_again"));
}

#[test]
fn two_outputs_on_one_stream_are_refused() {
    let res = run(talaria()
        .arg("reduce")
        .arg("-i")
        .arg(data("tiny.fasta"))
        .args(["-o", "-", "-m", "-"]));
    assert_eq!(res.status.code(), Some(EXIT_USAGE));
    let msg = String::from_utf8_lossy(&res.stderr);
    assert!(
        msg.contains("--output and --deltas both write to standard output"),
        "{msg}"
    );
}
