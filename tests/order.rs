//! `[reduce] order`: longest first (CD-HIT's order) on files that can be read twice, arrival
//! order on streams; outputs always in input order; the round trip stays exact even though a
//! member can now come before its representative; refusals name the reason.

mod common;

use common::{families, ok, parse, run, run_with_stdin, sha256, talaria, Families};
use std::io::Write;
use std::path::Path;

/// A short record first, then a longer one that contains it with 40 residues inserted: in
/// arrival order the short one is the representative; longest first, the long one is.
fn short_then_long() -> Vec<u8> {
    let short: Vec<u8> = (0..400u32)
        .map(|i| b"ACDEFGHIKLMNPQRSTVWY"[((i * 7 + i / 3) % 20) as usize])
        .collect();
    let mut long = short[..200].to_vec();
    long.extend_from_slice(b"WWWWWWWWWWYYYYYYYYYYWWWWWWWWWWYYYYYYYYYY");
    long.extend_from_slice(&short[200..]);
    let mut fasta = b">short first\n".to_vec();
    fasta.extend_from_slice(&short);
    fasta.extend_from_slice(b"\n>long second\n");
    fasta.extend_from_slice(&long);
    fasta.push(b'\n');
    fasta
}

struct Outcome {
    reduced: Vec<u8>,
    deltas: Vec<u8>,
    tsv: String,
    clstr: String,
    stderr: String,
}

fn reduce_file(dir: &Path, input: &Path, args: &[&str]) -> Outcome {
    reduce_file_env(dir, input, args, &[])
}

/// [`reduce_file`] with environment variables set (test hooks).
fn reduce_file_env(dir: &Path, input: &Path, args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let (out, deltas, tsv, clstr, back) = (
        dir.join("o.fa"),
        dir.join("o.delta"),
        dir.join("o.tsv"),
        dir.join("o.clstr"),
        dir.join("back.fa"),
    );
    let done = ok(talaria()
        .envs(env.iter().copied())
        .arg("reduce")
        .arg("-i")
        .arg(input)
        .arg("-o")
        .arg(&out)
        .arg("-m")
        .arg(&deltas)
        .arg("--clusters")
        .arg(&tsv)
        .arg("--clstr")
        .arg(&clstr)
        .args(args));
    ok(talaria()
        .arg("reconstruct")
        .arg("-i")
        .arg(&out)
        .arg("-m")
        .arg(&deltas)
        .arg("-o")
        .arg(&back));
    assert_eq!(
        sha256(&std::fs::read(&back).unwrap()),
        sha256(&std::fs::read(input).unwrap()),
        "round trip with {args:?}"
    );
    Outcome {
        reduced: std::fs::read(&out).unwrap(),
        deltas: std::fs::read(&deltas).unwrap(),
        tsv: std::fs::read_to_string(&tsv).unwrap(),
        clstr: std::fs::read_to_string(&clstr).unwrap(),
        stderr: String::from_utf8_lossy(&done.stderr).into_owned(),
    }
}

fn order_line(stderr: &str) -> &str {
    stderr
        .lines()
        .find(|l| l.trim_start().starts_with("order: "))
        .unwrap_or_else(|| panic!("no order line:\n{stderr}"))
        .trim()
}

fn residues_line(stderr: &str) -> &str {
    stderr
        .lines()
        .find(|l| l.trim_start().starts_with("residues: "))
        .unwrap_or_else(|| panic!("no residues line:\n{stderr}"))
        .trim()
}

#[test]
fn longest_first_makes_the_longer_record_the_representative_and_keeps_input_order() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.fa");
    std::fs::write(&input, short_then_long()).unwrap();

    let longest = reduce_file(dir.path(), &input, &[]);
    let ids: Vec<String> = parse(&longest.reduced)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(ids, ["long"], "the longer record represents the pair");
    // One line per record, in input order: the short one (first) names its later representative.
    assert_eq!(longest.tsv, "long\tshort\nlong\tlong\n");
    assert!(
        longest
            .clstr
            .starts_with(">Cluster 0\n0\t440aa, >long... *\n1\t400aa, >short... at "),
        "{}",
        longest.clstr
    );
    assert!(
        order_line(&longest.stderr)
            .starts_with("order: longest first, outputs in input order (2 records scanned"),
        "{}",
        longest.stderr
    );

    let arrival = reduce_file(dir.path(), &input, &["--order", "input"]);
    assert_eq!(arrival.tsv, "short\tshort\nshort\tlong\n");
    assert_eq!(
        order_line(&arrival.stderr),
        "order: input order (as configured)"
    );
}

