//! The one table of configuration keys: what each implemented key sets, its type and range, its
//! environment variable and flag; and the table of keys the user guide documents but this version
//! refuses. Moving a key from refused to implemented is an edit here (plus its `Config` field).

use super::size::format_size;
use super::CacheEviction;
use super::{
    AlphabetChoice, IoEngine, MetricsExport, PrefetchHint, ProcessingOrder, ProfilePreset, Switch,
    ThreadAffinity,
};
use crate::alloc::Allocator;
use crate::bio::alignment::SimdLevel;
use std::net::IpAddr;

/// Prefix of every environment variable that configures talaria.
pub const ENV_PREFIX: &str = "TALARIA_";

/// `TALARIA_*` variables that are not configuration keys and are allowed through: the config file
/// to use when `--config` is absent, and the log filter.
pub const OTHER_ENV_VARS: &[&str] = &["TALARIA_CONFIG", "TALARIA_LOG", "TALARIA_ACCOUNTING"];

/// The smallest memory limit accepted: below this even one reader block and one chunk do not fit.
pub const MIN_MEMORY_LIMIT: u64 = 1 << 20;

/// Keys of the user guide that this version does not implement, with why; setting one (in the
/// file or the environment) is an error that quotes the reason.
#[rustfmt::skip]
pub const NOT_IMPLEMENTED: &[(&str, &str)] = &[
    ("performance.adaptive_chunk_size", CHUNK),
    ("performance.min_chunk_size", CHUNK),
    ("performance.max_chunk_size", CHUNK),
    ("performance.chunk_by_memory", "buffers between stages are already bounded in bytes by performance.memory_limit"),
    ("performance.large_files.streaming_mode", PRESET),
    ("performance.large_files.chunk_size", PRESET),
    ("performance.large_files.use_compression", PRESET),
    ("performance.large_files.parallel_chunks", PRESET),
    ("performance.large_files.gc_interval", PRESET),
    ("performance.large_files.compact_memory", PRESET),
    ("performance.small_files.batch_processing", PRESET),
    ("performance.small_files.batch_size", PRESET),
    ("performance.small_files.cache_entire_file", PRESET),
    ("performance.small_files.minimize_overhead", PRESET),
    ("performance.network.tcp_nodelay", NETWORK),
    ("performance.network.socket_buffer_size", NETWORK),
    ("performance.network.connection_pool_size", NETWORK),
    ("performance.network.use_compression", NETWORK),
    ("performance.network.compression_level", NETWORK),
    ("gpu.use_gpu", GPU),
    ("gpu.gpu_backend", GPU),
    ("gpu.cuda_device", GPU),
    ("gpu.cuda_streams", GPU),
    ("gpu.cuda_blocks", GPU),
    ("gpu.cuda_threads_per_block", GPU),
    ("gpu.opencl_platform", GPU),
    ("gpu.opencl_device", GPU),
    ("gpu.work_group_size", GPU),
];

const CHUNK: &str = "chunks hold a fixed number of records, performance.chunk_size";
const PRESET: &str = "talaria has one streaming code path, bounded by performance.memory_limit, for inputs of any size, so there is no large- or small-file mode to switch; set chunk_size and threads in [performance]";
/// Why `io_threads` above 2 is refused (checked in `Config::validate`).
pub(crate) const IO_THREADS_MAX: &str = "the input side has at most two I/O threads: reader-raw (reads) and reader (decompresses); gzip, zstd, bzip2 and xz streams are decoded by one thread (no parallel decompressor), and each output file already has its own writer thread";
const NETWORK: &str = "network-storage tuning is not implemented";
const GPU: &str = "talaria has no GPU backend";

/// The `Config` fields, in `show` order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    Threshold,
    Coverage,
    Alphabet,
    KmerSize,
    MaxCandidates,
    Order,
    UseBanding,
    BandWidth,
    AdaptiveBanding,
    MinBandWidth,
    MaxBandWidth,
    UseSketching,
    SketchSize,
    UseApproximation,
    MinSharedKmers,
    SpacedSeed,
    Threads,
    MemoryLimit,
    ChunkSize,
    BlockSize,
    // The aligner's kernel (README, "SIMD alignment kernels").
    UseSimd,
    SimdAlignment,
    AutoDetectSimd,
    IoEngine,
    UseMemoryMapping,
    MmapThresholdMb,
    UseAsyncIo,
    AsyncQueueSize,
    IoBufferSize,
    ParallelIo,
    PrefetchDistance,
    PrefetchThreads,
    Lookahead,
    WriterPriority,
    IoThreads,
    PinThreads,
    ThreadAffinity,
    BigLittleAware,
    UseNeon,
    UseSve,
    PrefetchHint,
    UseMkl,
    UseTsx,
    UseAocc,
    Allocator,
    UseHugePages,
    AllocationPoolSize,
    UsePageLocking,
    LockedMemory,
    CacheAlignments,
    CacheSizeMb,
    CacheEviction,
    CollectMetrics,
    MetricsInterval,
    MetricsExport,
    PrometheusBind,
    PrometheusPort,
    PrometheusEndpoint,
    StatsdHost,
    StatsdPort,
    // Workload presets (config/preset.rs).
    ProfilePreset,
    UseDiffEncoding,
    DeltaCompression,
    FastExactMatch,
    UseApproximateMatching,
    IncreaseBandWidth,
    AggressiveFiltering,
    ReferenceCaching,
    ReduceCacheSize,
    // NUMA memory placement and per-L3 queues (README, "NUMA and per-L3 queues").
    NumaAware,
    NumaNodes,
    InterleaveMemory,
    LocalAllocation,
    CcxAffinity,
    InfinityFabricAware,
}

