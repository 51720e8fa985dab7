//! The Notifier's unit tests: the alerts it raises from events, its stream-down timer, and
//! the webhook URL kept out of its Debug output.

use std::sync::{Arc, Mutex};

use actix::{Actor, Context, Handler};
use ballast::alerting::AlertKind;

use super::*;

/// Stands in for the bus: keeps the alerts the Notifier raises.
struct Collect(Arc<Mutex<Vec<AlertKind>>>);

impl Actor for Collect {
    type Context = Context<Self>;
}

impl Handler<Event> for Collect {
    type Result = ();

    fn handle(&mut self, event: Event, _ctx: &mut Context<Self>) {
        if let Event::Alert(alert) = event {
            self.0.lock().expect("lock").push(alert.kind);
        }
    }
}

fn config() -> NotifyConfig {
    NotifyConfig {
        webhook_url: None,
        command: None,
        min_severity: Severity::Warning,
        max_attempts: 1,
        backoff: Backoff::default(),
        timeout: Duration::from_secs(1),
        queue_capacity: 4,
        leg_failures: 3,
        stream_down: Duration::from_secs(60),
    }
}

#[actix_rt::test]
async fn a_stream_down_longer_than_the_threshold_raises_one_alert() {
    struct TestCase {
        reconnect_after: Option<Duration>,
        expected: Vec<AlertKind>,
    }
    let cases = [
        // TC0: still down after 60 s: one alert, however long it stays down.
        TestCase {
            reconnect_after: None,
            expected: vec![AlertKind::StreamDown],
        },
        // TC1: back after 30 s: nothing.
        TestCase {
            reconnect_after: Some(Duration::from_secs(30)),
            expected: vec![],
        },
    ];
    tokio::time::pause();
    for (i, case) in cases.iter().enumerate() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let bus = Collect(seen.clone()).start();
        let store = Store::open_in_memory().expect("store");
        let notifier = Notifier::new(
            config(),
            store,
            TimeSource::Wall,
            "r1".into(),
            bus.recipient(),
        )
        .start();
        let down = StreamStatus::Reconnecting {
            reason: "socket closed".into(),
        };
        notifier.do_send(Event::Stream(down.clone()));
        // A second loss report during the same outage starts no second timer.
        notifier.do_send(Event::Stream(down));
        if let Some(after) = case.reconnect_after {
            tokio::time::sleep(after).await;
            notifier.do_send(Event::Stream(StreamStatus::Connected {
                since: 0,
                connection: 2,
            }));
        }
        tokio::time::sleep(Duration::from_secs(600)).await;
        assert_eq!(*seen.lock().expect("lock"), case.expected, "TC{i}");
    }
}

