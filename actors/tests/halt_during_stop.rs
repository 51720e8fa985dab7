//! Story: the operator halts a companion that is stopping gracefully in the middle of a
//! five-leg plan. A graceful stop lets the plan in flight finish, and the HTTP API stays up
//! meanwhile; a halt through it still stops every leg at once: no order reaches the venue once
//! the halt is acknowledged, the legs not sent are recorded as halted (none left pending), and
//! the stop is recorded.
//!
//! The venue is the simulated one over loopback with 300 ms of latency on every request, so
//! the plan is still sending when the stop and the halt land.

#[path = "../../tests/common/mod.rs"]
mod common;
mod http_support;

use std::time::Duration;

use ballast::store::{LegStatus, Store};
use common::{default_settings, quiet_sim};
use http_support::{TOKEN, control};

#[actix_rt::test]
async fn a_halt_during_a_graceful_stop_stops_the_plan_at_once() {
    let sim = quiet_sim().await;
    let store = Store::open_in_memory().expect("store");
    let (system, base) = http_support::start(&sim, default_settings(), store.clone()).await;

    // Step 1: a large win starts a five-leg rebalance; its first leg lands.
    common::rebalance_under_way(&sim, Duration::from_millis(300)).await;

    // Step 2: a graceful stop (room enough to finish the plan), and meanwhile a halt.
    let halt = async {
        let (code, body) = control(&base, "halt", Some(TOKEN), "stop drill").await;
        assert_eq!(code, 200, "{body}");
        // Acknowledged: no POST in flight, none to come.
        sim.transfers().len()
    };
    let (stopped, at_halt) = tokio::join!(system.shutdown(Duration::from_secs(30)), halt);
    let summary = stopped.expect("stops");

    // Step 3: nothing after the halt, the plan unfinished, nothing left pending.
    let transfers = sim.transfers().len();
    assert_eq!(
        transfers, at_halt,
        "an order after the halt was acknowledged"
    );
    let status = store.status().await.expect("status");
    let plan = &status.recent_plans[0];
    assert_eq!(plan.legs.len(), 5, "{plan:?}");
    assert!(
        transfers < 5,
        "the plan finished despite the halt: {summary:?}"
    );
    assert_eq!(summary.legs_applied as usize, transfers, "{summary:?}");
    assert_eq!(status.legs_pending, 0, "{status:?}");
    let halted = plan
        .legs
        .iter()
        .filter(|leg| leg.status == LegStatus::Failed)
        .filter(|leg| {
            status
                .failure_reasons
                .get(&leg.idempotency_key)
                .is_some_and(|reason| reason.contains("halted by the operator"))
        })
        .count();
    assert_eq!(halted, 5 - transfers, "{status:?}");
    assert!(
        status
            .last_run
            .as_ref()
            .is_some_and(|run| run.stopped_at.is_some()),
        "{status:?}"
    );
    sim.shutdown().await;
}
