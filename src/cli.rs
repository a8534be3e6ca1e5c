//! Command-line flags, parsed once by clap and turned into validated jobs; nothing past
//! `into_job` sees a raw string.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use talaria::bio::alignment::SimdLevel;
use talaria::config::{self, AlphabetChoice, Overrides, ThreadAffinity};
use talaria::reconstruct::ReconstructJob;
use talaria::reduce::ReduceJob;
use talaria_stages::sink::OutputPath;

#[derive(Parser, Debug)]
#[command(
    name = "talaria",
    version = talaria::alloc::VERSION,
    about = "Shrink sequence databases to representatives plus lossless deltas"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Reduce a FASTA file (or stdin) to representatives, deltas and cluster tables.
    Reduce(ReduceArgs),
    /// Rebuild the original FASTA from a reduced FASTA and its deltas.
    Reconstruct(ReconstructArgs),
    /// Print the CPU topology and where each stage thread of `reduce` would run.
    Topology(TopologyArgs),
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
}

#[derive(Subcommand, Debug)]
pub enum ConfigAction {
    /// Print the effective configuration (defaults < --config file < TALARIA_* < flags).
    Show(TuningArgs),
}

/// Flags that map onto configuration keys (shared by `reduce` and `config show`).
#[derive(Args, Debug, Clone, Default)]
pub struct TuningArgs {
    /// TOML configuration file (default: $TALARIA_CONFIG when set).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Minimum identity (identical residues / shorter length) to join a representative [reduce.threshold].
    #[arg(short = 't', long, value_name = "F")]
    pub threshold: Option<f64>,
    /// Minimum fraction of the member covered by the alignment [reduce.coverage].
    #[arg(short = 'c', long, value_name = "F")]
    pub coverage: Option<f64>,
    /// Treat the input as protein [reduce.alphabet].
    #[arg(long, conflicts_with = "nucleotide")]
    pub protein: bool,
    /// Treat the input as nucleotide [reduce.alphabet].
    #[arg(long)]
    pub nucleotide: bool,
    /// k-mer length for candidate search, 0 = automatic [reduce.kmer_size].
    #[arg(long, value_name = "K")]
    pub kmer_size: Option<usize>,
    /// Most candidate representatives aligned per record, 0 = automatic (32; 128 for protein below 0.7) [reduce.max_candidates].
    #[arg(long, value_name = "N")]
    pub max_candidates: Option<usize>,
    /// Decision order: auto (longest first for uncompressed files, arrival order for streams),
    /// input, or longest-first; outputs stay in input order [reduce.order].
    #[arg(long, value_name = "ORDER", value_parser = ["auto", "input", "longest-first"])]
    pub order: Option<String>,
    /// Aligner threads, 0 = all allowed CPUs [performance.threads].
    #[arg(short = 'j', long, value_name = "N")]
    pub threads: Option<usize>,
    /// Memory limit, e.g. 512M or 4G [performance.memory_limit].
    #[arg(long, value_name = "SIZE")]
    pub memory_limit: Option<String>,
    /// Records per chunk (results do not depend on it) [performance.chunk_size].
    #[arg(long, value_name = "N")]
    pub chunk_size: Option<usize>,
    /// Alignment kernel: auto (the widest SIMD level this CPU has), scalar, or one level (sse4,
    /// avx2, avx512, neon; an error if this CPU lacks it); all give the same alignments
    /// [performance.use_simd, performance.simd_alignment, performance.auto_detect_simd].
    #[arg(long, value_name = "LEVEL", value_parser = ["auto", "scalar", "sse4", "avx2", "avx512", "neon"])]
    pub simd: Option<String>,
    /// Pin each aligner thread to its own CPU, as `talaria topology` shows [performance.numa.pin_threads].
    #[arg(long)]
    pub pin_threads: bool,
    /// Where pinned aligners go: compact (fill one L3 domain first), scatter (spread over NUMA
    /// nodes and L3 domains), none (no pinning) [performance.numa.thread_affinity].
    #[arg(long, value_name = "HOW", value_parser = parse_affinity)]
    pub affinity: Option<ThreadAffinity>,
    /// Reader engine: auto, read, mmap or uring (io_uring) [performance.io_engine].
    #[arg(long, value_name = "ENGINE", value_parser = ["auto", "read", "mmap", "uring"])]
    pub io_engine: Option<String>,
    /// Aligners also try the representatives the writer has not published yet, taking serial work off the writer: true, false, or auto (with 8 CPUs and 4 aligner threads or more, while the writer has chunks queued); results are the same [performance.lookahead].
    #[arg(long, value_name = "BOOL|auto", value_parser = parse_switch)]
    pub lookahead: Option<config::Switch>,
    /// Aligner threads run at nice +10 so the writer, the one serial stage, gets a CPU first: true, false, or auto (when the aligner threads and the writer outnumber the allowed CPUs); results are the same [performance.writer_priority].
    #[arg(long, value_name = "BOOL|auto", value_parser = parse_switch)]
    pub writer_priority: Option<config::Switch>,
    /// While the job runs, export live metrics: prometheus (served over HTTP at
    /// monitoring.prometheus_bind:prometheus_port + prometheus_endpoint), statsd (UDP to
    /// monitoring.statsd_host:statsd_port every metrics_interval_ms), or none [monitoring.metrics_export].
    #[arg(long, value_name = "WHERE", value_parser = ["none", "prometheus", "statsd"])]
    pub metrics_export: Option<String>,
    /// Workload preset: high_similarity (families > 95% identical: shortcuts before the DP,
    /// harder-compressed deltas) or low_similarity (thresholds below ~70%: sketch candidates,
    /// wider first band, fewer candidates), or none; README, "Workload presets"
    /// [performance.profile_preset].
    #[arg(long, value_name = "PRESET", value_parser = parse_preset)]
    pub profile_preset: Option<config::ProfilePreset>,
    #[command(flatten)]
    pub alignment: AlignmentArgs,
}

