//! What `talaria reduce` prints at the end: the summary, and on request the profile tables
//! (`--profile`, `--profile-alignment`, `--profile-io`) and one JSON document (`--json`).
//! It only formats figures the run measured; it must not print anything during the run.
//!
//! `--json` alone (or `--json -`) prints the JSON document on stderr INSTEAD of the text (summary and tables),
//! so stderr is one parseable document; `--json FILE` writes it to FILE and leaves stderr as
//! it would be without `--json`. `--profile-output FILE` writes the profile as one
//! self-contained HTML page (see `profile_html.rs`), under a temporary name renamed when complete. `--quiet` silences the summary only, never a table or a JSON
//! document that was asked for.

use crate::reduce::Summary;
use std::path::PathBuf;

/// Report and monitoring flags of `talaria reduce`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ReportFlags {
    /// At the end, print a profile on stderr: throughput, memory, per-stage busy/waiting/blocked,
    /// per-thread CPU, queues, latencies, I/O, bottleneck verdict and KPI grades.
    #[arg(long)]
    pub profile: bool,
    /// At the end, print alignment figures: rate, DP cells, band widths, identities, candidates.
    #[arg(long)]
    pub profile_alignment: bool,
    /// At the end, print I/O figures: bytes, calls, time in I/O, reader mode, buffer use.
    #[arg(long)]
    pub profile_io: bool,
    /// The end-of-run figures as one JSON document: on stderr instead of the text (no value, or
    /// `-`), or written to FILE. Schema: README "Profiling".
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "-")]
    pub json: Option<PathBuf>,
    /// While running, show progress, rate, ETA, per-stage CPU, queue fill and memory on stderr
    /// (a live line on a terminal, a log line every 5 s otherwise).
    #[arg(long)]
    pub monitor: bool,
    /// At the end, write the profile with its charts (stage utilization, queue fill and memory
    /// over time, latencies, alignment) as one self-contained HTML file.
    #[arg(long, value_name = "FILE")]
    pub profile_output: Option<PathBuf>,
    /// While running, print each stage thread's name, thread id and allowed CPUs, its CPU use
    /// about once a second, and a per-thread table at the end (stderr, `talaria threads:`).
    #[arg(long)]
    pub debug_threads: bool,
    /// Count allocations per stage (allocs, bytes allocated and freed, net and its peak) and the
    /// process's live and peak live bytes; print the table at the end (and in --json).
    #[arg(long)]
    pub trace_memory: bool,
    /// At the end, print the reference cache's figures per deciding thread and in total: policy,
    /// capacity, entries, bytes, lookups, hits, misses, hit rate, evictions, inserted.
    #[arg(long)]
    pub cache_stats: bool,
}

/// Version of the JSON document's layout; bumped when a field changes meaning or goes away.
pub const JSON_SCHEMA_VERSION: u32 = 1;

impl ReportFlags {
    /// The JSON document for this run and these flags.
    pub fn json_document(&self, summary: &Summary) -> serde_json::Value {
        let mut doc = serde_json::json!({
            "schema_version": JSON_SCHEMA_VERSION,
            "summary": summary,
        });
        let p = &summary.profile;
        if self.profile {
            doc["profile"] = serde_json::to_value(p).unwrap_or_default();
        }
        if self.profile_alignment {
            doc["alignment"] = serde_json::to_value(&p.alignment).unwrap_or_default();
        }
        if self.profile_io {
            doc["io"] = serde_json::to_value(&p.io).unwrap_or_default();
        }
        doc
    }

    /// The text for stderr (none when the JSON goes there instead; no summary when quiet).
    pub fn text(&self, summary: &Summary, quiet: bool) -> String {
        if self.json_on_stderr() {
            return String::new();
        }
        let mut out = if quiet {
            String::new()
        } else {
            summary.to_string()
        };
        if self.profile {
            out += &summary.profile.profile_table(summary.memory_limit);
        }
        if self.profile_alignment {
            out += &summary.profile.alignment_table();
        }
        if self.profile_io {
            out += &summary.profile.io_table();
        }
        if let Some(trace) = &summary.memory_trace {
            out += &trace.table();
        }
        if self.cache_stats {
            out += &summary
                .cache
                .as_ref()
                .map_or(crate::reduce::cache_report::OFF.to_string(), |c| c.table());
        }
        out
    }

    /// What the run prints while it goes.
    pub fn live_views(&self) -> crate::reduce::LiveViews {
        crate::reduce::LiveViews {
            monitor: self.monitor,
            debug_threads: self.debug_threads,
        }
    }

    fn json_on_stderr(&self) -> bool {
        self.json.as_ref().is_some_and(|p| p.as_os_str() == "-")
    }

    /// Print the text, the JSON document and the HTML page where asked. Errors name the file.
    pub fn emit(&self, summary: &Summary, quiet: bool) -> Result<(), String> {
        eprint!("{}", self.text(summary, quiet));
        if let Some(path) = &self.json {
            let text = serde_json::to_string_pretty(&self.json_document(summary))
                .map_err(|e| format!("--json: {e}"))?;
            if self.json_on_stderr() {
                eprintln!("{text}");
            } else {
                std::fs::write(path, text + "\n")
                    .map_err(|e| format!("{}: {e}", path.display()))?;
            }
        }
        if let Some(path) = &self.profile_output {
            let page = crate::reduce::profile_html::page(summary);
            write_complete(path, page.as_bytes())
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok(())
    }
}

/// Write `bytes` to a temporary file beside `path`, then rename it to `path`: a failed write
/// leaves no file that looks finished.
fn write_complete(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("not a file name"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}
