//! `[alignment] use_sketching` / `sketch_size`: candidates from a FracMinHash sample of the
//! k-mers. It changes real behaviour (the summary names the sketch, and the clustering stays close
//! to the full k-mer index's on related families), keeps outputs byte-identical across thread
//! counts, and every run still round-trips exactly.

mod common;

use common::*;

fn members(tsv: &[u8]) -> usize {
    String::from_utf8_lossy(tsv)
        .lines()
        .filter(|l| {
            let mut f = l.split('\t');
            f.next() != f.next()
        })
        .count()
}

#[test]
fn sketched_candidates_round_trip_deterministically_and_still_find_families() {
    let input = families(&Families {
        families: 120,
        members: 5,
        divergence: 0.04,
        seed: 11,
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.fa");
    std::fs::write(&path, &input).unwrap();

    let full = dir.path().join("full");
    std::fs::create_dir(&full).unwrap();
    let (_, _, full_tsv, _) = round_trip(&full, &path, &["-j", "2"]);

    let mut reference = None;
    for threads in ["1", "3"] {
        let sub = dir.path().join(format!("s{threads}"));
        std::fs::create_dir(&sub).unwrap();
        let args = [
            "-j",
            threads,
            "--use-sketching",
            "true",
            "--sketch-size",
            "8",
        ];
        let (reduced, deltas, tsv, back) = round_trip(&sub, &path, &args);
        assert_eq!(sha256(&back), sha256(&input), "round trip, -j {threads}");
        let got = (sha256(&reduced), sha256(&deltas), sha256(&tsv));
        match &reference {
            None => {
                // Families at 96% identity: the sketch finds nearly every member the full index does.
                let (with, without) = (members(&tsv), members(&full_tsv));
                assert!(
                    with > 0 && with * 100 >= without * 95,
                    "{with} vs {without} members"
                );
                reference = Some(got);
            }
            Some(r) => assert_eq!(&got, r, "-j {threads} differs"),
        }
    }
}

#[test]
fn the_summary_names_the_sketch_and_bad_sizes_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(talaria()
        .args(["reduce", "-i"])
        .arg(data("sample.fasta"))
        .args([
            "-o",
            dir.path().join("r.fa").to_str().unwrap(),
            "--use-sketching",
            "true",
            "--sketch-size",
            "4",
        ]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("protein k=5 (sketch: 1 in 4 k-mers)"), "{err}");

    for size in ["0", "65"] {
        let out = run(talaria()
            .args(["reduce", "-i"])
            .arg(data("sample.fasta"))
            .args([
                "-o",
                dir.path().join("x.fa").to_str().unwrap(),
                "--sketch-size",
                size,
            ]));
        assert_eq!(out.status.code(), Some(2), "--sketch-size {size}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("sketch"), "{err}");
        assert!(!dir.path().join("x.fa").exists());
    }
}
