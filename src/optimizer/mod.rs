//! The Optimizer's pure core: from the venue's return history and the configuration to
//! validated targets, and the two small state machines that decide when to recompute.
//!
//! - [`compute_targets`]: [`ReturnHistory`] → [`ReturnsTable`](crate::math::returns::ReturnsTable)
//!   → [`MarketModel`] (sample or Ledoit–Wolf, repaired when not positive definite) →
//!   [`methods::solve`] → the turnover controls ([`crate::math::turnover`], measured from the
//!   current weights given to [`compute_targets_near`]) → the boundary check [`check_weights`]
//!   → [`weights_to_decimal`] →
//!   [`TargetAllocation`], with [`SolveDiagnostics`]. Risk parity and Black–Litterman hold
//!   the reserve at its configured target and allocate the rest among the risky services (see
//!   [`methods`] for why); Black–Litterman's prior is the configured targets, so without views
//!   it returns them. Risk parity whose bounds make equal risk impossible says so
//!   ([`EqualRiskGap`]; `Display` reads "bounded" instead of "optimal").
//! - [`RecomputeGate`]: one solve at a time, at least `min_interval` apart; bursts of triggers
//!   collapse into one deferred solve.
//! - [`VolSpikeDetector`]: realized volatility of price moves against its history.
//! - [`OptimizerConfig`] with its checks ([`OptimizerConfig::validate`]), and [`method_params`]:
//!   the solver's parameters from the configuration, built the same way for
//!   [`compute_targets`] and `ballast optimize`.
//!
//! The Optimizer actor only fetches `/returns` (which the venue adapter turns into a
//! [`ReturnHistory`]), calls these, and publishes.
//!
//! # Invariants
//! - Only targets whose weights are finite, within the configured bounds (to
//!   [`BOUND_TOLERANCE`]) and sum to 1 (to [`WEIGHT_SUM_TOLERANCE`]) leave [`compute_targets`];
//!   anything else is an [`OptimizeError`] naming the service or the cause, and the caller keeps
//!   its previous targets. A solver that misses its tolerance is an error, never a result.
//! - `f64` stays inside; weights become `Decimal` only through [`weights_to_decimal`].
//! - No I/O and no clock: time comes in as an argument.

mod config;
mod diagnostics;
mod gate;
mod history;
mod spike;

use rust_decimal::Decimal;

pub use self::{
    config::{
        BlackLittermanConfig, MIN_LOOKBACK_DAYS, MethodInputs, OptimizerConfig,
        OptimizerConfigError, ServiceView, method_params,
    },
    diagnostics::{
        EQUAL_RISK_TOLERANCE, EqualRiskGap, SolveDiagnostics, TargetDiagnostics,
        TurnoverDiagnostics,
    },
    gate::{GateDecision, RecomputeGate},
    history::ReturnHistory,
    spike::{VolSpike, VolSpikeConfig, VolSpikeDetector},
};
pub use crate::math::methods::OptimizerMethod;
use crate::{
    math::{
        MarketModel, MathError, WeightBounds, black_litterman::View, methods, returns::Repair,
        turnover::turnover_aware, weights_to_decimal,
    },
    money::decimal_to_f64,
    service::{Service, ServiceMap},
    targets::{TargetAllocation, TargetErrors},
};

/// Slack of the boundary check on bounds. The solvers clamp to the bounds exactly; this only
/// forgives a last-bit difference, far below anything that moves a cent.
pub const BOUND_TOLERANCE: f64 = 1e-12;

/// Slack of the boundary check on `Σw = 1` (the solvers deliver 1e-12; targets accept 1e-3).
pub const WEIGHT_SUM_TOLERANCE: f64 = 1e-9;

/// Targets from a solve, with their diagnostics.
#[derive(Debug, Clone, PartialEq)]
pub struct ComputedTargets {
    /// The new targets.
    pub targets: TargetAllocation,
    /// What the solve reported.
    pub diagnostics: SolveDiagnostics,
}

