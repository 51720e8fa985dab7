//! Drift: how far each service's weight is from its target, and when that calls for action.
//!
//! A service's band is the absolute band (the article's 5 points), or `relative × target`
//! with a relative band and no absolute one, or the tighter of both when both are set.
//!
//! # The band edge: `≥`, decided once
//! A service breaches its band when `|weight − target| ≥ band` and the drift is not zero
//! ([`outside_band`]): a drift exactly on the edge rebalances. The article uses both (`>` in
//! `check_drift`, `≥` in `calculate_drift`); the reference backtest, whose 164 rebalances the
//! backtester reproduces, uses `≥`, so every caller does: the trigger rules
//! (`policy::rules`, live and backtest), [`DriftReport::breaches`], the planner and
//! `ballast plan`'s table. A band-edge destination ([`band_edge_weights`]) only has to lie
//! inside the *closed* band, so a service left exactly on its edge is accepted there and
//! counts as breached at the next check.
//!
//! # Invariants
//! - [`DriftBands::new`] is the one check of band values, for the configuration and the CLI
//!   alike: an absolute band in [0, 1) (0 switches it off), a relative band that is positive
//!   or absent, and at least one of the two.
//! - Drift is signed: positive means overweight. Drifts sum to zero (exactly, up to
//!   Decimal division rounding) because weights and targets both sum to one.
//! - Pure: no I/O, no clock.

use std::ops::{Add, Mul, Sub};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{
    portfolio::PortfolioSnapshot,
    service::{Service, ServiceMap},
    targets::TargetAllocation,
    validation::every_problem,
};

/// Where a rebalance takes a drifted service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RebalanceTo {
    /// All the way back to target (the article's behaviour).
    #[default]
    Target,
    /// Only to the edge of the band: cheaper under proportional costs.
    BandEdge,
}

/// Relative slack on the hub's band when checking a band-edge destination: the hub's
/// weight is a remainder of rounded weights, so exact arithmetic's "on the edge" may come
/// out a few ulps beyond it in `f64`.
pub const EDGE_SLACK: f64 = 1e-9;

/// The one band-edge comparison: a drift of absolute size `size` is outside `band` when
/// `size ≥ band` and it is not zero (so a zero band, a relative band around a zero target,
/// never fires on target).
#[inline]
pub fn outside_band<T: PartialOrd>(size: T, band: T, zero: T) -> bool {
    size >= band && size > zero
}

/// Where a band-edge rebalance goes, in any number type: every non-hub service outside its
/// band (`bands[i]`, `None` = no band) moves to the nearest edge (`target ± band`), the
/// others keep their weight, and the hub (the reserve, which funds every transfer) takes the
/// remainder so the weights sum to the targets' sum.
///
/// # Errors
/// The hub's weight, when the remainder leaves the hub beyond its own band by more than
/// `slack × band` (`slack` is [`EDGE_SLACK`] in the caller's type): the caller then goes to
/// target instead. A hub exactly on its edge is accepted.
pub fn band_edge_weights<T, const N: usize>(
    weights: &[T; N],
    targets: &[T; N],
    bands: &[Option<T>; N],
    hub: usize,
    zero: T,
    slack: T,
) -> Result<[T; N], T>
where
    T: Copy + PartialOrd + Add<Output = T> + Sub<Output = T> + Mul<Output = T>,
{
    let abs = |x: T| if x < zero { zero - x } else { x };
    let mut out = *weights;
    let mut others = zero;
    for index in 0..N {
        if index == hub {
            continue;
        }
        let target = targets[index];
        if let Some(band) = bands[index] {
            let drift = weights[index] - target;
            if outside_band(abs(drift), band, zero) {
                out[index] = if drift < zero {
                    target - band
                } else {
                    target + band
                };
            }
        }
        others = others + out[index];
    }
    let total = targets.iter().fold(zero, |sum, t| sum + *t);
    out[hub] = total - others;
    match bands[hub] {
        Some(band) if abs(out[hub] - targets[hub]) > band + band * slack => Err(out[hub]),
        _ => Ok(out),
    }
}

