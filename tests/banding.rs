//! The `[alignment]` banding options change real behaviour: a member whose alignment needs a
//! path far from the seed diagonal joins with the adaptive band (which spans the seeds) and with
//! no band, and does not with a narrow fixed band; every variant round-trips exactly and reports
//! its band in the summary.

mod common;

use common::{ok, round_trip, sha256, talaria};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const AMINO: &[u8] = b"ACDEFGHIKLMNPQRSTVWY";

/// A representative of 600 residues and a member that is the representative with 40 residues
/// inserted in the middle (identity 600/600 over the shorter sequence, diagonal shift of 40).
fn pair_with_long_insertion() -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(7);
    let rep: Vec<u8> = (0..600)
        .map(|_| AMINO[rng.gen_range(0..AMINO.len())])
        .collect();
    let insert: Vec<u8> = (0..40)
        .map(|_| AMINO[rng.gen_range(0..AMINO.len())])
        .collect();
    let mut member = rep[..300].to_vec();
    member.extend_from_slice(&insert);
    member.extend_from_slice(&rep[300..]);
    let mut fasta = Vec::new();
    for (id, seq) in [("rep", &rep), ("member", &member)] {
        fasta.extend_from_slice(format!(">{id}\n").as_bytes());
        for line in seq.chunks(60) {
            fasta.extend_from_slice(line);
            fasta.push(b'\n');
        }
    }
    fasta
}

fn reduce_tsv(extra: &[&str]) -> (String, String) {
    // Input order, so "rep" (the shorter) comes first and is the representative.
    let args: Vec<&str> = [&["--order", "input"][..], extra].concat();
    let args = &args[..];
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.fa");
    let fasta = pair_with_long_insertion();
    std::fs::write(&input, &fasta).unwrap();
    let (_, _, tsv, back) = round_trip(dir.path(), &input, args);
    assert_eq!(sha256(&back), sha256(&fasta), "round trip with {args:?}");
    let out = ok(talaria()
        .args(["reduce", "-o"])
        .arg(dir.path().join("again.fa"))
        .arg("-i")
        .arg(&input)
        .args(args));
    (
        String::from_utf8(tsv).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn adaptive_band_spans_a_long_insertion() {
    let (tsv, summary) = reduce_tsv(&[]);
    assert_eq!(tsv, "rep\trep\nrep\tmember\n");
    assert!(
        summary.contains("band: adaptive, half-width 16 up to automatic"),
        "{summary}"
    );
}

#[test]
fn unbanded_alignment_finds_it_too() {
    let (tsv, summary) = reduce_tsv(&["--use-banding", "false"]);
    assert_eq!(tsv, "rep\trep\nrep\tmember\n");
    assert!(summary.contains("band: none (whole matrix)"), "{summary}");
}

#[test]
fn a_narrow_fixed_band_cannot_hold_the_path() {
    let (tsv, summary) = reduce_tsv(&["--adaptive-banding", "false", "--band-width", "4"]);
    assert_eq!(tsv, "rep\trep\nmember\tmember\n");
    assert!(summary.contains("band: fixed, half-width 4"), "{summary}");
}

#[test]
fn max_band_width_caps_the_adaptive_band() {
    // The seeds span 40 diagonals, but the band may not exceed half-width 8.
    let (tsv, summary) = reduce_tsv(&["--min-band-width", "4", "--max-band-width", "8"]);
    assert_eq!(tsv, "rep\trep\nmember\tmember\n");
    assert!(
        summary.contains("band: adaptive, half-width 4 up to 8"),
        "{summary}"
    );
}
