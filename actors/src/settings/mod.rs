//! Configuration: layered, strict, validated all at once.
//!
//! Layers, later overriding earlier: `config/default.toml` (embedded in the binary, the one
//! source of defaults), then each `--config FILE`, then `BALLAST__SECTION__KEY` environment
//! variables. Every struct denies unknown keys, and [`Settings::validate`] collects every
//! problem into one [`ConfigError`] whose lines each name the offending key.
//!
//! The parts: `layers` reads and merges the layers, lists unknown keys and keys of the wrong
//! type (each named, all at once); `sections` holds the serde
//! structs, one per section; `validate` converts them into the core's types through the core's
//! own checks, so a rule such as "`policy.band` in (0, 1)" is written once, in the core.
//!
//! # Invariants
//! - No default lives in Rust code: a key missing from every layer is an error naming it.
//! - Every problem is reported at once, each naming its key: unknown keys, values of the wrong
//!   type (a string for a path, a number too large for its key), and values out of range.
//! - No rule the core knows is written here: the settings load, merge, convert units, call the
//!   core's checks and report. Only values no core type holds (the venue connection, the clock,
//!   the simulated venue's speed, the store, the log filter) are checked here.
//! - The API key is not part of the settings; it comes from `PURPLE_FLEA_API_KEY` and is
//!   held as an [`ApiKey`](ballast::secret::ApiKey), so dumping the settings can never print it.

mod layers;
pub mod reference;
mod sections;
#[cfg(test)]
mod tests;
mod validate;

use std::{collections::BTreeMap, fmt, path::PathBuf};

use serde::{Deserialize, Serialize};

pub use self::{sections::*, validate::Validated};

/// The built-in defaults, `config/default.toml`.
pub const DEFAULT_TOML: &str = include_str!("../../../config/default.toml");

/// Prefix of configuration environment variables (`BALLAST__POLICY__BAND=0.04`).
pub const ENV_PREFIX: &str = "BALLAST";

/// Every configuration problem found, one per line, each naming its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub Vec<String>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invalid configuration ({} problem(s)):", self.0.len())?;
        for problem in &self.0 {
            writeln!(f, "  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// All settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Where the venue is.
    pub venue: VenueSettings,
    /// The embedded simulated venue.
    pub sim: SimSettings,
    /// Target weights by service name.
    pub targets: BTreeMap<String, f64>,
    /// Trigger and drift policy.
    pub policy: PolicySettings,
    /// The daily tick.
    pub clock: ClockSettings,
    /// Spot execution.
    pub executor: ExecutorSettings,
    /// Limits every plan must respect before anything is sent.
    pub risk: RiskSettings,
    /// Target computation.
    pub optimizer: OptimizerSettings,
    /// Perp hedges of locked overweights.
    pub hedge: HedgeSettings,
    /// Alert delivery.
    pub notify: NotifySettings,
    /// The SQLite store.
    pub store: StoreSettings,
    /// The HTTP API.
    pub http: HttpSettings,
    /// Operator control.
    pub control: ControlSettings,
    /// Console output.
    pub output: OutputSettings,
}

impl Settings {
    /// Loads the layers: defaults, then `files` in order, then environment variables.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the file, key or variable at fault.
    pub fn load(files: &[PathBuf]) -> Result<Self, ConfigError> {
        Self::load_with_env(files, std::env::vars())
    }

    /// [`Settings::load`] with an explicit environment, for tests.
    ///
    /// # Errors
    /// A [`ConfigError`].
    pub fn load_with_env(
        files: &[PathBuf],
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let merged = layers::merge(files, env)?;
        // Unknown keys first, all of them, then every key of the wrong type, then every value
        // problem of the rest: serde alone would stop at the first unknown key or type error
        // and hide the others.
        let (mut problems, mut known) = layers::split_unknown(merged);
        problems.extend(layers::check_types(&mut known));
        if problems.is_empty() {
            return serde_json::from_value::<Settings>(known)
                .map_err(|e| ConfigError(vec![e.to_string()]));
        }
        match serde_json::from_value::<Settings>(known) {
            Ok(settings) => {
                if let Err(ConfigError(more)) = settings.validate() {
                    problems.extend(more);
                }
            }
            Err(error) => problems.push(error.to_string()),
        }
        Err(ConfigError(problems))
    }
}