/// Threshold bands around each target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftBands {
    /// Absolute band in weight units (0.05 = 5 points); 0 means none (the relative band
    /// alone).
    pub absolute: Decimal,
    /// Optional relative band as a fraction of the target (0.25 = 25% of target).
    pub relative: Option<Decimal>,
}

impl Default for DriftBands {
    fn default() -> Self {
        DriftBands {
            absolute: Decimal::new(5, 2),
            relative: None,
        }
    }
}

/// One problem with drift bands; `Display` names the key relative to its section (`band`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BandError {
    /// The absolute band is not in [0, 1).
    #[error("band: {0} must be in [0, 1) (0 switches it off)")]
    Absolute(Decimal),
    /// A relative band below zero.
    #[error("relative_band: {0} must not be negative (0 disables it)")]
    Relative(Decimal),
    /// Both bands switched off.
    #[error("band: 0 needs a relative_band above 0 (one of the two must be set)")]
    Neither,
}

impl DriftBands {
    /// Checked bands from the configuration's two numbers: `band`, in [0, 1), and
    /// `relative_band`, a fraction of each target, where 0 means none; at least one is set.
    ///
    /// # Errors
    /// Every problem, each naming its key.
    pub fn new(band: Decimal, relative_band: Decimal) -> Result<Self, Vec<BandError>> {
        let mut problems = Vec::new();
        if band < Decimal::ZERO || band >= Decimal::ONE {
            problems.push(BandError::Absolute(band));
        }
        if relative_band < Decimal::ZERO {
            problems.push(BandError::Relative(relative_band));
        }
        if band.is_zero() && relative_band.is_zero() {
            problems.push(BandError::Neither);
        }
        every_problem(problems)?;
        Ok(DriftBands {
            absolute: band,
            relative: (relative_band > Decimal::ZERO).then_some(relative_band),
        })
    }

    /// The band for a service with the given target weight.
    pub fn band(&self, target: Decimal) -> Decimal {
        match self.relative {
            Some(relative) if self.absolute.is_zero() => relative * target,
            Some(relative) => self.absolute.min(relative * target),
            None => self.absolute,
        }
    }
}

/// Weights, targets and drift per service at one snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriftReport {
    /// Current weight per service.
    pub weights: ServiceMap<Decimal>,
    /// Target weight per service.
    pub targets: ServiceMap<Decimal>,
    /// `weight − target` per service (positive = overweight).
    pub drift: ServiceMap<Decimal>,
    /// Band per service.
    pub bands: ServiceMap<Decimal>,
}

impl DriftReport {
    /// Measures drift of a snapshot against targets.
    pub fn measure(
        snapshot: &PortfolioSnapshot,
        targets: &TargetAllocation,
        bands: &DriftBands,
    ) -> Self {
        let weights = snapshot.weights();
        let drift = weights.map(|service, w| *w - targets.weight(service));
        DriftReport {
            weights,
            targets: *targets.weights(),
            drift,
            bands: targets.weights().map(|_, t| bands.band(*t)),
        }
    }

    /// Whether `service` is outside its band ([`outside_band`]: on the edge counts).
    pub fn breached(&self, service: Service) -> bool {
        outside_band(
            self.drift[service].abs(),
            self.bands[service],
            Decimal::ZERO,
        )
    }

    /// Services outside their band, largest drift first.
    pub fn breaches(&self) -> Vec<Service> {
        let mut out: Vec<Service> = Service::ALL
            .into_iter()
            .filter(|s| self.breached(*s))
            .collect();
        out.sort_by(|a, b| self.drift[*b].abs().cmp(&self.drift[*a].abs()));
        out
    }

