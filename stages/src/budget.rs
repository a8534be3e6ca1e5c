//! A byte budget shared by several holders (e.g. the pieces of a memory limit): `acquire` blocks
//! until enough bytes are free; permits release on drop. An acquisition larger than the whole
//! budget is granted when nothing else is held, so an oversize request cannot deadlock.

use parking_lot::{Condvar, Mutex};
use std::sync::Arc;

struct Inner {
    name: &'static str,
    capacity: usize,
    state: Mutex<(usize, usize)>, // (used, peak)
    freed: Condvar,
}

#[derive(Clone)]
pub struct ByteBudget {
    inner: Arc<Inner>,
}

/// Bytes held from a budget; released on drop.
pub struct Permit {
    inner: Arc<Inner>,
    bytes: usize,
}

impl ByteBudget {
    pub fn new(name: &'static str, capacity: usize) -> ByteBudget {
        ByteBudget { inner: Arc::new(Inner { name, capacity, state: Mutex::new((0, 0)), freed: Condvar::new() }) }
    }
    pub fn name(&self) -> &'static str {
        self.inner.name
    }
    pub fn capacity(&self) -> usize {
        self.inner.capacity
    }
    pub fn used(&self) -> usize {
        self.inner.state.lock().0
    }
    pub fn peak(&self) -> usize {
        self.inner.state.lock().1
    }
    fn grant(&self, state: &mut (usize, usize), bytes: usize) -> Permit {
        state.0 += bytes;
        state.1 = state.1.max(state.0);
        Permit { inner: Arc::clone(&self.inner), bytes }
    }
    /// Block until `bytes` fit (or nothing else is held).
    pub fn acquire(&self, bytes: usize) -> Permit {
        let mut state = self.inner.state.lock();
        while state.0 != 0 && state.0 + bytes > self.inner.capacity {
            self.inner.freed.wait(&mut state);
        }
        self.grant(&mut state, bytes)
    }
    /// `None` when `bytes` do not fit now.
    pub fn try_acquire(&self, bytes: usize) -> Option<Permit> {
        let mut state = self.inner.state.lock();
        (state.0 == 0 || state.0 + bytes <= self.inner.capacity).then(|| self.grant(&mut state, bytes))
    }
}

impl Permit {
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.inner.state.lock().0 -= self.bytes;
        self.inner.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_until_released_and_admits_oversize_when_idle() {
        let budget = ByteBudget::new("t", 100);
        let a = budget.acquire(60);
        assert!(budget.try_acquire(50).is_none());
        let b = budget.try_acquire(40).unwrap();
        assert_eq!(budget.used(), 100);
        let waiter = {
            let budget = budget.clone();
            std::thread::spawn(move || budget.acquire(70).bytes())
        };
        drop(a);
        drop(b);
        assert_eq!(waiter.join().unwrap(), 70);
        assert_eq!(budget.used(), 0);
        assert_eq!(budget.peak(), 100);
        let big = budget.acquire(500);
        assert_eq!(big.bytes(), 500);
    }
}
