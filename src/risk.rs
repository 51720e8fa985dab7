//! Risk limits: the last check between a plan and the venue.
//!
//! A leg above `max_leg_usdc` is first split into legs at or under the cap
//! ([`RiskLimits::split_oversized`]), each its own leg (and so its own idempotency key), in the
//! place of the leg it replaces: the plan moves the same money in smaller transfers. Then a
//! plan is accepted whole or refused whole, with every breached limit named. Dropping single
//! legs would be worse than refusing: an increase is funded by the decreases before it, so a
//! plan with a leg cut out can overdraw the reserve. Each leg of a refused plan is recorded
//! with the refusals that concern it ([`leg_refusal`]), not another leg's.
//!
//! The day's turnover so far is the caller's to supply; the executor reads it from the store
//! (`Store::applied_usdc_on`), so the daily cap holds across plans and restarts.
//!
//! # Invariants
//! - A plan that [`RiskLimits::check`] accepts has no leg above `max_leg_usdc` and keeps the
//!   day's turnover at or below `max_daily_turnover_usdc`.
//! - A limit of `None` is off; every refusal names the limit and the amounts.
//! - [`RiskLimits::split_oversized`] keeps every leg's service, direction and order, moves the
//!   same total per original leg in whole cents, and leaves no leg above the cap (a cap below
//!   one cent splits nothing; the check then refuses).
//! - Limits built by [`RiskLimits::new`] are never negative.

use rust_decimal::Decimal;
use serde::Serialize;

use crate::planner::{Leg, RebalancePlan};

/// The limits; `None` switches one off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RiskLimits {
    /// Largest single transfer, USDC.
    pub max_leg_usdc: Option<Decimal>,
    /// Most USDC moved per UTC day, over all plans.
    pub max_daily_turnover_usdc: Option<Decimal>,
}

/// One problem with configured limits; `Display` names the key relative to its section.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {usdc} must not be negative (0 disables it)")]
pub struct RiskLimitError {
    /// The limit's key (`max_leg_usdc`, `max_daily_turnover_usdc`).
    pub key: &'static str,
    /// The value given.
    pub usdc: Decimal,
}

/// One breached limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
pub enum RiskRefusal {
    /// A leg is larger than `max_leg_usdc`.
    #[error(
        "risk.max_leg_usdc: leg {index} moves {amount_usdc} USDC, above the limit of {limit_usdc}"
    )]
    LegTooLarge {
        /// Leg position in the plan.
        index: usize,
        /// Its amount.
        amount_usdc: Decimal,
        /// The limit.
        limit_usdc: Decimal,
    },
    /// The plan would take the day's turnover above `max_daily_turnover_usdc`.
    #[error(
        "risk.max_daily_turnover_usdc: {used_usdc} USDC moved today plus this plan's {plan_usdc} exceeds the limit of {limit_usdc}"
    )]
    DailyTurnover {
        /// Already moved today.
        used_usdc: Decimal,
        /// This plan's total.
        plan_usdc: Decimal,
        /// The limit.
        limit_usdc: Decimal,
    },
}

impl RiskLimits {
    /// Checked limits from the configuration's numbers, where 0 switches a limit off.
    ///
    /// # Errors
    /// Every negative limit, each naming its key.
    pub fn new(
        max_leg_usdc: Decimal,
        max_daily_turnover_usdc: Decimal,
    ) -> Result<Self, Vec<RiskLimitError>> {
        let problems: Vec<RiskLimitError> = [
            ("max_leg_usdc", max_leg_usdc),
            ("max_daily_turnover_usdc", max_daily_turnover_usdc),
        ]
        .into_iter()
        .filter(|(_, usdc)| *usdc < Decimal::ZERO)
        .map(|(key, usdc)| RiskLimitError { key, usdc })
        .collect();
        if !problems.is_empty() {
            return Err(problems);
        }
        let on = |usdc: Decimal| (usdc > Decimal::ZERO).then_some(usdc);
        Ok(RiskLimits {
            max_leg_usdc: on(max_leg_usdc),
            max_daily_turnover_usdc: on(max_daily_turnover_usdc),
        })
    }

