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
//! - No decrease takes more than the service's free part (its balance less what the venue
//!   has locked, [`PortfolioSnapshot::free_usdc`]): the locked remainder waits.
//! - Applying the legs in order never takes any balance (service or reserve) below zero,
//!   and conserves the total exactly: increases are scaled down, never up, when the reserve
//!   plus the decreases cannot fund them.
//! - Pure: no I/O.
//! - A plan that is not what its destination suggests says why in its [`PlanNote`]s: a
//!   band-edge plan that went to target, or a rebalance whose every leg was below the minimum.

use rust_decimal::Decimal;
use serde::Serialize;

use crate::{
    drift::{DriftBands, DriftReport, EDGE_SLACK, RebalanceTo, band_edge_weights},
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
    /// Why the plan differs from what its destination suggests, if it does.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<PlanNote>,
}

/// Why a plan is not what its destination suggests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PlanNote {
    /// A band-edge plan went to target: with every breached service on its band edge the
    /// reserve (which takes the remainder) would have ended beyond its own band.
    FellBackToTarget {
        /// The reserve's weight at the band edge.
        reserve_weight: Decimal,
        /// The reserve's target.
        reserve_target: Decimal,
        /// The reserve's band.
        reserve_band: Decimal,
    },
    /// There was something to move, but every leg was below the minimum trade.
    BelowMinimumTrade {
        /// The minimum.
        min_trade_usdc: Decimal,
        /// The largest leg dropped.
        largest_leg_usdc: Decimal,
    },
}

impl std::fmt::Display for PlanNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pct = |x: Decimal| format!("{:.1}%", x * Decimal::ONE_HUNDRED);
        match self {
            PlanNote::FellBackToTarget {
                reserve_weight,
                reserve_target,
                reserve_band,
            } => write!(
                f,
                "to target, not the band edge: with every breached service on its band edge the \
                 reserve would hold {}, outside its band of {} ± {}",
                pct(*reserve_weight),
                pct(*reserve_target),
                pct(*reserve_band)
            ),
            PlanNote::BelowMinimumTrade {
                min_trade_usdc,
                largest_leg_usdc,
            } => write!(
                f,
                "no legs: every leg is below the minimum trade of {min_trade_usdc} USDC (the \
                 largest would move {largest_leg_usdc} USDC)"
            ),
        }
    }
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
/// Nothing is planned unless some service (the reserve included) is outside its band
/// ([`DriftReport::breaches`]: on the edge counts), or `params.force` is set. With
/// [`RebalanceTo::Target`] every tradable service goes to its target; with
/// [`RebalanceTo::BandEdge`] only breached services move, to the nearest band edge
/// ([`band_edge_weights`], the rules' own), and if that leaves the reserve outside its band
/// the plan goes to target and says so ([`PlanNote::FellBackToTarget`]).
pub fn plan_rebalance(
    snapshot: &PortfolioSnapshot,
    targets: &TargetAllocation,
    params: &PlanParams,
) -> RebalancePlan {
    let report = DriftReport::measure(snapshot, targets, &params.bands);
    if snapshot.total_usdc() <= Decimal::ZERO || (!params.force && report.breaches().is_empty()) {
        return plan_towards(snapshot, report, None, params.min_trade_usdc);
    }
    let mut note = None;
    let desired = match params.rebalance_to {
        RebalanceTo::Target => report.targets,
        RebalanceTo::BandEdge => {
            let bands = report.bands.0.map(Some);
            let slack = Decimal::try_from(EDGE_SLACK).unwrap_or_default();
            let hub = Service::Reserve;
            match band_edge_weights(
                &report.weights.0,
                &report.targets.0,
                &bands,
                hub.index(),
                Decimal::ZERO,
                slack,
            ) {
                Ok(edge) => ServiceMap(edge),
                Err(reserve_weight) => {
                    note = Some(PlanNote::FellBackToTarget {
                        reserve_weight: reserve_weight.round_dp(6),
                        reserve_target: report.targets[hub],
                        reserve_band: report.bands[hub],
                    });
                    report.targets
                }
            }
        }
    };
    let mut plan = plan_towards(snapshot, report, Some(&desired), params.min_trade_usdc);
    plan.notes.splice(0..0, note);
    plan
}

/// The legs that move `snapshot` to the `desired` weights (none: an empty plan), dropping
/// legs below `min_trade_usdc` (noted when that drops every leg). `report` is the drift
/// the plan shows.
pub fn plan_towards(
    snapshot: &PortfolioSnapshot,
    report: DriftReport,
    desired: Option<&ServiceMap<Decimal>>,
    min_trade_usdc: Decimal,
) -> RebalancePlan {
    let total_usdc = snapshot.total_usdc();
    let mut plan = RebalancePlan {
        legs: Vec::new(),
        total_usdc,
        report,
        notes: Vec::new(),
    };
    let Some(desired) = desired.filter(|_| total_usdc > Decimal::ZERO) else {
        return plan;
    };
    let balances = desired.map(|_, weight| total_usdc * weight);
    let (legs, largest_dropped) = legs_towards(snapshot, &plan.report, &balances, min_trade_usdc);
    plan.legs = legs;
    if plan.legs.is_empty() && largest_dropped > Decimal::ZERO {
        plan.notes.push(PlanNote::BelowMinimumTrade {
            min_trade_usdc,
            largest_leg_usdc: largest_dropped,
        });
    }
    plan
}

