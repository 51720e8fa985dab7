//! Policy tests: each story feeds inputs in order and checks the decisions.

use rust_decimal_macros::dec;
use time::macros::datetime;

use time::Duration;

use super::{
    kinds_tests::{ON_TARGET, T0, resync},
    *,
};
use crate::observation::Happening;
use crate::testing::{messages, snapshot, usdc};

fn synced_policy() -> PolicyState {
    let mut policy = PolicyState::new(PolicyConfig::default(), TargetAllocation::conservative());
    let decision = policy.process(resync(ON_TARGET, Some(1)));
    assert!(decision.is_none(), "on target: nothing to do");
    policy
}

fn win(seq: u64, amount: Decimal, after: [Decimal; 6]) -> PolicyInput {
    PolicyInput::Event(Arc::new(Observation {
        seq,
        at: T0 + Duration::hours(1),
        snapshot: Some(snapshot(after, Some(seq))),
        what: Happening::CasinoWin {
            amount_usdc: amount,
            stake_usdc: amount,
            multiplier: dec!(2),
        },
    }))
}

fn after_win(amount: Decimal) -> [Decimal; 6] {
    let mut b = ON_TARGET;
    b[0] += amount;
    b
}

/// A synced policy whose $200 casino win (seq 2) fired the plan now in flight, and that plan.
fn policy_after_a_large_win() -> (PolicyState, Decision) {
    let mut policy = synced_policy();
    let first = policy
        .process(win(2, dec!(200), after_win(dec!(200))))
        .expect("fires");
    (policy, first)
}

#[test]
fn wins_trigger_by_size() {
    struct TestCase {
        amount: Decimal,
        expected_trigger: Option<&'static str>,
    }
    let cases = [
        // TC0: 15% of a $1,000 bankroll triggers at once.
        TestCase {
            amount: dec!(150),
            expected_trigger: Some("large_win"),
        },
        // TC1: exactly 10% triggers (the article's >= test).
        TestCase {
            amount: dec!(100),
            expected_trigger: Some("large_win"),
        },
        // TC2: 9.99% waits for the daily check.
        TestCase {
            amount: dec!(99.9),
            expected_trigger: None,
        },
    ];
    for (i, case) in cases.iter().enumerate() {
        let mut policy = synced_policy();
        let decision = policy.process(win(2, case.amount, after_win(case.amount)));
        assert_eq!(
            decision.as_ref().map(|d| d.trigger.name()),
            case.expected_trigger,
            "TC{i}"
        );
        if let Some(decision) = decision {
            // The win is taken out of the casino first, and everything ends at target.
            assert_eq!(decision.plan.legs[0].service, Service::Casino);
            assert_eq!(decision.plan.legs[0].direction, Direction::Decrease);
            let after = decision
                .plan
                .apply(&snapshot(after_win(case.amount), None).balances_usdc)
                .expect("never overdraws");
            let total: Decimal = after.values().copied().sum();
            for service in Service::ALL {
                let weight = after[service] / total;
                let target = TargetAllocation::conservative().weight(service);
                assert!((weight - target).abs() < dec!(0.01), "TC{i} {service:?}");
            }
        }
    }
}

#[test]
fn nothing_is_planned_on_stale_state_and_the_trigger_waits_for_resync() {
    let mut policy = synced_policy();
    // The stream drops: a large win seen now must not trade.
    assert!(policy.process(PolicyInput::StreamDown).is_none());
    assert!(
        policy
            .process(win(2, dec!(300), after_win(dec!(300))))
            .is_none()
    );
    assert_eq!(policy.readiness(), Readiness::Stale);
    // A plain event snapshot does not re-arm it either.
    assert!(
        policy
            .process(PolicyInput::Snapshot {
                snapshot: snapshot(after_win(dec!(300)), Some(2)),
                at: T0,
                resync: false,
                tick: false,
            })
            .is_none()
    );
    // Only a resync snapshot does, and the deferred win fires against it.
    let decision = policy
        .process(resync(after_win(dec!(300)), Some(2)))
        .expect("deferred trigger fires");
    assert_eq!(decision.trigger.name(), "large_win");
}

