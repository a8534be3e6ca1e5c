//! One typed configuration, merged once from defaults < TOML file (`--config`) < `TALARIA_*`
//! environment variables < command-line flags. Nothing past this module sees a raw string.
//! Unknown or ill-typed keys are errors naming the key and where it came from; keys of the
//! user guide that this version does not implement are refused with that reason.
//!
//! The key table (`keys.rs`) is the one place that says which keys exist, their types, ranges,
//! environment variables and flags; `file.rs`, `env.rs` and the flags each turn their source into
//! typed settings, applied here in precedence order; `show.rs` prints the result.

mod env;
mod file;
mod keys;
mod preset;
mod show;
mod size;

use crate::bio::alignment::SimdLevel;
use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

pub use keys::{
    env_var_name, not_applicable, ENV_PREFIX, MIN_MEMORY_LIMIT, NOT_IMPLEMENTED, OTHER_ENV_VARS,
};
use keys::{Field, KeySpec, Value, FIELD_COUNT};
pub use preset::{
    HighSimilarityConfig, LowSimilarityConfig, ProfilePreset, AGGRESSIVE_MAX_CANDIDATES,
    AGGRESSIVE_MIN_SHARED, BAND_FACTOR, DELTA_COMPRESSION_LEVEL,
};
pub use size::format_size;

/// Which alphabet to reduce with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlphabetChoice {
    Auto,
    Protein,
    Nucleotide,
}

/// How aligner threads are laid out on the machine's CPUs (`performance.numa.thread_affinity`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ThreadAffinity {
    /// Fill one L3 domain, then the next.
    Compact,
    /// Spread over NUMA nodes, then L3 domains.
    Scatter,
    /// No placement (nothing is pinned even with `pin_threads`).
    None,
}

impl ThreadAffinity {
    pub fn parse(text: &str) -> Option<ThreadAffinity> {
        match text.trim().to_ascii_lowercase().as_str() {
            "compact" => Some(ThreadAffinity::Compact),
            "scatter" => Some(ThreadAffinity::Scatter),
            "none" => Some(ThreadAffinity::None),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ThreadAffinity::Compact => "compact",
            ThreadAffinity::Scatter => "scatter",
            ThreadAffinity::None => "none",
        }
    }
}

/// `[performance.numa]`: thread placement, and memory placement for pinned aligners.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NumaConfig {
    /// Pin each aligner thread to the CPU the placement plan gives it.
    pub pin_threads: bool,
    pub thread_affinity: ThreadAffinity,
    /// Memory placement for pinned aligners: each builds its own working memory after pinning
    /// (first touch on its node), with the policies below (README, "NUMA and per-L3 queues").
    pub numa_aware: bool,
    /// Place aligners on the first N NUMA nodes of the allowed CPUs (0 = all of them).
    pub numa_nodes: usize,
    /// With numa_aware: the representative index's big arrays interleaved over the nodes in use.
    pub interleave_memory: bool,
    /// With numa_aware: each aligner's policy set to prefer its own node.
    pub local_allocation: bool,
}

/// `[performance.memory]`
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MemoryConfig {
    /// The global allocator the run expects: it must be the one compiled in
    /// ([`crate::alloc::COMPILED`], the default).
    pub allocator: crate::alloc::Allocator,
    /// Advise the representative index's heads table and postings for transparent huge pages.
    pub use_huge_pages: bool,
    /// Idle reader block buffers kept for reuse, in bytes (at most a quarter of the reader's
    /// share of the memory limit); 0 = a fresh buffer per block.
    pub allocation_pool_size: usize,
}

/// `[performance.arm]` (big_little_aware applies to any CPU reporting several kinds, Intel
/// hybrid included). `use_neon` / `use_sve` are accepted and reported not applicable
/// (`keys::not_applicable`): talaria has no NEON or SVE kernel.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ArmConfig {
    /// Pinned aligners take performance cores before efficiency cores.
    pub big_little_aware: bool,
    pub use_neon: bool,
    pub use_sve: bool,
}

/// `[performance.intel]`: `prefetch_hint` is real (the index lookup's prefetch instruction);
/// `use_mkl` and `use_tsx` are accepted and reported not applicable.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IntelConfig {
    pub prefetch_hint: PrefetchHint,
    pub use_mkl: bool,
    pub use_tsx: bool,
}

/// `[performance.amd]`: `use_aocc` is accepted and reported not applicable; `ccx_affinity` and
/// `infinity_fabric_aware` apply to any machine with several L3 domains.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AmdConfig {
    pub use_aocc: bool,
    /// Pinned aligners take chunks from their L3 domain's own queue, in runs of consecutive
    /// chunks, stealing from other domains when theirs is empty.
    pub ccx_affinity: bool,
    /// Stealing prefers domains on the same NUMA node, then package, before other packages.
    pub infinity_fabric_aware: bool,
}

/// `[performance.intel] prefetch_hint`: the prefetch instruction the k-mer index walk issues
/// for the postings it will read next (`none`: no prefetch instruction).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PrefetchHint {
    None,
    T0,
    T1,
    T2,
    Nta,
}

impl PrefetchHint {
    pub const ALL: [PrefetchHint; 5] = [
        PrefetchHint::None,
        PrefetchHint::T0,
        PrefetchHint::T1,
        PrefetchHint::T2,
        PrefetchHint::Nta,
    ];
    pub fn name(self) -> &'static str {
        match self {
            PrefetchHint::None => "none",
            PrefetchHint::T0 => "t0",
            PrefetchHint::T1 => "t1",
            PrefetchHint::T2 => "t2",
            PrefetchHint::Nta => "nta",
        }
    }
    pub fn parse(text: &str) -> Option<PrefetchHint> {
        PrefetchHint::ALL
            .into_iter()
            .find(|h| h.name().eq_ignore_ascii_case(text.trim()))
    }
}

/// `[performance] io_engine`: which reader engine reads the input (README, "Hardware and I/O").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IoEngine {
    Auto,
    Read,
    Mmap,
    Uring,
}

impl IoEngine {
    pub fn name(self) -> &'static str {
        match self {
            IoEngine::Auto => "auto",
            IoEngine::Read => "read",
            IoEngine::Mmap => "mmap",
            IoEngine::Uring => "uring",
        }
    }
    pub fn parse(text: &str) -> Option<IoEngine> {
        [
            IoEngine::Auto,
            IoEngine::Read,
            IoEngine::Mmap,
            IoEngine::Uring,
        ]
        .into_iter()
        .find(|e| e.name().eq_ignore_ascii_case(text.trim()))
    }
}

