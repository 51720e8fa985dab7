//! From the sections as read to the types the system runs on, every problem collected.
//!
//! The rules live with the types: targets, drift bands, the policy, risk limits, the
//! optimizer, the hedge and the tax rules check themselves ([`TargetAllocation::from_named`],
//! [`DriftBands::new`], [`PolicyConfig::validate`], [`RiskLimits::new`],
//! [`OptimizerConfig::validate`], [`HedgeConfig::validate`], [`TaxConfig::validate`]), naming
//! keys relative to their section; this module converts units (`f64` to `Decimal`, milliseconds to
//! durations, service names to services), calls them, and puts each problem under its section.
//! Only what no core type holds is checked here: the venue connection, the clock, the simulated
//! venue's speed, the store path and the log filter.
//!
//! # Invariants
//! - Every problem is reported, one line each, naming its key in full (`policy.band: ...`).
//! - A [`Validated`] exists only when there is no problem.

use std::{collections::BTreeMap, time::Duration};

use ballast::{
    drift::DriftBands,
    hedge::HedgeConfig,
    money::decimal_from_f64,
    optimizer::{BlackLittermanConfig, OptimizerConfig, ServiceView, VolSpikeConfig},
    policy::{
        PolicyConfig, VolSpikeResponse,
        responses::{DrawdownConfig, SpikeConfig},
    },
    risk::{RiskLimits, RiskSettingsValues},
    service::{Service, ServiceMap},
    targets::TargetAllocation,
    tax::TaxConfig,
    venue::backoff::Backoff,
};
use rust_decimal::Decimal;

use super::{ConfigError, OptimizerSettings, Settings, VenueMode};
use crate::notify::NotifyConfig;

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
    /// How long a stop lets the plan in flight finish (`executor.shutdown_deadline_ms`).
    pub shutdown_deadline: Duration,
    /// Unannounced balance changes above this fraction of the portfolio raise an alert.
    pub balance_alert_fraction: Decimal,
    /// Risk limits (a `None` is off).
    pub risk: RiskLimits,
    /// Optimizer settings.
    pub optimizer: OptimizerConfig,
    /// Hedge settings.
    pub hedge: HedgeConfig,
    /// Where alerts go, and when they are raised.
    pub notify: NotifyConfig,
    /// The oldest plan (the companion's clock) that may still send a leg.
    pub max_plan_age: Duration,
    /// Tax rules (checked whether or not `tax.enabled` is on).
    pub tax: TaxConfig,
    /// Where the HTTP API listens (`None`: off).
    pub http_listen: Option<std::net::SocketAddr>,
}

/// The value of a core check, its problems moved to `problems`, each written by `describe`
/// (which puts it under its section).
fn checked<T, E>(
    result: Result<T, Vec<E>>,
    problems: &mut Vec<String>,
    describe: impl Fn(E) -> String,
) -> Option<T> {
    result
        .map_err(|errors| problems.extend(errors.into_iter().map(describe)))
        .ok()
}