pub(crate) const FIELD_COUNT: usize = 75;

/// What a key's value may be.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    /// A number in [0, 1], or (0, 1] when `zero` is false.
    Fraction {
        zero: bool,
    },
    /// An integer in `min..=max`; with `auto`, 0 is also allowed and means "choose for me".
    Integer {
        min: u64,
        max: u64,
        auto: bool,
    },
    /// A byte count: an integer or a size string such as "512M".
    Size {
        min: u64,
        max: u64,
    },
    /// A number of GiB (the user guide's `memory_limit_gb`), stored as bytes.
    Gib {
        min: u64,
    },
    Alphabet,
    /// true / false (environment: true, false, 1, 0, yes, no, on, off).
    Bool,
    /// true, false, or "auto".
    Switch,
    /// "auto", "none", or a spaced-seed pattern such as "11011011011".
    Seed,
    /// "compact", "scatter" or "none".
    Affinity,
    /// "auto", "read", "mmap" or "uring".
    IoEngine,
    /// "auto", "input" or "longest-first".
    Order,
    /// "none", "t0", "t1", "t2" or "nta".
    Prefetch,
    /// "lru", "lfu" or "fifo".
    Eviction,
    /// "sse4", "avx2", "avx512" or "neon".
    Simd,
    /// "system", "jemalloc" or "mimalloc".
    Allocator,
    /// "none", "high_similarity" or "low_similarity".
    Preset,
    /// "none", "prometheus" or "statsd".
    Export,
    /// An IPv4 or IPv6 address such as "127.0.0.1" or "::".
    IpAddr,
    /// An HTTP path: starts with '/', printable ASCII without spaces, '?' or '#'.
    UrlPath,
    /// A host name or an IP address.
    Host,
}

/// A typed value on its way into `Config`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Number(f64),
    Count(u64),
    Alphabet(AlphabetChoice),
    Bool(bool),
    Switch(Switch),
    Affinity(ThreadAffinity),
    IoEngine(IoEngine),
    Order(ProcessingOrder),
    Prefetch(PrefetchHint),
    Preset(ProfilePreset),
    Eviction(CacheEviction),
    Simd(SimdLevel),
    Allocator(Allocator),
    Export(MetricsExport),
    Ip(IpAddr),
    Text(String),
}

pub(crate) struct KeySpec {
    /// `section.key`, as in the TOML file.
    pub name: &'static str,
    pub field: Field,
    pub kind: Kind,
    /// The command-line flag that overrides it, if any.
    pub flag: Option<&'static str>,
}

const U32: u64 = u32::MAX as u64;
/// Widest band half-width accepted: a million diagonals each side is already a full matrix for
/// any pair under the default cell cap.
const MAX_BAND: u64 = 1 << 20;