/// `[reduce] order`: the order records are decided in (README, "How it decides").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProcessingOrder {
    /// Longest first for uncompressed regular files, arrival order for everything else.
    Auto,
    /// Arrival order, always.
    Input,
    /// Longest first; an input that cannot be read twice (a stream, a compressed file) is an
    /// error instead of a silent change of order.
    LongestFirst,
}

impl ProcessingOrder {
    pub fn name(self) -> &'static str {
        match self {
            ProcessingOrder::Auto => "auto",
            ProcessingOrder::Input => "input",
            ProcessingOrder::LongestFirst => "longest-first",
        }
    }
    pub fn parse(text: &str) -> Option<ProcessingOrder> {
        [
            ProcessingOrder::Auto,
            ProcessingOrder::Input,
            ProcessingOrder::LongestFirst,
        ]
        .into_iter()
        .find(|o| o.name().eq_ignore_ascii_case(text.trim()))
    }
}

/// `[alignment] use_sketching`: `true`, `false`, or `"auto"` (talaria chooses from the alphabet
/// and threshold, see `bio::sketch::auto_sketching`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Switch {
    Auto,
    On,
    Off,
}

impl Switch {
    /// How `config show` writes it: TOML's booleans, or the string "auto".
    pub fn toml(self) -> &'static str {
        match self {
            Switch::Auto => "\"auto\"",
            Switch::On => "true",
            Switch::Off => "false",
        }
    }
    pub fn parse(text: &str) -> Option<Switch> {
        if text.trim().eq_ignore_ascii_case("auto") {
            return Some(Switch::Auto);
        }
        keys::boolean(text).map(|b| if b { Switch::On } else { Switch::Off })
    }
}

/// `[monitoring] metrics_export` / `--metrics-export`: where live metrics go while a job runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricsExport {
    None,
    /// Served over HTTP in Prometheus' text format, scraped by a Prometheus server.
    Prometheus,
    /// Pushed as UDP datagrams to a StatsD daemon every `metrics_interval_ms`.
    Statsd,
}

impl MetricsExport {
    pub fn name(self) -> &'static str {
        match self {
            MetricsExport::None => "none",
            MetricsExport::Prometheus => "prometheus",
            MetricsExport::Statsd => "statsd",
        }
    }
    pub fn parse(text: &str) -> Option<MetricsExport> {
        [
            MetricsExport::None,
            MetricsExport::Prometheus,
            MetricsExport::Statsd,
        ]
        .into_iter()
        .find(|e| e.name().eq_ignore_ascii_case(text.trim()))
    }
}

/// `[monitoring]`: live metrics export (README, "Profiling and monitoring").
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MonitoringConfig {
    /// false: no metrics leave the process; asking for an export is then a usage error.
    pub collect_metrics: bool,
    /// Period of the StatsD datagrams (Prometheus reads the figures at each scrape).
    pub metrics_interval_ms: u64,
    pub metrics_export: MetricsExport,
    /// Address the Prometheus endpoint listens on.
    pub prometheus_bind: IpAddr,
    /// TCP port of the Prometheus endpoint; 0 = any free port (printed at start).
    pub prometheus_port: u16,
    pub prometheus_endpoint: String,
    pub statsd_host: String,
    pub statsd_port: u16,
}

/// `[reduce]`
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReduceConfig {
    /// Minimum identity (identical residues / shorter length) to join a representative.
    pub threshold: f64,
    /// Minimum fraction of the member covered by the alignment.
    pub coverage: f64,
    pub alphabet: AlphabetChoice,
    /// k-mer length for candidate search; 0 = chosen from alphabet and threshold.
    pub kmer_size: usize,
    /// At most this many candidate representatives are aligned per record.
    pub max_candidates: usize,
    /// Which record is decided first (outputs are always in input order).
    pub order: ProcessingOrder,
}

/// `[alignment]`: the band each candidate alignment gets (see `reduce::banding`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AlignmentConfig {
    /// Restrict alignments to a band of diagonals; false = whole matrix (within the cell cap).
    pub use_banding: bool,
    /// Half-width of a fixed band (adaptive_banding off); 0 = (1 - threshold) x shorter + 8.
    pub band_width: usize,
    /// Start at min_band_width around the seed diagonals; widen only when needed.
    pub adaptive_banding: bool,
    pub min_band_width: usize,
    /// Widest adaptive half-width; 0 = the automatic rule.
    pub max_band_width: usize,
    /// Index and query only the k-mers of a FracMinHash sketch (see `bio::sketch`); `Auto`
    /// decides from the alphabet and threshold.
    pub use_sketching: Switch,
    /// The sketch keeps 1 in `sketch_size` k-mers, chosen by hash; 0 = chosen with the threshold.
    pub sketch_size: usize,
    /// Candidates must share the k-mers an alignment at the threshold must keep (the
    /// short-word bound); false = any shared k-mer makes a candidate.
    pub use_approximation: bool,
    /// Shared k-mers a candidate needs at least, on top of the bound; 0 = the bound alone.
    pub min_shared_kmers: usize,
    /// The index keys' spaced seed: "auto", "none", or a 0/1 pattern (`bio::kmer::SpacedSeed`).
    pub spaced_seed: String,
}

