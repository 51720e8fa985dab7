//! Story: an actor panics. actix does not restart an actor whose handler panicked; it just
//! loses it, and the rest of the system would trade on without it. `contain_panics` reports
//! the panic so `ballast run` stops cleanly instead (an `actor_panicked` alert raised and
//! recorded, the plan in flight finished, the stop recorded); this test drives the same path
//! in-process. Its own test binary: the panic hook
//! is process-wide.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::time::Duration;

use actix::{Actor, Context, Handler};
use ballast::store::Store;
use ballast_actors::{messages::Event, system::contain_panics};
use common::{builder_at, quiet_sim, settings_with, start_synced};
use rust_decimal_macros::dec;

/// A custom actor with a bug: it panics on the first venue event it sees.
struct Buggy;

impl Actor for Buggy {
    type Context = Context<Self>;
}

impl Handler<Event> for Buggy {
    type Result = ();

    fn handle(&mut self, event: Event, _ctx: &mut Self::Context) {
        if matches!(event, Event::Venue(_)) {
            panic!("injected panic in a custom actor");
        }
    }
}

#[actix_rt::test]
async fn a_panicking_actor_stops_the_run_cleanly_with_its_stop_recorded() {
    let mut panics = contain_panics();
    let sim = quiet_sim().await;
    let store = Store::open_in_memory().expect("store");
    let system = start_synced(
        builder_at(&sim.base_url(), settings_with(&[]), store.clone())
            .add_actor(|_| Some(Buggy.start().recipient())),
    )
    .await;
    common::win(&sim, dec!(5)).await;

    // The panic is reported, with its message.
    let panic = tokio::time::timeout(Duration::from_secs(10), panics.recv())
        .await
        .expect("the panic was reported in time")
        .expect("the channel is open");
    assert!(
        panic.contains("injected panic in a custom actor"),
        "{panic}"
    );

    // What `ballast run` does on it: an alert, then a clean stop, both recorded.
    system.panicked(&panic).await;
    system
        .shutdown(Duration::from_secs(5))
        .await
        .expect("stops cleanly");
    let status = store.status().await.expect("status");
    assert!(
        status.last_run.expect("a run").stopped_at.is_some(),
        "the stop was not recorded"
    );
    let alert = status
        .recent_alerts
        .iter()
        .find(|a| a.kind == "actor_panicked")
        .expect("the panic was recorded as an alert");
    assert_eq!(alert.severity, "critical");
    assert!(
        alert.message.contains("injected panic"),
        "{}",
        alert.message
    );
    sim.shutdown().await;
}
