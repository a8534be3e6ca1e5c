//! Process memory figures read from /proc (Linux): current and peak resident set size.

fn status_field(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line[field.len()..].split_whitespace().next()?.parse().ok()?;
    Some(kib * 1024)
}

/// Peak resident set size (VmHWM) in bytes, if the OS reports it.
pub fn peak_rss_bytes() -> Option<u64> {
    status_field("VmHWM:")
}
/// Current resident set size (VmRSS) in bytes, if the OS reports it.
pub fn current_rss_bytes() -> Option<u64> {
    status_field("VmRSS:")
}