#[test]
fn longest_first_is_the_same_for_any_thread_count_and_chunk_size() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.fa");
    std::fs::write(
        &input,
        families(&Families {
            families: 40,
            members: 6,
            length: 300,
            divergence: 0.05,
            seed: 99,
            ..Families::default()
        }),
    )
    .unwrap();
    let reference = reduce_file(dir.path(), &input, &["-j", "1"]);
    for args in [&["-j", "2"][..], &["-j", "3", "--chunk-size", "7"]] {
        let other = reduce_file(dir.path(), &input, args);
        assert!(
            other.reduced == reference.reduced,
            "{args:?}: reduced FASTA differs"
        );
        assert!(other.deltas == reference.deltas, "{args:?}: deltas differ");
        assert_eq!(other.tsv, reference.tsv, "{args:?}");
    }
    // Every record appears once in the table, in input order.
    let tsv_members: Vec<&str> = reference
        .tsv
        .lines()
        .map(|l| l.split('\t').nth(1).unwrap())
        .collect();
    let input_ids: Vec<String> = parse(&std::fs::read(&input).unwrap())
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(tsv_members, input_ids);
}

#[test]
fn residues_read_back_from_the_file_decide_exactly_as_residues_held() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.fa");
    // Families in three layouts: LF, CRLF (the chunker's parse, not the plain one) and one
    // residue per line; exact duplicates in other case, so the exact path reads back too.
    let text = families(&Families {
        families: 30,
        members: 8,
        length: 250,
        divergence: 0.04,
        seed: 17,
        ..Families::default()
    });
    let mut mixed = Vec::new();
    for (i, (id, seq)) in parse(&text).into_iter().enumerate() {
        match i % 3 {
            0 => mixed.extend_from_slice(
                format!(">{id}\n{}\n", String::from_utf8_lossy(&seq)).as_bytes(),
            ),
            1 => {
                mixed.extend_from_slice(format!(">{id}\r\n").as_bytes());
                for line in seq.chunks(60) {
                    mixed.extend_from_slice(line);
                    mixed.extend_from_slice(b"\r\n");
                }
            }
            _ => {
                mixed.extend_from_slice(format!(">{id}\n").as_bytes());
                for &b in &seq {
                    mixed.extend_from_slice(&[b, b'\n']);
                }
            }
        }
        if i % 10 == 0 {
            mixed.extend_from_slice(format!(">{id}-dup\n").as_bytes());
            mixed.extend_from_slice(&seq.to_ascii_lowercase());
            mixed.push(b'\n');
        }
    }
    std::fs::write(&input, &mixed).unwrap();
    let from_file = reduce_file(dir.path(), &input, &["-j", "2"]);
    let line = residues_line(&from_file.stderr);
    assert!(
        line.starts_with("residues: read back from the input file, not held ("),
        "{line}"
    );
    let reads: u64 = line
        .split("not held (")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(reads > 100, "{line}");
    assert!(from_file.tsv.lines().any(|l| l.ends_with("-dup")));

    let held = reduce_file_env(
        dir.path(),
        &input,
        &["-j", "2"],
        &[("REDUCE_TEST_HOLD_RESIDUES", "1")],
    );
    assert_eq!(
        residues_line(&held.stderr),
        "residues: held in memory",
        "{}",
        held.stderr
    );
    assert!(held.reduced == from_file.reduced, "reduced FASTA differs");
    assert!(held.deltas == from_file.deltas, "deltas differ");
    assert_eq!(held.tsv, from_file.tsv);
    assert_eq!(held.clstr, from_file.clstr);
}

#[test]
fn deltas_past_the_table_budget_are_recomputed_identically() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.fa");
    std::fs::write(
        &input,
        families(&Families {
            families: 20,
            members: 60,
            length: 400,
            divergence: 0.06,
            seed: 5,
            ..Families::default()
        }),
    )
    .unwrap();
    // LONGEST_FIRST_TEST_DELTA_BUDGET caps the bytes of deltas the table keeps.
    let roomy = reduce_file(dir.path(), &input, &[]);
    assert!(
        roomy.stderr.contains(", 0 deltas recomputed"),
        "{}",
        roomy.stderr
    );
    let out = dir.path().join("tight.fa");
    let deltas = dir.path().join("tight.delta");
    let tight = ok(talaria()
        .arg("reduce")
        .arg("-i")
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .arg("-m")
        .arg(&deltas)
        .env("LONGEST_FIRST_TEST_DELTA_BUDGET", "2000"));
    let stderr = String::from_utf8_lossy(&tight.stderr);
    let recomputed: u64 = order_line(&stderr)
        .split(" deltas recomputed")
        .next()
        .and_then(|t| t.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(recomputed > 100, "{stderr}");
    assert!(std::fs::read(&out).unwrap() == roomy.reduced);
    assert!(
        std::fs::read(&deltas).unwrap() == roomy.deltas,
        "recomputed deltas differ"
    );
}