impl Settings {
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
        let conservative_named: Option<BTreeMap<String, Decimal>> =
            self.policy.vol_spike.enabled.then(|| {
                self.policy
                    .vol_spike
                    .targets
                    .iter()
                    .map(|(name, weight)| {
                        let key = format!("policy.vol_spike.targets.{name}");
                        (name.clone(), decimal(&key, *weight))
                    })
                    .collect()
            });
        let band = decimal("policy.band", self.policy.band);
        let relative_band = decimal("policy.relative_band", self.policy.relative_band);
        let min_trade_usdc = decimal("policy.min_trade_usdc", self.policy.min_trade_usdc);
        let large_win_fraction =
            decimal("policy.large_win_fraction", self.policy.large_win_fraction);
        let balance_alert_fraction = decimal(
            "venue.balance_alert_fraction",
            self.venue.balance_alert_fraction,
        );
        let risk_values = RiskSettingsValues {
            max_leg_usdc: decimal("risk.max_leg_usdc", self.risk.max_leg_usdc),
            max_daily_turnover_usdc: decimal(
                "risk.max_daily_turnover_usdc",
                self.risk.max_daily_turnover_usdc,
            ),
            max_leg_fraction: decimal("risk.max_leg_fraction", self.risk.max_leg_fraction),
            max_daily_turnover_fraction: decimal(
                "risk.max_daily_turnover_fraction",
                self.risk.max_daily_turnover_fraction,
            ),
            max_jump_factor: decimal("risk.max_jump_factor", self.risk.max_jump_factor),
        };
        let tax = TaxConfig::from_settings(
            self.tax.method,
            self.tax.long_term_days,
            decimal("tax.min_loss_usdc", self.tax.min_loss_usdc),
            decimal("tax.rate", self.tax.rate),
            self.tax.jurisdiction,
            self.tax.wash_sale_days,
            self.tax.substitutes.clone(),
            decimal("tax.trade_cost_bps", self.tax.trade_cost_bps),
            decimal("tax.holding_cost_bps", self.tax.holding_cost_bps),
        );
        let hedge_threshold = decimal("hedge.threshold", self.hedge.threshold);
        let hedge_max_notional_usdc =
            decimal("hedge.max_notional_usdc", self.hedge.max_notional_usdc);
        let hedge_min_notional_usdc =
            decimal("hedge.min_notional_usdc", self.hedge.min_notional_usdc);
        // Target errors name `targets.<service>` themselves.
        let targets = checked(
            TargetAllocation::from_named(&targets_named).map_err(|errors| errors.0),
            &mut problems,
            |e| e.to_string(),
        );
        let bands = checked(DriftBands::new(band, relative_band), &mut problems, |e| {
            format!("policy.{e}")
        });
        let raw = &self.policy;
        let drawdown = &raw.drawdown;
        let spike = &raw.vol_spike;
        let conservative = conservative_named.and_then(|named| {
            checked(
                TargetAllocation::from_named(&named).map_err(|errors| errors.0),
                &mut problems,
                |e| format!("policy.vol_spike.{e}"),
            )
        });
        let policy = PolicyConfig {
            kind: raw.kind,
            // A stand-in while the bands are wrong: their problems are listed already.
            bands: bands.unwrap_or_default(),
            rebalance_to: raw.rebalance_to,
            min_trade_usdc,
            large_win_fraction,
            threshold_on_events: raw.threshold_on_events,
            calendar_floor_days: (raw.calendar_floor_days > 0).then_some(raw.calendar_floor_days),
            calendar_days: raw.calendar_days,
            route_referral_income: raw.route_referral_income,
            drawdown: drawdown.enabled.then_some(DrawdownConfig {
                threshold: drawdown.threshold,
                cut_factor: drawdown.cut_factor,
                recovery: drawdown.recovery,
                restore_after_days: (drawdown.restore_after_days > 0)
                    .then_some(drawdown.restore_after_days),
                freed_to: drawdown.freed_to,
            }),
            vol_spike: conservative.map(|targets| VolSpikeResponse {
                spike: SpikeConfig {
                    window: spike.window,
                    history: spike.history,
                    ratio: spike.ratio,
                    calm_ratio: spike.calm_ratio,
                },
                targets,
            }),
        };
        checked(policy.validate(), &mut problems, |e| format!("policy.{e}"));
        let risk = checked(RiskLimits::new(risk_values), &mut problems, |e| {
            format!("risk.{e}")
        });
        if !(Decimal::ZERO..Decimal::ONE).contains(&balance_alert_fraction) {
            problems.push(format!(
                "venue.balance_alert_fraction: {balance_alert_fraction} must be in [0, 1) (0 disables the alert)"
            ));
        }
        let tick_utc = parse_hh_mm(&self.clock.tick_utc);
        if tick_utc.is_none() {
            problems.push(format!(
                "clock.tick_utc: `{}` is not a UTC time HH:MM",
                self.clock.tick_utc
            ));
        }
        self.check_connections(&mut problems);
        checked(tax.validate(), &mut problems, |e| format!("tax.{e}"));
        let hedge = HedgeConfig {
            enabled: self.hedge.enabled,
            threshold: hedge_threshold,
            ratio: self.hedge.ratio,
            market: self.hedge.market.clone(),
            min_correlation: self.hedge.min_correlation,
            max_leverage: self.hedge.max_leverage,
            max_notional_usdc: hedge_max_notional_usdc,
            min_notional_usdc: hedge_min_notional_usdc,
            lookback_days: self.hedge.lookback_days,
        };
        let notify = self.notify_config(&mut problems);
        let http_listen = crate::http::listen_address(&self.http).unwrap_or_else(|problem| {
            problems.push(problem);
            None
        });
        let optimizer = optimizer_config(&self.optimizer, &mut problems);
        checked(optimizer.validate(targets.as_ref()), &mut problems, |e| {
            e.in_section("optimizer")
        });
        checked(hedge.validate(), &mut problems, |e| format!("hedge.{e}"));
        let (Some(targets), Some(risk), Some(tick_utc), true) =
            (targets, risk, tick_utc, problems.is_empty())
        else {
            return Err(ConfigError(problems));
        };
        Ok(Validated {
            request_timeout: Duration::from_millis(self.venue.request_timeout_ms),
            idle_timeout: Duration::from_millis(self.venue.idle_timeout_ms),
            reconnect: Backoff {
                base: Duration::from_millis(self.venue.reconnect_base_ms),
                max: Duration::from_millis(self.venue.reconnect_max_ms),
            },
            shutdown_deadline: Duration::from_millis(self.executor.shutdown_deadline_ms),
            balance_alert_fraction,
            risk,
            targets,
            policy,
            tick_utc,
            optimizer,
            hedge,
            notify,
            max_plan_age: Duration::from_secs(self.executor.max_plan_age_secs),
            tax,
            http_listen,
            settings: self,
        })
    }

    /// What only the shell reads: the simulated venue's speed, the venue connection, the store
    /// and the log filter.
    fn check_connections(&self, problems: &mut Vec<String>) {
        if !(self.sim.speed.is_finite() && self.sim.speed > 0.0) {
            problems.push(format!(
                "sim.speed: {} must be a positive number",
                self.sim.speed
            ));
        }
        if !(self.sim.casino_btc_correlation.is_finite()
            && self.sim.casino_btc_correlation.abs() < 1.0)
        {
            problems.push(format!(
                "sim.casino_btc_correlation: {} must be in (-1, 1)",
                self.sim.casino_btc_correlation
            ));
        }
        if self.sim.win_lock_hours > ballast::sim::MAX_ADVANCE_HOURS {
            problems.push(format!(
                "sim.win_lock_hours: {} must be at most {}",
                self.sim.win_lock_hours,
                ballast::sim::MAX_ADVANCE_HOURS
            ));
        }
        let venue = &self.venue;
        if venue.agent_id.trim().is_empty()
            || !venue
                .agent_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            problems.push(format!(
                "venue.agent_id: `{}` must be non-empty letters, digits, `-` or `_`",
                venue.agent_id
            ));
        }
        if venue.mode == VenueMode::Remote
            && let Err(e) = ballast::venue::client::api_base_url(&venue.url)
        {
            problems.push(format!("venue.url: {e}"));
        }
        require_positive(
            problems,
            &[
                ("venue.request_timeout_ms", venue.request_timeout_ms),
                ("venue.idle_timeout_ms", venue.idle_timeout_ms),
                ("venue.reconnect_max_ms", venue.reconnect_max_ms),
            ],
        );
        require_base_within_max(
            problems,
            ("venue.reconnect_base_ms", venue.reconnect_base_ms),
            ("venue.reconnect_max_ms", venue.reconnect_max_ms),
        );
        if self.store.path.as_os_str().is_empty() {
            problems.push("store.path: must not be empty".to_owned());
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.output.log) {
            problems.push(format!("output.log: `{}`: {e}", self.output.log));
        }
    }
}

