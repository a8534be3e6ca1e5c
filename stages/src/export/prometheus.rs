//! Prometheus' text exposition format (version 0.0.4) and a minimal HTTP/1.1 server for it on
//! its own thread. One request per connection (`Connection: close`); `GET` and `HEAD` of the
//! endpoint get the figures, any other path 404, other methods 405, garbage 400. A slow or
//! silent client is dropped after a timeout; nothing here can stall the process it observes.

use super::{format_value, Family, MetricKind};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// `Content-Type` of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// How often the idle server looks at its stop flag (the longest a stop waits, and the most a
/// scrape waits to be accepted).
const POLL: Duration = Duration::from_millis(20);
/// A client gets this long to send its request and to take the response.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest request head read; a scrape's is a few hundred bytes.
const MAX_REQUEST: usize = 16 << 10;

/// The families as exposition text: `# HELP`, `# TYPE`, then one line per sample, each name
/// `{prefix}_{name}` (`_total` added to counters).
pub fn render(prefix: &str, families: &[Family]) -> String {
    let mut out = String::new();
    for f in families {
        debug_assert!(super::valid_name(f.name) && f.label.is_none_or(super::valid_name));
        let name = match f.kind {
            MetricKind::Counter => format!("{prefix}_{}_total", f.name),
            MetricKind::Gauge => format!("{prefix}_{}", f.name),
        };
        let kind = match f.kind {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
        };
        out += &format!(
            "# HELP {name} {}\n# TYPE {name} {kind}\n",
            escape_help(f.help)
        );
        for (label, value) in &f.samples {
            let value = format_value(*value);
            match f.label {
                Some(key) => {
                    out += &format!("{name}{{{key}=\"{}\"}} {value}\n", escape_label(label))
                }
                None => out += &format!("{name} {value}\n"),
            }
        }
    }
    out
}

fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

