//! The rebalance planner: from a snapshot, targets and a policy to an ordered list of
//! transfers between services and the reserve.
//!
//! The reserve (`available_balance`) is the hub: every leg moves USDC between one tradable
//! service and the reserve, so a plan is a list of decreases (service → reserve) followed by
//! increases (reserve → service). The article sorts legs by drift size, so an increase can run
//! before the decrease that funds it; here decreases always come first.
//!
//! # Invariants
//! - Every decrease precedes every increase.
//! - Every amount is positive, whole cents and at least `min_trade_usdc`.
//! - Applying the legs in order never takes any balance (service or reserve) below zero,
//!   and conserves the total exactly: increases are scaled down, never up, when the reserve
//!   plus the decreases cannot fund them.
//! - Pure: no I/O.

use rust_decimal::Decimal;
use serde::Serialize;

use crate::{
    drift::{DriftBands, DriftReport, RebalanceTo},
    money::round_cents,
    portfolio::PortfolioSnapshot,
    service::{Direction, Service, ServiceMap},
    targets::TargetAllocation,
};

/// One transfer between a service and the reserve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Leg {
    /// The service (never the reserve).
    pub service: Service,
    /// Increase (reserve → service) or decrease (service → reserve).
    pub direction: Direction,
    /// Amount, positive whole cents (two decimals in JSON).
    #[serde(serialize_with = "crate::money::serialize_usdc")]
    pub amount_usdc: Decimal,
    /// The service's weight before the plan.
    pub current_weight: Decimal,
    /// The service's target weight.
    pub target_weight: Decimal,
}

/// Planner settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanParams {
    /// Drift bands.
    pub bands: DriftBands,
    /// Where drifted services go.
    pub rebalance_to: RebalanceTo,
    /// Legs smaller than this are dropped (the article's `min_trade_usdc`).
    pub min_trade_usdc: Decimal,
    /// Plan even when no service is outside its band (calendar rebalances, explicit
    /// requests).
    pub force: bool,
}

impl Default for PlanParams {
    fn default() -> Self {
        PlanParams {
            bands: DriftBands::default(),
            rebalance_to: RebalanceTo::Target,
            min_trade_usdc: Decimal::ONE,
            force: false,
        }
    }
}

/// An ordered rebalance: decreases, then increases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RebalancePlan {
    /// Legs in execution order.
    pub legs: Vec<Leg>,
    /// Total portfolio value when planned (two decimals in JSON).
    #[serde(serialize_with = "crate::money::serialize_usdc")]
    pub total_usdc: Decimal,
    /// Drift measured before planning.
    pub report: DriftReport,
}

/// A plan that cannot be applied to a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// A leg would take a balance below zero.
    #[error("leg {index} ({service} {direction}) would overdraw {overdrawn}")]
    Overdraw {
        /// Leg position.
        index: usize,
        /// Leg service.
        service: Service,
        /// Leg direction.
        direction: &'static str,
        /// The balance that would go negative.
        overdrawn: Service,
    },
}

impl RebalancePlan {
    /// True when nothing needs to move.
    pub fn is_empty(&self) -> bool {
        self.legs.is_empty()
    }

    /// Sum of leg amounts (the USDC moved).
    pub fn moved_usdc(&self) -> Decimal {
        self.legs.iter().map(|leg| leg.amount_usdc).sum()
    }

    /// Balances after applying every leg in order.
    ///
    /// # Errors
    /// When a leg would overdraw a balance.
    pub fn apply(&self, balances: &ServiceMap<Decimal>) -> Result<ServiceMap<Decimal>, ApplyError> {
        let mut out = *balances;
        for (index, leg) in self.legs.iter().enumerate() {
            let (from, to) = leg.direction.flow(leg.service);
            if out[from] < leg.amount_usdc {
                return Err(ApplyError::Overdraw {
                    index,
                    service: leg.service,
                    direction: leg.direction.name(),
                    overdrawn: from,
                });
            }
            out[from] -= leg.amount_usdc;
            out[to] += leg.amount_usdc;
        }
        Ok(out)
    }
}

/// Plans the transfers that bring `snapshot` back to `targets`.
///
/// Nothing is planned unless some service (the reserve included) is outside its band, or
/// `params.force` is set. With [`RebalanceTo::Target`] every tradable service goes to its
/// target; with [`RebalanceTo::BandEdge`] only breached services move, to the nearest band
/// edge, and if that leaves the reserve outside its band the plan falls back to targets.
pub fn plan_rebalance(
    snapshot: &PortfolioSnapshot,
    targets: &TargetAllocation,
    params: &PlanParams,
) -> RebalancePlan {
    let report = DriftReport::measure(snapshot, targets, &params.bands);
    let total_usdc = snapshot.total_usdc();
    let mut plan = RebalancePlan {
        legs: Vec::new(),
        total_usdc,
        report,
    };
    if total_usdc <= Decimal::ZERO || (!params.force && plan.report.breaches().is_empty()) {
        return plan;
    }
    let to_target = desired_at_target(snapshot, targets);
    let desired = match params.rebalance_to {
        RebalanceTo::Target => to_target,
        RebalanceTo::BandEdge => {
            let edge = desired_at_band_edge(snapshot, &plan.report);
            let reserve_after =
                total_usdc - Service::TRADABLE.iter().map(|s| edge[*s]).sum::<Decimal>();
            let reserve_weight = reserve_after / total_usdc;
            let reserve = Service::Reserve;
            if (reserve_weight - plan.report.targets[reserve]).abs() > plan.report.bands[reserve] {
                to_target
            } else {
                edge
            }
        }
    };
    plan.legs = legs_towards(snapshot, &plan.report, &desired, params.min_trade_usdc);
    plan
}

