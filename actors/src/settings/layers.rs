//! The layers of the configuration and the keys they may hold: the embedded defaults, each
//! `--config FILE`, then `BALLAST__SECTION__KEY` environment variables, merged into one JSON
//! value; the keys a layer names that the defaults do not; and every key whose value is not of
//! its type.
//!
//! Layers are read here rather than by a generic loader so that every problem can name its
//! key: a TOML error names the file, line and key (`number too large to fit in target type`
//! alone names nothing); an environment value is read as the type its key has in the defaults
//! (`BALLAST__VENUE__AGENT_ID=007` stays the string `007`); and a value of the wrong type is
//! found key by key, each reported, rather than only the first one serde meets.
//!
//! # Invariants
//! - The defaults' keys are the complete set of known keys: a key is known if and only if
//!   `config/default.toml` has it (the `[targets]` section excepted, whose keys are service
//!   names, checked by the core).
//! - A missing, unreadable or directory `--config` path is an error naming it, never a
//!   silently skipped layer; every file's problems are reported, not only the first file's.
//! - After [`check_types`], every remaining value deserializes: a key at fault is reported and
//!   put back to its default (or dropped), so the others can still be checked.

use std::{collections::BTreeMap, path::PathBuf};

use serde_json::{Map, Value};

use super::{ConfigError, DEFAULT_TOML, ENV_PREFIX, Settings};

/// Sections whose keys are names chosen by the user (validated later, by meaning).
const OPEN_SECTIONS: [&str; 1] = ["targets"];

/// Largest configuration file read: far more than any real one.
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// The defaults as a JSON value.
pub(super) fn defaults() -> Value {
    toml::from_str::<toml::Table>(DEFAULT_TOML)
        .ok()
        .and_then(|table| serde_json::to_value(table).ok())
        .unwrap_or_else(|| Value::Object(Map::new()))
}

/// Merges the defaults, `files` in order, then the `BALLAST__` variables of `env`.
///
/// # Errors
/// Every file that is missing, a directory, unreadable, not text or not TOML, each naming the
/// file (and, for TOML, the line and key).
pub(super) fn merge(
    files: &[PathBuf],
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Value, ConfigError> {
    let defaults = defaults();
    let mut merged = defaults.clone();
    let mut problems = Vec::new();
    for file in files {
        match read_layer(file) {
            Ok(layer) => merge_into(&mut merged, layer),
            Err(problem) => problems.push(problem),
        }
    }
    if !problems.is_empty() {
        return Err(ConfigError(problems));
    }
    let prefix = format!("{ENV_PREFIX}__");
    let mut variables: Vec<(String, String)> = env
        .into_iter()
        .filter(|(key, _)| key.starts_with(&prefix))
        .collect();
    // The same order whatever the environment's: a variable's value never depends on it.
    variables.sort();
    for (key, text) in variables {
        let path: Vec<String> = key[prefix.len()..]
            .split("__")
            .map(str::to_ascii_lowercase)
            .collect();
        let value = typed_env_value(lookup(&defaults, &path), &path, &text);
        set(&mut merged, &path, value);
    }
    Ok(merged)
}

/// One `--config` file as a JSON value.
fn read_layer(file: &std::path::Path) -> Result<Value, String> {
    let text = crate::files::read_named("--config", file, MAX_CONFIG_BYTES)?;
    let table: toml::Table = toml::from_str(&text).map_err(|error| {
        let at = error
            .span()
            .map(|span| locate(&text, span.start))
            .unwrap_or_default();
        format!(
            "--config {}: {at}{}",
            file.display(),
            error.message().trim()
        )
    })?;
    serde_json::to_value(table).map_err(|e| format!("--config {}: {e}", file.display()))
}

/// `line N, key `section.key`: ` for the byte `offset` of a TOML text: the line, and the key
/// written on it under the last `[section]` header above it.
fn locate(text: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    let line_no = before.matches('\n').count() + 1;
    let line = text.lines().nth(line_no - 1).unwrap_or_default();
    let section = before
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim());
    match line.split_once('=') {
        Some((key, _)) if !line.trim_start().starts_with('[') => {
            let key = key.trim();
            let full = section.map_or_else(|| key.to_owned(), |s| format!("{s}.{key}"));
            format!("line {line_no}, key `{full}`: ")
        }
        _ => format!("line {line_no}: "),
    }
}

/// Deep-merges `layer` into `base`: tables merge key by key, anything else replaces.
fn merge_into(base: &mut Value, layer: Value) {
    match (base, layer) {
        (Value::Object(base), Value::Object(layer)) => {
            for (key, value) in layer {
                match base.get_mut(&key) {
                    Some(existing) if existing.is_object() && value.is_object() => {
                        merge_into(existing, value);
                    }
                    _ => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, layer) => *base = layer,
    }
}

/// The value at `path` of `value`.
fn lookup<'v>(value: &'v Value, path: &[String]) -> Option<&'v Value> {
    path.iter().try_fold(value, |v, key| v.get(key))
}

