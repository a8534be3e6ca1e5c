//! Workload presets (`--profile-preset`, `[performance.high_similarity]`,
//! `[performance.low_similarity]`): what each switch sets, that explicit settings beat a preset,
//! that the high-similarity shortcuts join exactly the records they should, and that outputs stay
//! exact and deterministic with them.

mod common;

use common::{families, ok, round_trip, run, sha256, talaria, Families};
use serde_json::Value;

const RESIDUES: &[u8] = b"ACDEFGHIKLMNPQRSTVWY";

fn protein(len: usize, salt: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| RESIDUES[((i * 7 + i * i / 5 + salt * 13) % 20) as usize])
        .collect()
}

/// A representative and three members: an exact substring, a substitution-only variant (one
/// change every 15 residues: identity 280/300), and a variant with one inserted residue (no
/// ungapped comparison passes it; the DP does).
fn shortcut_set() -> Vec<u8> {
    let rep = protein(300, 0);
    let substring = rep[20..280].to_vec();
    let mut substituted = rep.clone();
    for i in (7..300).step_by(15) {
        substituted[i] = if substituted[i] == b'W' { b'Y' } else { b'W' };
    }
    let mut inserted = rep.clone();
    inserted.insert(150, b'W');
    let mut fasta = Vec::new();
    for (id, seq) in [
        ("rep", &rep),
        ("substring", &substring),
        ("substituted", &substituted),
        ("inserted", &inserted),
    ] {
        fasta.extend_from_slice(format!(">{id} test\n").as_bytes());
        fasta.extend_from_slice(seq);
        fasta.push(b'\n');
    }
    fasta
}

/// Reduce + reconstruct `input` with `args` (round trip checked), returning the clusters table
/// and the `--json` document.
fn reduce_json(input: &[u8], args: &[&str]) -> (String, Value) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.fa");
    std::fs::write(&path, input).unwrap();
    let json = dir.path().join("run.json");
    let mut all = vec!["--order", "input", "--json", json.to_str().unwrap()];
    all.extend_from_slice(args);
    let (_, _, tsv, back) = round_trip(dir.path(), &path, &all);
    assert_eq!(sha256(&back), sha256(input), "round trip with {args:?}");
    let doc = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    (String::from_utf8(tsv).unwrap(), doc)
}

#[test]
fn high_similarity_joins_containment_and_substitutions_without_a_dp() {
    let joined = "rep\trep\nrep\tsubstring\nrep\tsubstituted\nrep\tinserted\n";
    let (tsv, doc) = reduce_json(&shortcut_set(), &["--profile-preset", "high_similarity"]);
    assert_eq!(tsv, joined);
    let s = &doc["summary"];
    let p = &s["preset"];
    assert_eq!(p["preset"], "high_similarity");
    assert_eq!(p["shortcut_exact"], 1, "{p}");
    assert_eq!(p["shortcut_ungapped"], 1, "{p}");
    assert_eq!(p["deltas_zstd_level"], 12);
    // reference_caching turned the cache on.
    assert!(s["cache"].is_object(), "{s}");
    // Only the inserted variant needed the aligner.
    assert_eq!(s["alignments_passed"], 1, "{s}");

    // Without the preset the same joins, every one by the DP, and no preset block.
    let (tsv, doc) = reduce_json(&shortcut_set(), &[]);
    assert_eq!(tsv, joined);
    assert!(doc["summary"]["preset"].is_null());
    assert_eq!(doc["summary"]["alignments_passed"], 3);
}

#[test]
fn each_shortcut_switch_works_alone() {
    let dir = tempfile::tempdir().unwrap();
    for (switch, exact, ungapped) in [("fast_exact_match", 1, 0), ("use_diff_encoding", 1, 1)] {
        let config = dir.path().join(format!("{switch}.toml"));
        std::fs::write(
            &config,
            format!("[performance.high_similarity]\n{switch} = true\n"),
        )
        .unwrap();
        let (_, doc) = reduce_json(&shortcut_set(), &["--config", config.to_str().unwrap()]);
        let p = &doc["summary"]["preset"];
        assert_eq!(p["preset"], "none");
        assert_eq!(
            p["tweaks"],
            serde_json::json!([format!("high_similarity.{switch}")])
        );
        // use_diff_encoding also takes the substring (an ungapped diff with no substitution),
        // and counts it as exact containment only when fast_exact_match is on.
        let (e, u) = (
            p["shortcut_exact"].as_u64().unwrap(),
            p["shortcut_ungapped"].as_u64().unwrap(),
        );
        assert_eq!(e + u, exact + ungapped, "{switch}: {p}");
        if switch == "fast_exact_match" {
            assert_eq!((e, u), (1, 0));
        }
    }
}

