//! The end-of-run profile of `talaria reduce`: figures gathered from the stage registry (per-thread
//! counters, CPU time, histograms), the sampler's series and the deciders' counters, plus the
//! bottleneck verdict and the grades against the user guide's KPI table.
//! Every figure here is measured during the run; this module only derives ratios from them and
//! must not estimate anything it was not given. Text rendering lives in `profile_text.rs`.

use crate::reduce::decide::DecideStats;
use serde::Serialize;
use talaria_stages::metrics::{self, Percentiles, Registry, ThreadReport};

/// What the pipeline knows at the end besides the registry.
pub struct RunTotals {
    pub seconds: f64,
    pub aligner_threads: usize,
    pub records: u64,
    /// Decompressed input bytes.
    pub input_bytes: u64,
    pub reader_mode: String,
    pub compression: String,
    /// Reads done on the main thread before the reader started (alphabet detection): calls, ns.
    pub prefix_reads: (u64, u64),
    /// Longest-first order's sequential passes over the file (scan, rewrite), besides the
    /// reader stage's out-of-order replay; empty in arrival order.
    pub order_reads: Vec<PassIo>,
    /// The aligner kernel every aligner ran (`SimdLevel::name`).
    pub simd: String,
    /// Readahead and prefetch threads (`prefetch_distance`, `prefetch_threads`).
    pub prefetch: PrefetchIo,
    /// The reader's block pool (`allocation_pool_size`).
    pub pool: PoolIo,
}

/// What the prefetcher did: readahead advice on the input file, and the prefetch stage's size.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PrefetchIo {
    /// `prefetch_distance`, in reader blocks (0: no readahead).
    pub distance_blocks: u64,
    /// Bytes kept advised ahead of the reader.
    pub window_bytes: u64,
    /// `posix_fadvise(WILLNEED)` calls made on the input (scan and reader passes).
    pub ranges_advised: u64,
    pub bytes_advised: u64,
    /// Advice the kernel refused.
    pub advice_failed: u64,
    /// Threads of the prefetch stage.
    pub threads: usize,
}

/// The reader's pool of block buffers.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PoolIo {
    /// Idle bytes it may keep (counted in the reader's share of the memory limit).
    pub capacity_bytes: u64,
    /// Block buffers allocated because none was idle, and taken from the pool instead.
    pub buffers_allocated: u64,
    pub buffers_reused: u64,
    /// Buffers freed because the pool was full.
    pub buffers_freed: u64,
    pub peak_idle_bytes: u64,
}

/// One sequential read pass done outside the reader stage.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PassIo {
    pub name: String,
    pub bytes: u64,
    pub calls: u64,
    pub seconds: f64,
    pub mb_per_s: f64,
}

