//! Configuration as a user meets it: a TOML file, `TALARIA_*` variables and flags merged in that
//! order of precedence; every mistake reported with the key and the file or variable it came
//! from; the user guide's unimplemented keys refused by name.
//!
//! The environment is passed explicitly (`load_with_env`) so tests cannot race on process state;
//! the one test of the real process environment holds `PROCESS_ENV`.

use std::path::PathBuf;
use std::sync::Mutex;

use talaria::config::{
    self, env_var_name, load_with_env, parse_size, show_with_env, AlphabetChoice, Config,
    Overrides, ThreadAffinity, NOT_IMPLEMENTED,
};
use tempfile::TempDir;

static PROCESS_ENV: Mutex<()> = Mutex::new(());

/// A config file named `config.toml` in a fresh directory (kept alive by the returned `TempDir`).
fn config_file(text: &str) -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn load_err(text: &str, vars: &[(&str, &str)], overrides: &Overrides) -> (String, String) {
    let (_dir, path) = config_file(text);
    let err = load_with_env(Some(&path), overrides, &env(vars))
        .expect_err("configuration should be refused")
        .to_string();
    (err, path.display().to_string())
}

fn file_err(text: &str) -> String {
    let (err, path) = load_err(text, &[], &Overrides::default());
    assert!(
        err.starts_with(&path),
        "error does not name the file: {err}"
    );
    err[path.len()..].to_string()
}

#[test]
fn defaults_without_any_source() {
    let c = load_with_env(None, &Overrides::default(), &[]).unwrap();
    assert_eq!(c, Config::default());
}

#[test]
fn precedence_default_file_env_flag() {
    let (_dir, path) = config_file(
        "[reduce]\nthreshold = 0.5\ncoverage = 0.6\nalphabet = \"protein\"\n\
         [performance]\nthreads = 3\nchunk_size = 77\n",
    );
    let vars = env(&[
        ("TALARIA_REDUCE_COVERAGE", "0.7"),
        ("TALARIA_PERFORMANCE_THREADS", "5"),
        ("PATH", "/usr/bin"),
    ]);
    let flags = Overrides {
        threads: Some(9),
        ..Overrides::default()
    };
    let c = load_with_env(Some(&path), &flags, &vars).unwrap();
    assert_eq!(c.reduce.threshold, 0.5, "file over default");
    assert_eq!(c.reduce.coverage, 0.7, "env over file");
    assert_eq!(c.performance.threads, 9, "flag over env and file");
    assert_eq!(c.performance.chunk_size, 77);
    assert_eq!(c.reduce.alphabet, AlphabetChoice::Protein);
    assert_eq!(
        c.reduce.max_candidates,
        Config::default().reduce.max_candidates
    );

    let shown = show_with_env(Some(&path), &flags, &vars).unwrap();
    let line = |key: &str| {
        shown
            .lines()
            .find(|l| l.starts_with(&format!("{key} =")))
            .unwrap_or_else(|| panic!("no line for {key} in\n{shown}"))
            .to_string()
    };
    let file = path.display().to_string();
    assert!(
        line("threshold").ends_with(&format!("# from {file}")),
        "{shown}"
    );
    assert!(line("coverage").ends_with("# from TALARIA_REDUCE_COVERAGE"));
    assert!(line("threads").ends_with("# from --threads"));
    assert!(line("max_candidates").ends_with("# default"));
    assert!(line("threads").starts_with("threads = 9"));
}

