//! `talaria reduce --monitor`: a live view on stderr while the run goes, driven by the sampler
//! thread. On a terminal, one line redrawn twice a second: progress bar, records and input
//! bytes decided, rate, ETA (when the input size is known), per-stage CPU over the last interval,
//! queue fill and memory against the limit. Otherwise one plain log line at the start, every 5
//! seconds, and a closing line for the finished run (with each stage's CPU over the whole run).
//! It only reads counters the stages keep anyway; it must not slow or change the run, and it
//! clears its line before the end-of-run report is printed.

use crate::reduce::profile::stage_of;
use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};
use talaria_stages::metrics::{self, Registry};

/// Terminal redraw period (a human reads nothing faster; the sampler ticks every 100 ms).
const TTY_EVERY: Duration = Duration::from_millis(500);
/// Log line period when stderr is not a terminal (a log stays readable for hour-long runs).
const LOG_EVERY: Duration = Duration::from_secs(5);
const BAR_WIDTH: usize = 24;

pub struct Monitor {
    tty: bool,
    /// Decompressed input size, when known (uncompressed regular files).
    input_size: Option<u64>,
    memory_limit: u64,
    started: Instant,
    last_print: Option<Instant>,
    /// CPU ticks per thread id at the last print, and when.
    last_cpu: HashMap<i64, u64>,
    last_cpu_at: Instant,
    drawn: bool,
}

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

impl Monitor {
    pub fn new(input_size: Option<u64>, memory_limit: u64, tty: bool) -> Monitor {
        let now = Instant::now();
        Monitor {
            tty,
            input_size,
            memory_limit,
            started: now,
            last_print: None,
            last_cpu: HashMap::new(),
            last_cpu_at: now,
            drawn: false,
        }
    }

    /// Called by the sampler after each sample; `last` at the end of the run (a log gets a
    /// final line, a terminal gets its line cleared for the report).
    pub fn tick(&mut self, registry: &Registry, last: bool) {
        let now = Instant::now();
        if last && self.tty {
            if self.drawn {
                let _ = write!(std::io::stderr(), "\r\x1b[2K");
                self.drawn = false;
            }
            return;
        }
        if !self.due(now, last) {
            return;
        }
        self.last_print = Some(now);
        let line = self.line(registry, now, last);
        let mut err = std::io::stderr().lock();
        let _ = if self.tty {
            self.drawn = true;
            // One row only: a wrapped line could not be redrawn in place.
            let width = talaria_stages::term::stderr_columns().unwrap_or(80);
            write!(err, "\r\x1b[2K{}", fit(&line, width))
        } else {
            writeln!(err, "talaria monitor: {line}")
        };
        let _ = err.flush();
    }

    /// Clear the terminal line, if one is drawn, so other lines can be printed (it is redrawn
    /// at the next period).
    pub fn clear_line(&mut self) {
        if self.tty && self.drawn {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
            self.drawn = false;
        }
    }

    /// Whether a line is printed at `now`: the first tick, the last one (a log's closing line),
    /// and then once per period (500 ms on a terminal, 5 s in a log).
    fn due(&self, now: Instant, last: bool) -> bool {
        let every = if self.tty { TTY_EVERY } else { LOG_EVERY };
        last || self.last_print.is_none_or(|t| now - t >= every)
    }

    /// The status text (no terminal control codes). On the `last` line the stage threads have
    /// ended, so it gives each stage's CPU over the whole run instead of over the last period.
    pub fn line(&mut self, registry: &Registry, now: Instant, last: bool) -> String {
        let live = registry.live_counters();
        let get = |stage: &str| {
            live.iter()
                .filter(|(name, _)| stage_of(name) == stage)
                .map(|(_, c)| c.snapshot())
                .fold((0u64, 0u64), |(i, b), s| (i + s.items_out, b + s.bytes_out))
        };
        // The writer's output counters are records decided and their input bytes.
        let (records, done_bytes) = get("writer");
        let secs = (now - self.started).as_secs_f64().max(1e-9);
        let rate = records as f64 / secs;
        let mut parts = Vec::new();
        match self.input_size.filter(|&s| s > 0) {
            Some(total) => {
                let frac = (done_bytes as f64 / total as f64).clamp(0.0, 1.0);
                let filled = (frac * BAR_WIDTH as f64).round() as usize;
                let eta = if done_bytes > 0 {
                    format!("{:.0}s", secs * (1.0 - frac) / frac)
                } else {
                    "?".into()
                };
                let bar = if self.tty {
                    format!(
                        "[{}{}] ",
                        "#".repeat(filled),
                        ".".repeat(BAR_WIDTH - filled)
                    )
                } else {
                    String::new()
                };
                parts.push(format!(
                    "{bar}{:.0}% {records} records, {:.1}/{:.1} MiB, {rate:.0} rec/s, ETA {eta}",
                    frac * 100.0,
                    mib(done_bytes),
                    mib(total)
                ));
            }
            None => parts.push(format!(
                "{records} records, {:.1} MiB, {rate:.0} rec/s (input size unknown: no ETA)",
                mib(done_bytes)
            )),
        }
        parts.push(if last {
            format!("cpu over the run {}", run_cpu(registry, secs))
        } else {
            format!("cpu {}", self.stage_cpu(now))
        });
        let queues: Vec<String> = registry
            .channel_stats()
            .into_iter()
            .filter(|(name, _)| !name.starts_with("writer-"))
            .map(|(name, s)| {
                let pct = if s.capacity > 0 {
                    100.0 * s.used as f64 / s.capacity as f64
                } else {
                    0.0
                };
                format!("{name} {pct:.0}%")
            })
            .collect();
        parts.push(format!("queues {}", queues.join(" ")));
        let rss = talaria_stages::memory::statm_rss_bytes();
        parts.push(match rss {
            Some(r) => format!("mem {:.0}/{:.0} MiB", mib(r), mib(self.memory_limit)),
            None => "mem unknown".into(),
        });
        parts.join(" | ")
    }

