//! The SIMD keys as a user meets them (`performance.use_simd`, `simd_alignment`,
//! `auto_detect_simd`, `--simd`), and the promise behind them: a reduction is byte-identical
//! whatever kernel aligns, on real UniProt proteins (the shipped sample) and generated protein
//! and DNA families, at a high and a low threshold, for any thread count.

mod common;

use common::*;
use std::path::Path;
use talaria::bio::alignment::SimdLevel;
use talaria::config::{load_with_env, Overrides};

/// `--simd` values for every SIMD kernel this CPU runs, and `auto`.
fn kernels() -> Vec<&'static str> {
    SimdLevel::available()
        .into_iter()
        .filter(|&level| level != SimdLevel::Scalar)
        .map(|level| level.name())
        .chain(["auto"])
        .collect()
}

/// Hashes of (reduced FASTA, deltas, TSV) of `input` reduced with `args`, after checking that
/// reconstruct gives the input back and that the summary names the kernel.
fn reduce(dir: &Path, input: &Path, args: &[&str], kernel: &str) -> (String, String, String) {
    let sub = dir.join(format!("{kernel}-{}", args.join("_")));
    std::fs::create_dir(&sub).unwrap();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--simd", kernel]);
    let (reduced, deltas, tsv, back) = round_trip(&sub, input, &all);
    assert_eq!(sha256(&back), sha256(&std::fs::read(input).unwrap()));
    (sha256(&reduced), sha256(&deltas), sha256(&tsv))
}

fn assert_same_for_every_kernel(input: &Path, args: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let scalar = reduce(dir.path(), input, args, "scalar");
    for kernel in kernels() {
        assert_eq!(
            reduce(dir.path(), input, args, kernel),
            scalar,
            "--simd {kernel} {args:?} differs from scalar"
        );
    }
}

#[test]
fn uniprot_sample_identical_for_every_kernel() {
    let sample = data("sample.fasta");
    assert_same_for_every_kernel(&sample, &["-j", "2"]);
    // 0.5: long, gapped alignments in wide bands, on the first 300 records (the whole sample
    // takes tens of seconds per kernel at 0.5).
    let bytes = std::fs::read(&sample).unwrap();
    let starts: Vec<usize> = (0..bytes.len())
        .filter(|&i| bytes[i] == b'>' && (i == 0 || bytes[i - 1] == b'\n'))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let slice = dir.path().join("first300.fa");
    std::fs::write(&slice, &bytes[..starts[300]]).unwrap();
    assert_same_for_every_kernel(&slice, &["-j", "2", "-t", "0.5"]);
}

#[test]
fn generated_families_identical_for_every_kernel_and_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    for (name, protein, divergence) in [("protein", true, 0.12), ("dna", false, 0.04)] {
        let input = families(&Families {
            protein,
            families: 40,
            members: 6,
            length: if protein { 300 } else { 1200 },
            divergence,
            lowercase: true,
            seed: 11,
            ..Default::default()
        });
        let path = dir.path().join(format!("{name}.fa"));
        std::fs::write(&path, &input).unwrap();
        for threads in ["1", "3"] {
            assert_same_for_every_kernel(&path, &["-j", threads, "-t", "0.8"]);
        }
    }
}

#[test]
fn summary_and_json_name_the_kernel() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let out = ok(talaria()
        .args(["reduce", "-i"])
        .arg(data("sample.fasta"))
        .arg("-o")
        .arg(dir.path().join("out.fa"))
        .args(["--simd", "scalar", "--json"])
        .arg(&json));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("kernel: scalar (performance.use_simd = false)"),
        "{stderr}"
    );
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let text = doc.to_string();
    assert!(text.contains("\"simd\":\"scalar"), "{text}");

    let best = SimdLevel::best().name();
    let out = ok(talaria()
        .args(["reduce", "-i"])
        .arg(data("sample.fasta"))
        .arg("-o")
        .arg(dir.path().join("out2.fa")));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "kernel: {best} (auto-detected, the widest this CPU has)"
        )),
        "{stderr}"
    );
}