fn escape_label(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Produces the body of a scrape (called on the server thread, once per request).
pub type Render = Arc<dyn Fn() -> String + Send + Sync>;

/// An HTTP endpoint serving [`render`]ed figures from a thread named `metrics-http`.
/// Stops when dropped.
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Listen on `addr` (port 0: any free port, see [`Server::local_addr`]) and answer
    /// `GET endpoint` with `body()`. Fails only if the address cannot be bound.
    pub fn bind(addr: SocketAddr, endpoint: &str, body: Render) -> io::Result<Server> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let endpoint = endpoint.to_string();
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("metrics-http".into())
                .spawn(move || serve(listener, &endpoint, &body, &stop))?
        };
        Ok(Server {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stop serving and close the port (also on drop). A request being answered is finished.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve(listener: TcpListener, endpoint: &str, body: &Render, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            // A client that misbehaves costs at most its timeouts; its errors are its own.
            Ok((stream, _)) => {
                let _ = answer(stream, endpoint, body);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // WouldBlock (no client), or a transient failure (out of descriptors): wait, retry.
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

/// Reads one request head and writes one response.
fn answer(mut stream: TcpStream, endpoint: &str, body: &Render) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 2048];
    let complete = loop {
        if head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n") {
            break true;
        }
        if head.len() > MAX_REQUEST {
            break false;
        }
        match stream.read(&mut buf) {
            Ok(0) => break false,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    };
    let response = respond(complete.then_some(&head[..]), endpoint, body);
    stream.write_all(&response)?;
    stream.flush()?;
    // Close our side, then take whatever the client still sends, so the close is a FIN and
    // not a reset that could destroy the response before the client read it.
    stream.shutdown(Shutdown::Write)?;
    stream.set_read_timeout(Some(POLL * 10))?;
    let mut drained = 0;
    while drained < MAX_REQUEST {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
    Ok(())
}

/// The response to a request head (`None`: incomplete or too long).
fn respond(head: Option<&[u8]>, endpoint: &str, body: &Render) -> Vec<u8> {
    let line = head
        .and_then(|h| h.split(|&b| b == b'\n').next())
        .and_then(|l| std::str::from_utf8(l).ok())
        .map(str::trim_end)
        .unwrap_or("");
    let parts: Vec<&str> = line.split(' ').collect();
    let (method, target) = match parts[..] {
        [method, target, version] if version.starts_with("HTTP/1.") && target.starts_with('/') => {
            (method, target)
        }
        _ => return response(400, "Bad Request", "", "bad request\n", true),
    };
    let path = target.split('?').next().unwrap_or(target);
    let with_body = method != "HEAD";
    if method != "GET" && method != "HEAD" {
        return response(
            405,
            "Method Not Allowed",
            "Allow: GET, HEAD\r\n",
            "only GET and HEAD are served\n",
            true,
        );
    }
    if path != endpoint {
        let text = format!("not found: the metrics are at {endpoint}\n");
        return response(404, "Not Found", "", &text, with_body);
    }
    response(200, "OK", "", &body(), with_body)
}

fn response(code: u16, reason: &str, extra: &str, body: &str, with_body: bool) -> Vec<u8> {
    let content_type = if code == 200 {
        CONTENT_TYPE
    } else {
        "text/plain; charset=utf-8"
    };
    let mut out = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         {extra}Connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if with_body {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, SocketAddrV4};

    fn families() -> Vec<Family> {
        vec![
            Family::counter("records", "Records decided.", 3000.0),
            Family::gauge("memory_bytes", "Resident \\ memory\nnow.", 1.5),
            Family::labelled(
                "stage_busy_seconds",
                "Busy time.",
                MetricKind::Counter,
                "stage",
                vec![("reader".into(), 0.25), ("a\"b".into(), 2.0)],
            ),
        ]
    }

    #[test]
    fn renders_the_text_format() {
        assert_eq!(
            render("t", &families()),
            "# HELP t_records_total Records decided.\n\
             # TYPE t_records_total counter\n\
             t_records_total 3000\n\
             # HELP t_memory_bytes Resident \\\\ memory\\nnow.\n\
             # TYPE t_memory_bytes gauge\n\
             t_memory_bytes 1.5\n\
             # HELP t_stage_busy_seconds_total Busy time.\n\
             # TYPE t_stage_busy_seconds_total counter\n\
             t_stage_busy_seconds_total{stage=\"reader\"} 0.25\n\
             t_stage_busy_seconds_total{stage=\"a\\\"b\"} 2\n"
        );
    }

    fn request(addr: SocketAddr, text: &[u8]) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(text).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn serves_scrapes_and_refuses_the_rest() {
        let calls = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let seen = Arc::clone(&calls);
        let body: Render = Arc::new(move || {
            seen.fetch_add(1, Ordering::Relaxed);
            render("t", &families())
        });
        let any = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0));
        let mut server = Server::bind(any, "/metrics", body).unwrap();
        let addr = server.local_addr();
        assert_ne!(addr.port(), 0);
        for _ in 0..3 {
            let r = request(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
            assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
            assert!(
                r.contains(&format!("Content-Type: {CONTENT_TYPE}\r\n")),
                "{r}"
            );
            let (head, text) = r.split_once("\r\n\r\n").unwrap();
            assert!(
                head.contains(&format!("Content-Length: {}\r\n", text.len())),
                "{r}"
            );
            assert_eq!(text, render("t", &families()));
        }
        let r = request(addr, b"GET /metrics?x=1 HTTP/1.0\n\n");
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
        let r = request(addr, b"HEAD /metrics HTTP/1.1\r\n\r\n");
        assert!(
            r.starts_with("HTTP/1.1 200 OK\r\n") && r.ends_with("\r\n\r\n"),
            "{r}"
        );
        let r = request(addr, b"GET /other HTTP/1.1\r\n\r\n");
        assert!(r.starts_with("HTTP/1.1 404 Not Found\r\n"), "{r}");
        assert!(
            r.ends_with("not found: the metrics are at /metrics\n"),
            "{r}"
        );
        let r = request(
            addr,
            b"POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
        );
        assert!(r.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"), "{r}");
        assert!(r.contains("Allow: GET, HEAD\r\n"), "{r}");
        let r = request(addr, b"hello\r\n\r\n");
        assert!(r.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{r}");
        // A client that connects and closes without a word does not stop the server.
        drop(TcpStream::connect(addr).unwrap());
        let r = request(addr, b"GET /metrics HTTP/1.1\r\n\r\n");
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
        assert_eq!(calls.load(Ordering::Relaxed), 6);
        server.stop();
        assert!(
            TcpStream::connect(addr).is_err(),
            "still listening after stop"
        );
    }

    #[test]
    fn a_taken_port_is_an_error() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let body: Render = Arc::new(String::new);
        let err = Server::bind(taken.local_addr().unwrap(), "/metrics", body)
            .err()
            .expect("bind must fail");
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    }
}
