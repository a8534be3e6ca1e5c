//! Ordered reassembly: many producers send items tagged with a sequence number (0, 1, 2, ...);
//! the receiver gets them strictly in sequence order. Capacity is a byte budget, but the item the
//! receiver is waiting for is always admitted, so out-of-order arrivals can never deadlock it.

use crate::channel::ChannelStats;
use crate::Weighted;

pub struct OrderedSender<T> {
    _p: std::marker::PhantomData<T>,
}
pub struct OrderedReceiver<T> {
    _p: std::marker::PhantomData<T>,
}

/// All senders are gone but sequence number `missing` never arrived (a producer failed).
#[derive(Debug, thiserror::Error)]
#[error("ordered channel {name}: item {missing} never arrived")]
pub struct Gap {
    pub name: &'static str,
    pub missing: u64,
}

pub fn ordered<T: Weighted + Send>(name: &'static str, capacity_bytes: usize) -> (OrderedSender<T>, OrderedReceiver<T>) {
    let _ = (name, capacity_bytes);
    todo!("helper A")
}

impl<T: Weighted + Send> OrderedSender<T> {
    /// Blocks while over budget unless `seq` is the one the receiver waits for.
    /// Returns the item if the receiver is gone.
    pub fn send(&self, seq: u64, item: T) -> Result<(), T> {
        let _ = (seq, item);
        todo!("helper A")
    }
}
impl<T> Clone for OrderedSender<T> {
    fn clone(&self) -> Self {
        todo!("helper A")
    }
}
impl<T: Weighted + Send> OrderedReceiver<T> {
    /// Next item in sequence; `Ok(None)` when all senders are gone and nothing is pending.
    pub fn recv(&self) -> Result<Option<T>, Gap> {
        todo!("helper A")
    }
    pub fn stats(&self) -> ChannelStats {
        todo!("helper A")
    }
}
