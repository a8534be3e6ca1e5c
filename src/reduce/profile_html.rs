//! `--profile-output FILE.html`: the `--profile` figures as one self-contained HTML page (inline
//! CSS and inline SVG charts; no script, no fetch of any kind) — stage utilization, queue fill and
//! memory over time from the sampler's series, latency percentiles, alignment statistics.
//! Formatting only: every number drawn or printed is a field of the summary or its profile.

use crate::reduce::profile::RunProfile;
use crate::reduce::Summary;
use std::fmt::Write;

const MIB: f64 = 1024.0 * 1024.0;

/// Colours of the stage states (busy, waiting for input, blocked on output) and of series.
const BUSY: &str = "#2a9d8f";
const WAITING: &str = "#e9c46a";
const BLOCKED: &str = "#e76f51";
const CPU: &str = "#555555";
const PALETTE: [&str; 8] = [
    "#264653", "#2a9d8f", "#e9c46a", "#f4a261", "#e76f51", "#6a4c93", "#1982c4", "#8ac926",
];

const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#222;margin:24px auto;max-width:1100px;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:3px}
.sub{color:#555;margin:0 0 12px}
table{border-collapse:collapse;font-variant-numeric:tabular-nums;margin:6px 0}
th,td{padding:2px 10px;border-bottom:1px solid #eee;text-align:right}th{background:#f6f6f6}
td:first-child,th:first-child{text-align:left}
dl{display:grid;grid-template-columns:max-content minmax(0,1fr) max-content minmax(0,1fr);gap:2px 16px;margin:6px 0}dt{color:#555}dd{margin:0;font-variant-numeric:tabular-nums}
svg{display:block;margin:6px 0;background:#fff}
svg text{font:11px system-ui,sans-serif;fill:#444}
.axis{stroke:#999;stroke-width:1}.grid{stroke:#eee;stroke-width:1}
.legend span{display:inline-block;margin-right:14px}.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-1px}
.grade-target,.grade-ok{color:#2a7d3f}.grade-warning{color:#b07d00}.grade-critical{color:#c0392b}
.note{color:#666;font-size:12px}
";

/// `text` safe inside HTML text and attribute values.
fn esc(text: &str) -> String {
    let mut o = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("-".into(), |v| format!("{v:.digits$}"))
}

/// A tick step of 1, 2 or 5 times a power of ten giving about `n` ticks up to `max`.
fn nice_step(max: f64, n: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let raw = max / n;
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * p)
}

/// Format an axis value without trailing zeros.
fn tick_label(v: f64) -> String {
    if v == v.trunc() {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// A plotting area inside an SVG: data coordinates to pixels.
struct Area {
    left: f64,
    top: f64,
    width: f64,
    height: f64,
    x_max: f64,
    y_max: f64,
}

impl Area {
    fn x(&self, v: f64) -> f64 {
        self.left + self.width * (v / self.x_max).clamp(0.0, 1.0)
    }
    fn y(&self, v: f64) -> f64 {
        self.top + self.height * (1.0 - (v / self.y_max).clamp(0.0, 1.0))
    }
    /// Horizontal grid lines with labels at `step`, and the x (time) axis with tick labels
    /// when `x_ticks`.
    fn frame(&self, o: &mut String, y_step: f64, y_unit: &str, x_ticks: bool) {
        let mut v = 0.0;
        while v <= self.y_max + 1e-9 {
            let y = self.y(v);
            let _ = write!(
                o,
                r#"<line class="grid" x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}{y_unit}</text>"#,
                self.left,
                self.left + self.width,
                self.left - 4.0,
                y + 4.0,
                tick_label(v)
            );
            v += y_step;
        }
        let bottom = self.top + self.height;
        let _ = write!(
            o,
            r#"<line class="axis" x1="{l:.1}" y1="{t:.1}" x2="{l:.1}" y2="{bottom:.1}"/><line class="axis" x1="{l:.1}" y1="{bottom:.1}" x2="{r:.1}" y2="{bottom:.1}"/>"#,
            l = self.left,
            t = self.top,
            r = self.left + self.width
        );
        if x_ticks {
            let step = nice_step(self.x_max, 8.0);
            let mut t = 0.0;
            while t <= self.x_max + 1e-9 {
                let x = self.x(t);
                let _ = write!(
                    o,
                    r#"<line class="axis" x1="{x:.1}" y1="{bottom:.1}" x2="{x:.1}" y2="{:.1}"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                    bottom + 4.0,
                    bottom + 16.0,
                    tick_label(t)
                );
                t += step;
            }
        }
    }
    /// One polyline through `points` (data coordinates), with `attrs` and a tooltip.
    fn polyline(&self, o: &mut String, points: &[(f64, f64)], color: &str, attrs: &str, tip: &str) {
        let pts: Vec<String> = points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", self.x(x), self.y(y)))
            .collect();
        let _ = write!(
            o,
            r#"<polyline {attrs} fill="none" stroke="{color}" stroke-width="1.6" stroke-linejoin="round" points="{}"><title>{}</title></polyline>"#,
            pts.join(" "),
            esc(tip)
        );
    }
}

fn legend(o: &mut String, items: &[(&str, &str)]) {
    o.push_str(r#"<p class="legend">"#);
    for (color, label) in items {
        let _ = write!(
            o,
            r#"<span><i style="background:{color}"></i>{}</span>"#,
            esc(label)
        );
    }
    o.push_str("</p>");
}

/// The page for a finished run. `memory_limit`: the configured limit in bytes.
pub fn page(summary: &Summary) -> String {
    let p = &summary.profile;
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>talaria reduce profile: {}</title><style>{STYLE}</style></head><body>\n",
        esc(&summary.input_name)
    );
    let _ = writeln!(
        o,
        "<h1>talaria reduce profile</h1><p class=\"sub\">{} &middot; {} records &middot; wall {:.2} s &middot; {} CPUs &middot; {} aligner threads &middot; talaria {}{}</p>",
        esc(&summary.input_name),
        summary.records,
        p.wall_seconds,
        p.cpus,
        p.aligner_threads,
        env!("CARGO_PKG_VERSION"),
        if p.accounting { "" } else { " &middot; accounting off (TALARIA_ACCOUNTING=off): no stage figures or samples" }
    );
    run_section(&mut o, summary);
    utilization_section(&mut o, p);
    queue_section(&mut o, p);
    memory_section(&mut o, p, summary.memory_limit);
    latency_section(&mut o, p);
    alignment_section(&mut o, p);
    threads_io_section(&mut o, p);
    o.push_str("<p class=\"note\">Every figure on this page was measured during the run (stage counters, thread CPU clocks, the sampler's readings of /proc and of the queues every 100 ms); none is estimated.</p>\n</body></html>\n");
    o
}

fn figure(o: &mut String, key: &str, label: &str, value: String) {
    let _ = write!(
        o,
        r#"<dt>{}</dt><dd data-figure="{key}">{}</dd>"#,
        esc(label),
        esc(&value)
    );
}

fn run_section(o: &mut String, s: &Summary) {
    let p = &s.profile;
    o.push_str("<h2>Run</h2><dl>");
    figure(o, "records", "records", s.records.to_string());
    figure(
        o,
        "representatives",
        "representatives",
        s.representatives.to_string(),
    );
    figure(o, "members", "members", s.members.to_string());
    figure(
        o,
        "exact_members",
        "exact duplicates",
        s.exact_members.to_string(),
    );
    figure(
        o,
        "input_bytes",
        "input bytes (decompressed)",
        s.input_bytes.to_string(),
    );
    figure(
        o,
        "reduced_bytes",
        "reduced FASTA bytes",
        s.reduced_bytes.to_string(),
    );
    figure(o, "order", "order", s.order.clone());
    figure(o, "reader", "reader", s.reader.clone());
    figure(
        o,
        "seconds",
        "wall seconds",
        format!("{:.3}", p.wall_seconds),
    );
    figure(
        o,
        "records_per_second",
        "records per second",
        format!("{:.0}", p.records_per_second),
    );
    figure(
        o,
        "mb_per_second",
        "MB per second",
        format!("{:.2}", p.mb_per_second),
    );
    figure(
        o,
        "cpu_utilization_pct",
        "CPU utilization",
        format!(
            "{} s CPU = {}% of {} CPUs",
            opt(p.process_cpu_seconds, 2),
            opt(p.cpu_utilization_pct, 0),
            p.cpus
        ),
    );
    figure(
        o,
        "peak_rss",
        "peak RSS",
        p.memory
            .peak_rss_bytes
            .map_or("unknown".into(), |b| format!("{:.1} MiB", b as f64 / MIB)),
    );
    figure(
        o,
        "average_rss",
        "average RSS",
        p.memory.average_rss_bytes.map_or("unknown".into(), |b| {
            format!(
                "{:.1} MiB over {} samples",
                b as f64 / MIB,
                p.memory.samples
            )
        }),
    );
    figure(
        o,
        "memory_limit",
        "memory limit",
        format!("{:.0} MiB", s.memory_limit as f64 / MIB),
    );
    figure(
        o,
        "bottleneck",
        "bottleneck",
        format!("{} ({})", p.bottleneck.verdict, p.bottleneck.reason),
    );
    o.push_str("</dl>\n<h2>Against the user guide's KPI table</h2><table id=\"kpis\"><tr><th>KPI</th><th>value</th><th>grade</th><th>target</th></tr>");
    for k in &p.kpis {
        let _ = write!(
            o,
            r#"<tr><td>{}</td><td>{}</td><td class="grade-{}">{}</td><td>{}</td></tr>"#,
            esc(&k.metric),
            esc(&k.value),
            esc(&k.grade),
            esc(&k.grade),
            esc(&k.target)
        );
    }
    o.push_str("</table>\n");
}

/// Seconds of each sample.
fn times(p: &RunProfile) -> Vec<f64> {
    p.series.at_ms.iter().map(|&ms| ms as f64 / 1e3).collect()
}

fn x_max(t: &[f64]) -> f64 {
    t.last().copied().filter(|&m| m > 0.0).unwrap_or(1.0)
}

fn no_samples(o: &mut String, id: &str) {
    let _ = write!(
        o,
        r#"<svg id="{id}" width="1040" height="40" viewBox="0 0 1040 40"><text x="10" y="24">no samples (the sampler did not run: TALARIA_ACCOUNTING=off)</text></svg>"#
    );
}

fn utilization_section(o: &mut String, p: &RunProfile) {
    o.push_str("<h2>Stage utilization over time</h2><p class=\"note\">Per stage, between consecutive samples: share of its threads' time busy (working, or runnable), waiting for input, blocked on a full output queue; the rest of 100% is time before a thread started or after it ended. Dashed: CPU time in the same interval (below busy when the threads waited for a CPU).</p>");
    legend(
        o,
        &[
            (BUSY, "busy"),
            (WAITING, "waiting for input"),
            (BLOCKED, "blocked on output"),
            (CPU, "on a CPU (dashed)"),
        ],
    );
    let t = times(p);
    let stages = &p.series.stages;
    if t.is_empty() || stages.is_empty() {
        no_samples(o, "chart-utilization");
        return;
    }
    let strip = 64.0;
    let gap = 18.0;
    let height = stages.len() as f64 * (strip + gap) + 30.0;
    let _ = write!(
        o,
        r#"<svg id="chart-utilization" width="1040" height="{height:.0}" viewBox="0 0 1040 {height:.0}">"#
    );
    for (i, s) in stages.iter().enumerate() {
        let area = Area {
            left: 170.0,
            top: 8.0 + i as f64 * (strip + gap),
            width: 850.0,
            height: strip,
            x_max: x_max(&t),
            y_max: 100.0,
        };
        let last = i + 1 == stages.len();
        area.frame(o, 50.0, "%", last);
        let threads = if s.threads > 1 {
            format!(" ({} threads)", s.threads)
        } else {
            String::new()
        };
        let _ = write!(
            o,
            r#"<text x="4" y="{:.1}" style="font-weight:600">{}{}</text>"#,
            area.top + strip / 2.0 + 4.0,
            esc(&s.name),
            esc(&threads)
        );
        let cpu: Vec<(f64, f64)> = t
            .iter()
            .zip(&s.cpu_pct)
            .filter_map(|(&x, c)| c.map(|c| (x, c)))
            .collect();
        area.polyline(
            o,
            &cpu,
            CPU,
            &format!(
                r#"class="series" data-chart="utilization" data-stage="{}" data-state="cpu" stroke-dasharray="3 3""#,
                esc(&s.name)
            ),
            &format!("{} CPU %", s.name),
        );
        for (values, state, color) in [
            (&s.busy_pct, "busy", BUSY),
            (&s.waiting_pct, "waiting", WAITING),
            (&s.blocked_pct, "blocked", BLOCKED),
        ] {
            let points: Vec<(f64, f64)> = t.iter().copied().zip(values.iter().copied()).collect();
            area.polyline(
                o,
                &points,
                color,
                &format!(
                    r#"class="series" data-chart="utilization" data-stage="{}" data-state="{state}""#,
                    esc(&s.name)
                ),
                &format!("{} {state} %", s.name),
            );
        }
    }
    let _ = write!(
        o,
        r#"<text x="595" y="{:.0}" text-anchor="middle">seconds since start</text></svg>"#,
        height - 2.0
    );
    o.push_str("<table id=\"stages\"><tr><th>stage</th><th>threads</th><th>busy %</th><th>waiting %</th><th>blocked %</th><th>ended %</th><th>CPU %</th><th>items in</th><th>items out</th><th>MiB in</th><th>MiB out</th></tr>");
    for s in &p.stages {
        let _ = write!(
            o,
            r#"<tr data-stage="{}"><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td></tr>"#,
            esc(&s.name),
            esc(&s.name),
            s.threads,
            s.busy_pct,
            s.waiting_pct,
            s.blocked_pct,
            s.ended_pct,
            opt(s.cpu_pct, 1),
            s.items_in,
            s.items_out,
            s.bytes_in as f64 / MIB,
            s.bytes_out as f64 / MIB
        );
    }
    o.push_str("</table>\n");
}

fn queue_section(o: &mut String, p: &RunProfile) {
    o.push_str("<h2>Queue fill over time</h2><p class=\"note\">Bytes queued in each channel as a share of its byte budget, at each sample.</p>");
    let names: Vec<(&str, &str)> = p
        .series
        .queued
        .iter()
        .enumerate()
        .map(|(i, (name, _))| (PALETTE[i % PALETTE.len()], name.as_str()))
        .collect();
    legend(o, &names);
    let t = times(p);
    if t.is_empty() {
        no_samples(o, "chart-queues");
    } else {
        let peak = p
            .series
            .queued
            .iter()
            .zip(&p.channels)
            .flat_map(|((_, fill), c)| {
                fill.iter()
                    .map(move |&b| 100.0 * b as f64 / c.capacity_bytes.max(1) as f64)
            })
            .fold(0.0f64, f64::max);
        // Scale to the fullest queue seen (at least 10%), so low fill stays readable.
        let y_max = (nice_step(peak.max(10.0), 5.0) * 5.0).min(100.0).max(peak);
        let area = Area {
            left: 60.0,
            top: 10.0,
            width: 960.0,
            height: 220.0,
            x_max: x_max(&t),
            y_max,
        };
        o.push_str(r#"<svg id="chart-queues" width="1040" height="270" viewBox="0 0 1040 270">"#);
        area.frame(o, nice_step(y_max, 5.0), "%", true);
        for (i, ((name, fill), c)) in p.series.queued.iter().zip(&p.channels).enumerate() {
            let cap = c.capacity_bytes.max(1) as f64;
            let points: Vec<(f64, f64)> = t
                .iter()
                .zip(fill)
                .map(|(&x, &b)| (x, 100.0 * b as f64 / cap))
                .collect();
            area.polyline(
                o,
                &points,
                PALETTE[i % PALETTE.len()],
                &format!(
                    r#"class="series" data-chart="queues" data-queue="{}""#,
                    esc(name)
                ),
                &format!("{name} fill % of {:.1} MiB", cap / MIB),
            );
        }
        o.push_str(
            r#"<text x="540" y="264" text-anchor="middle">seconds since start</text></svg>"#,
        );
    }
    o.push_str("<table id=\"queues\"><tr><th>queue</th><th>capacity MiB</th><th>peak %</th><th>average %</th><th>items</th><th>MiB through</th><th>senders blocked s</th><th>receivers waited s</th></tr>");
    for c in &p.channels {
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{}</td><td>{:.1}</td><td>{:.3}</td><td>{:.3}</td></tr>",
            esc(&c.name),
            c.capacity_bytes as f64 / MIB,
            c.peak_pct,
            c.average_pct,
            c.items,
            c.bytes as f64 / MIB,
            c.send_blocked_seconds,
            c.recv_waited_seconds
        );
    }
    o.push_str("</table>\n");
}

fn memory_section(o: &mut String, p: &RunProfile, limit: u64) {
    o.push_str("<h2>Memory over time</h2>");
    let limit_mib = limit as f64 / MIB;
    legend(
        o,
        &[
            (PALETTE[0], "resident set size (RSS)"),
            (BLOCKED, "memory limit"),
        ],
    );
    let t = times(p);
    let rss: Vec<(f64, f64)> = t
        .iter()
        .zip(&p.series.rss_bytes)
        .filter_map(|(&x, b)| b.map(|b| (x, b as f64 / MIB)))
        .collect();
    if rss.is_empty() {
        no_samples(o, "chart-memory");
        return;
    }
    let peak = p
        .memory
        .peak_rss_bytes
        .map_or(0.0, |b| b as f64 / MIB)
        .max(rss.iter().map(|r| r.1).fold(0.0, f64::max));
    let y_max = limit_mib.max(peak) * 1.05;
    let area = Area {
        left: 70.0,
        top: 10.0,
        width: 950.0,
        height: 220.0,
        x_max: x_max(&t),
        y_max,
    };
    o.push_str(r#"<svg id="chart-memory" width="1040" height="270" viewBox="0 0 1040 270">"#);
    area.frame(o, nice_step(y_max, 5.0), " MiB", true);
    let y = area.y(limit_mib);
    let _ = write!(
        o,
        r#"<line class="limit" x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{BLOCKED}" stroke-dasharray="6 4" stroke-width="1.5"/><text x="{:.1}" y="{:.1}" text-anchor="end">limit {limit_mib:.0} MiB</text>"#,
        area.left,
        area.left + area.width,
        area.left + area.width - 4.0,
        y - 4.0
    );
    area.polyline(
        o,
        &rss,
        PALETTE[0],
        r#"class="series" data-chart="memory" data-series="rss""#,
        "RSS MiB",
    );
    o.push_str(r#"<text x="545" y="264" text-anchor="middle">seconds since start</text></svg>"#);
    // Far below the limit the line above is flat: the same readings again, scaled to the peak.
    if peak > 0.0 && limit_mib > 4.0 * peak {
        let _ = write!(
            o,
            "<p class=\"note\">The same readings scaled to the peak ({peak:.1} MiB, {:.1}% of the limit):</p>",
            100.0 * peak / limit_mib
        );
        let zoom = Area {
            y_max: peak * 1.1,
            height: 160.0,
            ..area
        };
        o.push_str(
            r#"<svg id="chart-memory-zoom" width="1040" height="210" viewBox="0 0 1040 210">"#,
        );
        zoom.frame(o, nice_step(peak * 1.1, 4.0), " MiB", true);
        zoom.polyline(
            o,
            &rss,
            PALETTE[0],
            r#"class="series" data-chart="memory-zoom" data-series="rss""#,
            "RSS MiB",
        );
        o.push_str(
            r#"<text x="545" y="204" text-anchor="middle">seconds since start</text></svg>"#,
        );
    }
    let _ = writeln!(
        o,
        "<p>peak RSS {} MiB (VmHWM), average {} MiB over {} samples, limit {limit_mib:.0} MiB</p>",
        p.memory
            .peak_rss_bytes
            .map_or("unknown".into(), |b| format!("{:.1}", b as f64 / MIB)),
        p.memory
            .average_rss_bytes
            .map_or("unknown".into(), |b| format!("{:.1}", b as f64 / MIB)),
        p.memory.samples
    );
}

fn latency_section(o: &mut String, p: &RunProfile) {
    o.push_str("<h2>Latency percentiles</h2><p class=\"note\">One chunk through a stage, one alignment, one read or write call; logarithmic scale, microseconds.</p>");
    let marks = [
        (PALETTE[6], "p50"),
        (PALETTE[1], "p90"),
        (PALETTE[3], "p99"),
        (PALETTE[4], "max"),
    ];
    legend(o, &marks);
    let rows = &p.latency;
    if rows.is_empty() {
        o.push_str(r#"<svg id="chart-latency" width="1040" height="40" viewBox="0 0 1040 40"><text x="10" y="24">no latencies recorded (TALARIA_ACCOUNTING=off)</text></svg>"#);
    } else {
        let lo = rows
            .iter()
            .map(|r| r.p50_us)
            .filter(|&v| v > 0.0)
            .fold(f64::INFINITY, f64::min)
            .max(0.01);
        let hi = rows.iter().map(|r| r.max_us).fold(1.0, f64::max);
        let (lo_e, hi_e) = (
            lo.log10().floor(),
            hi.log10().ceil().max(lo.log10().floor() + 1.0),
        );
        let (left, width, row_h) = (200.0, 820.0, 22.0);
        let x =
            |v: f64| left + width * ((v.max(1e-9).log10() - lo_e) / (hi_e - lo_e)).clamp(0.0, 1.0);
        let height = rows.len() as f64 * row_h + 36.0;
        let _ = write!(
            o,
            r#"<svg id="chart-latency" width="1040" height="{height:.0}" viewBox="0 0 1040 {height:.0}">"#
        );
        let bottom = rows.len() as f64 * row_h + 8.0;
        let mut e = lo_e;
        while e <= hi_e + 1e-9 {
            let px = x(10f64.powf(e));
            let _ = write!(
                o,
                r#"<line class="grid" x1="{px:.1}" y1="4" x2="{px:.1}" y2="{bottom:.1}"/><text x="{px:.1}" y="{:.1}" text-anchor="middle">{} µs</text>"#,
                bottom + 14.0,
                tick_label(10f64.powf(e))
            );
            e += 1.0;
        }
        for (i, r) in rows.iter().enumerate() {
            let top = 6.0 + i as f64 * row_h;
            let _ = write!(
                o,
                r#"<text x="4" y="{:.1}">{} · {} ({})</text>"#,
                top + 13.0,
                esc(&r.what),
                esc(&r.stage),
                r.count
            );
            // Widest first, so each shorter bar is drawn over the longer ones.
            for ((color, name), v) in marks
                .iter()
                .rev()
                .zip([r.max_us, r.p99_us, r.p90_us, r.p50_us])
            {
                let _ = write!(
                    o,
                    r#"<rect data-latency="{} {}" data-p="{name}" x="{left:.1}" y="{top:.1}" width="{:.1}" height="{:.1}" fill="{color}"><title>{} {} {name} {v:.1} µs</title></rect>"#,
                    esc(&r.what),
                    esc(&r.stage),
                    (x(v) - left).max(1.0),
                    row_h - 6.0,
                    esc(&r.what),
                    esc(&r.stage)
                );
            }
        }
        let _ = write!(
            o,
            r#"<line class="axis" x1="{left}" y1="4" x2="{left}" y2="{bottom:.1}"/></svg>"#
        );
    }
    o.push_str("<table id=\"latency\"><tr><th>what</th><th>stage</th><th>count</th><th>mean µs</th><th>p50 µs</th><th>p90 µs</th><th>p99 µs</th><th>max µs</th></tr>");
    for l in rows {
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td></tr>",
            esc(&l.what),
            esc(&l.stage),
            l.count,
            l.mean_us,
            l.p50_us,
            l.p90_us,
            l.p99_us,
            l.max_us
        );
    }
    o.push_str("</table>\n");
}

/// A bar chart of labelled counts.
fn bars(o: &mut String, id: &str, bins: &[(String, u64)], color: &str, x_label: &str) {
    let max = bins.iter().map(|b| b.1).max().unwrap_or(0).max(1) as f64;
    let area = Area {
        left: 60.0,
        top: 10.0,
        width: 960.0,
        height: 160.0,
        x_max: bins.len().max(1) as f64,
        y_max: max,
    };
    let _ = write!(
        o,
        r#"<svg id="{id}" width="1040" height="215" viewBox="0 0 1040 215">"#
    );
    area.frame(o, nice_step(max, 4.0), "", false);
    let w = area.width / bins.len().max(1) as f64;
    let every = (bins.len() / 20).max(1);
    for (i, (label, n)) in bins.iter().enumerate() {
        let x = area.left + i as f64 * w;
        let y = area.y(*n as f64);
        let _ = write!(
            o,
            r#"<rect data-bin="{}" x="{:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{color}"><title>{}: {n}</title></rect>"#,
            esc(label),
            x + w * 0.1,
            (w * 0.8).max(1.0),
            area.top + area.height - y,
            esc(label)
        );
        if i % every == 0 {
            let _ = write!(
                o,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                x + w / 2.0,
                area.top + area.height + 14.0,
                esc(label)
            );
        }
    }
    let _ = write!(
        o,
        r#"<text x="540" y="208" text-anchor="middle">{}</text></svg>"#,
        esc(x_label)
    );
}

fn alignment_section(o: &mut String, p: &RunProfile) {
    let a = &p.alignment;
    o.push_str("<h2>Alignment</h2><dl>");
    figure(o, "simd", "kernel (SIMD level)", a.simd.clone());
    figure(o, "alignments", "alignments run", a.alignments.to_string());
    figure(
        o,
        "alignments_passed",
        "alignments passed",
        a.passed.to_string(),
    );
    figure(o, "too_large", "over the cell cap", a.too_large.to_string());
    figure(
        o,
        "alignment_rate",
        "rate",
        format!(
            "{:.0}/s of wall, {:.0}/s per aligner thread in the kernel",
            a.per_second, a.per_aligner_second
        ),
    );
    figure(
        o,
        "dp_cells",
        "DP cells",
        format!(
            "{} ({:.1} M cells/s in the kernel)",
            a.dp_cells,
            a.dp_cells_per_second / 1e6
        ),
    );
    figure(
        o,
        "band",
        "band half-width",
        format!(
            "min {} mean {:.1} max {}; {} adaptive widenings ({} joins needed one)",
            a.band_half_width_min,
            a.band_half_width_mean,
            a.band_half_width_max,
            a.adaptive_widenings,
            a.joins_after_widening
        ),
    );
    figure(
        o,
        "candidates",
        "candidates",
        format!(
            "{} searches, {} candidates ({:.2} per search, max {}), {} ruled out by their LCS",
            a.searches, a.candidates, a.candidates_per_search, a.max_candidates, a.ruled_out_by_lcs
        ),
    );
    figure(
        o,
        "exact_hits",
        "exact duplicates (no alignment)",
        a.exact_hits.to_string(),
    );
    o.push_str("</dl><h3>Identity of passed alignments</h3>");
    match (a.identity_pct.first(), a.identity_pct.last()) {
        (Some(&(lo, _)), Some(&(hi, _))) => {
            let bins: Vec<(String, u64)> = (lo..=hi)
                .map(|pct| {
                    let n = a
                        .identity_pct
                        .iter()
                        .find(|(p, _)| *p == pct)
                        .map_or(0, |b| b.1);
                    (format!("{pct}%"), n)
                })
                .collect();
            bars(o, "chart-identity", &bins, BUSY, "identity (identical residues / shorter length)");
        }
        _ => o.push_str(r#"<svg id="chart-identity" width="1040" height="40" viewBox="0 0 1040 40"><text x="10" y="24">no alignment passed</text></svg>"#),
    }
    o.push_str("<h3>Candidates per search</h3>");
    bars(
        o,
        "chart-candidates",
        &a.candidates_hist,
        PALETTE[6],
        "candidate representatives found per record",
    );
}

fn threads_io_section(o: &mut String, p: &RunProfile) {
    o.push_str("<h2>Threads</h2><table id=\"threads\"><tr><th>thread</th><th>tid</th><th>CPU s</th><th>wall s</th><th>CPU %</th></tr>");
    for t in &p.threads {
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td><td>{}</td></tr>",
            esc(&t.name),
            t.tid,
            opt(t.cpu_seconds, 2),
            t.wall_seconds,
            opt(t.cpu_pct, 1)
        );
    }
    let io = &p.io;
    let _ = write!(
        o,
        "</table>\n<h2>I/O</h2><p>reader {}, compression {}; time in I/O calls: {}</p>",
        esc(&io.reader_mode),
        esc(&io.compression),
        io.io_wait_pct
            .map_or("unknown (TALARIA_ACCOUNTING=off)".into(), |w| format!(
                "{w:.1}% of wall"
            ))
    );
    o.push_str("<table id=\"io\"><tr><th>stream</th><th>bytes</th><th>calls</th><th>bytes/call</th><th>time s</th><th>MB/s</th></tr>");
    let _ = write!(
        o,
        "<tr><td>read</td><td>{}</td><td>{}</td><td>{:.0}</td><td>{:.3}</td><td>{:.1}</td></tr>",
        io.read_bytes, io.read_calls, io.read_bytes_per_call, io.read_seconds, io.read_mb_per_s
    );
    for s in &io.passes {
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.0}</td><td>{:.3}</td><td>{:.1}</td></tr>",
            esc(&s.name),
            s.bytes,
            s.calls,
            s.bytes as f64 / s.calls.max(1) as f64,
            s.seconds,
            s.mb_per_s
        );
    }
    for w in &io.outputs {
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.0}</td><td>{:.3}</td><td>{:.1}</td></tr>",
            esc(&w.name),
            w.bytes,
            w.calls,
            w.bytes_per_call,
            w.seconds,
            w.mb_per_s
        );
    }
    o.push_str("</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_ticks_are_round() {
        assert_eq!(
            esc(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(nice_step(10.0, 5.0), 2.0);
        assert_eq!(nice_step(0.7, 7.0), 0.1);
        assert_eq!(nice_step(0.0, 5.0), 1.0);
        assert_eq!(tick_label(2.0), "2");
        assert_eq!(tick_label(0.25), "0.25");
    }

    #[test]
    fn an_empty_profile_still_makes_a_page_with_every_chart() {
        let summary = Summary::default();
        let html = page(&summary);
        for id in [
            "chart-utilization",
            "chart-queues",
            "chart-memory",
            "chart-latency",
            "chart-identity",
            "chart-candidates",
        ] {
            assert!(html.contains(&format!("id=\"{id}\"")), "{id}");
        }
        assert!(!html.contains("http"), "{html}");
    }
}
