//! The sections of the configuration as read: one serde struct per `[section]`, each denying
//! unknown keys, with values in the configuration's own units and conventions (`f64` amounts,
//! milliseconds, 0 for "off"). [`super::Settings::validate`] turns them into the core's types.
//!
//! # Invariants
//! - Every field is a key of `config/default.toml`, with its name and nothing more: defaults
//!   and checks live elsewhere (the defaults file, the core's constructors).

use std::{collections::BTreeMap, path::PathBuf};

use ballast::{
    drift::RebalanceTo,
    hedge::RatioMethod,
    math::returns::CovarianceMethod,
    optimizer::OptimizerMethod,
    policy::{PolicyKind, responses::FreedWeightTo},
    tax::{DisposalMethod, Jurisdiction},
};
use serde::{Deserialize, Serialize};

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
    /// Hours the casino's bankroll stays locked after a large win; 0 never locks.
    pub win_lock_hours: u32,
    /// Correlation of the casino's returns with BTC's; 0 for none.
    pub casino_btc_correlation: f64,
}

/// `[policy]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySettings {
    /// The trigger rule.
    pub kind: PolicyKind,
    /// Absolute band; 0 switches it off.
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
    /// The calendar policy's period in days.
    pub calendar_days: u32,
    /// Referral routing.
    pub route_referral_income: bool,
    /// Drawdown protection.
    pub drawdown: DrawdownSettings,
    /// Volatility-spike response.
    pub vol_spike: PolicyVolSpikeSettings,
}

/// `[policy.drawdown]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrawdownSettings {
    /// On or off.
    pub enabled: bool,
    /// Fall from the running peak that cuts.
    pub threshold: f64,
    /// Cut target = target × this.
    pub cut_factor: f64,
    /// Restored within this fall of the peak.
    pub recovery: f64,
    /// Or after this many days; 0: only on recovery.
    pub restore_after_days: u32,
    /// `reserve` or `pro-rata`.
    pub freed_to: FreedWeightTo,
}

/// `[policy.vol_spike]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyVolSpikeSettings {
    /// On or off.
    pub enabled: bool,
    /// Daily returns in the recent window.
    pub window: u32,
    /// Daily returns in the longer history.
    pub history: u32,
    /// Spike above this ratio.
    pub ratio: f64,
    /// Calm below this ratio.
    pub calm_ratio: f64,
    /// Conservative targets by service name.
    pub targets: BTreeMap<String, f64>,
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
    /// Oldest plan (companion's clock) that may still send a leg.
    pub max_plan_age_secs: u64,
}

/// `[risk]`: limits, 0 for off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskSettings {
    /// Largest single transfer.
    pub max_leg_usdc: f64,
    /// Most USDC moved per UTC day.
    pub max_daily_turnover_usdc: f64,
    /// Largest single transfer as a fraction of the portfolio.
    pub max_leg_fraction: f64,
    /// Most moved per UTC day as a multiple of the portfolio.
    pub max_daily_turnover_fraction: f64,
    /// A portfolio change by this factor waits for a confirming snapshot.
    pub max_jump_factor: f64,
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
    /// Penalty per unit of distance from the current weights; 0 off.
    pub turnover_penalty: f64,
    /// Most of the portfolio one solve may move; 1 uncapped.
    pub max_turnover: f64,
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

/// `[hedge]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HedgeSettings {
    /// Whether the HedgeExecutor runs.
    pub enabled: bool,
    /// Overweight (weight units) above which a locked part is hedged.
    pub threshold: f64,
    /// `estimated` or `fixed`.
    pub ratio: RatioMethod,
    /// Perp market to short.
    pub market: String,
    /// Correlation floor of an estimated ratio.
    pub min_correlation: f64,
    /// Leverage of every hedge order.
    pub max_leverage: u32,
    /// Largest hedge notional.
    pub max_notional_usdc: f64,
    /// Smallest hedge notional.
    pub min_notional_usdc: f64,
    /// Days of returns for the estimate.
    pub lookback_days: u32,
}

/// `[notify]`: where alerts are delivered, and when they are raised. `Debug` shows the webhook
/// URL's host only: webhook URLs often carry a token.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySettings {
    /// Webhook URL; empty for none.
    pub webhook_url: String,
    /// Command and arguments; empty for none.
    pub command: Vec<String>,
    /// Least severity delivered.
    pub min_severity: ballast::alerting::Severity,
    /// Attempts per delivery.
    pub max_attempts: u32,
    /// Backoff base.
    pub retry_base_ms: u64,
    /// Backoff cap.
    pub retry_max_ms: u64,
    /// Per-delivery timeout.
    pub timeout_ms: u64,
    /// Alerts waiting for delivery.
    pub queue_capacity: usize,
    /// Consecutive sent legs failing that raise an alert.
    pub leg_failures: u32,
    /// Stream-down seconds that raise an alert.
    pub stream_down_secs: u64,
}

impl std::fmt::Debug for NotifySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let webhook =
            (!self.webhook_url.is_empty()).then(|| crate::notify::redact_url(&self.webhook_url));
        f.debug_struct("NotifySettings")
            .field("webhook_url", &webhook)
            .field("command", &self.command)
            .field("min_severity", &self.min_severity)
            .field("max_attempts", &self.max_attempts)
            .field("retry_base_ms", &self.retry_base_ms)
            .field("retry_max_ms", &self.retry_max_ms)
            .field("timeout_ms", &self.timeout_ms)
            .field("queue_capacity", &self.queue_capacity)
            .field("leg_failures", &self.leg_failures)
            .field("stream_down_secs", &self.stream_down_secs)
            .finish()
    }
}

/// `[store]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSettings {
    /// Database file.
    pub path: PathBuf,
}

/// `[http]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// `IP:port` to serve the HTTP API on; empty switches it off.
    pub listen: String,
    /// Whether an address other than loopback may be bound.
    pub allow_remote: bool,
}

/// `[control]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlSettings {
    /// The token file; empty for `control.token` in the data directory.
    pub token_file: PathBuf,
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

/// `[tax]`: tax lots and tax-loss harvesting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxSettings {
    /// Run the TaxHarvester.
    pub enabled: bool,
    /// `fifo`, `hifo` or `specific`.
    pub method: DisposalMethod,
    /// Days held beyond which a lot is long-term.
    pub long_term_days: u32,
    /// Least loss a harvest realizes, USDC.
    pub min_loss_usdc: f64,
    /// Tax rate a harvested loss saves.
    pub rate: f64,
    /// `us` or `none`.
    pub jurisdiction: Jurisdiction,
    /// Wash-sale window, days each side of a loss sale.
    pub wash_sale_days: u32,
    /// Cost of one wallet trade, basis points of its notional.
    pub trade_cost_bps: f64,
    /// Expected cost of holding a substitute through the window, basis points.
    pub holding_cost_bps: f64,
    /// Substitutes by asset, tried in order.
    pub substitutes: BTreeMap<String, Vec<String>>,
}