impl Settings {
    /// `[notify]` checked and converted. The webhook URL is never echoed: it may hold a token.
    fn notify_config(&self, problems: &mut Vec<String>) -> NotifyConfig {
        let n = &self.notify;
        let webhook_url =
            (!n.webhook_url.trim().is_empty()).then(|| n.webhook_url.trim().to_owned());
        if let Some(url) = &webhook_url {
            let ok = reqwest::Url::parse(url)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
            if !ok {
                problems.push(
                    "notify.webhook_url: must be an http:// or https:// URL (or empty for none)"
                        .to_owned(),
                );
            }
        }
        let command = (!n.command.is_empty()).then(|| n.command.clone());
        if command
            .as_ref()
            .is_some_and(|c| c.first().is_none_or(|p| p.trim().is_empty()))
        {
            problems.push("notify.command: the first element must name a program".to_owned());
        }
        require_positive(
            problems,
            &[
                ("notify.max_attempts", u64::from(n.max_attempts)),
                ("notify.timeout_ms", n.timeout_ms),
                ("notify.queue_capacity", n.queue_capacity as u64),
                ("notify.leg_failures", u64::from(n.leg_failures)),
                ("notify.stream_down_secs", n.stream_down_secs),
                ("notify.retry_max_ms", n.retry_max_ms),
            ],
        );
        require_base_within_max(
            problems,
            ("notify.retry_base_ms", n.retry_base_ms),
            ("notify.retry_max_ms", n.retry_max_ms),
        );
        require_positive(
            problems,
            &[(
                "executor.max_plan_age_secs",
                self.executor.max_plan_age_secs,
            )],
        );
        NotifyConfig {
            webhook_url,
            command,
            min_severity: n.min_severity,
            max_attempts: n.max_attempts,
            backoff: Backoff {
                base: Duration::from_millis(n.retry_base_ms),
                max: Duration::from_millis(n.retry_max_ms),
            },
            timeout: Duration::from_millis(n.timeout_ms),
            queue_capacity: n.queue_capacity,
            leg_failures: n.leg_failures,
            stream_down: Duration::from_secs(n.stream_down_secs),
        }
    }
}

