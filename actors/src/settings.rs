//! Configuration: layered, strict, validated all at once.
//!
//! Layers, later overriding earlier: `config/default.toml` (embedded in the binary, the one
//! source of defaults), then each `--config FILE`, then `BALLAST__SECTION__KEY` environment
//! variables. Every struct denies unknown keys, and [`Settings::validate`] collects every
//! problem into one [`ConfigError`] whose lines each name the offending key.
//!
//! # Invariants
//! - No default lives in Rust code: a key missing from every layer is an error naming it.
//! - The API key is not part of the settings; it comes from `PURPLE_FLEA_API_KEY` and is
//!   held as an [`ApiKey`], so dumping the settings can never print it.

use std::{collections::BTreeMap, fmt, path::PathBuf, time::Duration};

pub use ballast::optimizer::OptimizerMethod;
use ballast::{
    drift::{DriftBands, RebalanceTo},
    math::returns::CovarianceMethod,
    money::{decimal_from_f64, decimal_to_f64},
    optimizer::{BlackLittermanConfig, OptimizerConfig, ServiceView, VolSpikeConfig},
    policy::PolicyConfig,
    risk::RiskLimits,
    service::{Service, ServiceMap},
    targets::TargetAllocation,
    venue::backoff::Backoff,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The built-in defaults, `config/default.toml`.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

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
    /// The SQLite store.
    pub store: StoreSettings,
    /// Console output.
    pub output: OutputSettings,
}

/// `[venue]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VenueSettings {
    /// `embedded` or `remote`.
    pub mode: VenueMode,
    /// Remote venue URL.
    pub url: String,
    /// Agent id.
    pub agent_id: String,
    /// REST timeout.
    pub request_timeout_ms: u64,
    /// Websocket silence limit.
    pub idle_timeout_ms: u64,
    /// Reconnect backoff base.
    pub reconnect_base_ms: u64,
    /// Reconnect backoff cap.
    pub reconnect_max_ms: u64,
    /// Alert when a fresh REST snapshot at the same event `seq` as the held view differs
    /// by more than this fraction of the portfolio in any service (0 disables).
    pub balance_alert_fraction: f64,
}

/// Where the venue runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VenueMode {
    /// The simulated venue, started inside ballast on loopback.
    Embedded,
    /// A venue at `venue.url`.
    Remote,
}

/// `[sim]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimSettings {
    /// RNG seed.
    pub seed: u64,
    /// Simulated seconds per real second.
    pub speed: f64,
}

/// `[policy]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySettings {
    /// Absolute band.
    pub band: f64,
    /// Relative band; 0 disables.
    pub relative_band: f64,
    /// `target` or `band-edge`.
    pub rebalance_to: RebalanceTo,
    /// Minimum leg.
    pub min_trade_usdc: f64,
    /// Post-win trigger threshold.
    pub large_win_fraction: f64,
    /// Band-check on every event.
    pub threshold_on_events: bool,
    /// Calendar floor in days; 0 disables.
    pub calendar_floor_days: u32,
    /// Referral routing.
    pub route_referral_income: bool,
}

/// `[clock]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockSettings {
    /// `HH:MM`, UTC.
    pub tick_utc: String,
}

/// `[executor]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutorSettings {
    /// Never send.
    pub dry_run: bool,
    /// Idempotent retries per leg.
    pub leg_retry_limit: u32,
    /// Base delay between retries.
    pub leg_retry_base_ms: u64,
    /// How long a stop waits for the plan in flight before leaving its legs pending.
    pub shutdown_deadline_ms: u64,
}

/// `[risk]`: USDC limits, 0 for off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskSettings {
    /// Largest single transfer.
    pub max_leg_usdc: f64,
    /// Most USDC moved per UTC day.
    pub max_daily_turnover_usdc: f64,
}

/// `[optimizer]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerSettings {
    /// Method name.
    pub method: OptimizerMethod,
    /// Days of returns per estimate.
    pub lookback_days: u32,
    /// `sample` or `ledoit-wolf`.
    pub covariance: CovarianceMethod,
    /// Lowest weight of a service in computed targets.
    pub bound_lo: f64,
    /// Highest weight of a service in computed targets.
    pub bound_hi: f64,
    /// Annual risk-free rate.
    pub risk_free_rate: f64,
    /// Fraction of full Kelly.
    pub kelly_multiplier: f64,
    /// Least venue time between the starts of two solves, seconds.
    pub min_interval_secs: u64,
    /// Black–Litterman prior and views.
    pub black_litterman: BlackLittermanSettings,
    /// Volatility-spike trigger.
    pub vol_spike: VolSpikeSettings,
}

