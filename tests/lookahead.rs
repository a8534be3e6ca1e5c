//! The aligners' look-ahead (`performance.lookahead`): the writer takes the workers' answers
//! for representatives it had not published when they looked, and the outputs are the ones it
//! would have written alone.

mod common;

use common::*;
use std::path::Path;

fn family_input(dir: &Path, protein: bool) -> std::path::PathBuf {
    let input = families(&Families {
        families: 150,
        members: 6,
        divergence: 0.06,
        seed: 11,
        protein,
        ..Default::default()
    });
    let path = dir.join(if protein { "prot.fa" } else { "dna.fa" });
    std::fs::write(&path, &input).unwrap();
    path
}

/// The number in "N answered whole by the aligners' look-ahead" of the summary.
fn answered(stderr: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|l| l.contains("answered whole by the aligners' look-ahead"))
        .unwrap_or_else(|| panic!("no look-ahead figure in:\n{stderr}"));
    let before = line.split(" answered whole").next().unwrap();
    before
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("no count in {line}"))
}

#[test]
fn outputs_identical_with_and_without_lookahead() {
    let dir = tempfile::tempdir().unwrap();
    for protein in [false, true] {
        let path = family_input(dir.path(), protein);
        let original = std::fs::read(&path).unwrap();
        let mut reference = None;
        for lookahead in ["false", "true", "auto"] {
            for (threads, chunk) in [("1", "1"), ("2", "7"), ("4", "5"), ("3", "1000")] {
                let sub = dir
                    .path()
                    .join(format!("{protein}-{lookahead}-j{threads}c{chunk}"));
                std::fs::create_dir(&sub).unwrap();
                let args = [
                    "--lookahead",
                    lookahead,
                    "-j",
                    threads,
                    "--chunk-size",
                    chunk,
                ];
                let (reduced, deltas, tsv, back) = round_trip(&sub, &path, &args);
                assert_eq!(sha256(&back), sha256(&original));
                let got = (sha256(&reduced), sha256(&deltas), sha256(&tsv));
                match &reference {
                    None => reference = Some(got),
                    Some(r) => assert_eq!(&got, r, "{args:?} differs (protein {protein})"),
                }
            }
        }
    }
}

#[test]
fn one_chunk_is_answered_by_the_lookahead() {
    // One chunk holds every record: the worker decides all of them against an empty index, so
    // the writer re-checks every record that is not the first of its family, and the worker's
    // look-ahead at its own chunk has the answers. No timing is involved.
    let dir = tempfile::tempdir().unwrap();
    let path = family_input(dir.path(), true);
    let run = |lookahead: &str| {
        let out = ok(talaria()
            .args(["reduce", "-i"])
            .arg(&path)
            .arg("-o")
            .arg(dir.path().join(format!("{lookahead}.fa")))
            .args([
                "-j",
                "1",
                "--chunk-size",
                "100000",
                "--lookahead",
                lookahead,
            ]));
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let reduced = std::fs::read(dir.path().join(format!("{lookahead}.fa"))).unwrap();
        (answered(&stderr), stderr, reduced)
    };
    let (on, on_text, on_reduced) = run("true");
    let (off, off_text, off_reduced) = run("false");
    assert!(
        on > 100,
        "the look-ahead answered only {on} re-checks:\n{on_text}"
    );
    assert!(on_text.contains("look-ahead (on)"), "{on_text}");
    assert_eq!(off, 0, "{off_text}");
    assert!(off_text.contains("look-ahead (off)"), "{off_text}");
    assert_eq!(on_reduced, off_reduced);
    // "auto" stays off with 1 aligner thread, and says why.
    let (auto, auto_text, _) = run("auto");
    assert_eq!(auto, 0);
    assert!(
        auto_text.contains("off: auto needs 8 CPUs and 4 aligner threads"),
        "{auto_text}"
    );
}

#[test]
fn lookahead_is_a_config_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = family_input(dir.path(), true);
    let config = dir.path().join("t.toml");
    std::fs::write(&config, "[performance]\nlookahead = true\n").unwrap();
    let out = ok(talaria()
        .args(["reduce", "-i"])
        .arg(&path)
        .arg("-o")
        .arg(dir.path().join("o.fa"))
        .arg("--config")
        .arg(&config)
        .args(["-j", "1", "--chunk-size", "100000"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(answered(&stderr) > 0, "{stderr}");
    // A value that is not a switch is refused with the key's name.
    std::fs::write(&config, "[performance]\nlookahead = \"sometimes\"\n").unwrap();
    let out = run(talaria()
        .args(["reduce", "-i"])
        .arg(&path)
        .arg("-o")
        .arg(dir.path().join("p.fa"))
        .arg("--config")
        .arg(&config));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("performance.lookahead"), "{stderr}");
}
