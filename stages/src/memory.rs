//! Process memory figures read from /proc (Linux): current and peak resident set size.

/// Peak resident set size (VmHWM) in bytes, if the OS reports it.
pub fn peak_rss_bytes() -> Option<u64> {
    todo!("helper A")
}
/// Current resident set size (VmRSS) in bytes, if the OS reports it.
pub fn current_rss_bytes() -> Option<u64> {
    todo!("helper A")
}