#[test]
fn one_plan_in_flight_and_the_next_trigger_runs_after_it() {
    let (mut policy, first) = policy_after_a_large_win();
    assert_eq!(first.plan_seq, 1);
    assert_eq!(policy.readiness(), Readiness::InFlight);
    // A request during execution is deferred, not dropped.
    let during = policy.process(PolicyInput::Request {
        reason: "operator".into(),
        at: T0,
    });
    assert!(during.is_none());
    // The market moved during execution, so the requested rebalance has work to do.
    let drifted = usdc![230, 290, 140, 150, 95, 95];
    let next = policy
        .process(PolicyInput::PlanFinished {
            snapshot: Some(snapshot(drifted, Some(9))),
            at: T0,
            moved: true,
            interrupted: false,
        })
        .expect("the deferred request runs");
    assert_eq!(next.plan_seq, 2);
    assert_eq!(next.trigger.name(), "request");
}

#[test]
fn ticks_check_bands_and_enforce_the_calendar_floor() {
    struct TestCase {
        balances: [Decimal; 6],
        days_after_start: i64,
        expected_trigger: Option<&'static str>,
    }
    let cases = [
        // TC0: inside every band, day 1: nothing.
        TestCase {
            balances: ON_TARGET,
            days_after_start: 1,
            expected_trigger: None,
        },
        // TC1: casino 6 points over: the tick rebalances.
        TestCase {
            balances: usdc![260, 280, 140, 140, 90, 90],
            days_after_start: 1,
            expected_trigger: Some("tick"),
        },
        // TC2: small drift but 30 days without a rebalance: the calendar floor forces one.
        TestCase {
            balances: usdc![230, 290, 140, 150, 95, 95],
            days_after_start: 30,
            expected_trigger: Some("calendar"),
        },
    ];
    for (i, case) in cases.iter().enumerate() {
        let mut policy = synced_policy();
        let decision = policy.process(PolicyInput::Snapshot {
            snapshot: snapshot(case.balances, Some(5)),
            at: T0 + Duration::days(case.days_after_start),
            resync: false,
            tick: true,
        });
        assert_eq!(
            decision.map(|d| d.trigger.name()),
            case.expected_trigger,
            "TC{i}"
        );
    }
}

#[test]
fn older_snapshots_never_replace_newer_ones() {
    let mut policy = synced_policy();
    policy.process(PolicyInput::Snapshot {
        snapshot: snapshot(after_win(dec!(50)), Some(10)),
        at: T0,
        resync: false,
        tick: false,
    });
    policy.process(resync(ON_TARGET, Some(3)));
    assert_eq!(policy.latest().expect("held").seq, Some(10));
}

#[test]
fn referral_income_goes_to_the_most_underweight_service() {
    let mut policy = synced_policy();
    // $40 of referral income arrives in the reserve; trading is the most underweight.
    let balances = usdc![200, 270, 150, 150, 100, 140];
    let decision = policy
        .process(PolicyInput::Event(Arc::new(Observation {
            seq: 2,
            at: T0,
            snapshot: Some(snapshot(balances, Some(2))),
            what: Happening::ReferralIncome {
                amount_usdc: dec!(40),
                source: Service::Casino,
            },
        })))
        .expect("routes");
    assert_eq!(decision.plan.legs.len(), 1);
    let leg = &decision.plan.legs[0];
    assert_eq!(
        (leg.service, leg.direction),
        (Service::Trading, Direction::Increase)
    );
    // Trading's deficit is 30% of $1,010 - $270 = $33; the leg never exceeds it.
    assert_eq!(leg.amount_usdc, dec!(33.00));
}

#[test]
fn a_plan_interrupted_by_the_stream_resumes_against_the_resync_snapshot() {
    let (mut policy, first) = policy_after_a_large_win();
    assert_eq!(first.trigger.name(), "large_win");
    // The stream drops mid-plan; the executor skips the rest and reports the interruption.
    assert!(policy.process(PolicyInput::StreamDown).is_none());
    let partly_done = usdc![240, 300, 150, 150, 100, 260];
    assert!(
        policy
            .process(PolicyInput::PlanFinished {
                snapshot: Some(snapshot(partly_done, Some(3))),
                at: T0,
                moved: true,
                interrupted: true,
            })
            .is_none(),
        "nothing is planned on the stale view"
    );
    assert_eq!(policy.readiness(), Readiness::Stale);
    // The resync snapshot brings the plan's trigger back, planned on fresh balances.
    let resumed = policy
        .process(resync(partly_done, Some(4)))
        .expect("the interrupted plan resumes");
    assert_eq!(resumed.trigger.name(), "large_win");
    assert_eq!(resumed.plan_seq, 2);
    assert!(
        resumed
            .plan
            .legs
            .iter()
            .all(|leg| leg.service != Service::Casino || leg.direction == Direction::Decrease)
    );
}