    /// `plan` with each leg above `max_leg_usdc` replaced, where it stood, by legs of nearly
    /// equal whole-cent amounts at or under the cap (the first ones a cent larger when the
    /// cents do not divide evenly). Without the limit, or with every leg under it, the plan
    /// comes back unchanged.
    pub fn split_oversized(&self, plan: &RebalancePlan) -> RebalancePlan {
        let Some(cap) = self.max_leg_usdc else {
            return plan.clone();
        };
        let cap_cents = (cap * Decimal::ONE_HUNDRED).trunc();
        let mut legs = Vec::with_capacity(plan.legs.len());
        for leg in &plan.legs {
            let cents = (leg.amount_usdc * Decimal::ONE_HUNDRED).trunc();
            if leg.amount_usdc <= cap || cap_cents <= Decimal::ZERO {
                legs.push(leg.clone());
                continue;
            }
            let parts = (cents / cap_cents).ceil();
            let (each, extra) = ((cents / parts).trunc(), cents % parts);
            let mut k = Decimal::ZERO;
            while k < parts {
                let part_cents = if k < extra { each + Decimal::ONE } else { each };
                legs.push(Leg {
                    amount_usdc: part_cents / Decimal::ONE_HUNDRED,
                    ..leg.clone()
                });
                k += Decimal::ONE;
            }
        }
        RebalancePlan {
            legs,
            ..plan.clone()
        }
    }

    /// Accepts `plan` or lists every limit it breaches, given `used_today_usdc` already moved
    /// on the plan's UTC day.
    ///
    /// # Errors
    /// Every breached limit.
    pub fn check(
        &self,
        plan: &RebalancePlan,
        used_today_usdc: Decimal,
    ) -> Result<(), Vec<RiskRefusal>> {
        let mut refusals = Vec::new();
        if let Some(limit_usdc) = self.max_leg_usdc {
            refusals.extend(
                plan.legs
                    .iter()
                    .enumerate()
                    .filter(|(_, leg)| leg.amount_usdc > limit_usdc)
                    .map(|(index, leg)| RiskRefusal::LegTooLarge {
                        index,
                        amount_usdc: leg.amount_usdc,
                        limit_usdc,
                    }),
            );
        }
        if let Some(limit_usdc) = self.max_daily_turnover_usdc {
            let plan_usdc = plan.moved_usdc();
            // An overflowing sum (an unknown day counted as Decimal::MAX) is a breach too.
            let breached = used_today_usdc
                .checked_add(plan_usdc)
                .is_none_or(|total| total > limit_usdc);
            if breached {
                refusals.push(RiskRefusal::DailyTurnover {
                    used_usdc: used_today_usdc,
                    plan_usdc,
                    limit_usdc,
                });
            }
        }
        if refusals.is_empty() {
            Ok(())
        } else {
            Err(refusals)
        }
    }
}