/// The implemented keys. The first key naming a field is its canonical spelling (what `show`
/// prints); later ones are aliases.
#[rustfmt::skip]
pub(crate) const KEYS: &[KeySpec] = &[
    KeySpec { name: "reduce.threshold", field: Field::Threshold, kind: Kind::Fraction { zero: false }, flag: Some("--threshold") },
    KeySpec { name: "reduce.coverage", field: Field::Coverage, kind: Kind::Fraction { zero: true }, flag: Some("--coverage") },
    KeySpec { name: "reduce.alphabet", field: Field::Alphabet, kind: Kind::Alphabet, flag: Some("--alphabet") },
    // 31 = the longest nucleotide k-mer that packs into 64 bits; protein stops at 12 (checked
    // against the alphabet once all sources are merged).
    KeySpec { name: "reduce.kmer_size", field: Field::KmerSize, kind: Kind::Integer { min: 2, max: 31, auto: true }, flag: Some("--kmer-size") },
    KeySpec { name: "reduce.max_candidates", field: Field::MaxCandidates, kind: Kind::Integer { min: 1, max: U32, auto: true }, flag: Some("--max-candidates") },
    KeySpec { name: "reduce.order", field: Field::Order, kind: Kind::Order, flag: Some("--order") },
    KeySpec { name: "alignment.use_banding", field: Field::UseBanding, kind: Kind::Bool, flag: Some("--use-banding") },
    KeySpec { name: "alignment.band_width", field: Field::BandWidth, kind: Kind::Integer { min: 1, max: MAX_BAND, auto: true }, flag: Some("--band-width") },
    KeySpec { name: "alignment.adaptive_banding", field: Field::AdaptiveBanding, kind: Kind::Bool, flag: Some("--adaptive-banding") },
    KeySpec { name: "alignment.min_band_width", field: Field::MinBandWidth, kind: Kind::Integer { min: 1, max: MAX_BAND, auto: false }, flag: Some("--min-band-width") },
    KeySpec { name: "alignment.max_band_width", field: Field::MaxBandWidth, kind: Kind::Integer { min: 1, max: MAX_BAND, auto: true }, flag: Some("--max-band-width") },
    // 1 in sketch_size k-mers; above 64 a 300-residue protein keeps fewer than 5 and candidate
    // search stops finding its family.
    KeySpec { name: "alignment.use_sketching", field: Field::UseSketching, kind: Kind::Switch, flag: Some("--use-sketching") },
    KeySpec { name: "alignment.sketch_size", field: Field::SketchSize, kind: Kind::Integer { min: 1, max: 64, auto: true }, flag: Some("--sketch-size") },
    // The k-mer candidate filter (README, "How it decides"): off = any shared k-mer makes a
    // candidate; min_shared_kmers raises the computed bound (0 = the bound alone).
    KeySpec { name: "alignment.use_approximation", field: Field::UseApproximation, kind: Kind::Bool, flag: Some("--use-approximation") },
    KeySpec { name: "alignment.kmer_size", field: Field::KmerSize, kind: Kind::Integer { min: 2, max: 31, auto: true }, flag: None },
    KeySpec { name: "alignment.min_shared_kmers", field: Field::MinSharedKmers, kind: Kind::Integer { min: 0, max: U32, auto: false }, flag: Some("--min-shared-kmers") },
    // The index keys' spaced seed: "auto", "none" (contiguous k-mers) or a 0/1 pattern.
    KeySpec { name: "alignment.spaced_seed", field: Field::SpacedSeed, kind: Kind::Seed, flag: Some("--spaced-seed") },
    KeySpec { name: "performance.threads", field: Field::Threads, kind: Kind::Integer { min: 0, max: U32, auto: false }, flag: Some("--threads") },
    KeySpec { name: "performance.memory_limit", field: Field::MemoryLimit, kind: Kind::Size { min: MIN_MEMORY_LIMIT, max: u64::MAX }, flag: Some("--memory-limit") },
    KeySpec { name: "performance.memory_limit_gb", field: Field::MemoryLimit, kind: Kind::Gib { min: MIN_MEMORY_LIMIT }, flag: None },
    KeySpec { name: "performance.chunk_size", field: Field::ChunkSize, kind: Kind::Integer { min: 1, max: U32, auto: false }, flag: Some("--chunk-size") },
    KeySpec { name: "performance.block_size", field: Field::BlockSize, kind: Kind::Size { min: 4096, max: 1 << 30 }, flag: None },
    // The aligner's kernel; one flag, --simd auto|scalar|LEVEL, sets all three (cli.rs).
    KeySpec { name: "performance.use_simd", field: Field::UseSimd, kind: Kind::Bool, flag: Some("--simd") },
    KeySpec { name: "performance.simd_alignment", field: Field::SimdAlignment, kind: Kind::Simd, flag: Some("--simd") },
    KeySpec { name: "performance.auto_detect_simd", field: Field::AutoDetectSimd, kind: Kind::Bool, flag: Some("--simd") },
    // I/O engines (README, "Hardware and I/O").
    KeySpec { name: "performance.io_engine", field: Field::IoEngine, kind: Kind::IoEngine, flag: Some("--io-engine") },
    KeySpec { name: "performance.use_memory_mapping", field: Field::UseMemoryMapping, kind: Kind::Bool, flag: None },
    KeySpec { name: "performance.mmap_threshold_mb", field: Field::MmapThresholdMb, kind: Kind::Integer { min: 0, max: 1 << 30, auto: false }, flag: None },
    KeySpec { name: "performance.use_async_io", field: Field::UseAsyncIo, kind: Kind::Bool, flag: None },
    // io_uring allows 32768 entries; 4096 x the largest buffer is already far past any budget.
    KeySpec { name: "performance.async_queue_size", field: Field::AsyncQueueSize, kind: Kind::Integer { min: 1, max: 4096, auto: false }, flag: None },
    KeySpec { name: "performance.io_buffer_size", field: Field::IoBufferSize, kind: Kind::Size { min: 4096, max: 64 << 20 }, flag: None },
    KeySpec { name: "performance.parallel_io", field: Field::ParallelIo, kind: Kind::Bool, flag: None },
    // Prefetcher, I/O threads, block pool (README, "Hardware and I/O"). prefetch_distance is in
    // reader blocks; io_threads above 2 is refused with its reason in Config::validate.
    KeySpec { name: "performance.prefetch_distance", field: Field::PrefetchDistance, kind: Kind::Integer { min: 0, max: 4096, auto: false }, flag: None },
    KeySpec { name: "performance.prefetch_threads", field: Field::PrefetchThreads, kind: Kind::Integer { min: 1, max: 1024, auto: true }, flag: None },
    // The aligners' look-ahead at unpublished representatives (README, "Threads and the writer").
    KeySpec { name: "performance.lookahead", field: Field::Lookahead, kind: Kind::Switch, flag: Some("--lookahead") },
    KeySpec { name: "performance.writer_priority", field: Field::WriterPriority, kind: Kind::Switch, flag: Some("--writer-priority") },
    KeySpec { name: "performance.io_threads", field: Field::IoThreads, kind: Kind::Integer { min: 0, max: U32, auto: false }, flag: None },
    // Locks the index's big arrays (README, "Memory allocator, huge pages, page locking").
    KeySpec { name: "performance.use_page_locking", field: Field::UsePageLocking, kind: Kind::Bool, flag: None },
    KeySpec { name: "performance.locked_memory_gb", field: Field::LockedMemory, kind: Kind::Gib { min: MIN_MEMORY_LIMIT }, flag: None },
    // The reference cache (README, "Reference cache"): per-representative LCS bit
    // masks; 0 MiB keeps nothing. Its bytes come out of the aligners' queue share of memory_limit.
    KeySpec { name: "performance.cache_alignments", field: Field::CacheAlignments, kind: Kind::Bool, flag: None },
    KeySpec { name: "performance.cache_size_mb", field: Field::CacheSizeMb, kind: Kind::Integer { min: 0, max: 1 << 30, auto: false }, flag: None },
    KeySpec { name: "performance.cache_eviction", field: Field::CacheEviction, kind: Kind::Eviction, flag: None },
    // Workload presets (README, "Workload presets"; config/preset.rs).
    KeySpec { name: "performance.profile_preset", field: Field::ProfilePreset, kind: Kind::Preset, flag: Some("--profile-preset") },
    KeySpec { name: "performance.numa.pin_threads", field: Field::PinThreads, kind: Kind::Bool, flag: Some("--pin-threads") },
    KeySpec { name: "performance.numa.thread_affinity", field: Field::ThreadAffinity, kind: Kind::Affinity, flag: Some("--affinity") },
    // NUMA memory placement and per-L3 queues (README, "NUMA and per-L3 queues"): they act on
    // pinned aligners only; numa_nodes 0 = every node of the allowed CPUs.
    KeySpec { name: "performance.numa.numa_aware", field: Field::NumaAware, kind: Kind::Bool, flag: None },
    KeySpec { name: "performance.numa.numa_nodes", field: Field::NumaNodes, kind: Kind::Integer { min: 1, max: 1024, auto: true }, flag: None },
    KeySpec { name: "performance.numa.interleave_memory", field: Field::InterleaveMemory, kind: Kind::Bool, flag: None },
    KeySpec { name: "performance.numa.local_allocation", field: Field::LocalAllocation, kind: Kind::Bool, flag: None },
    KeySpec { name: "performance.arm.big_little_aware", field: Field::BigLittleAware, kind: Kind::Bool, flag: None },
    // Vendor sections (README, "Hardware and I/O"): prefetch_hint is real; the others are
    // accepted, shown as not applicable with the reason (`not_applicable`), and a run that sets
    // one warns once.
    KeySpec { name: "performance.arm.use_neon", field: Field::UseNeon, kind: Kind::Bool, flag: None },
    KeySpec { name: "performance.arm.use_sve", field: Field::UseSve, kind: Kind::Bool, flag: None },
    KeySpec { name: "performance.intel.prefetch_hint", field: Field::PrefetchHint, kind: Kind::Prefetch, flag: None },
    KeySpec { name: "performance.intel.use_mkl", field: Field::UseMkl, kind: Kind::Bool, flag: None },
    KeySpec { name: "performance.intel.use_tsx", field: Field::UseTsx, kind: Kind::Bool, flag: None },
    KeySpec { name: "performance.amd.use_aocc", field: Field::UseAocc, kind: Kind::Bool, flag: None },
    // Per-L3 queues for pinned aligners (README, "NUMA and per-L3 queues").
    KeySpec { name: "performance.amd.ccx_affinity", field: Field::CcxAffinity, kind: Kind::Bool, flag: None },
    KeySpec { name: "performance.amd.infinity_fabric_aware", field: Field::InfinityFabricAware, kind: Kind::Bool, flag: None },
    // Fixed at build time; a value other than the compiled-in one is refused (crate::alloc).
    KeySpec { name: "performance.memory.allocator", field: Field::Allocator, kind: Kind::Allocator, flag: None },
    KeySpec { name: "performance.memory.use_huge_pages", field: Field::UseHugePages, kind: Kind::Bool, flag: None },
    // The reader's pool of block buffers (README, "Hardware and I/O").
    KeySpec { name: "performance.memory.allocation_pool_size", field: Field::AllocationPoolSize, kind: Kind::Size { min: 0, max: 1 << 30 }, flag: None },
    KeySpec { name: "performance.high_similarity.use_diff_encoding", field: Field::UseDiffEncoding, kind: Kind::Bool, flag: None },
    KeySpec { name: "performance.high_similarity.reference_caching", field: Field::ReferenceCaching, kind: Kind::Bool, flag: None },
    KeySpec { name: "performance.high_similarity.delta_compression", field: Field::DeltaCompression, kind: Kind::Bool, flag: None },
    KeySpec { name: "performance.high_similarity.fast_exact_match", field: Field::FastExactMatch, kind: Kind::Bool, flag: None },
    KeySpec { name: "performance.low_similarity.use_approximate_matching", field: Field::UseApproximateMatching, kind: Kind::Bool, flag: None },
    KeySpec { name: "performance.low_similarity.increase_band_width", field: Field::IncreaseBandWidth, kind: Kind::Bool, flag: None },
    KeySpec { name: "performance.low_similarity.reduce_cache_size", field: Field::ReduceCacheSize, kind: Kind::Bool, flag: None },
    KeySpec { name: "performance.low_similarity.aggressive_filtering", field: Field::AggressiveFiltering, kind: Kind::Bool, flag: None },
    // Metrics export while a job runs (README, "Profiling and monitoring"). The interval is the
    // StatsD send period: 10 ms is already 100 datagrams a second; an hour is the longest.
    KeySpec { name: "monitoring.collect_metrics", field: Field::CollectMetrics, kind: Kind::Bool, flag: None },
    KeySpec { name: "monitoring.metrics_interval_ms", field: Field::MetricsInterval, kind: Kind::Integer { min: 10, max: 3_600_000, auto: false }, flag: None },
    KeySpec { name: "monitoring.metrics_export", field: Field::MetricsExport, kind: Kind::Export, flag: Some("--metrics-export") },
    KeySpec { name: "monitoring.prometheus_bind", field: Field::PrometheusBind, kind: Kind::IpAddr, flag: None },
    KeySpec { name: "monitoring.prometheus_port", field: Field::PrometheusPort, kind: Kind::Integer { min: 1, max: 65535, auto: true }, flag: None },
    KeySpec { name: "monitoring.prometheus_endpoint", field: Field::PrometheusEndpoint, kind: Kind::UrlPath, flag: None },
    KeySpec { name: "monitoring.statsd_host", field: Field::StatsdHost, kind: Kind::Host, flag: None },
    KeySpec { name: "monitoring.statsd_port", field: Field::StatsdPort, kind: Kind::Integer { min: 1, max: 65535, auto: false }, flag: None },
];

