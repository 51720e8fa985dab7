//! Monte Carlo: many seeded paths, every policy on the same paths, on all cores, summarized
//! as percentiles of each metric.
//!
//! Path `k` is drawn from its own generator stream `(seed, k)` ([`super::paths::path_rng`])
//! into a per-thread buffer, every policy is replayed on it, and results are collected in
//! path order: the report is the same for a seed whatever the number of threads.
//! Percentiles interpolate linearly between order statistics (numpy's default).
//!
//! # Invariants
//! - Deterministic for (policies, source, paths, days, seed), on any thread count.
//! - One path buffer per worker thread, reused: nothing is allocated per day.
//! - A metric missing on some paths (degenerate) is summarized over the others, and the
//!   count of paths without it is reported.

use rayon::prelude::*;
use serde::Serialize;

use super::{
    BacktestError, MAX_PATH_DAYS, N, Row,
    engine::{BacktestConfig, NoEvents, PathInput, PathOutcome, run_path},
    observe::MetricsObserver,
    paths::PathSource,
};
use crate::performance::Metrics;

/// A Monte Carlo run's shape.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MonteCarloConfig {
    /// Number of paths.
    pub paths: usize,
    /// Days per path.
    pub days: usize,
    /// Seed of every path's generator.
    pub seed: u64,
    /// Annual risk-free rate for Sharpe.
    pub risk_free_rate: f64,
    /// Band for days outside the band.
    pub measure_band: f64,
}

impl MonteCarloConfig {
    /// Checks the sizes.
    ///
    /// # Errors
    /// [`BacktestError::BadParameter`] for no paths, no days, or more than
    /// [`MAX_PATH_DAYS`] path-days over all policies.
    pub fn validate(&self, policies: usize) -> Result<(), BacktestError> {
        if self.paths == 0 {
            return Err(BacktestError::parameter("paths", "need at least one path"));
        }
        if self.days == 0 {
            return Err(BacktestError::parameter("days", "need at least one day"));
        }
        let work = (self.paths as u64)
            .saturating_mul(self.days as u64)
            .saturating_mul(policies.max(1) as u64);
        if work > MAX_PATH_DAYS {
            return Err(BacktestError::parameter(
                "paths",
                format!(
                    "{} paths × {} days × {} policies is more than {MAX_PATH_DAYS} path-days",
                    self.paths,
                    self.days,
                    policies.max(1)
                ),
            ));
        }
        Ok(())
    }
}

/// One policy on one path.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PathResult {
    /// The engine's totals.
    pub outcome: PathOutcome,
    /// The metrics.
    pub metrics: Metrics,
}

/// Percentiles of one metric over paths.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    /// 5th percentile.
    pub p5: f64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// Mean.
    pub mean: f64,
    /// Paths on which the metric could not be estimated.
    pub missing: usize,
}

/// Percentiles of every metric of one policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicySummary {
    /// Paths run.
    pub paths: usize,
    /// Final value.
    pub final_value_usdc: Option<Percentiles>,
    /// Trades per path.
    pub rebalances: Option<Percentiles>,
    /// Trades per year.
    pub annual_rebalances: Option<Percentiles>,
    /// Days ending outside the band.
    pub days_outside_band: Option<Percentiles>,
    /// Fraction moved per year.
    pub annual_turnover: Option<Percentiles>,
    /// Tracking error.
    pub tracking_error: Option<Percentiles>,
    /// Cost drag.
    pub cost_drag: Option<Percentiles>,
    /// Rebalancing alpha.
    pub rebalancing_alpha: Option<Percentiles>,
    /// Annual return.
    pub annual_return: Option<Percentiles>,
    /// Max drawdown.
    pub max_drawdown: Option<Percentiles>,
    /// Volatility.
    pub volatility: Option<Percentiles>,
    /// Sharpe ratio.
    pub sharpe: Option<Percentiles>,
}

/// Linear-interpolated percentile of sorted values (numpy's default), `q` in [0, 1].
pub fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let pos = q.clamp(0.0, 1.0) * last as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(last);
    let frac = pos - lo as f64;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * frac)
}

