//! The layers of the configuration and the keys they may hold: the embedded defaults, each
//! `--config FILE`, then `BALLAST__SECTION__KEY` environment variables, merged by the `config`
//! crate; and the list of keys a layer names that the defaults do not.
//!
//! # Invariants
//! - The defaults' keys are the complete set of known keys: a key is known if and only if
//!   `config/default.toml` has it (the `[targets]` section excepted, whose keys are service
//!   names, checked by the core).
//! - A missing `--config` file is an error naming it, never a silently skipped layer.

use std::{collections::BTreeMap, path::PathBuf};

use super::{ConfigError, DEFAULT_TOML, ENV_PREFIX};

/// Sections whose keys are names chosen by the user (validated later, by meaning).
const OPEN_SECTIONS: [&str; 1] = ["targets"];

/// Merges the defaults, `files` in order, then the `BALLAST__` variables of `env`.
///
/// # Errors
/// A missing file, or a layer the `config` crate cannot read or merge.
pub(super) fn merge(
    files: &[PathBuf],
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<config::Config, ConfigError> {
    let mut builder = config::Config::builder().add_source(config::File::from_str(
        DEFAULT_TOML,
        config::FileFormat::Toml,
    ));
    for file in files {
        if !file.is_file() {
            return Err(ConfigError(vec![format!(
                "--config {}: no such file",
                file.display()
            )]));
        }
        builder = builder.add_source(config::File::from(file.clone()).required(true));
    }
    let env: config::Map<String, String> = env
        .into_iter()
        .filter(|(key, _)| key.starts_with(&format!("{ENV_PREFIX}__")))
        .collect();
    builder = builder.add_source(
        config::Environment::with_prefix(ENV_PREFIX)
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            .source(Some(env)),
    );
    builder
        .build()
        .map_err(|e| ConfigError(vec![e.to_string()]))
}

/// The merged configuration split into the problems of its unknown sections and keys (one
/// per key, naming the known ones) and the rest, as a value that holds only known keys.
///
/// # Errors
/// A merged configuration that is not a table of values.
pub(super) fn split_unknown(
    merged: &config::Config,
) -> Result<(Vec<String>, serde_json::Value), ConfigError> {
    let mut value = merged
        .clone()
        .try_deserialize::<serde_json::Value>()
        .map_err(|e| ConfigError(vec![e.to_string()]))?;
    let known = known_keys();
    let unknown = unknown_keys(&value, &known);
    if !unknown.is_empty() {
        strip_unknown(&mut value, &known);
    }
    Ok((unknown, value))
}

/// `section -> keys` of the defaults: the complete set of known keys.
fn known_keys() -> BTreeMap<String, Vec<String>> {
    let defaults: toml::Table = toml::from_str(DEFAULT_TOML).unwrap_or_default();
    defaults
        .iter()
        .map(|(section, value)| {
            let keys = value
                .as_table()
                .map(|t| t.keys().cloned().collect())
                .unwrap_or_default();
            (section.clone(), keys)
        })
        .collect()
}

/// Every key of `merged` that the defaults do not have, as `section.key`.
fn unknown_keys(value: &serde_json::Value, known: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    let mut unknown = Vec::new();
    if let serde_json::Value::Object(sections) = value {
        for (section, body) in sections {
            let Some(known_section) = known.get(section) else {
                unknown.push(format!("unknown section `{section}`"));
                continue;
            };
            if OPEN_SECTIONS.contains(&section.as_str()) {
                continue;
            }
            if let serde_json::Value::Object(keys) = body {
                for key in keys.keys().filter(|k| !known_section.contains(*k)) {
                    unknown.push(format!(
                        "unknown key `{section}.{key}` (known: {})",
                        known_section.join(", ")
                    ));
                }
            }
        }
    }
    unknown
}

/// Drops unknown sections and keys, so the known ones can still be checked.
fn strip_unknown(value: &mut serde_json::Value, known: &BTreeMap<String, Vec<String>>) {
    if let serde_json::Value::Object(sections) = value {
        sections.retain(|section, _| known.contains_key(section));
        for (section, body) in sections.iter_mut() {
            if OPEN_SECTIONS.contains(&section.as_str()) {
                continue;
            }
            if let (serde_json::Value::Object(keys), Some(known_section)) =
                (body, known.get(section))
            {
                keys.retain(|key, _| known_section.contains(key));
            }
        }
    }
}
