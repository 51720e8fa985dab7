//! `ballast config`: the configuration reference (`reference`, generated from
//! `config/default.toml`: `docs/configuration.md` is its output) and the merged configuration
//! in force (`show`: defaults, `--config` files and `BALLAST__` variables), secrets redacted.
//!
//! # Invariants
//! - `show` never prints a secret: the API key is not configuration, and the webhook URL (which
//!   often carries a token) is shown by its host only.
//! - `show --json` prints exactly one JSON document.

use anyhow::Context;

use crate::{
    notify::redact_url,
    settings::{DEFAULT_TOML, Settings, reference},
};

/// `ballast config` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Args {
    /// Print the configuration reference (Markdown): every key with its comment and default.
    Reference,
    /// Print the merged configuration (TOML, or JSON with --json), secrets redacted.
    Show,
}

/// Runs the subcommand.
///
/// # Errors
/// An invalid configuration (`show` validates it first, naming every problem).
pub fn run(args: &Args, settings: Settings, json: bool) -> anyhow::Result<()> {
    match args {
        Args::Reference => crate::output::text(&reference::markdown(DEFAULT_TOML))?,
        Args::Show => {
            let shown = redacted(settings.validate()?.settings);
            if json {
                crate::outln!("{}", serde_json::to_string_pretty(&shown)?)?;
            } else {
                crate::output::text(
                    &toml::to_string(&shown).context("writing the configuration as TOML")?,
                )?;
            }
        }
    }
    Ok(())
}

/// `settings` with every secret replaced by what may be shown.
pub fn redacted(mut settings: Settings) -> Settings {
    if !settings.notify.webhook_url.is_empty() {
        settings.notify.webhook_url = redact_url(&settings.notify.webhook_url);
    }
    settings
}
