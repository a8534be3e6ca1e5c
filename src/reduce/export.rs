//! `talaria reduce --metrics-export prometheus|statsd`: the run's live figures as named metrics
//! (records, representatives, alignments, per-stage time and items, queue fill, memory), served
//! to Prometheus or pushed to StatsD while the job runs, through `talaria_stages::export`.
//! It only reads counters the stages keep anyway ([`Progress`] and the registry); it must not
//! slow or change the run. Every name it exports is listed in the README, "Profiling and
//! monitoring".

use crate::config::{MetricsExport, MonitoringConfig};
use crate::reduce::profile::stage_of;
use crate::reduce::ReduceError;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use talaria_stages::export::{prometheus, statsd, Family, MetricKind};
use talaria_stages::metrics::Registry;

/// First component of every exported name: `talaria_records_total`, `talaria.records`.
pub const PREFIX: &str = "talaria";

/// Figures of the science the stage counters do not hold, published by the stages as they go
/// (one relaxed store or add per chunk; final values are stored again from the run's totals).
#[derive(Debug, Default)]
pub struct Progress {
    /// Records the chunker has cut from the input.
    pub records_read: AtomicU64,
    /// Records the writer has decided, and how.
    pub records: AtomicU64,
    pub representatives: AtomicU64,
    pub members: AtomicU64,
    pub exact_members: AtomicU64,
    /// Alignments run and passed, by the aligners and the writer's re-checks.
    pub alignments: AtomicU64,
    pub alignments_passed: AtomicU64,
    /// Reference cache lookups that found / did not find the representative's profile (0 when
    /// `performance.cache_alignments` is off).
    pub cache_hits: AtomicU64,
    pub cache_misses: AtomicU64,
}

impl Progress {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
    /// What one deciding thread's cache counted between two snapshots of its figures.
    pub fn add_cache(
        &self,
        before: &talaria_stages::cache::CacheStats,
        now: &talaria_stages::cache::CacheStats,
    ) {
        Progress::add(&self.cache_hits, now.hits - before.hits);
        Progress::add(&self.cache_misses, now.misses - before.misses);
    }
    pub fn set(counter: &AtomicU64, n: u64) {
        counter.store(n, Ordering::Relaxed);
    }
}

/// One run as the exporters see it.
pub struct LiveRun {
    registry: Arc<Registry>,
    pub progress: Progress,
    memory_limit: u64,
    /// Decompressed input size when known (uncompressed regular files); u64::MAX = unknown.
    input_size: AtomicU64,
    aligner_threads: AtomicU64,
    finished: AtomicBool,
}

fn get(a: &AtomicU64) -> f64 {
    a.load(Ordering::Relaxed) as f64
}

impl LiveRun {
    pub fn new(registry: Arc<Registry>, memory_limit: u64) -> LiveRun {
        LiveRun {
            registry,
            progress: Progress::default(),
            memory_limit,
            input_size: AtomicU64::new(u64::MAX),
            aligner_threads: AtomicU64::new(0),
            finished: AtomicBool::new(false),
        }
    }

    /// What is known once the input is open and the threads are counted.
    pub fn started(&self, input_size: Option<u64>, aligner_threads: usize) {
        self.input_size
            .store(input_size.unwrap_or(u64::MAX), Ordering::Relaxed);
        self.aligner_threads
            .store(aligner_threads as u64, Ordering::Relaxed);
    }

    /// Every stage has ended and the outputs are complete.
    pub fn finish(&self) {
        self.finished.store(true, Ordering::Relaxed);
    }

