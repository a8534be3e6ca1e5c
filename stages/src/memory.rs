//! Process memory figures read from /proc (Linux): current and peak resident set size.
//! Read-only observation for reports: it must not be used to make decisions that change output,
//! and it returns `None` rather than failing where /proc is absent.

/// A `VmXXX:   1234 kB` field of a /proc/<pid>/status text, in bytes.
fn status_field(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(field))?;
    let mut words = line[field.len()..].split_whitespace();
    let kib: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") | None => kib.checked_mul(1024),
        Some(_) => None,
    }
}

fn own_status_field(field: &str) -> Option<u64> {
    status_field(&std::fs::read_to_string("/proc/self/status").ok()?, field)
}

/// Peak resident set size (VmHWM) in bytes, if the OS reports it.
pub fn peak_rss_bytes() -> Option<u64> {
    own_status_field("VmHWM:")
}
/// Current resident set size from /proc/self/statm (one short read, cheap enough for a sampler
/// every 100 ms), in bytes.
pub fn statm_rss_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = text.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages.checked_mul(u64::try_from(page).ok()?)
}
/// Current resident set size (VmRSS) in bytes, if the OS reports it.
pub fn current_rss_bytes() -> Option<u64> {
    own_status_field("VmRSS:")
}

/// The size of a transparent huge page on x86-64 and most arm64 kernels.
pub const HUGE_PAGE: usize = 2 << 20;

/// Asks the kernel to back the whole 2 MiB pages inside `[ptr, ptr + len)` with transparent huge
/// pages (`madvise(MADV_HUGEPAGE)`), from their next fault on. Returns the bytes advised: 0 when
/// the region holds no whole huge page or the kernel refused (no THP support). Advice only: the
/// memory's contents and validity do not change.
pub fn advise_huge_pages(ptr: *const u8, len: usize) -> usize {
    let start = (ptr as usize).next_multiple_of(HUGE_PAGE);
    let end = (ptr as usize).saturating_add(len) / HUGE_PAGE * HUGE_PAGE;
    if end <= start {
        return 0;
    }
    // SAFETY: the range lies inside an allocation the caller owns; MADV_HUGEPAGE only changes how
    // the kernel backs it, never its contents.
    let rc = unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
    if rc == 0 {
        end - start
    } else {
        0
    }
}

/// Anonymous memory backed by transparent huge pages now (AnonHugePages of
/// /proc/self/smaps_rollup), in bytes.
pub fn anon_huge_pages_bytes() -> Option<u64> {
    status_field(
        &std::fs::read_to_string("/proc/self/smaps_rollup").ok()?,
        "AnonHugePages:",
    )
}

/// The kernel's transparent huge page mode: `always`, `madvise` or `never` (the bracketed word
/// of /sys/kernel/mm/transparent_hugepage/enabled).
pub fn transparent_huge_pages_mode() -> Option<String> {
    let text = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").ok()?;
    let start = text.find('[')? + 1;
    let end = start + text[start..].find(']')?;
    Some(text[start..end].to_string())
}

/// The soft and hard RLIMIT_MEMLOCK in bytes (`u64::MAX`: unlimited).
pub fn memlock_limits() -> Option<(u64, u64)> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit through a valid pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut r) } != 0 {
        return None;
    }
    let bytes = |v: libc::rlim_t| {
        if v == libc::RLIM_INFINITY {
            u64::MAX
        } else {
            v
        }
    };
    Some((bytes(r.rlim_cur), bytes(r.rlim_max)))
}

/// Raises the soft RLIMIT_MEMLOCK towards `bytes`, never past the hard limit and never lowering
/// it; returns the soft limit in force afterwards.
pub fn raise_memlock_soft(bytes: u64) -> Option<u64> {
    let (soft, hard) = memlock_limits()?;
    let want = bytes.min(hard);
    if want <= soft {
        return Some(soft);
    }
    let r = libc::rlimit {
        rlim_cur: want as libc::rlim_t,
        rlim_max: hard as libc::rlim_t,
    };
    // SAFETY: setrlimit reads one rlimit through a valid pointer.
    if unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &r) } != 0 {
        return Some(soft);
    }
    Some(want)
}

/// The page-aligned part of `[ptr, ptr + len)` that lies wholly inside it.
fn whole_pages(ptr: *const u8, len: usize) -> Option<(usize, usize)> {
    // SAFETY: sysconf has no preconditions.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).ok()?;
    let start = (ptr as usize).next_multiple_of(page);
    let end = (ptr as usize).saturating_add(len) / page * page;
    (end > start).then_some((start, end - start))
}

/// Locks the whole pages inside `[ptr, ptr + len)` in RAM as they are first touched
/// (`mlock2(MLOCK_ONFAULT)`); returns the bytes locked.
pub fn lock(ptr: *const u8, len: usize) -> std::io::Result<usize> {
    let Some((start, len)) = whole_pages(ptr, len) else {
        return Ok(0);
    };
    // SAFETY: the range lies inside an allocation the caller owns; locking changes residency
    // only, never contents.
    if unsafe { libc::mlock2(start as *const libc::c_void, len, libc::MLOCK_ONFAULT) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(len)
}

/// Undoes [`lock`] for the same region.
pub fn unlock(ptr: *const u8, len: usize) {
    if let Some((start, len)) = whole_pages(ptr, len) {
        // SAFETY: as for `lock`; munlock of a range not locked is harmless.
        unsafe { libc::munlock(start as *const libc::c_void, len) };
    }
}

/// Memory of this process locked in RAM now (VmLck), in bytes.
pub fn locked_bytes() -> Option<u64> {
    own_status_field("VmLck:")
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\ttalaria\nVmPeak:\t  999 kB\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\nThreads:\t3\n";

    #[test]
    fn parses_kilobyte_fields_into_bytes() {
        assert_eq!(status_field(STATUS, "VmHWM:"), Some(2048 * 1024));
        assert_eq!(status_field(STATUS, "VmRSS:"), Some(1024 * 1024));
        assert_eq!(status_field(STATUS, "VmSwap:"), None);
        assert_eq!(status_field("VmRSS:\tlots kB\n", "VmRSS:"), None);
        assert_eq!(status_field("VmRSS:\t12 MB\n", "VmRSS:"), None);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn reads_this_process() {
        let (rss, peak) = (current_rss_bytes().unwrap(), peak_rss_bytes().unwrap());
        assert!(rss > 0 && peak >= rss, "rss {rss} peak {peak}");
        assert!(statm_rss_bytes().unwrap() > 0);
    }

    #[test]
    fn locks_and_unlocks_whole_pages() {
        let v = vec![1u8; 1 << 20];
        let (soft, hard) = memlock_limits().unwrap();
        assert!(hard >= soft);
        assert_eq!(lock(v.as_ptr(), 100).unwrap(), 0);
        if soft >= 1 << 20 {
            let locked = lock(v.as_ptr(), v.len()).unwrap();
            assert!(locked > 0 && locked <= 1 << 20, "{locked}");
            unlock(v.as_ptr(), v.len());
        }
        assert!(v.iter().all(|&b| b == 1));
    }

    #[test]
    fn advises_only_whole_huge_pages() {
        let v = vec![0u8; 3 * HUGE_PAGE];
        assert_eq!(advise_huge_pages(v.as_ptr(), HUGE_PAGE - 1), 0);
        let advised = advise_huge_pages(v.as_ptr(), v.len());
        // 2 or 3 whole pages fit depending on alignment; 0 where the kernel has no THP.
        assert!(advised == 0 || advised >= 2 * HUGE_PAGE, "{advised}");
        assert!(v.iter().all(|&b| b == 0));
    }
}
