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
//! Two kinds of limit: absolute (`max_leg_usdc`, `max_daily_turnover_usdc`, off by default)
//! and relative to the portfolio the plan was made on (`max_leg_fraction`,
//! `max_daily_turnover_fraction`, on by default at a half and twice the portfolio). The
//! relative ones are plausibility limits: a sane rebalance never moves more than half the
//! portfolio in one transfer or turns it over twice in a day, so a plan that does is built
//! on numbers that cannot be right (a venue reporting an absurd win) and is refused before
//! anything is sent. `max_jump_factor` is the third plausibility setting: the trigger policy
//! holds a change of the portfolio by that factor for a confirming snapshot
//! (`policy::plausibility`).
//!
//! The day's turnover so far is the caller's to supply; the executor reads it from the store
//! (`Store::applied_usdc_on`), so the daily caps hold across plans and restarts. A tax-loss
//! harvest's wallet orders (its sale and the substitute's buy) meet the same limits through
//! [`RiskLimits::check_amounts`], taken of the latest portfolio observed.
//!
//! # Invariants
//! - A plan that [`RiskLimits::check`] accepts has no leg above `max_leg_usdc` nor above
//!   `max_leg_fraction` of the plan's portfolio, and keeps the day's turnover at or below
//!   `max_daily_turnover_usdc` and `max_daily_turnover_fraction` of that portfolio.
//! - A limit of `None` is off; every refusal names the limit's key and the amounts.
//! - [`RiskLimits::split_oversized`] splits only for the absolute `max_leg_usdc`: it keeps
//!   every leg's service, direction and order, moves the same total per original leg in whole
//!   cents, and leaves no leg above the cap unless it would take more than [`MAX_SPLIT_PARTS`]
//!   legs (or the cap is below one cent): such a leg stays whole and the check refuses it. The
//!   relative caps are never split to fit: a plan beyond them is refused.
//! - Limits built by [`RiskLimits::new`] are never negative, and a jump factor is above 1.

use rust_decimal::Decimal;
use serde::Serialize;

use crate::{
    planner::{Leg, RebalancePlan},
    validation::{KeyRuleError, every_problem},
};

/// The most legs one leg is split into under `max_leg_usdc`. A leg that needs more is left
/// whole and refused: a cap that small against a leg that large (an absurd snapshot, or a
/// misconfigured cap) is not worth hundreds of transfers, nor the memory to plan them.
pub const MAX_SPLIT_PARTS: u32 = 100;

/// The limits; `None` switches one off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RiskLimits {
    /// Largest single transfer, USDC.
    pub max_leg_usdc: Option<Decimal>,
    /// Most USDC moved per UTC day, over all plans.
    pub max_daily_turnover_usdc: Option<Decimal>,
    /// Largest single transfer as a fraction of the portfolio the plan was made on.
    pub max_leg_fraction: Option<Decimal>,
    /// Most moved per UTC day as a multiple of the portfolio the plan was made on.
    pub max_daily_turnover_fraction: Option<Decimal>,
    /// A change of the portfolio's total by this factor (up or down) in one step, or a win
    /// larger than this multiple of the portfolio, waits for a confirming snapshot.
    pub max_jump_factor: Option<Decimal>,
}

/// The configuration's numbers for [`RiskLimits::new`], where 0 switches a limit off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RiskSettingsValues {
    /// `max_leg_usdc`.
    pub max_leg_usdc: Decimal,
    /// `max_daily_turnover_usdc`.
    pub max_daily_turnover_usdc: Decimal,
    /// `max_leg_fraction`.
    pub max_leg_fraction: Decimal,
    /// `max_daily_turnover_fraction`.
    pub max_daily_turnover_fraction: Decimal,
    /// `max_jump_factor`.
    pub max_jump_factor: Decimal,
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
    /// A leg is larger than `max_leg_fraction` of the portfolio.
    #[error(
        "risk.max_leg_fraction: leg {index} moves {amount_usdc} USDC, above {fraction} of the {portfolio_usdc} USDC portfolio ({limit_usdc})"
    )]
    LegAboveFraction {
        /// Leg position in the plan.
        index: usize,
        /// Its amount.
        amount_usdc: Decimal,
        /// The configured fraction.
        fraction: Decimal,
        /// The portfolio the plan was made on.
        portfolio_usdc: Decimal,
        /// `fraction × portfolio_usdc`.
        limit_usdc: Decimal,
    },
    /// The plan would take the day's turnover above `max_daily_turnover_fraction` of the
    /// portfolio.
    #[error(
        "risk.max_daily_turnover_fraction: {used_usdc} USDC moved today plus this plan's {plan_usdc} exceeds {fraction} × the {portfolio_usdc} USDC portfolio ({limit_usdc})"
    )]
    DailyAboveFraction {
        /// Already moved today.
        used_usdc: Decimal,
        /// This plan's total.
        plan_usdc: Decimal,
        /// The configured multiple.
        fraction: Decimal,
        /// The portfolio the plan was made on.
        portfolio_usdc: Decimal,
        /// `fraction × portfolio_usdc`.
        limit_usdc: Decimal,
    },
}

