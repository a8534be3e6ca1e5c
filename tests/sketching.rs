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
    let (_, _, full_tsv, _) = round_trip(&full, &path, &["-j", "2", "--use-sketching", "false"]);

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
    // k is automatic: 8-mers when sampled (5-mers, CD-HIT's word, for the exhaustive search).
    assert!(
        err.contains("protein k=8 (spaced seed 11011011011; sketch: 1 in 4 k-mers)"),
        "{err}"
    );

    for size in ["65", "x"] {
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

/// The summary of a reduce of `input` with `args`.
fn summary_of(input: &[u8], args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.fa");
    std::fs::write(&path, input).unwrap();
    let out = ok(talaria()
        .args(["reduce", "-i"])
        .arg(&path)
        .arg("-o")
        .arg(dir.path().join("r.fa"))
        .args(args));
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn auto_search_follows_the_alphabet_and_the_threshold() {
    let protein = families(&Families::default());
    let dna = families(&Families {
        protein: false,
        ..Default::default()
    });
    let cases: [(&[u8], &[&str], &str); 13] = [
        (
            &protein,
            &["--spaced-seed", "none"],
            "protein k=8 (sketch: 1 in 8 k-mers), threshold 0.9",
        ),
        (
            &protein,
            &["--spaced-seed", "1110111"],
            "protein k=6 (spaced seed 1110111; sketch: 1 in 8 k-mers), threshold 0.9",
        ),
        (
            &dna,
            &["--spaced-seed", "110110110110111"],
            "nucleotide k=11 (spaced seed 110110110110111), threshold 0.9",
        ),
        (
            &protein,
            &[],
            "protein k=8 (spaced seed 11011011011; sketch: 1 in 8 k-mers, automatic), threshold 0.9",
        ),
        (
            &protein,
            &["-t", "0.5"],
            "protein k=8 (spaced seed 11011011011; all k-mers, automatic), threshold 0.5",
        ),
        (&protein, &["-t", "0.5"], "first 128 in input order"),
        (&protein, &[], "first 32 in input order"),
        (
            &protein,
            &["-t", "0.5", "--use-sketching", "true"],
            "protein k=8 (spaced seed 11011011011; sketch: 1 in 8 k-mers), threshold 0.5",
        ),
        (
            &protein,
            &["--use-sketching", "auto", "--sketch-size", "0"],
            "protein k=8 (spaced seed 11011011011; sketch: 1 in 8 k-mers, automatic)",
        ),
        // Off: CD-HIT's word size for the exhaustive short-word filter.
        (
            &protein,
            &["--use-sketching", "false"],
            "protein k=5, threshold 0.9",
        ),
        (
            &protein,
            &["--use-sketching", "true", "--kmer-size", "6"],
            "protein k=6 (sketch: 1 in 8 k-mers), threshold",
        ),
        (
            &dna,
            &["-t", "0.97"],
            "nucleotide k=10 (sketch: 1 in 8 k-mers, automatic), threshold 0.97",
        ),
        (
            &dna,
            &[],
            "nucleotide k=8 (all k-mers, automatic), threshold 0.9",
        ),
    ];
    for (input, args, want) in cases {
        let line = summary_of(input, args);
        assert!(line.contains(want), "{args:?}: {line}");
    }
}

#[test]
fn use_sketching_takes_auto_true_or_false_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    for (text, shown) in [
        ("\"auto\"", "use_sketching = \"auto\""),
        ("true", "use_sketching = true"),
        ("false", "use_sketching = false"),
    ] {
        std::fs::write(&config, format!("[alignment]\nuse_sketching = {text}\n")).unwrap();
        let out = ok(talaria().args(["config", "show", "--config"]).arg(&config));
        let toml = String::from_utf8(out.stdout).unwrap();
        assert!(toml.lines().any(|l| l.starts_with(shown)), "{text}: {toml}");
    }
    std::fs::write(&config, "[alignment]\nuse_sketching = \"maybe\"\n").unwrap();
    let out = run(talaria().args(["config", "show", "--config"]).arg(&config));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("use_sketching") && err.contains("auto"),
        "{err}"
    );
    let out = run(talaria().args(["config", "show", "--use-sketching", "sometimes"]));
    assert_eq!(out.status.code(), Some(2));
}

/// On 2,000 families reduced at 0.8, the 8-mer sketch finds more members than the exhaustive
/// 5-mer search: below 0.85 the 5-mers' short-word bound is 1, and the first 32
/// representatives sharing any 5-mer (some 50 unrelated ones share one by chance here) are
/// mostly not relatives.
#[test]
fn the_sketch_of_long_kmers_finds_families_at_low_thresholds() {
    let input = families(&Families {
        families: 2000,
        members: 3,
        divergence: 0.08,
        seed: 5,
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.fa");
    std::fs::write(&path, &input).unwrap();
    let mut counts = Vec::new();
    for (tag, search) in [("auto", "auto"), ("full", "false")] {
        let sub = dir.path().join(tag);
        std::fs::create_dir(&sub).unwrap();
        let args = ["-t", "0.8", "--use-sketching", search];
        let (_, _, tsv, back) = round_trip(&sub, &path, &args);
        assert_eq!(sha256(&back), sha256(&input), "round trip, {tag}");
        counts.push(members(&tsv));
    }
    assert!(
        counts[0] > counts[1],
        "members: sketch {} vs full {}",
        counts[0],
        counts[1]
    );
}

#[test]
fn spaced_seeds_round_trip_identically_at_any_thread_count_and_bad_ones_are_refused() {
    let input = families(&Families {
        families: 150,
        members: 4,
        divergence: 0.03,
        seed: 3,
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.fa");
    std::fs::write(&path, &input).unwrap();
    let mut reference = None;
    for threads in ["1", "3"] {
        let sub = dir.path().join(format!("t{threads}"));
        std::fs::create_dir(&sub).unwrap();
        let args = [
            "-j",
            threads,
            "--spaced-seed",
            "1101101",
            "--use-sketching",
            "false",
        ];
        let (reduced, deltas, tsv, back) = round_trip(&sub, &path, &args);
        assert_eq!(sha256(&back), sha256(&input), "round trip, -j {threads}");
        assert!(members(&tsv) >= 400, "{} members", members(&tsv));
        let got = (sha256(&reduced), sha256(&deltas), sha256(&tsv));
        match &reference {
            None => reference = Some(got),
            Some(r) => assert_eq!(&got, r, "-j {threads} differs"),
        }
    }
    for (args, why) in [
        (&["--spaced-seed", "0110"][..], "--spaced-seed must be"),
        (&["--spaced-seed", "1012"][..], "--spaced-seed must be"),
        (
            &["--spaced-seed", "1101", "--kmer-size", "5"][..],
            "disagree",
        ),
    ] {
        let out = run(talaria()
            .args(["reduce", "-i"])
            .arg(&path)
            .arg("-o")
            .arg(dir.path().join("x.fa"))
            .args(args));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(why), "{args:?}: {err}");
        assert!(!dir.path().join("x.fa").exists());
    }
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "[alignment]\nspaced_seed = \"1101\"\n").unwrap();
    let out = ok(talaria().args(["config", "show", "--config"]).arg(&config));
    let toml = String::from_utf8(out.stdout).unwrap();
    assert!(
        toml.lines()
            .any(|l| l.starts_with("spaced_seed = \"1101\"") && l.contains("# from ")),
        "{toml}"
    );
}