#[test]
fn every_flag_overrides() {
    let flags = Overrides {
        threshold: Some(0.95),
        coverage: Some(0.0),
        alphabet: Some(AlphabetChoice::Nucleotide),
        kmer_size: Some(15),
        max_candidates: Some(4),
        order: Some(talaria::config::ProcessingOrder::Input),
        threads: Some(2),
        memory_limit: Some(512 << 20),
        chunk_size: Some(10),
        use_simd: Some(true),
        simd_alignment: Some(talaria::bio::alignment::SimdLevel::Sse4),
        auto_detect_simd: Some(false),
        use_banding: Some(false),
        band_width: Some(40),
        adaptive_banding: Some(false),
        min_band_width: Some(8),
        max_band_width: Some(64),
        use_sketching: Some(talaria::config::Switch::On),
        sketch_size: Some(16),
        use_approximation: Some(false),
        min_shared_kmers: Some(12),
        spaced_seed: Some(" 1101 ".into()),
        pin_threads: Some(true),
        thread_affinity: Some(ThreadAffinity::Scatter),
        io_engine: Some(talaria::config::IoEngine::Uring),
        lookahead: Some(talaria::config::Switch::On),
        writer_priority: Some(talaria::config::Switch::Off),
        metrics_export: Some(talaria::config::MetricsExport::Statsd),
        profile_preset: Some(talaria::config::ProfilePreset::HighSimilarity),
    };
    let c = load_with_env(None, &flags, &env(&[("TALARIA_REDUCE_THRESHOLD", "0.5")])).unwrap();
    assert_eq!(
        c.monitoring.metrics_export,
        talaria::config::MetricsExport::Statsd
    );
    assert_eq!(c.performance.io_engine, talaria::config::IoEngine::Uring);
    assert_eq!(c.performance.lookahead, talaria::config::Switch::On);
    assert_eq!(c.performance.writer_priority, talaria::config::Switch::Off);
    assert_eq!(
        c.performance.profile_preset,
        talaria::config::ProfilePreset::HighSimilarity
    );
    assert!(c.performance.high_similarity.fast_exact_match);
    assert_eq!(c.reduce.order, talaria::config::ProcessingOrder::Input);
    assert!(!c.alignment.use_approximation);
    assert_eq!(c.alignment.min_shared_kmers, 12);
    assert_eq!(c.alignment.spaced_seed, "1101");
    assert!(!c.alignment.use_banding);
    assert_eq!(c.alignment.band_width, 40);
    assert!(!c.alignment.adaptive_banding);
    assert_eq!(c.alignment.min_band_width, 8);
    assert_eq!(c.alignment.max_band_width, 64);
    assert_eq!(c.alignment.use_sketching, talaria::config::Switch::On);
    assert_eq!(c.alignment.sketch_size, 16);
    assert_eq!(c.reduce.threshold, 0.95);
    assert_eq!(c.reduce.coverage, 0.0);
    assert_eq!(c.reduce.alphabet, AlphabetChoice::Nucleotide);
    assert_eq!(c.reduce.kmer_size, 15);
    assert_eq!(c.reduce.max_candidates, 4);
    assert_eq!(c.performance.threads, 2);
    assert_eq!(c.performance.memory_limit, 512 << 20);
    assert_eq!(c.performance.chunk_size, 10);
    assert_eq!(
        c.performance.simd_alignment,
        talaria::bio::alignment::SimdLevel::Sse4
    );
    assert!(c.performance.use_simd && !c.performance.auto_detect_simd);
    assert!(c.performance.numa.pin_threads);
    assert_eq!(c.performance.numa.thread_affinity, ThreadAffinity::Scatter);
}

