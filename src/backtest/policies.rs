//! Named policies (what `--policy` accepts), the article's comparison set (its trigger table),
//! and band sweeps (`band=0.02:0.10:0.01`).
//!
//! | name | rule |
//! |---|---|
//! | `hybrid` (default) | breach of `band` at any day, or to target after `floor` days (0: no floor) |
//! | `threshold` | breach of `band` (absolute points) |
//! | `threshold-5`, `threshold-10` | breach of 5 / 10 points |
//! | `relative-threshold` | breach of `band × target` (e.g. 0.25 = a quarter of each target) |
//! | `calendar-daily`, `calendar-weekly`, `calendar-N` | to target every 1, 7, N days |
//! | `volatility-adjusted` | breach of `band × (1 − 0.6 × vol index)` in [2%, 10%] |
//! | `buy-and-hold` | never |
//!
//! # Invariants
//! - [`COMPARE_POLICIES`] is the article's trigger table in its order, buy-and-hold first.
//! - A sweep has at least one point and at most [`MAX_SWEEP_POINTS`].

use serde::Serialize;

use super::BacktestError;
use crate::policy::rules::{Band, RebalanceTo, RuleConfig};

/// The article's trigger table, as policy names, in the order `--compare` prints them.
pub const COMPARE_POLICIES: [&str; 7] = [
    "buy-and-hold",
    "calendar-daily",
    "calendar-weekly",
    "threshold-5",
    "threshold-10",
    "hybrid",
    "volatility-adjusted",
];

/// Most points a sweep may have.
pub const MAX_SWEEP_POINTS: usize = 1000;

/// The parameters named policies read.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PolicyParams {
    /// Band for `hybrid`, `threshold`, `relative-threshold` (a fraction of target there) and
    /// the base of `volatility-adjusted`.
    pub band: f64,
    /// The hybrid's calendar floor; 0 disables it.
    pub calendar_floor_days: u32,
    /// Where threshold steps go.
    pub rebalance_to: RebalanceTo,
}

/// The rule a policy name stands for.
///
/// # Errors
/// [`BacktestError::BadParameter`] (`policy`) for an unknown name.
pub fn named_policy(name: &str, params: &PolicyParams) -> Result<RuleConfig<f64>, BacktestError> {
    let absolute = |points| Band::Absolute { points };
    let to = params.rebalance_to;
    let rule = match name {
        "hybrid" => match params.calendar_floor_days {
            0 => RuleConfig::threshold(absolute(params.band), to),
            days => RuleConfig::hybrid(absolute(params.band), days, to),
        },
        "threshold" => RuleConfig::threshold(absolute(params.band), to),
        "threshold-5" => RuleConfig::threshold(absolute(0.05), to),
        "threshold-10" => RuleConfig::threshold(absolute(0.10), to),
        "relative-threshold" => RuleConfig::threshold(
            Band::Relative {
                fraction: params.band,
            },
            to,
        ),
        "calendar-daily" => RuleConfig::calendar(1),
        "calendar-weekly" => RuleConfig::calendar(7),
        "volatility-adjusted" => RuleConfig::volatility_adjusted(params.band, to),
        "buy-and-hold" => RuleConfig::buy_and_hold(),
        other => match other.strip_prefix("calendar-").map(str::parse::<u32>) {
            Some(Ok(days)) if days > 0 => RuleConfig::calendar(days),
            _ => {
                return Err(BacktestError::parameter(
                    "policy",
                    format!(
                        "`{other}` is not a policy (expected hybrid, threshold, threshold-5, \
                         threshold-10, relative-threshold, calendar-daily, calendar-weekly, \
                         calendar-N, volatility-adjusted, buy-and-hold)"
                    ),
                ));
            }
        },
    };
    Ok(rule)
}

/// A parsed `--sweep`: the parameter and its values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sweep {
    /// The parameter swept (`band`).
    pub parameter: String,
    /// Its values, from the start to the end inclusive.
    pub values: Vec<f64>,
}