/// `[alignment]` flags: the band each candidate alignment gets.
#[derive(Args, Debug, Clone, Default)]
pub struct AlignmentArgs {
    /// Restrict alignments to a band of diagonals (false: whole matrix) [alignment.use_banding].
    #[arg(long, value_name = "BOOL")]
    pub use_banding: Option<bool>,
    /// Half-width of a fixed band, 0 = automatic [alignment.band_width].
    #[arg(long, value_name = "N")]
    pub band_width: Option<usize>,
    /// Start narrow around the seed diagonals and widen only when needed [alignment.adaptive_banding].
    #[arg(long, value_name = "BOOL")]
    pub adaptive_banding: Option<bool>,
    /// First half-width adaptive banding tries [alignment.min_band_width].
    #[arg(long, value_name = "N")]
    pub min_band_width: Option<usize>,
    /// Widest adaptive half-width, 0 = automatic [alignment.max_band_width].
    #[arg(long, value_name = "N")]
    pub max_band_width: Option<usize>,
    /// Find candidates through a FracMinHash sketch of long k-mers: true, false, or auto (protein 8-mers, sampled 1 in 8 at 0.7 or more; nucleotide sampled at 0.95 or more) [alignment.use_sketching].
    #[arg(long, value_name = "BOOL|auto", value_parser = parse_switch)]
    pub use_sketching: Option<config::Switch>,
    /// The sketch keeps 1 in N k-mers, 1-64, 0 = automatic (8; with use_sketching auto, every k-mer for protein below 0.7) [alignment.sketch_size].
    #[arg(long, value_name = "N")]
    pub sketch_size: Option<usize>,
    /// Filter candidates by the shared k-mers an alignment at the threshold must keep; false = any shared k-mer makes a candidate [alignment.use_approximation].
    #[arg(long, value_name = "BOOL")]
    pub use_approximation: Option<bool>,
    /// Shared k-mers a candidate needs at least, on top of the computed bound; 0 = the bound alone [alignment.min_shared_kmers].
    #[arg(long, value_name = "N")]
    pub min_shared_kmers: Option<usize>,
    /// Index spaced k-mers: auto (11011011011 for protein with automatic k), none (contiguous), or a pattern of 0 and 1 whose 1s are the k-mer [alignment.spaced_seed].
    #[arg(long, value_name = "PATTERN")]
    pub spaced_seed: Option<String>,
}

