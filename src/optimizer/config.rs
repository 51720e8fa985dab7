//! The Optimizer's configuration, its checks, and the one translation from configuration to the
//! solver's [`MethodParams`] that both the Optimizer ([`super::compute_targets`]) and
//! `ballast optimize` use ([`method_params`]).
//!
//! [`OptimizerConfig::validate`] reports every problem at once, each naming its key relative to
//! the `[optimizer]` section (`kelly_multiplier: 1.5 must be in (0, 1] ...`); the settings layer
//! puts them under the section with [`OptimizerConfigError::in_section`].
//!
//! # Invariants
//! - A configuration that [`OptimizerConfig::validate`] accepts solves without a parameter
//!   error: rates and multipliers in range, six services able to sum to 1 within the bounds,
//!   enough history for a covariance, and the held reserve inside the bounds.
//! - Which methods hold the reserve, take risk budgets or blend views is decided here and
//!   nowhere else ([`method_params`]); callers only supply what they know (bounds, the held
//!   asset, budgets, prior and views in their asset order).

use std::{fmt, time::Duration};

use super::{OptimizeError, VolSpikeConfig};
use crate::{
    math::{
        WeightBounds,
        black_litterman::{BlackLitterman, View},
        methods::{MethodParams, OptimizerMethod},
        returns::CovarianceMethod,
    },
    money::decimal_to_f64,
    service::{Service, ServiceMap},
    targets::TargetAllocation,
    validation::every_problem,
};

/// Days of returns a covariance of the six services needs at least (n + 1).
pub const MIN_LOOKBACK_DAYS: u32 = 7;

/// One Black–Litterman view over services: `Σ portfolio[s]·μₛ = expected_return`.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceView {
    /// Weights of the view portfolio (absolute: one service at 1; relative: +1/−1).
    pub portfolio: ServiceMap<f64>,
    /// The annual total return the view asserts for that portfolio.
    pub expected_return: f64,
    /// Idzorek confidence in (0, 1]; `None` uses He–Litterman's Ω.
    pub confidence: Option<f64>,
}

/// Black–Litterman settings.
#[derive(Debug, Clone, PartialEq)]
pub struct BlackLittermanConfig {
    /// Uncertainty scale of the prior τ.
    pub tau: f64,
    /// Risk aversion δ of the equilibrium prior.
    pub risk_aversion: f64,
    /// Views; none leaves the prior (the configured targets, within the bounds).
    pub views: Vec<ServiceView>,
}

/// Optimizer settings, checked by [`OptimizerConfig::validate`] (and defended again by the
/// solve: a bad value is an [`OptimizeError`], never a panic or a published target).
#[derive(Debug, Clone, PartialEq)]
pub struct OptimizerConfig {
    /// The method.
    pub method: OptimizerMethod,
    /// Days of daily returns fetched for each estimate.
    pub lookback_days: u32,
    /// Covariance estimator.
    pub covariance: CovarianceMethod,
    /// Lowest weight of any service in a computed allocation.
    pub bound_lo: f64,
    /// Highest weight of any service in a computed allocation.
    pub bound_hi: f64,
    /// Annual risk-free rate.
    pub risk_free_rate: f64,
    /// Fraction of full Kelly, in (0, 1].
    pub kelly_multiplier: f64,
    /// Least venue time between the starts of two solves.
    pub min_interval: Duration,
    /// Penalty per unit of distance from the current weights (weight units; 0 off): see
    /// [`crate::math::turnover`].
    pub turnover_penalty: f64,
    /// Most of the portfolio one solve may move from the current weights, in (0, 1]; 1 is no cap.
    pub max_turnover: f64,
    /// Black–Litterman settings.
    pub black_litterman: BlackLittermanConfig,
    /// Volatility-spike trigger.
    pub vol_spike: VolSpikeConfig,
}