/// Names each `(key, value)` whose value is zero: `{key}: must be positive`.
fn require_positive(problems: &mut Vec<String>, values: &[(&str, u64)]) {
    for &(key, value) in values {
        if value == 0 {
            problems.push(format!("{key}: must be positive"));
        }
    }
}

/// Names a backoff whose first delay exceeds its ceiling: `{base key}: {base} exceeds {max
/// key} {max}`.
fn require_base_within_max(
    problems: &mut Vec<String>,
    (base_key, base): (&str, u64),
    (max_key, max): (&str, u64),
) {
    if base > max {
        problems.push(format!("{base_key}: {base} exceeds {max_key} {max}"));
    }
}

/// `[optimizer]` in the core's types, the services of each view parsed from their names (a
/// name that is not a service is a problem here: the core only sees services).
fn optimizer_config(raw: &OptimizerSettings, problems: &mut Vec<String>) -> OptimizerConfig {
    let mut views = Vec::with_capacity(raw.black_litterman.views.len());
    for (k, view) in raw.black_litterman.views.iter().enumerate() {
        let mut portfolio = ServiceMap::<f64>::default();
        for (name, weight) in &view.portfolio {
            match name.parse::<Service>() {
                Ok(service) => portfolio[service] = *weight,
                Err(e) => problems.push(format!(
                    "optimizer.black_litterman.views[{k}].portfolio.{name}: {e}"
                )),
            }
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
        bound_lo: raw.bound_lo,
        bound_hi: raw.bound_hi,
        risk_free_rate: raw.risk_free_rate,
        kelly_multiplier: raw.kelly_multiplier,
        min_interval: Duration::from_secs(raw.min_interval_secs),
        turnover_penalty: raw.turnover_penalty,
        max_turnover: raw.max_turnover,
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