/// Why a solve produced no targets; the caller keeps its previous ones.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OptimizeError {
    /// Method `fixed` has nothing to compute.
    #[error("method `fixed` computes nothing: it publishes the configured targets")]
    NotEstimated,
    /// The venue's return history names something that is not a service (found by the venue
    /// adapter when it builds the [`ReturnHistory`]).
    #[error("returns: `{0}` is not a service")]
    UnknownService(String),
    /// The return history lacks a service.
    #[error("returns: no history for {0}")]
    MissingService(Service),
    /// The return history cannot be estimated (too short, unequal series, ...).
    #[error("returns: {0}")]
    Returns(MathError),
    /// The solver refused or did not converge.
    #[error("{method} solve failed: {source}")]
    Solve {
        /// The method.
        method: OptimizerMethod,
        /// The solver's error.
        source: MathError,
    },
    /// A weight that is NaN or infinite.
    #[error("weight of {service} is not finite ({weight})")]
    NonFinite {
        /// The service.
        service: Service,
        /// The weight.
        weight: f64,
    },
    /// A weight outside the configured bounds.
    #[error("weight of {service} is {weight}, outside the bounds [{lo}, {hi}]")]
    OutOfBounds {
        /// The service.
        service: Service,
        /// The weight.
        weight: f64,
        /// Lower bound.
        lo: f64,
        /// Upper bound.
        hi: f64,
    },
    /// Weights that do not sum to 1.
    #[error("weights sum to {sum}, expected 1")]
    BadSum {
        /// The sum.
        sum: f64,
    },
    /// The weights could not become targets.
    #[error("targets: {0}")]
    Targets(TargetErrors),
}

impl OptimizeError {
    /// A short stable name for logs and counters.
    pub const fn kind(&self) -> &'static str {
        match self {
            OptimizeError::NotEstimated => "not_estimated",
            OptimizeError::UnknownService(_) | OptimizeError::MissingService(_) => "bad_returns",
            OptimizeError::Returns(_) => "bad_returns",
            OptimizeError::Solve {
                source: MathError::NonConvergence { .. },
                ..
            } => "not_converged",
            OptimizeError::Solve { .. } => "solve_failed",
            OptimizeError::NonFinite { .. } => "non_finite",
            OptimizeError::OutOfBounds { .. } => "out_of_bounds",
            OptimizeError::BadSum { .. } => "bad_sum",
            OptimizeError::Targets(_) => "bad_targets",
        }
    }
}

/// The boundary check: every weight finite and within `[lo, hi]` (to [`BOUND_TOLERANCE`]), and
/// the weights summing to 1 (to [`WEIGHT_SUM_TOLERANCE`]).
///
/// # Errors
/// The first problem found, naming the service: non-finite, then out of bounds, then the sum.
pub fn check_weights(
    services: &[Service],
    weights: &[f64],
    lo: f64,
    hi: f64,
) -> Result<(), OptimizeError> {
    for (&service, &weight) in services.iter().zip(weights) {
        if !weight.is_finite() {
            return Err(OptimizeError::NonFinite { service, weight });
        }
    }
    for (&service, &weight) in services.iter().zip(weights) {
        if weight < lo - BOUND_TOLERANCE || weight > hi + BOUND_TOLERANCE {
            return Err(OptimizeError::OutOfBounds {
                service,
                weight,
                lo,
                hi,
            });
        }
    }
    let sum: f64 = weights.iter().sum();
    if services.len() != weights.len() || (sum - 1.0).abs() > WEIGHT_SUM_TOLERANCE {
        return Err(OptimizeError::BadSum { sum });
    }
    Ok(())
}

/// Computes targets by `config.method` from the venue's return history; `configured` supplies
/// the reserve's held weight (risk parity) and the prior (Black–Litterman), and stands for the
/// current weights of the turnover controls (see [`compute_targets_near`]).
///
/// # Errors
/// An [`OptimizeError`]: bad history, a solver failure or non-convergence, or a result that
/// fails [`check_weights`].
pub fn compute_targets(
    returns: &ReturnHistory,
    config: &OptimizerConfig,
    configured: &TargetAllocation,
) -> Result<ComputedTargets, OptimizeError> {
    compute_targets_near(returns, config, configured, configured.weights())
}