/// Sets `path` of `value` to `leaf`, creating tables on the way (a non-table on the way is
/// replaced: its type error is then the table's).
fn set(value: &mut Value, path: &[String], leaf: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut at = value;
    for key in parents {
        if !at.is_object() {
            *at = Value::Object(Map::new());
        }
        let Value::Object(table) = at else {
            return;
        };
        at = table
            .entry(key.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if !at.is_object() {
        *at = Value::Object(Map::new());
    }
    if let Value::Object(table) = at {
        table.insert(last.clone(), leaf);
    }
}

/// An environment variable's text as the type its key has in the defaults: text that is not
/// of that type stays text, so the type check names the key.
fn typed_env_value(default: Option<&Value>, path: &[String], text: &str) -> Value {
    let number = |text: &str| -> Option<Value> {
        if let Ok(n) = text.parse::<i64>() {
            return Some(Value::from(n));
        }
        if let Ok(n) = text.parse::<u64>() {
            return Some(Value::from(n));
        }
        text.parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
    };
    let open_section = path.len() == 2 && OPEN_SECTIONS.contains(&path[0].as_str());
    let parsed = match default {
        Some(Value::Bool(_)) => text.trim().parse::<bool>().ok().map(Value::Bool),
        Some(Value::Number(_)) => number(text.trim()),
        Some(Value::Array(_) | Value::Object(_)) => serde_json::from_str(text).ok(),
        None if open_section => number(text.trim()),
        _ => None,
    };
    parsed.unwrap_or_else(|| Value::String(text.to_owned()))
}

/// The merged configuration split into the problems of its unknown sections and keys (one
/// per key, naming the known ones) and the rest, as a value that holds only known keys.
pub(super) fn split_unknown(mut value: Value) -> (Vec<String>, Value) {
    let known = known_keys();
    let unknown = unknown_keys(&value, &known);
    if !unknown.is_empty() {
        strip_unknown(&mut value, &known);
    }
    (unknown, value)
}

/// Every key of `value` whose value is not of its type, as `section.key: what serde says`,
/// each put back to its default (or dropped when it has none) so the rest deserializes.
///
/// Each key that differs from its default is tried alone in the defaults: an error is then
/// that key's, whatever the other keys hold.
pub(super) fn check_types(value: &mut Value) -> Vec<String> {
    let defaults = defaults();
    let mut leaves = Vec::new();
    collect_leaves(value, &defaults, &mut Vec::new(), &mut leaves);
    let mut problems = Vec::new();
    for path in leaves {
        let Some(given) = lookup(value, &path).cloned() else {
            continue;
        };
        let default = lookup(&defaults, &path).cloned();
        if default.as_ref() == Some(&given) {
            continue;
        }
        let mut probe = defaults.clone();
        set(&mut probe, &path, given);
        if let Err(error) = serde_json::from_value::<Settings>(probe) {
            problems.push(format!("{}: {error}", path.join(".")));
            match default {
                Some(default) => set(value, &path, default),
                None => remove(value, &path),
            }
        }
    }
    problems
}

/// The paths of the values to type-check: every key down to where the defaults stop being
/// tables (an array of tables, such as the views, is one value).
fn collect_leaves(
    value: &Value,
    defaults: &Value,
    path: &mut Vec<String>,
    out: &mut Vec<Vec<String>>,
) {
    match (value, lookup(defaults, path)) {
        (Value::Object(table), Some(Value::Object(_))) => {
            for key in table.keys() {
                path.push(key.clone());
                collect_leaves(&table[key], defaults, path, out);
                path.pop();
            }
        }
        // An open section's new name, or a table where the defaults have none.
        _ if !path.is_empty() => out.push(path.clone()),
        _ => {}
    }
}

fn remove(value: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut at = value;
    for key in parents {
        match at.get_mut(key) {
            Some(next) => at = next,
            None => return,
        }
    }
    if let Some(table) = at.as_object_mut() {
        table.remove(last);
    }
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
fn unknown_keys(value: &Value, known: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    let mut unknown = Vec::new();
    if let Value::Object(sections) = value {
        for (section, body) in sections {
            let Some(known_section) = known.get(section) else {
                unknown.push(format!("unknown section `{section}`"));
                continue;
            };
            if OPEN_SECTIONS.contains(&section.as_str()) {
                continue;
            }
            if let Value::Object(keys) = body {
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
fn strip_unknown(value: &mut Value, known: &BTreeMap<String, Vec<String>>) {
    if let Value::Object(sections) = value {
        sections.retain(|section, _| known.contains_key(section));
        for (section, body) in sections.iter_mut() {
            if OPEN_SECTIONS.contains(&section.as_str()) {
                continue;
            }
            if let (Value::Object(keys), Some(known_section)) = (body, known.get(section)) {
                keys.retain(|key, _| known_section.contains(key));
            }
        }
    }
}