    /// The figures as they are now.
    pub fn families(&self) -> Vec<Family> {
        use MetricKind::{Counter, Gauge};
        let p = &self.progress;
        let now = Instant::now();
        let mut out = vec![
            Family::gauge("up", "1 while the talaria reduce job runs.", 1.0),
            Family::gauge(
                "finished",
                "1 once every stage has ended and the outputs are complete.",
                f64::from(u8::from(self.finished.load(Ordering::Relaxed))),
            ),
            Family::gauge(
                "elapsed_seconds",
                "Seconds since the job started.",
                now.saturating_duration_since(self.registry.started)
                    .as_secs_f64(),
            ),
            Family::counter(
                "records_read",
                "Records cut from the input by the chunker.",
                get(&p.records_read),
            ),
            Family::counter(
                "records",
                "Records decided (representative or member) by the writer.",
                get(&p.records),
            ),
            Family::counter(
                "representatives",
                "Records kept as representatives.",
                get(&p.representatives),
            ),
            Family::counter(
                "members",
                "Records encoded as deltas against a representative.",
                get(&p.members),
            ),
            Family::counter(
                "exact_members",
                "Members that are exact duplicates or substrings of their representative.",
                get(&p.exact_members),
            ),
            Family::counter(
                "alignments",
                "Candidate alignments run.",
                get(&p.alignments),
            ),
            Family::counter(
                "alignments_passed",
                "Alignments that met the identity and coverage thresholds.",
                get(&p.alignments_passed),
            ),
            Family::counter(
                "cache_hits",
                "Reference cache lookups that found the representative's profile.",
                get(&p.cache_hits),
            ),
            Family::counter(
                "cache_misses",
                "Reference cache lookups that had to build the representative's profile.",
                get(&p.cache_misses),
            ),
        ];
        let (mut read_bytes, mut decided_bytes) = (0u64, 0u64);
        // Per stage: threads, busy/waiting/blocked seconds, items and bytes in and out.
        let mut stages: Vec<(String, [u64; 8])> = Vec::new();
        for t in self.registry.stage_threads() {
            let stage = stage_of(&t.name).to_string();
            let c = t.counters.snapshot_at(now);
            match stage.as_str() {
                "reader" => read_bytes += c.bytes_out,
                "writer" => decided_bytes += c.bytes_out,
                _ => {}
            }
            let wall = t.wall_ns(now);
            let figures = [
                1,
                wall.saturating_sub(c.wait_ns + c.blocked_ns),
                c.wait_ns,
                c.blocked_ns,
                c.items_in,
                c.items_out,
                c.bytes_in,
                c.bytes_out,
            ];
            match stages.iter_mut().find(|(s, _)| *s == stage) {
                Some((_, sum)) => sum.iter_mut().zip(figures).for_each(|(s, f)| *s += f),
                None => stages.push((stage, figures)),
            }
        }
        out.push(Family::counter(
            "input_bytes_read",
            "Input bytes (decompressed) the reader has handed on.",
            read_bytes as f64,
        ));
        out.push(Family::counter(
            "input_bytes_decided",
            "Input bytes of the records decided so far.",
            decided_bytes as f64,
        ));
        let size = self.input_size.load(Ordering::Relaxed);
        if size != u64::MAX {
            out.push(Family::gauge(
                "input_size_bytes",
                "Size of the input (uncompressed regular files only).",
                size as f64,
            ));
        }
        out.push(Family::gauge(
            "aligner_threads",
            "Aligner threads of this run.",
            get(&self.aligner_threads),
        ));
        /// Nanoseconds per second (a division rounds correctly; a product by 1e-9 does not).
        const NS: f64 = 1e9;
        let stage_family = |name, help, kind, i: usize, per: f64| {
            Family::labelled(
                name,
                help,
                kind,
                "stage",
                stages
                    .iter()
                    .map(|(s, f)| (s.clone(), f[i] as f64 / per))
                    .collect(),
            )
        };
        out.extend([
            stage_family(
                "stage_threads",
                "Threads of the stage started so far.",
                Gauge,
                0,
                1.0,
            ),
            stage_family(
                "stage_busy_seconds",
                "Thread-seconds the stage worked (wall time less waiting and blocked).",
                Counter,
                1,
                NS,
            ),
            stage_family(
                "stage_waiting_seconds",
                "Thread-seconds the stage waited for input.",
                Counter,
                2,
                NS,
            ),
            stage_family(
                "stage_blocked_seconds",
                "Thread-seconds the stage was blocked on a full output queue (backpressure).",
                Counter,
                3,
                NS,
            ),
            stage_family(
                "stage_items_in",
                "Items the stage took in (blocks, chunks or output buffers).",
                Counter,
                4,
                1.0,
            ),
            stage_family(
                "stage_items_out",
                "Items the stage handed on (the writer: records decided).",
                Counter,
                5,
                1.0,
            ),
            stage_family(
                "stage_bytes_in",
                "Bytes the stage took in.",
                Counter,
                6,
                1.0,
            ),
            stage_family(
                "stage_bytes_out",
                "Bytes the stage handed on.",
                Counter,
                7,
                1.0,
            ),
        ]);
        let channels = self.registry.channel_stats();
        let queue_family =
            |name, help, kind, value: &dyn Fn(&talaria_stages::channel::ChannelStats) -> f64| {
                Family::labelled(
                    name,
                    help,
                    kind,
                    "queue",
                    channels
                        .iter()
                        .map(|(n, s)| (n.clone(), value(s)))
                        .collect(),
                )
            };
        out.extend([
            queue_family(
                "queue_bytes",
                "Bytes queued in the channel now.",
                Gauge,
                &|s| s.used as f64,
            ),
            queue_family(
                "queue_capacity_bytes",
                "The channel's byte budget (its share of the memory limit).",
                Gauge,
                &|s| s.capacity as f64,
            ),
            queue_family(
                "queue_send_blocked_seconds",
                "Seconds senders spent blocked on the full channel.",
                Counter,
                &|s| s.send_blocked_ns as f64 / NS,
            ),
            queue_family(
                "queue_recv_waited_seconds",
                "Seconds receivers spent waiting on the empty channel.",
                Counter,
                &|s| s.recv_waited_ns as f64 / NS,
            ),
        ]);
        if let Some(rss) = talaria_stages::memory::statm_rss_bytes() {
            out.push(Family::gauge(
                "resident_memory_bytes",
                "Resident set size of the process now.",
                rss as f64,
            ));
        }
        if let Some(peak) = talaria_stages::memory::peak_rss_bytes() {
            out.push(Family::gauge(
                "peak_resident_memory_bytes",
                "Peak resident set size of the process so far.",
                peak as f64,
            ));
        }
        out.push(Family::gauge(
            "memory_limit_bytes",
            "The memory limit (performance.memory_limit).",
            self.memory_limit as f64,
        ));
        out
    }
}