fn desired_at_target(
    snapshot: &PortfolioSnapshot,
    targets: &TargetAllocation,
) -> ServiceMap<Decimal> {
    let total = snapshot.total_usdc();
    ServiceMap::from_fn(|service| total * targets.weight(service))
}

fn desired_at_band_edge(snapshot: &PortfolioSnapshot, report: &DriftReport) -> ServiceMap<Decimal> {
    let total = snapshot.total_usdc();
    ServiceMap::from_fn(|service| {
        let drift = report.drift[service];
        let band = report.bands[service];
        if drift.abs() <= band {
            snapshot.balance(service)
        } else {
            let edge_weight = if drift.is_sign_negative() {
                report.targets[service] - band
            } else {
                report.targets[service] + band
            };
            total * edge_weight
        }
    })
}

/// Turns desired balances into ordered, cent-rounded, funded legs.
fn legs_towards(
    snapshot: &PortfolioSnapshot,
    report: &DriftReport,
    desired: &ServiceMap<Decimal>,
    min_trade_usdc: Decimal,
) -> Vec<Leg> {
    let leg = |service: Service, direction, amount_usdc| Leg {
        service,
        direction,
        amount_usdc,
        current_weight: report.weights[service],
        target_weight: report.targets[service],
    };
    let mut decreases = Vec::new();
    let mut increases = Vec::new();
    for service in Service::TRADABLE {
        let current = snapshot.balance(service);
        // Toward zero: never take more than the service holds, never ask for more than planned.
        let delta = round_cents(desired[service] - current);
        if delta.is_zero() || delta.abs() < min_trade_usdc {
            continue;
        }
        if delta.is_sign_negative() {
            decreases.push(leg(service, Direction::Decrease, (-delta).min(current)));
        } else {
            increases.push(leg(service, Direction::Increase, delta));
        }
    }
    let funding = snapshot.balance(Service::Reserve)
        + decreases.iter().map(|l| l.amount_usdc).sum::<Decimal>();
    let wanted: Decimal = increases.iter().map(|l| l.amount_usdc).sum();
    if wanted > funding && !wanted.is_zero() {
        // Rounding can leave the hub a few cents short; scale increases down, never up.
        let scale = funding / wanted;
        for l in &mut increases {
            l.amount_usdc = round_cents(l.amount_usdc * scale);
        }
        increases.retain(|l| l.amount_usdc >= min_trade_usdc && !l.amount_usdc.is_zero());
        // Scaled cents can still sum above the funding by rounding; trim the largest leg.
        let scaled: Decimal = increases.iter().map(|l| l.amount_usdc).sum();
        if scaled > funding
            && let Some(largest) = increases.iter_mut().max_by_key(|l| l.amount_usdc)
        {
            largest.amount_usdc -= scaled - funding;
        }
    }
    let by_size = |a: &Leg, b: &Leg| b.amount_usdc.cmp(&a.amount_usdc);
    decreases.sort_by(by_size);
    increases.sort_by(by_size);
    decreases
        .into_iter()
        .chain(increases)
        .filter(|l| l.amount_usdc > Decimal::ZERO)
        .collect()
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    fn snapshot(balances: [Decimal; 6]) -> PortfolioSnapshot {
        PortfolioSnapshot::new(ServiceMap(balances), None).expect("valid")
    }

    #[test]
    fn plans_table() {
        struct TestCase {
            balances: [Decimal; 6],
            params: PlanParams,
            expected: Vec<(Service, Direction, Decimal)>,
        }
        let base = PlanParams::default();
        let cases = [
            // TC0: on target: nothing to do.
            TestCase {
                balances: [
                    dec!(200),
                    dec!(300),
                    dec!(150),
                    dec!(150),
                    dec!(100),
                    dec!(100),
                ],
                params: base,
                expected: vec![],
            },
            // TC1: a large casino win (casino at 32%): casino decreases first, then the
            // under-allocated services are refilled from the reserve.
            TestCase {
                balances: [
                    dec!(376.47),
                    dec!(300),
                    dec!(150),
                    dec!(150),
                    dec!(100),
                    dec!(100),
                ],
                params: base,
                expected: vec![
                    (Service::Casino, Direction::Decrease, dec!(141.17)),
                    (Service::Trading, Direction::Increase, dec!(52.94)),
                    (Service::Wallet, Direction::Increase, dec!(26.47)),
                    (Service::Domains, Direction::Increase, dec!(26.47)),
                    (Service::Escrow, Direction::Increase, dec!(17.64)),
                ],
            },
            // TC2: inside every band: nothing, unless forced.
            TestCase {
                balances: [
                    dec!(230),
                    dec!(280),
                    dec!(150),
                    dec!(150),
                    dec!(95),
                    dec!(95),
                ],
                params: base,
                expected: vec![],
            },
            // TC3: forced, with a minimum trade of 10: the 5-dollar legs are dropped.
            TestCase {
                balances: [
                    dec!(230),
                    dec!(280),
                    dec!(150),
                    dec!(150),
                    dec!(95),
                    dec!(95),
                ],
                params: PlanParams {
                    force: true,
                    min_trade_usdc: dec!(10),
                    ..base
                },
                expected: vec![
                    (Service::Casino, Direction::Decrease, dec!(30)),
                    (Service::Trading, Direction::Increase, dec!(20)),
                ],
            },
            // TC4: band edge: casino 12 points over goes to 25%, the reserve stays in band.
            TestCase {
                balances: [
                    dec!(320),
                    dec!(300),
                    dec!(150),
                    dec!(150),
                    dec!(80),
                    dec!(0),
                ],
                params: PlanParams {
                    rebalance_to: RebalanceTo::BandEdge,
                    ..base
                },
                expected: vec![(Service::Casino, Direction::Decrease, dec!(70))],
            },
            // TC5: an empty portfolio plans nothing.
            TestCase {
                balances: [Decimal::ZERO; 6],
                params: PlanParams {
                    force: true,
                    ..base
                },
                expected: vec![],
            },
        ];
        let targets = TargetAllocation::conservative();
        for (index, case) in cases.iter().enumerate() {
            let snap = snapshot(case.balances);
            let plan = plan_rebalance(&snap, &targets, &case.params);
            let actual: Vec<_> = plan
                .legs
                .iter()
                .map(|l| (l.service, l.direction, l.amount_usdc))
                .collect();
            assert_eq!(actual, case.expected, "TC{index}");
            let after = plan.apply(&snap.balances_usdc).expect("plan applies");
            assert_eq!(
                after.values().copied().sum::<Decimal>(),
                snap.total_usdc(),
                "TC{index} conserves"
            );
        }
    }
}

