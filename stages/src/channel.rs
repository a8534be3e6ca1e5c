//! Bounded multi-producer multi-consumer channel whose capacity is counted in bytes.
//! `send` blocks while the queued items' weights would exceed the capacity (an item larger than
//! the whole capacity is admitted when the queue is empty, so nothing deadlocks).

use crate::Weighted;

#[derive(Debug, Clone, Copy, Default)]
pub struct ChannelStats {
    pub capacity: usize,
    pub used: usize,
    pub peak_used: usize,
    pub items: u64,
    pub bytes: u64,
    /// Total time senders spent blocked on a full channel (backpressure).
    pub send_blocked_ns: u64,
    /// Total time receivers spent waiting on an empty channel (starvation).
    pub recv_waited_ns: u64,
}

pub struct Sender<T> {
    _p: std::marker::PhantomData<T>,
}
pub struct Receiver<T> {
    _p: std::marker::PhantomData<T>,
}

/// The receiving side is gone; the item comes back.
#[derive(Debug)]
pub struct SendError<T>(pub T);

pub fn bounded<T: Weighted + Send>(name: &'static str, capacity_bytes: usize) -> (Sender<T>, Receiver<T>) {
    let _ = (name, capacity_bytes);
    todo!("helper A")
}

impl<T: Weighted + Send> Sender<T> {
    pub fn send(&self, item: T) -> Result<(), SendError<T>> {
        let _ = item;
        todo!("helper A")
    }
    pub fn stats(&self) -> ChannelStats {
        todo!("helper A")
    }
}
impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        todo!("helper A")
    }
}
impl<T: Weighted + Send> Receiver<T> {
    /// Next item; `None` once every sender is dropped and the queue is empty.
    pub fn recv(&self) -> Option<T> {
        todo!("helper A")
    }
    pub fn stats(&self) -> ChannelStats {
        todo!("helper A")
    }
}
impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        todo!("helper A")
    }
}