/// `[performance]`
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PerformanceConfig {
    /// Aligner worker threads; 0 = all CPUs this process may use.
    pub threads: usize,
    /// Memory limit in bytes (channels, index, buffers all live inside it).
    pub memory_limit: u64,
    /// Records per chunk (results do not depend on it).
    pub chunk_size: usize,
    /// Bytes per block the reader hands to the chunker, whatever the engine.
    pub block_size: usize,
    /// false: the scalar reference kernel aligns; true: a SIMD level (same alignments).
    pub use_simd: bool,
    /// The SIMD level used when auto_detect_simd is false; refused if the CPU lacks it.
    pub simd_alignment: SimdLevel,
    /// Use the widest level this CPU has (simd_alignment is then not consulted).
    pub auto_detect_simd: bool,
    pub numa: NumaConfig,
    pub arm: ArmConfig,
    pub intel: IntelConfig,
    pub amd: AmdConfig,
    pub memory: MemoryConfig,
    /// Reader engine.
    pub io_engine: IoEngine,
    /// `auto` may memory-map regular uncompressed files...
    pub use_memory_mapping: bool,
    /// ...of at least this many MiB.
    pub mmap_threshold_mb: u64,
    /// `auto` reads with io_uring what it does not map.
    pub use_async_io: bool,
    /// io_uring reads kept in flight on a regular file.
    pub async_queue_size: usize,
    /// Bytes per io_uring read (and per ring buffer).
    pub io_buffer_size: usize,
    /// Decompress compressed input on its own thread.
    pub parallel_io: bool,
    /// Readahead: keep this many reader blocks of a regular file advised ahead (0 = off).
    pub prefetch_distance: usize,
    /// Threads of the prefetch stage (k-mers, hashes); 0 = max(1, threads / 4).
    pub prefetch_threads: usize,
    /// Aligners try the representatives the writer has not published yet (`reduce::lookahead`):
    /// on, off, or auto (from `lookahead::AUTO_MIN_WORKERS` aligner threads).
    pub lookahead: Switch,
    /// Aligner threads run at a lower priority than the writer (`reduce::priority`):
    /// on, off, or auto (when the aligners and the writer outnumber the allowed CPUs).
    pub writer_priority: Switch,
    /// Threads reading the input: 1 = read and decompress on one, 2 = `reader-raw` reads
    /// compressed input for the decompressing `reader` (as `parallel_io`); 0 = as
    /// `parallel_io` says. More is refused (`keys::IO_THREADS_MAX`).
    pub io_threads: usize,
    /// Lock the representative index's big arrays in RAM...
    pub use_page_locking: bool,
    /// ...up to this many bytes (`locked_memory_gb`), inside the memory limit.
    pub locked_memory: u64,
    /// Workload preset (config/preset.rs) and the switches of its sections.
    pub profile_preset: ProfilePreset,
    pub high_similarity: HighSimilarityConfig,
    pub low_similarity: LowSimilarityConfig,
    /// Keep per-representative profiles for candidate pairs (`reduce::rep_cache`)...
    pub cache_alignments: bool,
    /// ...in this many MiB over all deciding threads, out of the aligners' queue budget...
    pub cache_size_mb: u64,
    /// ...evicting by this policy.
    #[serde(serialize_with = "serialize_eviction")]
    pub cache_eviction: CacheEviction,
}

/// `performance.cache_eviction`: the generic cache's policy (talaria_stages::cache).
pub use talaria_stages::cache::Eviction as CacheEviction;

/// Off by default: on 2,000 UniProt proteins it saved 0.65% of the instructions, on 600 16S
/// genes 0.35% (README, "Reference cache"), too little to take memory by default.
const CACHE_DEFAULT: bool = false;

fn serialize_eviction<S: serde::Serializer>(e: &CacheEviction, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(e.name())
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Config {
    pub reduce: ReduceConfig,
    pub alignment: AlignmentConfig,
    pub performance: PerformanceConfig,
    pub monitoring: MonitoringConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            reduce: ReduceConfig {
                threshold: 0.9,
                coverage: 0.8,
                alphabet: AlphabetChoice::Auto,
                kmer_size: 0,
                max_candidates: 0,
                // Longest first where the input can be read twice: 20k UniProt at 0.9 keeps
                // 14,510 representatives instead of 14,619 (CD-HIT: 14,576); 16S at 0.97, 2,958
                // instead of 2,973 (README, "How it decides").
                order: ProcessingOrder::Auto,
            },
            // Adaptive from 16: 20k UniProt at 0.9 keeps 14,619 representatives (14,627 with a
            // fixed automatic band) in 45% of the CPU time; see reduce::banding.
            alignment: AlignmentConfig {
                use_banding: true,
                band_width: 0,
                adaptive_banding: true,
                min_band_width: 16,
                max_band_width: 0,
                // Off: candidates come from every k-mer, as CD-HIT's filter. On, 1 in 8 is 2.8x
                // faster on 20k UniProt for 16 more representatives (README, "How it decides").
                use_sketching: Switch::Auto,
                sketch_size: 0,
                use_approximation: true,
                min_shared_kmers: 0,
                spaced_seed: "auto".into(),
            },
            performance: PerformanceConfig {
                threads: 0,
                memory_limit: 2 << 30,
                // 64 records: workers decide against fresher snapshots, so the serial writer re-checks
                // less (20k UniProt, 2 threads: 10.8 s at 64 vs 14.0 s at 1024, same output).
                chunk_size: 64,
                block_size: 1 << 20,
                // The widest SIMD level the CPU has; simd_alignment is the user guide's example
                // value, used only with auto_detect_simd = false (README, "SIMD alignment
                // kernels").
                use_simd: true,
                simd_alignment: SimdLevel::Avx2,
                auto_detect_simd: true,
                numa: NumaConfig {
                    pin_threads: false,
                    thread_affinity: ThreadAffinity::Compact,
                    // Memory placement off by default: on one node it changes nothing, and it
                    // needs pinned aligners. The sub-keys follow the guide's example.
                    numa_aware: false,
                    numa_nodes: 0,
                    interleave_memory: false,
                    local_allocation: true,
                },
                arm: ArmConfig {
                    big_little_aware: true,
                    use_neon: false,
                    use_sve: false,
                },
                // No prefetch instruction by default: t0/t1/t2/nta measured no faster on 20k
                // UniProt (README, "Hardware and I/O").
                intel: IntelConfig {
                    prefetch_hint: PrefetchHint::None,
                    use_mkl: false,
                    use_tsx: false,
                },
                amd: AmdConfig {
                    use_aocc: false,
                    // Off by default: it needs pinned aligners, and on one L3 domain (this 2-CPU
                    // VM) there is nothing to keep apart (README, "NUMA and per-L3 queues").
                    ccx_affinity: false,
                    infinity_fabric_aware: true,
                },
                memory: MemoryConfig {
                    allocator: crate::alloc::COMPILED,
                    use_huge_pages: false,
                    // Four 1 MiB blocks: enough that a steady reader never allocates (README,
                    // "Hardware and I/O": read engine 2.x faster hot, reader alone).
                    allocation_pool_size: 4 << 20,
                },
                io_engine: IoEngine::Auto,
                use_memory_mapping: true,
                mmap_threshold_mb: 64,
                use_async_io: false,
                async_queue_size: 100,
                io_buffer_size: 64 << 10,
                parallel_io: false,
                // 16 MiB advised ahead: reader alone from a cold page cache 2-3x faster (read
                // and io_uring), no measurable cost warm (README, "Hardware and I/O").
                prefetch_distance: 16,
                prefetch_threads: 0,
                lookahead: Switch::Auto,
                writer_priority: Switch::Auto,
                io_threads: 0,
                use_page_locking: false,
                locked_memory: 1 << 30,
                profile_preset: ProfilePreset::None,
                high_similarity: HighSimilarityConfig {
                    use_diff_encoding: false,
                    reference_caching: false,
                    delta_compression: false,
                    fast_exact_match: false,
                },
                low_similarity: LowSimilarityConfig {
                    use_approximate_matching: false,
                    increase_band_width: false,
                    reduce_cache_size: false,
                    aggressive_filtering: false,
                },
                cache_alignments: CACHE_DEFAULT,
                cache_size_mb: 64,
                cache_eviction: CacheEviction::Lru,
            },
            // The user guide's [monitoring] example, with the endpoint on loopback only: a
            // job's figures are not published to the network unless prometheus_bind says so.
            monitoring: MonitoringConfig {
                collect_metrics: true,
                metrics_interval_ms: 1000,
                metrics_export: MetricsExport::None,
                prometheus_bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
                prometheus_port: 9090,
                prometheus_endpoint: "/metrics".into(),
                statsd_host: "localhost".into(),
                statsd_port: 8125,
            },
        }
    }
}