#[test]
fn every_key_from_the_environment() {
    let vars = env(&[
        ("TALARIA_REDUCE_THRESHOLD", "0.75"),
        ("TALARIA_REDUCE_COVERAGE", "1"),
        ("TALARIA_REDUCE_ALPHABET", "nucleotide"),
        ("TALARIA_REDUCE_KMER_SIZE", "21"),
        ("TALARIA_REDUCE_MAX_CANDIDATES", "8"),
        ("TALARIA_PERFORMANCE_THREADS", "0"),
        ("TALARIA_PERFORMANCE_MEMORY_LIMIT", "1.5G"),
        ("TALARIA_PERFORMANCE_CHUNK_SIZE", "4096"),
        ("TALARIA_PERFORMANCE_BLOCK_SIZE", "64K"),
        ("TALARIA_PERFORMANCE_NUMA_PIN_THREADS", "yes"),
        ("TALARIA_PERFORMANCE_NUMA_THREAD_AFFINITY", "Scatter"),
        ("TALARIA_PERFORMANCE_ARM_BIG_LITTLE_AWARE", "0"),
        ("TALARIA_LOG", "debug"),
        ("TALARIA_ALIGNMENT_USE_BANDING", "off"),
        ("TALARIA_ALIGNMENT_BAND_WIDTH", "50"),
        ("TALARIA_ALIGNMENT_ADAPTIVE_BANDING", "FALSE"),
        ("TALARIA_ALIGNMENT_MIN_BAND_WIDTH", "20"),
        ("TALARIA_ALIGNMENT_MAX_BAND_WIDTH", "100"),
        ("TALARIA_MONITORING_COLLECT_METRICS", "on"),
        ("TALARIA_MONITORING_METRICS_INTERVAL_MS", "250"),
        ("TALARIA_MONITORING_METRICS_EXPORT", "Prometheus"),
        ("TALARIA_MONITORING_PROMETHEUS_BIND", "::1"),
        ("TALARIA_MONITORING_PROMETHEUS_PORT", "0"),
        ("TALARIA_MONITORING_PROMETHEUS_ENDPOINT", "/talaria/metrics"),
        ("TALARIA_MONITORING_STATSD_HOST", "statsd.example.org"),
        ("TALARIA_MONITORING_STATSD_PORT", "9125"),
    ]);
    let c = load_with_env(None, &Overrides::default(), &vars).unwrap();
    let m = &c.monitoring;
    assert!(m.collect_metrics);
    assert_eq!(m.metrics_interval_ms, 250);
    assert_eq!(m.metrics_export, talaria::config::MetricsExport::Prometheus);
    assert_eq!(m.prometheus_bind.to_string(), "::1");
    assert_eq!(m.prometheus_port, 0);
    assert_eq!(m.prometheus_endpoint, "/talaria/metrics");
    assert_eq!(
        (m.statsd_host.as_str(), m.statsd_port),
        ("statsd.example.org", 9125)
    );
    assert!(!c.alignment.use_banding);
    assert_eq!(c.alignment.band_width, 50);
    assert!(!c.alignment.adaptive_banding);
    assert_eq!(
        (c.alignment.min_band_width, c.alignment.max_band_width),
        (20, 100)
    );
    assert_eq!(c.reduce.threshold, 0.75);
    assert_eq!(c.reduce.coverage, 1.0);
    assert_eq!(c.reduce.alphabet, AlphabetChoice::Nucleotide);
    assert_eq!(c.reduce.kmer_size, 21);
    assert_eq!(c.reduce.max_candidates, 8);
    assert_eq!(c.performance.threads, 0);
    assert_eq!(c.performance.memory_limit, 3 << 29);
    assert_eq!(c.performance.chunk_size, 4096);
    assert_eq!(c.performance.block_size, 64 << 10);
    assert!(c.performance.numa.pin_threads);
    assert_eq!(c.performance.numa.thread_affinity, ThreadAffinity::Scatter);
    assert!(!c.performance.arm.big_little_aware);
    assert_eq!(
        env_var_name("performance.memory_limit"),
        "TALARIA_PERFORMANCE_MEMORY_LIMIT"
    );
}

#[test]
fn show_round_trips_as_a_config_file() {
    let (_dir, path) = config_file("[reduce]\nthreshold = 1\n[performance]\nmemory_limit_gb = 3\n");
    let flags = Overrides {
        alphabet: Some(AlphabetChoice::Protein),
        ..Overrides::default()
    };
    let vars = env(&[("TALARIA_PERFORMANCE_BLOCK_SIZE", "12345")]);
    let loaded = load_with_env(Some(&path), &flags, &vars).unwrap();
    let shown = show_with_env(Some(&path), &flags, &vars).unwrap();
    assert!(shown.contains("memory_limit = \"3G\""), "{shown}");
    assert!(shown.contains("(as memory_limit_gb)"), "{shown}");
    assert!(shown.contains("threshold = 1.0"), "{shown}");
    let (_dir2, again) = config_file(&shown);
    let reloaded = load_with_env(Some(&again), &Overrides::default(), &[]).unwrap();
    assert_eq!(reloaded, loaded);
}

#[test]
fn show_lists_the_refused_keys() {
    let shown = show_with_env(None, &Overrides::default(), &[]).unwrap();
    for (key, reason) in NOT_IMPLEMENTED {
        let line = shown
            .lines()
            .find(|l| l.starts_with('#') && l.split_whitespace().nth(1) == Some(key))
            .unwrap_or_else(|| panic!("{key} missing from\n{shown}"));
        assert!(line.ends_with(reason));
    }
    // Every key of the sections is shown, each with its source.
    for key in [
        "threshold",
        "coverage",
        "alphabet",
        "kmer_size",
        "max_candidates",
    ] {
        assert!(shown.contains(&format!("\n{key} = ")), "{key}");
    }
    for key in ["threads", "memory_limit", "chunk_size", "block_size"] {
        assert!(shown.contains(&format!("\n{key} = ")), "{key}");
    }
    assert!(shown.contains("\n[reduce]\n") && shown.contains("\n[performance]\n"));
}