/// Turns desired balances into ordered, cent-rounded, funded legs, with the largest leg
/// dropped for being below the minimum (zero when none was).
fn legs_towards(
    snapshot: &PortfolioSnapshot,
    report: &DriftReport,
    desired: &ServiceMap<Decimal>,
    min_trade_usdc: Decimal,
) -> (Vec<Leg>, Decimal) {
    let leg = |service: Service, direction, amount_usdc| Leg {
        service,
        direction,
        amount_usdc,
        current_weight: report.weights[service],
        target_weight: report.targets[service],
    };
    let mut decreases = Vec::new();
    let mut increases = Vec::new();
    let mut largest_dropped = Decimal::ZERO;
    for service in Service::TRADABLE {
        let current = snapshot.balance(service);
        // Toward zero: never take more than the service holds, never ask for more than planned.
        let delta = round_cents(desired[service] - current);
        if delta.is_zero() || delta.abs() < min_trade_usdc {
            largest_dropped = largest_dropped.max(delta.abs());
            continue;
        }
        if delta.is_sign_negative() {
            // Only the free part can leave now; the locked remainder waits for its release.
            let amount = (-delta).min(snapshot.free_usdc(service));
            if amount >= min_trade_usdc && !amount.is_zero() {
                decreases.push(leg(service, Direction::Decrease, amount));
            }
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
    let legs = decreases
        .into_iter()
        .chain(increases)
        .filter(|l| l.amount_usdc > Decimal::ZERO)
        .collect();
    (legs, largest_dropped)
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::testing::{leg_tuples, snapshot, usdc};

    /// The legs that rebalance the large win (casino at 32% of $1,176.47) when casino gives
    /// `casino_decrease`: the increases are the same whatever casino can give.
    pub(super) fn large_win_legs(casino_decrease: Decimal) -> Vec<(Service, Direction, Decimal)> {
        vec![
            (Service::Casino, Direction::Decrease, casino_decrease),
            (Service::Trading, Direction::Increase, dec!(52.94)),
            (Service::Wallet, Direction::Increase, dec!(26.47)),
            (Service::Domains, Direction::Increase, dec!(26.47)),
            (Service::Escrow, Direction::Increase, dec!(17.64)),
        ]
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
                balances: usdc![200, 300, 150, 150, 100, 100],
                params: base,
                expected: vec![],
            },
            // TC1: a large casino win (casino at 32%): casino decreases first, then the
            // under-allocated services are refilled from the reserve.
            TestCase {
                balances: usdc![376.47, 300, 150, 150, 100, 100],
                params: base,
                expected: large_win_legs(dec!(141.17)),
            },
            // TC2: inside every band: nothing, unless forced.
            TestCase {
                balances: usdc![230, 280, 150, 150, 95, 95],
                params: base,
                expected: vec![],
            },
            // TC3: forced, with a minimum trade of 10: the 5-dollar legs are dropped.
            TestCase {
                balances: usdc![230, 280, 150, 150, 95, 95],
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
                balances: usdc![320, 300, 150, 150, 80, 0],
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
            let snap = snapshot(case.balances, None);
            let plan = plan_rebalance(&snap, &targets, &case.params);
            assert_eq!(leg_tuples(&plan), case.expected, "TC{index}");
            let after = plan.apply(&snap.balances_usdc).expect("plan applies");
            assert_eq!(
                after.values().copied().sum::<Decimal>(),
                snap.total_usdc(),
                "TC{index} conserves"
            );
        }
    }

    #[test]
    fn plans_say_why_they_are_not_what_they_seem() {
        struct TestCase {
            balances: [Decimal; 6],
            params: PlanParams,
            expected_legs: usize,
            expected_notes: Vec<PlanNote>,
        }
        let band_edge = PlanParams {
            rebalance_to: RebalanceTo::BandEdge,
            ..PlanParams::default()
        };
        // Casino 5.5 points over, the reserve 5.5 under.
        let casino_over = usdc![255, 300, 150, 150, 100, 45];
        let cases = [
            // TC0: the article's hot streak (casino 70%): at the band edge casino 25%, trading
            // 25%, wallet and domains 10%, escrow 5% leave the reserve 25%, beyond its 10 ± 5:
            // the plan goes to target and says so.
            TestCase {
                balances: usdc![700, 120, 60, 60, 40, 20],
                params: band_edge,
                expected_legs: 5,
                expected_notes: vec![PlanNote::FellBackToTarget {
                    reserve_weight: dec!(0.25),
                    reserve_target: dec!(0.10),
                    reserve_band: dec!(0.05),
                }],
            },
            // TC1: casino 5.5 points over and the reserve 5.5 under: at the band edge casino
            // gives $5 to the reserve, below a $10 minimum: nothing moves, and the plan says why.
            TestCase {
                balances: casino_over,
                params: PlanParams {
                    min_trade_usdc: dec!(10),
                    ..band_edge
                },
                expected_legs: 0,
                expected_notes: vec![PlanNote::BelowMinimumTrade {
                    min_trade_usdc: dec!(10),
                    largest_leg_usdc: dec!(5),
                }],
            },
            // TC2: the same to target moves $55 out of casino: one leg, no note.
            TestCase {
                balances: casino_over,
                params: PlanParams {
                    min_trade_usdc: dec!(10),
                    ..PlanParams::default()
                },
                expected_legs: 1,
                expected_notes: vec![],
            },
        ];
        let targets = TargetAllocation::conservative();
        for (index, case) in cases.iter().enumerate() {
            let plan = plan_rebalance(&snapshot(case.balances, None), &targets, &case.params);
            assert_eq!(plan.legs.len(), case.expected_legs, "TC{index}: {plan:?}");
            assert_eq!(plan.notes, case.expected_notes, "TC{index}");
        }
        // The note reads as a reason.
        assert_eq!(
            cases[0].expected_notes[0].to_string(),
            "to target, not the band edge: with every breached service on its band edge the \
             reserve would hold 25.0%, outside its band of 10.0% ± 5.0%"
        );
    }
}

#[cfg(test)]
mod lock_tests {
    use rust_decimal_macros::dec;

    use super::{tests::large_win_legs, *};
    use crate::testing::{leg_tuples, usdc};

    #[test]
    fn decreases_are_capped_at_the_free_part() {
        struct TestCase {
            casino_locked: Decimal,
            expected: Vec<(Service, Direction, Decimal)>,
        }
        // A large win: casino at 32% of $1,176.47 against a 20% target.
        let balances = ServiceMap(usdc![376.47, 300, 150, 150, 100, 100]);
        // What the reserve's 100 alone funds, scaled down and trimmed to the cent.
        let reserve_only = vec![
            (Service::Trading, Direction::Increase, dec!(42.85)),
            (Service::Wallet, Direction::Increase, dec!(21.42)),
            (Service::Domains, Direction::Increase, dec!(21.42)),
            (Service::Escrow, Direction::Increase, dec!(14.28)),
        ];
        let cases = [
            // TC0: nothing locked: the whole excess leaves, as without locks.
            TestCase {
                casino_locked: Decimal::ZERO,
                expected: large_win_legs(dec!(141.17)),
            },
            // TC1: 300 locked: only the 76.47 free leaves; with the reserve's 100 it still
            // funds every increase (the reserve ends below its target instead).
            TestCase {
                casino_locked: dec!(300),
                expected: large_win_legs(dec!(76.47)),
            },
            // TC2: all of it locked: no decrease; the increases shrink to the reserve's 100.
            TestCase {
                casino_locked: dec!(376.47),
                expected: reserve_only.clone(),
            },
            // TC3: a free part (0.47) below the minimum trade is not sent.
            TestCase {
                casino_locked: dec!(376),
                expected: reserve_only,
            },
        ];
        let targets = TargetAllocation::conservative();
        for (index, case) in cases.iter().enumerate() {
            let mut locked = ServiceMap::default();
            locked[Service::Casino] = case.casino_locked;
            let snap = PortfolioSnapshot::new(balances, None)
                .and_then(|s| s.with_locked(locked))
                .expect("valid");
            let plan = plan_rebalance(&snap, &targets, &PlanParams::default());
            assert_eq!(leg_tuples(&plan), case.expected, "TC{index}");
            let after = plan.apply(&snap.balances_usdc).expect("applies");
            assert!(
                after[Service::Casino] >= case.casino_locked.min(dec!(376.47)),
                "TC{index}: a locked dollar moved"
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
            locked in proptest::array::uniform6(prop_oneof![Just(0_i64), 0_i64..10_000_000_000]),
        ) {
            let locked = ServiceMap(locked.map(|c| Decimal::new(c, 2)));
            let snapshot = PortfolioSnapshot::new(ServiceMap(balances), None)
                .and_then(|s| s.with_locked(locked))
                .expect("non-negative");
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
                if leg.direction == Direction::Decrease {
                    prop_assert!(leg.amount_usdc <= snapshot.free_usdc(leg.service));
                }
                prop_assert!(leg.service != Service::Reserve);
                prop_assert!(leg.amount_usdc > Decimal::ZERO);
                prop_assert!(leg.amount_usdc >= params.min_trade_usdc);
                prop_assert_eq!(leg.amount_usdc, round_cents(leg.amount_usdc));
            }
        }
    }
}
