//! `performance.writer_priority`: the aligner threads run at a lower priority than the writer
//! when they and the writer outnumber the allowed CPUs.
//!
//! Why: the writer is the one serial stage (it completes every decision in input order and
//! publishes the representatives), so when it waits for a CPU the whole run waits. On 2 CPUs,
//! 2 aligners, the prefetcher and the writer share two cores, and the writer is what bounds the
//! run. With the aligners at nice +10, the scheduler hands the writer a CPU first (CFS weights
//! 1024 against 110) and the aligners take what it leaves. Measured on 2 CPUs (AMD EPYC, medians
//! of alternated runs, nice 0 against +19): 20k UniProt at 0.5 1.01 -> 0.96 s (9 rounds) and
//! 0.95 -> 0.91 s (15 rounds), the writer's CPU 0.67 -> 0.55 s; 500k proteins at 0.9 7.16 ->
//! 6.79 s; 16S at 0.97 0.68 -> 0.66 s; 20k at 0.9 unchanged (0.24 s). The writer also needs less
//! CPU for the same work: preempted less, it keeps its caches.
//!
//! With a CPU to spare for every deciding thread, priorities change nothing, so `auto` leaves
//! them alone. Raising a thread's nice value needs no privilege; lowering it would, so the
//! writer is never raised above the user's own priority. Results never depend on it: only
//! timing does.

use crate::config::Switch;

/// How much the aligners' nice value goes up.
pub const ALIGNER_NICE: i32 = 10;

/// Whether the aligners run below the writer: `workers` aligner threads and the writer on
/// `cpus` allowed CPUs.
pub fn lowers_aligners(setting: Switch, workers: usize, cpus: usize) -> bool {
    match setting {
        Switch::On => true,
        Switch::Off => false,
        Switch::Auto => workers + 1 > cpus,
    }
}

/// The summary's line: what was done and why (`error`: the first aligner's failure to lower
/// itself, if any).
pub fn describe(
    setting: Switch,
    workers: usize,
    cpus: usize,
    lowered: bool,
    error: Option<&str>,
) -> String {
    let why = match setting {
        Switch::On => "on".to_string(),
        Switch::Off => "off".to_string(),
        Switch::Auto => {
            let threads = if workers == 1 { "thread" } else { "threads" };
            format!("auto: {workers} aligner {threads} and the writer on {cpus} CPUs")
        }
    };
    match (lowered, error) {
        (_, Some(e)) => format!("all threads equal: lowering the aligners failed ({e}) ({why})"),
        (true, None) => format!("aligners at nice +{ALIGNER_NICE}, the writer first ({why})"),
        (false, None) => format!("all threads equal ({why})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_lowers_only_when_the_deciding_threads_outnumber_the_cpus() {
        assert!(lowers_aligners(Switch::Auto, 2, 2));
        assert!(!lowers_aligners(Switch::Auto, 15, 16));
        assert!(lowers_aligners(Switch::Auto, 16, 16));
        assert!(lowers_aligners(Switch::On, 1, 64));
        assert!(!lowers_aligners(Switch::Off, 8, 2));
        assert_eq!(
            describe(Switch::Auto, 2, 2, true, None),
            "aligners at nice +10, the writer first (auto: 2 aligner threads and the writer on 2 CPUs)"
        );
        assert_eq!(
            describe(Switch::Off, 2, 2, false, None),
            "all threads equal (off)"
        );
    }
}