#[test]
fn ill_typed_values_name_key_and_file() {
    assert_eq!(
        file_err("[reduce]\nthreshold = \"high\"\n"),
        ": key 'reduce.threshold' must be a number between 0 and 1 (0 excluded), got \"high\""
    );
    assert_eq!(
        file_err("[reduce]\ncoverage = 1.5\n"),
        ": key 'reduce.coverage' must be a number between 0 and 1, got 1.5"
    );
    assert_eq!(
        file_err("[reduce]\nkmer_size = 1\n"),
        ": key 'reduce.kmer_size' must be an integer: 0 (auto) or from 2 to 31, got 1"
    );
    assert_eq!(
        file_err("[reduce]\nalphabet = \"dna\"\n"),
        ": key 'reduce.alphabet' must be one of \"auto\", \"protein\", \"nucleotide\", got \"dna\""
    );
    assert_eq!(
        file_err("[reduce]\nmax_candidates = -2\n"),
        ": key 'reduce.max_candidates' must be an integer: 0 (auto) or from 1 to 4294967295, got -2"
    );
    assert_eq!(
        file_err("[performance]\nthreads = -1\n"),
        ": key 'performance.threads' must be an integer from 0 to 4294967295, got -1"
    );
    assert_eq!(
        file_err("[performance]\nchunk_size = 2.5\n"),
        ": key 'performance.chunk_size' must be an integer from 1 to 4294967295, got 2.5"
    );
    assert!(file_err("[performance]\nblock_size = \"1K\"\n")
        .starts_with(": key 'performance.block_size' must be a size"));
    assert!(file_err("[performance]\nmemory_limit = \"lots\"\n")
        .starts_with(": key 'performance.memory_limit' must be a size"));
    assert!(
        file_err("[reduce\n").starts_with(":1:"),
        "TOML syntax errors give line:column"
    );
}

#[test]
fn env_errors_name_the_variable() {
    let err = |vars: &[(&str, &str)]| {
        load_with_env(None, &Overrides::default(), &env(vars))
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        err(&[("TALARIA_REDUCE_THRESHOLD", "high")]),
        "environment variable TALARIA_REDUCE_THRESHOLD (reduce.threshold) must be a number \
         between 0 and 1 (0 excluded), got \"high\""
    );
    assert_eq!(
        err(&[("TALARIA_REDUCE_TRESHOLD", "0.9")]),
        "environment variable TALARIA_REDUCE_TRESHOLD is not a talaria setting \
         (did you mean TALARIA_REDUCE_THRESHOLD?)"
    );
    assert_eq!(
        err(&[("TALARIA_WHATEVER", "1")]),
        "environment variable TALARIA_WHATEVER is not a talaria setting"
    );
    let refused = err(&[("TALARIA_GPU_USE_GPU", "true")]);
    assert!(
        refused.starts_with("environment variable TALARIA_GPU_USE_GPU (gpu.use_gpu) is part of")
            && refused.contains("not implemented in this version"),
        "{refused}"
    );
    assert!(err(&[("TALARIA_PERFORMANCE_MEMORY_LIMIT", "-2G")])
        .starts_with("environment variable TALARIA_PERFORMANCE_MEMORY_LIMIT"));
    assert_eq!(
        err(&[
            ("TALARIA_PERFORMANCE_MEMORY_LIMIT", "2G"),
            ("TALARIA_PERFORMANCE_MEMORY_LIMIT_GB", "2"),
        ]),
        "environment variables TALARIA_PERFORMANCE_MEMORY_LIMIT and \
         TALARIA_PERFORMANCE_MEMORY_LIMIT_GB both set performance.memory_limit; give only one"
    );
}

#[test]
fn flag_errors_name_the_flag() {
    let err = |flags: Overrides| load_with_env(None, &flags, &[]).unwrap_err().to_string();
    assert_eq!(
        err(Overrides {
            threshold: Some(1.5),
            ..Overrides::default()
        }),
        "--threshold must be a number between 0 and 1 (0 excluded), got 1.5"
    );
    assert_eq!(
        err(Overrides {
            chunk_size: Some(0),
            ..Overrides::default()
        }),
        "--chunk-size must be an integer from 1 to 4294967295, got 0"
    );
    assert!(err(Overrides {
        memory_limit: Some(1000),
        ..Overrides::default()
    })
    .starts_with("--memory-limit must be a size"));
}

#[test]
fn kmer_size_is_checked_against_the_alphabet() {
    let (err, path) = load_err(
        "[reduce]\nkmer_size = 20\n",
        &[],
        &Overrides {
            alphabet: Some(AlphabetChoice::Protein),
            ..Overrides::default()
        },
    );
    assert_eq!(
        err,
        format!(
            "{path}: key 'reduce.kmer_size' must be 0 (auto) or from 2 to 12 for \"protein\" \
             sequences (reduce.alphabet from --alphabet), got 20"
        )
    );
    let c = load_with_env(
        None,
        &Overrides::default(),
        &env(&[("TALARIA_REDUCE_KMER_SIZE", "20")]),
    )
    .unwrap();
    assert_eq!(c.reduce.kmer_size, 20, "fine while the alphabet is auto");
}

