//! StatsD over UDP: every figure as a gauge line (`prefix.name[.label]:value|g`) holding its
//! value so far, so a lost datagram costs nothing and the last value received is the total.
//! Lines are packed into datagrams of at most [`MAX_DATAGRAM`] bytes. A [`Pusher`] sends from
//! a thread named `metrics-statsd` every interval, and once more when finished.

use super::{format_value, Family};
use parking_lot::{Condvar, Mutex};
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Bytes per datagram: fits a 1500-byte Ethernet frame after IP and UDP headers (the size
/// StatsD clients commonly use), so nothing is fragmented.
pub const MAX_DATAGRAM: usize = 1432;

/// The StatsD lines for `families`: `{prefix}.{name}:{value}|g`, labelled samples as
/// `{prefix}.{name}.{label value}` with the label value reduced to `[A-Za-z0-9_-]`.
pub fn lines(prefix: &str, families: &[Family]) -> Vec<String> {
    let mut out = Vec::new();
    for f in families {
        for (label, value) in &f.samples {
            // A signed gauge value is a relative change in StatsD; these are absolute.
            let value = format_value(value.max(0.0));
            match f.label {
                Some(_) => out.push(format!("{prefix}.{}.{}:{value}|g", f.name, sanitize(label))),
                None => out.push(format!("{prefix}.{}:{value}|g", f.name)),
            }
        }
    }
    out
}

fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `lines` joined by newlines into datagrams of at most `max` bytes (a longer line goes alone).
pub fn pack(lines: &[String], max: usize) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut current = Vec::new();
    for line in lines {
        if !current.is_empty() && current.len() + 1 + line.len() > max {
            out.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(b'\n');
        }
        current.extend_from_slice(line.as_bytes());
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Reads the figures to send (called on the pusher thread, and at the end on the caller's).
pub type Collect = Arc<dyn Fn() -> Vec<Family> + Send + Sync>;

/// What was sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SendReport {
    pub datagrams: u64,
    pub failed: u64,
    /// The first send error, for the caller to report once.
    pub first_error: Option<String>,
}

struct Shared {
    socket: UdpSocket,
    target: SocketAddr,
    prefix: String,
    collect: Collect,
    report: Mutex<SendReport>,
}

impl Shared {
    fn send_now(&self) {
        let lines = lines(&self.prefix, &(self.collect)());
        for datagram in pack(&lines, MAX_DATAGRAM) {
            let sent = self.socket.send_to(&datagram, self.target);
            let mut report = self.report.lock();
            match sent {
                Ok(_) => report.datagrams += 1,
                Err(e) => {
                    report.failed += 1;
                    report.first_error.get_or_insert_with(|| e.to_string());
                }
            }
        }
    }
}

/// Sends the figures to a StatsD daemon at start, every `interval`, and at [`Pusher::finish`].
pub struct Pusher {
    shared: Arc<Shared>,
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
    finished: Option<SendReport>,
}

impl Pusher {
    /// Fails only if no UDP socket can be opened (sending never fails the caller).
    pub fn start(
        target: SocketAddr,
        interval: Duration,
        prefix: &str,
        collect: Collect,
    ) -> io::Result<Pusher> {
        let local: SocketAddr = if target.is_ipv4() {
            "0.0.0.0:0".parse().expect("constant address")
        } else {
            "[::]:0".parse().expect("constant address")
        };
        let shared = Arc::new(Shared {
            socket: UdpSocket::bind(local)?,
            target,
            prefix: prefix.to_string(),
            collect,
            report: Mutex::new(SendReport::default()),
        });
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let thread = {
            let (shared, stop) = (Arc::clone(&shared), Arc::clone(&stop));
            std::thread::Builder::new()
                .name("metrics-statsd".into())
                .spawn(move || loop {
                    shared.send_now();
                    let mut stopped = stop.0.lock();
                    if !*stopped {
                        stop.1.wait_for(&mut stopped, interval);
                    }
                    if *stopped {
                        return;
                    }
                })?
        };
        Ok(Pusher {
            shared,
            stop,
            thread: Some(thread),
            finished: None,
        })
    }

    /// Stop the thread, send the figures a last time (the totals), and say what was sent.
    /// Later calls (and drop) return the same report without sending again.
    pub fn finish(&mut self) -> SendReport {
        if let Some(report) = &self.finished {
            return report.clone();
        }
        *self.stop.0.lock() = true;
        self.stop.1.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.shared.send_now();
        let report = self.shared.report.lock().clone();
        self.finished = Some(report.clone());
        report
    }
}

impl Drop for Pusher {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::MetricKind;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[test]
    fn lines_and_datagrams() {
        let families = vec![
            Family::counter("records", "r", 3000.0),
            Family::labelled(
                "queue_bytes",
                "q",
                MetricKind::Gauge,
                "queue",
                vec![("writer-fasta".into(), 12.0), ("a.b:c".into(), 0.5)],
            ),
            Family::gauge("delta", "d", -3.0),
        ];
        let l = lines("t", &families);
        assert_eq!(
            l,
            [
                "t.records:3000|g",
                "t.queue_bytes.writer-fasta:12|g",
                "t.queue_bytes.a_b_c:0.5|g",
                "t.delta:0|g"
            ]
        );
        let packed = pack(&l, 40);
        assert_eq!(packed.len(), 3);
        assert_eq!(packed[0], b"t.records:3000|g");
        assert_eq!(packed[1], b"t.queue_bytes.writer-fasta:12|g");
        assert_eq!(packed[2], b"t.queue_bytes.a_b_c:0.5|g\nt.delta:0|g");
        assert_eq!(pack(&l, 1 << 20).len(), 1);
        assert!(pack(&[], 100).is_empty());
    }

    #[test]
    fn pushes_at_start_and_at_finish() {
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        let value = Arc::new(AtomicU64::new(1));
        let read = Arc::clone(&value);
        let collect: Collect = Arc::new(move || {
            vec![Family::counter(
                "records",
                "r",
                read.load(Ordering::Relaxed) as f64,
            )]
        });
        // An hour's interval: only the first and the final send can arrive.
        let mut pusher = Pusher::start(
            receiver.local_addr().unwrap(),
            Duration::from_secs(3600),
            "t",
            collect,
        )
        .unwrap();
        let mut buf = [0u8; 2048];
        let n = receiver.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"t.records:1|g");
        value.store(42, Ordering::Relaxed);
        let report = pusher.finish();
        let n = receiver.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"t.records:42|g");
        assert_eq!((report.datagrams, report.failed), (2, 0));
        assert_eq!(
            pusher.finish(),
            report,
            "finishing twice sends nothing more"
        );
    }
}
