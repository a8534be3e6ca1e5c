//! The same input and options give byte-identical reduced FASTA, deltas and TSV for any thread
//! count and any chunk size.

mod common;

use common::*;

#[test]
fn outputs_identical_for_any_threads_and_chunk_size() {
    // Enough records and families that workers really race and the writer must re-check.
    let input = families(&Families {
        families: 200,
        members: 6,
        divergence: 0.06,
        seed: 5,
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.fa");
    std::fs::write(&path, &input).unwrap();
    let mut reference: Option<(String, String, String)> = None;
    for threads in ["1", "2", "4"] {
        for chunk in ["1", "7", "1000"] {
            let sub = dir.path().join(format!("j{threads}c{chunk}"));
            std::fs::create_dir(&sub).unwrap();
            let (reduced, deltas, tsv, back) =
                round_trip(&sub, &path, &["-j", threads, "--chunk-size", chunk]);
            assert_eq!(sha256(&back), sha256(&input));
            let got = (sha256(&reduced), sha256(&deltas), sha256(&tsv));
            match &reference {
                None => reference = Some(got),
                Some(r) => assert_eq!(&got, r, "-j {threads} --chunk-size {chunk} differs"),
            }
        }
    }
}

#[test]
fn sample_identical_across_thread_counts() {
    let dir = tempfile::tempdir().unwrap();
    let mut seen = Vec::new();
    for threads in ["1", "3"] {
        let sub = dir.path().join(threads);
        std::fs::create_dir(&sub).unwrap();
        let (reduced, deltas, tsv, _) = round_trip(&sub, &data("sample.fasta"), &["-j", threads]);
        seen.push((sha256(&reduced), sha256(&deltas), sha256(&tsv)));
    }
    assert_eq!(seen[0], seen[1]);
}
