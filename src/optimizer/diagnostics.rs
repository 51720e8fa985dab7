//! What a solve reports with the targets it publishes: the solver, the estimate, the risk each
//! service carries, how much of the portfolio the targets move from the current weights, and —
//! for risk parity — whether the bounds made equal risk impossible.
//!
//! # Invariants
//! - `Display` of [`TargetDiagnostics`] reads "optimal" only for a solve whose result is what
//!   the method asks; risk parity pinned by its bounds reads "bounded" and names the gap.

use std::fmt;

use serde::Serialize;

use super::OptimizerConfig;
use crate::{
    math::{
        methods::OptimizerMethod,
        returns::{CovarianceMethod, Repair},
    },
    service::{Service, ServiceMap},
};

/// What the solve reports about published targets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SolveDiagnostics {
    /// The solver that produced the weights.
    pub solver: &'static str,
    /// Solver iterations, where counted (risk parity).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iterations: Option<usize>,
    /// Days of returns the estimate used.
    pub observations: usize,
    /// Covariance estimator.
    pub covariance: CovarianceMethod,
    /// Ledoit–Wolf shrinkage intensity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shrinkage: Option<f64>,
    /// What the positive-definiteness repair did.
    pub repair: Repair,
    /// Annualized expected return of the targets (under the estimated model).
    pub expected_return: f64,
    /// Annualized volatility of the targets.
    pub volatility: f64,
    /// Sharpe ratio at the configured risk-free rate (`None`: volatility is zero).
    pub sharpe: Option<f64>,
    /// Each service's share of the portfolio's risk (sums to 1).
    pub risk_contributions: ServiceMap<f64>,
    /// Risk parity: largest relative risk-contribution error among the risky services.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rc_max_rel_error: Option<f64>,
    /// Kelly: approximate annual log growth.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub growth_rate: Option<f64>,
    /// How far the targets move the portfolio from its current weights.
    pub turnover: TurnoverDiagnostics,
    /// Risk parity: set when the bounds make equal risk impossible.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub equal_risk_gap: Option<EqualRiskGap>,
}

/// How far published targets are from the current weights (see [`crate::math::turnover`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TurnoverDiagnostics {
    /// Fraction of the portfolio the targets move (half the sum of |target − current|).
    pub turnover: f64,
    /// The same for the method's ideal weights, before the penalty and the cap.
    pub ideal_turnover: f64,
    /// `optimizer.turnover_penalty` applied.
    pub penalty: f64,
    /// `optimizer.max_turnover` applied.
    pub max_turnover: f64,
}

/// Risk parity whose bounds make equal risk contributions impossible: the services pinned at a
/// bound carry more (at the floor) or less (at the cap) than an equal share.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EqualRiskGap {
    /// Services held at the lower bound.
    pub at_floor: Vec<Service>,
    /// Services held at the upper bound.
    pub at_cap: Vec<Service>,
    /// The risky service carrying the most risk.
    pub largest: Service,
    /// Its share of the portfolio's risk.
    pub largest_share: f64,
    /// The share each risky service would carry with equal risk.
    pub equal_share: f64,
}

/// A risky service's risk share further than this from the equal share (absolute) means the
/// bounds made equal risk impossible.
pub const EQUAL_RISK_TOLERANCE: f64 = 0.01;

impl fmt::Display for EqualRiskGap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = |services: &[Service]| {
            services
                .iter()
                .map(|s| s.name())
                .collect::<Vec<_>>()
                .join(", ")
        };
        write!(
            f,
            "equal risk is impossible within the bounds: {} carries {:.1}% of the risk \
             (equal share {:.1}%)",
            self.largest,
            100.0 * self.largest_share,
            100.0 * self.equal_share
        )?;
        if !self.at_floor.is_empty() {
            write!(f, "; at the lower bound: {}", names(&self.at_floor))?;
        }
        if !self.at_cap.is_empty() {
            write!(f, "; at the upper bound: {}", names(&self.at_cap))?;
        }
        Ok(())
    }
}

/// How a published allocation came about.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum TargetDiagnostics {
    /// The configured `[targets]` (start-up, and method `fixed`).
    Configured,
    /// A converged solve (boxed: the diagnostics are large and published rarely).
    Optimal(Box<SolveDiagnostics>),
}

impl fmt::Display for TargetDiagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = match self {
            TargetDiagnostics::Configured => return f.write_str("configured targets"),
            TargetDiagnostics::Optimal(d) => d,
        };
        // Risk parity pinned by its bounds is the best the bounds allow, not equal risk.
        let status = if d.equal_risk_gap.is_some() {
            "bounded"
        } else {
            "optimal"
        };
        write!(f, "{status} ({}", d.solver)?;
        if let Some(iterations) = d.iterations {
            write!(f, ", {iterations} iterations")?;
        }
        write!(
            f,
            ", {} days): expected return {:.2}%, volatility {:.2}%, {}; risk",
            d.observations,
            100.0 * d.expected_return,
            100.0 * d.volatility,
            d.sharpe.map_or_else(
                || "Sharpe undefined (volatility is zero)".to_owned(),
                |s| format!("Sharpe {s:.2}")
            )
        )?;
        for (service, rc) in d.risk_contributions.iter() {
            write!(f, " {service} {:.1}%", 100.0 * rc)?;
        }
        let t = &d.turnover;
        write!(f, "; moves {:.1}% of the portfolio", 100.0 * t.turnover)?;
        if (t.turnover - t.ideal_turnover).abs() > 1e-9 {
            write!(f, " (unrestrained {:.1}%)", 100.0 * t.ideal_turnover)?;
        }
        if let Some(gap) = &d.equal_risk_gap {
            write!(f, "; {gap}")?;
        }
        Ok(())
    }
}

/// Risk parity only: whether the bounds kept the risky services from equal risk, and how.
pub(super) fn equal_risk_gap(
    services: &[Service],
    weights: &[f64],
    risk: &[f64],
    config: &OptimizerConfig,
    held: Option<Service>,
) -> Option<EqualRiskGap> {
    if config.method != OptimizerMethod::RiskParity {
        return None;
    }
    let risky: Vec<usize> = (0..services.len())
        .filter(|i| Some(services[*i]) != held)
        .collect();
    let equal_share = 1.0 / risky.len() as f64;
    let &largest = risky
        .iter()
        .max_by(|a, b| risk[**a].total_cmp(&risk[**b]))?;
    let off = risky
        .iter()
        .any(|i| (risk[*i] - equal_share).abs() > EQUAL_RISK_TOLERANCE);
    let at = |bound: f64| -> Vec<Service> {
        risky
            .iter()
            .filter(|i| (weights[**i] - bound).abs() <= 1e-9)
            .map(|i| services[*i])
            .collect()
    };
    off.then(|| EqualRiskGap {
        at_floor: at(config.bound_lo),
        at_cap: at(config.bound_hi),
        largest: services[largest],
        largest_share: risk[largest],
        equal_share,
    })
}