/// Percentiles of the present values; `None` when none is present.
pub fn summarize(values: impl Iterator<Item = Option<f64>>) -> Option<Percentiles> {
    let mut present = Vec::new();
    let mut missing = 0;
    for v in values {
        match v {
            Some(x) if x.is_finite() => present.push(x),
            _ => missing += 1,
        }
    }
    present.sort_by(f64::total_cmp);
    Some(Percentiles {
        p5: percentile(&present, 0.05)?,
        p50: percentile(&present, 0.50)?,
        p95: percentile(&present, 0.95)?,
        mean: present.iter().sum::<f64>() / present.len() as f64,
        missing,
    })
}

/// Summarizes one policy's results over paths.
pub fn summarize_policy(results: &[PathResult]) -> PolicySummary {
    let m = |f: fn(&PathResult) -> Option<f64>| summarize(results.iter().map(f));
    PolicySummary {
        paths: results.len(),
        final_value_usdc: m(|r| Some(r.outcome.final_value_usdc)),
        rebalances: m(|r| Some(r.outcome.rebalances as f64)),
        annual_rebalances: m(|r| Some(r.metrics.annual_rebalances)),
        days_outside_band: m(|r| Some(r.metrics.days_outside_band as f64)),
        annual_turnover: m(|r| Some(r.metrics.annual_turnover)),
        tracking_error: m(|r| r.metrics.tracking_error),
        cost_drag: m(|r| Some(r.metrics.cost_drag)),
        rebalancing_alpha: m(|r| r.metrics.rebalancing_alpha),
        annual_return: m(|r| r.metrics.annual_return),
        max_drawdown: m(|r| Some(r.metrics.max_drawdown)),
        volatility: m(|r| r.metrics.volatility),
        sharpe: m(|r| r.metrics.sharpe),
    }
}

/// One policy on one given path, with its metrics.
pub fn run_with_metrics(
    config: &BacktestConfig,
    path: PathInput<'_>,
    measure_band: f64,
    risk_free_rate: f64,
) -> PathResult {
    let mut observer = MetricsObserver::new(config.initial_usdc, measure_band);
    let outcome = run_path(config, path, &mut observer, &mut NoEvents);
    PathResult {
        outcome,
        metrics: observer.metrics(risk_free_rate),
    }
}

/// Runs every policy on `mc.paths` paths from `source`; `on_path` is called once per finished
/// path (from any thread) for progress. Returns, per policy in order, one result per path
/// in path order.
///
/// # Errors
/// As [`MonteCarloConfig::validate`] and [`BacktestConfig::validate`].
pub fn run_monte_carlo(
    policies: &[BacktestConfig],
    source: PathSource<'_>,
    mc: &MonteCarloConfig,
    on_path: &(dyn Fn() + Sync),
) -> Result<Vec<Vec<PathResult>>, BacktestError> {
    mc.validate(policies.len())?;
    for policy in policies {
        policy.validate()?;
    }
    let per_path: Vec<Vec<PathResult>> = (0..mc.paths)
        .into_par_iter()
        .map_init(
            || vec![[0.0; N]; mc.days],
            |buffer: &mut Vec<Row>, index| {
                source.fill(mc.seed, index as u64, buffer);
                let path = PathInput {
                    returns: buffer,
                    flows_usdc: None,
                };
                let results = policies
                    .iter()
                    .map(|p| run_with_metrics(p, path, mc.measure_band, mc.risk_free_rate))
                    .collect();
                on_path();
                results
            },
        )
        .collect();
    let mut by_policy: Vec<Vec<PathResult>> = (0..policies.len())
        .map(|_| Vec::with_capacity(mc.paths))
        .collect();
    for results in per_path {
        for (slot, result) in by_policy.iter_mut().zip(results) {
            slot.push(result);
        }
    }
    Ok(by_policy)
}

/// Runs one policy, without metrics, over pre-generated paths in parallel: the benchmark's
/// kernel (the same work as the reference's vectorized numpy loop: final value, trades,
/// amount moved).
pub fn run_paths_bare(config: &BacktestConfig, paths: &[Vec<Row>]) -> Vec<PathOutcome> {
    paths
        .par_iter()
        .map(|returns| {
            run_path(
                config,
                PathInput {
                    returns,
                    flows_usdc: None,
                },
                &mut (),
                &mut NoEvents,
            )
        })
        .collect()
}