impl RiskRefusal {
    /// The limit breached, as its configuration key (`max_leg_usdc`, `max_leg_fraction`, ...).
    pub const fn limit(&self) -> &'static str {
        match self {
            RiskRefusal::LegTooLarge { .. } => "max_leg_usdc",
            RiskRefusal::DailyTurnover { .. } => "max_daily_turnover_usdc",
            RiskRefusal::LegAboveFraction { .. } => "max_leg_fraction",
            RiskRefusal::DailyAboveFraction { .. } => "max_daily_turnover_fraction",
        }
    }
}

impl RiskLimits {
    /// Checked limits from the configuration's numbers, where 0 switches a limit off.
    ///
    /// # Errors
    /// Every negative limit, and a jump factor that is neither 0 nor above 1, each naming
    /// its key.
    pub fn new(values: RiskSettingsValues) -> Result<Self, Vec<KeyRuleError>> {
        const NOT_NEGATIVE: &str = "must not be negative (0 disables it)";
        let mut problems: Vec<KeyRuleError> = [
            ("max_leg_usdc", values.max_leg_usdc),
            ("max_daily_turnover_usdc", values.max_daily_turnover_usdc),
            ("max_leg_fraction", values.max_leg_fraction),
            (
                "max_daily_turnover_fraction",
                values.max_daily_turnover_fraction,
            ),
        ]
        .into_iter()
        .filter(|(_, value)| *value < Decimal::ZERO)
        .map(|(key, value)| KeyRuleError {
            key,
            value: value.to_string(),
            rule: NOT_NEGATIVE,
        })
        .collect();
        // A factor of 1 or less would hold every change, however small, for confirmation.
        if values.max_jump_factor != Decimal::ZERO && values.max_jump_factor <= Decimal::ONE {
            problems.push(KeyRuleError {
                key: "max_jump_factor",
                value: values.max_jump_factor.to_string(),
                rule: "must be above 1 (0 disables it)",
            });
        }
        every_problem(problems)?;
        let on = |value: Decimal| (value > Decimal::ZERO).then_some(value);
        Ok(RiskLimits {
            max_leg_usdc: on(values.max_leg_usdc),
            max_daily_turnover_usdc: on(values.max_daily_turnover_usdc),
            max_leg_fraction: on(values.max_leg_fraction),
            max_daily_turnover_fraction: on(values.max_daily_turnover_fraction),
            max_jump_factor: on(values.max_jump_factor),
        })
    }

    /// `plan` with each leg above `max_leg_usdc` replaced, where it stood, by legs of nearly
    /// equal whole-cent amounts at or under the cap (the first ones a cent larger when the
    /// cents do not divide evenly). Without the limit, or with every leg under it, the plan
    /// comes back unchanged. A leg that would need more than [`MAX_SPLIT_PARTS`] legs is left
    /// whole, for [`RiskLimits::check`] to refuse.
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
            if parts > Decimal::from(MAX_SPLIT_PARTS) {
                legs.push(leg.clone());
                continue;
            }
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

    /// Whether [`RiskLimits::check`] needs the day's turnover (a daily cap is on).
    pub fn counts_daily_turnover(&self) -> bool {
        self.max_daily_turnover_usdc.is_some() || self.max_daily_turnover_fraction.is_some()
    }