/// Values given on the command line (None = not given).
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub threshold: Option<f64>,
    pub coverage: Option<f64>,
    pub alphabet: Option<AlphabetChoice>,
    pub kmer_size: Option<usize>,
    pub max_candidates: Option<usize>,
    pub order: Option<ProcessingOrder>,
    pub use_banding: Option<bool>,
    pub band_width: Option<usize>,
    pub adaptive_banding: Option<bool>,
    pub min_band_width: Option<usize>,
    pub max_band_width: Option<usize>,
    pub use_sketching: Option<Switch>,
    pub sketch_size: Option<usize>,
    pub use_approximation: Option<bool>,
    pub min_shared_kmers: Option<usize>,
    pub spaced_seed: Option<String>,
    pub threads: Option<usize>,
    pub memory_limit: Option<u64>,
    pub chunk_size: Option<usize>,
    /// `--simd`: use_simd, simd_alignment, auto_detect_simd.
    pub use_simd: Option<bool>,
    pub simd_alignment: Option<SimdLevel>,
    pub auto_detect_simd: Option<bool>,
    pub pin_threads: Option<bool>,
    pub thread_affinity: Option<ThreadAffinity>,
    pub io_engine: Option<IoEngine>,
    pub lookahead: Option<Switch>,
    pub writer_priority: Option<Switch>,
    pub metrics_export: Option<MetricsExport>,
    pub profile_preset: Option<ProfilePreset>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Where each effective value came from, for `talaria config show`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Default,
    /// Set by `performance.profile_preset` or one of its switches (config/preset.rs).
    Preset,
    File,
    Env,
    Flag,
}

/// Merge defaults, the file, the environment and the flags into one validated `Config`.
pub fn load(file: Option<&PathBuf>, overrides: &Overrides) -> Result<Config, ConfigError> {
    load_with_env(file, overrides, &env::process_vars()?)
}

/// [`load`] with the environment given as `(name, value)` pairs instead of read from the process
/// (tests; embedding). Pairs not starting with `TALARIA_` are ignored. When `file` is `None`,
/// `TALARIA_CONFIG` in `env` names the config file, if set.
pub fn load_with_env(
    file: Option<&PathBuf>,
    overrides: &Overrides,
    env: &[(String, String)],
) -> Result<Config, ConfigError> {
    Ok(resolve(file, overrides, env)?.config)
}

/// The effective configuration as commented TOML (each key with its source).
pub fn show(file: Option<&PathBuf>, overrides: &Overrides) -> Result<String, ConfigError> {
    show_with_env(file, overrides, &env::process_vars()?)
}

/// [`show()`] with the environment given as `(name, value)` pairs, like [`load_with_env`].
pub fn show_with_env(
    file: Option<&PathBuf>,
    overrides: &Overrides,
    env: &[(String, String)],
) -> Result<String, ConfigError> {
    Ok(show::render(&resolve(file, overrides, env)?))
}

/// Parse a size such as `512M`, `2G`, `1.5GiB`, `65536` (bytes; K/M/G/T are binary multiples).
pub fn parse_size(text: &str) -> Result<u64, ConfigError> {
    size::parse(text)
}

impl Config {
    /// Checks every value's range and the cross-key rules (for a `Config` built in code; `load`
    /// already does this, naming where each value came from).
    pub fn validate(&self) -> Result<(), ConfigError> {
        Resolved {
            config: self.clone(),
            origins: std::array::from_fn(|i| Origin::unnamed(FIELDS[i])),
        }
        .validate()
    }

    /// The aligner kernel the three SIMD keys select (`SimdLevel::resolve`); an error when the
    /// configured level cannot run on this CPU (`load` has already refused that).
    pub fn simd_level(&self) -> Result<SimdLevel, ConfigError> {
        let p = &self.performance;
        SimdLevel::resolve(p.use_simd, p.auto_detect_simd, p.simd_alignment).map_err(ConfigError)
    }

    /// Settings that can have no effect in this build (`keys::not_applicable`) and differ from
    /// their default: (`key = value`, reason), one per key, for the run's warnings.
    pub fn not_applicable_settings(&self) -> Vec<(String, String)> {
        let defaults = Config::default();
        keys::KEYS
            .iter()
            .filter(|spec| keys::canonical(spec.field).name == spec.name)
            .filter(|spec| self.get(spec.field) != defaults.get(spec.field))
            .filter_map(|spec| {
                let why = keys::not_applicable(spec.name)?;
                let value = show::toml_value(spec, &self.get(spec.field));
                Some((format!("{} = {value}", spec.name), why))
            })
            .collect()
    }