/// One problem with an [`OptimizerConfig`]. `Display` names the key relative to `[optimizer]`
/// (`bound_lo: ...`); [`OptimizerConfigError::in_section`] names it, and the keys the message
/// refers to, under a section.
#[derive(Debug, Clone, PartialEq)]
pub enum OptimizerConfigError {
    /// `risk_free_rate` outside (-1, 1] or not finite.
    RiskFreeRate(f64),
    /// `kelly_multiplier` outside (0, 1].
    KellyMultiplier(f64),
    /// `black_litterman.tau` not positive.
    Tau(f64),
    /// `black_litterman.risk_aversion` not positive.
    RiskAversion(f64),
    /// `vol_spike.ratio` not above 1.
    SpikeRatio(f64),
    /// `turnover_penalty` negative or not finite.
    TurnoverPenalty(f64),
    /// `max_turnover` outside (0, 1].
    MaxTurnover(f64),
    /// `bound_lo` such that six services cannot sum to 1.
    BoundLo(f64),
    /// `bound_hi` such that six services cannot sum to 1.
    BoundHi(f64),
    /// `bound_lo` above `bound_hi`.
    BoundsCrossed {
        /// The lower bound.
        lo: f64,
        /// The upper bound.
        hi: f64,
    },
    /// `lookback_days` too short for a covariance.
    LookbackDays(u32),
    /// `vol_spike.window` under 2 moves.
    SpikeWindow(usize),
    /// `vol_spike.history` of no move.
    SpikeHistory,
    /// The method holds the reserve at its target, and the target is outside the bounds.
    ReserveOutsideBounds {
        /// The reserve's configured target.
        reserve: f64,
        /// The lower bound.
        lo: f64,
        /// The upper bound.
        hi: f64,
        /// The method.
        method: OptimizerMethod,
    },
    /// A view's weight that is not finite.
    ViewWeight {
        /// The view's position.
        view: usize,
        /// The service.
        service: Service,
        /// The weight.
        weight: f64,
    },
    /// A view without a service of non-zero weight.
    ViewEmpty {
        /// The view's position.
        view: usize,
    },
    /// A view's expected return that is not finite.
    ViewReturn {
        /// The view's position.
        view: usize,
        /// The return.
        expected_return: f64,
    },
    /// A view's confidence outside (0, 1].
    ViewConfidence {
        /// The view's position.
        view: usize,
        /// The confidence.
        confidence: f64,
    },
}

impl OptimizerConfigError {
    /// The problem with its key, and every key it refers to, under `section`:
    /// `optimizer.bound_lo: 0.3 exceeds optimizer.bound_hi 0.2`.
    pub fn in_section(&self, section: &str) -> String {
        self.render(|key| format!("{section}.{key}"))
    }

    /// The message, each key of the section spelled by `key`.
    fn render(&self, key: impl Fn(&str) -> String) -> String {
        let view_key =
            |view: &usize, rest: &str| key(&format!("black_litterman.views[{view}]{rest}"));
        match self {
            Self::RiskFreeRate(rate) => format!(
                "{}: {rate} must be a finite annual rate in (-1, 1]",
                key("risk_free_rate")
            ),
            Self::KellyMultiplier(multiplier) => format!(
                "{}: {multiplier} must be in (0, 1] (1 is full Kelly)",
                key("kelly_multiplier")
            ),
            Self::Tau(tau) => format!("{}: {tau} must be positive", key("black_litterman.tau")),
            Self::RiskAversion(delta) => format!(
                "{}: {delta} must be positive",
                key("black_litterman.risk_aversion")
            ),
            Self::SpikeRatio(ratio) => {
                format!("{}: {ratio} must be above 1", key("vol_spike.ratio"))
            }
            Self::TurnoverPenalty(penalty) => format!(
                "{}: {penalty} must be a non-negative number (0 switches it off)",
                key("turnover_penalty")
            ),
            Self::MaxTurnover(cap) => format!(
                "{}: {cap} must be in (0, 1] (1 leaves turnover uncapped)",
                key("max_turnover")
            ),
            Self::BoundLo(lo) => format!(
                "{}: {lo} must be in [0, 1/6] so six services can sum to 1",
                key("bound_lo")
            ),
            Self::BoundHi(hi) => format!(
                "{}: {hi} must be in [1/6, 1] so six services can sum to 1",
                key("bound_hi")
            ),
            Self::BoundsCrossed { lo, hi } => {
                format!("{}: {lo} exceeds {} {hi}", key("bound_lo"), key("bound_hi"))
            }
            Self::LookbackDays(days) => format!(
                "{}: {days} is too short; a covariance of six services needs at least \
                 {MIN_LOOKBACK_DAYS} days",
                key("lookback_days")
            ),
            Self::SpikeWindow(window) => format!(
                "{}: {window} must be at least 2 price moves",
                key("vol_spike.window")
            ),
            Self::SpikeHistory => format!(
                "{}: must be at least 1 price move",
                key("vol_spike.history")
            ),
            // The reserve's target is a key of `[targets]`, named in full like every target.
            Self::ReserveOutsideBounds {
                reserve,
                lo,
                hi,
                method,
            } => format!(
                "targets.reserve: {reserve} must lie within {} {lo} and {} {hi}: method {method} \
                 holds the reserve at its target",
                key("bound_lo"),
                key("bound_hi")
            ),
            Self::ViewWeight {
                view,
                service,
                weight,
            } => format!(
                "{}: {weight} is not finite",
                view_key(view, &format!(".portfolio.{service}"))
            ),
            Self::ViewEmpty { view } => format!(
                "{}: names no service with a non-zero weight",
                view_key(view, ".portfolio")
            ),
            Self::ViewReturn {
                view,
                expected_return,
            } => format!(
                "{}: {expected_return} is not finite",
                view_key(view, ".expected_return")
            ),
            Self::ViewConfidence { view, confidence } => format!(
                "{}: {confidence} must be in (0, 1]",
                view_key(view, ".confidence")
            ),
        }
    }
}