pub(crate) fn implemented(name: &str) -> Option<&'static KeySpec> {
    KEYS.iter().find(|k| k.name == name)
}

/// The canonical key for a field.
pub(crate) fn canonical(field: Field) -> &'static KeySpec {
    KEYS.iter()
        .find(|k| k.field == field)
        .expect("every field has a key")
}

/// Why an accepted key can have no effect in this build, or `None` when it does what it says.
pub fn not_applicable(name: &str) -> Option<String> {
    let arch = std::env::consts::ARCH;
    Some(match name {
        "performance.intel.use_mkl" => {
            "talaria does no dense linear algebra, so there is nothing for MKL to speed up".into()
        }
        "performance.intel.use_tsx" => "talaria's shared index is read under a reader-writer lock that workers hardly contend for, and TSX is disabled by microcode on most Intel CPUs since 2021".into(),
        "performance.amd.use_aocc" => "the compiler is chosen when talaria is built (rustc/LLVM), not when it runs".into(),
        "performance.arm.use_neon" | "performance.arm.use_sve" if arch != "aarch64" => {
            format!("NEON and SVE are ARM instructions and this build is for {arch}")
        }
        "performance.arm.use_neon" | "performance.arm.use_sve" => {
            "talaria has no NEON or SVE alignment kernel yet; the scalar kernel runs".into()
        }
        "performance.intel.prefetch_hint" if arch != "x86_64" => {
            format!("prefetch hints t0/t1/t2/nta are x86 instructions and this build is for {arch}")
        }
        _ => return None,
    })
}

