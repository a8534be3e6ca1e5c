//! Text tables of a [`RunProfile`] for stderr: `--profile`, `--profile-alignment`, `--profile-io`.
//! Formatting only: every number printed is a field of the profile, nothing is computed here
//! beyond unit conversions.

use crate::reduce::profile::RunProfile;
use std::fmt::Write;

fn mib(bytes: f64) -> f64 {
    bytes / (1024.0 * 1024.0)
}

fn opt_pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.1}"))
}

impl RunProfile {
    /// The `--profile` table.
    pub fn profile_table(&self, memory_limit: u64) -> String {
        let mut o = String::new();
        let _ = self.write_profile(&mut o, memory_limit);
        o
    }

    fn write_profile(&self, o: &mut String, memory_limit: u64) -> std::fmt::Result {
        writeln!(
            o,
            "talaria profile: wall {:.2} s, {} CPUs, {} aligner threads{}",
            self.wall_seconds,
            self.cpus,
            self.aligner_threads,
            if self.accounting {
                ""
            } else {
                " (accounting off: TALARIA_ACCOUNTING=off)"
            }
        )?;
        writeln!(
            o,
            "  throughput: {:.0} seq/s, {:.2} MB/s",
            self.records_per_second, self.mb_per_second
        )?;
        let m = &self.memory;
        write!(o, "  memory: peak RSS ")?;
        match m.peak_rss_bytes {
            Some(b) => write!(o, "{:.1} MiB", mib(b as f64))?,
            None => write!(o, "unknown")?,
        }
        match m.average_rss_bytes {
            Some(b) => write!(
                o,
                ", average {:.1} MiB over {} samples",
                mib(b as f64),
                m.samples
            )?,
            None => write!(o, ", average unknown")?,
        }
        writeln!(o, "; limit {:.0} MiB", mib(memory_limit as f64))?;
        match (self.process_cpu_seconds, self.cpu_utilization_pct) {
            (Some(s), Some(p)) => writeln!(
                o,
                "  cpu: {s:.2} s CPU in {:.2} s = {p:.0}% of {} CPUs",
                self.wall_seconds, self.cpus
            )?,
            _ => writeln!(o, "  cpu: unknown")?,
        }
        writeln!(
            o,
            "  {:<14} {:>3} {:>6} {:>6} {:>6} {:>6} {:>6} {:>15} {:>15}",
            "stage",
            "thr",
            "busy%",
            "wait%",
            "block%",
            "ended%",
            "cpu%",
            "items in/out",
            "MiB in/out"
        )?;
        for s in &self.stages {
            writeln!(
                o,
                "  {:<14} {:>3} {:>6.1} {:>6.1} {:>6.1} {:>6.1} {:>6} {:>15} {:>15}",
                s.name,
                s.threads,
                s.busy_pct,
                s.waiting_pct,
                s.blocked_pct,
                s.ended_pct,
                opt_pct(s.cpu_pct),
                format!("{}/{}", s.items_in, s.items_out),
                format!(
                    "{:.1}/{:.1}",
                    mib(s.bytes_in as f64),
                    mib(s.bytes_out as f64)
                ),
            )?;
        }
        writeln!(
            o,
            "  {:<14} {:>8} {:>8} {:>8} {:>6}",
            "thread", "tid", "cpu s", "wall s", "cpu%"
        )?;
        for t in &self.threads {
            writeln!(
                o,
                "  {:<14} {:>8} {:>8} {:>8.2} {:>6}",
                t.name,
                t.tid,
                t.cpu_seconds.map_or("-".into(), |c| format!("{c:.2}")),
                t.wall_seconds,
                opt_pct(t.cpu_pct)
            )?;
        }
        writeln!(
            o,
            "  {:<14} {:>10} {:>6} {:>6} {:>10} {:>10}",
            "queue", "capacity", "peak%", "avg%", "blocked s", "starved s"
        )?;
        for c in &self.channels {
            writeln!(
                o,
                "  {:<14} {:>10} {:>6.1} {:>6.1} {:>10.3} {:>10.3}",
                c.name,
                format!("{:.1}M", mib(c.capacity_bytes as f64)),
                c.peak_pct,
                c.average_pct,
                c.send_blocked_seconds,
                c.recv_waited_seconds
            )?;
        }
        writeln!(
            o,
            "  {:<10} {:<14} {:>9} {:>10} {:>10} {:>10} {:>10}",
            "latency", "stage", "count", "p50 us", "p90 us", "p99 us", "max us"
        )?;
        for l in &self.latency {
            writeln!(
                o,
                "  {:<10} {:<14} {:>9} {:>10.1} {:>10.1} {:>10.1} {:>10.1}",
                l.what, l.stage, l.count, l.p50_us, l.p90_us, l.p99_us, l.max_us
            )?;
        }
        match self.caches.first() {
            None => writeln!(
                o,
                "  caches: no caches (performance.cache_alignments is off; no hit rate to report)"
            )?,
            Some(c) => writeln!(
                o,
                "  caches: reference cache {} lookups, {} hits, {} misses, hit rate {}, {} evictions, {} entries ({:.1} MiB) at the end",
                c.lookups,
                c.hits,
                c.misses,
                c.hit_rate
                    .map_or("n/a".to_string(), |r| format!("{:.1}%", 100.0 * r)),
                c.evictions,
                c.entries,
                c.bytes as f64 / (1024.0 * 1024.0)
            )?,
        }
        let io = &self.io;
        write!(
            o,
            "  i/o: read {:.1} MiB at {:.0} MB/s ({}, {})",
            mib(io.read_bytes as f64),
            io.read_mb_per_s,
            io.reader_mode,
            io.compression
        )?;
        for w in &io.outputs {
            write!(
                o,
                "; {} {:.1} MiB at {:.0} MB/s",
                w.name,
                mib(w.bytes as f64),
                w.mb_per_s
            )?;
        }
        writeln!(o, "; time in i/o calls {}", io_wait(io.io_wait_pct))?;
        writeln!(
            o,
            "  bottleneck: {} ({})",
            self.bottleneck.verdict, self.bottleneck.reason
        )?;
        writeln!(o, "  {:<16} {:<22} {:<9} target", "KPI", "value", "grade")?;
        for k in &self.kpis {
            writeln!(
                o,
                "  {:<16} {:<22} {:<9} {}",
                k.metric, k.value, k.grade, k.target
            )?;
        }
        Ok(())
    }

