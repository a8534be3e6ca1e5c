//! `talaria reduce --metrics-export`: the Prometheus endpoint scraped with a plain TCP client
//! while a job reads its input from a pipe the test holds open (so the scrape happens mid-run
//! without any timing), StatsD datagrams caught by a UDP socket on loopback, and the errors:
//! a port in use, `collect_metrics = false`, accounting off.

mod common;

use common::{data, talaria};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::{Child, ChildStderr, ChildStdin, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn sample() -> Vec<u8> {
    std::fs::read(data("sample.fasta")).unwrap()
}

fn records_in(fasta: &[u8]) -> usize {
    fasta
        .split(|&b| b == b'\n')
        .filter(|l| l.starts_with(b">"))
        .count()
}

/// A `reduce --metrics-export prometheus` job reading stdin, with the endpoint it announced.
struct Job {
    child: Child,
    stdin: Option<ChildStdin>,
    stderr: BufReader<ChildStderr>,
    addr: SocketAddr,
    endpoint: String,
    _dir: tempfile::TempDir,
    output: std::path::PathBuf,
}

impl Job {
    fn start(env: &[(&str, &str)]) -> Job {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("r.fa");
        let mut cmd = talaria();
        cmd.args(["reduce", "--metrics-export", "prometheus", "-i", "-", "-o"])
            .arg(&output)
            .env("TALARIA_MONITORING_PROMETHEUS_PORT", "0")
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn talaria");
        let stdin = child.stdin.take();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        // The first line comes before any input is read.
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        let url = line
            .trim_end()
            .strip_prefix("talaria: metrics at http://")
            .unwrap_or_else(|| panic!("no address line: {line:?}"));
        let (host, endpoint) = url.split_at(url.find('/').expect("a path"));
        let addr: SocketAddr = host.parse().unwrap();
        assert_ne!(addr.port(), 0, "port 0 must be replaced by the bound port");
        Job {
            child,
            stdin,
            stderr,
            addr,
            endpoint: endpoint.to_string(),
            _dir: dir,
            output,
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        self.stdin.as_mut().unwrap().write_all(bytes).unwrap();
        self.stdin.as_mut().unwrap().flush().unwrap();
    }

    /// Close stdin, wait, insist on success; returns the rest of stderr.
    fn finish(mut self) -> (String, Vec<u8>) {
        drop(self.stdin.take());
        let mut rest = String::new();
        self.stderr.read_to_string(&mut rest).unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "talaria failed: {status}\n{rest}");
        let out = std::fs::read(&self.output).unwrap();
        (rest, out)
    }
}

struct Response {
    status: u16,
    head: String,
    body: String,
}

fn http(addr: SocketAddr, method: &str, path: &str) -> Response {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: test\r\nAccept: */*\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete response");
    let status = head
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("bad status line: {head}"));
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .expect("Content-Length")
        .parse()
        .unwrap();
    if method != "HEAD" {
        assert_eq!(length, body.len(), "Content-Length");
    }
    Response {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

/// Samples by name, each (labels as written, value); checks the text format on the way: every
/// sample's name has `# HELP` and `# TYPE` before it, names are valid, values are numbers.
fn parse_prometheus(text: &str) -> HashMap<String, Vec<(String, f64)>> {
    let valid = |n: &str| {
        !n.is_empty()
            && !n.starts_with(|c: char| c.is_ascii_digit())
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    let mut types: HashMap<String, String> = HashMap::new();
    let mut helped = Vec::new();
    let mut samples: HashMap<String, Vec<(String, f64)>> = HashMap::new();
    assert!(text.ends_with('\n'), "text must end with a newline");
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap();
            assert!(valid(name), "{line}");
            helped.push(name.to_string());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect(line);
            assert!(["counter", "gauge"].contains(&kind), "{line}");
            assert!(
                helped.contains(&name.to_string()),
                "TYPE before HELP: {line}"
            );
            assert!(
                types.insert(name.into(), kind.into()).is_none(),
                "twice: {line}"
            );
            assert_eq!(kind == "counter", name.ends_with("_total"), "{line}");
        } else {
            assert!(!line.starts_with('#') && !line.is_empty(), "{line:?}");
            let (series, value) = line.rsplit_once(' ').expect(line);
            let (name, labels) = match series.split_once('{') {
                Some((n, l)) => {
                    assert!(l.ends_with('}') && l.contains("=\""), "{line}");
                    (n, l.trim_end_matches('}').to_string())
                }
                None => (series, String::new()),
            };
            assert!(valid(name) && name.starts_with("talaria_"), "{line}");
            assert!(types.contains_key(name), "sample without # TYPE: {line}");
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
            samples
                .entry(name.to_string())
                .or_default()
                .push((labels, value));
        }
    }
    for name in types.keys() {
        samples.entry(name.clone()).or_default();
    }
    samples
}

fn value(m: &HashMap<String, Vec<(String, f64)>>, name: &str) -> f64 {
    match m.get(name).map(Vec::as_slice) {
        Some([(labels, v)]) if labels.is_empty() => *v,
        other => panic!("{name}: {other:?}"),
    }
}

fn labels(m: &HashMap<String, Vec<(String, f64)>>, name: &str) -> Vec<String> {
    m[name].iter().map(|(l, _)| l.clone()).collect()
}

/// Every name the endpoint exports (README, "Profiling and monitoring").
const PROMETHEUS_NAMES: &[&str] = &[
    "talaria_up",
    "talaria_finished",
    "talaria_elapsed_seconds",
    "talaria_records_read_total",
    "talaria_records_total",
    "talaria_representatives_total",
    "talaria_members_total",
    "talaria_exact_members_total",
    "talaria_alignments_total",
    "talaria_alignments_passed_total",
    "talaria_cache_hits_total",
    "talaria_cache_misses_total",
    "talaria_input_bytes_read_total",
    "talaria_input_bytes_decided_total",
    "talaria_aligner_threads",
    "talaria_stage_threads",
    "talaria_stage_busy_seconds_total",
    "talaria_stage_waiting_seconds_total",
    "talaria_stage_blocked_seconds_total",
    "talaria_stage_items_in_total",
    "talaria_stage_items_out_total",
    "talaria_stage_bytes_in_total",
    "talaria_stage_bytes_out_total",
    "talaria_queue_bytes",
    "talaria_queue_capacity_bytes",
    "talaria_queue_send_blocked_seconds_total",
    "talaria_queue_recv_waited_seconds_total",
    "talaria_resident_memory_bytes",
    "talaria_peak_resident_memory_bytes",
    "talaria_memory_limit_bytes",
];

#[test]
fn prometheus_is_scraped_while_the_job_reads_a_pipe() {
    let input = sample();
    let mut job = Job::start(&[]);
    assert_eq!(job.endpoint, "/metrics");
    // More than the 1 MiB the alphabet is detected from, so the stages start; the rest stays
    // unwritten, so the job cannot end while the test scrapes.
    let split = 1_200_000;
    job.write(&input[..split]);
    // Scrape until the stage threads have registered and the chunker has cut records (a
    // state reached, not a time waited for); each scrape must be a valid exposition.
    let deadline = Instant::now() + Duration::from_secs(300);
    let metrics = loop {
        let r = http(job.addr, "GET", "/metrics");
        assert_eq!(r.status, 200, "{}", r.head);
        assert!(
            r.head
                .contains("Content-Type: text/plain; version=0.0.4; charset=utf-8"),
            "{}",
            r.head
        );
        let m = parse_prometheus(&r.body);
        for name in PROMETHEUS_NAMES {
            assert!(m.contains_key(*name), "{name} missing from\n{}", r.body);
        }
        assert_eq!(value(&m, "talaria_up"), 1.0);
        assert_eq!(value(&m, "talaria_finished"), 0.0, "stdin is still open");
        let stages = labels(&m, "talaria_stage_threads");
        let ready = value(&m, "talaria_records_read_total") > 0.0
            && ["reader", "chunker", "aligner", "writer"]
                .iter()
                .all(|s| stages.contains(&format!("stage=\"{s}\"")));
        if ready {
            break m;
        }
        assert!(
            Instant::now() < deadline,
            "the stages never started:\n{}",
            r.body
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        value(&metrics, "talaria_memory_limit_bytes"),
        (2u64 << 30) as f64
    );
    assert!(value(&metrics, "talaria_input_bytes_read_total") >= (1 << 20) as f64);
    assert!(value(&metrics, "talaria_resident_memory_bytes") > 0.0);
    assert!(value(&metrics, "talaria_aligner_threads") >= 1.0);
    let queues = labels(&metrics, "talaria_queue_capacity_bytes");
    for q in ["blocks", "chunks", "sketched", "decided", "writer-fasta"] {
        assert!(queues.contains(&format!("queue=\"{q}\"")), "{queues:?}");
    }
    assert!(metrics["talaria_queue_capacity_bytes"]
        .iter()
        .all(|(_, v)| *v > 0.0));
    // No input size for a pipe.
    assert!(!metrics.contains_key("talaria_input_size_bytes"));

    job.write(&input[split..]);
    let addr = job.addr;
    let (stderr, out) = job.finish();
    assert!(
        stderr.starts_with("talaria reduce: 3000 records"),
        "{stderr}"
    );
    assert!(records_in(&out) > 0);
    assert!(
        TcpStream::connect(addr).is_err(),
        "the endpoint must close with the job"
    );
}

#[test]
fn other_paths_get_404_and_the_endpoint_is_configurable() {
    let mut job = Job::start(&[("TALARIA_MONITORING_PROMETHEUS_ENDPOINT", "/probe/talaria")]);
    assert_eq!(job.endpoint, "/probe/talaria");
    // Nothing written yet: the job waits for input, the endpoint already answers.
    let r = http(job.addr, "GET", "/metrics");
    assert_eq!(r.status, 404, "{}", r.head);
    assert!(r.body.contains("/probe/talaria"), "{}", r.body);
    assert_eq!(http(job.addr, "GET", "/").status, 404);
    assert_eq!(http(job.addr, "POST", "/probe/talaria").status, 405);
    let head = http(job.addr, "HEAD", "/probe/talaria");
    assert_eq!((head.status, head.body.as_str()), (200, ""));
    let r = http(job.addr, "GET", "/probe/talaria?x=1");
    assert_eq!(r.status, 200);
    let m = parse_prometheus(&r.body);
    assert_eq!(value(&m, "talaria_records_total"), 0.0);
    job.write(&sample());
    job.finish();
}

#[test]
fn statsd_receives_the_totals() {
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = receiver.local_addr().unwrap().port().to_string();
    // Drain while the job runs, so no datagram is lost to a full socket buffer.
    receiver
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let catcher = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut buf = [0u8; 65536];
            loop {
                match receiver.recv(&mut buf) {
                    Ok(n) => got.push(String::from_utf8(buf[..n].to_vec()).unwrap()),
                    Err(_) if stop.load(Ordering::Relaxed) => return got,
                    Err(_) => {}
                }
            }
        })
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.fa");
    let json = dir.path().join("r.json");
    let result = talaria()
        .args(["reduce", "--metrics-export", "statsd", "-q", "-o"])
        .arg(&out)
        .arg("-i")
        .arg(data("sample.fasta"))
        .arg("--json")
        .arg(&json)
        .env("TALARIA_PERFORMANCE_CACHE_ALIGNMENTS", "true")
        .env("TALARIA_MONITORING_STATSD_HOST", "127.0.0.1")
        .env("TALARIA_MONITORING_STATSD_PORT", &port)
        .env("TALARIA_MONITORING_METRICS_INTERVAL_MS", "50")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    // Every datagram was sent before the process exited; the catcher returns once the socket
    // has been empty for a read timeout after that.
    stop.store(true, Ordering::Relaxed);
    let datagrams = catcher.join().unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "{stderr}");
    assert_eq!(
        stderr,
        format!("talaria: metrics to statsd at 127.0.0.1:{port} (udp) every 50 ms\n")
    );
    assert!(
        datagrams.len() >= 2,
        "a first and a final send: {datagrams:?}"
    );
    let mut last: HashMap<String, f64> = HashMap::new();
    for datagram in &datagrams {
        assert!(
            datagram.len() <= 1432,
            "datagram of {} bytes",
            datagram.len()
        );
        for line in datagram.lines() {
            let (name, rest) = line.split_once(':').expect(line);
            let value = rest.strip_suffix("|g").expect(line);
            assert!(name.starts_with("talaria."), "{line}");
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
                "{line}"
            );
            last.insert(name.to_string(), value.parse().expect(line));
        }
    }
    let records = records_in(&sample()) as f64;
    assert_eq!(records, 3000.0);
    assert_eq!(last["talaria.records"], records);
    assert_eq!(last["talaria.records_read"], records);
    assert_eq!(last["talaria.finished"], 1.0);
    let reps = records_in(&std::fs::read(&out).unwrap()) as f64;
    assert_eq!(last["talaria.representatives"], reps);
    assert_eq!(
        last["talaria.representatives"] + last["talaria.members"],
        records
    );
    assert_eq!(last["talaria.input_bytes_decided"], sample().len() as f64);
    assert!(last["talaria.stage_items_out.writer"] == records);
    // The reference cache's final counts are the run's (README, "Reference cache").
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let cache = &doc["summary"]["cache"]["total"];
    assert_eq!(last["talaria.cache_hits"], cache["hits"].as_f64().unwrap());
    assert_eq!(
        last["talaria.cache_misses"],
        cache["misses"].as_f64().unwrap()
    );
    assert!(last["talaria.cache_misses"] > 0.0);
    assert!(last.contains_key("talaria.queue_capacity_bytes.blocks"));
    assert!(last.contains_key("talaria.stage_busy_seconds.aligner"));
    // Seconds are seconds: no thread or channel can have been blocked for longer than the run
    // times the threads that could block on it (a bound that a unit mix-up breaks by 1e9).
    let elapsed = last["talaria.elapsed_seconds"];
    assert!(elapsed > 0.0);
    for (name, v) in &last {
        if name.contains("_seconds.") {
            assert!(*v <= elapsed * 64.0, "{name} = {v}, run {elapsed} s");
        }
    }
}

#[test]
fn a_port_in_use_is_one_line_and_writes_nothing() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let out = talaria()
        .args(["reduce", "--metrics-export", "prometheus", "-i"])
        .arg(data("sample.fasta"))
        .arg("-o")
        .arg(dir.path().join("r.fa"))
        .arg("-m")
        .arg(dir.path().join("r.deltas"))
        .env("TALARIA_MONITORING_PROMETHEUS_PORT", port.to_string())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "talaria: error: cannot serve metrics at 127.0.0.1:{port} (monitoring.prometheus_bind, monitoring.prometheus_port): "
        )),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing may be written"
    );
}

#[test]
fn collect_metrics_false_refuses_an_export() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let out = talaria()
            .args(["reduce", "-i"])
            .arg(data("sample.fasta"))
            .arg("-o")
            .arg(dir.path().join("r.fa"))
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(
        &["--metrics-export", "prometheus"],
        &[("TALARIA_MONITORING_COLLECT_METRICS", "false")],
    );
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(
        err,
        "talaria: error: --metrics-export is prometheus but monitoring.collect_metrics is false \
         (from TALARIA_MONITORING_COLLECT_METRICS): set it to true to export metrics\n"
    );
    let config = dir.path().join("t.toml");
    std::fs::write(
        &config,
        "[monitoring]\ncollect_metrics = false\nmetrics_export = \"statsd\"\n",
    )
    .unwrap();
    let (code, err) = run(&["--config", config.to_str().unwrap()], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(
            "key 'monitoring.metrics_export' is statsd but monitoring.collect_metrics is false"
        ),
        "{err}"
    );
    // The flag can turn the file's export off again; then the run goes ahead.
    let (code, err) = run(
        &[
            "--config",
            config.to_str().unwrap(),
            "--metrics-export",
            "none",
            "-q",
        ],
        &[],
    );
    assert_eq!((code, err.as_str()), (Some(0), ""));
    let (code, err) = run(
        &["--metrics-export", "statsd"],
        &[("TALARIA_ACCOUNTING", "off")],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("TALARIA_ACCOUNTING=off"), "{err}");
}
