//! `--profile-output FILE.html` on real runs of the sample (3000 UniProt records): the page holds
//! every chart, its series have one point per sample the same run reported in `--json`, its
//! figures match the run and the cluster table, and it fetches nothing. Never timings.

mod common;

use common::{data, ok, talaria};
use serde_json::Value;
use std::path::Path;

struct Run {
    html: String,
    json: Value,
    tsv: String,
}

fn reduce(dir: &Path, input: &Path, flags: &[&str]) -> Run {
    let (html, json, tsv) = (
        dir.join("profile.html"),
        dir.join("run.json"),
        dir.join("c.tsv"),
    );
    ok(talaria()
        .args(["reduce", "-q", "-j", "2", "--profile", "-i"])
        .arg(input)
        .arg("-o")
        .arg(dir.join("r.fa"))
        .arg("--clusters")
        .arg(&tsv)
        .arg("--json")
        .arg(&json)
        .arg("--profile-output")
        .arg(&html)
        .args(flags));
    Run {
        html: std::fs::read_to_string(html).unwrap(),
        json: serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap(),
        tsv: std::fs::read_to_string(tsv).unwrap(),
    }
}

/// The text of `<svg id="ID" ...>...</svg>`.
fn svg<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("<svg id=\"{id}\""))
        .unwrap_or_else(|| panic!("no <svg id=\"{id}\"> in the page"));
    let end = html[start..].find("</svg>").expect("svg is closed") + start;
    &html[start..end]
}

/// Every element `<TAG ...>` in `text`, as its opening tag's text.
fn elements<'a>(text: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag} ");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(&open) {
        let end = rest[i..].find('>').expect("tag is closed") + i;
        out.push(&rest[i..end]);
        rest = &rest[end..];
    }
    out
}

fn attr<'a>(element: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let i = element.find(&key)? + key.len();
    let end = element[i..].find('"')? + i;
    Some(&element[i..end])
}

/// The (x, y) pixel pairs of a polyline.
fn points(polyline: &str) -> Vec<(f64, f64)> {
    attr(polyline, "points")
        .expect("polyline has points")
        .split_whitespace()
        .map(|p| {
            let (x, y) = p.split_once(',').expect("x,y");
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect()
}

/// The value shown for `data-figure="KEY"`.
fn figure<'a>(html: &'a str, key: &str) -> &'a str {
    let tag = format!("data-figure=\"{key}\">");
    let i = html.find(&tag).unwrap_or_else(|| panic!("no figure {key}")) + tag.len();
    &html[i..i + html[i..].find('<').unwrap()]
}