impl fmt::Display for OptimizerConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(str::to_owned))
    }
}

impl std::error::Error for OptimizerConfigError {}

impl OptimizerConfig {
    /// Checks every value; `configured` (the targets, when they are valid) lets it check that
    /// a method holding the reserve at its target can.
    ///
    /// # Errors
    /// Every problem, in the order of the keys.
    pub fn validate(
        &self,
        configured: Option<&TargetAllocation>,
    ) -> Result<(), Vec<OptimizerConfigError>> {
        use OptimizerConfigError as E;
        let mut problems = Vec::new();
        let within = |value: f64, lo: f64, hi: f64| value.is_finite() && value > lo && value <= hi;
        let bl = &self.black_litterman;
        for (ok, problem) in [
            (
                within(self.risk_free_rate, -1.0, 1.0),
                E::RiskFreeRate(self.risk_free_rate),
            ),
            (
                within(self.kelly_multiplier, 0.0, 1.0),
                E::KellyMultiplier(self.kelly_multiplier),
            ),
            (within(bl.tau, 0.0, f64::MAX), E::Tau(bl.tau)),
            (
                within(bl.risk_aversion, 0.0, f64::MAX),
                E::RiskAversion(bl.risk_aversion),
            ),
            (
                within(self.vol_spike.ratio, 1.0, f64::MAX),
                E::SpikeRatio(self.vol_spike.ratio),
            ),
            (
                self.turnover_penalty.is_finite() && self.turnover_penalty >= 0.0,
                E::TurnoverPenalty(self.turnover_penalty),
            ),
            (
                within(self.max_turnover, 0.0, 1.0),
                E::MaxTurnover(self.max_turnover),
            ),
        ] {
            if !ok {
                problems.push(problem);
            }
        }
        let services = Service::ALL.len() as f64;
        let (lo, hi) = (self.bound_lo, self.bound_hi);
        if !(lo.is_finite() && lo >= 0.0 && lo * services <= 1.0) {
            problems.push(E::BoundLo(lo));
        }
        if !(hi.is_finite() && hi <= 1.0 && hi * services >= 1.0) {
            problems.push(E::BoundHi(hi));
        }
        if lo > hi {
            problems.push(E::BoundsCrossed { lo, hi });
        }
        if self.lookback_days < MIN_LOOKBACK_DAYS {
            problems.push(E::LookbackDays(self.lookback_days));
        }
        if self.vol_spike.window < 2 {
            problems.push(E::SpikeWindow(self.vol_spike.window));
        }
        if self.vol_spike.history < 1 {
            problems.push(E::SpikeHistory);
        }
        if self.method.holds_reserve()
            && let Some(targets) = configured
        {
            let reserve = decimal_to_f64(targets.weight(Service::Reserve));
            if reserve < lo || reserve > hi || reserve >= 1.0 {
                problems.push(E::ReserveOutsideBounds {
                    reserve,
                    lo,
                    hi,
                    method: self.method,
                });
            }
        }
        for (view, v) in bl.views.iter().enumerate() {
            problems.extend(
                v.portfolio
                    .iter()
                    .filter(|(_, weight)| !weight.is_finite())
                    .map(|(service, weight)| E::ViewWeight {
                        view,
                        service,
                        weight: *weight,
                    }),
            );
            // A weight that is not finite is reported above and counts for nothing here.
            if v.portfolio.values().all(|w| !w.is_finite() || *w == 0.0) {
                problems.push(E::ViewEmpty { view });
            }
            if !v.expected_return.is_finite() {
                problems.push(E::ViewReturn {
                    view,
                    expected_return: v.expected_return,
                });
            }
            if let Some(confidence) = v.confidence
                && !within(confidence, 0.0, 1.0)
            {
                problems.push(E::ViewConfidence { view, confidence });
            }
        }
        every_problem(problems)
    }
}

