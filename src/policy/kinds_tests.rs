//! Every policy kind and event response through [`PolicyState`], with hand-computed trades
//! on small fixtures (the fixtures are shared with `parity_tests`).

use std::sync::Arc;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use time::{Duration, OffsetDateTime, macros::datetime};

use super::{
    responses::{DrawdownConfig, FreedWeightTo, SpikeConfig},
    *,
};
use crate::{
    observation::Happening,
    service::{Direction, Service, ServiceMap},
    testing::{leg_tuples, snapshot, usdc, weights},
};

pub(super) const T0: OffsetDateTime = datetime!(2026-01-01 00:05 UTC);

pub(super) const ON_TARGET: [Decimal; 6] = usdc![200, 300, 150, 150, 100, 100];

/// A resync snapshot of `balances` (of event `seq`) at `T0`: what syncs a policy.
pub(super) fn resync(balances: [Decimal; 6], seq: Option<u64>) -> PolicyInput {
    PolicyInput::Snapshot {
        snapshot: snapshot(balances, seq),
        at: T0,
        resync: true,
        tick: false,
    }
}

/// A policy synced on `ON_TARGET` at `T0`.
pub(super) fn synced(config: PolicyConfig) -> PolicyState {
    let mut policy = PolicyState::new(config, TargetAllocation::conservative());
    assert!(policy.process(resync(ON_TARGET, Some(1))).is_none());
    policy
}

pub(super) fn tick(balances: [Decimal; 6], at: OffsetDateTime) -> PolicyInput {
    PolicyInput::Snapshot {
        snapshot: snapshot(balances, None),
        at,
        resync: false,
        tick: true,
    }
}

pub(super) fn legs(decision: &Decision) -> Vec<(Service, Direction, Decimal)> {
    leg_tuples(&decision.plan)
}

use Direction::{Decrease as Dec, Increase as Inc};
use Service::{Casino, Domains, Escrow, Trading, Wallet};

