//! The TOML config file (`--config FILE` or `TALARIA_CONFIG`): parsed, walked key by key against
//! the key table, every value typed and range-checked. It never guesses: an unknown, refused or
//! ill-typed key is an error naming the file and the key.

use std::path::Path;

use super::keys::{self, Value};
use super::{not_implemented, ConfigError, Origin, Setting, Source};

/// Reads `path` into settings, in key order. `named_by` says which variable named the file, if
/// one did (for the "cannot read" message).
pub(crate) fn read(path: &Path, named_by: Option<&str>) -> Result<Vec<Setting>, ConfigError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        let via = named_by
            .map(|v| format!(" (named by {v})"))
            .unwrap_or_default();
        ConfigError(format!("{name}: cannot read config file{via}: {e}"))
    })?;
    parse(&name, &text)
}

/// Parses the text of a config file called `name`.
pub(crate) fn parse(name: &str, text: &str) -> Result<Vec<Setting>, ConfigError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| {
        let at = e
            .span()
            .map(|span| line_col(text, span.start))
            .unwrap_or_default();
        ConfigError(format!(
            "{name}{at}: invalid TOML: {}",
            e.message().trim_end()
        ))
    })?;
    let mut settings = Vec::new();
    walk(name, &table, "", &mut settings)?;
    Ok(settings)
}

fn walk(
    name: &str,
    table: &toml::Table,
    section: &str,
    out: &mut Vec<Setting>,
) -> Result<(), ConfigError> {
    for (key, value) in table {
        let path = if section.is_empty() {
            key.clone()
        } else {
            format!("{section}.{key}")
        };
        if let Some(spec) = keys::implemented(&path) {
            let typed: Value = spec.kind.parse_toml(value).ok_or_else(|| {
                ConfigError(format!(
                    "{name}: key '{path}' must be {}, got {}",
                    spec.kind.expects(),
                    describe(value)
                ))
            })?;
            out.push(Setting {
                spec,
                value: typed,
                origin: Origin {
                    source: Source::File,
                    name: name.to_string(),
                    key: spec.name,
                },
            });
        } else if let Some(reason) = keys::refused(&path) {
            return Err(ConfigError(not_implemented(
                &format!("{name}: key '{path}'"),
                reason,
            )));
        } else if keys::is_section(&path) {
            match value {
                toml::Value::Table(inner) => walk(name, inner, &path, out)?,
                other => {
                    return Err(ConfigError(format!(
                        "{name}: '{path}' must be a section ([{path}]), got {}",
                        describe(other)
                    )))
                }
            }
        } else {
            let what = if value.is_table() {
                format!("unknown section [{path}]")
            } else {
                format!("unknown key '{path}'")
            };
            let hint = keys::suggest(&path)
                .map(|s| format!(" (did you mean '{s}'?)"))
                .unwrap_or_default();
            return Err(ConfigError(format!("{name}: {what}{hint}")));
        }
    }
    Ok(())
}

/// A value as the user wrote it, short enough for one line.
fn describe(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) if s.chars().count() > 40 => {
            format!("{:?}...", s.chars().take(40).collect::<String>())
        }
        toml::Value::String(s) => format!("{s:?}"),
        toml::Value::Array(_) => "an array".into(),
        toml::Value::Table(_) => "a table".into(),
        other => other.to_string(),
    }
}

/// `:line:column` (1-based) of a byte offset.
fn line_col(text: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!(":{line}:{column}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> String {
        parse("t.toml", text).err().expect("an error").0
    }

    #[test]
    fn keys_are_typed_in_nested_sections() {
        let s = parse(
            "t.toml",
            "[reduce]\nthreshold = 0.95\nalphabet = \"protein\"\n[performance]\nmemory_limit = \"4G\"\n",
        )
        .unwrap();
        let got: Vec<_> = s.iter().map(|s| (s.spec.name, s.value.clone())).collect();
        assert_eq!(
            got,
            vec![
                ("performance.memory_limit", Value::Count(4 << 30)),
                (
                    "reduce.alphabet",
                    Value::Alphabet(super::super::AlphabetChoice::Protein)
                ),
                ("reduce.threshold", Value::Number(0.95)),
            ]
        );
    }

    #[test]
    fn errors_say_where() {
        assert_eq!(
            error("[reduce]\nthreshold = \"high\"\n"),
            "t.toml: key 'reduce.threshold' must be a number between 0 and 1 (0 excluded), got \"high\""
        );
        assert!(error("[reduce]\nthreshold = 0.9\nthreshold = 0.8\n")
            .starts_with("t.toml:3:1: invalid TOML"));
        assert_eq!(
            error("reduce = 3\n"),
            "t.toml: 'reduce' must be a section ([reduce]), got 3"
        );
        assert_eq!(
            error("[gpu]\nuse_gpu = true\n"),
            "t.toml: key 'gpu.use_gpu' is part of talaria's documented configuration \
             but is not implemented in this version: talaria has no GPU backend \
             (see README, \"Configuration\")"
        );
        assert_eq!(
            error("[regression]\nthreshold = 5\n"),
            "t.toml: unknown section [regression]"
        );
        assert_eq!(
            error("[performance.numa.extra]\nx = 1\n"),
            "t.toml: unknown section [performance.numa.extra]"
        );
        assert_eq!(
            error("threshold = 0.9\n"),
            "t.toml: unknown key 'threshold' (did you mean 'reduce.threshold'?)"
        );
        assert_eq!(
            error("[reduce]\nthreshold = [1]\n"),
            "t.toml: key 'reduce.threshold' must be a number between 0 and 1 (0 excluded), got an array"
        );
    }

    #[test]
    fn line_and_column() {
        assert_eq!(line_col("ab\ncd", 4), ":2:2");
        assert_eq!(line_col("", 0), ":1:1");
    }
}
