//! The end-of-run figures of `talaria reduce`, printed as a short block on stderr.

use std::fmt;

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Summary {
    pub input_name: String,
    pub compression: String,
    pub reader: String,
    pub alphabet: String,
    pub kmer_size: usize,
    /// Candidates from 1 in this many k-mers (1: all; `use_sketching`).
    pub sketch_scale: u64,
    /// Whether talaria chose the sketch, k and scale itself (`use_sketching = "auto"` and
    /// `kmer_size` 0).
    pub search_auto: bool,
    /// The index keys' spaced seed pattern, if spaced.
    pub seed: Option<String>,
    pub threshold: f64,
    /// The order records were decided in, and why (`reduce::longest_first`).
    pub order: String,
    /// Where the representatives' residues were kept (`reduce::residue_file`).
    pub residues: String,
    pub threads: usize,
    pub records: u64,
    pub representatives: u64,
    pub members: u64,
    pub exact_members: u64,
    /// Size of the input file as stored (compressed size when compressed), if known.
    pub input_file_bytes: Option<u64>,
    /// Decompressed input bytes.
    pub input_bytes: u64,
    pub reduced_bytes: u64,
    pub deltas_bytes: Option<u64>,
    pub seconds: f64,
    pub peak_rss: Option<u64>,
    pub memory_limit: u64,
    pub alignments: u64,
    pub alignments_passed: u64,
    pub rechecks: u64,
    pub recheck_joins: u64,
    /// Re-checks the aligners' look-ahead answered whole (`performance.lookahead`).
    pub lookahead_settled: u64,
    /// Whether the look-ahead ran ("off", "on", "auto: ...").
    pub lookahead: String,
    /// Whether the aligners ran below the writer, and why (`performance.writer_priority`).
    pub writer_priority: String,
    pub redone: u64,
    pub index_peak_bytes: u64,
    pub index_budget: u64,
    pub index_evicted: u64,
    pub index_not_indexed: u64,
    pub too_large: u64,
    /// How alignments are banded (`BandPolicy::describe`).
    pub band: String,
    /// Which representatives become candidates (`alignment.use_approximation`, `min_shared_kmers`).
    pub candidates: String,
    pub widened: u64,
    /// Candidates skipped without aligning: LCS below the threshold.
    pub ruled_out_by_lcs: u64,
    pub passed_after_widening: u64,
    /// The workload preset and the tweaks in effect (None when no switch is on).
    pub preset: Option<PresetReport>,
    /// Where the aligners ran, when pinned (`--pin-threads`).
    pub placement: Option<crate::reduce::placement::PlacementReport>,
    /// The global allocator compiled in (`performance.memory.allocator`).
    pub allocator: String,
    /// The aligner kernel and how it was chosen (`performance.use_simd`, `simd_alignment`,
    /// `auto_detect_simd`).
    pub simd: String,
    /// What `performance.memory.use_huge_pages` did (None when off).
    pub huge_pages: Option<HugePages>,
    /// What `performance.use_page_locking` did (None when off).
    pub page_locking: Option<PageLocking>,
    /// Allocator counts per stage (`--trace-memory`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_trace: Option<crate::reduce::memtrace::MemoryTrace>,
    /// The reference cache's figures (None when `performance.cache_alignments` is off).
    pub cache: Option<crate::reduce::cache_report::CacheSummary>,
    /// Measured per-stage figures; printed with `--profile` (see `profile.rs`).
    #[serde(skip)]
    pub profile: crate::reduce::profile::RunProfile,
}

/// `performance.memory.use_huge_pages`: what was advised and what the kernel gave.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct HugePages {
    /// Bytes of the index's heads table and postings advised with MADV_HUGEPAGE at the end.
    pub index_advised_bytes: u64,
    /// Anonymous memory of the whole process in transparent huge pages at the end.
    pub anon_huge_pages_bytes: Option<u64>,
    /// The kernel's THP mode (`always`, `madvise`, `never`).
    pub kernel_mode: Option<String>,
}

/// `performance.use_page_locking`: what was locked.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct PageLocking {
    /// Bytes of the index allowed to be locked (0 when RLIMIT_MEMLOCK was too low).
    pub allowed_bytes: u64,
    /// Bytes of the index's heads table and postings locked at the end.
    pub index_locked_bytes: u64,
    /// VmLck of the process at the end.
    pub process_locked_bytes: Option<u64>,
    /// Why nothing (more) was locked, if so.
    pub not_locked: Option<String>,
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