#[test]
fn every_refused_guide_key_names_key_and_file() {
    for (key, reason) in NOT_IMPLEMENTED {
        let (section, leaf) = key.rsplit_once('.').unwrap();
        let err = file_err(&format!("[{section}]\n{leaf} = true\n"));
        assert_eq!(
            err,
            format!(
                ": key '{key}' is part of talaria's documented configuration but is not \
                 implemented in this version: {reason} (see README, \"Configuration\")"
            )
        );
        let var = env_var_name(key);
        let err = load_with_env(None, &Overrides::default(), &env(&[(&var, "1")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains(&var) && err.contains(reason), "{err}");
    }
}

#[test]
fn guide_examples() {
    // From the user guide's "Memory-aware chunking": memory_limit_gb works, chunk_by_memory is
    // refused by name.
    let (_dir, path) = config_file("[performance]\nmemory_limit_gb = 16\n");
    let c = load_with_env(Some(&path), &Overrides::default(), &[]).unwrap();
    assert_eq!(c.performance.memory_limit, 16 << 30);
    assert!(
        file_err("[performance]\nmemory_limit_gb = 16\nchunk_by_memory = true\n")
            .contains("'performance.chunk_by_memory'")
    );
    // The guide's banding example is accepted as written.
    let (_dir, path) = config_file(
        "[alignment]\n# Enable banded alignment for speed\nuse_banding = true\nband_width = 50\n\
         adaptive_banding = true\nmin_band_width = 20\nmax_band_width = 100\n",
    );
    let c = load_with_env(Some(&path), &Overrides::default(), &[]).unwrap();
    assert!(c.alignment.use_banding && c.alignment.adaptive_banding);
    assert_eq!(
        (
            c.alignment.band_width,
            c.alignment.min_band_width,
            c.alignment.max_band_width
        ),
        (50, 20, 100)
    );
    assert!(file_err("[alignment]\nuse_banding = \"yes\"\n").contains("must be true or false"));
    assert!(
        file_err("[alignment]\nmin_band_width = 200\nmax_band_width = 100\n")
            .contains("min_band_width' (200) must not exceed alignment.max_band_width (100")
    );
    // The guide's approximation example is accepted as written (kmer_size = 21 is past what a
    // protein k-mer packs into 64 bits; reduce refuses it when the alphabet is known).
    let (_dir, path) = config_file(
        "[alignment]\nuse_approximation = true\nkmer_size = 21\nmin_shared_kmers = 10\n",
    );
    let c = load_with_env(Some(&path), &Overrides::default(), &[]).unwrap();
    assert!(c.alignment.use_approximation);
    assert_eq!((c.reduce.kmer_size, c.alignment.min_shared_kmers), (21, 10));
    // The guide's example sketch_size (1000) is past what the 1-in-N sketch can use.
    assert!(
        file_err("[alignment]\nuse_sketching = true\nsketch_size = 1000\n")
            .contains("'alignment.sketch_size'")
    );
    assert_eq!(
        file_err("[performance]\nmemory_limit = \"16G\"\nmemory_limit_gb = 16\n"),
        ": keys 'performance.memory_limit' and 'performance.memory_limit_gb' both set \
         performance.memory_limit; give only one"
    );
}

#[test]
fn unknown_keys_and_sections() {
    assert_eq!(
        file_err("[reduce]\ntreshold = 0.9\n"),
        ": unknown key 'reduce.treshold' (did you mean 'reduce.threshold'?)"
    );
    assert_eq!(
        file_err("[performance]\nmemory_limt = \"2G\"\n"),
        ": unknown key 'performance.memory_limt' (did you mean 'performance.memory_limit'?)"
    );
    assert_eq!(
        file_err("[reduse]\nthreshold = 0.9\n"),
        ": unknown section [reduse] (did you mean 'reduce'?)"
    );
    assert_eq!(
        file_err("[reduce]\ncompletely_different = 1\n"),
        ": unknown key 'reduce.completely_different'"
    );
    assert_eq!(
        file_err("[regression]\nthreshold = 5\n"),
        ": unknown section [regression]"
    );
}

#[test]
fn sizes() {
    assert_eq!(parse_size("512M").unwrap(), 512 << 20);
    assert_eq!(parse_size("2G").unwrap(), 2 << 30);
    assert_eq!(parse_size("2gb").unwrap(), 2 << 30);
    assert_eq!(parse_size("1.5GiB").unwrap(), 3 << 29);
    assert_eq!(parse_size("65536").unwrap(), 65536);
    assert_eq!(parse_size("1T").unwrap(), 1 << 40);
    for bad in ["", "-1", "-512M", "12Q", "99999999999T", "1.5", "abc"] {
        let err = parse_size(bad).expect_err(bad).to_string();
        assert!(err.contains(&format!("\"{bad}\"")), "{err}");
    }
    assert_eq!(config::format_size(512 << 20), "512M");

    let (_dir, path) =
        config_file("[performance]\nmemory_limit = 3000000000\nblock_size = \"2M\"\n");
    let c = load_with_env(Some(&path), &Overrides::default(), &[]).unwrap();
    assert_eq!(c.performance.memory_limit, 3_000_000_000);
    assert_eq!(c.performance.block_size, 2 << 20);

    let (err, _) = load_err(
        "[performance]\nblock_size = \"1G\"\n",
        &[("TALARIA_PERFORMANCE_MEMORY_LIMIT", "512M")],
        &Overrides::default(),
    );
    assert!(
        err.ends_with(
            "key 'performance.block_size' must not exceed the memory limit \
             (512M, from TALARIA_PERFORMANCE_MEMORY_LIMIT), got 1G"
        ),
        "{err}"
    );
}

#[test]
fn config_file_from_talaria_config() {
    let (_dir, path) = config_file("[reduce]\nthreshold = 0.42\n");
    let (_dir2, other) = config_file("[reduce]\nthreshold = 0.24\n");
    let vars = env(&[("TALARIA_CONFIG", path.to_str().unwrap())]);
    let c = load_with_env(None, &Overrides::default(), &vars).unwrap();
    assert_eq!(c.reduce.threshold, 0.42);
    let c = load_with_env(Some(&other), &Overrides::default(), &vars).unwrap();
    assert_eq!(
        c.reduce.threshold, 0.24,
        "--config wins over TALARIA_CONFIG"
    );

    let missing = path.with_file_name("missing.toml");
    let vars = env(&[("TALARIA_CONFIG", missing.to_str().unwrap())]);
    let err = load_with_env(None, &Overrides::default(), &vars)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!(
            "{}: cannot read config file (named by TALARIA_CONFIG)",
            missing.display()
        )),
        "{err}"
    );
}