#[test]
fn every_kind_decides_at_the_tick() {
    struct TestCase {
        config: PolicyConfig,
        balances: [Decimal; 6],
        days: i64,
        expected_trigger: Option<&'static str>,
        expected_legs: Vec<(Service, Direction, Decimal)>,
    }
    let hybrid = PolicyConfig::default();
    let threshold = PolicyConfig {
        kind: PolicyKind::Threshold,
        ..PolicyConfig::default()
    };
    let calendar = |days| PolicyConfig {
        kind: PolicyKind::Calendar,
        calendar_days: days,
        ..PolicyConfig::default()
    };
    let small_drift = usdc![210, 290, 150, 150, 100, 100];
    let cases = [
        // TC0: hybrid, casino 6 points over: to target; the reserve ends on target.
        TestCase {
            config: hybrid.clone(),
            balances: usdc![260, 280, 140, 140, 90, 90],
            days: 1,
            expected_trigger: Some("tick"),
            expected_legs: vec![
                (Casino, Dec, dec!(60)),
                (Trading, Inc, dec!(20)),
                (Wallet, Inc, dec!(10)),
                (Domains, Inc, dec!(10)),
                (Escrow, Inc, dec!(10)),
            ],
        },
        // TC1: exactly on the 5-point edge rebalances (`≥`).
        TestCase {
            config: hybrid.clone(),
            balances: usdc![250, 250, 150, 150, 100, 100],
            days: 1,
            expected_trigger: Some("tick"),
            expected_legs: vec![(Casino, Dec, dec!(50)), (Trading, Inc, dec!(50))],
        },
        // TC2: a cent inside the edge does not.
        TestCase {
            config: hybrid.clone(),
            balances: usdc![249.99, 250.01, 150, 150, 100, 100],
            days: 1,
            expected_trigger: None,
            expected_legs: vec![],
        },
        // TC3: hybrid's floor: a small drift after 30 days goes to target.
        TestCase {
            config: hybrid,
            balances: small_drift,
            days: 30,
            expected_trigger: Some("calendar"),
            expected_legs: vec![(Casino, Dec, dec!(10)), (Trading, Inc, dec!(10))],
        },
        // TC4: threshold has no floor.
        TestCase {
            config: threshold.clone(),
            balances: small_drift,
            days: 30,
            expected_trigger: None,
            expected_legs: vec![],
        },
        // TC5: threshold to the band edge: casino 27% and trading 23% move only to 25%.
        TestCase {
            config: PolicyConfig {
                rebalance_to: RebalanceTo::BandEdge,
                ..threshold
            },
            balances: usdc![270, 230, 150, 150, 100, 100],
            days: 1,
            expected_trigger: Some("tick"),
            expected_legs: vec![(Casino, Dec, dec!(20)), (Trading, Inc, dec!(20))],
        },
        // TC6: a pure relative threshold (band 0, 25% of each target): escrow 3 points
        // under its 10% is beyond 2.5 points.
        TestCase {
            config: PolicyConfig {
                kind: PolicyKind::Threshold,
                bands: DriftBands::new(dec!(0), dec!(0.25)).expect("valid"),
                ..PolicyConfig::default()
            },
            balances: usdc![200, 330, 150, 150, 70, 100],
            days: 1,
            expected_trigger: Some("tick"),
            expected_legs: vec![(Trading, Dec, dec!(30)), (Escrow, Inc, dec!(30))],
        },
        // TC7: weekly calendar on day 7: to target whatever the drift.
        TestCase {
            config: calendar(7),
            balances: small_drift,
            days: 7,
            expected_trigger: Some("calendar"),
            expected_legs: vec![(Casino, Dec, dec!(10)), (Trading, Inc, dec!(10))],
        },
        // TC8: ... not on day 6.
        TestCase {
            config: calendar(7),
            balances: small_drift,
            days: 6,
            expected_trigger: None,
            expected_legs: vec![],
        },
        // TC9: a calendar's band is not a trigger: casino 10 points over on day 3 waits.
        TestCase {
            config: calendar(7),
            balances: usdc![300, 200, 150, 150, 100, 100],
            days: 3,
            expected_trigger: None,
            expected_legs: vec![],
        },
        // TC10: daily calendar on day 1.
        TestCase {
            config: calendar(1),
            balances: small_drift,
            days: 1,
            expected_trigger: Some("calendar"),
            expected_legs: vec![(Casino, Dec, dec!(10)), (Trading, Inc, dec!(10))],
        },
        // TC11: volatility-adjusted with no return history (index 0.5): the band is
        // 5 × (1 − 0.6 × 0.5) = 3.5 points, so casino 4 points over rebalances (the hybrid's
        // 5 points would not).
        TestCase {
            config: PolicyConfig {
                kind: PolicyKind::VolatilityAdjusted,
                ..PolicyConfig::default()
            },
            balances: usdc![240, 300, 150, 150, 100, 60],
            days: 1,
            expected_trigger: Some("tick"),
            expected_legs: vec![(Casino, Dec, dec!(40))],
        },
    ];
    for (index, case) in cases.iter().enumerate() {
        let mut policy = synced(case.config.clone());
        let decision = policy.process(tick(case.balances, T0 + Duration::days(case.days)));
        assert_eq!(
            decision.as_ref().map(|d| d.trigger.name()),
            case.expected_trigger,
            "TC{index}"
        );
        let got = decision.as_ref().map(legs).unwrap_or_default();
        assert_eq!(got, case.expected_legs, "TC{index}");
    }
}

/// A band-edge decision whose only leg is below the minimum trades nothing and says why.
#[test]
fn a_decision_with_no_leg_above_the_minimum_is_noticed() {
    let mut policy = synced(PolicyConfig {
        rebalance_to: RebalanceTo::BandEdge,
        min_trade_usdc: dec!(10),
        ..PolicyConfig::default()
    });
    // Casino 5.5 points over, the reserve 5.5 under: the band edge moves $5.
    let balances = usdc![255, 300, 150, 150, 100, 45];
    assert!(
        policy
            .process(tick(balances, T0 + Duration::days(1)))
            .is_none()
    );
    let notices = policy.take_notices();
    let Some(Notice::NoTrade { trigger, notes, .. }) = notices.last() else {
        panic!("{notices:?}");
    };
    assert_eq!(
        trigger,
        &Trigger::Tick {
            at: T0 + Duration::days(1)
        }
    );
    assert_eq!(
        notes,
        &vec![PlanNote::BelowMinimumTrade {
            min_trade_usdc: dec!(10),
            largest_leg_usdc: dec!(5),
        }]
    );
}

