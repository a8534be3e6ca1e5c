//! Property: for any FASTA-shaped input (random headers, residues in any case, line widths,
//! LF/CRLF, blank lines, empty records, duplicates, missing final newline), reduce -> reconstruct
//! gives back the exact bytes, and every record is accounted for once. Runs the library's
//! pipeline in-process (the binary is covered by the other round-trip tests).

use proptest::prelude::*;
use talaria::config::Config;
use talaria::reconstruct::{self, ReconstructJob};
use talaria::reduce::{self, ReduceJob};
use talaria_stages::sink::OutputPath;

fn record() -> impl Strategy<Value = (String, Vec<u8>, usize, bool, bool)> {
    (
        "[A-Za-z0-9_|.]{0,12}( [ -~]{0,20})?",
        prop::collection::vec(
            prop::sample::select(b"ACDEFGHIKLMNPQRSTVWYXacdegt*-".to_vec()),
            0..300,
        ),
        0usize..90,
        any::<bool>(),
        any::<bool>(),
    )
}

fn render(records: &[(String, Vec<u8>, usize, bool, bool)], final_newline: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for (header, seq, width, crlf, blank) in records {
        let eol: &[u8] = if *crlf { b"\r\n" } else { b"\n" };
        out.push(b'>');
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(eol);
        let w = if *width == 0 {
            seq.len().max(1)
        } else {
            *width
        };
        for line in seq.chunks(w) {
            out.extend_from_slice(line);
            out.extend_from_slice(eol);
        }
        if *blank {
            out.extend_from_slice(eol);
        }
    }
    if !final_newline {
        while out.last() == Some(&b'\n') || out.last() == Some(&b'\r') {
            out.pop();
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn reduce_then_reconstruct_is_identity(
        mut records in prop::collection::vec(record(), 1..40),
        duplicate in any::<prop::sample::Index>(),
        final_newline in any::<bool>(),
        threshold in 0.5f64..1.0,
    ) {
        // Make sure some records are related: copy one record's residues onto another.
        let n = records.len();
        let (from, to) = (duplicate.index(n), (duplicate.index(n) + 1) % n);
        let seq = records[from].1.clone();
        records[to].1 = seq;
        let input = render(&records, final_newline);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.fa");
        std::fs::write(&path, &input).unwrap();
        let mut config = Config::default();
        config.reduce.threshold = threshold;
        config.performance.threads = 2;
        config.performance.chunk_size = 3;
        let job = ReduceJob {
            input: Some(path),
            output: OutputPath::File(dir.path().join("out.fa")),
            deltas: Some(OutputPath::File(dir.path().join("out.delta"))),
            clusters: None,
            clstr: None,
            config,
        };
        let summary = reduce::run(&job).unwrap();
        prop_assert_eq!(summary.records as usize, records.len());
        prop_assert_eq!(summary.representatives + summary.members, summary.records);
        let back = dir.path().join("back.fa");
        reconstruct::run(&ReconstructJob {
            reduced: Some(dir.path().join("out.fa")),
            deltas: dir.path().join("out.delta"),
            output: OutputPath::File(back.clone()),
            line_width: None,
        })
        .unwrap();
        prop_assert_eq!(std::fs::read(back).unwrap(), input);
    }
}