#[test]
fn process_environment_is_read() {
    let _guard = PROCESS_ENV.lock().unwrap_or_else(|e| e.into_inner());
    std::env::set_var("TALARIA_REDUCE_MAX_CANDIDATES", "7");
    let loaded = config::load(None, &Overrides::default());
    std::env::set_var("TALARIA_REDUCE_MAX_CANDIDATES", "none");
    let refused = config::load(None, &Overrides::default());
    std::env::remove_var("TALARIA_REDUCE_MAX_CANDIDATES");
    assert_eq!(loaded.unwrap().reduce.max_candidates, 7);
    assert!(refused
        .unwrap_err()
        .to_string()
        .starts_with("environment variable TALARIA_REDUCE_MAX_CANDIDATES"));
    assert!(config::show(None, &Overrides::default()).is_ok());
}

#[test]
fn guide_numa_section() {
    // The guide's "NUMA Optimization" example: thread and memory keys.
    let (_dir, path) = config_file(
        "[performance.numa]\npin_threads = true\nthread_affinity = \"scatter\"\n\
         [performance.arm]\nbig_little_aware = false\n",
    );
    let c = load_with_env(Some(&path), &Overrides::default(), &[]).unwrap();
    assert!(c.performance.numa.pin_threads);
    assert_eq!(c.performance.numa.thread_affinity, ThreadAffinity::Scatter);
    assert!(!c.performance.arm.big_little_aware);
    // The memory keys (README, "NUMA and per-L3 queues"), with the guide's values.
    let (_dir2, path2) = config_file(
        "[performance.numa]\nnuma_aware = true\nnuma_nodes = 2\ninterleave_memory = false\n\
         local_allocation = true\npin_threads = true\nthread_affinity = \"compact\"\n\
         [performance.amd]\ninfinity_fabric_aware = true\nccx_affinity = true\n",
    );
    let c = load_with_env(Some(&path2), &Overrides::default(), &[]).unwrap();
    let n = &c.performance.numa;
    assert!(n.numa_aware && n.local_allocation && !n.interleave_memory);
    assert_eq!(n.numa_nodes, 2);
    assert!(c.performance.amd.ccx_affinity && c.performance.amd.infinity_fabric_aware);
    assert!(file_err("[performance.numa]\nnuma_nodes = -1\n").contains("numa_nodes"));
    assert!(file_err("[performance.numa]\nnuma_nodes = 2000\n").contains("numa_nodes"));
    let shown = show_with_env(Some(&path2), &Overrides::default(), &[]).unwrap();
    assert!(shown.contains("numa_nodes = 2"), "{shown}");
    assert!(shown.contains("ccx_affinity = true"), "{shown}");
    assert_eq!(shown.matches("[performance.amd]").count(), 1, "{shown}");
    let defaults = load_with_env(None, &Overrides::default(), &[]).unwrap();
    assert!(!defaults.performance.numa.numa_aware && !defaults.performance.amd.ccx_affinity);
    assert_eq!(defaults.performance.numa.numa_nodes, 0);
    assert_eq!(
        file_err("[performance.numa]\nthread_affinity = \"spread\"\n"),
        ": key 'performance.numa.thread_affinity' must be one of \"compact\", \"scatter\", \"none\", got \"spread\""
    );
    assert!(
        file_err("[performance.numa]\npin_threads = \"yes\"\n").contains("must be true or false")
    );
    let shown = show_with_env(None, &Overrides::default(), &[]).unwrap();
    assert!(
        shown.contains("\n[performance.numa]\npin_threads = false"),
        "{shown}"
    );
    assert!(shown.contains("thread_affinity = \"compact\""), "{shown}");
    assert!(
        shown.contains("\n[performance.arm]\nbig_little_aware = true"),
        "{shown}"
    );
}