pub(super) fn drawdown_config() -> PolicyConfig {
    PolicyConfig {
        drawdown: Some(DrawdownConfig {
            threshold: 0.20,
            cut_factor: 0.5,
            recovery: 0.05,
            restore_after_days: None,
            freed_to: FreedWeightTo::Reserve,
        }),
        ..PolicyConfig::default()
    }
}

pub(super) fn event(seq: u64, balances: [Decimal; 6], what: Happening) -> PolicyInput {
    PolicyInput::Event(Arc::new(Observation {
        seq,
        at: T0 + Duration::hours(seq as i64),
        snapshot: Some(snapshot(balances, Some(seq))),
        what,
    }))
}

pub(super) fn apply(balances: [Decimal; 6], decision: &Decision) -> [Decimal; 6] {
    decision
        .plan
        .apply(&ServiceMap(balances))
        .expect("never overdraws")
        .0
}

/// Applies `decision`'s plan to `balances` and reports it finished at `at` with the new
/// balances, as the executor does; the balances after it.
pub(super) fn apply_and_report(
    policy: &mut PolicyState,
    balances: [Decimal; 6],
    decision: &Decision,
    at: OffsetDateTime,
) -> [Decimal; 6] {
    let after = apply(balances, decision);
    policy.process(PolicyInput::PlanFinished {
        snapshot: Some(snapshot(after, None)),
        at,
        moved: true,
        interrupted: false,
    });
    after
}

/// Feeds event `seq` and returns the rebalance it causes, asserting that it is the target
/// adjustment `name` decided on that event (so its plan is named after it).
fn adjusted_on_event(
    policy: &mut PolicyState,
    seq: u64,
    balances: [Decimal; 6],
    what: Happening,
    name: &str,
) -> Decision {
    let decision = policy
        .process(event(seq, balances, what))
        .unwrap_or_else(|| panic!("{name} rebalances"));
    assert_eq!(decision.trigger.name(), name);
    assert!(
        matches!(
            decision.trigger,
            Trigger::Adjusted {
                on: DecidedOn::Event { seq: on },
                ..
            } if on == seq
        ),
        "{:?}",
        decision.trigger
    );
    decision
}

/// Trading falls 25% (a venue drawdown event): its target is cut from 30% to 15%, the
/// reserve's raised to 25%, and the portfolio rebalanced to them; a 30% rise brings it back
/// within 5% of its peak and the 30% target returns.
#[test]
fn a_drawdown_cuts_the_target_and_recovery_restores_it() {
    let mut policy = synced(drawdown_config());
    let fallen = usdc![200, 225, 150, 150, 100, 100];
    // Decided on event 2: its plan is named after that event.
    let cut = adjusted_on_event(
        &mut policy,
        2,
        fallen,
        Happening::Drawdown {
            service: Trading,
            drawdown: dec!(0.25),
        },
        "drawdown_cut",
    );
    // $925 to 20/15/15/15/10/25: trading 225 → 138.75, casino 200 → 185, wallet and
    // domains 150 → 138.75, escrow 100 → 92.50; the reserve takes the $131.25.
    assert_eq!(
        legs(&cut),
        vec![
            (Trading, Dec, dec!(86.25)),
            (Casino, Dec, dec!(15)),
            (Wallet, Dec, dec!(11.25)),
            (Domains, Dec, dec!(11.25)),
            (Escrow, Dec, dec!(7.50)),
        ]
    );
    let notices = policy.take_notices();
    let Some(Notice::TargetsAdjusted {
        adjustments,
        targets,
        ..
    }) = notices.first()
    else {
        panic!("{notices:?}");
    };
    assert_eq!(
        adjustments,
        &vec![Adjustment::DrawdownCut {
            service: Trading,
            fall: dec!(0.25),
            from: dec!(0.30),
            to: dec!(0.15),
        }]
    );
    assert_eq!(targets[Service::Reserve], dec!(0.25));
    assert_eq!(
        adjustments[0].describe(),
        "trading target cut 30.0% → 15.0% because it fell 25.0% from its peak"
    );
    let after_cut = apply(fallen, &cut);
    assert!(
        policy
            .process(PolicyInput::PlanFinished {
                snapshot: Some(snapshot(after_cut, Some(3))),
                at: T0 + Duration::hours(3),
                moved: true,
                interrupted: false,
            })
            .is_none()
    );
    // A 20% rise: 0.75 × 1.2 = 0.9 of its peak, 10% down: still cut.
    let mut risen = after_cut;
    risen[Trading.index()] += dec!(27.75);
    assert!(
        policy
            .process(event(
                4,
                risen,
                Happening::MarkToMarket {
                    service: Trading,
                    change_usdc: dec!(27.75),
                }
            ))
            .is_none()
    );
    // Another 13.88: 180.38 / 138.75 of 0.75 is 97.5% of its peak: restored to 30%.
    let mut recovered = risen;
    recovered[Trading.index()] += dec!(13.88);
    let restore = adjusted_on_event(
        &mut policy,
        5,
        recovered,
        Happening::MarkToMarket {
            service: Trading,
            change_usdc: dec!(13.88),
        },
        "drawdown_restore",
    );
    // $966.63 back to 20/30/15/15/10/10 (legs truncated to the cent).
    assert_eq!(
        legs(&restore),
        vec![
            (Trading, Inc, dec!(109.60)),
            (Casino, Inc, dec!(8.32)),
            (Wallet, Inc, dec!(6.24)),
            (Domains, Inc, dec!(6.24)),
            (Escrow, Inc, dec!(4.16)),
        ]
    );
    assert_eq!(policy.targets_in_force(), &TargetAllocation::conservative());
    let notices = policy.take_notices();
    assert!(
        matches!(
            notices.as_slice(),
            [Notice::TargetsAdjusted { adjustments, .. }]
                if matches!(adjustments[0], Adjustment::DrawdownRestored { expired: false, .. })
        ),
        "{notices:?}"
    );
}