    fn get(&self, field: Field) -> Value {
        let (r, a, p, m) = (
            &self.reduce,
            &self.alignment,
            &self.performance,
            &self.monitoring,
        );
        match field {
            Field::Threshold => Value::Number(r.threshold),
            Field::Coverage => Value::Number(r.coverage),
            Field::Alphabet => Value::Alphabet(r.alphabet),
            Field::KmerSize => Value::Count(r.kmer_size as u64),
            Field::MaxCandidates => Value::Count(r.max_candidates as u64),
            Field::Order => Value::Order(r.order),
            Field::UseBanding => Value::Bool(a.use_banding),
            Field::BandWidth => Value::Count(a.band_width as u64),
            Field::AdaptiveBanding => Value::Bool(a.adaptive_banding),
            Field::MinBandWidth => Value::Count(a.min_band_width as u64),
            Field::MaxBandWidth => Value::Count(a.max_band_width as u64),
            Field::UseSketching => Value::Switch(a.use_sketching),
            Field::SketchSize => Value::Count(a.sketch_size as u64),
            Field::UseApproximation => Value::Bool(a.use_approximation),
            Field::MinSharedKmers => Value::Count(a.min_shared_kmers as u64),
            Field::SpacedSeed => Value::Text(a.spaced_seed.clone()),
            Field::Threads => Value::Count(p.threads as u64),
            Field::MemoryLimit => Value::Count(p.memory_limit),
            Field::ChunkSize => Value::Count(p.chunk_size as u64),
            Field::BlockSize => Value::Count(p.block_size as u64),
            Field::UseSimd => Value::Bool(p.use_simd),
            Field::SimdAlignment => Value::Simd(p.simd_alignment),
            Field::AutoDetectSimd => Value::Bool(p.auto_detect_simd),
            Field::PinThreads => Value::Bool(p.numa.pin_threads),
            Field::ThreadAffinity => Value::Affinity(p.numa.thread_affinity),
            Field::BigLittleAware => Value::Bool(p.arm.big_little_aware),
            Field::UseNeon => Value::Bool(p.arm.use_neon),
            Field::UseSve => Value::Bool(p.arm.use_sve),
            Field::PrefetchHint => Value::Prefetch(p.intel.prefetch_hint),
            Field::UseMkl => Value::Bool(p.intel.use_mkl),
            Field::UseTsx => Value::Bool(p.intel.use_tsx),
            Field::UseAocc => Value::Bool(p.amd.use_aocc),
            Field::IoEngine => Value::IoEngine(p.io_engine),
            Field::UseMemoryMapping => Value::Bool(p.use_memory_mapping),
            Field::MmapThresholdMb => Value::Count(p.mmap_threshold_mb),
            Field::UseAsyncIo => Value::Bool(p.use_async_io),
            Field::AsyncQueueSize => Value::Count(p.async_queue_size as u64),
            Field::IoBufferSize => Value::Count(p.io_buffer_size as u64),
            Field::ParallelIo => Value::Bool(p.parallel_io),
            Field::PrefetchDistance => Value::Count(p.prefetch_distance as u64),
            Field::PrefetchThreads => Value::Count(p.prefetch_threads as u64),
            Field::Lookahead => Value::Switch(p.lookahead),
            Field::WriterPriority => Value::Switch(p.writer_priority),
            Field::IoThreads => Value::Count(p.io_threads as u64),
            Field::AllocationPoolSize => Value::Count(p.memory.allocation_pool_size as u64),
            Field::Allocator => Value::Allocator(p.memory.allocator),
            Field::UseHugePages => Value::Bool(p.memory.use_huge_pages),
            Field::UsePageLocking => Value::Bool(p.use_page_locking),
            Field::LockedMemory => Value::Count(p.locked_memory),
            Field::CacheAlignments => Value::Bool(p.cache_alignments),
            Field::CacheSizeMb => Value::Count(p.cache_size_mb),
            Field::CacheEviction => Value::Eviction(p.cache_eviction),
            Field::CollectMetrics => Value::Bool(m.collect_metrics),
            Field::MetricsInterval => Value::Count(m.metrics_interval_ms),
            Field::MetricsExport => Value::Export(m.metrics_export),
            Field::PrometheusBind => Value::Ip(m.prometheus_bind),
            Field::PrometheusPort => Value::Count(m.prometheus_port.into()),
            Field::PrometheusEndpoint => Value::Text(m.prometheus_endpoint.clone()),
            Field::StatsdHost => Value::Text(m.statsd_host.clone()),
            Field::StatsdPort => Value::Count(m.statsd_port.into()),
            Field::ProfilePreset => Value::Preset(p.profile_preset),
            Field::UseDiffEncoding => Value::Bool(p.high_similarity.use_diff_encoding),
            Field::DeltaCompression => Value::Bool(p.high_similarity.delta_compression),
            Field::FastExactMatch => Value::Bool(p.high_similarity.fast_exact_match),
            Field::UseApproximateMatching => Value::Bool(p.low_similarity.use_approximate_matching),
            Field::IncreaseBandWidth => Value::Bool(p.low_similarity.increase_band_width),
            Field::AggressiveFiltering => Value::Bool(p.low_similarity.aggressive_filtering),
            Field::ReferenceCaching => Value::Bool(p.high_similarity.reference_caching),
            Field::ReduceCacheSize => Value::Bool(p.low_similarity.reduce_cache_size),
            Field::NumaAware => Value::Bool(p.numa.numa_aware),
            Field::NumaNodes => Value::Count(p.numa.numa_nodes as u64),
            Field::InterleaveMemory => Value::Bool(p.numa.interleave_memory),
            Field::LocalAllocation => Value::Bool(p.numa.local_allocation),
            Field::CcxAffinity => Value::Bool(p.amd.ccx_affinity),
            Field::InfinityFabricAware => Value::Bool(p.amd.infinity_fabric_aware),
        }
    }