/// `talaria topology`: the machine as discovered, and the placement plan for a `reduce` run.
#[derive(Args, Debug)]
pub struct TopologyArgs {
    /// Aligner threads to plan for, 0 = all allowed CPUs [performance.threads].
    #[arg(short = 'j', long, value_name = "N")]
    pub threads: Option<usize>,
    /// compact, scatter or none [performance.numa.thread_affinity].
    #[arg(long, value_name = "HOW", value_parser = parse_affinity)]
    pub affinity: Option<ThreadAffinity>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// TOML configuration file (default: $TALARIA_CONFIG when set).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

fn parse_affinity(text: &str) -> Result<ThreadAffinity, String> {
    ThreadAffinity::parse(text).ok_or_else(|| "expected compact, scatter or none".to_string())
}

impl TopologyArgs {
    /// The configuration the plan follows (threads, affinity, big_little_aware).
    pub fn config(&self) -> Result<config::Config, config::ConfigError> {
        let overrides = Overrides {
            threads: self.threads,
            thread_affinity: self.affinity,
            ..Overrides::default()
        };
        let file = self
            .config
            .clone()
            .or_else(|| std::env::var_os("TALARIA_CONFIG").map(PathBuf::from));
        config::load(file.as_ref(), &overrides)
    }
}

#[derive(Args, Debug)]
pub struct ReduceArgs {
    /// Input FASTA (plain, gzip, zstd, bzip2 or xz); `-` for stdin.
    #[arg(short, long, value_name = "IN")]
    pub input: String,
    /// Representatives FASTA; `-` for stdout.
    #[arg(short, long, value_name = "OUT")]
    pub output: String,
    /// Deltas file (needed by `reconstruct`).
    #[arg(short = 'm', long, value_name = "DELTAS")]
    pub deltas: Option<String>,
    /// Cluster table: representative_id<TAB>member_id, one line per input record.
    #[arg(long, value_name = "TSV")]
    pub clusters: Option<String>,
    /// The clustering in CD-HIT's .clstr format.
    #[arg(long, value_name = "FILE")]
    pub clstr: Option<String>,
    /// Print no summary.
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub report: talaria::reduce::report::ReportFlags,
    #[command(flatten)]
    pub tuning: TuningArgs,
}

#[derive(Args, Debug)]
pub struct ReconstructArgs {
    /// Reduced FASTA written by `talaria reduce`; `-` for stdin.
    #[arg(short, long, value_name = "REDUCED")]
    pub input: String,
    /// Deltas file written by the same `talaria reduce` run.
    #[arg(short = 'm', long, value_name = "DELTAS")]
    pub deltas: PathBuf,
    /// Output FASTA; `-` for stdout.
    #[arg(short, long, value_name = "OUT")]
    pub output: String,
    /// Rewrap sequences to N residues per line (0 = one line) instead of restoring the layout.
    #[arg(long, value_name = "N")]
    pub line_width: Option<usize>,
    /// Print no summary.
    #[arg(short, long)]
    pub quiet: bool,
}

impl TuningArgs {
    pub fn overrides(&self) -> Result<Overrides, config::ConfigError> {
        let alphabet = if self.protein {
            Some(AlphabetChoice::Protein)
        } else if self.nucleotide {
            Some(AlphabetChoice::Nucleotide)
        } else {
            None
        };
        let memory_limit = match &self.memory_limit {
            Some(text) => Some(
                config::parse_size(text)
                    .map_err(|e| config::ConfigError(format!("--memory-limit: {e}")))?,
            ),
            None => None,
        };
        // --simd sets the three SIMD keys at once: auto, scalar, or one level without detection.
        let (use_simd, simd_alignment, auto_detect_simd) = match self.simd.as_deref() {
            None => (None, None, None),
            Some("auto") => (Some(true), None, Some(true)),
            Some("scalar") => (Some(false), None, None),
            Some(level) => (Some(true), SimdLevel::parse(level), Some(false)),
        };
        Ok(Overrides {
            threshold: self.threshold,
            coverage: self.coverage,
            alphabet,
            kmer_size: self.kmer_size,
            max_candidates: self.max_candidates,
            order: self
                .order
                .as_deref()
                .and_then(config::ProcessingOrder::parse),
            use_banding: self.alignment.use_banding,
            band_width: self.alignment.band_width,
            adaptive_banding: self.alignment.adaptive_banding,
            min_band_width: self.alignment.min_band_width,
            max_band_width: self.alignment.max_band_width,
            use_sketching: self.alignment.use_sketching,
            sketch_size: self.alignment.sketch_size,
            use_approximation: self.alignment.use_approximation,
            min_shared_kmers: self.alignment.min_shared_kmers,
            spaced_seed: self.alignment.spaced_seed.clone(),
            threads: self.threads,
            memory_limit,
            chunk_size: self.chunk_size,
            use_simd,
            simd_alignment,
            auto_detect_simd,
            pin_threads: self.pin_threads.then_some(true),
            thread_affinity: self.affinity,
            io_engine: self.io_engine.as_deref().and_then(config::IoEngine::parse),
            lookahead: self.lookahead,
            writer_priority: self.writer_priority,
            metrics_export: self
                .metrics_export
                .as_deref()
                .and_then(config::MetricsExport::parse),
            profile_preset: self.profile_preset,
        })
    }