fn scaled(balances: [Decimal; 6], factor: Decimal) -> [Decimal; 6] {
    balances.map(|b| (b * factor).round_dp(8))
}

/// Ticks scale every balance by the day's return (weights never drift): ±1% for eight
/// days, then +10% and −10%: the spike switches to the conservative targets on day 9 and
/// back on day 10 (the same hand-computed days as the response's own test).
#[test]
fn a_volatility_burst_switches_to_conservative_targets_and_back() {
    let conservative =
        TargetAllocation::new(ServiceMap(weights![0.10, 0.20, 0.15, 0.15, 0.15, 0.25]))
            .expect("valid");
    let mut policy = synced(PolicyConfig {
        vol_spike: Some(VolSpikeResponse {
            spike: SpikeConfig {
                window: 2,
                history: 10,
                ratio: 2.0,
                calm_ratio: 1.5,
            },
            targets: conservative.clone(),
        }),
        ..PolicyConfig::default()
    });
    let returns = [
        dec!(0.01),
        dec!(-0.01),
        dec!(0.01),
        dec!(-0.01),
        dec!(0.01),
        dec!(-0.01),
        dec!(0.01),
        dec!(-0.01),
        dec!(0.1),
        dec!(-0.1),
        dec!(0.01),
    ];
    let mut balances = ON_TARGET;
    let mut switches = Vec::new();
    for (day, r) in returns.iter().enumerate() {
        balances = scaled(balances, Decimal::ONE + r);
        let at = T0 + Duration::days(day as i64);
        if let Some(decision) = policy.process(tick(balances, at)) {
            switches.push((day, decision.trigger.name()));
            // Decided at the tick: its plan is named after the tick's day.
            assert!(
                matches!(decision.trigger, Trigger::Adjusted { on: DecidedOn::Day { at: on }, .. } if on == at),
                "{:?}",
                decision.trigger
            );
            balances = apply_and_report(&mut policy, balances, &decision, at);
            let in_force = policy.targets_in_force().clone();
            let total: Decimal = balances.iter().sum();
            for service in Service::ALL {
                let weight = balances[service.index()] / total;
                assert!(
                    (weight - in_force.weight(service)).abs() < dec!(0.0001),
                    "day {day} {service:?}"
                );
            }
        }
    }
    assert_eq!(switches, vec![(9, "vol_spike"), (10, "vol_calm")]);
    assert_eq!(policy.targets_in_force(), &TargetAllocation::conservative());
    let described: Vec<String> = policy
        .take_notices()
        .iter()
        .filter_map(|n| match n {
            Notice::TargetsAdjusted { adjustments, .. } => Some(adjustments[0].describe()),
            _ => None,
        })
        .collect();
    assert_eq!(described.len(), 2);
    assert!(described[0].starts_with("conservative targets because recent volatility"));
    assert!(described[1].starts_with("base targets restored because"));
}