    /// Stores a value already checked against its key's kind (whose ranges fit `usize`).
    fn set(&mut self, field: Field, value: Value) {
        let count = |v: Value| match v {
            Value::Count(n) => n,
            other => unreachable!("{field:?} takes a count, got {other:?}"),
        };
        let port = |v: Value| u16::try_from(count(v)).expect("ports are checked to fit 16 bits");
        let (r, a, p, m) = (
            &mut self.reduce,
            &mut self.alignment,
            &mut self.performance,
            &mut self.monitoring,
        );
        match (field, value) {
            (Field::Threshold, Value::Number(x)) => r.threshold = x,
            (Field::Coverage, Value::Number(x)) => r.coverage = x,
            (Field::Alphabet, Value::Alphabet(a)) => r.alphabet = a,
            (Field::KmerSize, v) => r.kmer_size = count(v) as usize,
            (Field::MaxCandidates, v) => r.max_candidates = count(v) as usize,
            (Field::Order, Value::Order(o)) => r.order = o,
            (Field::UseBanding, Value::Bool(b)) => a.use_banding = b,
            (Field::BandWidth, v) => a.band_width = count(v) as usize,
            (Field::AdaptiveBanding, Value::Bool(b)) => a.adaptive_banding = b,
            (Field::MinBandWidth, v) => a.min_band_width = count(v) as usize,
            (Field::MaxBandWidth, v) => a.max_band_width = count(v) as usize,
            (Field::UseSketching, Value::Switch(b)) => a.use_sketching = b,
            (Field::SketchSize, v) => a.sketch_size = count(v) as usize,
            (Field::UseApproximation, Value::Bool(b)) => a.use_approximation = b,
            (Field::MinSharedKmers, v) => a.min_shared_kmers = count(v) as usize,
            (Field::SpacedSeed, Value::Text(t)) => a.spaced_seed = t,
            (Field::Threads, v) => p.threads = count(v) as usize,
            (Field::MemoryLimit, v) => p.memory_limit = count(v),
            (Field::ChunkSize, v) => p.chunk_size = count(v) as usize,
            (Field::BlockSize, v) => p.block_size = count(v) as usize,
            (Field::UseSimd, Value::Bool(b)) => p.use_simd = b,
            (Field::SimdAlignment, Value::Simd(level)) => p.simd_alignment = level,
            (Field::AutoDetectSimd, Value::Bool(b)) => p.auto_detect_simd = b,
            (Field::PinThreads, Value::Bool(b)) => p.numa.pin_threads = b,
            (Field::ThreadAffinity, Value::Affinity(a)) => p.numa.thread_affinity = a,
            (Field::BigLittleAware, Value::Bool(b)) => p.arm.big_little_aware = b,
            (Field::UseNeon, Value::Bool(b)) => p.arm.use_neon = b,
            (Field::UseSve, Value::Bool(b)) => p.arm.use_sve = b,
            (Field::PrefetchHint, Value::Prefetch(h)) => p.intel.prefetch_hint = h,
            (Field::UseMkl, Value::Bool(b)) => p.intel.use_mkl = b,
            (Field::UseTsx, Value::Bool(b)) => p.intel.use_tsx = b,
            (Field::UseAocc, Value::Bool(b)) => p.amd.use_aocc = b,
            (Field::IoEngine, Value::IoEngine(e)) => p.io_engine = e,
            (Field::UseMemoryMapping, Value::Bool(b)) => p.use_memory_mapping = b,
            (Field::MmapThresholdMb, v) => p.mmap_threshold_mb = count(v),
            (Field::UseAsyncIo, Value::Bool(b)) => p.use_async_io = b,
            (Field::AsyncQueueSize, v) => p.async_queue_size = count(v) as usize,
            (Field::IoBufferSize, v) => p.io_buffer_size = count(v) as usize,
            (Field::ParallelIo, Value::Bool(b)) => p.parallel_io = b,
            (Field::PrefetchDistance, v) => p.prefetch_distance = count(v) as usize,
            (Field::PrefetchThreads, v) => p.prefetch_threads = count(v) as usize,
            (Field::Lookahead, Value::Switch(b)) => p.lookahead = b,
            (Field::WriterPriority, Value::Switch(b)) => p.writer_priority = b,
            (Field::IoThreads, v) => p.io_threads = count(v) as usize,
            (Field::AllocationPoolSize, v) => p.memory.allocation_pool_size = count(v) as usize,
            (Field::Allocator, Value::Allocator(a)) => p.memory.allocator = a,
            (Field::UseHugePages, Value::Bool(b)) => p.memory.use_huge_pages = b,
            (Field::UsePageLocking, Value::Bool(b)) => p.use_page_locking = b,
            (Field::LockedMemory, v) => p.locked_memory = count(v),
            (Field::CacheAlignments, Value::Bool(b)) => p.cache_alignments = b,
            (Field::CacheSizeMb, v) => p.cache_size_mb = count(v),
            (Field::CacheEviction, Value::Eviction(e)) => p.cache_eviction = e,
            (Field::CollectMetrics, Value::Bool(b)) => m.collect_metrics = b,
            (Field::MetricsInterval, v) => m.metrics_interval_ms = count(v),
            (Field::MetricsExport, Value::Export(e)) => m.metrics_export = e,
            (Field::PrometheusBind, Value::Ip(ip)) => m.prometheus_bind = ip,
            (Field::PrometheusPort, v) => m.prometheus_port = port(v),
            (Field::PrometheusEndpoint, Value::Text(t)) => m.prometheus_endpoint = t,
            (Field::StatsdHost, Value::Text(t)) => m.statsd_host = t,
            (Field::StatsdPort, v) => m.statsd_port = port(v),
            (Field::ProfilePreset, Value::Preset(x)) => p.profile_preset = x,
            (Field::UseDiffEncoding, Value::Bool(b)) => p.high_similarity.use_diff_encoding = b,
            (Field::DeltaCompression, Value::Bool(b)) => p.high_similarity.delta_compression = b,
            (Field::FastExactMatch, Value::Bool(b)) => p.high_similarity.fast_exact_match = b,
            (Field::UseApproximateMatching, Value::Bool(b)) => {
                p.low_similarity.use_approximate_matching = b
            }
            (Field::IncreaseBandWidth, Value::Bool(b)) => p.low_similarity.increase_band_width = b,
            (Field::AggressiveFiltering, Value::Bool(b)) => {
                p.low_similarity.aggressive_filtering = b
            }
            (Field::ReferenceCaching, Value::Bool(b)) => p.high_similarity.reference_caching = b,
            (Field::ReduceCacheSize, Value::Bool(b)) => p.low_similarity.reduce_cache_size = b,
            (Field::NumaAware, Value::Bool(b)) => p.numa.numa_aware = b,
            (Field::NumaNodes, v) => p.numa.numa_nodes = count(v) as usize,
            (Field::InterleaveMemory, Value::Bool(b)) => p.numa.interleave_memory = b,
            (Field::LocalAllocation, Value::Bool(b)) => p.numa.local_allocation = b,
            (Field::CcxAffinity, Value::Bool(b)) => p.amd.ccx_affinity = b,
            (Field::InfinityFabricAware, Value::Bool(b)) => p.amd.infinity_fabric_aware = b,
            (field, value) => unreachable!("{field:?} cannot hold {value:?}"),
        }
    }
}

/// Every field, indexed by `Field as usize`.
const FIELDS: [Field; FIELD_COUNT] = [
    Field::Threshold,
    Field::Coverage,
    Field::Alphabet,
    Field::KmerSize,
    Field::MaxCandidates,
    Field::Order,
    Field::UseBanding,
    Field::BandWidth,
    Field::AdaptiveBanding,
    Field::MinBandWidth,
    Field::MaxBandWidth,
    Field::UseSketching,
    Field::SketchSize,
    Field::UseApproximation,
    Field::MinSharedKmers,
    Field::SpacedSeed,
    Field::Threads,
    Field::MemoryLimit,
    Field::ChunkSize,
    Field::BlockSize,
    Field::UseSimd,
    Field::SimdAlignment,
    Field::AutoDetectSimd,
    Field::IoEngine,
    Field::UseMemoryMapping,
    Field::MmapThresholdMb,
    Field::UseAsyncIo,
    Field::AsyncQueueSize,
    Field::IoBufferSize,
    Field::ParallelIo,
    Field::PrefetchDistance,
    Field::PrefetchThreads,
    Field::Lookahead,
    Field::WriterPriority,
    Field::IoThreads,
    Field::PinThreads,
    Field::ThreadAffinity,
    Field::BigLittleAware,
    Field::UseNeon,
    Field::UseSve,
    Field::PrefetchHint,
    Field::UseMkl,
    Field::UseTsx,
    Field::UseAocc,
    Field::Allocator,
    Field::UseHugePages,
    Field::AllocationPoolSize,
    Field::UsePageLocking,
    Field::LockedMemory,
    Field::CacheAlignments,
    Field::CacheSizeMb,
    Field::CacheEviction,
    Field::CollectMetrics,
    Field::MetricsInterval,
    Field::MetricsExport,
    Field::PrometheusBind,
    Field::PrometheusPort,
    Field::PrometheusEndpoint,
    Field::StatsdHost,
    Field::StatsdPort,
    Field::ProfilePreset,
    Field::UseDiffEncoding,
    Field::DeltaCompression,
    Field::FastExactMatch,
    Field::UseApproximateMatching,
    Field::IncreaseBandWidth,
    Field::AggressiveFiltering,
    Field::ReferenceCaching,
    Field::ReduceCacheSize,
    Field::NumaAware,
    Field::NumaNodes,
    Field::InterleaveMemory,
    Field::LocalAllocation,
    Field::CcxAffinity,
    Field::InfinityFabricAware,
];

