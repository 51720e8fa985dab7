//! Drift: how far each service's weight is from its target, and when that calls for action.
//!
//! A service breaches its band when `|weight − target| > band`, where the band is the
//! absolute band (the article's 5 points) or, when a relative band is configured, the
//! tighter of that and `relative × target`.
//!
//! # Invariants
//! - [`DriftBands::new`] is the one check of band values, for the configuration and the CLI
//!   alike: an absolute band in (0, 1), a relative band that is positive or absent.
//! - Drift is signed: positive means overweight. Drifts sum to zero (exactly, up to
//!   Decimal division rounding) because weights and targets both sum to one.
//! - Pure: no I/O, no clock.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{
    portfolio::PortfolioSnapshot,
    service::{Service, ServiceMap},
    targets::TargetAllocation,
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

/// Threshold bands around each target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftBands {
    /// Absolute band in weight units (0.05 = 5 points).
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
    /// The absolute band is not in (0, 1).
    #[error("band: {0} must be in (0, 1)")]
    Absolute(Decimal),
    /// A relative band below zero.
    #[error("relative_band: {0} must not be negative (0 disables it)")]
    Relative(Decimal),
}

impl DriftBands {
    /// Checked bands from the configuration's two numbers: `band`, in (0, 1), and
    /// `relative_band`, a fraction of each target where 0 means none.
    ///
    /// # Errors
    /// Every problem, each naming its key.
    pub fn new(band: Decimal, relative_band: Decimal) -> Result<Self, Vec<BandError>> {
        let mut problems = Vec::new();
        if band <= Decimal::ZERO || band >= Decimal::ONE {
            problems.push(BandError::Absolute(band));
        }
        if relative_band < Decimal::ZERO {
            problems.push(BandError::Relative(relative_band));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(DriftBands {
            absolute: band,
            relative: (relative_band > Decimal::ZERO).then_some(relative_band),
        })
    }

    /// The band for a service with the given target weight.
    pub fn band(&self, target: Decimal) -> Decimal {
        match self.relative {
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

    /// Services outside their band, largest drift first.
    pub fn breaches(&self) -> Vec<Service> {
        let mut out: Vec<Service> = Service::ALL
            .into_iter()
            .filter(|s| self.drift[*s].abs() > self.bands[*s])
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
    use crate::testing::{snapshot, usdc};

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
            // TC2: exactly 5 points is inside the band.
            TestCase {
                balances: usdc![250, 250, 150, 150, 100, 100],
                bands: abs,
                expected: vec![],
            },
            // TC3: escrow 3 points under: inside 5 points, outside 25% of 10% = 2.5 points.
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
                    "band: -0.05 must be in (0, 1)",
                    "relative_band: -0.1 must not be negative (0 disables it)",
                ]),
            },
            // TC3: a band of 1 leaves nothing outside it.
            TestCase {
                band: dec!(1),
                relative_band: dec!(0),
                expected: Err(vec!["band: 1 must be in (0, 1)"]),
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            let got = DriftBands::new(case.band, case.relative_band)
                .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>());
            match (&got, &case.expected) {
                (Ok(bands), Ok(want)) => assert_eq!(bands, want, "TC{i}"),
                (Err(got), Err(want)) => assert_eq!(got, want, "TC{i}"),
                _ => panic!("TC{i}: got {got:?}, want {:?}", case.expected),
            }
        }
    }
}
