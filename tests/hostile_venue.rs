//! Story: a hostile venue answers every transfer with a 200 that describes another transfer
//! (escrow, -$999,999, the same transfer id every time). Before, all five legs were booked as
//! applied and the printed turnover said $4,999,995 while the store said $600. Now each reply
//! is checked against its request: the leg stays unresolved (`pending`), an alert fires, the
//! plan stops, and the printed and stored turnover are the same numbers. Asked again (the
//! status query before the next plan), the venue tells the same story, and the leg stays
//! unresolved.
//!
//! The venue is a small axum server on 127.0.0.1:0 written here: a portfolio off target, a
//! websocket that stays open and silent, and the lying transfer endpoints.

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{
    Json, Router,
    extract::{State, WebSocketUpgrade, ws::WebSocket},
    response::Response,
    routing::{get, post},
};
use ballast::store::Store;
use ballast_actors::messages::RebalanceRequest;
use common::{builder_at, settings_with, start_synced, summary_when};
use rust_decimal::Decimal;
use serde_json::{Value, json};

/// What the hostile venue saw.
#[derive(Default)]
struct Seen {
    posts: AtomicU64,
    status_queries: AtomicU64,
}

/// The same lie for every transfer, and for every question about one.
fn lie() -> Json<Value> {
    Json(json!({
        "transfer_id": "tr-evil",
        "service": "escrow",
        "direction": "decrease",
        "amount_usdc": 999999,
        "status": "applied",
    }))
}

async fn portfolio() -> Json<Value> {
    // Far off the conservative targets: a forced rebalance has five legs.
    Json(json!({
        "casino_balance": 700, "trading_balance": 120, "wallet_balance": 60,
        "domains_balance": 60, "escrow_balance": 30, "available_balance": 30, "seq": 1,
    }))
}

async fn events(upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(|socket: WebSocket| async move {
        // Open and silent; the companion's idle timeout is longer than the test.
        tokio::time::sleep(Duration::from_secs(3_600)).await;
        drop(socket);
    })
}

async fn hostile_venue() -> (String, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let router = Router::new()
        .route("/api/v1/agents/{id}/portfolio", get(portfolio))
        .route("/api/v1/agents/{id}/events", get(events))
        .route(
            "/api/v1/agents/{id}/rebalance",
            post(|State(seen): State<Arc<Seen>>| async move {
                seen.posts.fetch_add(1, Ordering::Relaxed);
                lie()
            }),
        )
        .route(
            "/api/v1/agents/{id}/rebalance/{key}",
            get(|State(seen): State<Arc<Seen>>| async move {
                seen.status_queries.fetch_add(1, Ordering::Relaxed);
                lie()
            }),
        )
        .with_state(Arc::clone(&seen));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, seen)
}

#[actix_rt::test]
async fn a_reply_describing_another_transfer_leaves_the_leg_unresolved_and_alerts() {
    let (url, seen) = hostile_venue().await;
    let store = Store::open_in_memory().expect("store");
    let validated = settings_with(&[("BALLAST__VENUE__IDLE_TIMEOUT_MS", "600000")]);
    let system = start_synced(builder_at(&url, validated, store.clone())).await;

    // Step 1: a rebalance is requested; its first leg is answered with the lie.
    system.handles.requests.do_send(RebalanceRequest {
        reason: "operator".into(),
    });
    let summary = summary_when(&system, Duration::from_secs(10), "no alert", |s| {
        s.reply_alerts >= 1 && s.legs_failed >= 5 && s.alerts_by_kind.contains_key("reply_mismatch")
    })
    .await;

    // Step 2: nothing was booked; the first leg is unresolved, the rest never sent.
    assert_eq!(seen.posts.load(Ordering::Relaxed), 1, "the plan stopped");
    let status = store.status().await.expect("status");
    assert_eq!(status.legs_applied, 0, "{status:?}");
    assert_eq!(status.legs_pending, 1, "{status:?}");
    assert_eq!(status.legs_failed, 4, "{status:?}");
    let reasons: Vec<&String> = status.failure_reasons.values().collect();
    assert!(
        reasons.iter().all(|r| r.contains("skipped: leg 0 failed")),
        "{reasons:?}"
    );
    // Printed and stored turnover are the same numbers.
    assert_eq!(summary.legs_applied, status.legs_applied);
    assert_eq!(summary.turnover_usdc, status.turnover_usdc);
    assert_eq!(summary.turnover_usdc, Decimal::ZERO);

    // Step 3: the next plan first asks about the unresolved leg: the same lie, still
    // unresolved, alerted again, and still nothing booked.
    let queries = seen.status_queries.load(Ordering::Relaxed);
    system.handles.requests.do_send(RebalanceRequest {
        reason: "operator again".into(),
    });
    let summary = summary_when(&system, Duration::from_secs(10), "no second alert", |s| {
        s.reply_alerts >= 3
    })
    .await;
    assert!(seen.status_queries.load(Ordering::Relaxed) > queries);
    let status = store.status().await.expect("status");
    assert_eq!(status.legs_applied, 0, "{status:?}");
    assert_eq!(summary.turnover_usdc, status.turnover_usdc);
    system
        .shutdown(Duration::from_secs(5))
        .await
        .expect("stops");
}