pub(crate) fn refused(name: &str) -> Option<&'static str> {
    NOT_IMPLEMENTED
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, reason)| *reason)
}

/// Every section that holds a known key (`reduce`, `performance`, `performance.numa`, ...).
pub(crate) fn is_section(name: &str) -> bool {
    all_keys()
        .any(|k| k.len() > name.len() && k.starts_with(name) && k.as_bytes()[name.len()] == b'.')
}

fn all_keys() -> impl Iterator<Item = &'static str> {
    KEYS.iter()
        .map(|k| k.name)
        .chain(NOT_IMPLEMENTED.iter().map(|(k, _)| *k))
}

/// The environment variable for a key: `reduce.threshold` -> `TALARIA_REDUCE_THRESHOLD`.
pub fn env_var_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.replace('.', "_").to_ascii_uppercase())
}

/// The closest known key or section to a misspelt one: within edit distance 2, or else the only
/// implemented key with the same last component in another section (`threshold` at top level).
pub(crate) fn suggest(name: &str) -> Option<&'static str> {
    let sections = all_keys().flat_map(|k| k.match_indices('.').map(move |(i, _)| &k[..i]));
    let best = all_keys()
        .chain(sections)
        .map(|k| (edit_distance(name, k), k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d);
    if let Some((_, k)) = best {
        return Some(k);
    }
    let leaf = name.rsplit('.').next().unwrap_or(name);
    let mut same_leaf = KEYS
        .iter()
        .map(|k| k.name)
        .filter(|k| k.rsplit('.').next() == Some(leaf));
    match (same_leaf.next(), same_leaf.next()) {
        (Some(k), None) => Some(k),
        _ => None,
    }
}