/// `[optimizer.black_litterman]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlackLittermanSettings {
    /// Prior uncertainty τ.
    pub tau: f64,
    /// Risk aversion δ.
    pub risk_aversion: f64,
    /// Views, possibly none.
    pub views: Vec<ViewSettings>,
}

/// One `[[optimizer.black_litterman.views]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewSettings {
    /// Service weights of the view portfolio.
    pub portfolio: BTreeMap<String, f64>,
    /// Annual total return asserted.
    pub expected_return: f64,
    /// Idzorek confidence; absent for He–Litterman.
    pub confidence: Option<f64>,
}

/// `[optimizer.vol_spike]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolSpikeSettings {
    /// Recent over baseline volatility that counts as a spike.
    pub ratio: f64,
    /// Price moves in the recent window.
    pub window: u32,
    /// Price moves of baseline needed first.
    pub history: u32,
}

/// Days of returns a covariance of the six services needs at least (n + 1).
pub const MIN_LOOKBACK_DAYS: u32 = 7;

/// `[store]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSettings {
    /// Database file.
    pub path: PathBuf,
}

/// `[output]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSettings {
    /// `text` or `json`.
    pub format: OutputFormat,
    /// stderr log filter.
    pub log: String,
}

/// Console format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// Readable lines.
    Text,
    /// JSON lines.
    Json,
}

/// Settings checked and converted into the types the system runs on.
#[derive(Debug, Clone)]
pub struct Validated {
    /// The raw settings (safe to print: they hold no secret).
    pub settings: Settings,
    /// Targets.
    pub targets: TargetAllocation,
    /// Policy in exact decimals.
    pub policy: PolicyConfig,
    /// Daily tick time.
    pub tick_utc: time::Time,
    /// REST timeout.
    pub request_timeout: Duration,
    /// Websocket idle limit.
    pub idle_timeout: Duration,
    /// Reconnect schedule.
    pub reconnect: Backoff,
    /// Unannounced balance changes above this fraction of the portfolio raise an alert.
    pub balance_alert_fraction: Decimal,
    /// Risk limits (a `None` is off).
    pub risk: RiskLimits,
    /// Optimizer settings.
    pub optimizer: OptimizerConfig,
}