#[test]
fn presets_keep_outputs_identical_across_thread_counts() {
    let input = families(&Families {
        families: 40,
        members: 6,
        divergence: 0.02,
        seed: 31,
        ..Families::default()
    });
    for preset in ["high_similarity", "low_similarity"] {
        let mut outputs = Vec::new();
        for threads in ["1", "4"] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("in.fa");
            std::fs::write(&path, &input).unwrap();
            let (reduced, deltas, tsv, back) = round_trip(
                dir.path(),
                &path,
                &[
                    "--profile-preset",
                    preset,
                    "-j",
                    threads,
                    "--chunk-size",
                    "7",
                ],
            );
            assert_eq!(sha256(&back), sha256(&input), "{preset} -j {threads}");
            outputs.push((sha256(&reduced), sha256(&deltas), sha256(&tsv)));
        }
        assert_eq!(outputs[0], outputs[1], "{preset}");
    }
}

fn show(args: &[&str]) -> String {
    String::from_utf8(ok(talaria().arg("config").arg("show").args(args)).stdout).unwrap()
}

/// The `key = value  # comment` line of `key` in `config show` output, spaces collapsed.
fn line<'a>(shown: &'a str, key: &str) -> String {
    let found: &'a str = shown
        .lines()
        .find(|l| l.starts_with(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("{key} not shown:\n{shown}"));
    found.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn low_similarity_sets_its_keys_unless_given() {
    let shown = show(&["--profile-preset", "low-similarity"]);
    let from = "# from performance.low_similarity";
    assert_eq!(
        line(&shown, "use_sketching"),
        format!("use_sketching = true {from}.use_approximate_matching")
    );
    assert_eq!(
        line(&shown, "min_band_width"),
        format!("min_band_width = 64 {from}.increase_band_width")
    );
    assert_eq!(
        line(&shown, "max_candidates"),
        format!("max_candidates = 8 {from}.aggressive_filtering")
    );
    assert_eq!(
        line(&shown, "min_shared_kmers"),
        format!("min_shared_kmers = 2 {from}.aggressive_filtering")
    );
    assert_eq!(
        line(&shown, "increase_band_width"),
        "increase_band_width = true # from performance.profile_preset = \"low_similarity\""
    );
    assert_eq!(
        line(&shown, "cache_size_mb"),
        format!("cache_size_mb = 16 {from}.reduce_cache_size")
    );
    // The high-similarity switches stay off.
    assert_eq!(
        line(&shown, "fast_exact_match"),
        "fast_exact_match = false # default"
    );
    assert_eq!(
        line(&shown, "cache_alignments"),
        "cache_alignments = false # default"
    );
    let high = show(&["--profile-preset", "high_similarity"]);
    assert_eq!(
        line(&high, "cache_alignments"),
        "cache_alignments = true # from performance.high_similarity.reference_caching"
    );

    // Explicit settings win over the preset, from a flag or from the preset's own section.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        "[performance.low_similarity]\nuse_approximate_matching = false\n",
    )
    .unwrap();
    let shown = show(&[
        "--profile-preset",
        "low_similarity",
        "--max-candidates",
        "20",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert_eq!(
        line(&shown, "max_candidates"),
        "max_candidates = 20 # from --max-candidates"
    );
    assert_eq!(
        line(&shown, "use_sketching"),
        "use_sketching = \"auto\" # default"
    );
    assert!(line(&shown, "use_approximate_matching")
        .starts_with("use_approximate_matching = false # from "));
}

#[test]
fn a_switch_applies_without_its_preset() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        "[alignment]\nmin_band_width = 10\n[performance.low_similarity]\nincrease_band_width = true\n",
    )
    .unwrap();
    let shown = show(&["--config", config.to_str().unwrap()]);
    // min_band_width was given, so the switch leaves it alone.
    assert!(line(&shown, "min_band_width").starts_with("min_band_width = 10 # from "));
    std::fs::write(
        &config,
        "[performance.low_similarity]\nincrease_band_width = true\n",
    )
    .unwrap();
    let shown = show(&["--config", config.to_str().unwrap()]);
    assert_eq!(
        line(&shown, "min_band_width"),
        "min_band_width = 64 # from performance.low_similarity.increase_band_width"
    );
    assert_eq!(
        line(&shown, "profile_preset"),
        "profile_preset = \"none\" # default"
    );
}

#[test]
fn unknown_presets_and_unbuilt_sections_are_refused() {
    let out = run(talaria().args(["config", "show", "--profile-preset", "fast"]));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("expected none, high_similarity or low_similarity"),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        "[performance.large_files]\nstreaming_mode = true\n",
    )
    .unwrap();
    let out = run(talaria().args(["config", "show", "--config", config.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("performance.large_files.streaming_mode")
            && err.contains("one streaming code path"),
        "{err}"
    );
}