/// The closest configuration variable to a misspelt `TALARIA_*` name.
pub(crate) fn suggest_env(var: &str) -> Option<String> {
    KEYS.iter()
        .map(|k| env_var_name(k.name))
        .chain(OTHER_ENV_VARS.iter().map(|v| v.to_string()))
        .map(|v| (edit_distance(var, &v), v))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, v)| v)
}

/// Levenshtein distance over bytes (key names are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(above + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

impl Kind {
    /// What a valid value looks like, for "must be ..." messages.
    pub(crate) fn expects(self) -> String {
        match self {
            Kind::Fraction { zero: true } => "a number between 0 and 1".into(),
            Kind::Fraction { zero: false } => "a number between 0 and 1 (0 excluded)".into(),
            Kind::Integer {
                min,
                max,
                auto: true,
            } => {
                format!("an integer: 0 (auto) or from {min} to {max}")
            }
            Kind::Integer { min, max, .. } => format!("an integer from {min} to {max}"),
            Kind::Size { min, max } if max == u64::MAX => format!(
                "a size such as \"512M\" or \"2G\" (or a number of bytes), at least {}",
                format_size(min)
            ),
            Kind::Size { min, max } => format!(
                "a size such as \"64K\" or \"1M\" (or a number of bytes), from {} to {}",
                format_size(min),
                format_size(max)
            ),
            Kind::Gib { .. } => "a number of GiB such as 16 or 0.5 (at least 1 MiB)".into(),
            Kind::Alphabet => "one of \"auto\", \"protein\", \"nucleotide\"".into(),
            Kind::Bool => "true or false".into(),
            Kind::Switch => "true, false or \"auto\"".into(),
            Kind::Seed => "\"auto\", \"none\", or a pattern of 0 and 1 starting and ending with 1, at most 64 long, such as \"11011011011\"".into(),
            Kind::Affinity => "one of \"compact\", \"scatter\", \"none\"".into(),
            Kind::IoEngine => "one of \"auto\", \"read\", \"mmap\", \"uring\"".into(),
            Kind::Order => "one of \"auto\", \"input\", \"longest-first\"".into(),
            Kind::Prefetch => "one of \"none\", \"t0\", \"t1\", \"t2\", \"nta\"".into(),
            Kind::Preset => "one of \"none\", \"high_similarity\", \"low_similarity\"".into(),
            Kind::Eviction => "one of \"lru\", \"lfu\", \"fifo\"".into(),
            Kind::Simd => "one of \"sse4\", \"avx2\", \"avx512\", \"neon\"".into(),
            Kind::Allocator => "one of \"system\", \"jemalloc\", \"mimalloc\"".into(),
            Kind::Export => "one of \"none\", \"prometheus\", \"statsd\"".into(),
            Kind::IpAddr => "an IP address such as \"127.0.0.1\", \"0.0.0.0\" or \"::1\"".into(),
            Kind::UrlPath => format!(
                "a path starting with '/' (printable ASCII without spaces, quotes, '\\', '?', '#' or '%', at most {MAX_TEXT} bytes)"
            ),
            Kind::Host => format!(
                "a host name or IP address (letters, digits, '.', '-', ':', at most {MAX_TEXT} bytes)"
            ),
        }
    }

    /// Whether an already-typed value is in range.
    pub(crate) fn accepts(self, value: &Value) -> bool {
        match (self, value) {
            (Kind::Fraction { zero }, &Value::Number(x)) => {
                x.is_finite() && x <= 1.0 && (x > 0.0 || (zero && x == 0.0))
            }
            (Kind::Integer { min, max, auto }, &Value::Count(n)) => {
                (auto && n == 0) || (min..=max).contains(&n)
            }
            (Kind::Size { min, max }, &Value::Count(n)) => (min..=max).contains(&n),
            (Kind::Gib { min }, &Value::Count(n)) => n >= min,
            (Kind::Alphabet, Value::Alphabet(_)) => true,
            (Kind::Bool, Value::Bool(_)) => true,
            (Kind::Switch, Value::Switch(_)) => true,
            (Kind::Seed, Value::Text(t)) => seed_choice(t),
            (Kind::Affinity, Value::Affinity(_)) => true,
            (Kind::IoEngine, Value::IoEngine(_)) => true,
            (Kind::Order, Value::Order(_)) => true,
            (Kind::Prefetch, Value::Prefetch(_)) => true,
            (Kind::Preset, Value::Preset(_)) => true,
            (Kind::Eviction, Value::Eviction(_)) => true,
            (Kind::Simd, Value::Simd(level)) => *level != SimdLevel::Scalar,
            (Kind::Allocator, Value::Allocator(_)) => true,
            (Kind::Export, Value::Export(_)) => true,
            (Kind::IpAddr, Value::Ip(_)) => true,
            (Kind::UrlPath, Value::Text(t)) => url_path(t),
            (Kind::Host, Value::Text(t)) => host(t),
            _ => false,
        }
    }