/// Sections whose keys are names chosen by the user (validated later, by meaning).
const OPEN_SECTIONS: [&str; 1] = ["targets"];

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
        let merged = builder
            .build()
            .map_err(|e| ConfigError(vec![e.to_string()]))?;
        // Unknown keys first, all of them, then every value problem of the rest: serde's
        // `deny_unknown_fields` alone would stop at the first unknown key and hide the others.
        let mut cleaned = merged
            .clone()
            .try_deserialize::<serde_json::Value>()
            .map_err(|e| ConfigError(vec![e.to_string()]))?;
        let known = known_keys();
        let unknown = unknown_keys(&cleaned, &known);
        if unknown.is_empty() {
            return merged
                .try_deserialize::<Settings>()
                .map_err(|e| ConfigError(vec![e.to_string()]));
        }
        let mut problems = unknown;
        strip_unknown(&mut cleaned, &known);
        match serde_json::from_value::<Settings>(cleaned) {
            Ok(settings) => {
                if let Err(ConfigError(more)) = settings.validate() {
                    problems.extend(more);
                }
            }
            Err(error) => problems.push(error.to_string()),
        }
        Err(ConfigError(problems))
    }

    /// Checks every value, collecting all problems.
    ///
    /// # Errors
    /// A [`ConfigError`] with one line per problem, each naming its key.
    pub fn validate(self) -> Result<Validated, ConfigError> {
        let mut problems = Vec::new();
        let mut decimal = |key: &str, value: f64| match decimal_from_f64(value, key) {
            Ok(d) => d,
            Err(e) => {
                problems.push(format!("{key}: {e}"));
                Decimal::ZERO
            }
        };
        let targets_named: BTreeMap<String, Decimal> = self
            .targets
            .iter()
            .map(|(name, weight)| (name.clone(), decimal(&format!("targets.{name}"), *weight)))
            .collect();
        let band = decimal("policy.band", self.policy.band);
        let relative_band = decimal("policy.relative_band", self.policy.relative_band);
        let min_trade_usdc = decimal("policy.min_trade_usdc", self.policy.min_trade_usdc);
        let large_win_fraction =
            decimal("policy.large_win_fraction", self.policy.large_win_fraction);
        let balance_alert_fraction = decimal(
            "venue.balance_alert_fraction",
            self.venue.balance_alert_fraction,
        );
        let max_leg_usdc = decimal("risk.max_leg_usdc", self.risk.max_leg_usdc);
        let max_daily_turnover_usdc = decimal(
            "risk.max_daily_turnover_usdc",
            self.risk.max_daily_turnover_usdc,
        );
        let targets = match TargetAllocation::from_named(&targets_named) {
            Ok(targets) => Some(targets),
            Err(errors) => {
                problems.extend(errors.0.iter().map(ToString::to_string));
                None
            }
        };
        if band <= Decimal::ZERO || band >= Decimal::ONE {
            problems.push(format!("policy.band: {band} must be in (0, 1)"));
        }
        if relative_band < Decimal::ZERO {
            problems.push(format!(
                "policy.relative_band: {relative_band} must not be negative (0 disables it)"
            ));
        }
        if min_trade_usdc < Decimal::ZERO {
            problems.push(format!(
                "policy.min_trade_usdc: {min_trade_usdc} must not be negative"
            ));
        }
        if large_win_fraction <= Decimal::ZERO {
            problems.push(format!(
                "policy.large_win_fraction: {large_win_fraction} must be positive"
            ));
        }
        for (key, usdc) in [
            ("risk.max_leg_usdc", max_leg_usdc),
            ("risk.max_daily_turnover_usdc", max_daily_turnover_usdc),
        ] {
            if usdc < Decimal::ZERO {
                problems.push(format!(
                    "{key}: {usdc} must not be negative (0 disables it)"
                ));
            }
        }
        let risk = RiskLimits {
            max_leg_usdc: (max_leg_usdc > Decimal::ZERO).then_some(max_leg_usdc),
            max_daily_turnover_usdc: (max_daily_turnover_usdc > Decimal::ZERO)
                .then_some(max_daily_turnover_usdc),
        };
        if !(Decimal::ZERO..Decimal::ONE).contains(&balance_alert_fraction) {
            problems.push(format!(
                "venue.balance_alert_fraction: {balance_alert_fraction} must be in [0, 1) (0 disables the alert)"
            ));
        }
        let tick_utc = match parse_hh_mm(&self.clock.tick_utc) {
            Some(t) => t,
            None => {
                problems.push(format!(
                    "clock.tick_utc: `{}` is not a UTC time HH:MM",
                    self.clock.tick_utc
                ));
                time::Time::MIDNIGHT
            }
        };
        if !(self.sim.speed.is_finite() && self.sim.speed > 0.0) {
            problems.push(format!(
                "sim.speed: {} must be a positive number",
                self.sim.speed
            ));
        }
        if self.venue.agent_id.trim().is_empty()
            || !self
                .venue
                .agent_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            problems.push(format!(
                "venue.agent_id: `{}` must be non-empty letters, digits, `-` or `_`",
                self.venue.agent_id
            ));
        }
        if self.venue.mode == VenueMode::Remote
            && let Err(e) = ballast::venue::client::api_base_url(&self.venue.url)
        {
            problems.push(format!("venue.url: {e}"));
        }
        for (key, value) in [
            ("venue.request_timeout_ms", self.venue.request_timeout_ms),
            ("venue.idle_timeout_ms", self.venue.idle_timeout_ms),
            ("venue.reconnect_max_ms", self.venue.reconnect_max_ms),
        ] {
            if value == 0 {
                problems.push(format!("{key}: must be positive"));
            }
        }
        if self.venue.reconnect_base_ms > self.venue.reconnect_max_ms {
            problems.push(format!(
                "venue.reconnect_base_ms: {} exceeds venue.reconnect_max_ms {}",
                self.venue.reconnect_base_ms, self.venue.reconnect_max_ms
            ));
        }
        if self.store.path.as_os_str().is_empty() {
            problems.push("store.path: must not be empty".to_owned());
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.output.log) {
            problems.push(format!("output.log: `{}`: {e}", self.output.log));
        }
        let optimizer = validate_optimizer(&self.optimizer, targets.as_ref(), &mut problems);
        let (Some(targets), true) = (targets, problems.is_empty()) else {
            return Err(ConfigError(problems));
        };
        let policy = PolicyConfig {
            bands: DriftBands {
                absolute: band,
                relative: (relative_band > Decimal::ZERO).then_some(relative_band),
            },
            rebalance_to: self.policy.rebalance_to,
            min_trade_usdc,
            large_win_fraction,
            threshold_on_events: self.policy.threshold_on_events,
            calendar_floor_days: (self.policy.calendar_floor_days > 0)
                .then_some(self.policy.calendar_floor_days),
            route_referral_income: self.policy.route_referral_income,
        };
        Ok(Validated {
            request_timeout: Duration::from_millis(self.venue.request_timeout_ms),
            idle_timeout: Duration::from_millis(self.venue.idle_timeout_ms),
            reconnect: Backoff {
                base: Duration::from_millis(self.venue.reconnect_base_ms),
                max: Duration::from_millis(self.venue.reconnect_max_ms),
            },
            balance_alert_fraction,
            risk,
            targets,
            policy,
            tick_utc,
            optimizer,
            settings: self,
        })
    }
}