/// What a solve needs besides the configuration, in the model's asset order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MethodInputs {
    /// Per-asset bounds; `None` is long-only and uncapped.
    pub bounds: Option<WeightBounds>,
    /// The asset held and its weight, used by the methods that hold one
    /// ([`OptimizerMethod::holds_reserve`]).
    pub hold: Option<(usize, f64)>,
    /// Risk budgets over the assets not held, used by risk parity (default equal).
    pub budgets: Option<Vec<f64>>,
    /// Prior weights, used by Black–Litterman.
    pub prior: Vec<f64>,
    /// Views in asset order, used by Black–Litterman.
    pub views: Vec<View>,
}

/// The solver's parameters for `config.method`: the rates and Black–Litterman's τ and δ from
/// `config`, and from `inputs` what the method uses (see [`MethodInputs`]).
///
/// # Errors
/// [`OptimizeError::NotEstimated`] for method `fixed`.
pub fn method_params(
    config: &OptimizerConfig,
    inputs: MethodInputs,
) -> Result<MethodParams, OptimizeError> {
    let method = config.method;
    if !method.estimates() {
        return Err(OptimizeError::NotEstimated);
    }
    Ok(MethodParams {
        method,
        bounds: inputs.bounds,
        hold: inputs.hold.filter(|_| method.holds_reserve()),
        budgets: inputs
            .budgets
            .filter(|_| method == OptimizerMethod::RiskParity),
        risk_free_rate: config.risk_free_rate,
        kelly_multiplier: config.kelly_multiplier,
        black_litterman: (method == OptimizerMethod::BlackLitterman).then_some(BlackLitterman {
            prior_weights: inputs.prior,
            risk_aversion: config.black_litterman.risk_aversion,
            tau: config.black_litterman.tau,
            views: inputs.views,
        }),
    })
}

