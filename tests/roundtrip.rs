//! reduce -> reconstruct restores the input byte for byte (same sha256), on the shipped sample,
//! on generated protein and DNA families in awkward layouts, through files and through pipes;
//! the cluster table accounts for every record; members are confirmed by an independent aligner.

mod common;

use common::*;
use std::collections::HashMap;

fn check_round_trip(name: &str, input_bytes: &[u8], args: &[&str]) -> (Vec<u8>, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join(name);
    std::fs::write(&input, input_bytes).unwrap();
    let (reduced, _deltas, tsv, back) = round_trip(dir.path(), &input, args);
    assert_eq!(
        sha256(&back),
        sha256(input_bytes),
        "{name}: reconstruct differs from the input"
    );
    (reduced, tsv)
}

/// Every input record appears exactly once, in input order, in the TSV; representatives are
/// their own members and are exactly the records of the reduced FASTA.
fn check_tsv(input: &[u8], reduced: &[u8], tsv: &[u8]) -> Vec<(String, String)> {
    let records = parse(input);
    let reps = parse(reduced);
    let lines: Vec<(String, String)> = String::from_utf8(tsv.to_vec())
        .unwrap()
        .lines()
        .map(|l| {
            let (a, b) = l.split_once('\t').expect("two columns");
            (a.to_string(), b.to_string())
        })
        .collect();
    assert_eq!(lines.len(), records.len(), "one TSV line per input record");
    for ((rep, member), (id, _)) in lines.iter().zip(&records) {
        assert_eq!(member, id, "TSV follows input order");
        assert!(
            reps.iter().any(|(r, _)| r == rep),
            "{rep} is not in the reduced FASTA"
        );
    }
    let self_lines = lines.iter().filter(|(a, b)| a == b).count();
    assert!(self_lines >= reps.len());
    lines
}

#[test]
fn sample_round_trips_and_reduces() {
    let input = std::fs::read(data("sample.fasta")).unwrap();
    let (reduced, tsv) = check_round_trip("sample.fasta", &input, &["-j", "2"]);
    let reps = parse(&reduced).len();
    let total = parse(&input).len();
    assert!(
        reps < total,
        "the UniProt sample has redundancy at 0.9 ({reps} of {total})"
    );
    check_tsv(&input, &reduced, &tsv);
}

#[test]
fn protein_families_in_awkward_layouts_round_trip() {
    for (i, (width, crlf, lowercase)) in [
        (60, false, false),
        (0, false, true),
        (7, true, true),
        (80, true, false),
    ]
    .into_iter()
    .enumerate()
    {
        let input = families(&Families {
            line_width: width,
            crlf,
            lowercase,
            seed: i as u64,
            ..Default::default()
        });
        let (reduced, tsv) = check_round_trip("fam.fa", &input, &[]);
        let reps = parse(&reduced).len();
        // 30 families of 5 at 3% divergence: close to one representative per family.
        assert!(reps <= 45, "{reps} representatives for 30 families");
        check_tsv(&input, &reduced, &tsv);
    }
}

#[test]
fn dna_families_round_trip() {
    let input = families(&Families {
        protein: false,
        length: 1200,
        divergence: 0.01,
        ..Default::default()
    });
    let (reduced, tsv) = check_round_trip("dna.fa", &input, &["--threshold", "0.97"]);
    assert!(parse(&reduced).len() <= 45);
    check_tsv(&input, &reduced, &tsv);
}

#[test]
fn irregular_records_round_trip() {
    let mut input = Vec::new();
    input.extend_from_slice(
        b"\n\n>dup1 first\nACDEFGHIKL\nMNPQ\n\n>dup2 exact duplicate\nACDEFGHIKLMNPQ\n",
    );
    input.extend_from_slice(
        b">empty\n>empty2 also empty\r\n>lower\nacdefghiklmnpq\r\n>stars X and *\nACDEFXXXKLMNP*\n",
    );
    input.extend_from_slice(
        b">ragged\nACD\nEFGHIK\nL\nMNPQ\n>sub substring\nFGHIKLM\n>last no newline\nACDEFGHIKLMNPQ",
    );
    let (reduced, tsv) = check_round_trip("irregular.fa", &input, &["--protein"]);
    let lines = check_tsv(&input, &reduced, &tsv);
    let rep_of: HashMap<&str, &str> = lines
        .iter()
        .map(|(r, m)| (m.as_str(), r.as_str()))
        .collect();
    // Exact duplicates (case-insensitive) join the same representative.
    assert_eq!(rep_of["dup2"], "dup1");
    assert_eq!(rep_of["lower"], "dup1");
    assert_eq!(rep_of["last"], "dup1");
    assert_eq!(rep_of["empty2"], "empty");
}

#[test]
fn fixtures_round_trip_in_every_compression() {
    let plain = std::fs::read(data("tiny.fasta")).unwrap();
    for name in [
        "tiny.fasta",
        "tiny.fasta.gz",
        "tiny.fasta.zst",
        "tiny.fasta.bz2",
        "tiny.fasta.xz",
        "tiny_crlf.fasta",
        "irregular.fasta",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (_, _, _, back) = round_trip(dir.path(), &data(name), &[]);
        let expected = if name.starts_with("tiny.fasta") {
            plain.clone()
        } else {
            std::fs::read(data(name)).unwrap()
        };
        assert_eq!(sha256(&back), sha256(&expected), "{name}");
    }
}