    /// Types a TOML value; `None` when it has the wrong type or is out of range.
    pub(crate) fn parse_toml(self, value: &toml::Value) -> Option<Value> {
        use toml::Value as T;
        let typed = match (self, value) {
            (Kind::Fraction { .. }, T::Float(x)) => Value::Number(*x),
            (Kind::Fraction { .. }, T::Integer(n)) => Value::Number(*n as f64),
            (Kind::Integer { .. } | Kind::Size { .. }, T::Integer(n)) => {
                Value::Count(u64::try_from(*n).ok()?)
            }
            (Kind::Size { .. }, T::String(s)) => Value::Count(super::size::parse(s).ok()?),
            (Kind::Gib { .. }, T::Float(x)) => Value::Count(gib_to_bytes(*x)?),
            (Kind::Gib { .. }, T::Integer(n)) => Value::Count(gib_to_bytes(*n as f64)?),
            (Kind::Alphabet, T::String(s)) => Value::Alphabet(alphabet(s)?),
            (Kind::Bool, T::Boolean(b)) => Value::Bool(*b),
            (Kind::Switch, T::Boolean(b)) => {
                Value::Switch(if *b { Switch::On } else { Switch::Off })
            }
            (Kind::Switch, T::String(s)) if s.trim().eq_ignore_ascii_case("auto") => {
                Value::Switch(Switch::Auto)
            }
            (Kind::Affinity, T::String(s)) => Value::Affinity(ThreadAffinity::parse(s)?),
            (Kind::IoEngine, T::String(s)) => Value::IoEngine(IoEngine::parse(s)?),
            (Kind::Order, T::String(s)) => Value::Order(ProcessingOrder::parse(s)?),
            (Kind::Prefetch, T::String(s)) => Value::Prefetch(PrefetchHint::parse(s)?),
            (Kind::Preset, T::String(s)) => Value::Preset(ProfilePreset::parse(s)?),
            (Kind::Eviction, T::String(s)) => Value::Eviction(CacheEviction::parse(s)?),
            (Kind::Simd, T::String(s)) => Value::Simd(SimdLevel::parse(s.trim())?),
            (Kind::Allocator, T::String(s)) => Value::Allocator(Allocator::parse(s)?),
            (Kind::Export, T::String(s)) => Value::Export(MetricsExport::parse(s)?),
            (Kind::IpAddr, T::String(s)) => Value::Ip(s.trim().parse().ok()?),
            (Kind::UrlPath | Kind::Host, T::String(s)) => Value::Text(s.clone()),
            (Kind::Seed, T::String(s)) => Value::Text(s.trim().to_ascii_lowercase()),
            _ => return None,
        };
        self.accepts(&typed).then_some(typed)
    }

    /// Types an environment variable's text; `None` when it does not parse or is out of range.
    pub(crate) fn parse_text(self, text: &str) -> Option<Value> {
        let text = text.trim();
        let typed = match self {
            Kind::Fraction { .. } => Value::Number(text.parse().ok()?),
            Kind::Integer { .. } => Value::Count(text.parse().ok()?),
            Kind::Size { .. } => Value::Count(super::size::parse(text).ok()?),
            Kind::Gib { .. } => Value::Count(gib_to_bytes(text.parse().ok()?)?),
            Kind::Alphabet => Value::Alphabet(alphabet(text)?),
            Kind::Bool => Value::Bool(boolean(text)?),
            Kind::Switch => Value::Switch(Switch::parse(text)?),
            Kind::Affinity => Value::Affinity(ThreadAffinity::parse(text)?),
            Kind::IoEngine => Value::IoEngine(IoEngine::parse(text)?),
            Kind::Order => Value::Order(ProcessingOrder::parse(text)?),
            Kind::Prefetch => Value::Prefetch(PrefetchHint::parse(text)?),
            Kind::Preset => Value::Preset(ProfilePreset::parse(text)?),
            Kind::Eviction => Value::Eviction(CacheEviction::parse(text)?),
            Kind::Simd => Value::Simd(SimdLevel::parse(text)?),
            Kind::Allocator => Value::Allocator(Allocator::parse(text)?),
            Kind::Export => Value::Export(MetricsExport::parse(text)?),
            Kind::IpAddr => Value::Ip(text.parse().ok()?),
            Kind::UrlPath | Kind::Host => Value::Text(text.to_string()),
            Kind::Seed => Value::Text(text.to_ascii_lowercase()),
        };
        self.accepts(&typed).then_some(typed)
    }
}

