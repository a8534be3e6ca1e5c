//! What the reference cache did, for the summary line, `--cache-stats`, `--profile` and `--json`;
//! and how its bytes are planned out of the memory limit. Only figures the caches counted.

use crate::reduce::decide::Decider;
use std::fmt::Write as _;
use talaria_stages::cache::{CacheStats, Eviction};

/// How much the caches may hold, decided once before the threads start.
#[derive(Clone, Copy, Debug)]
pub struct CachePlan {
    pub policy: Eviction,
    /// `cache_size_mb` in bytes.
    pub asked: u64,
    /// What all caches together may hold: `asked`, at most half of the queue budget it is
    /// taken from.
    pub total: usize,
    /// Each deciding thread's share (aligners and the writer).
    pub per_thread: usize,
    /// `asked` was more than half the queue budget.
    pub capped: bool,
}

impl CachePlan {
    /// `None` when `cache_alignments` is off. `queue_budget` is the share of the memory limit
    /// the caches' bytes are taken out of (at most half of it), so they stay inside the limit:
    /// the aligners' input queue, which bounds only how far ahead the prefetcher runs.
    pub fn new(
        p: &crate::config::PerformanceConfig,
        queue_budget: usize,
        workers: usize,
    ) -> Option<CachePlan> {
        if !p.cache_alignments {
            return None;
        }
        let asked = p.cache_size_mb.saturating_mul(1 << 20);
        let total = asked.min(queue_budget as u64 / 2) as usize;
        let threads = workers + 1;
        Some(CachePlan {
            policy: p.cache_eviction,
            asked,
            total: total / threads * threads,
            per_thread: total / threads,
            // Less than asked by a MiB or more (a byte of rounding is not worth a warning).
            capped: (total as u64).saturating_add(1 << 20) <= asked,
        })
    }

    /// `decider` with its cache.
    pub fn attach(plan: &Option<CachePlan>, decider: Decider) -> Decider {
        match plan {
            Some(p) => decider.with_cache(p.policy, p.per_thread),
            None => decider,
        }
    }
}

/// One cache's figures, as printed and in JSON.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct CacheFigures {
    /// The thread that owned it, or `total`.
    pub thread: String,
    pub capacity_bytes: u64,
    pub entries: u64,
    pub bytes: u64,
    pub peak_bytes: u64,
    pub lookups: u64,
    pub hits: u64,
    pub misses: u64,
    /// hits / lookups; null before any lookup.
    pub hit_rate: Option<f64>,
    pub evictions: u64,
    pub inserted: u64,
    /// Profiles larger than the thread's whole share, not kept.
    pub rejected: u64,
}

impl CacheFigures {
    pub fn of(thread: &str, s: &CacheStats) -> CacheFigures {
        CacheFigures {
            thread: thread.into(),
            capacity_bytes: s.capacity,
            entries: s.entries,
            bytes: s.bytes,
            peak_bytes: s.peak_bytes,
            lookups: s.lookups,
            hits: s.hits,
            misses: s.misses,
            hit_rate: s.hit_rate(),
            evictions: s.evictions,
            inserted: s.inserted,
            rejected: s.rejected,
        }
    }
}

/// The reference cache over the whole run (None in `Summary` when it was off).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct CacheSummary {
    /// "lru", "lfu" or "fifo".
    pub policy: String,
    /// `cache_size_mb` in bytes, and what all caches could hold (at most half the aligners'
    /// input queue budget).
    pub asked_bytes: u64,
    pub capacity_bytes: u64,
    /// `cache_size_mb` was more than half the queue budget and was capped.
    pub capped: bool,
    /// One row per deciding thread, in thread order.
    pub threads: Vec<CacheFigures>,
    pub total: CacheFigures,
}