    /// CPU % per stage since the last call (100% = one CPU; a stage's threads add up), from
    /// /proc/self/task/*/stat.
    fn stage_cpu(&mut self, now: Instant) -> String {
        let tasks = metrics::task_cpu_ticks();
        let dt = (now - self.last_cpu_at).as_secs_f64();
        let hz = metrics::clock_ticks_per_second() as f64;
        let mut by_stage: Vec<(String, f64)> = Vec::new();
        for (tid, name, ticks) in &tasks {
            let before = self.last_cpu.get(tid).copied().unwrap_or(0);
            let pct = if dt > 0.0 {
                100.0 * ticks.saturating_sub(before) as f64 / hz / dt
            } else {
                0.0
            };
            let stage = stage_of(name);
            // Not stages: the sampler, the main thread, the sinks, the metrics exporters.
            if matches!(stage, "sampler" | "talaria")
                || stage.starts_with("writer-")
                || stage.starts_with("metrics-")
            {
                continue;
            }
            match by_stage.iter_mut().find(|(s, _)| s == stage) {
                Some((_, p)) => *p += pct,
                None => by_stage.push((stage.to_string(), pct)),
            }
        }
        self.last_cpu = tasks.into_iter().map(|(t, _, c)| (t, c)).collect();
        self.last_cpu_at = now;
        if by_stage.is_empty() {
            return "- (stages ended)".into();
        }
        by_stage
            .iter()
            .map(|(s, p)| format!("{s} {p:.0}%"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// `line` cut to `width - 1` characters (the last column left free so the cursor never wraps).
fn fit(line: &str, width: usize) -> &str {
    let max = width.saturating_sub(1).max(1);
    match line.char_indices().nth(max) {
        Some((i, _)) => &line[..i],
        None => line,
    }
}

/// CPU % per stage over `secs` from the finished threads' reports (100% = one CPU).
fn run_cpu(registry: &Registry, secs: f64) -> String {
    let mut by_stage: Vec<(String, f64)> = Vec::new();
    for t in registry.threads() {
        let stage = stage_of(&t.name);
        if stage.starts_with("writer-") {
            continue;
        }
        let pct = 100.0 * t.cpu_ns.unwrap_or(0) as f64 / 1e9 / secs;
        match by_stage.iter_mut().find(|(s, _)| s == stage) {
            Some((_, p)) => *p += pct,
            None => by_stage.push((stage.to_string(), pct)),
        }
    }
    if by_stage.is_empty() {
        return "unknown".into();
    }
    // Pipeline order, whatever order the threads registered in.
    const ORDER: [&str; 5] = ["reader", "chunker", "prefetch", "aligner", "writer"];
    by_stage.sort_by_key(|(s, _)| ORDER.iter().position(|o| o == s).unwrap_or(ORDER.len()));
    by_stage
        .iter()
        .map(|(s, p)| format!("{s} {p:.0}%"))
        .collect::<Vec<_>>()
        .join(" ")
}

impl Drop for Monitor {
    /// Leave the terminal line clean for the end-of-run report.
    fn drop(&mut self) {
        if self.tty && self.drawn {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_prints_at_start_every_five_seconds_and_at_the_end() {
        let mut m = Monitor::new(None, 1 << 30, false);
        let t0 = Instant::now();
        assert!(m.due(t0, false));
        m.last_print = Some(t0);
        assert!(!m.due(t0 + Duration::from_millis(4900), false));
        assert!(m.due(t0 + Duration::from_millis(4900), true));
        assert!(m.due(t0 + LOG_EVERY, false));
        let mut tty = Monitor::new(None, 1 << 30, true);
        tty.last_print = Some(t0);
        assert!(!tty.due(t0 + Duration::from_millis(400), false));
        assert!(tty.due(t0 + TTY_EVERY, false));
    }

    #[test]
    fn terminal_lines_fit_one_row() {
        assert_eq!(fit("abcdef", 4), "abc");
        assert_eq!(fit("abc", 80), "abc");
        assert_eq!(fit("abc", 0), "a");
    }

    #[test]
    fn lines_carry_progress_queues_and_memory() {
        let registry = Registry::new();
        let mut m = Monitor::new(Some(4 << 20), 2 << 30, true);
        m.started = Instant::now() - Duration::from_secs(2);
        let line = m.line(&registry, Instant::now(), false);
        // Nothing decided yet: an empty bar, no ETA, the budget in MiB.
        assert!(
            line.starts_with(&format!(
                "[{}] 0% 0 records, 0.0/4.0 MiB, 0 rec/s, ETA ?",
                ".".repeat(BAR_WIDTH)
            )),
            "{line}"
        );
        assert!(line.contains("| queues "), "{line}");
        assert!(
            line.contains("/2048 MiB") || line.contains("mem unknown"),
            "{line}"
        );
        let mut log = Monitor::new(None, 2 << 30, false);
        let line = log.line(&registry, Instant::now(), true);
        assert!(
            line.starts_with("0 records, 0.0 MiB, 0 rec/s (input size unknown: no ETA)"),
            "{line}"
        );
        assert!(line.contains("cpu over the run unknown"), "{line}");
    }
}