impl Summary {
    pub fn sequences_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.records as f64 / self.seconds
        } else {
            0.0
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kept = if self.records > 0 {
            100.0 * self.representatives as f64 / self.records as f64
        } else {
            0.0
        };
        writeln!(
            f,
            "talaria reduce: {} records -> {} representatives + {} members ({} exact duplicates) = {:.1}% kept",
            self.records, self.representatives, self.members, self.exact_members, kept
        )?;
        let out = self.reduced_bytes + self.deltas_bytes.unwrap_or(0);
        write!(f, "  bytes: input {:.2} MiB", mib(self.input_bytes))?;
        if let Some(file) = self.input_file_bytes.filter(|_| self.compression != "none") {
            write!(f, " ({:.2} MiB {})", mib(file), self.compression)?;
        }
        write!(f, ", reduced FASTA {:.2} MiB", mib(self.reduced_bytes))?;
        if let Some(d) = self.deltas_bytes {
            write!(f, ", deltas {:.2} MiB", mib(d))?;
        }
        let ratio = if self.input_bytes > 0 {
            100.0 * out as f64 / self.input_bytes as f64
        } else {
            0.0
        };
        writeln!(f, " -> out/in {ratio:.1}%")?;
        write!(
            f,
            "  time: {:.2} s, {:.0} sequences/s, {} aligner threads; peak memory ",
            self.seconds,
            self.sequences_per_second(),
            self.threads
        )?;
        match self.peak_rss {
            Some(rss) => write!(f, "{:.1} MiB", mib(rss))?,
            None => write!(f, "unknown")?,
        }
        writeln!(
            f,
            " (limit {:.0} MiB), allocator {}",
            mib(self.memory_limit),
            self.allocator
        )?;
        writeln!(
            f,
            "  input: {} ({}), {} k={}{}, threshold {}\n  order: {}\n  residues: {}\n  reader: {}",
            self.input_name,
            self.compression,
            self.alphabet,
            self.kmer_size,
            search_note(self),
            self.threshold,
            self.order,
            self.residues,
            self.reader
        )?;
        writeln!(
            f,
            "  candidates: {}\n  alignments: {} run, {} passed, {} candidates ruled out by LCS; writer re-checks {} ({} joined, {} answered whole by the aligners' look-ahead ({})), redone after eviction {}",
            self.candidates,
            self.alignments,
            self.alignments_passed,
            self.ruled_out_by_lcs,
            self.rechecks,
            self.recheck_joins,
            self.lookahead_settled,
            self.lookahead,
            self.redone
        )?;
        writeln!(
            f,
            "  band: {}; widened {} times, {} joins needed a wider band",
            self.band, self.widened, self.passed_after_widening
        )?;
        writeln!(f, "  kernel: {}", self.simd)?;
        writeln!(f, "  priority: {}", self.writer_priority)?;
        write!(
            f,
            "  index: peak {:.1} MiB of {:.0} MiB budget",
            mib(self.index_peak_bytes),
            mib(self.index_budget)
        )?;
        if self.index_evicted > 0 || self.index_not_indexed > 0 {
            write!(
                f,
                "; FULL: {} representatives evicted (least recently used), {} never indexed — \
                 later records could not join them, so the reduction is weaker than with more memory",
                self.index_evicted, self.index_not_indexed
            )?;
        }
        if self.too_large > 0 {
            write!(
                f,
                "; {} alignments skipped (matrix over the cell cap)",
                self.too_large
            )?;
        }
        writeln!(f)?;
        if let Some(c) = &self.cache {
            writeln!(f, "{}", c.line())?;
        }
        if let Some(h) = &self.huge_pages {
            write!(
                f,
                "  huge pages: {:.1} MiB of the index advised (MADV_HUGEPAGE), kernel THP mode {}; ",
                mib(h.index_advised_bytes),
                h.kernel_mode.as_deref().unwrap_or("unknown")
            )?;
            match h.anon_huge_pages_bytes {
                Some(b) => writeln!(
                    f,
                    "{:.1} MiB of the process in huge pages at the end",
                    mib(b)
                )?,
                None => writeln!(f, "huge pages in use unknown")?,
            }
        }
        if let Some(l) = &self.page_locking {
            write!(
                f,
                "  page locking: {:.1} MiB of the index locked (mlock2 MLOCK_ONFAULT), {:.1} MiB allowed",
                mib(l.index_locked_bytes),
                mib(l.allowed_bytes)
            )?;
            if let Some(b) = l.process_locked_bytes {
                write!(f, ", VmLck {:.1} MiB", mib(b))?;
            }
            match &l.not_locked {
                Some(why) => writeln!(f, "; not locked: {why}")?,
                None => writeln!(f)?,
            }
        }
        if let Some(placement) = &self.placement {
            writeln!(f, "  {placement}")?;
        }
        if let Some(p) = &self.preset {
            writeln!(
                f,
                "  preset: {} ({}); shortcut joins: {} exact containment, {} ungapped diff",
                p.preset,
                p.tweaks.join(", "),
                p.shortcut_exact,
                p.shortcut_ungapped
            )?;
        }
        Ok(())
    }
}

/// What `performance.profile_preset` and its switches did (config/preset.rs).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct PresetReport {
    /// `none` when switches were set on their own.
    pub preset: String,
    /// The switches on, as `section.key` names.
    pub tweaks: Vec<String>,
    /// Joins by the shortcuts before the DP (`fast_exact_match`, `use_diff_encoding`).
    pub shortcut_exact: u64,
    pub shortcut_ungapped: u64,
    /// zstd level of the deltas file's frames.
    pub deltas_zstd_level: i32,
}

/// What follows `k=` on the summary's `input:` line: the spaced seed, the sample, and whether
/// talaria chose them.
fn search_note(s: &Summary) -> String {
    let mut parts = Vec::new();
    if let Some(seed) = &s.seed {
        parts.push(format!("spaced seed {seed}"));
    }
    if s.sketch_scale > 1 {
        parts.push(format!("sketch: 1 in {} k-mers", s.sketch_scale));
    } else if s.search_auto {
        parts.push("all k-mers".to_string());
    }
    if parts.is_empty() {
        return String::new();
    }
    let auto = if s.search_auto { ", automatic" } else { "" };
    format!(" ({}{auto})", parts.join("; "))
}