/// Why leg `index` of a refused plan was not sent: the refusals that name it and those of the
/// whole plan (the daily cap); a leg refused only because another leg broke a limit says so.
pub fn leg_refusal(refusals: &[RiskRefusal], index: usize) -> String {
    let concerns = |r: &&RiskRefusal| match r {
        RiskRefusal::LegTooLarge { index: i, .. } => *i == index,
        RiskRefusal::DailyTurnover { .. } => true,
    };
    let own: Vec<String> = refusals
        .iter()
        .filter(concerns)
        .map(ToString::to_string)
        .collect();
    if own.is_empty() {
        let others: Vec<String> = refusals.iter().map(ToString::to_string).collect();
        format!("refused with its plan: {}", others.join("; "))
    } else {
        format!("refused: {}", own.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    use super::*;
    use crate::{
        planner::{PlanParams, plan_rebalance},
        portfolio::{PortfolioSnapshot, article_balances_usdc},
        service::ServiceMap,
        targets::TargetAllocation,
    };

    #[test]
    fn limits_are_checked_when_built() {
        struct TestCase {
            max_leg_usdc: Decimal,
            max_daily_turnover_usdc: Decimal,
            expected: Result<RiskLimits, Vec<&'static str>>,
        }
        let cases = [
            // TC0: zeros switch both limits off.
            TestCase {
                max_leg_usdc: dec!(0),
                max_daily_turnover_usdc: dec!(0),
                expected: Ok(RiskLimits::default()),
            },
            // TC1: positive limits are kept.
            TestCase {
                max_leg_usdc: dec!(100),
                max_daily_turnover_usdc: dec!(500),
                expected: Ok(RiskLimits {
                    max_leg_usdc: Some(dec!(100)),
                    max_daily_turnover_usdc: Some(dec!(500)),
                }),
            },
            // TC2: both negative, both named.
            TestCase {
                max_leg_usdc: dec!(-1),
                max_daily_turnover_usdc: dec!(-5),
                expected: Err(vec![
                    "max_leg_usdc: -1 must not be negative (0 disables it)",
                    "max_daily_turnover_usdc: -5 must not be negative (0 disables it)",
                ]),
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            let got = RiskLimits::new(case.max_leg_usdc, case.max_daily_turnover_usdc)
                .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>());
            match (&got, &case.expected) {
                (Ok(limits), Ok(want)) => assert_eq!(limits, want, "TC{i}"),
                (Err(got), Err(want)) => assert_eq!(got, want, "TC{i}"),
                _ => panic!("TC{i}: got {got:?}, want {:?}", case.expected),
            }
        }
    }

    fn plan_for(casino_usdc: Decimal) -> RebalancePlan {
        let mut balances = article_balances_usdc();
        balances[crate::service::Service::Casino] = casino_usdc;
        let snapshot = PortfolioSnapshot::new(balances, None).expect("valid");
        plan_rebalance(
            &snapshot,
            &TargetAllocation::conservative(),
            &PlanParams::default(),
        )
    }

    #[test]
    fn limits_accept_or_refuse_whole_plans_naming_the_limit() {
        struct TestCase {
            limits: RiskLimits,
            used_today_usdc: Decimal,
            refused: &'static [&'static str],
        }
        // A $376.47 casino: the plan moves casino down by ~$141 and spreads it.
        let plan = plan_for(dec!(376.47));
        let cases = [
            // TC0: no limits.
            TestCase {
                limits: RiskLimits::default(),
                used_today_usdc: dec!(1_000_000),
                refused: &[],
            },
            // TC1: legs below the per-leg limit.
            TestCase {
                limits: RiskLimits {
                    max_leg_usdc: Some(dec!(500)),
                    max_daily_turnover_usdc: None,
                },
                used_today_usdc: Decimal::ZERO,
                refused: &[],
            },
            // TC2: the casino decrease is above a $100 leg limit.
            TestCase {
                limits: RiskLimits {
                    max_leg_usdc: Some(dec!(100)),
                    max_daily_turnover_usdc: None,
                },
                used_today_usdc: Decimal::ZERO,
                refused: &["risk.max_leg_usdc"],
            },
            // TC3: the day's turnover would pass the cap.
            TestCase {
                limits: RiskLimits {
                    max_leg_usdc: None,
                    max_daily_turnover_usdc: Some(dec!(400)),
                },
                used_today_usdc: dec!(150),
                refused: &["risk.max_daily_turnover_usdc"],
            },
            // TC4: an unknown day (counted as everything) never overflows: refused.
            TestCase {
                limits: RiskLimits {
                    max_leg_usdc: None,
                    max_daily_turnover_usdc: Some(dec!(400)),
                },
                used_today_usdc: Decimal::MAX,
                refused: &["risk.max_daily_turnover_usdc"],
            },
            // TC5: both.
            TestCase {
                limits: RiskLimits {
                    max_leg_usdc: Some(dec!(100)),
                    max_daily_turnover_usdc: Some(dec!(10)),
                },
                used_today_usdc: Decimal::ZERO,
                refused: &["risk.max_leg_usdc", "risk.max_daily_turnover_usdc"],
            },
        ];
        assert!(!plan.legs.is_empty());
        for (i, case) in cases.iter().enumerate() {
            match (case.limits.check(&plan, case.used_today_usdc), case.refused) {
                (Ok(()), []) => {}
                (Err(refusals), expected) if !expected.is_empty() => {
                    let text: Vec<String> = refusals.iter().map(ToString::to_string).collect();
                    for name in expected {
                        assert!(
                            text.iter().any(|t| t.starts_with(name)),
                            "TC{i}: {text:?} lacks {name}"
                        );
                    }
                }
                (got, expected) => panic!("TC{i}: got {got:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn oversized_legs_are_split_under_the_cap_in_place() {
        struct TestCase {
            cap: Option<Decimal>,
            expected: Vec<Decimal>,
        }
        // The $376.47 casino plan: casino −141.17, then trading, wallet, domains, escrow.
        let plan = plan_for(dec!(376.47));
        let cases = [
            // TC0: no cap, no change.
            TestCase {
                cap: None,
                expected: vec![
                    dec!(141.17),
                    dec!(52.94),
                    dec!(26.47),
                    dec!(26.47),
                    dec!(17.64),
                ],
            },
            // TC1: a $50 cap: 141.17 becomes three legs of 47.06, 47.06, 47.05; 52.94 two of
            // 26.47.
            TestCase {
                cap: Some(dec!(50)),
                expected: vec![
                    dec!(47.06),
                    dec!(47.06),
                    dec!(47.05),
                    dec!(26.47),
                    dec!(26.47),
                    dec!(26.47),
                    dec!(26.47),
                    dec!(17.64),
                ],
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            let limits = RiskLimits {
                max_leg_usdc: case.cap,
                max_daily_turnover_usdc: None,
            };
            let split = limits.split_oversized(&plan);
            let amounts: Vec<Decimal> = split.legs.iter().map(|l| l.amount_usdc).collect();
            assert_eq!(amounts, case.expected, "TC{i}");
            assert_eq!(split.moved_usdc(), plan.moved_usdc(), "TC{i}");
            assert!(limits.check(&split, Decimal::ZERO).is_ok(), "TC{i}");
        }
    }

    #[test]
    fn each_refused_leg_gets_its_own_reason() {
        let refusals = vec![
            RiskRefusal::LegTooLarge {
                index: 0,
                amount_usdc: dec!(141.17),
                limit_usdc: dec!(100),
            },
            RiskRefusal::LegTooLarge {
                index: 2,
                amount_usdc: dec!(120),
                limit_usdc: dec!(100),
            },
        ];
        assert!(leg_refusal(&refusals, 0).contains("leg 0 moves 141.17"));
        assert!(leg_refusal(&refusals, 2).contains("leg 2 moves 120"));
        let other = leg_refusal(&refusals, 1);
        assert!(other.starts_with("refused with its plan"), "{other}");
        let daily = [RiskRefusal::DailyTurnover {
            used_usdc: dec!(1),
            plan_usdc: dec!(2),
            limit_usdc: dec!(2),
        }];
        assert!(leg_refusal(&daily, 3).starts_with("refused: risk.max_daily_turnover_usdc"));
    }

    fn cents() -> impl Strategy<Value = Decimal> {
        (0_i64..=200_000).prop_map(|c| Decimal::new(c, 2))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        /// No accepted plan breaches a limit, and every refusal names one that it breaches.
        #[test]
        fn accepted_plans_never_breach_a_limit(
            balances in prop::array::uniform6(cents()),
            max_leg in prop::option::of(cents()),
            max_daily in prop::option::of(cents()),
            used in cents(),
        ) {
            let Ok(snapshot) = PortfolioSnapshot::new(ServiceMap(balances), None) else {
                return Ok(());
            };
            let plan = plan_rebalance(&snapshot, &TargetAllocation::conservative(), &PlanParams::default());
            let limits = RiskLimits { max_leg_usdc: max_leg, max_daily_turnover_usdc: max_daily };
            match limits.check(&plan, used) {
                Ok(()) => {
                    if let Some(limit) = max_leg {
                        prop_assert!(plan.legs.iter().all(|l| l.amount_usdc <= limit));
                    }
                    if let Some(limit) = max_daily {
                        prop_assert!(used + plan.moved_usdc() <= limit);
                    }
                }
                Err(refusals) => {
                    prop_assert!(!refusals.is_empty());
                    // A per-leg cap of at least a cent never refuses once legs are split.
                    let split = limits.split_oversized(&plan);
                    if max_daily.is_none() && max_leg.is_some_and(|c| c >= Decimal::new(1, 2)) {
                        prop_assert!(limits.check(&split, used).is_ok());
                        prop_assert_eq!(split.moved_usdc(), plan.moved_usdc());
                    }
                    for refusal in refusals {
                        match refusal {
                            RiskRefusal::LegTooLarge { index, amount_usdc, limit_usdc } => {
                                prop_assert_eq!(plan.legs[index].amount_usdc, amount_usdc);
                                prop_assert!(amount_usdc > limit_usdc);
                            }
                            RiskRefusal::DailyTurnover { used_usdc, plan_usdc, limit_usdc } => {
                                prop_assert!(used_usdc.checked_add(plan_usdc).is_none_or(|t| t > limit_usdc));
                            }
                        }
                    }
                }
            }
        }
    }
}
