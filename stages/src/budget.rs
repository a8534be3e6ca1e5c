//! A byte budget shared by several holders (e.g. the pieces of a memory limit): `acquire` blocks
//! until enough bytes are free; permits release on drop. An acquisition larger than the whole
//! budget is granted when nothing else is held, so an oversize request cannot deadlock.
//! It only counts bytes: it must not allocate them, and it never takes back a permit it granted.

use parking_lot::{Condvar, Mutex};
use std::sync::Arc;

struct Inner {
    name: &'static str,
    capacity: usize,
    state: Mutex<(usize, usize)>, // (used, peak)
    freed: Condvar,
}

/// Cloneable handle to one budget; every clone draws from the same bytes.
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
        ByteBudget {
            inner: Arc::new(Inner {
                name,
                capacity,
                state: Mutex::new((0, 0)),
                freed: Condvar::new(),
            }),
        }
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
    /// Bytes that could be acquired now without waiting (0 when over an oversize grant).
    pub fn available(&self) -> usize {
        self.inner.capacity.saturating_sub(self.used())
    }
    fn grant(&self, state: &mut (usize, usize), bytes: usize) -> Permit {
        state.0 += bytes;
        state.1 = state.1.max(state.0);
        Permit {
            inner: Arc::clone(&self.inner),
            bytes,
        }
    }
    /// Block until `bytes` fit (or nothing else is held).
    pub fn acquire(&self, bytes: usize) -> Permit {
        let mut state = self.inner.state.lock();
        while state.0 != 0 && state.0.saturating_add(bytes) > self.inner.capacity {
            self.inner.freed.wait(&mut state);
        }
        self.grant(&mut state, bytes)
    }
    /// `None` when `bytes` do not fit now.
    pub fn try_acquire(&self, bytes: usize) -> Option<Permit> {
        let mut state = self.inner.state.lock();
        (state.0 == 0 || state.0.saturating_add(bytes) <= self.inner.capacity)
            .then(|| self.grant(&mut state, bytes))
    }
}

impl std::fmt::Debug for ByteBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (used, peak) = *self.inner.state.lock();
        f.debug_struct("ByteBudget")
            .field("name", &self.inner.name)
            .field("capacity", &self.inner.capacity)
            .field("used", &used)
            .field("peak", &peak)
            .finish()
    }
}

impl Permit {
    pub fn bytes(&self) -> usize {
        self.bytes
    }
    /// Grow this permit by `more` bytes if they fit now (no waiting; a growing structure such
    /// as an index decides itself what to do when they do not). Unlike `try_acquire`, this does
    /// not bypass the budget when the permit is the only holder.
    pub fn try_grow(&mut self, more: usize) -> bool {
        let mut state = self.inner.state.lock();
        if state.0.saturating_add(more) > self.inner.capacity {
            return false;
        }
        state.0 += more;
        state.1 = state.1.max(state.0);
        self.bytes += more;
        true
    }
    /// Give `fewer` bytes back to the budget now (at most what the permit holds).
    pub fn shrink(&mut self, fewer: usize) {
        let fewer = fewer.min(self.bytes);
        if fewer == 0 {
            return;
        }
        self.bytes -= fewer;
        self.inner.state.lock().0 -= fewer;
        self.inner.freed.notify_all();
    }
}

impl std::fmt::Debug for Permit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Permit")
            .field("budget", &self.inner.name)
            .field("bytes", &self.bytes)
            .finish()
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if self.bytes == 0 {
            return;
        }
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
        assert_eq!(budget.available(), 0);
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
        assert_eq!(budget.used(), 500);
        assert!(
            budget.try_acquire(1).is_none(),
            "nothing fits beside an oversize grant"
        );
        drop(big);
        assert_eq!((budget.used(), budget.peak()), (0, 500));
    }

    #[test]
    fn waiter_stays_blocked_while_the_budget_is_held() {
        let budget = ByteBudget::new("index", 10);
        let held = budget.acquire(8);
        let got = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let waiter = {
            let (budget, got) = (budget.clone(), Arc::clone(&got));
            std::thread::spawn(move || {
                let p = budget.acquire(5);
                got.store(true, std::sync::atomic::Ordering::SeqCst);
                p.bytes()
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(30));
        assert!(
            !got.load(std::sync::atomic::Ordering::SeqCst),
            "acquire went past a full budget"
        );
        drop(held);
        assert_eq!(waiter.join().unwrap(), 5);
    }

    #[test]
    fn permits_grow_and_shrink_within_the_budget() {
        let budget = ByteBudget::new("index", 100);
        let mut index = budget.acquire(10);
        assert!(index.try_grow(80));
        assert_eq!((index.bytes(), budget.used()), (90, 90));
        assert!(!index.try_grow(11), "growth must respect the capacity");
        assert_eq!(budget.used(), 90);
        index.shrink(50);
        assert_eq!(
            (index.bytes(), budget.used(), budget.available()),
            (40, 40, 60)
        );
        index.shrink(1000);
        assert_eq!((index.bytes(), budget.used()), (0, 0));
        drop(index);
        assert_eq!((budget.used(), budget.peak()), (0, 90));
        assert_eq!(budget.name(), "index");
        assert_eq!(budget.capacity(), 100);
        assert!(format!("{budget:?}").contains("peak: 90"));
    }
}
