//! The hedge rules, table by table, on the article's $1,000 agent after a large casino win.

use rust_decimal_macros::dec;

use super::*;
use crate::service::ServiceMap;

/// The article's agent with the casino at `casino` and `casino_locked` of it locked.
fn snapshot(casino: Decimal, casino_locked: Decimal) -> PortfolioSnapshot {
    let balances = ServiceMap([
        casino,
        dec!(300),
        dec!(150),
        dec!(150),
        dec!(100),
        dec!(100),
    ]);
    let mut locked = ServiceMap::default();
    locked[Service::Casino] = casino_locked;
    PortfolioSnapshot::new(balances, None)
        .and_then(|s| s.with_locked(locked))
        .expect("valid")
}

fn limits(margin_available_usdc: Decimal) -> SizeLimits {
    SizeLimits {
        margin_available_usdc,
        taker_fee_rate: dec!(0.001),
        max_leg_usdc: None,
    }
}

#[test]
fn stuck_excess_is_what_the_free_part_cannot_cover() {
    struct TestCase {
        casino: Decimal,
        locked: Decimal,
        expected: Vec<(Decimal, Decimal)>,
    }
    let cases = [
        // TC0: a win of 230.77 puts the casino 15 points over (35% of 1,230.77: 184.61 over
        // its 246.15 share); with 380 of its 430.77 locked, the free 50.77 leaves now and
        // 133.84 is stuck.
        TestCase {
            casino: dec!(430.77),
            locked: dec!(380),
            expected: vec![(dec!(184.61), dec!(133.84))],
        },
        // TC1: all of it locked (the bankroll in play): the whole excess is stuck.
        TestCase {
            casino: dec!(430.77),
            locked: dec!(430.77),
            expected: vec![(dec!(184.61), dec!(184.61))],
        },
        // TC2: a lock the free part covers: 150 locked leaves 280.77 free, more than the
        // excess: nothing stuck.
        TestCase {
            casino: dec!(430.77),
            locked: dec!(150),
            expected: vec![],
        },
        // TC3: nothing locked: it can all move.
        TestCase {
            casino: dec!(430.77),
            locked: Decimal::ZERO,
            expected: vec![],
        },
        // TC4: locked but not overweight (on target): nothing stuck.
        TestCase {
            casino: dec!(200),
            locked: dec!(200),
            expected: vec![],
        },
    ];
    let targets = TargetAllocation::conservative();
    for (i, case) in cases.iter().enumerate() {
        let found: Vec<(Decimal, Decimal)> =
            locked_excess(&snapshot(case.casino, case.locked), &targets)
                .iter()
                .map(|e| {
                    assert_eq!(e.service, Service::Casino, "TC{i}");
                    (e.excess_usdc, e.stuck_usdc)
                })
                .collect();
        assert_eq!(found, case.expected, "TC{i}");
    }
    let excess = &locked_excess(&snapshot(dec!(430.77), dec!(380)), &targets)[0];
    assert_eq!(excess.drift.round_dp(4), dec!(0.15));
}

#[test]
fn requests_go_after_a_plan_that_left_a_stuck_part_or_when_the_set_changes() {
    struct TestCase {
        previous: Vec<Service>,
        now_locked: bool,
        planned: bool,
        expected: bool,
    }
    let cases = [
        // TC0: a plan left the casino's locked part behind.
        TestCase {
            previous: vec![Service::Casino],
            now_locked: true,
            planned: true,
            expected: true,
        },
        // TC1: a lock appeared without a plan.
        TestCase {
            previous: vec![],
            now_locked: true,
            planned: false,
            expected: true,
        },
        // TC2: the lock lifted: the (empty) news goes out so the hedge can close.
        TestCase {
            previous: vec![Service::Casino],
            now_locked: false,
            planned: false,
            expected: true,
        },
        // TC3: nothing changed and no plan: quiet.
        TestCase {
            previous: vec![Service::Casino],
            now_locked: true,
            planned: false,
            expected: false,
        },
        // TC4: a plan with nothing stuck: nothing to say.
        TestCase {
            previous: vec![],
            now_locked: false,
            planned: true,
            expected: false,
        },
    ];
    let targets = TargetAllocation::conservative();
    for (i, case) in cases.iter().enumerate() {
        let locked = if case.now_locked {
            dec!(430.77)
        } else {
            dec!(0)
        };
        let now = locked_excess(&snapshot(dec!(430.77), locked), &targets);
        assert_eq!(
            request_due(&case.previous, &now, case.planned),
            case.expected,
            "TC{i}"
        );
    }
}