/// The exporter of a run: an HTTP endpoint or a StatsD pusher, stopped when dropped.
pub struct Exporter {
    server: Option<prometheus::Server>,
    pusher: Option<(statsd::Pusher, SocketAddr)>,
}

impl Exporter {
    /// Start the export `cfg` asks for (None when it asks for none) and say on stderr where the
    /// figures go. A port that cannot be bound is an error naming the address and the keys.
    pub fn start(
        cfg: &MonitoringConfig,
        live: &Arc<LiveRun>,
    ) -> Result<Option<Exporter>, ReduceError> {
        match cfg.metrics_export {
            MetricsExport::None => Ok(None),
            MetricsExport::Prometheus => {
                let addr = SocketAddr::new(cfg.prometheus_bind, cfg.prometheus_port);
                let body: prometheus::Render = {
                    let live = Arc::clone(live);
                    Arc::new(move || prometheus::render(PREFIX, &live.families()))
                };
                let server = prometheus::Server::bind(addr, &cfg.prometheus_endpoint, body)
                    .map_err(|e| {
                        ReduceError::Export(format!(
                            "cannot serve metrics at {addr} (monitoring.prometheus_bind, \
                             monitoring.prometheus_port): {e}; choose another port, or 0 for \
                             any free one"
                        ))
                    })?;
                eprintln!(
                    "talaria: metrics at http://{}{}",
                    server.local_addr(),
                    cfg.prometheus_endpoint
                );
                Ok(Some(Exporter {
                    server: Some(server),
                    pusher: None,
                }))
            }
            MetricsExport::Statsd => {
                let host = cfg
                    .statsd_host
                    .strip_prefix('[')
                    .and_then(|h| h.strip_suffix(']'))
                    .unwrap_or(&cfg.statsd_host);
                // IPv4 first: "localhost" often resolves to ::1 first, while StatsD daemons
                // listen on 0.0.0.0 by default, and a datagram to a closed port is lost silently.
                let addrs: Vec<SocketAddr> = (host, cfg.statsd_port)
                    .to_socket_addrs()
                    .map(Iterator::collect)
                    .unwrap_or_default();
                let target = addrs
                    .iter()
                    .find(|a| a.is_ipv4())
                    .or(addrs.first())
                    .copied()
                    .ok_or_else(|| {
                        ReduceError::Usage(format!(
                            "monitoring.statsd_host '{}' does not resolve to an address; \
                             give a host name this machine resolves, or an IP address",
                            cfg.statsd_host
                        ))
                    })?;
                let collect: statsd::Collect = {
                    let live = Arc::clone(live);
                    Arc::new(move || live.families())
                };
                let interval = Duration::from_millis(cfg.metrics_interval_ms);
                let pusher =
                    statsd::Pusher::start(target, interval, PREFIX, collect).map_err(|e| {
                        ReduceError::Export(format!(
                            "cannot open a UDP socket to send metrics to {target} \
                             (monitoring.statsd_host, monitoring.statsd_port): {e}"
                        ))
                    })?;
                eprintln!(
                    "talaria: metrics to statsd at {target} (udp) every {} ms",
                    cfg.metrics_interval_ms
                );
                Ok(Some(Exporter {
                    server: None,
                    pusher: Some((pusher, target)),
                }))
            }
        }
    }

    /// Send the final figures (StatsD) and stop serving (Prometheus). Datagrams that could not
    /// be sent are reported in one line; they never fail the job.
    pub fn finish(mut self) {
        if let Some(server) = self.server.as_mut() {
            server.stop();
        }
        if let Some((pusher, target)) = self.pusher.as_mut() {
            let report = pusher.finish();
            if let Some(error) = report.first_error {
                eprintln!(
                    "talaria: warning: {} of {} metrics datagrams to {target} could not be sent: {error}",
                    report.failed,
                    report.failed + report.datagrams
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_valid_and_unique() {
        let live = LiveRun::new(Registry::new(), 1 << 30);
        live.started(Some(100), 2);
        let families = live.families();
        let mut names: Vec<_> = families.iter().map(|f| f.name).collect();
        assert!(names.iter().all(|n| talaria_stages::export::valid_name(n)));
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(n, names.len(), "a name is exported twice");
        let text = prometheus::render(PREFIX, &families);
        assert!(text.contains("\ntalaria_input_size_bytes 100\n"), "{text}");
        assert!(text.contains("\ntalaria_finished 0\n"), "{text}");
        live.finish();
        let text = prometheus::render(PREFIX, &live.families());
        assert!(text.contains("\ntalaria_finished 1\n"), "{text}");
    }
}