/// Parses `band=START:END:STEP` (END included when on the grid).
///
/// # Errors
/// [`BacktestError::BadParameter`] (`sweep`) for bad syntax, an unknown parameter, a
/// non-positive step, END below START, or more than [`MAX_SWEEP_POINTS`] points.
pub fn parse_sweep(text: &str) -> Result<Sweep, BacktestError> {
    let bad = |problem: String| BacktestError::parameter("sweep", problem);
    let (parameter, range) = text
        .split_once('=')
        .ok_or_else(|| bad(format!("`{text}` is not band=START:END:STEP")))?;
    let parameter = parameter.trim();
    if parameter != "band" {
        return Err(bad(format!("`{parameter}` cannot be swept (only `band`)")));
    }
    let parts: Vec<f64> = range
        .split(':')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| bad(format!("`{range}` is not START:END:STEP")))?;
    let [start, end, step] = parts[..] else {
        return Err(bad(format!("`{range}` is not START:END:STEP")));
    };
    if !(start.is_finite() && end.is_finite() && step.is_finite()) || step <= 0.0 || end < start {
        return Err(bad(format!(
            "`{range}`: need START ≤ END and a positive STEP"
        )));
    }
    // Round the count so 0.02:0.10:0.01 has its nine points despite binary fractions.
    let steps = ((end - start) / step + 1e-9).floor();
    if steps + 1.0 > MAX_SWEEP_POINTS as f64 {
        return Err(bad(format!(
            "`{range}` has more than {MAX_SWEEP_POINTS} points"
        )));
    }
    let values = (0..=steps as usize)
        .map(|k| {
            // Round to 12 places so 0.02 + 7 × 0.01 prints as 0.09.
            let v = start + k as f64 * step;
            (v * 1e12).round() / 1e12
        })
        .collect();
    Ok(Sweep {
        parameter: parameter.to_owned(),
        values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> PolicyParams {
        PolicyParams {
            band: 0.05,
            calendar_floor_days: 30,
            rebalance_to: RebalanceTo::Target,
        }
    }

    #[test]
    fn named_policies() {
        struct TestCase {
            name: &'static str,
            expected: Option<RuleConfig<f64>>,
        }
        let abs = |points| Band::Absolute { points };
        let cases = [
            // TC0: the default hybrid.
            TestCase {
                name: "hybrid",
                expected: Some(RuleConfig::hybrid(abs(0.05), 30, RebalanceTo::Target)),
            },
            // TC1: the table's fixed thresholds.
            TestCase {
                name: "threshold-10",
                expected: Some(RuleConfig::threshold(abs(0.10), RebalanceTo::Target)),
            },
            // TC2: every N days.
            TestCase {
                name: "calendar-30",
                expected: Some(RuleConfig::calendar(30)),
            },
            // TC3: relative band from --band.
            TestCase {
                name: "relative-threshold",
                expected: Some(RuleConfig::threshold(
                    Band::Relative { fraction: 0.05 },
                    RebalanceTo::Target,
                )),
            },
            // TC4: calendar-0 and unknown names are refused.
            TestCase {
                name: "calendar-0",
                expected: None,
            },
            TestCase {
                name: "monthly",
                expected: None,
            },
        ];
        for (index, case) in cases.iter().enumerate() {
            assert_eq!(
                named_policy(case.name, &params()).ok(),
                case.expected,
                "TC{index}"
            );
        }
        for name in COMPARE_POLICIES {
            assert!(named_policy(name, &params()).is_ok(), "{name}");
        }
    }

    #[test]
    fn sweeps() {
        struct TestCase {
            text: &'static str,
            expected: Result<Vec<f64>, &'static str>,
        }
        let cases = [
            // TC0: the sweep: nine bands.
            TestCase {
                text: "band=0.02:0.10:0.01",
                expected: Ok(vec![0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.10]),
            },
            // TC1: one point.
            TestCase {
                text: "band=0.05:0.05:0.01",
                expected: Ok(vec![0.05]),
            },
            // TC2: unknown parameter.
            TestCase {
                text: "cost=1:2:1",
                expected: Err("sweep: `cost` cannot be swept"),
            },
            // TC3: zero step.
            TestCase {
                text: "band=0.02:0.1:0",
                expected: Err("sweep: `0.02:0.1:0`: need START ≤ END"),
            },
            // TC4: too many points.
            TestCase {
                text: "band=0:1:0.0001",
                expected: Err("sweep: `0:1:0.0001` has more than"),
            },
        ];
        for (index, case) in cases.iter().enumerate() {
            match (parse_sweep(case.text), &case.expected) {
                (Ok(sweep), Ok(values)) => assert_eq!(&sweep.values, values, "TC{index}"),
                (Err(e), Err(prefix)) => {
                    assert!(e.to_string().starts_with(prefix), "TC{index}: {e}")
                }
                (actual, _) => panic!("TC{index}: {actual:?}"),
            }
        }
    }
}