/// Checks `[optimizer]`, pushing one problem per bad key; the result is only used when there
/// are none.
fn validate_optimizer(
    raw: &OptimizerSettings,
    targets: Option<&TargetAllocation>,
    problems: &mut Vec<String>,
) -> OptimizerConfig {
    let mut finite_in = |key: &str, value: f64, lo: f64, hi: f64, what: &str| {
        if !(value.is_finite() && value > lo && value <= hi) {
            problems.push(format!("optimizer.{key}: {value} must be {what}"));
        }
    };
    finite_in(
        "risk_free_rate",
        raw.risk_free_rate,
        -1.0,
        1.0,
        "a finite annual rate in (-1, 1]",
    );
    finite_in(
        "kelly_multiplier",
        raw.kelly_multiplier,
        0.0,
        1.0,
        "in (0, 1] (1 is full Kelly)",
    );
    finite_in(
        "black_litterman.tau",
        raw.black_litterman.tau,
        0.0,
        f64::MAX,
        "positive",
    );
    finite_in(
        "black_litterman.risk_aversion",
        raw.black_litterman.risk_aversion,
        0.0,
        f64::MAX,
        "positive",
    );
    finite_in(
        "vol_spike.ratio",
        raw.vol_spike.ratio,
        1.0,
        f64::MAX,
        "above 1",
    );
    let services = Service::ALL.len() as f64;
    let (lo, hi) = (raw.bound_lo, raw.bound_hi);
    if !(lo.is_finite() && lo >= 0.0 && lo * services <= 1.0) {
        problems.push(format!(
            "optimizer.bound_lo: {lo} must be in [0, 1/6] so six services can sum to 1"
        ));
    }
    if !(hi.is_finite() && hi <= 1.0 && hi * services >= 1.0) {
        problems.push(format!(
            "optimizer.bound_hi: {hi} must be in [1/6, 1] so six services can sum to 1"
        ));
    }
    if lo > hi {
        problems.push(format!(
            "optimizer.bound_lo: {lo} exceeds optimizer.bound_hi {hi}"
        ));
    }
    if raw.lookback_days < MIN_LOOKBACK_DAYS {
        problems.push(format!(
            "optimizer.lookback_days: {} is too short; a covariance of six services needs at \
             least {MIN_LOOKBACK_DAYS} days",
            raw.lookback_days
        ));
    }
    if raw.vol_spike.window < 2 {
        problems.push(format!(
            "optimizer.vol_spike.window: {} must be at least 2 price moves",
            raw.vol_spike.window
        ));
    }
    if raw.vol_spike.history < 1 {
        problems.push("optimizer.vol_spike.history: must be at least 1 price move".to_owned());
    }
    // The methods that hold the reserve at its target need that target inside the bounds.
    if matches!(
        raw.method,
        OptimizerMethod::RiskParity | OptimizerMethod::BlackLitterman
    ) && let Some(targets) = targets
    {
        let reserve = decimal_to_f64(targets.weight(Service::Reserve));
        if reserve < lo || reserve > hi || reserve >= 1.0 {
            problems.push(format!(
                "targets.reserve: {reserve} must lie within optimizer.bound_lo {lo} and \
                 optimizer.bound_hi {hi}: method {} holds the reserve at its target",
                raw.method
            ));
        }
    }
    let mut views = Vec::with_capacity(raw.black_litterman.views.len());
    for (k, view) in raw.black_litterman.views.iter().enumerate() {
        let key = format!("optimizer.black_litterman.views[{k}]");
        let mut portfolio = ServiceMap::<f64>::default();
        for (name, weight) in &view.portfolio {
            match name.parse::<Service>() {
                Ok(service) if weight.is_finite() => portfolio[service] = *weight,
                Ok(_) => problems.push(format!("{key}.portfolio.{name}: {weight} is not finite")),
                Err(e) => problems.push(format!("{key}.portfolio.{name}: {e}")),
            }
        }
        if portfolio.values().all(|w| *w == 0.0) {
            problems.push(format!(
                "{key}.portfolio: names no service with a non-zero weight"
            ));
        }
        if !view.expected_return.is_finite() {
            problems.push(format!(
                "{key}.expected_return: {} is not finite",
                view.expected_return
            ));
        }
        if let Some(c) = view.confidence
            && !(c.is_finite() && c > 0.0 && c <= 1.0)
        {
            problems.push(format!("{key}.confidence: {c} must be in (0, 1]"));
        }
        views.push(ServiceView {
            portfolio,
            expected_return: view.expected_return,
            confidence: view.confidence,
        });
    }
    OptimizerConfig {
        method: raw.method,
        lookback_days: raw.lookback_days,
        covariance: raw.covariance,
        bound_lo: lo,
        bound_hi: hi,
        risk_free_rate: raw.risk_free_rate,
        kelly_multiplier: raw.kelly_multiplier,
        min_interval: Duration::from_secs(raw.min_interval_secs),
        black_litterman: BlackLittermanConfig {
            tau: raw.black_litterman.tau,
            risk_aversion: raw.black_litterman.risk_aversion,
            views,
        },
        vol_spike: VolSpikeConfig {
            ratio: raw.vol_spike.ratio,
            window: raw.vol_spike.window as usize,
            history: raw.vol_spike.history as usize,
        },
    }
}

