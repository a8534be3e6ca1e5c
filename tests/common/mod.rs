//! Shared helpers for the integration tests: run the real binary, make small families of
//! related sequences (independently of talaria's own generator), hash files.
#![allow(dead_code)]

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Runs `cmd` with `input` written to its stdin from another thread (so a child that fills its
/// stdout or stderr pipe first cannot deadlock), stdout and stderr captured. A child that exits
/// before reading everything is not an error here: the caller checks its status.
pub fn run_with_stdin(cmd: &mut Command, input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let bytes = input.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&bytes);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    out
}

pub fn talaria() -> Command {
    Command::new(env!("CARGO_BIN_EXE_talaria"))
}

pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

pub fn sha256(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.stdin(Stdio::null()).output().expect("spawn talaria");
    out
}

/// Run and insist on success, showing stderr otherwise.
pub fn ok(cmd: &mut Command) -> Output {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "talaria failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub struct Families {
    pub protein: bool,
    pub families: usize,
    pub members: usize,
    pub length: usize,
    /// Substitution rate per residue for members.
    pub divergence: f64,
    pub line_width: usize,
    pub crlf: bool,
    pub lowercase: bool,
    pub seed: u64,
}

impl Default for Families {
    fn default() -> Self {
        Families {
            protein: true,
            families: 30,
            members: 5,
            length: 250,
            divergence: 0.03,
            line_width: 60,
            crlf: false,
            lowercase: false,
            seed: 7,
        }
    }
}

/// Families of related sequences, interleaved, with substitutions and short indels.
pub fn families(opts: &Families) -> Vec<u8> {
    let residues: &[u8] = if opts.protein {
        b"ACDEFGHIKLMNPQRSTVWY"
    } else {
        b"ACGT"
    };
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let ancestors: Vec<Vec<u8>> = (0..opts.families)
        .map(|_| {
            let len = rng.gen_range(opts.length / 2..=opts.length * 3 / 2);
            (0..len)
                .map(|_| residues[rng.gen_range(0..residues.len())])
                .collect()
        })
        .collect();
    let mut records = Vec::new();
    for (f, ancestor) in ancestors.iter().enumerate() {
        for m in 0..opts.members {
            let mut seq = Vec::with_capacity(ancestor.len() + 8);
            for &r in ancestor {
                let x: f64 = rng.gen();
                if x < opts.divergence {
                    seq.push(residues[rng.gen_range(0..residues.len())]);
                } else if x < opts.divergence * 1.1 {
                    // deletion
                } else if x < opts.divergence * 1.2 {
                    seq.push(r);
                    seq.push(residues[rng.gen_range(0..residues.len())]);
                } else {
                    seq.push(r);
                }
            }
            if opts.lowercase && m % 3 == 1 {
                let start = rng.gen_range(0..seq.len());
                let end = (start + 40).min(seq.len());
                seq[start..end].make_ascii_lowercase();
            }
            records.push((format!("fam{f}_m{m} family={f} member={m}"), seq));
        }
    }
    // Interleave families deterministically.
    for i in (1..records.len()).rev() {
        let j = rng.gen_range(0..=i);
        records.swap(i, j);
    }
    let eol: &[u8] = if opts.crlf { b"\r\n" } else { b"\n" };
    let mut out = Vec::new();
    for (header, seq) in records {
        out.push(b'>');
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(eol);
        let width = if opts.line_width == 0 {
            seq.len().max(1)
        } else {
            opts.line_width
        };
        for line in seq.chunks(width) {
            out.extend_from_slice(line);
            out.extend_from_slice(eol);
        }
    }
    out
}

/// Parse FASTA into (id, residues) pairs, independently of talaria.
pub fn parse(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let text = String::from_utf8_lossy(bytes);
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if let Some(h) = line.strip_prefix('>') {
            out.push((
                h.split([' ', '\t']).next().unwrap_or("").to_string(),
                Vec::new(),
            ));
        } else if let Some(last) = out.last_mut() {
            last.1.extend_from_slice(line.as_bytes());
        }
    }
    out
}

/// Reduce `input` with `args`, then reconstruct; returns (reduced, deltas, tsv, rebuilt).
pub fn round_trip(dir: &Path, input: &Path, args: &[&str]) -> (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>) {
    let (out, deltas, tsv, back) = (
        dir.join("out.fa"),
        dir.join("out.delta"),
        dir.join("out.tsv"),
        dir.join("back.fa"),
    );
    ok(talaria()
        .arg("reduce")
        .arg("-i")
        .arg(input)
        .arg("-o")
        .arg(&out)
        .arg("-m")
        .arg(&deltas)
        .arg("--clusters")
        .arg(&tsv)
        .args(args));
    ok(talaria()
        .arg("reconstruct")
        .arg("-i")
        .arg(&out)
        .arg("-m")
        .arg(&deltas)
        .arg("-o")
        .arg(&back));
    let read = |p: &Path| std::fs::read(p).unwrap();
    (read(&out), read(&deltas), read(&tsv), read(&back))
}