#[test]
fn a_level_the_cpu_lacks_is_refused_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    for level in SimdLevel::VECTOR {
        let out = run(talaria()
            .args(["reduce", "-i"])
            .arg(data("sample.fasta"))
            .arg("-o")
            .arg(dir.path().join(format!("{level}.fa")))
            .args(["--simd", level.name()]));
        let stderr = String::from_utf8_lossy(&out.stderr);
        match level.check() {
            Ok(()) => {
                assert!(out.status.success(), "{stderr}");
                assert!(
                    stderr.contains(&format!("kernel: {level} (performance.simd_alignment)")),
                    "{stderr}"
                );
            }
            Err(why) => {
                assert_eq!(out.status.code(), Some(2), "{stderr}");
                assert!(stderr.contains(&why), "{stderr}");
                assert!(!dir.path().join(format!("{level}.fa")).exists());
            }
        }
    }
    if cfg!(target_arch = "x86_64") {
        assert!(SimdLevel::Neon.check().is_err());
    }
}

fn load(vars: &[(&str, &str)]) -> Result<talaria::config::Config, String> {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    load_with_env(None, &Overrides::default(), &vars).map_err(|e| e.to_string())
}

#[test]
fn config_keys() {
    // The user guide's example, as written: auto-detection wins over the named level.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.toml");
    std::fs::write(
        &path,
        "[performance]\n# Enable SIMD instructions\nuse_simd = true\nsimd_alignment = \"avx2\"  \
         # Options: sse4, avx2, avx512\n\n# Auto-detect best SIMD level\nauto_detect_simd = true\n",
    )
    .unwrap();
    let c = load_with_env(Some(&path), &Overrides::default(), &[]).unwrap();
    assert_eq!(c.simd_level().unwrap(), SimdLevel::best());
    assert_eq!(
        load(&[]).unwrap().simd_level().unwrap(),
        SimdLevel::best(),
        "default"
    );
    assert_eq!(
        load(&[("TALARIA_PERFORMANCE_USE_SIMD", "false")])
            .unwrap()
            .simd_level()
            .unwrap(),
        SimdLevel::Scalar
    );
    for level in SimdLevel::VECTOR {
        let got = load(&[
            ("TALARIA_PERFORMANCE_AUTO_DETECT_SIMD", "false"),
            ("TALARIA_PERFORMANCE_SIMD_ALIGNMENT", level.name()),
        ]);
        match level.check() {
            Ok(()) => assert_eq!(got.unwrap().simd_level().unwrap(), level),
            Err(why) => {
                let err = got.unwrap_err();
                assert!(
                    err.contains("TALARIA_PERFORMANCE_SIMD_ALIGNMENT") && err.contains(&why),
                    "{err}"
                );
            }
        }
    }
    let err = load(&[("TALARIA_PERFORMANCE_SIMD_ALIGNMENT", "avx3")]).unwrap_err();
    assert!(
        err.contains("one of \"sse4\", \"avx2\", \"avx512\", \"neon\""),
        "{err}"
    );
    let err = load(&[("TALARIA_PERFORMANCE_SIMD_ALIGNMENT", "scalar")]).unwrap_err();
    assert!(err.contains("must be one of"), "{err}");
}

#[test]
fn config_show_and_the_flag() {
    let out = ok(talaria().args(["config", "show", "--simd", "scalar"]));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("use_simd = false"), "{shown}");
    assert!(shown.contains("# from --simd"), "{shown}");
    assert!(
        !shown.contains("#   performance.use_simd"),
        "no longer refused"
    );
    let out = ok(talaria().args(["config", "show", "--simd", "auto"]));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("auto_detect_simd = true"), "{shown}");
    let out = run(talaria().args(["config", "show", "--simd", "avx3"]));
    assert_eq!(out.status.code(), Some(2));
}
