//! CPU lists as the kernel writes them ("0-3,8,10-11"), the CPU set this process may run on
//! (sched_getaffinity) and pinning the calling thread (sched_setaffinity). It only talks to the
//! kernel about CPU numbers: it must not decide which CPU a thread should get.

/// Parses a kernel CPU list ("0-3,8,10-11", possibly empty or with a trailing newline) into
/// sorted, distinct CPU numbers. `None` when it is not a CPU list.
pub fn parse_list(text: &str) -> Option<Vec<u32>> {
    let mut cpus = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                if a > b {
                    return None;
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(part.trim().parse().ok()?),
        }
    }
    cpus.sort_unstable();
    cpus.dedup();
    Some(cpus)
}

/// Formats CPU numbers as a kernel CPU list, collapsing runs: `[0,1,2,3,8]` -> "0-3,8".
pub fn format_list(cpus: &[u32]) -> String {
    let mut sorted = cpus.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

/// The CPUs this process may run on (taskset, cgroup cpusets), or `None` if the kernel will not
/// say (then every CPU the topology lists is assumed allowed).
pub fn allowed_cpus() -> Option<Vec<u32>> {
    // SAFETY: cpu_set_t is plain bits; sched_getaffinity writes at most size_of::<cpu_set_t>().
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return None;
        }
        let max = 8 * std::mem::size_of::<libc::cpu_set_t>();
        Some(
            (0..max)
                .filter(|&cpu| libc::CPU_ISSET(cpu, &set))
                .map(|cpu| cpu as u32)
                .collect(),
        )
    }
}

/// Pins the calling thread to `cpus`. The error is the OS's (e.g. EINVAL when none of `cpus` is
/// online or allowed); callers turn it into a warning.
pub fn pin_current_thread(cpus: &[u32]) -> std::io::Result<()> {
    let max = 8 * std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: as above; CPU_SET is only called with indices below the set's size.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &cpu in cpus {
            if (cpu as usize) >= max {
                return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
            }
            libc::CPU_SET(cpu as usize, &mut set);
        }
        // pid 0 = the calling thread (sched_setaffinity acts on a thread id on Linux).
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_round_trip() {
        assert_eq!(
            parse_list("0-3,8,10-11\n"),
            Some(vec![0, 1, 2, 3, 8, 10, 11])
        );
        assert_eq!(format_list(&[11, 0, 1, 2, 3, 8, 10]), "0-3,8,10-11");
        assert_eq!(parse_list(""), Some(vec![]));
        assert_eq!(format_list(&[]), "");
        assert_eq!(parse_list("3-1"), None);
        assert_eq!(parse_list("a"), None);
    }

    #[test]
    fn this_process_may_run_somewhere() {
        let allowed = allowed_cpus().expect("sched_getaffinity works on Linux");
        assert!(!allowed.is_empty());
    }

    #[test]
    fn pinning_a_thread_shows_in_proc() {
        let allowed = allowed_cpus().unwrap();
        let cpu = *allowed.last().unwrap();
        let seen = std::thread::spawn(move || {
            pin_current_thread(&[cpu]).unwrap();
            let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
            let line = status
                .lines()
                .find(|l| l.starts_with("Cpus_allowed_list:"))
                .unwrap()
                .to_string();
            (line, allowed_cpus().unwrap())
        })
        .join()
        .unwrap();
        assert_eq!(seen.0, format!("Cpus_allowed_list:\t{cpu}"));
        assert_eq!(seen.1, vec![cpu]);
        // A CPU number no machine has is refused, not a crash.
        assert!(pin_current_thread(&[1 << 20]).is_err());
    }
}