    /// The largest absolute drift over all services.
    pub fn max_abs_drift(&self) -> Decimal {
        self.drift
            .values()
            .map(|d| d.abs())
            .max()
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::testing::{messages, snapshot, usdc};

    #[test]
    fn breaches_by_band() {
        struct TestCase {
            balances: [Decimal; 6],
            bands: DriftBands,
            expected: Vec<Service>,
        }
        let abs = DriftBands::default();
        let rel = DriftBands {
            absolute: dec!(0.05),
            relative: Some(dec!(0.25)),
        };
        let cases = [
            // TC0: on target.
            TestCase {
                balances: usdc![200, 300, 150, 150, 100, 100],
                bands: abs,
                expected: vec![],
            },
            // TC1: casino 12 points over (32%), reserve and trading under.
            TestCase {
                balances: usdc![320, 240, 150, 150, 100, 40],
                bands: abs,
                expected: vec![Service::Casino, Service::Trading, Service::Reserve],
            },
            // TC2: exactly 5 points is on the edge, which breaches (`≥`, the module docs):
            // casino 5 over, trading 5 under (equal drifts keep canonical order).
            TestCase {
                balances: usdc![250, 250, 150, 150, 100, 100],
                bands: abs,
                expected: vec![Service::Casino, Service::Trading],
            },
            // TC3: a cent inside the edge is inside the band.
            TestCase {
                balances: usdc![249.99, 250.01, 150, 150, 100, 100],
                bands: abs,
                expected: vec![],
            },
            // TC4: escrow 3 points under: inside 5 points, outside 25% of 10% = 2.5 points.
            TestCase {
                balances: usdc![200, 330, 150, 150, 70, 100],
                bands: rel,
                expected: vec![Service::Escrow],
            },
        ];
        let targets = TargetAllocation::conservative();
        for (index, case) in cases.iter().enumerate() {
            let report =
                DriftReport::measure(&snapshot(case.balances, None), &targets, &case.bands);
            assert_eq!(report.breaches(), case.expected, "TC{index}");
        }
    }

    #[test]
    fn bands_are_checked_when_built() {
        struct TestCase {
            band: Decimal,
            relative_band: Decimal,
            expected: Result<DriftBands, Vec<&'static str>>,
        }
        let cases = [
            // TC0: the article's 5 points, no relative band.
            TestCase {
                band: dec!(0.05),
                relative_band: dec!(0),
                expected: Ok(DriftBands::default()),
            },
            // TC1: a relative band is kept.
            TestCase {
                band: dec!(0.05),
                relative_band: dec!(0.25),
                expected: Ok(DriftBands {
                    absolute: dec!(0.05),
                    relative: Some(dec!(0.25)),
                }),
            },
            // TC2: both wrong, both named.
            TestCase {
                band: dec!(-0.05),
                relative_band: dec!(-0.1),
                expected: Err(vec![
                    "band: -0.05 must be in [0, 1) (0 switches it off)",
                    "relative_band: -0.1 must not be negative (0 disables it)",
                ]),
            },
            // TC3: a band of 1 leaves nothing outside it.
            TestCase {
                band: dec!(1),
                relative_band: dec!(0),
                expected: Err(vec!["band: 1 must be in [0, 1) (0 switches it off)"]),
            },
            // TC4: the absolute band off, the relative band alone (a pure relative threshold).
            TestCase {
                band: dec!(0),
                relative_band: dec!(0.25),
                expected: Ok(DriftBands {
                    absolute: dec!(0),
                    relative: Some(dec!(0.25)),
                }),
            },
            // TC5: both off: no band at all is refused.
            TestCase {
                band: dec!(0),
                relative_band: dec!(0),
                expected: Err(vec![
                    "band: 0 needs a relative_band above 0 (one of the two must be set)",
                ]),
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            let got =
                DriftBands::new(case.band, case.relative_band).map_err(|errors| messages(&errors));
            match (&got, &case.expected) {
                (Ok(bands), Ok(want)) => assert_eq!(bands, want, "TC{i}"),
                (Err(got), Err(want)) => assert_eq!(got, want, "TC{i}"),
                _ => panic!("TC{i}: got {got:?}, want {:?}", case.expected),
            }
        }
    }
}