/// `alignment.spaced_seed`: "auto", "none", or a valid pattern.
fn seed_choice(text: &str) -> bool {
    text == "auto" || text == "none" || crate::bio::kmer::SpacedSeed::parse(text).is_some()
}

/// Longest endpoint path or host name accepted (a DNS name is at most 253 bytes).
const MAX_TEXT: usize = 253;

/// An HTTP request path talaria can match byte for byte: `/` then printable ASCII, without the
/// characters that end a path in a request line ('?', '#') or would need escaping.
fn url_path(text: &str) -> bool {
    text.starts_with('/')
        && text.len() <= MAX_TEXT
        && text
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'?' | b'#' | b'%' | b'"' | b'\\'))
}

/// A DNS name (letters, digits, '-', '.') or an IP address literal (IPv6 may be in brackets).
fn host(text: &str) -> bool {
    let bare = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    if bare.parse::<IpAddr>().is_ok() {
        return true;
    }
    !text.is_empty()
        && text.len() <= MAX_TEXT
        && !text.starts_with(['-', '.'])
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.'))
}

fn gib_to_bytes(gib: f64) -> Option<u64> {
    let bytes = gib * (1u64 << 30) as f64;
    // `as` saturates; reject instead of silently clamping.
    (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

/// `true`/`false` (any case), `1`/`0`, `yes`/`no`, `on`/`off`: what shells and schedulers pass.
pub(crate) fn boolean(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn alphabet(text: &str) -> Option<AlphabetChoice> {
    match text.to_ascii_lowercase().as_str() {
        "auto" => Some(AlphabetChoice::Auto),
        "protein" => Some(AlphabetChoice::Protein),
        "nucleotide" => Some(AlphabetChoice::Nucleotide),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_consistent() {
        for k in KEYS {
            assert!(
                refused(k.name).is_none(),
                "{} is both implemented and refused",
                k.name
            );
            assert!(is_section(k.name.rsplit_once('.').unwrap().0));
        }
        let mut names: Vec<_> = all_keys().collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "a key is listed twice");
        let mut vars: Vec<_> = all_keys().map(env_var_name).collect();
        vars.sort_unstable();
        vars.dedup();
        assert_eq!(before, vars.len(), "two keys share an environment variable");
    }

    #[test]
    fn guide_sections_are_known() {
        for s in [
            "reduce",
            "performance",
            "alignment",
            "gpu",
            "monitoring",
            "performance.intel",
            "performance.amd",
            "performance.arm",
            "performance.numa",
            "performance.large_files",
            "performance.small_files",
            "performance.high_similarity",
            "performance.low_similarity",
            "performance.memory",
            "performance.network",
        ] {
            assert!(is_section(s), "{s}");
        }
        assert!(!is_section("perf"));
        assert!(!is_section("reduce.threshold"));
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("reduce.treshold"), Some("reduce.threshold"));
        assert_eq!(suggest("threshold"), Some("reduce.threshold"));
        assert_eq!(suggest("reduse"), Some("reduce"));
        assert_eq!(
            suggest("performance.memorylimit"),
            Some("performance.memory_limit")
        );
        assert_eq!(suggest("nothing.like.it"), None);
        assert_eq!(
            suggest_env("TALARIA_REDUCE_TRESHOLD").as_deref(),
            Some("TALARIA_REDUCE_THRESHOLD")
        );
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn typing_values() {
        let threshold = implemented("reduce.threshold").unwrap().kind;
        assert_eq!(threshold.parse_text("0.5"), Some(Value::Number(0.5)));
        assert_eq!(threshold.parse_text("0"), None);
        assert_eq!(threshold.parse_text("NaN"), None);
        assert_eq!(
            threshold.parse_toml(&toml::Value::Integer(1)),
            Some(Value::Number(1.0))
        );
        let kmer = implemented("reduce.kmer_size").unwrap().kind;
        assert_eq!(kmer.parse_text("0"), Some(Value::Count(0)));
        assert_eq!(kmer.parse_text("1"), None);
        assert_eq!(kmer.parse_text("31"), Some(Value::Count(31)));
        assert_eq!(kmer.parse_toml(&toml::Value::Float(5.0)), None);
        assert_eq!(kmer.parse_toml(&toml::Value::Integer(-3)), None);
        let gb = implemented("performance.memory_limit_gb").unwrap().kind;
        assert_eq!(gb.parse_text("1.5"), Some(Value::Count(3 << 29)));
        assert_eq!(gb.parse_text("-1"), None);
        assert_eq!(gb.parse_text("1e300"), None);
        let alphabet_kind = implemented("reduce.alphabet").unwrap().kind;
        assert_eq!(
            alphabet_kind.parse_text("Protein"),
            Some(Value::Alphabet(AlphabetChoice::Protein))
        );
    }
}