impl CacheSummary {
    pub fn new(plan: &CachePlan, rows: &[(String, CacheStats)]) -> CacheSummary {
        let mut total = CacheStats::default();
        for (_, s) in rows {
            total.add(s);
        }
        CacheSummary {
            policy: plan.policy.name().into(),
            asked_bytes: plan.asked,
            capacity_bytes: plan.total as u64,
            capped: plan.capped,
            threads: rows.iter().map(|(t, s)| CacheFigures::of(t, s)).collect(),
            total: CacheFigures::of("total", &total),
        }
    }

    /// The summary's `cache:` line (no newline).
    pub fn line(&self) -> String {
        let t = &self.total;
        let mut line = format!(
            "  cache: {} {:.1} MiB over {} threads ({:.1} MiB peak); hit rate {} ({} hits / {} lookups), {} evictions",
            self.policy,
            mib(self.capacity_bytes),
            self.threads.len(),
            mib(t.peak_bytes),
            percent(t.hit_rate),
            t.hits,
            t.lookups,
            t.evictions
        );
        if self.capped {
            let _ = write!(
                line,
                "; cache_size_mb {} MiB capped at half the aligners' input queue budget",
                self.asked_bytes >> 20
            );
        }
        line
    }

    /// The `--cache-stats` table.
    pub fn table(&self) -> String {
        let mut o = format!(
            "talaria cache-stats: reference cache (per-representative LCS bit masks), policy {}, {:.1} MiB of {} MiB asked\n",
            self.policy,
            mib(self.capacity_bytes),
            self.asked_bytes >> 20
        );
        let _ = writeln!(
            o,
            "  {:<10} {:>6} {:>10} {:>8} {:>10} {:>10} {:>10} {:>10} {:>8} {:>10} {:>10}",
            "thread",
            "policy",
            "capacity",
            "entries",
            "bytes",
            "lookups",
            "hits",
            "misses",
            "hit rate",
            "evictions",
            "inserted"
        );
        for row in self.threads.iter().chain(std::iter::once(&self.total)) {
            let _ = writeln!(
                o,
                "  {:<10} {:>6} {:>10} {:>8} {:>10} {:>10} {:>10} {:>10} {:>8} {:>10} {:>10}",
                row.thread,
                self.policy,
                row.capacity_bytes,
                row.entries,
                row.bytes,
                row.lookups,
                row.hits,
                row.misses,
                percent(row.hit_rate),
                row.evictions,
                row.inserted
            );
        }
        o
    }
}

/// `--cache-stats` when the cache was off.
pub const OFF: &str =
    "talaria cache-stats: reference cache off (performance.cache_alignments = false)\n";

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn percent(rate: Option<f64>) -> String {
    match rate {
        Some(r) => format!("{:.1}%", 100.0 * r),
        None => "n/a".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_add_the_threads_and_the_table_has_a_row_each() {
        let a = CacheStats {
            capacity: 100,
            lookups: 10,
            hits: 9,
            misses: 1,
            inserted: 1,
            ..CacheStats::default()
        };
        let b = CacheStats {
            capacity: 100,
            lookups: 10,
            hits: 5,
            misses: 5,
            inserted: 5,
            evictions: 2,
            ..CacheStats::default()
        };
        let plan = CachePlan {
            policy: Eviction::Lfu,
            asked: 1 << 20,
            total: 200,
            per_thread: 100,
            capped: true,
        };
        let s = CacheSummary::new(&plan, &[("aligner-0".into(), a), ("writer".into(), b)]);
        assert_eq!(
            (s.total.lookups, s.total.hits, s.total.evictions),
            (20, 14, 2)
        );
        assert_eq!(s.total.hit_rate, Some(0.7));
        let table = s.table();
        assert_eq!(table.lines().count(), 5, "{table}");
        assert!(table.contains("aligner-0") && table.contains("writer") && table.contains("total"));
        assert!(
            table.contains("90.0%") && table.contains("70.0%"),
            "{table}"
        );
        assert!(s
            .line()
            .contains("hit rate 70.0% (14 hits / 20 lookups), 2 evictions"));
        assert!(s.line().contains("capped"), "{}", s.line());
    }
}