fn parse_hh_mm(text: &str) -> Option<time::Time> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m) = (h.parse::<u8>().ok()?, m.parse::<u8>().ok()?);
    time::Time::from_hms(h, m, 0).ok()
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn load(toml: &str, env: &[(&str, &str)]) -> Result<Validated, ConfigError> {
        // One directory per call: tests run in parallel and each removes its own.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("ballast-settings-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("test.toml");
        std::fs::File::create(&path)
            .and_then(|mut f| f.write_all(toml.as_bytes()))
            .expect("writes");
        let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
        let result = Settings::load_with_env(&[path], env).and_then(Settings::validate);
        let _ = std::fs::remove_dir_all(&dir);
        result
    }

    #[test]
    fn the_defaults_are_valid() {
        let validated = Settings::load_with_env(&[], Vec::new())
            .and_then(Settings::validate)
            .expect("defaults validate");
        assert_eq!(validated.targets, TargetAllocation::conservative());
        assert_eq!(validated.policy.bands.absolute, Decimal::new(5, 2));
        assert_eq!(validated.optimizer.method, OptimizerMethod::Fixed);
        assert_eq!(validated.optimizer.risk_free_rate, 0.045);
        assert_eq!(
            (validated.optimizer.bound_lo, validated.optimizer.bound_hi),
            (0.01, 0.80)
        );
        assert!(validated.optimizer.black_litterman.views.is_empty());
    }

    #[test]
    fn bad_config_names_the_field() {
        struct TestCase {
            toml: &'static str,
            env: &'static [(&'static str, &'static str)],
            expected_fragment: &'static str,
        }
        let cases = [
            // TC0: targets summing to 0.9.
            TestCase {
                toml: "[targets]\ncasino = 0.10\n",
                env: &[],
                expected_fragment: "targets",
            },
            // TC1: an unknown service.
            TestCase {
                toml: "[targets]\npoker = 0.0\n",
                env: &[],
                expected_fragment: "poker",
            },
            // TC2: a negative threshold.
            TestCase {
                toml: "[policy]\nband = -0.05\n",
                env: &[],
                expected_fragment: "policy.band",
            },
            // TC3: an unknown key.
            TestCase {
                toml: "[policy]\nbnad = 0.05\n",
                env: &[],
                expected_fragment: "bnad",
            },
            // TC4: a bad value from the environment.
            TestCase {
                toml: "",
                env: &[("BALLAST__CLOCK__TICK_UTC", "25:00")],
                expected_fragment: "clock.tick_utc",
            },
            // TC5: a wrong type.
            TestCase {
                toml: "[sim]\nspeed = \"fast\"\n",
                env: &[],
                expected_fragment: "speed",
            },
            // TC6: an unknown optimizer method.
            TestCase {
                toml: "[optimizer]\nmethod = \"magic\"\n",
                env: &[],
                expected_fragment: "magic",
            },
            // TC7: bounds six services cannot sum to 1 under.
            TestCase {
                toml: "[optimizer]\nbound_lo = 0.2\n",
                env: &[],
                expected_fragment: "optimizer.bound_lo",
            },
            // TC8: a cap below 1/6.
            TestCase {
                toml: "",
                env: &[("BALLAST__OPTIMIZER__BOUND_HI", "0.1")],
                expected_fragment: "optimizer.bound_hi",
            },
            // TC9: over-betting.
            TestCase {
                toml: "[optimizer]\nkelly_multiplier = 1.5\n",
                env: &[],
                expected_fragment: "optimizer.kelly_multiplier",
            },
            // TC10: too short a history.
            TestCase {
                toml: "[optimizer]\nlookback_days = 3\n",
                env: &[],
                expected_fragment: "optimizer.lookback_days",
            },
            // TC11: a view naming an unknown service.
            TestCase {
                toml: "[[optimizer.black_litterman.views]]\nportfolio = { poker = 1.0 }\nexpected_return = 0.1\n",
                env: &[],
                expected_fragment: "optimizer.black_litterman.views[0].portfolio.poker",
            },
            // TC12: a view confidence above 1.
            TestCase {
                toml: "[[optimizer.black_litterman.views]]\nportfolio = { trading = 1.0 }\nexpected_return = 0.1\nconfidence = 2.0\n",
                env: &[],
                expected_fragment: "optimizer.black_litterman.views[0].confidence",
            },
            // TC13: risk parity holds the reserve, whose target is under the floor.
            TestCase {
                toml: "[optimizer]\nmethod = \"risk-parity\"\nbound_lo = 0.12\n",
                env: &[],
                expected_fragment: "targets.reserve",
            },
            // TC14: an unknown covariance estimator.
            TestCase {
                toml: "[optimizer]\ncovariance = \"shrunk\"\n",
                env: &[],
                expected_fragment: "shrunk",
            },
            // TC15: a spike ratio that is not above 1.
            TestCase {
                toml: "[optimizer.vol_spike]\nratio = 0.5\n",
                env: &[],
                expected_fragment: "optimizer.vol_spike.ratio",
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            let error = load(case.toml, case.env).expect_err(&format!("TC{i} must fail"));
            let text = error.to_string();
            assert!(text.contains(case.expected_fragment), "TC{i}: {text}");
        }
    }

    #[test]
    fn the_live_example_loads() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../config/live.example.toml");
        let validated = Settings::load_with_env(&[path], Vec::new())
            .and_then(Settings::validate)
            .expect("the example validates");
        assert_eq!(validated.settings.venue.mode, VenueMode::Remote);
        assert_eq!(validated.optimizer.method, OptimizerMethod::Fixed);
    }

    #[test]
    fn optimizer_settings_load_with_views() {
        let validated = load(
            "[optimizer]\nmethod = \"black-litterman\"\ncovariance = \"ledoit-wolf\"\n\
             min_interval_secs = 0\n\
             [[optimizer.black_litterman.views]]\nportfolio = { trading = 1.0, wallet = -1.0 }\n\
             expected_return = 0.05\nconfidence = 0.6\n",
            &[("BALLAST__OPTIMIZER__KELLY_MULTIPLIER", "0.5")],
        )
        .expect("valid");
        let optimizer = &validated.optimizer;
        assert_eq!(optimizer.method, OptimizerMethod::BlackLitterman);
        assert_eq!(optimizer.covariance, CovarianceMethod::LedoitWolf);
        assert_eq!(optimizer.kelly_multiplier, 0.5);
        assert_eq!(optimizer.min_interval, Duration::ZERO);
        let view = &optimizer.black_litterman.views[0];
        assert_eq!(view.portfolio[Service::Trading], 1.0);
        assert_eq!(view.portfolio[Service::Wallet], -1.0);
        assert_eq!(view.portfolio[Service::Casino], 0.0);
        assert_eq!(view.confidence, Some(0.6));
    }

    #[test]
    fn all_problems_are_reported_at_once() {
        let error = load("[policy]\nband = 2.0\nmin_trade_usdc = -1.0\n", &[]).expect_err("fails");
        assert_eq!(error.0.len(), 2, "{error}");
    }

    #[test]
    fn the_environment_overrides_files() {
        let validated = load(
            "[policy]\nband = 0.04\n",
            &[("BALLAST__POLICY__BAND", "0.03")],
        )
        .expect("valid");
        assert_eq!(validated.policy.bands.absolute, Decimal::new(3, 2));
    }
}