    /// Accepts `plan` or lists every limit it breaches, given `used_today_usdc` already moved
    /// on the plan's UTC day. Relative limits are taken of the portfolio the plan was made
    /// on (`plan.total_usdc`).
    ///
    /// # Errors
    /// Every breached limit.
    pub fn check(
        &self,
        plan: &RebalancePlan,
        used_today_usdc: Decimal,
    ) -> Result<(), Vec<RiskRefusal>> {
        let amounts: Vec<Decimal> = plan.legs.iter().map(|leg| leg.amount_usdc).collect();
        self.check_amounts(&amounts, plan.total_usdc, used_today_usdc)
    }

    /// Accepts orders of `amounts_usdc` (the legs of a plan, or a harvest's sale and buy)
    /// decided on a portfolio of `portfolio_usdc`, given `used_today_usdc` already moved on
    /// their UTC day, or lists every limit they breach; an order's position is its `index`.
    ///
    /// # Errors
    /// Every breached limit.
    pub fn check_amounts(
        &self,
        amounts_usdc: &[Decimal],
        portfolio_usdc: Decimal,
        used_today_usdc: Decimal,
    ) -> Result<(), Vec<RiskRefusal>> {
        // An overflowing product is no limit at all: nothing can be larger.
        let of_portfolio =
            |fraction: Decimal| fraction.checked_mul(portfolio_usdc).unwrap_or(Decimal::MAX);
        let plan_usdc = amounts_usdc
            .iter()
            .try_fold(Decimal::ZERO, |sum, amount| sum.checked_add(*amount));
        // An overflowing sum (an unknown day counted as Decimal::MAX) is a breach of any cap.
        let day_total = plan_usdc.and_then(|plan| used_today_usdc.checked_add(plan));
        let plan_usdc = plan_usdc.unwrap_or(Decimal::MAX);
        let mut refusals = Vec::new();
        if let Some(limit_usdc) = self.max_leg_usdc {
            refusals.extend(
                amounts_usdc
                    .iter()
                    .enumerate()
                    .filter(|(_, amount)| **amount > limit_usdc)
                    .map(|(index, amount)| RiskRefusal::LegTooLarge {
                        index,
                        amount_usdc: *amount,
                        limit_usdc,
                    }),
            );
        }
        if let Some(fraction) = self.max_leg_fraction {
            let limit_usdc = of_portfolio(fraction);
            refusals.extend(
                amounts_usdc
                    .iter()
                    .enumerate()
                    .filter(|(_, amount)| **amount > limit_usdc)
                    .map(|(index, amount)| RiskRefusal::LegAboveFraction {
                        index,
                        amount_usdc: *amount,
                        fraction,
                        portfolio_usdc,
                        limit_usdc,
                    }),
            );
        }
        if let Some(limit_usdc) = self.max_daily_turnover_usdc
            && day_total.is_none_or(|total| total > limit_usdc)
        {
            refusals.push(RiskRefusal::DailyTurnover {
                used_usdc: used_today_usdc,
                plan_usdc,
                limit_usdc,
            });
        }
        if let Some(fraction) = self.max_daily_turnover_fraction {
            let limit_usdc = of_portfolio(fraction);
            if day_total.is_none_or(|total| total > limit_usdc) {
                refusals.push(RiskRefusal::DailyAboveFraction {
                    used_usdc: used_today_usdc,
                    plan_usdc,
                    fraction,
                    portfolio_usdc,
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
        RiskRefusal::LegTooLarge { index: i, .. }
        | RiskRefusal::LegAboveFraction { index: i, .. } => *i == index,
        RiskRefusal::DailyTurnover { .. } | RiskRefusal::DailyAboveFraction { .. } => true,
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
        testing::messages,
    };

    fn absolute(max_leg_usdc: Option<Decimal>, max_daily: Option<Decimal>) -> RiskLimits {
        RiskLimits {
            max_leg_usdc,
            max_daily_turnover_usdc: max_daily,
            ..RiskLimits::default()
        }
    }

    fn relative(max_leg_fraction: Option<Decimal>, max_daily: Option<Decimal>) -> RiskLimits {
        RiskLimits {
            max_leg_fraction,
            max_daily_turnover_fraction: max_daily,
            ..RiskLimits::default()
        }
    }

    #[test]
    fn limits_are_checked_when_built() {
        struct TestCase {
            values: RiskSettingsValues,
            expected: Result<RiskLimits, Vec<&'static str>>,
        }
        let cases = [
            // TC0: zeros switch every limit off.
            TestCase {
                values: RiskSettingsValues::default(),
                expected: Ok(RiskLimits::default()),
            },
            // TC1: positive limits are kept.
            TestCase {
                values: RiskSettingsValues {
                    max_leg_usdc: dec!(100),
                    max_daily_turnover_usdc: dec!(500),
                    max_leg_fraction: dec!(0.5),
                    max_daily_turnover_fraction: dec!(2),
                    max_jump_factor: dec!(10),
                },
                expected: Ok(RiskLimits {
                    max_leg_usdc: Some(dec!(100)),
                    max_daily_turnover_usdc: Some(dec!(500)),
                    max_leg_fraction: Some(dec!(0.5)),
                    max_daily_turnover_fraction: Some(dec!(2)),
                    max_jump_factor: Some(dec!(10)),
                }),
            },
            // TC2: every negative limit and a jump factor of 1, each named.
            TestCase {
                values: RiskSettingsValues {
                    max_leg_usdc: dec!(-1),
                    max_daily_turnover_usdc: dec!(-5),
                    max_leg_fraction: dec!(-0.5),
                    max_daily_turnover_fraction: dec!(-2),
                    max_jump_factor: dec!(1),
                },
                expected: Err(vec![
                    "max_leg_usdc: -1 must not be negative (0 disables it)",
                    "max_daily_turnover_usdc: -5 must not be negative (0 disables it)",
                    "max_leg_fraction: -0.5 must not be negative (0 disables it)",
                    "max_daily_turnover_fraction: -2 must not be negative (0 disables it)",
                    "max_jump_factor: 1 must be above 1 (0 disables it)",
                ]),
            },
            // TC3: a negative jump factor is refused too.
            TestCase {
                values: RiskSettingsValues {
                    max_jump_factor: dec!(-10),
                    ..RiskSettingsValues::default()
                },
                expected: Err(vec!["max_jump_factor: -10 must be above 1 (0 disables it)"]),
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            let got = RiskLimits::new(case.values).map_err(|errors| messages(&errors));
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
            plan: RebalancePlan,
            limits: RiskLimits,
            used_today_usdc: Decimal,
            refused: &'static [&'static str],
        }
        // A $376.47 casino: the plan moves casino down by ~$141 of a $1,176 portfolio.
        let win = plan_for(dec!(376.47));
        // The absurd win: an 8e14 casino makes a casino leg of about 80% of it.
        let absurd = plan_for(dec!(800_000_000_000_000));
        let cases = [
            // TC0: no limits.
            TestCase {
                plan: win.clone(),
                limits: RiskLimits::default(),
                used_today_usdc: dec!(1_000_000),
                refused: &[],
            },
            // TC1: legs below the per-leg limit.
            TestCase {
                plan: win.clone(),
                limits: absolute(Some(dec!(500)), None),
                used_today_usdc: Decimal::ZERO,
                refused: &[],
            },
            // TC2: the casino decrease is above a $100 leg limit.
            TestCase {
                plan: win.clone(),
                limits: absolute(Some(dec!(100)), None),
                used_today_usdc: Decimal::ZERO,
                refused: &["risk.max_leg_usdc"],
            },
            // TC3: the day's turnover would pass the cap.
            TestCase {
                plan: win.clone(),
                limits: absolute(None, Some(dec!(400))),
                used_today_usdc: dec!(150),
                refused: &["risk.max_daily_turnover_usdc"],
            },
            // TC4: an unknown day (counted as everything) never overflows: refused.
            TestCase {
                plan: win.clone(),
                limits: absolute(None, Some(dec!(400))),
                used_today_usdc: Decimal::MAX,
                refused: &["risk.max_daily_turnover_usdc"],
            },
            // TC5: both.
            TestCase {
                plan: win.clone(),
                limits: absolute(Some(dec!(100)), Some(dec!(10))),
                used_today_usdc: Decimal::ZERO,
                refused: &["risk.max_leg_usdc", "risk.max_daily_turnover_usdc"],
            },
            // TC6: the defaults' relative limits pass an ordinary post-win plan.
            TestCase {
                plan: win.clone(),
                limits: relative(Some(dec!(0.5)), Some(dec!(2))),
                used_today_usdc: dec!(500),
                refused: &[],
            },
            // TC7: they refuse the absurd win's plan: its casino leg is ~80% of the portfolio.
            TestCase {
                plan: absurd.clone(),
                limits: relative(Some(dec!(0.5)), Some(dec!(2))),
                used_today_usdc: Decimal::ZERO,
                refused: &["risk.max_leg_fraction"],
            },
            // TC8: a day already turned over twice refuses any further plan.
            TestCase {
                plan: win.clone(),
                limits: relative(None, Some(dec!(2))),
                used_today_usdc: dec!(2300),
                refused: &["risk.max_daily_turnover_fraction"],
            },
            // TC9: an unknown day is a breach of the relative cap too.
            TestCase {
                plan: win.clone(),
                limits: relative(None, Some(dec!(2))),
                used_today_usdc: Decimal::MAX,
                refused: &["risk.max_daily_turnover_fraction"],
            },
            // TC10: relative and absolute together, each named.
            TestCase {
                plan: absurd,
                limits: RiskLimits {
                    max_leg_usdc: Some(dec!(1000)),
                    max_leg_fraction: Some(dec!(0.5)),
                    ..RiskLimits::default()
                },
                used_today_usdc: Decimal::ZERO,
                refused: &["risk.max_leg_usdc", "risk.max_leg_fraction"],
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            assert!(!case.plan.legs.is_empty(), "TC{i}");
            match (
                case.limits.check(&case.plan, case.used_today_usdc),
                case.refused,
            ) {
                (Ok(()), []) => {}
                (Err(refusals), expected) if !expected.is_empty() => {
                    let text = messages(&refusals);
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
    fn a_harvests_orders_meet_the_limits_of_the_portfolio_they_were_decided_on() {
        struct TestCase {
            /// The sale's proceeds and the substitute's buy.
            amounts_usdc: [Decimal; 2],
            portfolio_usdc: Decimal,
            limits: RiskLimits,
            used_today_usdc: Decimal,
            refused: &'static [(&'static str, usize)],
        }
        let defaults = relative(Some(dec!(0.5)), Some(dec!(2)));
        let cases = [
            // TC0: an $80 harvest of a $1,000 portfolio passes the default relative limits.
            TestCase {
                amounts_usdc: [dec!(80), dec!(80)],
                portfolio_usdc: dec!(1000),
                limits: defaults,
                used_today_usdc: dec!(500),
                refused: &[],
            },
            // TC1: at 1% of the portfolio ($10) both orders are too large, each named.
            TestCase {
                amounts_usdc: [dec!(80), dec!(80)],
                portfolio_usdc: dec!(1000),
                limits: relative(Some(dec!(0.01)), None),
                used_today_usdc: Decimal::ZERO,
                refused: &[("risk.max_leg_fraction", 0), ("risk.max_leg_fraction", 1)],
            },
            // TC2: the day's transfers and orders (1,900) plus these 160 pass twice the
            // portfolio.
            TestCase {
                amounts_usdc: [dec!(80), dec!(80)],
                portfolio_usdc: dec!(1000),
                limits: defaults,
                used_today_usdc: dec!(1900),
                refused: &[("risk.max_daily_turnover_fraction", 0)],
            },
            // TC3: the absolute limits as for a plan.
            TestCase {
                amounts_usdc: [dec!(80), dec!(40)],
                portfolio_usdc: dec!(1000),
                limits: absolute(Some(dec!(50)), Some(dec!(100))),
                used_today_usdc: Decimal::ZERO,
                refused: &[
                    ("risk.max_leg_usdc", 0),
                    ("risk.max_daily_turnover_usdc", 0),
                ],
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            let got = case.limits.check_amounts(
                &case.amounts_usdc,
                case.portfolio_usdc,
                case.used_today_usdc,
            );
            let got: Vec<(&str, usize)> = match got {
                Ok(()) => Vec::new(),
                Err(refusals) => refusals
                    .iter()
                    .map(|r| {
                        let index = match r {
                            RiskRefusal::LegTooLarge { index, .. }
                            | RiskRefusal::LegAboveFraction { index, .. } => *index,
                            _ => 0,
                        };
                        (r.limit(), index)
                    })
                    .collect(),
            };
            let want: Vec<(&str, usize)> = case
                .refused
                .iter()
                .map(|(key, index)| (key.trim_start_matches("risk."), *index))
                .collect();
            assert_eq!(got, want, "TC{i}");
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
            let limits = absolute(case.cap, None);
            let split = limits.split_oversized(&plan);
            let amounts: Vec<Decimal> = split.legs.iter().map(|l| l.amount_usdc).collect();
            assert_eq!(amounts, case.expected, "TC{i}");
            assert_eq!(split.moved_usdc(), plan.moved_usdc(), "TC{i}");
            assert!(limits.check(&split, Decimal::ZERO).is_ok(), "TC{i}");
        }
    }

    #[test]
    fn a_leg_needing_more_than_the_most_parts_stays_whole_and_is_refused() {
        // 141.17 under a $1 cap would be 142 legs: more than MAX_SPLIT_PARTS (100).
        let plan = plan_for(dec!(376.47));
        let limits = absolute(Some(dec!(1)), None);
        let split = limits.split_oversized(&plan);
        assert_eq!(split.legs[0].amount_usdc, dec!(141.17));
        // 52.94 takes 53 legs, within the bound.
        assert_eq!(
            split
                .legs
                .iter()
                .filter(|l| l.amount_usdc <= dec!(1))
                .count(),
            split.legs.len() - 1
        );
        let refusals = limits.check(&split, Decimal::ZERO).expect_err("refused");
        assert_eq!(refusals.len(), 1);
        assert_eq!(refusals[0].limit(), "max_leg_usdc");
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
        // The relative caps name their leg, or every leg for the day's, the same way.
        let relative_refusals = [
            RiskRefusal::LegAboveFraction {
                index: 1,
                amount_usdc: dec!(600),
                fraction: dec!(0.5),
                portfolio_usdc: dec!(1000),
                limit_usdc: dec!(500),
            },
            RiskRefusal::DailyAboveFraction {
                used_usdc: dec!(0),
                plan_usdc: dec!(2100),
                fraction: dec!(2),
                portfolio_usdc: dec!(1000),
                limit_usdc: dec!(2000),
            },
        ];
        let own = leg_refusal(&relative_refusals, 1);
        assert!(own.contains("risk.max_leg_fraction: leg 1"), "{own}");
        assert!(own.contains("risk.max_daily_turnover_fraction"), "{own}");
        let other = leg_refusal(&relative_refusals, 0);
        assert!(!other.contains("max_leg_fraction"), "{other}");
        assert!(
            other.starts_with("refused: risk.max_daily_turnover_fraction"),
            "{other}"
        );
    }

    #[test]
    fn splitting_fits_the_absolute_cap_but_never_a_relative_one() {
        // The $376.47 casino plan's first leg moves 141.17 of a portfolio of about 1,000.
        let plan = plan_for(dec!(376.47));
        let limits = RiskLimits {
            max_leg_usdc: Some(dec!(100)),
            max_leg_fraction: Some(dec!(0.01)),
            ..RiskLimits::default()
        };
        let split = limits.split_oversized(&plan);
        assert!(split.legs.iter().all(|l| l.amount_usdc <= dec!(100)));
        let refusals = limits
            .check(&split, Decimal::ZERO)
            .expect_err("a 1% leg cap refuses legs of about 5%");
        assert!(refusals.iter().all(|r| r.limit() == "max_leg_fraction"));
    }

    #[test]
    fn only_a_daily_cap_needs_the_days_turnover() {
        assert!(!RiskLimits::default().counts_daily_turnover());
        assert!(!relative(Some(dec!(0.5)), None).counts_daily_turnover());
        assert!(relative(None, Some(dec!(2))).counts_daily_turnover());
        assert!(absolute(None, Some(dec!(2))).counts_daily_turnover());
    }

    fn cents() -> impl Strategy<Value = Decimal> {
        (0_i64..=200_000).prop_map(|c| Decimal::new(c, 2))
    }

    /// Balances from cents to a thousand billion, so absurd snapshots are covered too.
    fn balance() -> impl Strategy<Value = Decimal> {
        prop_oneof![
            cents(),
            (0_i64..=100_000_000_000_000).prop_map(|c| Decimal::new(c, 2))
        ]
    }

    fn fraction() -> impl Strategy<Value = Decimal> {
        (1_i64..=400).prop_map(|p| Decimal::new(p, 2))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        /// No accepted plan breaches a limit, absolute or relative, and every refusal names
        /// one that it breaches.
        #[test]
        fn accepted_plans_never_breach_a_limit(
            balances in prop::array::uniform6(balance()),
            max_leg in prop::option::of(cents()),
            max_daily in prop::option::of(cents()),
            leg_fraction in prop::option::of(fraction()),
            daily_fraction in prop::option::of(fraction()),
            used in cents(),
        ) {
            let Ok(snapshot) = PortfolioSnapshot::new(ServiceMap(balances), None) else {
                return Ok(());
            };
            let plan = plan_rebalance(&snapshot, &TargetAllocation::conservative(), &PlanParams::default());
            let limits = RiskLimits {
                max_leg_usdc: max_leg,
                max_daily_turnover_usdc: max_daily,
                max_leg_fraction: leg_fraction,
                max_daily_turnover_fraction: daily_fraction,
                max_jump_factor: None,
            };
            let portfolio = snapshot.total_usdc();
            match limits.check(&plan, used) {
                Ok(()) => {
                    for leg in &plan.legs {
                        if let Some(limit) = max_leg {
                            prop_assert!(leg.amount_usdc <= limit);
                        }
                        if let Some(fraction) = leg_fraction {
                            prop_assert!(leg.amount_usdc <= fraction * portfolio);
                        }
                    }
                    if let Some(limit) = max_daily {
                        prop_assert!(used + plan.moved_usdc() <= limit);
                    }
                    if let Some(fraction) = daily_fraction {
                        prop_assert!(used + plan.moved_usdc() <= fraction * portfolio);
                    }
                }
                Err(refusals) => {
                    prop_assert!(!refusals.is_empty());
                    // A per-leg cap of at least a cent never refuses once legs are split, unless
                    // a leg would take more than MAX_SPLIT_PARTS legs; the relative caps and
                    // the daily ones still may.
                    let split = limits.split_oversized(&plan);
                    prop_assert!(split.legs.len() <= plan.legs.len() * MAX_SPLIT_PARTS as usize);
                    prop_assert_eq!(split.moved_usdc(), plan.moved_usdc());
                    let splittable = max_leg.is_some_and(|cap| {
                        cap >= Decimal::new(1, 2)
                            && plan.legs.iter().all(|l| l.amount_usdc <= cap * Decimal::from(MAX_SPLIT_PARTS))
                    });
                    if splittable && max_daily.is_none() && leg_fraction.is_none() && daily_fraction.is_none() {
                        prop_assert!(limits.check(&split, used).is_ok());
                    }
                    for refusal in refusals {
                        match refusal {
                            RiskRefusal::LegTooLarge { index, amount_usdc, limit_usdc } => {
                                prop_assert_eq!(plan.legs[index].amount_usdc, amount_usdc);
                                prop_assert!(amount_usdc > limit_usdc);
                            }
                            RiskRefusal::LegAboveFraction { index, amount_usdc, fraction, portfolio_usdc, limit_usdc } => {
                                prop_assert_eq!(plan.legs[index].amount_usdc, amount_usdc);
                                prop_assert_eq!(portfolio_usdc, portfolio);
                                prop_assert_eq!(limit_usdc, fraction * portfolio);
                                prop_assert!(amount_usdc > limit_usdc);
                            }
                            RiskRefusal::DailyTurnover { used_usdc, plan_usdc, limit_usdc } => {
                                prop_assert!(used_usdc.checked_add(plan_usdc).is_none_or(|t| t > limit_usdc));
                            }
                            RiskRefusal::DailyAboveFraction { used_usdc, plan_usdc, limit_usdc, .. } => {
                                prop_assert!(used_usdc.checked_add(plan_usdc).is_none_or(|t| t > limit_usdc));
                            }
                        }
                    }
                }
            }
        }
    }
}
