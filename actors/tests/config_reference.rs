//! The configuration reference cannot go stale: `docs/configuration.md` must be exactly what
//! `ballast config reference` generates from `config/default.toml`, and every key of the
//! defaults (and of the settings ballast loads) must be in it with a comment. Adding a key
//! without a comment, or without regenerating the reference, fails here.

use std::collections::BTreeSet;

use ballast_actors::settings::{DEFAULT_TOML, Settings, reference};

/// Every leaf key of a TOML table as `section.key` (nested tables joined with `.`).
fn leaves(prefix: &str, table: &toml::Table, out: &mut BTreeSet<String>) {
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(inner) => leaves(&path, inner, out),
            _ => {
                out.insert(path);
            }
        }
    }
}

#[test]
fn r13_every_configuration_key_is_in_the_reference_with_its_comment() {
    let documented: Vec<_> = reference::keys(DEFAULT_TOML);
    let paths: BTreeSet<String> = documented.iter().map(|k| k.path()).collect();
    // Every key the defaults hold, as TOML parses them.
    let mut defaults = BTreeSet::new();
    let parsed: toml::Table = toml::from_str(DEFAULT_TOML).expect("the defaults parse");
    leaves("", &parsed, &mut defaults);
    let missing: Vec<_> = defaults.difference(&paths).collect();
    assert!(
        missing.is_empty(),
        "keys missing from the reference: {missing:?}"
    );
    let extra: Vec<_> = paths.difference(&defaults).collect();
    assert!(
        extra.is_empty(),
        "the reference names keys the defaults lack: {extra:?}"
    );
    // Every key the settings load (serialized back), so a key cannot hide in Rust alone.
    let settings = Settings::load_with_env(&[], Vec::new()).expect("the defaults load");
    let json = serde_json::to_value(&settings).expect("serializes");
    let as_toml: toml::Table =
        toml::from_str(&toml::to_string(&json).expect("as TOML")).expect("parses");
    let mut loaded = BTreeSet::new();
    leaves("", &as_toml, &mut loaded);
    let unlisted: Vec<_> = loaded.difference(&paths).collect();
    assert!(
        unlisted.is_empty(),
        "settings keys missing from the reference: {unlisted:?}"
    );
    // Every key says what it is for.
    let silent: Vec<String> = documented
        .iter()
        .filter(|k| k.comment.iter().all(|line| line.trim().is_empty()))
        .map(|k| k.path())
        .collect();
    assert!(
        silent.is_empty(),
        "keys without a comment in config/default.toml: {silent:?}"
    );
}

#[test]
fn r13_docs_configuration_md_is_what_the_generator_produces() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/configuration.md");
    let on_disk = std::fs::read_to_string(path).expect("docs/configuration.md exists");
    let generated = reference::markdown(DEFAULT_TOML);
    assert!(
        on_disk == generated,
        "docs/configuration.md is stale: run `ballast config reference > docs/configuration.md`"
    );
    for key in reference::keys(DEFAULT_TOML) {
        assert!(
            on_disk.contains(&format!("### `{}`", key.path())),
            "{}",
            key.path()
        );
    }
}

#[test]
fn r13_config_show_prints_the_merged_configuration_with_secrets_redacted() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ballast"))
        .args(["config", "show"])
        .env("BALLAST__POLICY__BAND", "0.04")
        .env(
            "BALLAST__NOTIFY__WEBHOOK_URL",
            "https://hooks.example.com/services/T0/SECRET-TOKEN",
        )
        .env("PURPLE_FLEA_API_KEY", "sk-SENTINEL-13")
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let shown: toml::Table = toml::from_str(&stdout).expect("TOML");
    assert_eq!(shown["policy"]["band"].as_float(), Some(0.04));
    assert_eq!(
        shown["notify"]["webhook_url"].as_str(),
        Some("https://hooks.example.com/…")
    );
    assert!(!stdout.contains("SECRET-TOKEN") && !stdout.contains("sk-SENTINEL-13"));
}
