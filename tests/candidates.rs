//! `[alignment]` candidate keys: `use_approximation` (the short-word bound on shared k-mers),
//! `min_shared_kmers` (a floor on top of it) and `kmer_size` (the guide's spelling of
//! `reduce.kmer_size`). Each changes which representatives are aligned, and the round trip stays
//! exact whatever they are.

mod common;

use common::{ok, round_trip, run, sha256, talaria};

/// A 300-residue representative and a member with a substitution every 12 residues
/// (identity 275/300 = 0.917): it keeps about 300 - 5 x 25 = 175 of its 296 distinct 5-mers.
fn pair() -> Vec<u8> {
    let rep: Vec<u8> = (0..300u32)
        .map(|i| b"ACDEFGHIKLMNPQRSTVWY"[((i * 7 + i * i / 5) % 20) as usize])
        .collect();
    let mut member = rep.clone();
    for i in (6..300).step_by(12) {
        member[i] = if member[i] == b'W' { b'Y' } else { b'W' };
    }
    let mut fasta = Vec::new();
    for (id, seq) in [("rep", &rep), ("member", &member)] {
        fasta.extend_from_slice(format!(">{id}\n").as_bytes());
        fasta.extend_from_slice(seq);
        fasta.push(b'\n');
    }
    fasta
}

fn tsv_with(args: &[&str]) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.fa");
    std::fs::write(&input, pair()).unwrap();
    // The exhaustive search (all 5-mers), where the short-word bound is a bound.
    let mut all = vec!["--order", "input", "--use-sketching", "false"];
    all.extend_from_slice(args);
    let (_, _, tsv, back) = round_trip(dir.path(), &input, &all);
    assert_eq!(sha256(&back), sha256(&pair()), "round trip with {args:?}");
    let out = ok(talaria()
        .args(["reduce", "-o"])
        .arg(dir.path().join("again.fa"))
        .arg("-i")
        .arg(&input)
        .args(&all));
    (
        String::from_utf8(tsv).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn the_member_joins_with_the_bound_and_with_any_shared_kmer() {
    let (tsv, summary) = tsv_with(&[]);
    assert_eq!(tsv, "rep\trep\nrep\tmember\n");
    assert!(
        summary.contains("candidates: indexed representatives sharing the k-mers an alignment at the threshold keeps (short-word bound), first 32 in input order"),
        "{summary}"
    );
    let (tsv, summary) = tsv_with(&["--use-approximation", "false"]);
    assert_eq!(tsv, "rep\trep\nrep\tmember\n");
    assert!(
        summary.contains("sharing any k-mer (use_approximation off)"),
        "{summary}"
    );
}

#[test]
fn a_floor_above_the_shared_kmers_keeps_the_member_out() {
    // It shares fewer than 250 of its 5-mers with the representative: no candidate, no join.
    let (tsv, summary) = tsv_with(&["--min-shared-kmers", "250"]);
    assert_eq!(tsv, "rep\trep\nmember\tmember\n");
    assert!(summary.contains("and at least 250"), "{summary}");
    let (tsv, _) = tsv_with(&["--min-shared-kmers", "50"]);
    assert_eq!(tsv, "rep\trep\nrep\tmember\n");
}

#[test]
fn alignment_kmer_size_sets_the_kmer_length_and_clashes_with_reduce_kmer_size() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        "[alignment]\nkmer_size = 4\nmin_shared_kmers = 3\n",
    )
    .unwrap();
    let input = dir.path().join("in.fa");
    std::fs::write(&input, pair()).unwrap();
    let out = ok(talaria()
        .args(["reduce", "--config"])
        .arg(&config)
        .arg("-i")
        .arg(&input)
        .arg("-o")
        .arg(dir.path().join("o.fa")));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("protein k=4"), "{err}");
    let shown = ok(talaria().args(["config", "show", "--config"]).arg(&config));
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(
        text.lines().any(|l| l.starts_with("min_shared_kmers = 3")),
        "{text}"
    );

    std::fs::write(
        &config,
        "[reduce]\nkmer_size = 5\n[alignment]\nkmer_size = 4\n",
    )
    .unwrap();
    let out = run(talaria()
        .args(["reduce", "--config"])
        .arg(&config)
        .arg("-i")
        .arg(&input)
        .arg("-o")
        .arg(dir.path().join("o2.fa")));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("kmer_size"), "{err}");
    assert!(!dir.path().join("o2.fa").exists());
}