#[test]
fn guide_monitoring_section() {
    // The user guide's [monitoring] example, as written.
    let (_dir, path) = config_file(
        "[monitoring]\n# Enable metrics collection\ncollect_metrics = true\nmetrics_interval_ms = 1000\n\n\
         # Prometheus export\nprometheus_port = 9090\nprometheus_endpoint = \"/metrics\"\n\n\
         # StatsD export\nstatsd_host = \"localhost\"\nstatsd_port = 8125\n",
    );
    let c = load_with_env(Some(&path), &Overrides::default(), &[]).unwrap();
    assert_eq!(c.monitoring, Config::default().monitoring);
    let shown = show_with_env(Some(&path), &Overrides::default(), &[]).unwrap();
    let line = |key: &str| {
        shown
            .lines()
            .find(|l| l.starts_with(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("{key} missing from\n{shown}"))
            .to_string()
    };
    assert!(shown.contains("\n[monitoring]\n"), "{shown}");
    assert!(line("prometheus_port").starts_with("prometheus_port = 9090 "));
    assert!(line("prometheus_port").ends_with(&format!("# from {}", path.display())));
    assert!(line("prometheus_bind").starts_with("prometheus_bind = \"127.0.0.1\" "));
    assert!(line("prometheus_bind").ends_with("# default"));
    assert!(line("metrics_export").starts_with("metrics_export = \"none\" "));
    assert!(line("statsd_host").starts_with("statsd_host = \"localhost\" "));
    let flags = Overrides {
        metrics_export: Some(talaria::config::MetricsExport::Prometheus),
        ..Overrides::default()
    };
    let shown = show_with_env(Some(&path), &flags, &[]).unwrap();
    let export = shown
        .lines()
        .find(|l| l.starts_with("metrics_export = "))
        .unwrap();
    assert!(
        export.starts_with("metrics_export = \"prometheus\" "),
        "{export}"
    );
    assert!(export.ends_with("# from --metrics-export"), "{export}");

    for (text, key, expects) in [
        (
            "prometheus_port = 65536",
            "prometheus_port",
            "an integer: 0 (auto) or from 1 to 65535",
        ),
        (
            "statsd_port = 0",
            "statsd_port",
            "an integer from 1 to 65535",
        ),
        (
            "metrics_interval_ms = 5",
            "metrics_interval_ms",
            "an integer from 10 to 3600000",
        ),
        (
            "prometheus_endpoint = \"metrics\"",
            "prometheus_endpoint",
            "a path starting with '/'",
        ),
        (
            "prometheus_endpoint = \"/a b\"",
            "prometheus_endpoint",
            "a path starting with '/'",
        ),
        (
            "prometheus_endpoint = \"/a?b\"",
            "prometheus_endpoint",
            "a path starting with '/'",
        ),
        (
            "prometheus_bind = \"localhost\"",
            "prometheus_bind",
            "an IP address",
        ),
        (
            "statsd_host = \"\"",
            "statsd_host",
            "a host name or IP address",
        ),
        (
            "statsd_host = \"a b\"",
            "statsd_host",
            "a host name or IP address",
        ),
        (
            "metrics_export = \"graphite\"",
            "metrics_export",
            "one of \"none\", \"prometheus\", \"statsd\"",
        ),
        ("collect_metrics = 1", "collect_metrics", "true or false"),
    ] {
        let err = file_err(&format!("[monitoring]\n{text}\n"));
        assert!(
            err.starts_with(&format!(": key 'monitoring.{key}' must be {expects}")),
            "{text}: {err}"
        );
    }
    let (_dir, path) =
        config_file("[monitoring]\nstatsd_host = \"[::1]\"\nprometheus_bind = \"0.0.0.0\"\n");
    let c = load_with_env(Some(&path), &Overrides::default(), &[]).unwrap();
    assert_eq!(c.monitoring.statsd_host, "[::1]");
    assert_eq!(c.monitoring.prometheus_bind.to_string(), "0.0.0.0");
    let err = load_with_env(
        None,
        &Overrides::default(),
        &env(&[("TALARIA_MONITORING_STATSD_PORT", "x")]),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        err,
        "environment variable TALARIA_MONITORING_STATSD_PORT (monitoring.statsd_port) must be an integer from 1 to 65535, got \"x\""
    );
}

#[test]
fn vendor_keys_are_accepted_shown_not_applicable_and_warned_about_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        "[performance.intel]\nuse_mkl = true\nprefetch_hint = \"t0\"\nuse_tsx = true\n\
         [performance.amd]\nuse_aocc = true\n[performance.arm]\nuse_neon = true\nuse_sve = false\n",
    )
    .unwrap();
    let talaria = env!("CARGO_BIN_EXE_talaria");
    let shown = std::process::Command::new(talaria)
        .args(["config", "show", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(shown.status.success());
    let text = String::from_utf8_lossy(&shown.stdout);
    let line = |key: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{key} =")))
            .unwrap_or_else(|| panic!("no {key} in\n{text}"))
            .to_string()
    };
    for key in ["use_mkl", "use_tsx", "use_aocc", "use_neon", "use_sve"] {
        assert!(line(key).contains("; not applicable: "), "{}", line(key));
    }
    assert!(line("use_mkl").contains("no dense linear algebra"));
    let hint = line("prefetch_hint");
    assert!(hint.starts_with("prefetch_hint = \"t0\""), "{hint}");
    assert_eq!(
        hint.contains("not applicable"),
        std::env::consts::ARCH != "x86_64",
        "{hint}"
    );

    // A run warns once per key that differs from its default (use_sve = false does not), and
    // the prefetch hint changes no output.
    let input = common_sample();
    let run = |args: &[&str], out: &std::path::Path| {
        std::process::Command::new(talaria)
            .args(["reduce", "-i"])
            .arg(&input)
            .arg("-o")
            .arg(out)
            .args(args)
            .output()
            .unwrap()
    };
    let (with, plain) = (dir.path().join("with.fa"), dir.path().join("plain.fa"));
    let out = run(&["--config", config.to_str().unwrap()], &with);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let warnings: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("talaria: warning:"))
        .collect();
    assert_eq!(warnings.len(), 4, "{err}");
    for key in [
        "intel.use_mkl",
        "intel.use_tsx",
        "amd.use_aocc",
        "arm.use_neon",
    ] {
        assert_eq!(
            warnings
                .iter()
                .filter(|w| w.contains(&format!(
                    "performance.{key} = true has no effect: not applicable: "
                )))
                .count(),
            1,
            "{key}: {err}"
        );
    }
    assert!(run(&[], &plain).status.success());
    assert_eq!(
        std::fs::read(&with).unwrap(),
        std::fs::read(&plain).unwrap()
    );
    // A bad hint names the key and the values it takes.
    std::fs::write(&config, "[performance.intel]\nprefetch_hint = \"l1\"\n").unwrap();
    let out = run(&["--config", config.to_str().unwrap()], &plain);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("performance.intel.prefetch_hint") && err.contains("\"nta\""),
        "{err}"
    );
}

fn common_sample() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/sample.fasta")
}