/// A stream's representatives go to a spill file a MiB at a time and are read back from it:
/// the same outputs as holding them, whatever the thread count.
#[test]
fn a_streams_spilled_residues_decide_exactly_as_residues_held() {
    let dir = tempfile::tempdir().unwrap();
    // Over 3 MB of representatives' residues: three spill batches and some held at the end.
    let text = families(&Families {
        families: 6000,
        members: 2,
        length: 400,
        divergence: 0.05,
        seed: 23,
        ..Families::default()
    });
    let run_stdin = |tag: &str, hold: bool, threads: &str| {
        let (out, deltas) = (
            dir.path().join(format!("{tag}.fa")),
            dir.path().join(format!("{tag}.d")),
        );
        let mut cmd = talaria();
        if hold {
            cmd.env("REDUCE_TEST_HOLD_RESIDUES", "1");
        }
        cmd.args(["reduce", "-i", "-", "-j", threads, "-o"])
            .arg(&out)
            .arg("-m")
            .arg(&deltas);
        let done = run_with_stdin(&mut cmd, &text);
        assert!(
            done.status.success(),
            "{}",
            String::from_utf8_lossy(&done.stderr)
        );
        (
            std::fs::read(&out).unwrap(),
            std::fs::read(&deltas).unwrap(),
            String::from_utf8_lossy(&done.stderr).into_owned(),
        )
    };
    let held = run_stdin("held", true, "2");
    assert_eq!(residues_line(&held.2), "residues: held in memory");
    for threads in ["1", "2"] {
        let spilled = run_stdin("spilled", false, threads);
        let line = residues_line(&spilled.2);
        assert!(
            line.starts_with("residues: spilled to a temporary file a MiB at a time, not held ("),
            "{line}"
        );
        // Whole batches only: the last, partial one stays held.
        assert!(line.contains("(3.0 MiB written; "), "{line}");
        let reads: u64 = line
            .split("written; ")
            .nth(1)
            .and_then(|t| t.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{line}"));
        assert!(reads > 0, "{line}");
        assert!(spilled.0 == held.0, "-j {threads}: reduced FASTA differs");
        assert!(spilled.1 == held.1, "-j {threads}: deltas differ");
    }
}

#[test]
fn streams_and_compressed_files_keep_arrival_order_or_refuse_longest_first() {
    let dir = tempfile::tempdir().unwrap();
    let fasta = short_then_long();
    let run_stdin = |args: &[&str], bytes: &[u8]| {
        run_with_stdin(
            talaria()
                .args(["reduce", "-i", "-", "-o"])
                .arg(dir.path().join("s.fa"))
                .args(args),
            bytes,
        )
    };
    let auto = run_stdin(&[], &fasta);
    assert!(auto.status.success());
    let err = String::from_utf8_lossy(&auto.stderr);
    assert_eq!(
        order_line(&err),
        "order: input order (standard input is read once)"
    );
    let ids: Vec<String> = parse(&std::fs::read(dir.path().join("s.fa")).unwrap())
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(ids, ["short"]);

    let refused = run_stdin(&["--order", "longest-first"], &fasta);
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.trim_end()
            .ends_with("--order longest-first reads the input twice, which standard input does not allow (use --order auto or input)"),
        "{err}"
    );
    assert!(!dir.path().join("s.fa").exists() || auto.status.success());

    let gz = dir.path().join("in.fa.zst");
    std::fs::write(&gz, zstd::encode_all(&fasta[..], 3).unwrap()).unwrap();
    let out = run(talaria()
        .args(["reduce", "--order", "longest-first", "-i"])
        .arg(&gz)
        .arg("-o")
        .arg(dir.path().join("z.fa")));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("which a compressed input does not allow")
    );
    assert!(!dir.path().join("z.fa").exists(), "nothing is committed");
    let out = ok(talaria()
        .args(["reduce", "-i"])
        .arg(&gz)
        .arg("-o")
        .arg(dir.path().join("z.fa")));
    assert_eq!(
        order_line(&String::from_utf8_lossy(&out.stderr)),
        "order: input order (a compressed input is read once)"
    );
}

#[test]
fn a_table_too_large_for_the_memory_limit_falls_back_to_arrival_order() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.fa");
    // 30,000 tiny records need 1.0 MiB of table; 8 MiB of memory leaves it 0.8 MiB.
    let mut fasta = Vec::new();
    for i in 0..30_000u32 {
        writeln!(fasta, ">r{i}\nMKV{}", ["A", "C", "D"][(i % 3) as usize]).unwrap();
    }
    std::fs::write(&input, &fasta).unwrap();
    let auto = reduce_file(dir.path(), &input, &["--memory-limit", "8M"]);
    let line = order_line(&auto.stderr);
    assert!(
        line.starts_with("order: input order (longest first needs 36 bytes a record, more than "),
        "{line}"
    );
    let arrival = reduce_file(
        dir.path(),
        &input,
        &["--memory-limit", "8M", "--order", "input"],
    );
    assert!(auto.reduced == arrival.reduced && auto.deltas == arrival.deltas);
    let out = run(talaria()
        .args([
            "reduce",
            "--memory-limit",
            "8M",
            "--order",
            "longest-first",
            "-i",
        ])
        .arg(&input)
        .arg("-o")
        .arg(dir.path().join("x.fa")));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("raise --memory-limit or use --order auto")
    );
}
