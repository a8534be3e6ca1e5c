//! `talaria reduce --debug-threads`: on stderr, every line prefixed `talaria threads:`, each stage
//! thread as it is first seen (name, Linux thread id, the CPUs it may run on), a line about once a
//! second with each thread's CPU use since the previous line, and a closing table per thread.
//! It runs on the sampler's tick and only reads what the sampler measured (thread CPU clocks,
//! wait and blocked time) and /proc; it must not change the run.

use std::fmt::Write;
use std::time::Duration;
use talaria_stages::metrics::{self, Registry, ThreadSample};

pub const PREFIX: &str = "talaria threads:";
/// Period of the CPU line (the sampler ticks every 100 ms; a person reads one line a second).
const EVERY: Duration = Duration::from_secs(1);

#[derive(Default)]
pub struct ThreadDebug {
    /// Stage threads already announced (a prefix of `Registry::stage_threads`).
    announced: usize,
    /// The sample the last CPU line was computed to, and its time in ms.
    last: Option<(u64, Vec<ThreadSample>)>,
}

impl ThreadDebug {
    /// Called by the sampler after each sample; `last` on the final one (no CPU line then: the
    /// run's own figures follow in [`final_table`]). Returns the lines to print (each ends with
    /// a newline).
    pub fn tick(&mut self, registry: &Registry, last: bool) -> String {
        let mut out = String::new();
        let threads = registry.stage_threads();
        for t in threads.iter().skip(self.announced) {
            let cpus = match metrics::cpus_allowed_list(&t.tid.to_string()) {
                Some(c) => c,
                None => format!(
                    "? (ended before it was seen: {})",
                    ended_cpus(registry, t.tid)
                ),
            };
            let _ = writeln!(out, "{PREFIX} start {} tid {} cpus {cpus}", t.name, t.tid);
        }
        self.announced = threads.len();
        let Some(sample) = registry.last_sample() else {
            return out;
        };
        let due = match &self.last {
            None => true,
            Some((at, _)) => sample.at_ms.saturating_sub(*at) >= EVERY.as_millis() as u64,
        };
        if due && !last {
            let (at0, before) = self.last.take().unwrap_or((0, Vec::new()));
            let dt_ns = sample.at_ms.saturating_sub(at0) as f64 * 1e6;
            let parts: Vec<String> = threads
                .iter()
                .zip(&sample.threads)
                .enumerate()
                .map(|(j, (t, now))| {
                    let was = before.get(j).and_then(|b| b.cpu_ns).unwrap_or(0);
                    let cpu = match now.cpu_ns {
                        Some(c) if dt_ns > 0.0 => {
                            format!("{:.0}%", 100.0 * c.saturating_sub(was) as f64 / dt_ns)
                        }
                        _ => "?".into(),
                    };
                    let state = if t.has_ended() { " (ended)" } else { "" };
                    format!("{} {cpu}{state}", t.name)
                })
                .collect();
            let _ = writeln!(
                out,
                "{PREFIX} at {:.1} s cpu since {:.1} s: {}",
                sample.at_ms as f64 / 1e3,
                at0 as f64 / 1e3,
                parts.join(", ")
            );
            self.last = Some((sample.at_ms, sample.threads));
        }
        out
    }
}

/// The CPUs a finished thread was allowed at its end, from its report.
fn ended_cpus(registry: &Registry, tid: i64) -> String {
    registry
        .threads()
        .iter()
        .find(|r| r.tid == tid)
        .and_then(|r| r.cpus_allowed.clone())
        .unwrap_or_else(|| "unknown".into())
}

/// One row per stage thread that ended, in the order they started: figures from its own report
/// (print it once every output is committed, when the output writers have ended too).
pub fn final_table(registry: &Registry) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{PREFIX} {:<14} {:>8} {:<12} {:>8} {:>8} {:>6} {:>6} {:>6} {:>6}",
        "thread", "tid", "cpus", "wall s", "cpu s", "cpu%", "busy%", "wait%", "block%"
    );
    let started: Vec<i64> = registry.stage_threads().iter().map(|t| t.tid).collect();
    let mut reports = registry.threads();
    reports.sort_by_key(|r| started.iter().position(|&t| t == r.tid));
    for t in reports {
        let wall = t.wall_ns as f64;
        let pct = |ns: u64| {
            if wall > 0.0 {
                (100.0 * ns as f64 / wall).min(100.0)
            } else {
                0.0
            }
        };
        let (wait, blocked) = (t.counters.wait_ns, t.counters.blocked_ns);
        let busy = t.wall_ns.saturating_sub(wait + blocked);
        let _ = writeln!(
            o,
            "{PREFIX} {:<14} {:>8} {:<12} {:>8.2} {:>8} {:>6} {:>6.1} {:>6.1} {:>6.1}",
            t.name,
            t.tid,
            t.cpus_allowed.as_deref().unwrap_or("unknown"),
            wall / 1e9,
            t.cpu_ns
                .map_or("-".into(), |c| format!("{:.2}", c as f64 / 1e9)),
            t.cpu_ns.map_or("-".into(), |c| format!("{:.1}", pct(c))),
            pct(busy),
            pct(wait),
            pct(blocked),
        );
    }
    o
}