#[test]
fn a_plan_that_failed_for_other_reasons_is_not_retried_by_itself() {
    let (mut policy, _) = policy_after_a_large_win();
    let next = policy.process(PolicyInput::PlanFinished {
        snapshot: None,
        at: T0,
        moved: false,
        interrupted: false,
    });
    assert!(next.is_none(), "a refused plan waits for the next trigger");
    assert_eq!(policy.readiness(), Readiness::Ready);
}

#[test]
fn a_waiting_trigger_keeps_what_it_was_decided_on() {
    // Day 1's tick finds the casino over its band while the win's plan is still in flight;
    // the plan finishes after midnight. The tick then plans, still as day 1's: two
    // companions name it alike whenever each gets round to it.
    let (mut policy, _in_flight) = policy_after_a_large_win();
    let tick_at = datetime!(2026-01-01 23:30 UTC);
    let waited = policy.process(PolicyInput::Snapshot {
        snapshot: snapshot(usdc![260, 280, 140, 140, 90, 90], Some(3)),
        at: tick_at,
        resync: false,
        tick: true,
    });
    assert!(waited.is_none(), "one plan in flight");
    let finished_at = datetime!(2026-01-02 00:30 UTC);
    let decision = policy
        .process(PolicyInput::PlanFinished {
            snapshot: None,
            at: finished_at,
            moved: false,
            interrupted: false,
        })
        .expect("the waiting tick plans");
    assert_eq!(decision.trigger, Trigger::Tick { at: tick_at });
    assert_eq!(decision.at, finished_at);
    let id = crate::execution::naming::trigger_id(&decision.trigger, 0, 0);
    assert_eq!(id.to_string(), "d20260101");
}

#[test]
fn a_renumbered_venue_is_planned_on_its_new_numbering() {
    // The policy holds balances at event 29; the venue restarts and numbers from 0 again.
    let mut policy = synced_policy();
    assert!(
        policy
            .process(win(29, dec!(50), after_win(dec!(50))))
            .is_none()
    );
    // Without the reset, the new numbering's snapshot looks older and is ignored.
    let mut stale = policy.clone();
    stale.process(resync(after_win(dec!(400)), Some(3)));
    assert_eq!(stale.latest().and_then(|s| s.seq), Some(29));

    assert!(policy.process(PolicyInput::Renumbered).is_none());
    assert_eq!(policy.readiness(), Readiness::Stale);
    // The old numbering's seq is forgotten; its balances stay.
    assert_eq!(policy.latest().map(|s| s.seq), Some(None));
    assert_eq!(
        policy.latest().map(PortfolioSnapshot::total_usdc),
        Some(dec!(1050))
    );
    policy.process(resync(after_win(dec!(400)), Some(3)));
    assert_eq!(policy.latest().and_then(|s| s.seq), Some(3));
    assert_eq!(policy.readiness(), Readiness::Ready);
    // And the next large win of the new numbering is acted on.
    let decision = policy
        .process(win(4, dec!(300), after_win(dec!(700))))
        .expect("a large win after the reset trades");
    assert_eq!(decision.trigger.name(), "large_win");
}

#[test]
fn a_renumbered_snapshot_is_no_jump_but_a_jump_across_the_reset_is_held() {
    struct TestCase {
        /// The casino balance of the new numbering's first (resync) snapshot, at seq 3.
        casino_usdc: Decimal,
        /// Whether it is adopted.
        adopted: bool,
        /// The plausibility notices it raises.
        notices: usize,
    }
    let cases = [
        // TC0: balances in scale: adopted, whatever its lower seq.
        TestCase {
            casino_usdc: dec!(250),
            adopted: true,
            notices: 0,
        },
        // TC1: a total ten times the held one: held for a confirming snapshot, as any jump.
        TestCase {
            casino_usdc: dec!(10_000),
            adopted: false,
            notices: 1,
        },
    ];
    for (i, case) in cases.into_iter().enumerate() {
        let mut policy =
            PolicyState::new(PolicyConfig::default(), TargetAllocation::conservative())
                .with_max_jump_factor(Some(dec!(10)));
        let at_seq = |casino_usdc, seq| {
            let mut balances = ON_TARGET;
            balances[0] = casino_usdc;
            resync(balances, Some(seq))
        };
        policy.process(at_seq(dec!(200), 29));
        assert_eq!(policy.readiness(), Readiness::Ready, "TC{i}");
        policy.process(PolicyInput::Renumbered);
        policy.process(at_seq(case.casino_usdc, 3));
        let seq = policy.latest().and_then(|s| s.seq);
        assert_eq!(seq == Some(3), case.adopted, "TC{i}: {seq:?}");
        let ready = policy.readiness() == Readiness::Ready;
        assert_eq!(ready, case.adopted, "TC{i}");
        assert_eq!(
            policy.take_plausibility_notices().len(),
            case.notices,
            "TC{i}"
        );
    }
}

