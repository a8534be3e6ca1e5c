//! `talaria-gen`: writes a synthetic FASTA database of sequence families with controlled
//! identities (see `talaria::generate`). Same options and seed, same bytes.
//! A thin shell: parse flags into `GenOptions`, pick the output, report one summary line.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use talaria::bio::alphabet::Alphabet;
use talaria::error::{EXIT_IO, EXIT_USAGE};
use talaria::generate::{generate, GenOptions, GenSummary, IdentityRange};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum AlphabetArg {
    Protein,
    #[value(alias = "nucleotide")]
    Dna,
}

/// Generate a deterministic synthetic FASTA database of sequence families.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Residue alphabet.
    #[arg(long, value_enum, default_value = "protein")]
    alphabet: AlphabetArg,
    /// Total number of records (exact).
    #[arg(short = 'n', long, default_value_t = 10_000)]
    records: u64,
    /// Mean members per family, ancestor included (geometric distribution).
    #[arg(long, default_value_t = 5.0)]
    family_size: f64,
    /// Largest family.
    #[arg(long, default_value_t = 1000)]
    max_family_size: u32,
    /// Identity of variants to their ancestor, MIN-MAX or one value (drawn uniformly).
    #[arg(long, default_value = "0.5-1.0")]
    identity: IdentityRange,
    /// Share of non-ancestor members that are exact copies of the ancestor.
    #[arg(long, default_value_t = 0.05)]
    exact_duplicate_fraction: f64,
    /// Share of non-ancestor members that are exact substrings of the ancestor.
    #[arg(long, default_value_t = 0.05)]
    substring_fraction: f64,
    /// Median length [default: 300 protein, 1500 dna].
    #[arg(long)]
    length_median: Option<f64>,
    /// Standard deviation of ln(length) [default: 0.6 protein, 0.5 dna].
    #[arg(long)]
    length_sigma: Option<f64>,
    /// Shortest length [default: 20 protein, 50 dna].
    #[arg(long)]
    length_min: Option<usize>,
    /// Longest length [default: 30000 protein, 100000 dna].
    #[arg(long)]
    length_max: Option<usize>,
    /// Residues per line; 0 writes each sequence on one line.
    #[arg(long, default_value_t = 60)]
    line_width: usize,
    /// Share of records with one lowercase stretch.
    #[arg(long, default_value_t = 0.0)]
    lowercase_fraction: f64,
    /// End lines with CR LF.
    #[arg(long)]
    crlf: bool,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Records planned and shuffled together (bounds memory; members interleave within it).
    #[arg(long, default_value_t = 1 << 16)]
    window: usize,
    /// Output file (written as FILE.tmp-PID, renamed when complete); stdout when absent.
    #[arg(short, long)]
    output: Option<PathBuf>,
}

impl Args {
    fn options(&self) -> GenOptions {
        let alphabet = match self.alphabet {
            AlphabetArg::Protein => Alphabet::Protein,
            AlphabetArg::Dna => Alphabet::Nucleotide,
        };
        let mut opts = GenOptions::for_alphabet(alphabet);
        opts.records = self.records;
        opts.mean_family_size = self.family_size;
        opts.max_family_size = self.max_family_size;
        opts.identity = self.identity;
        opts.exact_duplicate_fraction = self.exact_duplicate_fraction;
        opts.substring_fraction = self.substring_fraction;
        let length = &mut opts.length;
        length.median = self.length_median.unwrap_or(length.median);
        length.sigma = self.length_sigma.unwrap_or(length.sigma);
        length.min = self.length_min.unwrap_or(length.min);
        length.max = self.length_max.unwrap_or(length.max);
        opts.line_width = self.line_width;
        opts.lowercase_fraction = self.lowercase_fraction;
        opts.crlf = self.crlf;
        opts.seed = self.seed;
        opts.window_records = self.window;
        opts
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let opts = args.options();
    if let Err(err) = opts.validate() {
        eprintln!("talaria-gen: {err}");
        return ExitCode::from(EXIT_USAGE);
    }
    match run(&opts, args.output.as_deref()) {
        Ok(summary) => {
            let target = args
                .output
                .as_deref()
                .map_or("stdout".into(), |p| p.display().to_string());
            eprintln!(
                "talaria-gen: wrote {} records ({} families: {} ancestors, {} variants, {} duplicates, \
                 {} substrings; {} lowercased), {} residues, {} bytes to {target}",
                summary.records,
                summary.families,
                summary.ancestors,
                summary.variants,
                summary.duplicates,
                summary.substrings,
                summary.lowercased,
                summary.residues,
                summary.bytes
            );
            ExitCode::SUCCESS
        }
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("talaria-gen: {err:#}");
            ExitCode::from(EXIT_IO)
        }
    }
}

fn run(opts: &GenOptions, output: Option<&Path>) -> anyhow::Result<GenSummary> {
    let Some(path) = output else {
        return Ok(generate(opts, &mut io::stdout().lock())?);
    };
    let mut temp = path.as_os_str().to_owned();
    temp.push(format!(".tmp-{}", std::process::id()));
    let temp = PathBuf::from(temp);
    let result = (|| -> anyhow::Result<GenSummary> {
        let mut file =
            File::create(&temp).with_context(|| format!("creating {}", temp.display()))?;
        let summary =
            generate(opts, &mut file).with_context(|| format!("writing {}", temp.display()))?;
        file.flush()?;
        std::fs::rename(&temp, path)
            .with_context(|| format!("renaming {} to {}", temp.display(), path.display()))?;
        Ok(summary)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}
