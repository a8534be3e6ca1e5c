//! `talaria config show`: the effective configuration as TOML that can be fed back with
//! `--config`, each key commented with where its value came from, then the documented keys this
//! version refuses and why.

use super::keys::{self, KeySpec, Kind, Value, NOT_IMPLEMENTED};
use super::size::format_size;
use super::{Resolved, Source};

pub(crate) fn render(resolved: &Resolved) -> String {
    let mut out = String::from(
        "# talaria configuration in effect.\n\
         # Precedence: default < profile preset < config file < TALARIA_* environment variables < command-line flags.\n",
    );
    let mut section = "";
    let mut lines: Vec<(String, String)> = Vec::new();
    let canonical = keys::KEYS
        .iter()
        .filter(|k| keys::canonical(k.field).name == k.name);
    for spec in canonical {
        let (sect, key) = spec.name.rsplit_once('.').expect("keys live in sections");
        if sect != section {
            flush(&mut out, &mut lines);
            out.push_str(&format!("\n[{sect}]\n"));
            section = sect;
        }
        let origin = &resolved.origins[spec.field as usize];
        let mut comment = match origin.source {
            Source::Default => "default".to_string(),
            Source::File | Source::Env | Source::Flag | Source::Preset => {
                format!("from {}", origin.name)
            }
        };
        if origin.key != spec.name {
            let alias = origin.key.rsplit('.').next().unwrap_or(origin.key);
            comment.push_str(&format!(" (as {alias})"));
        }
        if let Some(why) = keys::not_applicable(spec.name) {
            comment.push_str(&format!("; not applicable: {why}"));
        }
        let value = toml_value(spec, &resolved.config.get(spec.field));
        lines.push((format!("{key} = {value}"), comment));
    }
    flush(&mut out, &mut lines);

    out.push_str(
        "\n# Documented in the user guide but not implemented in this version \
         (setting one is an error):\n",
    );
    let width = NOT_IMPLEMENTED
        .iter()
        .map(|(k, _)| k.len())
        .max()
        .unwrap_or(0);
    for (key, reason) in NOT_IMPLEMENTED {
        out.push_str(&format!("#   {key:width$}  {reason}\n"));
    }
    out
}

/// Writes `key = value  # comment` lines with the comments aligned.
fn flush(out: &mut String, lines: &mut Vec<(String, String)>) {
    let width = lines.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    for (line, comment) in lines.drain(..) {
        out.push_str(&format!("{line:width$}  # {comment}\n"));
    }
}

/// A value as TOML that [`super::file`] reads back to the same value.
pub(crate) fn toml_value(spec: &KeySpec, value: &Value) -> String {
    match (spec.kind, value) {
        // `{:?}` keeps the decimal point (`1.0`), so the value stays a TOML float.
        (_, Value::Number(x)) => format!("{x:?}"),
        // A float, which is what a `_gb` key reads back.
        (Kind::Gib { .. }, &Value::Count(n)) => format!("{:?}", n as f64 / (1u64 << 30) as f64),
        (Kind::Size { .. }, &Value::Count(n)) => {
            let text = format_size(n);
            if text.bytes().all(|b| b.is_ascii_digit()) {
                text
            } else {
                format!("\"{text}\"")
            }
        }
        (_, Value::Count(n)) => n.to_string(),
        (_, Value::Bool(b)) => b.to_string(),
        (_, Value::Switch(b)) => b.toml().to_string(),
        (_, Value::Affinity(a)) => format!("\"{}\"", a.name()),
        (_, Value::IoEngine(e)) => format!("\"{}\"", e.name()),
        (_, Value::Order(o)) => format!("\"{}\"", o.name()),
        (_, Value::Export(e)) => format!("\"{}\"", e.name()),
        (_, Value::Ip(ip)) => format!("\"{ip}\""),
        // Paths and hosts are printable ASCII without quotes or backslashes (see keys.rs).
        (_, Value::Text(t)) => format!("\"{t}\""),
        (_, Value::Prefetch(h)) => format!("\"{}\"", h.name()),
        (_, Value::Preset(p)) => format!("\"{}\"", p.name()),
        (_, Value::Eviction(e)) => format!("\"{}\"", e.name()),
        (_, Value::Simd(level)) => format!("\"{}\"", level.name()),
        (_, Value::Allocator(a)) => format!("\"{}\"", a.name()),
        (_, Value::Alphabet(a)) => format!(
            "\"{}\"",
            match a {
                super::AlphabetChoice::Auto => "auto",
                super::AlphabetChoice::Protein => "protein",
                super::AlphabetChoice::Nucleotide => "nucleotide",
            }
        ),
    }
}