#[test]
fn a_confirmed_jump_is_a_return_only_when_its_event_was_one() {
    struct TestCase {
        /// What the event that jumps the casino from $200 to $9,200 says happened.
        what: Happening,
        /// The day's portfolio return once a confirming snapshot adopted the jump.
        portfolio_return: f64,
        /// The day's flow into the portfolio, USDC.
        flow_usdc: f64,
    }
    let cases = [
        // TC0: an out-of-band balance update (a deposit, the simulator's balance reset) is
        // money arriving, not a 900% day: it used to be adopted as a return once confirmed.
        TestCase {
            what: Happening::Balance,
            portfolio_return: 0.0,
            flow_usdc: 9_000.0,
        },
        // TC1: a mark-to-market of that size, confirmed, is the market's doing: a return.
        TestCase {
            what: Happening::MarkToMarket {
                service: Service::Casino,
                change_usdc: dec!(9000),
            },
            portfolio_return: 9.0,
            flow_usdc: 0.0,
        },
    ];
    for (i, case) in cases.into_iter().enumerate() {
        let mut policy =
            PolicyState::new(PolicyConfig::default(), TargetAllocation::conservative())
                .with_max_jump_factor(Some(dec!(10)));
        policy.process(resync(ON_TARGET, Some(1)));
        let jumped = after_win(dec!(9000));
        policy.process(kinds_tests::event(2, jumped, case.what));
        assert_eq!(
            policy.latest().and_then(|s| s.seq),
            Some(1),
            "TC{i}: the jump is held"
        );
        policy.process(PolicyInput::Confirmation {
            snapshot: snapshot(jumped, Some(2)),
            at: T0 + Duration::hours(3),
        });
        assert_eq!(policy.latest().and_then(|s| s.seq), Some(2), "TC{i}");
        policy.process(kinds_tests::tick(jumped, T0 + Duration::days(1)));
        let close = policy
            .take_notices()
            .into_iter()
            .find_map(|notice| match notice {
                Notice::DayClosed { close, .. } => Some(close),
                _ => None,
            })
            .expect("the tick closes the day");
        assert!(
            (close.portfolio_return - case.portfolio_return).abs() < 1e-9,
            "TC{i}: {}",
            close.portfolio_return
        );
        assert!(
            (close.observation.flow_usdc - case.flow_usdc).abs() < 1e-6,
            "TC{i}: {}",
            close.observation.flow_usdc
        );
    }
}