#[test]
fn open_sizes_and_caps() {
    struct TestCase {
        drift: Decimal,
        ratio: Decimal,
        limits: SizeLimits,
        expected: Result<(Decimal, Vec<&'static str>), &'static str>,
    }
    let cases = [
        // TC0: 15 points over, 150 stuck at ratio 0.8: a 120.00 short at 2x.
        TestCase {
            drift: dec!(0.15),
            ratio: dec!(0.8),
            limits: limits(dec!(300)),
            expected: Ok((dec!(120.00), vec![])),
        },
        // TC1: 8 points over: below the 10-point threshold.
        TestCase {
            drift: dec!(0.08),
            ratio: dec!(0.8),
            limits: limits(dec!(300)),
            expected: Err("hedge.threshold"),
        },
        // TC2: exactly on the threshold is not more than it.
        TestCase {
            drift: dec!(0.10),
            ratio: dec!(0.8),
            limits: limits(dec!(300)),
            expected: Err("hedge.threshold"),
        },
        // TC3: a large ratio is capped at max_notional_usdc (500).
        TestCase {
            drift: dec!(0.15),
            ratio: dec!(5),
            limits: limits(dec!(10000)),
            expected: Ok((dec!(500), vec!["hedge.max_notional_usdc"])),
        },
        // TC4: 20 of trading cash carries 19.58 of margin and fee at 2x and 0.1% (2% and two
        // cents kept aside for moves of the cash and the venue's rounding up).
        TestCase {
            drift: dec!(0.15),
            ratio: dec!(1),
            limits: limits(dec!(20)),
            expected: Ok((dec!(39.08), vec!["margin"])),
        },
        // TC5: too little cash for anything material.
        TestCase {
            drift: dec!(0.15),
            ratio: dec!(1),
            limits: limits(dec!(3)),
            expected: Err("hedge.min_notional_usdc"),
        },
        // TC6: risk.max_leg_usdc caps a hedge like a transfer.
        TestCase {
            drift: dec!(0.15),
            ratio: dec!(1),
            limits: SizeLimits {
                max_leg_usdc: Some(dec!(100)),
                ..limits(dec!(300))
            },
            expected: Ok((dec!(100), vec!["risk.max_leg_usdc"])),
        },
        // TC7: a tiny ratio leaves an immaterial notional.
        TestCase {
            drift: dec!(0.15),
            ratio: dec!(0.05),
            limits: limits(dec!(300)),
            expected: Err("hedge.min_notional_usdc"),
        },
    ];
    let config = HedgeConfig::article();
    for (i, case) in cases.iter().enumerate() {
        let excess = LockedExcess {
            service: Service::Casino,
            drift: case.drift,
            excess_usdc: dec!(184.61),
            locked_usdc: dec!(150),
            stuck_usdc: dec!(150),
        };
        match (
            decide_open(&config, &excess, case.ratio, &case.limits),
            &case.expected,
        ) {
            (Ok(order), Ok((notional, capped_by))) => {
                assert_eq!(order.notional_usdc, *notional, "TC{i}");
                assert_eq!(&order.capped_by, capped_by, "TC{i}");
                assert_eq!(order.leverage, 2, "TC{i}");
                // Margin (rounded up) plus the taker fee fits what was available.
                let margin = (order.notional_usdc / dec!(2))
                    .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::AwayFromZero);
                let fee = (order.notional_usdc * case.limits.taker_fee_rate)
                    .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::AwayFromZero);
                assert!(margin + fee <= case.limits.margin_available_usdc, "TC{i}");
            }
            (Err(reason), Err(needle)) => {
                assert!(reason.to_string().contains(needle), "TC{i}: {reason}");
            }
            (got, want) => panic!("TC{i}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn hold_close_or_resize() {
    struct TestCase {
        casino: Decimal,
        locked: Decimal,
        expected: HoldDecision,
    }
    let cases = [
        // TC0: nothing changed: 149.99 stuck (396.16 of 430.77 locked) still wants 119.99
        // of cover: keep the 120 short.
        TestCase {
            casino: dec!(430.77),
            locked: dec!(396.16),
            expected: HoldDecision::Keep,
        },
        // TC1: the lock lifted: the spot rebalance can move it now.
        TestCase {
            casino: dec!(430.77),
            locked: Decimal::ZERO,
            expected: HoldDecision::Close(CloseReason::LockReleased),
        },
        // TC2: the casino lost most of the excess: 12 over, all locked: 9.60 of cover is
        // immaterial.
        TestCase {
            casino: dec!(215),
            locked: dec!(215),
            expected: HoldDecision::Close(CloseReason::DriftResolved),
        },
        // TC3: back on target, still locked: nothing is stuck.
        TestCase {
            casino: dec!(200),
            locked: dec!(200),
            expected: HoldDecision::Close(CloseReason::DriftResolved),
        },
        // TC4: the excess fell to 40, all locked: 32 of cover, far from 120: resize.
        TestCase {
            casino: dec!(250),
            locked: dec!(250),
            expected: HoldDecision::Resize {
                notional_usdc: dec!(32.00),
            },
        },
        // TC5: a small move (137.50 stuck: 110.00 of cover) is not worth the fees.
        TestCase {
            casino: dec!(430.77),
            locked: dec!(383.66),
            expected: HoldDecision::Keep,
        },
    ];
    let config = HedgeConfig::article();
    let hedge = HeldHedge {
        service: Service::Casino,
        notional_usdc: dec!(120),
        ratio: dec!(0.8),
    };
    let targets = TargetAllocation::conservative();
    for (i, case) in cases.iter().enumerate() {
        let decision = decide_hold(
            &config,
            &hedge,
            &snapshot(case.casino, case.locked),
            &targets,
            &limits(dec!(240)),
        );
        assert_eq!(decision, case.expected, "TC{i}");
    }
}

#[test]
fn margin_available_is_what_positions_do_not_hold() {
    struct TestCase {
        balance: Decimal,
        held: Vec<Decimal>,
        expected: Decimal,
    }
    let cases = [
        // TC0: no positions: all of it.
        TestCase {
            balance: dec!(300),
            held: vec![],
            expected: dec!(300),
        },
        // TC1: a 60 margin that gained 2.50.
        TestCase {
            balance: dec!(302.50),
            held: vec![dec!(62.50)],
            expected: dec!(240),
        },
        // TC2: never below zero.
        TestCase {
            balance: dec!(10),
            held: vec![dec!(20)],
            expected: dec!(0),
        },
    ];
    for (i, case) in cases.iter().enumerate() {
        assert_eq!(
            margin_available(case.balance, case.held.iter().copied()),
            case.expected,
            "TC{i}"
        );
    }
}

#[test]
fn close_reasons_round_trip() {
    for reason in CloseReason::ALL {
        assert_eq!(CloseReason::parse(reason.name()), Some(reason));
    }
    assert_eq!(CloseReason::parse("Resize"), None);
}