#[actix_rt::test]
async fn events_raise_their_alerts() {
    use ballast::{
        control::{ControlRecord, Mode},
        execution::PlanId,
        optimizer::OptimizerMethod,
        portfolio::UnexplainedChange,
        risk::RiskRefusal,
        service::{Direction, Service},
    };
    use rust_decimal_macros::dec;

    use ballast::policy::plausibility::{Jump, JumpKind};

    use ballast::tax::{HarvestDecision, RefusedBy, WashBlock, wash::WashSide};

    use crate::messages::{
        BalanceMismatch, ControlApplied, HarvestDecided, ImplausibleChange, PlanDropped,
        PlanRefused, ReplyMismatched, SnapshotSource, TargetsRefused, TradeFailed,
        WashSaleBuyPrevented,
    };
    let seen = Arc::new(Mutex::new(Vec::new()));
    let bus = Collect(seen.clone()).start();
    let notifier = Notifier::new(
        config(),
        Store::open_in_memory().expect("store"),
        TimeSource::Wall,
        "r1".into(),
        bus.recipient(),
    )
    .start();
    let now = time::OffsetDateTime::now_utc();
    notifier.do_send(Event::Mismatch(BalanceMismatch {
        changes: vec![UnexplainedChange {
            service: Service::Casino,
            held_usdc: dec!(10),
            venue_usdc: dec!(20),
        }],
        seq: 7,
        at: now,
        source: SnapshotSource::Tick,
    }));
    notifier.do_send(Event::TargetsRefused(TargetsRefused {
        method: OptimizerMethod::RiskParity,
        reason: "daily tick".into(),
        kind: "out_of_bounds",
        error: "weight of casino is 0.9".into(),
        refusals: 1,
    }));
    let plan_id = PlanId::legacy("r1", 1);
    // `(leg, attempts, superseded)`: a superseded leg is its own alert, not a failure.
    for (leg, attempts, superseded) in [
        (0, 1, false),
        (1, 0, false),
        (2, 2, false),
        (3, 1, true),
        (4, 1, false),
    ] {
        notifier.do_send(Event::Failed(TradeFailed {
            plan_id: plan_id.clone(),
            idempotency_key: plan_id.leg(leg),
            service: Service::Casino,
            direction: Direction::Decrease,
            amount_usdc: dec!(5),
            reason: "HTTP 500".into(),
            attempts,
            superseded,
        }));
    }
    notifier.do_send(Event::Refused(PlanRefused {
        plan_id: PlanId::legacy("r1", 2),
        refusals: vec![RiskRefusal::LegTooLarge {
            index: 0,
            amount_usdc: dec!(600),
            limit_usdc: dec!(500),
        }],
    }));
    // A pause notifies nobody; a halt does.
    for (command, mode) in [
        (Command::Pause, Mode::Paused),
        (Command::Halt, Mode::Halted),
    ] {
        notifier.do_send(Event::Control(ControlApplied {
            record: ControlRecord {
                at: now,
                command,
                previous: Mode::Running,
                mode,
                by: "ops".into(),
                reason: "maintenance".into(),
            },
        }));
    }
    // A held jump notifies nobody; one a fresh snapshot contradicts does.
    let jump = Jump {
        kind: JumpKind::Total,
        seq: Some(9),
        held_usdc: dec!(1000),
        reported_usdc: dec!(800000000000000),
        factor: dec!(10),
    };
    for notice in [
        PlausibilityNotice::Held { jump: jump.clone() },
        PlausibilityNotice::Unconfirmed {
            jump,
            fresh_usdc: dec!(1000),
            dropped: Some("casino win".into()),
        },
    ] {
        notifier.do_send(Event::Implausible(ImplausibleChange { notice, at: now }));
    }
    // The reliability events: a renumbering, a reply describing another transfer, and a plan
    // the store could not record (one an earlier run planned is no news).
    notifier.do_send(Event::Stream(StreamStatus::Renumbered {
        cursor: 90,
        venue_seq: 3,
        epoch: 1,
    }));
    notifier.do_send(Event::ReplyAlert(ReplyMismatched {
        mismatch: ballast::execution::ReplyMismatch {
            key: "r1:3:0".into(),
            mismatches: vec![ballast::execution::reply::Mismatch::Amount {
                requested_usdc: dec!(5),
                replied_usdc: dec!(5000),
            }],
        },
        at: now,
    }));
    for why in [
        DropReason::AlreadyPlanned,
        DropReason::NotRecorded {
            error: "disk full".into(),
        },
    ] {
        notifier.do_send(Event::Dropped(PlanDropped {
            plan_id: PlanId::legacy("r1", 4),
            trigger: ballast::policy::Trigger::Threshold { seq: 9 },
            why,
        }));
    }
    // A harvest the operator's pause held notifies nobody; one a risk limit or the venue
    // refused does, and so does a wallet buy the wash-sale rule refused.
    let decision = |by: RefusedBy| HarvestDecision {
        at: now,
        asset: "BTC".into(),
        lot_ids: vec!["l1".into()],
        quantity: dec!(0.01),
        price_usdc: dec!(80000),
        cost_basis_usdc: dec!(900),
        proceeds_usdc: dec!(799.2),
        loss_usdc: dec!(100.8),
        tax_value_usdc: dec!(24.19),
        trade_cost_usdc: dec!(1.6),
        holding_cost_usdc: dec!(8),
        substitute: Some("ETH".into()),
        substitute_price_usdc: Some(dec!(3000)),
        blocked_substitutes: Vec::new(),
        outcome: HarvestOutcome::Refused {
            by,
            reason: "refused: risk.max_leg_usdc".into(),
        },
    };
    for by in [RefusedBy::Operator, RefusedBy::RiskLimit, RefusedBy::Venue] {
        notifier.do_send(Event::HarvestDecided(HarvestDecided {
            decision: Arc::new(decision(by)),
            harvest_id: None,
            dry_run: false,
        }));
    }
    notifier.do_send(Event::WashBuyPrevented(WashSaleBuyPrevented {
        block: WashBlock {
            asset: "BTC".into(),
            side: WashSide::SoldAtLoss,
            since: now,
            until: now + time::Duration::days(30),
        },
        reason: "test".into(),
    }));
    // Let the notifier publish and the stand-in bus take what it raised.
    for _ in 0..1_000 {
        if seen.lock().expect("lock").len() >= 13 {
            break;
        }
        actix_rt::task::yield_now().await;
    }
    actix_rt::task::yield_now().await;
    let raised = seen.lock().expect("lock").clone();
    assert_eq!(
        raised,
        vec![
            AlertKind::BalanceMismatch,
            AlertKind::TargetsRefused,
            AlertKind::LegSuperseded,
            // Three sent legs failed in a row (the skipped and the superseded ones do not
            // count).
            AlertKind::LegFailures,
            AlertKind::RiskRefused,
            AlertKind::Halt,
            AlertKind::JumpUnconfirmed,
            AlertKind::NumberingReset,
            AlertKind::ReplyMismatch,
            AlertKind::PlanNotRecorded,
            AlertKind::HarvestRefused,
            AlertKind::HarvestRefused,
            AlertKind::WashBuyPrevented,
        ]
    );
}

#[test]
fn webhook_urls_are_shown_by_host_only() {
    assert_eq!(
        redact_url("https://hooks.example.com/services/T000/B000/XXXXSECRET"),
        "https://hooks.example.com/…"
    );
    assert_eq!(redact_url("not a url"), "(not a URL)");
    let shown = format!(
        "{:?}",
        NotifyConfig {
            webhook_url: Some("https://hooks.example.com/secret-token".into()),
            ..config()
        }
    );
    assert!(!shown.contains("secret-token"), "{shown}");
}