#[test]
fn stdin_to_stdout_streaming_round_trips() {
    let input = families(&Families {
        seed: 99,
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let deltas = dir.path().join("d.delta");
    let out = run_with_stdin(
        talaria()
            .args(["reduce", "-i", "-", "-o", "-", "-m"])
            .arg(&deltas),
        &input,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reduced = out.stdout;
    assert!(!reduced.is_empty());

    let out = run_with_stdin(
        talaria()
            .args(["reconstruct", "-i", "-", "-m"])
            .arg(&deltas)
            .args(["-o", "-"]),
        &reduced,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(sha256(&out.stdout), sha256(&input));
}

#[test]
fn line_width_rewraps_instead_of_restoring() {
    let input = families(&Families {
        line_width: 13,
        seed: 3,
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.fa");
    std::fs::write(&path, &input).unwrap();
    let (out, deltas) = (dir.path().join("o.fa"), dir.path().join("o.delta"));
    ok(talaria()
        .arg("reduce")
        .arg("-i")
        .arg(&path)
        .arg("-o")
        .arg(&out)
        .arg("-m")
        .arg(&deltas));
    let wrapped = dir.path().join("w.fa");
    ok(talaria()
        .arg("reconstruct")
        .arg("-i")
        .arg(&out)
        .arg("-m")
        .arg(&deltas)
        .arg("-o")
        .arg(&wrapped)
        .args(["--line-width", "0"]));
    let text = std::fs::read(&wrapped).unwrap();
    // One header line and one sequence line per record, same records and residues.
    assert_eq!(parse(&text), parse(&input));
    assert_eq!(
        text.iter().filter(|&&b| b == b'\n').count(),
        parse(&input).len() * 2
    );
}

#[test]
fn clstr_lists_every_record_once_with_identities() {
    let input = families(&Families {
        seed: 11,
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.fa");
    std::fs::write(&path, &input).unwrap();
    let (out, clstr) = (dir.path().join("o.fa"), dir.path().join("o.clstr"));
    ok(talaria()
        .arg("reduce")
        .arg("-i")
        .arg(&path)
        .arg("-o")
        .arg(&out)
        .arg("--clstr")
        .arg(&clstr));
    let text = std::fs::read_to_string(&clstr).unwrap();
    let clusters = text.lines().filter(|l| l.starts_with(">Cluster ")).count();
    assert_eq!(clusters, parse(&std::fs::read(&out).unwrap()).len());
    let entries: Vec<&str> = text.lines().filter(|l| !l.starts_with('>')).collect();
    assert_eq!(entries.len(), parse(&input).len());
    assert_eq!(
        entries.iter().filter(|l| l.ends_with("... *")).count(),
        clusters
    );
    for line in entries.iter().filter(|l| !l.ends_with('*')) {
        let pct: f64 = line
            .rsplit("at ")
            .next()
            .unwrap()
            .trim_end_matches('%')
            .parse()
            .unwrap();
        assert!((90.0..=100.0).contains(&pct), "{line}");
    }
}

/// Independent check: a plain semi-global DP (linear gaps, unit scores — deliberately not
/// talaria's scoring or code) finds, for at least 99% of members, an alignment to the assigned
/// representative whose identity over the shorter sequence meets the threshold.
#[test]
fn members_meet_the_threshold_by_an_independent_alignment() {
    let input = std::fs::read(data("sample.fasta")).unwrap();
    let (reduced, tsv) = check_round_trip("sample.fasta", &input, &["--threshold", "0.9"]);
    let lines = check_tsv(&input, &reduced, &tsv);
    let seqs: HashMap<String, Vec<u8>> = parse(&input).into_iter().collect();
    let members: Vec<_> = lines.iter().filter(|(r, m)| r != m).collect();
    assert!(!members.is_empty());
    let confirmed = members
        .iter()
        .filter(|(r, m)| {
            let (a, b) = (&seqs[m.as_str()], &seqs[r.as_str()]);
            max_identity(a, b) as f64 >= 0.9 * a.len().min(b.len()) as f64 - 1e-9
        })
        .count();
    assert!(
        confirmed * 100 >= members.len() * 99,
        "{confirmed} of {} members confirmed",
        members.len()
    );
}

/// Semi-global alignment (free end gaps) maximising +1 identical, -1 mismatch, -1 gap;
/// returns the identical columns on the best path (ties: more identical columns).
fn max_identity(a: &[u8], b: &[u8]) -> usize {
    let m = b.len();
    let mut prev = vec![(0i64, 0usize); m + 1];
    let mut cur = vec![(0i64, 0usize); m + 1];
    let mut best = (0i64, 0usize);
    for (i, &x) in a.iter().enumerate() {
        cur[0] = (0, 0);
        for j in 1..=m {
            let same = x.eq_ignore_ascii_case(&b[j - 1]);
            let d = prev[j - 1];
            let mut cell = (d.0 + if same { 1 } else { -1 }, d.1 + same as usize);
            for c in [prev[j], cur[j - 1]] {
                let c = (c.0 - 1, c.1);
                if c > cell {
                    cell = c;
                }
            }
            cur[j] = cell;
        }
        best = best.max(cur[m]);
        if i + 1 == a.len() {
            for &c in &cur {
                best = best.max(c);
            }
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    best.1
}