/// Where one effective value came from.
#[derive(Clone, Debug)]
pub(crate) struct Origin {
    source: Source,
    /// The file as given, the variable or the flag; empty for defaults.
    name: String,
    /// The key as spelled at the source (an alias such as `memory_limit_gb` shows here).
    key: &'static str,
}

impl Origin {
    fn unnamed(field: Field) -> Origin {
        Origin {
            source: Source::Default,
            name: String::new(),
            key: keys::canonical(field).name,
        }
    }

    /// The start of an error message about this value.
    fn subject(&self) -> String {
        match self.source {
            Source::Default => format!("key '{}'", self.key),
            Source::Preset => format!("key '{}' (set by {})", self.key, self.name),
            Source::File => format!("{}: key '{}'", self.name, self.key),
            Source::Env => format!("environment variable {} ({})", self.name, self.key),
            Source::Flag => self.name.clone(),
        }
    }
}

/// One typed value from one source.
pub(crate) struct Setting {
    spec: &'static KeySpec,
    value: Value,
    origin: Origin,
}

/// The merged configuration and where each field's value came from.
pub(crate) struct Resolved {
    config: Config,
    origins: [Origin; FIELD_COUNT],
}

fn resolve(
    file: Option<&PathBuf>,
    overrides: &Overrides,
    env: &[(String, String)],
) -> Result<Resolved, ConfigError> {
    let mut resolved = Resolved {
        config: Config::default(),
        origins: std::array::from_fn(|i| Origin::unnamed(FIELDS[i])),
    };
    let from_file = match file {
        Some(path) => Some(file::read(path, None)?),
        None => match env::config_file(env) {
            Some(path) => Some(file::read(Path::new(path), Some("TALARIA_CONFIG"))?),
            None => None,
        },
    };
    if let Some(settings) = from_file {
        resolved.apply(settings)?;
    }
    resolved.apply(env::settings(env)?)?;
    resolved.apply(flag_settings(overrides))?;
    resolved.apply_preset();
    resolved.validate()?;
    Ok(resolved)
}

/// The flags given, as settings (range-checked with everything else in `validate`).
fn flag_settings(o: &Overrides) -> Vec<Setting> {
    let count = |n: Option<usize>| n.map(|n| Value::Count(n as u64));
    let given = [
        ("reduce.threshold", o.threshold.map(Value::Number)),
        ("reduce.coverage", o.coverage.map(Value::Number)),
        ("reduce.alphabet", o.alphabet.map(Value::Alphabet)),
        ("reduce.kmer_size", count(o.kmer_size)),
        ("reduce.max_candidates", count(o.max_candidates)),
        ("reduce.order", o.order.map(Value::Order)),
        ("alignment.use_banding", o.use_banding.map(Value::Bool)),
        ("alignment.band_width", count(o.band_width)),
        (
            "alignment.adaptive_banding",
            o.adaptive_banding.map(Value::Bool),
        ),
        ("alignment.min_band_width", count(o.min_band_width)),
        ("alignment.max_band_width", count(o.max_band_width)),
        (
            "alignment.use_sketching",
            o.use_sketching.map(Value::Switch),
        ),
        ("alignment.sketch_size", count(o.sketch_size)),
        (
            "alignment.use_approximation",
            o.use_approximation.map(Value::Bool),
        ),
        ("alignment.min_shared_kmers", count(o.min_shared_kmers)),
        (
            "alignment.spaced_seed",
            o.spaced_seed
                .clone()
                .map(|t| Value::Text(t.trim().to_ascii_lowercase())),
        ),
        ("performance.threads", count(o.threads)),
        ("performance.memory_limit", o.memory_limit.map(Value::Count)),
        ("performance.chunk_size", count(o.chunk_size)),
        ("performance.use_simd", o.use_simd.map(Value::Bool)),
        (
            "performance.simd_alignment",
            o.simd_alignment.map(Value::Simd),
        ),
        (
            "performance.auto_detect_simd",
            o.auto_detect_simd.map(Value::Bool),
        ),
        (
            "performance.numa.pin_threads",
            o.pin_threads.map(Value::Bool),
        ),
        (
            "performance.numa.thread_affinity",
            o.thread_affinity.map(Value::Affinity),
        ),
        ("performance.io_engine", o.io_engine.map(Value::IoEngine)),
        ("performance.lookahead", o.lookahead.map(Value::Switch)),
        (
            "performance.writer_priority",
            o.writer_priority.map(Value::Switch),
        ),
        (
            "monitoring.metrics_export",
            o.metrics_export.map(Value::Export),
        ),
        (
            "performance.profile_preset",
            o.profile_preset.map(Value::Preset),
        ),
    ];
    given
        .into_iter()
        .filter_map(|(key, value)| {
            let spec = keys::implemented(key).expect("flag keys are in the key table");
            Some(Setting {
                spec,
                value: value?,
                origin: Origin {
                    source: Source::Flag,
                    name: spec.flag.expect("key has a flag").to_string(),
                    key: spec.name,
                },
            })
        })
        .collect()
}

