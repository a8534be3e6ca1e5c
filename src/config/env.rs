//! `TALARIA_*` environment variables: one per implemented key (`reduce.threshold` ->
//! `TALARIA_REDUCE_THRESHOLD`), typed like the file's values. Any other `TALARIA_*` variable is an
//! error, so a misspelt variable cannot silently do nothing.

use super::keys::{self, ENV_PREFIX, KEYS, NOT_IMPLEMENTED, OTHER_ENV_VARS};
use super::{not_implemented, ConfigError, Origin, Setting, Source};

/// This process's `TALARIA_*` variables. A non-UTF-8 value is an error; other variables are not
/// looked at.
pub(crate) fn process_vars() -> Result<Vec<(String, String)>, ConfigError> {
    let mut vars = Vec::new();
    for (name, value) in std::env::vars_os() {
        if !name.as_encoded_bytes().starts_with(ENV_PREFIX.as_bytes()) {
            continue;
        }
        match (name.to_str(), value.to_str()) {
            (Some(n), Some(v)) => vars.push((n.to_string(), v.to_string())),
            _ => {
                return Err(ConfigError(format!(
                    "environment variable {}: not valid UTF-8",
                    name.to_string_lossy()
                )))
            }
        }
    }
    Ok(vars)
}

/// The value of `TALARIA_CONFIG`, if set and not empty.
pub(crate) fn config_file(env: &[(String, String)]) -> Option<&str> {
    env.iter()
        .find(|(name, value)| name == "TALARIA_CONFIG" && !value.is_empty())
        .map(|(_, value)| value.as_str())
}

/// The settings the `TALARIA_*` variables among `env` make, in variable-name order.
pub(crate) fn settings(env: &[(String, String)]) -> Result<Vec<Setting>, ConfigError> {
    // Read by talaria-stages' accounting switch; only its two values are accepted here.
    if let Some((_, v)) = env.iter().find(|(n, _)| n == "TALARIA_ACCOUNTING") {
        if v != "on" && v != "off" {
            return Err(ConfigError(format!(
                "environment variable TALARIA_ACCOUNTING must be on or off, got {v:?}"
            )));
        }
    }
    let mut vars: Vec<&(String, String)> = env
        .iter()
        .filter(|(name, _)| name.starts_with(ENV_PREFIX))
        .filter(|(name, _)| !OTHER_ENV_VARS.contains(&name.as_str()))
        .collect();
    vars.sort();
    let mut settings = Vec::with_capacity(vars.len());
    for (name, text) in vars {
        if let Some(spec) = KEYS.iter().find(|k| keys::env_var_name(k.name) == *name) {
            let value = spec.kind.parse_text(text).ok_or_else(|| {
                ConfigError(format!(
                    "environment variable {name} ({}) must be {}, got {text:?}",
                    spec.name,
                    spec.kind.expects()
                ))
            })?;
            settings.push(Setting {
                spec,
                value,
                origin: Origin {
                    source: Source::Env,
                    name: name.clone(),
                    key: spec.name,
                },
            });
        } else if let Some((key, reason)) = NOT_IMPLEMENTED
            .iter()
            .find(|(k, _)| keys::env_var_name(k) == *name)
        {
            return Err(ConfigError(not_implemented(
                &format!("environment variable {name} ({key})"),
                reason,
            )));
        } else {
            let hint = keys::suggest_env(name)
                .map(|s| format!(" (did you mean {s}?)"))
                .unwrap_or_default();
            return Err(ConfigError(format!(
                "environment variable {name} is not a talaria setting{hint}"
            )));
        }
    }
    Ok(settings)
}