/// [`compute_targets`] from `current` weights: the turnover controls
/// (`config.turnover_penalty`, `config.max_turnover`; see [`crate::math::turnover`]) measure
/// the distance from them, and the diagnostics report how much of the portfolio the targets
/// move. Weights that do not sum to a positive total stand for nothing (the ideal is kept).
///
/// # Errors
/// As [`compute_targets`]; an unreachable `max_turnover` is a solve error naming it.
pub fn compute_targets_near(
    returns: &ReturnHistory,
    config: &OptimizerConfig,
    configured: &TargetAllocation,
    current: &ServiceMap<Decimal>,
) -> Result<ComputedTargets, OptimizeError> {
    if !config.method.estimates() {
        return Err(OptimizeError::NotEstimated);
    }
    let (services, table) = returns.table().map_err(OptimizeError::Returns)?;
    if let Some(missing) = Service::ALL.into_iter().find(|s| !services.contains(s)) {
        return Err(OptimizeError::MissingService(missing));
    }
    let (model, estimate, repair) = table
        .model(config.covariance)
        .map_err(OptimizeError::Returns)?;
    let solve_error = |source| OptimizeError::Solve {
        method: config.method,
        source,
    };
    let bounds = WeightBounds::uniform(services.len(), config.bound_lo, config.bound_hi)
        .map_err(solve_error)?;
    let prior: Vec<f64> = services
        .iter()
        .map(|s| decimal_to_f64(configured.weight(*s)))
        .collect();
    let reserve = services
        .iter()
        .position(|s| *s == Service::Reserve)
        .ok_or(OptimizeError::MissingService(Service::Reserve))?;
    // The reserve is nearly riskless: risk parity would pour money into it, and max-Sharpe
    // (Black–Litterman's last step) is indifferent to its weight. Both hold it at its target.
    let inputs = MethodInputs {
        bounds: Some(bounds),
        hold: Some((reserve, prior[reserve])),
        budgets: None,
        views: config
            .black_litterman
            .views
            .iter()
            .map(|v| View {
                portfolio: services.iter().map(|s| v.portfolio[*s]).collect(),
                expected_return: v.expected_return,
                confidence: v.confidence,
            })
            .collect(),
        prior,
    };
    let hold = inputs.hold.filter(|_| config.method.holds_reserve());
    let params = method_params(config, inputs)?;
    let mut result = methods::solve(&model, &params).map_err(solve_error)?;
    let turnover =
        near_current(&mut result, &services, current, config, hold).map_err(solve_error)?;
    let estimate = Estimate {
        observations: table.rows(),
        shrinkage: estimate.shrinkage,
        repair,
        turnover,
        held: hold.map(|(i, _)| services[i]),
    };
    finish(&model, &services, result, config, &estimate)
}

/// Applies the turnover controls to `result` (the held asset stays where the method put it)
/// and reports the distance from `current`.
fn near_current(
    result: &mut methods::MethodResult,
    services: &[Service],
    current: &ServiceMap<Decimal>,
    config: &OptimizerConfig,
    hold: Option<(usize, f64)>,
) -> Result<TurnoverDiagnostics, MathError> {
    let total: Decimal = services.iter().map(|s| current[*s]).sum();
    let current: Vec<f64> = if total > Decimal::ZERO {
        services
            .iter()
            .map(|s| decimal_to_f64(current[*s] / total))
            .collect()
    } else {
        result.weights.clone()
    };
    let n = services.len();
    let mut lo = vec![config.bound_lo; n];
    let mut hi = vec![config.bound_hi; n];
    if let Some((i, _)) = hold {
        lo[i] = result.weights[i];
        hi[i] = result.weights[i];
    }
    let bounds = WeightBounds::new(lo, hi)?;
    let aware = turnover_aware(
        &result.weights,
        &current,
        &bounds,
        config.turnover_penalty,
        config.max_turnover,
    )?;
    result.weights = aware.weights;
    Ok(TurnoverDiagnostics {
        turnover: aware.turnover,
        ideal_turnover: aware.ideal_turnover,
        penalty: config.turnover_penalty,
        max_turnover: config.max_turnover,
    })
}