impl Resolved {
    /// Applies one source's settings over what is there. Two keys of one source setting the same
    /// field (`memory_limit` and `memory_limit_gb`) is an error: neither obviously wins.
    fn apply(&mut self, settings: Vec<Setting>) -> Result<(), ConfigError> {
        let mut seen: [Option<&'static str>; FIELD_COUNT] = [None; FIELD_COUNT];
        for setting in settings {
            let field = setting.spec.field as usize;
            if let Some(first) = seen[field] {
                let o = &setting.origin;
                let both = match o.source {
                    Source::File => format!("{}: keys '{first}' and '{}'", o.name, o.key),
                    _ => format!(
                        "environment variables {} and {}",
                        env_var_name(first),
                        env_var_name(o.key)
                    ),
                };
                return Err(ConfigError(format!(
                    "{both} both set {}; give only one",
                    keys::canonical(setting.spec.field).name
                )));
            }
            seen[field] = Some(setting.spec.name);
            self.config.set(setting.spec.field, setting.value);
            self.origins[field] = setting.origin;
        }
        Ok(())
    }

    /// Ranges of every value, then the rules that tie keys together.
    fn validate(&self) -> Result<(), ConfigError> {
        for field in FIELDS {
            let spec = keys::canonical(field);
            let value = self.config.get(field);
            if !spec.kind.accepts(&value) {
                let origin = &self.origins[field as usize];
                let kind = keys::implemented(origin.key).map_or(spec.kind, |k| k.kind);
                return Err(ConfigError(format!(
                    "{} must be {}, got {}",
                    origin.subject(),
                    kind.expects(),
                    show::toml_value(spec, &value)
                )));
            }
        }
        let (r, p) = (&self.config.reduce, &self.config.performance);
        let k_range = match r.alphabet {
            AlphabetChoice::Protein => Some(2..=12),
            AlphabetChoice::Nucleotide => Some(4..=31),
            AlphabetChoice::Auto => None,
        };
        if let Some(range) =
            k_range.filter(|range| r.kmer_size != 0 && !range.contains(&r.kmer_size))
        {
            let alphabet = &self.origins[Field::Alphabet as usize];
            return Err(ConfigError(format!(
                "{} must be 0 (auto) or from {} to {} for {} sequences (reduce.alphabet {}), got {}",
                self.origins[Field::KmerSize as usize].subject(),
                range.start(),
                range.end(),
                show::toml_value(keys::canonical(Field::Alphabet), &Value::Alphabet(r.alphabet)),
                describe_origin(alphabet),
                r.kmer_size
            )));
        }
        let a = &self.config.alignment;
        if a.max_band_width != 0 && a.min_band_width > a.max_band_width {
            return Err(ConfigError(format!(
                "{} ({}) must not exceed {} ({}, {})",
                self.origins[Field::MinBandWidth as usize].subject(),
                a.min_band_width,
                keys::canonical(Field::MaxBandWidth).name,
                a.max_band_width,
                describe_origin(&self.origins[Field::MaxBandWidth as usize])
            )));
        }
        if p.memory.allocator != crate::alloc::COMPILED {
            return Err(ConfigError(format!(
                "{} is \"{}\" but this binary was built with the {} allocator; to use {}, {}",
                self.origins[Field::Allocator as usize].subject(),
                p.memory.allocator.name(),
                crate::alloc::COMPILED.name(),
                p.memory.allocator.name(),
                p.memory.allocator.build_hint()
            )));
        }
        if p.use_page_locking && p.locked_memory > p.memory_limit {
            return Err(ConfigError(format!(
                "{} must not exceed the memory limit ({}, {}) that locked memory counts against, got {}",
                self.origins[Field::LockedMemory as usize].subject(),
                format_size(p.memory_limit),
                describe_origin(&self.origins[Field::MemoryLimit as usize]),
                format_size(p.locked_memory)
            )));
        }
        if p.io_threads > 2 {
            return Err(ConfigError(format!(
                "{} must be 0 (as performance.parallel_io says), 1 or 2, got {}: {}",
                self.origins[Field::IoThreads as usize].subject(),
                p.io_threads,
                keys::IO_THREADS_MAX
            )));
        }
        if p.io_threads == 1 && p.parallel_io {
            return Err(ConfigError(format!(
                "{} is 1 (decompress on the reading thread) but {} is true ({}): set one of them",
                self.origins[Field::IoThreads as usize].subject(),
                keys::canonical(Field::ParallelIo).name,
                describe_origin(&self.origins[Field::ParallelIo as usize])
            )));
        }
        if p.block_size as u64 > p.memory_limit {
            return Err(ConfigError(format!(
                "{} must not exceed the memory limit ({}, {}), got {}",
                self.origins[Field::BlockSize as usize].subject(),
                format_size(p.memory_limit),
                describe_origin(&self.origins[Field::MemoryLimit as usize]),
                format_size(p.block_size as u64)
            )));
        }
        if let Err(why) = SimdLevel::resolve(p.use_simd, p.auto_detect_simd, p.simd_alignment) {
            return Err(ConfigError(format!(
                "{} is \"{}\" with {} = false ({}), but {why}; set auto_detect_simd = true for \
                 the best level this CPU has, or use_simd = false for the scalar kernel",
                self.origins[Field::SimdAlignment as usize].subject(),
                p.simd_alignment.name(),
                keys::canonical(Field::AutoDetectSimd).name,
                describe_origin(&self.origins[Field::AutoDetectSimd as usize])
            )));
        }
        let m = &self.config.monitoring;
        if m.metrics_export != MetricsExport::None && !m.collect_metrics {
            return Err(ConfigError(format!(
                "{} is {} but {} is false ({}): set it to true to export metrics",
                self.origins[Field::MetricsExport as usize].subject(),
                m.metrics_export.name(),
                keys::canonical(Field::CollectMetrics).name,
                describe_origin(&self.origins[Field::CollectMetrics as usize])
            )));
        }
        Ok(())
    }
}

/// "default", "from config.toml", "from TALARIA_X", "from --flag".
fn describe_origin(origin: &Origin) -> String {
    match origin.source {
        Source::Default => "default".into(),
        _ => format!("from {}", origin.name),
    }
}

/// The message for a key the user guide documents but this version refuses.
fn not_implemented(subject: &str, reason: &str) -> String {
    format!(
        "{subject} is part of talaria's documented configuration but is not implemented in this \
         version: {reason} (see README, \"Configuration\")"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Config::default().validate().unwrap();
        assert_eq!(
            load_with_env(None, &Overrides::default(), &[]).unwrap(),
            Config::default()
        );
    }

    #[test]
    fn fields_table_matches_indices() {
        for (i, f) in FIELDS.iter().enumerate() {
            assert_eq!(*f as usize, i);
        }
    }

    #[test]
    fn validate_names_the_key() {
        let mut c = Config::default();
        c.reduce.threshold = 0.0;
        assert_eq!(
            c.validate().unwrap_err().0,
            "key 'reduce.threshold' must be a number between 0 and 1 (0 excluded), got 0.0"
        );
    }
}