#[test]
fn renumberings_holds_and_confirmations_are_recorded_and_replayed() {
    // The venue restarts its numbering while the operator holds trading; the large win of
    // the new numbering waits for the resume. It is planned only if the replay also forgets
    // the old numbering.
    let later = T0 + Duration::hours(2);
    let inputs = [
        resync(ON_TARGET, Some(29)),
        PolicyInput::Hold { held: true, at: T0 },
        PolicyInput::Renumbered,
        resync(ON_TARGET, Some(3)),
        win(4, dec!(300), after_win(dec!(300))),
        PolicyInput::Hold {
            held: false,
            at: later,
        },
        PolicyInput::Confirmation {
            snapshot: snapshot(after_win(dec!(300)), Some(4)),
            at: later,
        },
    ];
    let mut policy = PolicyState::new(PolicyConfig::default(), TargetAllocation::conservative());
    let mut lines = vec![
        replay::RecordedLine::start(&policy.config, &policy.targets, None)
            .to_line()
            .expect("encodes"),
    ];
    for input in inputs {
        lines.push(
            replay::RecordedLine::input(&input)
                .to_line()
                .expect("encodes"),
        );
        if let Some(decision) = policy.process(input) {
            lines.push(replay::decision_line(&decision).expect("encodes"));
        }
    }
    let kinds: Vec<&str> = lines
        .iter()
        .filter_map(|line| line.split('"').nth(3))
        .collect();
    assert_eq!(
        kinds,
        [
            "start",
            "snapshot",
            "hold",
            "renumbered",
            "snapshot",
            "event",
            "hold",
            "decision",
            "confirmation"
        ]
    );
    let text = lines.join("\n");
    let result = replay::replay(&text).expect("replays");
    assert_eq!((result.inputs, result.recorded_decisions), (7, 1));
    assert!(result.identical(), "{:?}", result.first_mismatch);
    // Without the renumbering, the new numbering's balances look old and no plan follows.
    let without = text.replacen("{\"kind\":\"renumbered\"}\n", "", 1);
    assert_ne!(without, text);
    let result = replay::replay(&without).expect("replays");
    assert!(!result.identical());
}

#[test]
fn policy_config_names_every_bad_value() {
    let config = PolicyConfig {
        min_trade_usdc: dec!(-1),
        large_win_fraction: dec!(0),
        ..PolicyConfig::default()
    };
    let problems = messages(&config.validate().expect_err("two problems"));
    assert_eq!(
        problems,
        [
            "min_trade_usdc: -1 must not be negative",
            "large_win_fraction: 0 must be positive",
        ]
    );
    assert_eq!(PolicyConfig::default().validate(), Ok(()));
}

#[test]
fn a_held_policy_plans_nothing_and_fires_the_waiting_trigger_on_resume() {
    let mut policy = synced_policy();
    // The operator pauses (or halts): a large win must not plan.
    assert!(
        policy
            .process(PolicyInput::Hold { held: true, at: T0 })
            .is_none()
    );
    assert_eq!(policy.readiness(), Readiness::Held);
    assert!(
        policy
            .process(win(2, dec!(300), after_win(dec!(300))))
            .is_none()
    );
    // Neither does the daily check nor a resync while held.
    assert!(
        policy
            .process(PolicyInput::Snapshot {
                snapshot: snapshot(after_win(dec!(300)), Some(2)),
                at: T0,
                resync: true,
                tick: true,
            })
            .is_none()
    );
    // Holding again changes nothing; resuming fires the most urgent waiting trigger.
    assert!(
        policy
            .process(PolicyInput::Hold { held: true, at: T0 })
            .is_none()
    );
    let decision = policy
        .process(PolicyInput::Hold {
            held: false,
            at: T0,
        })
        .expect("the waiting win fires on resume");
    assert_eq!(decision.trigger.name(), "large_win");
    assert_eq!(policy.readiness(), Readiness::InFlight);
}

#[test]
fn a_released_lock_lets_the_remainder_move_at_once() {
    struct TestCase {
        /// Balances right after the release.
        after: [Decimal; 6],
        expected_legs: Option<(Service, Decimal)>,
    }
    let released = |seq: u64, after: [Decimal; 6]| {
        PolicyInput::Event(Arc::new(Observation {
            seq,
            at: T0 + Duration::hours(49),
            snapshot: Some(snapshot(after, Some(seq))),
            what: Happening::FundsReleased {
                service: Service::Casino,
                amount_usdc: dec!(380),
            },
        }))
    };
    let cases = [
        // TC0: the casino still 9.4 points over (the part a plan had to leave locked):
        // its decrease is planned at once, not at the next daily check.
        TestCase {
            after: after_win(dec!(133.84)),
            expected_legs: Some((Service::Casino, dec!(107.07))),
        },
        // TC1: within the bands by then: nothing to do.
        TestCase {
            after: after_win(dec!(20)),
            expected_legs: None,
        },
    ];
    for (i, case) in cases.iter().enumerate() {
        let mut policy = synced_policy();
        let decision = policy.process(released(2, case.after));
        let first = decision.as_ref().map(|d| {
            assert_eq!(d.trigger.name(), "threshold", "TC{i}");
            (d.plan.legs[0].service, d.plan.legs[0].amount_usdc)
        });
        assert_eq!(first, case.expected_legs, "TC{i}");
    }
}
