//! Live figures out of a running process, in two wire formats: Prometheus' text exposition
//! format served over HTTP ([`prometheus`]) and StatsD datagrams pushed over UDP ([`statsd`]).
//! This module knows nothing about what the figures mean: the caller names them, says whether
//! each is a counter or a gauge, and supplies a function that reads them when asked. It must
//! never block the caller's pipeline: serving and sending happen on their own threads.

pub mod prometheus;
pub mod statsd;

/// Whether a figure only grows (a counter) or goes up and down (a gauge).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    Counter,
    Gauge,
}

/// One named metric: a single value, or one value per value of a label (`stage`, `queue`).
#[derive(Clone, Debug, PartialEq)]
pub struct Family {
    /// `[a-z_]+`, without prefix or unit suffix conventions of either format (`records`,
    /// `stage_busy_seconds`); Prometheus adds `_total` to counters.
    pub name: &'static str,
    pub help: &'static str,
    pub kind: MetricKind,
    /// The label telling the samples apart, when there may be several.
    pub label: Option<&'static str>,
    /// (label value, value); the label value is empty when `label` is `None`.
    pub samples: Vec<(String, f64)>,
}

impl Family {
    pub fn counter(name: &'static str, help: &'static str, value: f64) -> Family {
        Family::single(name, help, MetricKind::Counter, value)
    }

    pub fn gauge(name: &'static str, help: &'static str, value: f64) -> Family {
        Family::single(name, help, MetricKind::Gauge, value)
    }

    fn single(name: &'static str, help: &'static str, kind: MetricKind, value: f64) -> Family {
        Family {
            name,
            help,
            kind,
            label: None,
            samples: vec![(String::new(), value)],
        }
    }

    /// A family with one sample per label value (possibly none).
    pub fn labelled(
        name: &'static str,
        help: &'static str,
        kind: MetricKind,
        label: &'static str,
        samples: Vec<(String, f64)>,
    ) -> Family {
        Family {
            name,
            help,
            kind,
            label: Some(label),
            samples,
        }
    }
}

/// Whether `name` is a valid metric or label name in both formats: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A value as both formats read it: integers without a fraction, others in Rust's shortest
/// round-trip form, non-finite values as Prometheus spells them.
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else if v.fract() == 0.0 && v.abs() < 9.0e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_values() {
        assert!(valid_name("stage_busy_seconds") && valid_name("_x1"));
        assert!(!valid_name("") && !valid_name("1x") && !valid_name("a-b") && !valid_name("a.b"));
        assert_eq!(format_value(3000.0), "3000");
        assert_eq!(format_value(0.25), "0.25");
        assert_eq!(format_value(-2.0), "-2");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
    }
}