/// What the estimation and turnover steps report.
struct Estimate {
    observations: usize,
    shrinkage: Option<f64>,
    repair: Repair,
    turnover: TurnoverDiagnostics,
    held: Option<Service>,
}

/// Checks a solver's result at the boundary and turns it into targets and diagnostics.
fn finish(
    model: &MarketModel,
    services: &[Service],
    result: methods::MethodResult,
    config: &OptimizerConfig,
    estimate: &Estimate,
) -> Result<ComputedTargets, OptimizeError> {
    check_weights(services, &result.weights, config.bound_lo, config.bound_hi)?;
    let decimals =
        weights_to_decimal(model.names(), &result.weights).map_err(|e| OptimizeError::Solve {
            method: config.method,
            source: e,
        })?;
    let mut weights = ServiceMap::<Decimal>::default();
    for (service, weight) in services.iter().zip(decimals) {
        weights[*service] = weight;
    }
    let targets = TargetAllocation::new(weights).map_err(OptimizeError::Targets)?;
    let stats = model.stats(&result.weights, config.risk_free_rate);
    let risk = model.risk_contributions(&result.weights);
    let mut risk_contributions = ServiceMap::<f64>::default();
    for (service, rc) in services.iter().zip(&risk) {
        risk_contributions[*service] = *rc;
    }
    let equal_risk_gap =
        diagnostics::equal_risk_gap(services, &result.weights, &risk, config, estimate.held);
    Ok(ComputedTargets {
        targets,
        diagnostics: SolveDiagnostics {
            solver: result.solver,
            iterations: result.iterations,
            observations: estimate.observations,
            covariance: config.covariance,
            shrinkage: estimate.shrinkage,
            repair: estimate.repair,
            expected_return: stats.expected_return,
            volatility: stats.volatility,
            sharpe: stats.sharpe,
            risk_contributions,
            rc_max_rel_error: result.rc_max_rel_error,
            growth_rate: result.growth_rate,
            turnover: estimate.turnover,
            equal_risk_gap,
        },
    })
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, Normal};
    use rust_decimal_macros::dec;

    use super::*;
    use crate::math::returns::CovarianceMethod;

    /// A year of daily returns with the services' character: a losing, volatile casino, drifting
    /// trading and wallet, high-yield domains, a steady escrow and a riskless reserve.
    fn returns(days: usize) -> ReturnHistory {
        let character = [
            (Service::Casino, -0.0005, 0.05),
            (Service::Trading, 0.0008, 0.02),
            (Service::Wallet, 0.0005, 0.03),
            (Service::Domains, 0.002, 0.008),
            (Service::Escrow, 0.0003, 0.0001),
            (Service::Reserve, 0.0, 0.0),
        ];
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        character
            .iter()
            .map(|(service, mean, sd)| {
                let normal = Normal::new(*mean, *sd).expect("valid");
                let series = (0..days)
                    .map(|_| {
                        if *sd > 0.0 {
                            normal.sample(&mut rng)
                        } else {
                            0.0
                        }
                    })
                    .collect();
                (*service, series)
            })
            .collect()
    }

    fn config(method: OptimizerMethod) -> OptimizerConfig {
        config::example(method)
    }

    /// `config` solved on a year of [`returns`].
    fn solve_a_year(config: &OptimizerConfig, configured: &TargetAllocation) -> ComputedTargets {
        compute_targets(&returns(365), config, configured).expect("solves")
    }

    fn weight(targets: &TargetAllocation, service: Service) -> f64 {
        decimal_to_f64(targets.weight(service))
    }

    #[test]
    fn every_method_gives_valid_bounded_targets() {
        let configured = TargetAllocation::conservative();
        for method in [
            OptimizerMethod::RiskParity,
            OptimizerMethod::MinVariance,
            OptimizerMethod::MaxSharpe,
            OptimizerMethod::BlackLitterman,
            OptimizerMethod::Kelly,
        ] {
            for covariance in [CovarianceMethod::Sample, CovarianceMethod::LedoitWolf] {
                let mut c = config(method);
                c.covariance = covariance;
                let computed = compute_targets(&returns(365), &c, &configured)
                    .unwrap_or_else(|e| panic!("{method} {covariance:?}: {e}"));
                let sum: Decimal = computed.targets.weights().values().copied().sum();
                assert!(
                    (sum - Decimal::ONE).abs() < dec!(0.000000001),
                    "{method}: {sum}"
                );
                for service in Service::ALL {
                    let w = weight(&computed.targets, service);
                    assert!((0.01..=0.80).contains(&w), "{method}: {service} {w}");
                }
                let d = &computed.diagnostics;
                assert_eq!(d.observations, 365);
                assert!(d.volatility.is_finite() && d.expected_return.is_finite());
                let rc_sum: f64 = d.risk_contributions.values().sum();
                assert!((rc_sum - 1.0).abs() < 1e-9, "{method}: {rc_sum}");
            }
        }
    }

    #[test]
    fn risk_parity_holds_the_reserve_and_equalizes_the_rest() {
        let computed = solve_a_year(
            &config(OptimizerMethod::RiskParity),
            &TargetAllocation::conservative(),
        );
        assert_eq!(computed.targets.weight(Service::Reserve), dec!(0.1));
        // The near-riskless escrow hits the 80% cap; the services strictly inside their bounds
        // carry equal risk.
        let rc = computed.diagnostics.risk_contributions;
        let free: Vec<f64> = Service::TRADABLE
            .into_iter()
            .filter(|s| {
                let w = weight(&computed.targets, *s);
                w > 0.01 + 1e-9 && w < 0.80 - 1e-9
            })
            .map(|s| rc[s])
            .collect();
        assert!(free.len() >= 3, "{:?}", computed.targets);
        for pair in free.windows(2) {
            assert!((pair[0] - pair[1]).abs() < 1e-9, "{free:?}");
        }
        assert_eq!(weight(&computed.targets, Service::Escrow), 0.80);
        assert!(computed.diagnostics.rc_max_rel_error.expect("rc") <= 1e-9);
    }

    #[test]
    fn risk_parity_says_when_the_bounds_make_equal_risk_impossible() {
        let computed = compute_targets(
            &returns(365),
            &config(OptimizerMethod::RiskParity),
            &TargetAllocation::conservative(),
        )
        .expect("solves");
        // Escrow sits at its 80% cap: it carries less than an equal share, so equal risk is
        // impossible, and the result must say so rather than read "optimal".
        let gap = computed
            .diagnostics
            .equal_risk_gap
            .clone()
            .expect("the cap binds");
        assert_eq!(gap.at_cap, vec![Service::Escrow]);
        assert!((gap.equal_share - 0.2).abs() < 1e-12);
        let text = TargetDiagnostics::Optimal(Box::new(computed.diagnostics)).to_string();
        assert!(text.starts_with("bounded ("), "{text}");
        assert!(text.contains("equal risk is impossible"), "{text}");
        // Without binding bounds, nothing to say.
        let mut wide = config(OptimizerMethod::RiskParity);
        wide.bound_lo = 0.0;
        wide.bound_hi = 1.0;
        let free = compute_targets(&returns(365), &wide, &TargetAllocation::conservative())
            .expect("solves");
        assert_eq!(free.diagnostics.equal_risk_gap, None);
    }

    #[test]
    fn turnover_controls_keep_targets_near_the_current_weights() {
        struct TestCase {
            penalty: f64,
            max_turnover: f64,
        }
        let cases = [
            // TC0: a cap of 10% of the portfolio per solve.
            TestCase {
                penalty: 0.0,
                max_turnover: 0.10,
            },
            // TC1: a penalty of 5 points per unit of change.
            TestCase {
                penalty: 0.05,
                max_turnover: 1.0,
            },
        ];
        let configured = TargetAllocation::conservative();
        let base = compute_targets(
            &returns(365),
            &config(OptimizerMethod::MinVariance),
            &configured,
        )
        .expect("solves");
        let unrestrained = base.diagnostics.turnover.turnover;
        assert!(unrestrained > 0.3, "{unrestrained}");
        for (i, case) in cases.iter().enumerate() {
            let mut c = config(OptimizerMethod::MinVariance);
            c.turnover_penalty = case.penalty;
            c.max_turnover = case.max_turnover;
            let near = compute_targets_near(&returns(365), &c, &configured, configured.weights())
                .unwrap_or_else(|e| panic!("TC{i}: {e}"));
            let t = near.diagnostics.turnover;
            assert!((t.ideal_turnover - unrestrained).abs() < 1e-9, "TC{i}");
            assert!(t.turnover < unrestrained - 0.05, "TC{i}: {t:?}");
            assert!(t.turnover <= case.max_turnover + 1e-6, "TC{i}: {t:?}");
            let sum: Decimal = near.targets.weights().values().copied().sum();
            assert!((sum - Decimal::ONE).abs() < dec!(0.000000001), "TC{i}");
        }
        // The held reserve stays held under the controls.
        let mut rp = config(OptimizerMethod::RiskParity);
        rp.max_turnover = 0.05;
        let near = compute_targets(&returns(365), &rp, &configured).expect("solves");
        assert_eq!(near.targets.weight(Service::Reserve), dec!(0.1));
        assert!(near.diagnostics.turnover.turnover <= 0.05 + 1e-6);
    }

    #[test]
    fn black_litterman_without_views_keeps_the_configured_targets() {
        let configured = TargetAllocation::conservative();
        let computed = solve_a_year(&config(OptimizerMethod::BlackLitterman), &configured);
        for service in Service::ALL {
            let got = weight(&computed.targets, service);
            let want = weight(&configured, service);
            assert!((got - want).abs() < 1e-6, "{service}: {got} vs {want}");
        }
    }

    #[test]
    fn a_view_tilts_black_litterman() {
        let configured = TargetAllocation::conservative();
        let mut c = config(OptimizerMethod::BlackLitterman);
        let mut portfolio = ServiceMap::<f64>::default();
        portfolio[Service::Wallet] = 1.0;
        c.black_litterman.views.push(ServiceView {
            portfolio,
            expected_return: 0.60,
            confidence: Some(0.9),
        });
        let computed = solve_a_year(&c, &configured);
        assert!(weight(&computed.targets, Service::Wallet) > 0.20);
    }

    #[test]
    fn the_kelly_multiplier_changes_the_targets() {
        let configured = TargetAllocation::conservative();
        let mut c = config(OptimizerMethod::Kelly);
        c.kelly_multiplier = 0.01;
        let cautious = solve_a_year(&c, &configured);
        c.kelly_multiplier = 1.0;
        let full = solve_a_year(&c, &configured);
        assert_ne!(cautious.targets, full.targets);
        assert!(full.diagnostics.volatility > cautious.diagnostics.volatility);
    }

    #[test]
    fn refusals_name_their_cause() {
        struct TestCase {
            returns: ReturnHistory,
            config: OptimizerConfig,
            expected_kind: &'static str,
            expected_text: &'static str,
        }
        // A name that is not a service is refused by the venue adapter before it gets here
        // (`ReturnsResponse::to_history`); a ragged history is the core's to refuse.
        let mut ragged = returns(30);
        if let Some(wallet) = ragged.series_by_service.get_mut(&Service::Wallet) {
            wallet.pop();
        }
        let mut missing = returns(30);
        missing.series_by_service.remove(&Service::Escrow);
        let mut infeasible = config(OptimizerMethod::MinVariance);
        infeasible.bound_lo = 0.5;
        let mut reserve_outside = config(OptimizerMethod::RiskParity);
        reserve_outside.bound_lo = 0.15;
        let mut no_edge = config(OptimizerMethod::MaxSharpe);
        no_edge.risk_free_rate = 5.0;
        let cases = [
            // TC0: a series shorter than the others, named.
            TestCase {
                returns: ragged,
                config: config(OptimizerMethod::MinVariance),
                expected_kind: "bad_returns",
                expected_text: "series `wallet` has 29 observations",
            },
            // TC1: a service without history.
            TestCase {
                returns: missing,
                config: config(OptimizerMethod::MinVariance),
                expected_kind: "bad_returns",
                expected_text: "escrow",
            },
            // TC2: too few days for a sample covariance of six services.
            TestCase {
                returns: returns(5),
                config: config(OptimizerMethod::MinVariance),
                expected_kind: "bad_returns",
                expected_text: "rows of returns",
            },
            // TC3: bounds no allocation satisfies.
            TestCase {
                returns: returns(365),
                config: infeasible,
                expected_kind: "solve_failed",
                expected_text: "infeasible",
            },
            // TC4: the held reserve (0.10) below the floor.
            TestCase {
                returns: returns(365),
                config: reserve_outside,
                expected_kind: "solve_failed",
                expected_text: "outside its bounds",
            },
            // TC5: nothing beats the risk-free rate.
            TestCase {
                returns: returns(365),
                config: no_edge,
                expected_kind: "solve_failed",
                expected_text: "risk-free rate",
            },
            // TC6: fixed computes nothing.
            TestCase {
                returns: returns(365),
                config: config(OptimizerMethod::Fixed),
                expected_kind: "not_estimated",
                expected_text: "fixed",
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            let err = compute_targets(
                &case.returns,
                &case.config,
                &TargetAllocation::conservative(),
            )
            .expect_err(&format!("TC{i} must be refused"));
            assert_eq!(err.kind(), case.expected_kind, "TC{i}: {err}");
            assert!(err.to_string().contains(case.expected_text), "TC{i}: {err}");
        }
    }

    #[test]
    fn the_boundary_check_refuses_bad_weights() {
        struct TestCase {
            weights: [f64; 6],
            expected: Result<(), &'static str>,
        }
        let cases = [
            // TC0: the conservative allocation passes.
            TestCase {
                weights: [0.2, 0.3, 0.15, 0.15, 0.1, 0.1],
                expected: Ok(()),
            },
            // TC1: NaN is named first, whatever else is wrong.
            TestCase {
                weights: [f64::NAN, 0.9, 0.15, 0.15, 0.1, 0.1],
                expected: Err("casino is not finite"),
            },
            // TC2: above the cap.
            TestCase {
                weights: [0.85, 0.05, 0.02, 0.02, 0.03, 0.03],
                expected: Err("weight of casino is 0.85"),
            },
            // TC3: below the floor.
            TestCase {
                weights: [0.2, 0.3, 0.15, 0.15, 0.195, 0.005],
                expected: Err("weight of reserve is 0.005"),
            },
            // TC4: not fully invested.
            TestCase {
                weights: [0.2, 0.3, 0.15, 0.15, 0.1, 0.05],
                expected: Err("sum to 0.95"),
            },
            // TC5: infinity.
            TestCase {
                weights: [0.2, 0.3, 0.15, 0.15, 0.1, f64::INFINITY],
                expected: Err("reserve is not finite"),
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            match (
                check_weights(&Service::ALL, &case.weights, 0.01, 0.80),
                case.expected,
            ) {
                (Ok(()), Ok(())) => {}
                (Err(e), Err(needle)) => assert!(e.to_string().contains(needle), "TC{i}: {e}"),
                (got, want) => panic!("TC{i}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn diagnostics_print_and_serialize() {
        let computed = solve_a_year(
            &config(OptimizerMethod::RiskParity),
            &TargetAllocation::conservative(),
        );
        let diagnostics = TargetDiagnostics::Optimal(Box::new(computed.diagnostics));
        let text = diagnostics.to_string();
        // The cap binds on escrow: the text says "bounded", the JSON names the gap (its
        // status stays `optimal`: the solve converged to the best the bounds allow).
        assert!(
            text.starts_with("bounded (constrained-risk-budgeting"),
            "{text}"
        );
        assert!(
            text.contains("iterations") && text.contains("reserve"),
            "{text}"
        );
        let json = serde_json::to_value(&diagnostics).expect("serializes");
        assert_eq!(json["status"], "optimal");
        assert_eq!(json["equal_risk_gap"]["at_cap"][0], "escrow");
        assert!(json["turnover"]["turnover"].is_f64());
        assert!(json["risk_contributions"]["casino"].is_f64());
        assert_eq!(
            serde_json::to_value(TargetDiagnostics::Configured).expect("serializes")["status"],
            "configured"
        );
    }
}
