//! A pool of block buffers the reader fills and its consumer hands back (by dropping the
//! [`Block`](super::Block)), so a steady read reuses a few warm buffers instead of allocating
//! (and the kernel faulting in) a fresh block per read. The pool holds at most `capacity` bytes
//! of idle buffers; what does not fit is freed. Its capacity is part of the reader's share of
//! the memory limit (the caller takes it out of the block channel's budget), and its figures —
//! buffers allocated, reuses, idle bytes at most — are reported by `--profile-io`.
//! It must never hand out a buffer that is still in use, and never holds more idle bytes than
//! its capacity.

use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

struct Inner {
    capacity: usize,
    /// Idle buffers and the bytes (capacities) they hold.
    free: Mutex<(Vec<Vec<u8>>, usize)>,
    allocated: AtomicU64,
    reused: AtomicU64,
    dropped: AtomicU64,
    peak_idle: AtomicU64,
}

/// Cloneable handle; every clone is the same pool.
#[derive(Clone)]
pub struct BlockPool {
    inner: Arc<Inner>,
}

/// The pool's figures at some moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Idle bytes the pool may keep.
    pub capacity: u64,
    /// Buffers allocated because none was idle.
    pub allocated: u64,
    /// Buffers taken from the pool instead.
    pub reused: u64,
    /// Buffers handed back that did not fit (freed).
    pub dropped: u64,
    /// The most idle bytes it held.
    pub peak_idle: u64,
}

impl BlockPool {
    /// A pool keeping at most `capacity` idle bytes (0: every buffer is freed, none reused).
    pub fn new(capacity: usize) -> BlockPool {
        BlockPool {
            inner: Arc::new(Inner {
                capacity,
                free: Mutex::new((Vec::new(), 0)),
                allocated: AtomicU64::new(0),
                reused: AtomicU64::new(0),
                dropped: AtomicU64::new(0),
                peak_idle: AtomicU64::new(0),
            }),
        }
    }

    /// A buffer with room for at least `size` bytes. A reused one keeps its old length and bytes
    /// (the reader overwrites them, so nothing is zeroed twice); a new one is empty.
    pub fn take(&self, size: usize) -> Vec<u8> {
        let mut free = self.inner.free.lock();
        // Buffers are all one block size in practice; one too small is freed, not kept.
        while let Some(buf) = free.0.pop() {
            free.1 -= buf.capacity();
            if buf.capacity() >= size {
                self.inner.reused.fetch_add(1, Ordering::Relaxed);
                return buf;
            }
            self.inner.dropped.fetch_add(1, Ordering::Relaxed);
        }
        drop(free);
        self.inner.allocated.fetch_add(1, Ordering::Relaxed);
        Vec::with_capacity(size)
    }

    /// Take `buf` back for reuse, or free it when the pool is full.
    pub fn give(&self, buf: Vec<u8>) {
        let bytes = buf.capacity();
        if bytes == 0 {
            return;
        }
        let mut free = self.inner.free.lock();
        if free.1 + bytes > self.inner.capacity {
            drop(free);
            self.inner.dropped.fetch_add(1, Ordering::Relaxed);
            return; // freed here, outside the lock
        }
        free.0.push(buf);
        free.1 += bytes;
        self.inner
            .peak_idle
            .fetch_max(free.1 as u64, Ordering::Relaxed);
    }

    /// Idle bytes held now.
    pub fn idle_bytes(&self) -> usize {
        self.inner.free.lock().1
    }

    pub fn stats(&self) -> PoolStats {
        let i = &self.inner;
        PoolStats {
            capacity: i.capacity as u64,
            allocated: i.allocated.load(Ordering::Relaxed),
            reused: i.reused.load(Ordering::Relaxed),
            dropped: i.dropped.load(Ordering::Relaxed),
            peak_idle: i.peak_idle.load(Ordering::Relaxed),
        }
    }
}

impl std::fmt::Debug for BlockPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockPool")
            .field("stats", &self.stats())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_within_capacity_and_frees_beyond() {
        let pool = BlockPool::new(2 << 10);
        let a = pool.take(1 << 10);
        let b = pool.take(1 << 10);
        let c = pool.take(1 << 10);
        assert_eq!(pool.stats().allocated, 3);
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        pool.give(a);
        pool.give(b);
        pool.give(c); // over 2 KiB idle: freed
        assert_eq!(pool.idle_bytes(), 2 << 10);
        let s = pool.stats();
        assert_eq!((s.dropped, s.peak_idle), (1, 2 << 10));
        let x = pool.take(1 << 10);
        let y = pool.take(1 << 10);
        assert!([pa, pb].contains(&x.as_ptr()) && [pa, pb].contains(&y.as_ptr()));
        assert_eq!((pool.stats().reused, pool.idle_bytes()), (2, 0));
        // Too small for the request: freed, and a new one allocated.
        pool.give(Vec::with_capacity(16));
        assert!(pool.take(1 << 10).capacity() >= 1 << 10);
        assert_eq!(pool.stats().allocated, 4);
    }

    #[test]
    fn a_zero_pool_keeps_nothing() {
        let pool = BlockPool::new(0);
        pool.give(pool.take(100));
        assert_eq!(pool.idle_bytes(), 0);
        pool.give(pool.take(100));
        assert_eq!(pool.stats().allocated, 2);
        assert_eq!(pool.stats().reused, 0);
    }
}