    /// The config file: --config, else $TALARIA_CONFIG.
    pub fn config_file(&self) -> Option<PathBuf> {
        self.config
            .clone()
            .or_else(|| std::env::var_os("TALARIA_CONFIG").map(PathBuf::from))
    }
}

fn parse_switch(text: &str) -> Result<config::Switch, String> {
    config::Switch::parse(text).ok_or_else(|| "expected true, false or auto".to_string())
}

fn parse_preset(text: &str) -> Result<config::ProfilePreset, String> {
    config::ProfilePreset::parse(text)
        .ok_or_else(|| "expected none, high_similarity or low_similarity".to_string())
}

fn input_path(text: &str) -> Option<PathBuf> {
    (text != "-").then(|| PathBuf::from(text))
}

impl ReduceArgs {
    pub fn into_job(self) -> Result<ReduceJob, config::ConfigError> {
        let overrides = self.tuning.overrides()?;
        let config = config::load(self.tuning.config_file().as_ref(), &overrides)?;
        // Two outputs interleaved on one stream, or written to one file, would both be garbage.
        let named: Vec<(&str, &String)> = [
            ("--output", Some(&self.output)),
            ("--deltas", self.deltas.as_ref()),
            ("--clusters", self.clusters.as_ref()),
            ("--clstr", self.clstr.as_ref()),
        ]
        .into_iter()
        .filter_map(|(flag, path)| path.map(|p| (flag, p)))
        .collect();
        for (i, (flag, path)) in named.iter().enumerate() {
            if let Some((other, _)) = named[..i].iter().find(|(_, p)| p == path) {
                let what = if path.as_str() == "-" {
                    "standard output".to_string()
                } else {
                    format!("'{path}'")
                };
                return Err(config::ConfigError(format!(
                    "{other} and {flag} both write to {what}"
                )));
            }
        }
        Ok(ReduceJob {
            input: input_path(&self.input),
            output: OutputPath::parse(&self.output),
            deltas: self.deltas.as_deref().map(OutputPath::parse),
            clusters: self.clusters.as_deref().map(OutputPath::parse),
            clstr: self.clstr.as_deref().map(OutputPath::parse),
            config,
        })
    }
}

impl ReconstructArgs {
    pub fn into_job(self) -> ReconstructJob {
        ReconstructJob {
            reduced: input_path(&self.input),
            deltas: self.deltas,
            output: OutputPath::parse(&self.output),
            line_width: self.line_width,
        }
    }
}
