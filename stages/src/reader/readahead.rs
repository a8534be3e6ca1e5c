//! Readahead (`performance.prefetch_distance`): as the read or mmap engine moves through a
//! regular file (io_uring is left alone: its reads in flight are its readahead), ask
//! the kernel to bring the next `window` bytes into the page cache (`posix_fadvise(WILLNEED)`),
//! so that the reads of the next blocks find their pages there instead of waiting for the disk.
//! Advice goes out in steps of half a window, once less than half the window ahead is advised,
//! so a syscall covers many reads. The pages it brings in are the kernel's page cache, not
//! buffers of talaria's: they do not count against the memory limit, and the kernel drops them
//! under pressure. It changes no byte the reader delivers; a failed advice is counted and
//! ignored (advice is only advice).

use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// What readahead did, shared with whoever reports it (the reader thread owns the advisor).
#[derive(Debug, Default)]
pub struct ReadaheadStats {
    /// `posix_fadvise(WILLNEED)` calls made (ranges advised).
    pub ranges: AtomicU64,
    /// Bytes those ranges covered.
    pub bytes: AtomicU64,
    /// Calls the kernel refused.
    pub failed: AtomicU64,
    /// The window in bytes (0: readahead off).
    pub window: AtomicU64,
}

impl ReadaheadStats {
    /// (ranges, bytes, failed, window).
    pub fn snapshot(&self) -> (u64, u64, u64, u64) {
        (
            self.ranges.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            self.window.load(Ordering::Relaxed),
        )
    }
}

/// Advises the bytes ahead of a position in one regular file.
pub struct Readahead {
    file: File,
    len: u64,
    window: u64,
    /// Bytes before this offset were already advised.
    advised_to: u64,
    stats: Arc<ReadaheadStats>,
}

impl Readahead {
    /// An advisor for `file` (a duplicate descriptor of the input) of `len` bytes, keeping
    /// `window` bytes ahead advised; `None` when the window is 0.
    pub fn new(file: File, len: u64, window: u64, stats: Arc<ReadaheadStats>) -> Option<Readahead> {
        if window == 0 {
            return None;
        }
        stats.window.store(window, Ordering::Relaxed);
        Some(Readahead {
            file,
            len,
            window,
            advised_to: 0,
            stats,
        })
    }

    /// The reader is at file offset `pos`: advise up to `pos + window` once less than half the
    /// window ahead of it is advised.
    pub fn at(&mut self, pos: u64) {
        let want = pos.saturating_add(self.window).min(self.len);
        if self.advised_to >= want || self.advised_to.saturating_sub(pos) > self.window / 2 {
            return;
        }
        let start = self.advised_to.max(pos);
        let len = want - start;
        // SAFETY: posix_fadvise only reads its integer arguments; the descriptor is open.
        let rc = unsafe {
            libc::posix_fadvise(
                self.file.as_raw_fd(),
                start as libc::off_t,
                len as libc::off_t,
                libc::POSIX_FADV_WILLNEED,
            )
        };
        let s = &self.stats;
        if rc == 0 {
            s.ranges.fetch_add(1, Ordering::Relaxed);
            s.bytes.fetch_add(len, Ordering::Relaxed);
        } else {
            s.failed.fetch_add(1, Ordering::Relaxed);
        }
        self.advised_to = want;
    }
}

/// A byte source whose consumption is followed by a [`Readahead`]: every byte read or consumed
/// moves the position on (the file's own position for a plain file; the compressed position
/// for a compressed one, since the advice is about the file).
pub struct Ahead<R> {
    inner: R,
    pos: u64,
    advisor: Readahead,
}

impl<R> Ahead<R> {
    /// `start`: the file offset `inner`'s next byte comes from.
    pub fn new(inner: R, start: u64, mut advisor: Readahead) -> Ahead<R> {
        advisor.at(start);
        Ahead {
            inner,
            pos: start,
            advisor,
        }
    }
    fn moved(&mut self, n: usize) {
        self.pos += n as u64;
        self.advisor.at(self.pos);
    }
}

impl<R: std::io::Read> std::io::Read for Ahead<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(out)?;
        self.moved(n);
        Ok(n)
    }
}

impl<R: std::io::BufRead> std::io::BufRead for Ahead<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amount: usize) {
        self.inner.consume(amount);
        self.moved(amount);
    }
}

/// Drop `path`'s pages from this kernel's page cache (`posix_fadvise(DONTNEED)` on the whole
/// file; no root needed), for cold-cache measurements; returns (bytes still resident, file
/// length), counted with mincore over a mapping (pages another process maps, or dirty ones,
/// can stay).
pub fn drop_from_cache(path: &std::path::Path) -> std::io::Result<(u64, u64)> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    // SAFETY: posix_fadvise only reads its integer arguments; the descriptor is open.
    let rc = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    if rc != 0 {
        return Err(std::io::Error::from_raw_os_error(rc));
    }
    Ok((resident_bytes(&file, len)?, len))
}

/// Bytes of the first `len` bytes of `file` in the page cache now (mincore).
pub fn resident_bytes(file: &File, len: u64) -> std::io::Result<u64> {
    if len == 0 {
        return Ok(0);
    }
    // SAFETY: a read-only mapping of an open file; only mincore looks at it, nothing reads it.
    let map = unsafe { memmap2::Mmap::map(file)? };
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
    let mut pages = vec![0u8; map.len().div_ceil(page)];
    // SAFETY: the range is the mapping itself, page-aligned, and `pages` has a byte per page.
    let rc = unsafe {
        libc::mincore(
            map.as_ptr() as *mut libc::c_void,
            map.len(),
            pages.as_mut_ptr(),
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let resident = pages.iter().filter(|&&b| b & 1 == 1).count() as u64;
    Ok((resident * page as u64).min(len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn advises_in_half_window_steps_up_to_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![b'A'; 10_000]).unwrap();
        let stats = Arc::new(ReadaheadStats::default());
        let advisor = |w| Readahead::new(File::open(&path).unwrap(), 10_000, w, Arc::clone(&stats));
        assert!(advisor(0).is_none());
        let mut ahead = Ahead::new(File::open(&path).unwrap(), 0, advisor(4_000).unwrap());
        let mut all = Vec::new();
        let mut buf = [0u8; 500];
        loop {
            let n = ahead.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
        }
        assert_eq!(all, vec![b'A'; 10_000], "the bytes are untouched");
        let (ranges, bytes, failed, window) = stats.snapshot();
        // [0,4000) at the start, then each time the advised end is within 2000 bytes of the
        // position: [4000,5000) at 1000, ..., until 10000; every byte advised once.
        assert_eq!((bytes, failed, window), (10_000, 0, 4_000));
        assert!((4..=8).contains(&ranges), "{ranges}");
    }
}