/// The configuration of `config/default.toml` with `method`, for tests.
#[cfg(test)]
pub(super) fn example(method: OptimizerMethod) -> OptimizerConfig {
    OptimizerConfig {
        method,
        lookback_days: 365,
        covariance: CovarianceMethod::Sample,
        bound_lo: 0.01,
        bound_hi: 0.80,
        risk_free_rate: 0.045,
        kelly_multiplier: 0.25,
        min_interval: Duration::from_secs(3600),
        turnover_penalty: 0.0,
        max_turnover: 1.0,
        black_litterman: BlackLittermanConfig {
            tau: 0.05,
            risk_aversion: 2.5,
            views: Vec::new(),
        },
        vol_spike: VolSpikeConfig {
            ratio: 2.0,
            window: 6,
            history: 30,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_every_key_under_its_section() {
        struct TestCase {
            config: OptimizerConfig,
            expected: &'static [&'static str],
        }
        let mut rates = example(OptimizerMethod::Kelly);
        rates.risk_free_rate = 2.0;
        rates.kelly_multiplier = 1.5;
        rates.black_litterman.tau = -1.0;
        rates.black_litterman.risk_aversion = 0.0;
        rates.vol_spike.ratio = 0.5;
        let mut bounds = example(OptimizerMethod::MinVariance);
        bounds.bound_lo = 0.3;
        bounds.bound_hi = 0.2;
        bounds.lookback_days = 3;
        let mut spikes = example(OptimizerMethod::Fixed);
        spikes.vol_spike.window = 1;
        spikes.vol_spike.history = 0;
        let mut reserve = example(OptimizerMethod::RiskParity);
        reserve.bound_lo = 0.12;
        let mut views = example(OptimizerMethod::BlackLitterman);
        let mut portfolio = ServiceMap::<f64>::default();
        portfolio[Service::Trading] = f64::NAN;
        views.black_litterman.views.push(ServiceView {
            portfolio,
            expected_return: f64::INFINITY,
            confidence: Some(2.0),
        });
        let cases = [
            // TC0: the defaults pass.
            TestCase {
                config: example(OptimizerMethod::BlackLitterman),
                expected: &[],
            },
            // TC1: every rate and multiplier out of range.
            TestCase {
                config: rates,
                expected: &[
                    "optimizer.risk_free_rate: 2 must be a finite annual rate in (-1, 1]",
                    "optimizer.kelly_multiplier: 1.5 must be in (0, 1] (1 is full Kelly)",
                    "optimizer.black_litterman.tau: -1 must be positive",
                    "optimizer.black_litterman.risk_aversion: 0 must be positive",
                    "optimizer.vol_spike.ratio: 0.5 must be above 1",
                ],
            },
            // TC2: bounds six services cannot fill, crossed, and too short a history.
            TestCase {
                config: bounds,
                expected: &[
                    "optimizer.bound_lo: 0.3 must be in [0, 1/6] so six services can sum to 1",
                    "optimizer.bound_lo: 0.3 exceeds optimizer.bound_hi 0.2",
                    "optimizer.lookback_days: 3 is too short; a covariance of six services \
                     needs at least 7 days",
                ],
            },
            // TC3: a spike window and history of too few moves.
            TestCase {
                config: spikes,
                expected: &[
                    "optimizer.vol_spike.window: 1 must be at least 2 price moves",
                    "optimizer.vol_spike.history: must be at least 1 price move",
                ],
            },
            // TC4: risk parity holds the reserve (0.1) under a floor of 0.12.
            TestCase {
                config: reserve,
                expected: &[
                    "targets.reserve: 0.1 must lie within optimizer.bound_lo 0.12 and \
                     optimizer.bound_hi 0.8: method risk-parity holds the reserve at its target",
                ],
            },
            // TC5: a view whose only weight is NaN, with an infinite return and a confidence of 2.
            TestCase {
                config: views,
                expected: &[
                    "optimizer.black_litterman.views[0].portfolio.trading: NaN is not finite",
                    "optimizer.black_litterman.views[0].portfolio: names no service with a \
                     non-zero weight",
                    "optimizer.black_litterman.views[0].expected_return: inf is not finite",
                    "optimizer.black_litterman.views[0].confidence: 2 must be in (0, 1]",
                ],
            },
        ];
        let targets = TargetAllocation::conservative();
        for (i, case) in cases.iter().enumerate() {
            let got: Vec<String> = match case.config.validate(Some(&targets)) {
                Ok(()) => Vec::new(),
                Err(problems) => problems.iter().map(|p| p.in_section("optimizer")).collect(),
            };
            assert_eq!(got, case.expected, "TC{i}");
        }
    }

    #[test]
    fn a_problem_alone_names_its_keys_within_the_section() {
        let problem = OptimizerConfigError::BoundsCrossed { lo: 0.3, hi: 0.2 };
        assert_eq!(problem.to_string(), "bound_lo: 0.3 exceeds bound_hi 0.2");
    }

    #[test]
    fn params_carry_what_each_method_uses() {
        struct TestCase {
            method: OptimizerMethod,
            expected_hold: bool,
            expected_budgets: bool,
            expected_black_litterman: bool,
        }
        let cases = [
            // TC0: risk parity holds the reserve and takes budgets.
            TestCase {
                method: OptimizerMethod::RiskParity,
                expected_hold: true,
                expected_budgets: true,
                expected_black_litterman: false,
            },
            // TC1: Black–Litterman holds the reserve and blends the views.
            TestCase {
                method: OptimizerMethod::BlackLitterman,
                expected_hold: true,
                expected_budgets: false,
                expected_black_litterman: true,
            },
            // TC2..TC4: the others take the bounds and rates only.
            TestCase {
                method: OptimizerMethod::MinVariance,
                expected_hold: false,
                expected_budgets: false,
                expected_black_litterman: false,
            },
            TestCase {
                method: OptimizerMethod::MaxSharpe,
                expected_hold: false,
                expected_budgets: false,
                expected_black_litterman: false,
            },
            TestCase {
                method: OptimizerMethod::Kelly,
                expected_hold: false,
                expected_budgets: false,
                expected_black_litterman: false,
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            let inputs = MethodInputs {
                bounds: None,
                hold: Some((5, 0.1)),
                budgets: Some(vec![0.2; 5]),
                prior: vec![1.0 / 6.0; 6],
                views: Vec::new(),
            };
            let params = method_params(&example(case.method), inputs)
                .unwrap_or_else(|e| panic!("TC{i}: {e}"));
            assert_eq!(params.method, case.method, "TC{i}");
            assert_eq!(params.hold.is_some(), case.expected_hold, "TC{i}");
            assert_eq!(params.budgets.is_some(), case.expected_budgets, "TC{i}");
            assert_eq!(
                params.black_litterman.is_some(),
                case.expected_black_litterman,
                "TC{i}"
            );
            assert_eq!(
                (params.risk_free_rate, params.kelly_multiplier),
                (0.045, 0.25),
                "TC{i}"
            );
            if let Some(bl) = params.black_litterman {
                assert_eq!((bl.tau, bl.risk_aversion), (0.05, 2.5), "TC{i}");
            }
        }
        let fixed = method_params(&example(OptimizerMethod::Fixed), MethodInputs::default());
        assert_eq!(fixed, Err(OptimizeError::NotEstimated));
    }
}