    /// The `--profile-alignment` table.
    pub fn alignment_table(&self) -> String {
        let a = &self.alignment;
        let mut o = String::new();
        let _ = writeln!(
            o,
            "talaria alignment profile: kernel {} (SIMD level), {} alignments ({} passed, {} over the cell cap)",
            a.simd, a.alignments, a.passed, a.too_large
        );
        let _ = writeln!(
            o,
            "  rate: {:.0} alignments/s of wall, {:.0}/s per aligner thread in the kernel; {} DP cells ({:.1} M cells/s in the kernel)",
            a.per_second,
            a.per_aligner_second,
            a.dp_cells,
            a.dp_cells_per_second / 1e6
        );
        let _ = writeln!(
            o,
            "  band half-width: min {} mean {:.1} max {} (over every alignment run); adaptive widenings {} ({} joins needed one)",
            a.band_half_width_min,
            a.band_half_width_mean,
            a.band_half_width_max,
            a.adaptive_widenings,
            a.joins_after_widening
        );
        let _ = writeln!(
            o,
            "  candidates: {} searches, {} candidates ({:.2} per search, max {}), {} ruled out by their LCS, {} alignments run, {} exact duplicates (no alignment)",
            a.searches,
            a.candidates,
            a.candidates_per_search,
            a.max_candidates,
            a.ruled_out_by_lcs,
            a.alignments,
            a.exact_hits
        );
        let hist: Vec<String> = a
            .candidates_hist
            .iter()
            .map(|(bin, n)| format!("{bin}:{n}"))
            .collect();
        let _ = writeln!(o, "  candidates per search: {}", hist.join(" "));
        let ident: Vec<String> = a
            .identity_pct
            .iter()
            .map(|(p, n)| format!("{p}%:{n}"))
            .collect();
        let _ = writeln!(
            o,
            "  identity of passed alignments: {}",
            if ident.is_empty() {
                "none".into()
            } else {
                ident.join(" ")
            }
        );
        o
    }

    /// The `--profile-io` table.
    pub fn io_table(&self) -> String {
        let io = &self.io;
        let mut o = String::new();
        let _ = writeln!(
            o,
            "talaria i/o profile: reader mode {}, compression {}",
            io.reader_mode, io.compression
        );
        let (f, b) = (&io.prefetch, &io.pool);
        let mi = |x: u64| x as f64 / (1024.0 * 1024.0);
        let _ = writeln!(
            o,
            "  prefetch: distance {} blocks ({:.1} MiB window), {} ranges advised ({:.1} MiB, {} refused), {} prefetch threads",
            f.distance_blocks,
            mi(f.window_bytes),
            f.ranges_advised,
            mi(f.bytes_advised),
            f.advice_failed,
            f.threads
        );
        let _ = writeln!(
            o,
            "  block pool: {:.1} MiB, {} buffers allocated, {} reused, {} freed, peak idle {:.1} MiB",
            mi(b.capacity_bytes),
            b.buffers_allocated,
            b.buffers_reused,
            b.buffers_freed,
            mi(b.peak_idle_bytes)
        );
        let _ = writeln!(
            o,
            "  {:<14} {:>12} {:>8} {:>12} {:>9} {:>9}",
            "stream", "bytes", "calls", "bytes/call", "time s", "MB/s"
        );
        let _ = writeln!(
            o,
            "  {:<14} {:>12} {:>8} {:>12.0} {:>9.3} {:>9.1}",
            "read",
            io.read_bytes,
            io.read_calls,
            io.read_bytes_per_call,
            io.read_seconds,
            io.read_mb_per_s
        );
        for p in &io.passes {
            let _ = writeln!(
                o,
                "  {:<14} {:>12} {:>8} {:>12.0} {:>9.3} {:>9.1}",
                p.name,
                p.bytes,
                p.calls,
                p.bytes as f64 / p.calls.max(1) as f64,
                p.seconds,
                p.mb_per_s
            );
        }
        for w in &io.outputs {
            let _ = writeln!(
                o,
                "  {:<14} {:>12} {:>8} {:>12.0} {:>9.3} {:>9.1}",
                w.name, w.bytes, w.calls, w.bytes_per_call, w.seconds, w.mb_per_s
            );
        }
        let _ = writeln!(
            o,
            "  time in i/o calls: {} (reads include decompression)",
            io_wait(io.io_wait_pct)
        );
        let _ = writeln!(
            o,
            "  {:<14} {:>10} {:>6} {:>6}",
            "buffer", "capacity", "peak%", "avg%"
        );
        for c in &self.channels {
            let _ = writeln!(
                o,
                "  {:<14} {:>10} {:>6.1} {:>6.1}",
                c.name,
                format!("{:.1}M", mib(c.capacity_bytes as f64)),
                c.peak_pct,
                c.average_pct
            );
        }
        o
    }
}

/// The share of wall time in i/o calls, or why it is not known.
fn io_wait(pct: Option<f64>) -> String {
    match pct {
        Some(p) => format!("{p:.1}% of wall"),
        None => "unknown (TALARIA_ACCOUNTING=off)".into(),
    }
}