impl PassIo {
    pub fn of(name: String, bytes: u64, calls: u64, read_ns: u64) -> PassIo {
        PassIo {
            name,
            bytes,
            calls,
            seconds: read_ns as f64 / 1e9,
            mb_per_s: per_second(bytes as f64 / 1e6, read_ns),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct RunProfile {
    /// False when `TALARIA_ACCOUNTING=off`: stage, thread and latency figures are then absent.
    pub accounting: bool,
    pub wall_seconds: f64,
    /// CPUs this process may run on.
    pub cpus: usize,
    pub aligner_threads: usize,
    pub records_per_second: f64,
    pub mb_per_second: f64,
    pub process_cpu_seconds: Option<f64>,
    /// Process CPU time / (wall time x CPUs), percent.
    pub cpu_utilization_pct: Option<f64>,
    pub memory: MemoryProfile,
    pub stages: Vec<StageProfile>,
    pub threads: Vec<ThreadProfile>,
    pub channels: Vec<ChannelProfile>,
    pub latency: Vec<LatencyProfile>,
    /// The reference cache's totals (empty when `cache_alignments` is off).
    pub caches: Vec<crate::reduce::cache_report::CacheFigures>,
    pub io: IoProfile,
    pub alignment: AlignmentProfile,
    pub bottleneck: Bottleneck,
    pub kpis: Vec<Kpi>,
    pub series: SeriesProfile,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct MemoryProfile {
    /// VmHWM at the end of the run.
    pub peak_rss_bytes: Option<u64>,
    /// Mean of the sampler's RSS readings (/proc/self/statm).
    pub average_rss_bytes: Option<u64>,
    pub samples: usize,
}

/// One stage: its threads added up. Percentages are of the run's wall time times the stage's
/// threads, so a stage that finished early shows the rest as `ended_pct`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct StageProfile {
    pub name: String,
    pub threads: usize,
    /// Time alive and neither waiting for input nor blocked on output (working, or runnable
    /// but waiting for a CPU).
    pub busy_pct: f64,
    pub waiting_pct: f64,
    pub blocked_pct: f64,
    /// After the thread returned (its input was exhausted).
    pub ended_pct: f64,
    /// CPU time of its threads / (run wall time x threads).
    pub cpu_pct: Option<f64>,
    /// Items are blocks (reader out, chunker in), chunks, or buffers (sinks); the writer's
    /// output is counted as records decided and their input bytes.
    pub items_in: u64,
    pub items_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ThreadProfile {
    pub name: String,
    pub tid: i64,
    pub wall_seconds: f64,
    pub cpu_seconds: Option<f64>,
    pub cpu_pct: Option<f64>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ChannelProfile {
    pub name: String,
    pub capacity_bytes: usize,
    pub peak_bytes: usize,
    pub peak_pct: f64,
    /// Mean fill over the sampler's readings.
    pub average_pct: f64,
    pub items: u64,
    pub bytes: u64,
    pub send_blocked_seconds: f64,
    pub recv_waited_seconds: f64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct LatencyProfile {
    /// "chunk" (one chunk through a stage), "alignment", "read" or "write" (one call).
    pub what: String,
    pub stage: String,
    pub count: u64,
    pub mean_us: f64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct IoProfile {
    /// The reader engine and its block size, as the summary names it.
    pub reader_mode: String,
    pub compression: String,
    pub read_bytes: u64,
    pub read_calls: u64,
    pub read_bytes_per_call: f64,
    /// Time inside read calls (decompression included).
    pub read_seconds: f64,
    pub read_mb_per_s: f64,
    pub outputs: Vec<OutputIo>,
    /// Longest first: the scan and rewrite passes' reads (`read_*` above is the replay).
    pub passes: Vec<PassIo>,
    /// Time in read and write calls / wall time, percent (capped at 100); None (JSON null) with
    /// TALARIA_ACCOUNTING=off, when those calls are not timed.
    pub io_wait_pct: Option<f64>,
    pub prefetch: PrefetchIo,
    pub pool: PoolIo,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct OutputIo {
    pub name: String,
    pub bytes: u64,
    pub calls: u64,
    pub bytes_per_call: f64,
    pub seconds: f64,
    pub mb_per_s: f64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct AlignmentProfile {
    /// "scalar": the only kernel talaria has.
    pub simd: String,
    pub alignments: u64,
    pub passed: u64,
    pub too_large: u64,
    pub per_second: f64,
    /// Alignments per second of time inside the aligner (one thread).
    pub per_aligner_second: f64,
    pub dp_cells: u64,
    pub dp_cells_per_second: f64,
    pub band_half_width_min: u64,
    pub band_half_width_mean: f64,
    pub band_half_width_max: u64,
    /// Alignments re-run in a wider band (adaptive banding), and the joins that needed one.
    pub adaptive_widenings: u64,
    pub joins_after_widening: u64,
    /// Passed alignments by identity percent: (percent, count), non-empty bins only.
    pub identity_pct: Vec<(u32, u64)>,
    pub exact_hits: u64,
    /// Candidates skipped because their LCS with the record is below the threshold.
    pub ruled_out_by_lcs: u64,
    pub searches: u64,
    pub candidates: u64,
    pub candidates_per_search: f64,
    pub max_candidates: u64,
    /// Searches by candidates found, bins "0", "1", "2", "3-4", "5-8", "9-16", "17-32", ">32".
    pub candidates_hist: Vec<(String, u64)>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Bottleneck {
    pub stage: String,
    pub verdict: String,
    pub reason: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Kpi {
    pub metric: String,
    pub value: String,
    /// "target", "ok" (between target and warning), "warning", "critical" or "n/a".
    pub grade: String,
    pub target: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct SeriesProfile {
    pub interval_ms: u64,
    pub at_ms: Vec<u64>,
    pub rss_bytes: Vec<Option<u64>>,
    /// Bytes queued per channel, one value per sample.
    pub queued: Vec<(String, Vec<usize>)>,
    /// Per stage, one value per sample: what its threads did between the previous sample (the
    /// start of the run, for the first) and this one.
    pub stages: Vec<StageSeries>,
}

/// One stage over time. Each value is a percentage of the interval since the previous sample
/// times the stage's threads (as in [`StageProfile`]): busy + waiting + blocked + not running
/// (not started yet, or ended) = 100. `cpu_pct` is CPU time over the same denominator.
#[derive(Clone, Debug, Default, Serialize)]
pub struct StageSeries {
    pub name: String,
    pub threads: usize,
    pub busy_pct: Vec<f64>,
    pub waiting_pct: Vec<f64>,
    pub blocked_pct: Vec<f64>,
    pub cpu_pct: Vec<Option<f64>>,
}

/// The stage a thread belongs to: its name without a trailing `-<number>`.
pub fn stage_of(thread: &str) -> &str {
    match thread.rsplit_once('-') {
        Some((stage, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => stage,
        _ => thread,
    }
}

/// Pipeline order for reports.
fn stage_rank(stage: &str) -> usize {
    const ORDER: [&str; 9] = [
        "reader",
        "chunker",
        "prefetch",
        "aligner",
        "writer",
        "writer-fasta",
        "writer-deltas",
        "writer-tsv",
        "writer-clstr",
    ];
    ORDER
        .iter()
        .position(|s| *s == stage)
        .unwrap_or(ORDER.len())
}

fn pct(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        (100.0 * part / whole).clamp(0.0, 100.0)
    } else {
        0.0
    }
}

fn per_second(n: f64, ns: u64) -> f64 {
    if ns > 0 {
        n * 1e9 / ns as f64
    } else {
        0.0
    }
}

const SERIES_INTERVAL_MS: u64 = 100;

impl RunProfile {
    pub fn collect(registry: &Registry, stats: &DecideStats, totals: &RunTotals) -> RunProfile {
        let threads = registry.threads();
        let wall_ns = (totals.seconds * 1e9) as u64;
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let process_cpu = metrics::process_cpu_ns();
        let series = registry.series();
        let rss: Vec<u64> = series.samples.iter().filter_map(|s| s.rss_bytes).collect();
        let memory = MemoryProfile {
            peak_rss_bytes: talaria_stages::memory::peak_rss_bytes(),
            average_rss_bytes: (!rss.is_empty())
                .then(|| rss.iter().sum::<u64>() / rss.len() as u64),
            samples: series.samples.len(),
        };
        let channels = registry
            .channel_stats()
            .into_iter()
            .enumerate()
            .map(|(i, (name, s))| {
                let fills: Vec<usize> = series
                    .samples
                    .iter()
                    .filter_map(|x| x.queued.get(i).copied())
                    .collect();
                let mean = if fills.is_empty() {
                    0.0
                } else {
                    fills.iter().sum::<usize>() as f64 / fills.len() as f64
                };
                ChannelProfile {
                    name,
                    capacity_bytes: s.capacity,
                    peak_bytes: s.peak_used,
                    peak_pct: pct(s.peak_used as f64, s.capacity as f64),
                    average_pct: pct(mean, s.capacity as f64),
                    items: s.items,
                    bytes: s.bytes,
                    send_blocked_seconds: s.send_blocked_ns as f64 / 1e9,
                    recv_waited_seconds: s.recv_waited_ns as f64 / 1e9,
                }
            })
            .collect();
        let stages = stage_profiles(&threads, wall_ns);
        let mut profile = RunProfile {
            accounting: metrics::accounting_on(),
            wall_seconds: totals.seconds,
            cpus,
            aligner_threads: totals.aligner_threads,
            records_per_second: per_second(totals.records as f64, wall_ns),
            mb_per_second: per_second(totals.input_bytes as f64 / 1e6, wall_ns),
            process_cpu_seconds: process_cpu.map(|ns| ns as f64 / 1e9),
            cpu_utilization_pct: process_cpu.map(|ns| pct(ns as f64, wall_ns as f64 * cpus as f64)),
            memory,
            threads: thread_profiles(&threads),
            channels,
            latency: latencies(&threads),
            caches: Vec::new(),
            io: io_profile(&threads, totals, wall_ns),
            alignment: alignment_profile(stats, wall_ns, &totals.simd),
            bottleneck: split_deciding(bottleneck(&stages, cpus), stats),
            stages,
            kpis: Vec::new(),
            series: SeriesProfile {
                interval_ms: SERIES_INTERVAL_MS * series.stride,
                at_ms: series.samples.iter().map(|s| s.at_ms).collect(),
                rss_bytes: series.samples.iter().map(|s| s.rss_bytes).collect(),
                queued: registry
                    .channel_stats()
                    .into_iter()
                    .enumerate()
                    .map(|(i, (name, _))| {
                        let fill = series
                            .samples
                            .iter()
                            .map(|s| s.queued.get(i).copied().unwrap_or(0))
                            .collect();
                        (name, fill)
                    })
                    .collect(),
                stages: stage_series(&registry.stage_threads(), &series.samples),
            },
        };
        profile.kpis = kpis(&profile);
        profile
    }

    /// The reference cache's totals (`None`: it was off), graded in the KPIs.
    pub fn with_cache(mut self, total: Option<crate::reduce::cache_report::CacheFigures>) -> Self {
        self.caches = total.into_iter().collect();
        self.kpis = kpis(&self);
        self
    }
}

fn stage_profiles(threads: &[ThreadReport], run_ns: u64) -> Vec<StageProfile> {
    let mut names: Vec<&str> = threads.iter().map(|t| stage_of(&t.name)).collect();
    names.sort_by_key(|s| (stage_rank(s), s.to_string()));
    names.dedup();
    names
        .into_iter()
        .map(|name| {
            let group: Vec<&ThreadReport> = threads
                .iter()
                .filter(|t| stage_of(&t.name) == name)
                .collect();
            let sum = |f: &dyn Fn(&ThreadReport) -> u64| group.iter().map(|t| f(t)).sum::<u64>();
            let wall = sum(&|t| t.wall_ns) as f64;
            let run = run_ns as f64 * group.len() as f64;
            let wait = sum(&|t| t.counters.wait_ns) as f64;
            let blocked = sum(&|t| t.counters.blocked_ns) as f64;
            let cpu: Option<u64> = group.iter().map(|t| t.cpu_ns).sum();
            StageProfile {
                name: name.to_string(),
                threads: group.len(),
                busy_pct: pct((wall - wait - blocked).max(0.0), run),
                waiting_pct: pct(wait, run),
                blocked_pct: pct(blocked, run),
                ended_pct: pct((run - wall).max(0.0), run),
                cpu_pct: cpu.map(|c| pct(c as f64, run)),
                items_in: sum(&|t| t.counters.items_in),
                items_out: sum(&|t| t.counters.items_out),
                bytes_in: sum(&|t| t.counters.bytes_in),
                bytes_out: sum(&|t| t.counters.bytes_out),
            }
        })
        .collect()
}

/// Per-interval stage figures from the samples' cumulative per-thread figures. Thinning the
/// series only widens intervals: the values are cumulative, so nothing is lost or counted twice.
fn stage_series(threads: &[metrics::LiveThread], samples: &[metrics::Sample]) -> Vec<StageSeries> {
    let mut names: Vec<&str> = threads.iter().map(|t| stage_of(&t.name)).collect();
    names.sort_by_key(|s| (stage_rank(s), s.to_string()));
    names.dedup();
    names
        .into_iter()
        .map(|name| {
            let members: Vec<usize> = (0..threads.len())
                .filter(|&j| stage_of(&threads[j].name) == name)
                .collect();
            let mut out = StageSeries {
                name: name.to_string(),
                threads: members.len(),
                ..Default::default()
            };
            let zero = metrics::ThreadSample::default();
            let mut prev_ms = 0u64;
            let mut prev: Vec<metrics::ThreadSample> = vec![zero; members.len()];
            for sample in samples {
                let span = sample.at_ms.saturating_sub(prev_ms) as f64 * 1e6 * members.len() as f64;
                let (mut alive, mut wait, mut blocked, mut cpu) = (0u64, 0u64, 0u64, Some(0u64));
                for (k, &j) in members.iter().enumerate() {
                    let now = sample.threads.get(j).copied().unwrap_or(prev[k]);
                    let before = prev[k];
                    let d_alive = now.alive_ns.saturating_sub(before.alive_ns);
                    let d_wait = now.wait_ns.saturating_sub(before.wait_ns).min(d_alive);
                    let d_blocked = now
                        .blocked_ns
                        .saturating_sub(before.blocked_ns)
                        .min(d_alive - d_wait);
                    alive += d_alive;
                    wait += d_wait;
                    blocked += d_blocked;
                    cpu = match (cpu, now.cpu_ns, before.cpu_ns) {
                        (Some(c), Some(n), Some(b)) => Some(c + n.saturating_sub(b)),
                        // Not started at the previous sample: counted from zero.
                        (Some(c), Some(n), None) if before == zero => Some(c + n),
                        _ => None,
                    };
                    // Keep the last known CPU time across a failed read.
                    prev[k] = metrics::ThreadSample {
                        cpu_ns: now.cpu_ns.or(before.cpu_ns),
                        ..now
                    };
                }
                prev_ms = sample.at_ms;
                out.busy_pct
                    .push(pct(alive.saturating_sub(wait + blocked) as f64, span));
                out.waiting_pct.push(pct(wait as f64, span));
                out.blocked_pct.push(pct(blocked as f64, span));
                out.cpu_pct.push(cpu.map(|c| pct(c as f64, span)));
            }
            out
        })
        .collect()
}

fn thread_profiles(threads: &[ThreadReport]) -> Vec<ThreadProfile> {
    let mut out: Vec<ThreadProfile> = threads
        .iter()
        .map(|t| ThreadProfile {
            name: t.name.clone(),
            tid: t.tid,
            wall_seconds: t.wall_ns as f64 / 1e9,
            cpu_seconds: t.cpu_ns.map(|c| c as f64 / 1e9),
            cpu_pct: t.cpu_ns.map(|c| pct(c as f64, t.wall_ns as f64)),
        })
        .collect();
    out.sort_by(|a, b| {
        (stage_rank(stage_of(&a.name)), &a.name).cmp(&(stage_rank(stage_of(&b.name)), &b.name))
    });
    out
}

fn latency(what: &str, stage: &str, p: Percentiles) -> LatencyProfile {
    let us = |ns: u64| ns as f64 / 1e3;
    LatencyProfile {
        what: what.into(),
        stage: stage.into(),
        count: p.count,
        mean_us: p.mean_ns / 1e3,
        p50_us: us(p.p50_ns),
        p90_us: us(p.p90_ns),
        p99_us: us(p.p99_ns),
        max_us: us(p.max_ns),
    }
}

fn latencies(threads: &[ThreadReport]) -> Vec<LatencyProfile> {
    let mut stages: Vec<&str> = threads.iter().map(|t| stage_of(&t.name)).collect();
    stages.sort_by_key(|s| (stage_rank(s), s.to_string()));
    stages.dedup();
    let mut out = Vec::new();
    for what in ["read", "chunk", "alignment", "write"] {
        for stage in &stages {
            let h = metrics::merged(threads, what, |t| stage_of(&t.name) == *stage);
            if !h.is_empty() {
                out.push(latency(what, stage, Percentiles::of(&h)));
            }
        }
    }
    out
}

fn io_profile(threads: &[ThreadReport], totals: &RunTotals, wall_ns: u64) -> IoProfile {
    let reader = threads.iter().find(|t| t.name == "reader");
    let (prefix_calls, prefix_ns) = totals.prefix_reads;
    let read_calls = prefix_calls + metrics::merged(threads, "read", |t| t.name == "reader").len();
    let read_ns = prefix_ns + reader.map_or(0, |t| t.counters.busy_ns);
    let read_bytes = reader.map_or(0, |t| t.counters.bytes_out);
    let outputs: Vec<OutputIo> = threads
        .iter()
        .filter(|t| t.name.starts_with("writer-"))
        .map(|t| {
            let calls = metrics::merged(threads, "write", |x| x.name == t.name).len();
            let bytes = t.counters.bytes_out;
            OutputIo {
                name: t.name.clone(),
                bytes,
                calls,
                bytes_per_call: if calls > 0 {
                    bytes as f64 / calls as f64
                } else {
                    0.0
                },
                seconds: t.counters.busy_ns as f64 / 1e9,
                mb_per_s: per_second(bytes as f64 / 1e6, t.counters.busy_ns),
            }
        })
        .collect();
    let write_ns: f64 = outputs.iter().map(|o| o.seconds * 1e9).sum();
    let pass_ns: f64 = totals.order_reads.iter().map(|p| p.seconds * 1e9).sum();
    IoProfile {
        prefetch: totals.prefetch.clone(),
        pool: totals.pool.clone(),
        reader_mode: totals.reader_mode.clone(),
        compression: totals.compression.clone(),
        read_bytes,
        read_calls,
        read_bytes_per_call: if read_calls > 0 {
            read_bytes as f64 / read_calls as f64
        } else {
            0.0
        },
        read_seconds: read_ns as f64 / 1e9,
        read_mb_per_s: per_second(read_bytes as f64 / 1e6, read_ns),
        outputs,
        passes: totals.order_reads.clone(),
        io_wait_pct: metrics::accounting_on()
            .then(|| pct(read_ns as f64 + write_ns + pass_ns, wall_ns as f64)),
    }
}

fn alignment_profile(s: &DecideStats, wall_ns: u64, simd: &str) -> AlignmentProfile {
    const BINS: [&str; 8] = ["0", "1", "2", "3-4", "5-8", "9-16", "17-32", ">32"];
    AlignmentProfile {
        simd: simd.into(),
        alignments: s.alignments,
        passed: s.alignments_passed,
        too_large: s.too_large,
        per_second: per_second(s.alignments as f64, wall_ns),
        per_aligner_second: per_second(s.alignments as f64, s.align_ns),
        dp_cells: s.dp_cells,
        dp_cells_per_second: per_second(s.dp_cells as f64, s.align_ns),
        band_half_width_min: if s.alignments > 0 { s.band_min } else { 0 },
        band_half_width_mean: if s.alignments > 0 {
            s.band_sum as f64 / s.alignments as f64
        } else {
            0.0
        },
        band_half_width_max: s.band_max,
        adaptive_widenings: s.widened,
        joins_after_widening: s.passed_after_widening,
        identity_pct: (0..=100u32)
            .filter(|&p| s.identity_pct[p as usize] > 0)
            .map(|p| (p, s.identity_pct[p as usize]))
            .collect(),
        exact_hits: s.exact_hits,
        ruled_out_by_lcs: s.ruled_out_by_lcs,
        searches: s.searches,
        candidates: s.candidates,
        candidates_per_search: if s.searches > 0 {
            s.candidates as f64 / s.searches as f64
        } else {
            0.0
        },
        max_candidates: s.max_candidates_seen,
        candidates_hist: BINS
            .iter()
            .zip(s.candidates_hist)
            .map(|(b, n)| (b.to_string(), n))
            .collect(),
    }
}

/// What a saturated stage means for the run.
fn bound_by(stage: &str) -> &'static str {
    match stage {
        "aligner" => "alignment-bound",
        "reader" => "input-bound (reading/decompression)",
        "chunker" => "parsing-bound",
        "prefetch" => "k-mer sketching-bound",
        "writer" => "writer-bound (in-order re-checks and encoding)",
        s if s.starts_with("writer-") => "output-bound (writing)",
        _ => "bound by an auxiliary thread",
    }
}

/// A stage busy at least this share of its wall time is taken as the limit; below it no stage
/// is saturated (the pipeline waits on ordering, startup or the scheduler).
const SATURATED_PCT: f64 = 60.0;

fn bottleneck(stages: &[StageProfile], cpus: usize) -> Bottleneck {
    let Some(top) = stages
        .iter()
        .max_by(|a, b| a.busy_pct.total_cmp(&b.busy_pct))
    else {
        return Bottleneck {
            stage: String::new(),
            verdict: "unknown".into(),
            reason: "no stage accounting (TALARIA_ACCOUNTING=off)".into(),
        };
    };
    // Compare with the input side (or, when the reader is the limit, with the aligners).
    let other = if top.name == "reader" {
        "aligner"
    } else {
        "reader"
    };
    let least = stages.iter().find(|s| s.name == other);
    let threads = |s: &StageProfile| {
        if s.threads > 1 {
            format!(" ({} threads)", s.threads)
        } else {
            String::new()
        }
    };
    let mut reason = format!("{}{} {:.0}% busy", top.name, threads(top), top.busy_pct);
    if let Some(l) = least {
        reason += &format!(", {}{} {:.0}% busy", l.name, threads(l), l.busy_pct);
    }
    // Busy means runnable; when the CPU time is well below it, the threads waited for a CPU.
    if let Some(cpu) = top.cpu_pct.filter(|&c| c < 0.75 * top.busy_pct) {
        reason += &format!(
            "; but {} ran on a CPU only {cpu:.0}% of the time: CPU-starved (other load, or more \
             busy threads than the {cpus} CPUs)",
            top.name
        );
    }
    let verdict = if top.busy_pct >= SATURATED_PCT {
        bound_by(&top.name).to_string()
    } else {
        "no stage saturated (latency/ordering-bound)".to_string()
    };
    Bottleneck {
        stage: top.name.clone(),
        verdict,
        reason,
    }
}

/// When the aligners are the limit, say which part of deciding holds them: the candidate search
/// (index walk and k-mer filter), the LCS bound and seeding, or the alignments themselves. The
/// shares are of the deciding threads' measured time (aligners and the writer's re-checks).
fn split_deciding(mut b: Bottleneck, s: &DecideStats) -> Bottleneck {
    let total = s.search_ns + s.lcs_ns + s.align_ns;
    if b.stage != "aligner" || total == 0 {
        return b;
    }
    let pct = |ns: u64| 100.0 * ns as f64 / total as f64;
    let parts = [
        (
            "candidate search",
            s.search_ns,
            "candidate-search-bound (k-mer index walk)",
        ),
        (
            "LCS bound and seeding",
            s.lcs_ns,
            "LCS-bound (ruling candidates out)",
        ),
        ("alignment", s.align_ns, "alignment-bound"),
    ];
    b.reason += &format!(
        "; deciding time: {}",
        parts
            .iter()
            .map(|(name, ns, _)| format!("{name} {:.0}%", pct(*ns)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if b.verdict == "alignment-bound" {
        let (_, _, verdict) = parts
            .iter()
            .max_by_key(|(_, ns, _)| *ns)
            .expect("three parts");
        b.verdict = verdict.to_string();
    }
    b
}

/// Grade `value` where higher is better.
fn grade_high(value: f64, target: f64, warning: f64, critical: f64) -> &'static str {
    if value < critical {
        "critical"
    } else if value < warning {
        "warning"
    } else if value > target {
        "target"
    } else {
        "ok"
    }
}

/// Grade `value` where lower is better.
fn grade_low(value: f64, target: f64, warning: f64, critical: f64) -> &'static str {
    if value > critical {
        "critical"
    } else if value > warning {
        "warning"
    } else if value < target {
        "target"
    } else {
        "ok"
    }
}

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// The user guide's KPI table: throughput, memory, CPU, cache hits, I/O wait.
fn kpis(p: &RunProfile) -> Vec<Kpi> {
    let kpi = |metric: &str, value: String, grade: &str, target: &str| Kpi {
        metric: metric.into(),
        value,
        grade: grade.into(),
        target: target.into(),
    };
    let mut out = vec![kpi(
        "throughput",
        format!("{:.0} seq/s", p.records_per_second),
        grade_high(p.records_per_second, 10_000.0, 5_000.0, 1_000.0),
        ">10K seq/s (warning <5K, critical <1K)",
    )];
    out.push(match p.memory.peak_rss_bytes {
        Some(b) => {
            let gib = b as f64 / GIB;
            kpi(
                "memory",
                format!("{gib:.2} GiB peak"),
                grade_low(gib, 8.0, 16.0, 32.0),
                "<8GB (warning >16GB, critical >32GB)",
            )
        }
        None => kpi("memory", "unknown".into(), "n/a", "<8GB"),
    });
    out.push(match p.cpu_utilization_pct {
        Some(c) => {
            let grade = if c > 90.0 {
                "ok"
            } else {
                grade_high(c, 80.0 - 1e-9, 50.0, 25.0)
            };
            kpi(
                "cpu utilization",
                format!("{c:.0}% of {} CPUs", p.cpus),
                grade,
                "80-90% (warning <50%, critical <25%)",
            )
        }
        None => kpi("cpu utilization", "unknown".into(), "n/a", "80-90%"),
    });
    let cache_target = ">90% (warning <70%, critical <50%)";
    out.push(match p.caches.first() {
        None => kpi("cache hit rate", "no caches".into(), "n/a", cache_target),
        Some(c) => match c.hit_rate {
            Some(r) => kpi(
                "cache hit rate",
                format!("{:.1}% hits", 100.0 * r),
                grade_high(100.0 * r, 90.0, 70.0, 50.0),
                cache_target,
            ),
            None => kpi("cache hit rate", "no lookups".into(), "n/a", cache_target),
        },
    });
    out.push(match p.io.io_wait_pct {
        Some(w) => kpi(
            "i/o wait",
            format!("{w:.1}%"),
            grade_low(w, 10.0, 30.0, 50.0),
            "<10% (warning >30%, critical >50%)",
        ),
        None => kpi("i/o wait", "unknown".into(), "n/a", "<10%"),
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_names_drop_thread_numbers_only() {
        assert_eq!(stage_of("aligner-12"), "aligner");
        assert_eq!(stage_of("writer-fasta"), "writer-fasta");
        assert_eq!(stage_of("writer"), "writer");
        assert_eq!(stage_of("x-"), "x-");
    }

    #[test]
    fn grades_follow_the_kpi_table() {
        assert_eq!(grade_high(12_000.0, 10_000.0, 5_000.0, 1_000.0), "target");
        assert_eq!(grade_high(7_000.0, 10_000.0, 5_000.0, 1_000.0), "ok");
        assert_eq!(grade_high(4_000.0, 10_000.0, 5_000.0, 1_000.0), "warning");
        assert_eq!(grade_high(500.0, 10_000.0, 5_000.0, 1_000.0), "critical");
        assert_eq!(grade_low(5.0, 10.0, 30.0, 50.0), "target");
        assert_eq!(grade_low(40.0, 10.0, 30.0, 50.0), "warning");
        assert_eq!(grade_low(60.0, 10.0, 30.0, 50.0), "critical");
    }

    #[test]
    fn saturated_aligners_name_the_part_of_deciding_that_holds_them() {
        let aligners = || Bottleneck {
            stage: "aligner".into(),
            verdict: "alignment-bound".into(),
            reason: "aligner (2 threads) 97% busy".into(),
        };
        let stats = DecideStats {
            search_ns: 7_000,
            lcs_ns: 2_000,
            align_ns: 1_000,
            ..Default::default()
        };
        let b = split_deciding(aligners(), &stats);
        assert_eq!(b.verdict, "candidate-search-bound (k-mer index walk)");
        assert!(
            b.reason.ends_with(
                "; deciding time: candidate search 70%, LCS bound and seeding 20%, alignment 10%"
            ),
            "{}",
            b.reason
        );
        let lcs = DecideStats {
            lcs_ns: 5,
            align_ns: 4,
            ..Default::default()
        };
        assert_eq!(
            split_deciding(aligners(), &lcs).verdict,
            "LCS-bound (ruling candidates out)"
        );
        // No timings (accounting off), or another stage the limit: unchanged.
        assert_eq!(
            split_deciding(aligners(), &DecideStats::default()).verdict,
            "alignment-bound"
        );
        let writer = Bottleneck {
            stage: "writer".into(),
            verdict: "writer-bound (in-order re-checks and encoding)".into(),
            reason: String::new(),
        };
        assert_eq!(split_deciding(writer.clone(), &stats).reason, writer.reason);
    }

    #[test]
    fn the_busiest_stage_is_the_bottleneck() {
        let stage = |name: &str, threads, busy| StageProfile {
            name: name.into(),
            threads,
            busy_pct: busy,
            ..Default::default()
        };
        let b = bottleneck(&[stage("reader", 1, 9.0), stage("aligner", 4, 97.0)], 8);
        assert_eq!(b.verdict, "alignment-bound");
        assert_eq!(b.reason, "aligner (4 threads) 97% busy, reader 9% busy");
        let b = bottleneck(
            &[
                stage("writer-tsv", 1, 0.0),
                stage("reader", 1, 9.0),
                stage("aligner", 4, 30.0),
            ],
            8,
        );
        assert_eq!(b.reason, "aligner (4 threads) 30% busy, reader 9% busy");
        assert!(b.verdict.starts_with("no stage saturated"), "{b:?}");
    }
}