#[cfg(test)]
mod property_tests {
    use proptest::prelude::*;

    use super::*;

    fn cents() -> impl Strategy<Value = Decimal> {
        prop_oneof![Just(0_i64), 0_i64..1_000, 0_i64..10_000_000_000]
            .prop_map(|c| Decimal::new(c, 2))
    }

    fn targets() -> impl Strategy<Value = TargetAllocation> {
        proptest::array::uniform6(0_u32..1000).prop_filter_map("non-zero", |raw| {
            let sum: u32 = raw.iter().sum();
            if sum == 0 {
                return None;
            }
            // Integer thousandths that sum to exactly 1000.
            let mut weights = raw.map(|r| r * 1000 / sum);
            let short: u32 = 1000 - weights.iter().sum::<u32>();
            weights[5] += short;
            TargetAllocation::new(ServiceMap(weights.map(|w| Decimal::new(i64::from(w), 3)))).ok()
        })
    }

    proptest! {
        #[test]
        fn prop_plan_never_overdraws_and_conserves_value(
            balances in proptest::array::uniform6(cents()),
            targets in targets(),
            force in any::<bool>(),
            band_edge in any::<bool>(),
            min_trade in 0_i64..5_000,
        ) {
            let snapshot = PortfolioSnapshot::new(ServiceMap(balances), None).expect("non-negative");
            let params = PlanParams {
                force,
                min_trade_usdc: Decimal::new(min_trade, 2),
                rebalance_to: if band_edge { RebalanceTo::BandEdge } else { RebalanceTo::Target },
                ..PlanParams::default()
            };
            let plan = plan_rebalance(&snapshot, &targets, &params);
            let after = plan.apply(&snapshot.balances_usdc);
            prop_assert!(after.is_ok(), "{:?}", after);
            let after = after.unwrap_or_default();
            prop_assert!(after.values().all(|v| *v >= Decimal::ZERO));
            prop_assert_eq!(after.values().copied().sum::<Decimal>(), snapshot.total_usdc());
            let first_increase = plan.legs.iter().position(|l| l.direction == Direction::Increase);
            if let Some(first) = first_increase {
                prop_assert!(plan.legs[first..].iter().all(|l| l.direction == Direction::Increase));
            }
            for leg in &plan.legs {
                prop_assert!(leg.service != Service::Reserve);
                prop_assert!(leg.amount_usdc > Decimal::ZERO);
                prop_assert!(leg.amount_usdc >= params.min_trade_usdc);
                prop_assert_eq!(leg.amount_usdc, round_cents(leg.amount_usdc));
            }
        }
    }
}