fn names(values: &Value) -> Vec<String> {
    values
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn every_chart_has_one_point_per_sample_of_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let run = reduce(dir.path(), &data("sample.fasta"), &[]);
    let series = &run.json["profile"]["series"];
    let samples = series["at_ms"].as_array().unwrap().len();
    assert!(samples >= 1, "{series}");

    // Utilization: busy, waiting and blocked for every stage of the series, each one point per
    // sample; the stages are those of the run's stage table.
    let chart = svg(&run.html, "chart-utilization");
    let lines = elements(chart, "polyline");
    let stages = names(&series["stages"]);
    assert_eq!(stages, names(&run.json["profile"]["stages"]));
    for stage in ["reader", "chunker", "prefetch", "aligner", "writer"] {
        assert!(stages.iter().any(|s| s == stage), "{stages:?}");
    }
    for stage in &stages {
        for state in ["busy", "waiting", "blocked"] {
            let line = lines
                .iter()
                .find(|l| {
                    attr(l, "data-stage") == Some(stage) && attr(l, "data-state") == Some(state)
                })
                .unwrap_or_else(|| panic!("no {state} line for {stage}"));
            assert_eq!(points(line).len(), samples, "{stage} {state}");
        }
    }
    // Plus a CPU line per stage: 4 per stage in all.
    assert_eq!(lines.len(), 4 * stages.len());

    // Queues: one line per channel the run probed, one point per sample.
    let chart = svg(&run.html, "chart-queues");
    let lines = elements(chart, "polyline");
    let queues: Vec<&str> = series["queued"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q[0].as_str().unwrap())
        .collect();
    assert_eq!(lines.len(), queues.len());
    for (line, name) in lines.iter().zip(&queues) {
        assert_eq!(attr(line, "data-queue"), Some(*name));
        assert_eq!(points(line).len(), samples, "{name}");
    }
    for q in ["blocks", "chunks", "sketched", "decided", "writer-fasta"] {
        assert!(queues.contains(&q), "{queues:?}");
    }

    // Memory: the RSS line has a point per RSS reading, and the limit is drawn.
    let chart = svg(&run.html, "chart-memory");
    let readings = series["rss_bytes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r.is_u64())
        .count();
    assert_eq!(readings, samples);
    let rss = elements(chart, "polyline");
    assert_eq!(rss.len(), 1);
    assert_eq!(points(rss[0]).len(), readings);
    assert_eq!(
        elements(chart, "line")
            .iter()
            .filter(|l| l.contains("class=\"limit\""))
            .count(),
        1
    );

    // Latency: four bars (p50, p90, p99, max) per latency row of the profile.
    let chart = svg(&run.html, "chart-latency");
    let latency = run.json["profile"]["latency"].as_array().unwrap();
    assert!(!latency.is_empty());
    assert_eq!(elements(chart, "rect").len(), 4 * latency.len());

    // Identity: one bar per percent from the lowest to the highest bin, counts as reported.
    let identity = run.json["profile"]["alignment"]["identity_pct"]
        .as_array()
        .unwrap();
    let chart = svg(&run.html, "chart-identity");
    let bars = elements(chart, "rect");
    let (lo, hi) = (
        identity[0][0].as_u64().unwrap(),
        identity.last().unwrap()[0].as_u64().unwrap(),
    );
    assert_eq!(bars.len() as u64, hi - lo + 1);
    for bin in identity {
        let label = format!("{}%", bin[0]);
        assert!(
            chart.contains(&format!("<title>{label}: {}</title>", bin[1])),
            "{label}"
        );
    }
    let chart = svg(&run.html, "chart-candidates");
    assert_eq!(
        elements(chart, "rect").len(),
        run.json["profile"]["alignment"]["candidates_hist"]
            .as_array()
            .unwrap()
            .len()
    );
}

#[test]
fn figures_match_the_input_and_the_cluster_table() {
    let dir = tempfile::tempdir().unwrap();
    let input = data("sample.fasta");
    let run = reduce(dir.path(), &input, &[]);
    let records_in_input = std::fs::read(&input)
        .unwrap()
        .split(|&b| b == b'\n')
        .filter(|l| l.starts_with(b">"))
        .count();
    let tsv_records = run.tsv.lines().count();
    let tsv_reps = run
        .tsv
        .lines()
        .filter(|l| {
            let (rep, member) = l.split_once('\t').unwrap();
            rep == member
        })
        .count();
    assert_eq!(records_in_input, 3000);
    assert_eq!(figure(&run.html, "records"), records_in_input.to_string());
    assert_eq!(tsv_records, records_in_input);
    assert_eq!(figure(&run.html, "representatives"), tsv_reps.to_string());
    let s = &run.json["summary"];
    assert_eq!(figure(&run.html, "members"), s["members"].to_string());
    assert_eq!(
        figure(&run.html, "input_bytes"),
        s["input_bytes"].to_string()
    );
    assert_eq!(figure(&run.html, "alignments"), s["alignments"].to_string());
    // Every thread of the run has its row.
    for t in run.json["profile"]["threads"].as_array().unwrap() {
        let row = format!(
            "<tr><td>{}</td><td>{}</td>",
            t["name"].as_str().unwrap(),
            t["tid"]
        );
        assert!(run.html.contains(&row), "no row {row}");
    }
}

#[test]
fn the_page_fetches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let run = reduce(dir.path(), &data("sample.fasta"), &["--chunk-size", "7"]);
    let lower = run.html.to_lowercase();
    assert!(lower.starts_with("<!doctype html>"));
    assert!(lower.trim_end().ends_with("</html>"));
    for forbidden in [
        "http://", "https://", "src=", "href=", "url(", "@import", "<link", "<script", "<iframe",
        "<img", "<object", "<embed",
    ] {
        assert!(
            !lower.contains(forbidden),
            "the page contains {forbidden:?}"
        );
    }
}

#[test]
fn written_only_when_the_run_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.fasta");
    std::fs::write(&bad, b"hello world\nthis is not fasta\n").unwrap();
    let html = dir.path().join("p.html");
    let out = common::run(
        talaria()
            .args(["reduce", "-q", "-i"])
            .arg(&bad)
            .arg("-o")
            .arg(dir.path().join("r.fa"))
            .arg("--profile-output")
            .arg(&html),
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(!html.exists());
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left,
        vec![std::ffi::OsString::from("bad.fasta")],
        "{left:?}"
    );
}

#[test]
fn unwritable_page_is_an_io_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::run(
        talaria()
            .args(["reduce", "-q", "-i"])
            .arg(data("tiny.fasta"))
            .arg("-o")
            .arg(dir.path().join("r.fa"))
            .arg("--profile-output")
            .arg(dir.path().join("missing/dir/p.html")),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("missing/dir/p.html"), "{err}");
}

#[test]
fn accounting_off_still_writes_a_page_that_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("p.html");
    ok(talaria()
        .env("TALARIA_ACCOUNTING", "off")
        .args(["reduce", "-q", "-i"])
        .arg(data("tiny.fasta"))
        .arg("-o")
        .arg(dir.path().join("r.fa"))
        .arg("--profile-output")
        .arg(&html));
    let page = std::fs::read_to_string(html).unwrap();
    assert!(page.contains("TALARIA_ACCOUNTING=off"));
    assert_eq!(
        elements(svg(&page, "chart-utilization"), "polyline").len(),
        0
    );
    assert_eq!(elements(svg(&page, "chart-memory"), "polyline").len(), 0);
}
