//! Story (issue 14, item 4; promise 22): plausibility before action.
//!
//! A venue reporting an absurd casino win (8e14 USDC on a $1,000 agent) used to get five
//! orders totalling $1.35e15. Now the jump is held until a fresh REST snapshot settles it:
//! - against a scripted venue whose event stream claims the win while its REST portfolio does
//!   not, nothing is ever sent and the run raises an alert;
//! - against the simulated venue, where the win is real, the plan waits for the confirming
//!   snapshot and is then refused by the relative caps (its casino leg is ~80% of the
//!   portfolio): still nothing is sent;
//! - with a factor low enough to hold an ordinary win, the orders follow the confirming
//!   snapshot, never precede it, and stay within the caps.
//!
//! Everything runs over loopback sockets bound to 127.0.0.1:0; no test asserts a duration.

mod common;

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    extract::{
        State,
        ws::{Message, WebSocket, WebSocketUpgrade},
    },
    response::{IntoResponse, Response},
    routing::{get, post},
};
use ballast::{
    policy::plausibility::PlausibilityNotice,
    portfolio::article_balances_usdc,
    service::Service,
    venue::protocol::{EventFrame, EventKind, PortfolioResponse},
};
use ballast_actors::messages::{Event, SnapshotSource};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use tokio::sync::Notify;

/// The absurd win.
const ABSURD_WIN_USDC: Decimal = dec!(800_000_000_000_000);
const LIMIT: Duration = Duration::from_secs(15);

/// Records the bus in order, as short labels (a [`common::Collector`]'s record).
fn label(seen: &mut Vec<String>, event: Event) {
    let label = match event {
        Event::Implausible(change) => match change.notice {
            PlausibilityNotice::Held { .. } => "held".to_owned(),
            PlausibilityNotice::Confirmed { .. } => "confirmed".to_owned(),
            PlausibilityNotice::Unconfirmed { .. } => "unconfirmed".to_owned(),
        },
        Event::Balances(observed) if observed.source == SnapshotSource::Confirm => {
            "confirm snapshot".to_owned()
        }
        Event::Planned(_) => "planned".to_owned(),
        Event::Executed(trade) => format!("executed {}", trade.amount_usdc),
        Event::Failed(failed) => format!("failed: {}", failed.reason),
        Event::Finished(_) => "finished".to_owned(),
        _ => return,
    };
    seen.push(label);
}

/// The bus as recorded so far.
type Seen = Arc<Mutex<Vec<String>>>;

/// A recorder's log and the factory that subscribes it.
fn recorder() -> (
    Seen,
    impl FnOnce(&ballast_actors::system::Handles) -> Option<actix::Recipient<Event>>,
) {
    common::collecting(label)
}

fn position(seen: &[String], prefix: &str) -> Option<usize> {
    seen.iter().position(|s| s.starts_with(prefix))
}

async fn wait_for(seen: &Seen, label: &str) -> Vec<String> {
    let found = common::eventually(LIMIT, async || {
        position(&seen.lock().expect("lock"), label).is_some()
    })
    .await;
    let seen = seen.lock().expect("lock").clone();
    assert!(found, "no `{label}` on the bus: {seen:?}");
    seen
}

/// A scripted venue: its REST portfolio is the article's $1,000 agent at `seq`, whatever its
/// event stream says; its stream sends one absurd win when the test says so; every POST is
/// counted (and refused).
#[derive(Default)]
struct Hostile {
    send_win: Notify,
    /// The last `seq` the stream sent.
    seq: AtomicU64,
    posts: AtomicU32,
}

async fn portfolio(State(venue): State<Arc<Hostile>>) -> Response {
    axum::Json(PortfolioResponse::from_balances(
        &article_balances_usdc(),
        Some(venue.seq.load(Ordering::SeqCst)),
    ))
    .into_response()
}

async fn rebalance(State(venue): State<Arc<Hostile>>) -> Response {
    venue.posts.fetch_add(1, Ordering::SeqCst);
    (
        axum::http::StatusCode::CONFLICT,
        axum::Json(serde_json::json!({"code": "refused", "message": "scripted venue"})),
    )
        .into_response()
}

async fn events(State(venue): State<Arc<Hostile>>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket| stream(venue, socket))
}

async fn stream(venue: Arc<Hostile>, mut socket: WebSocket) {
    let ts = time::macros::datetime!(2026-01-01 05:00 UTC);
    let heartbeat = |seq| EventFrame {
        seq,
        ts,
        kind: EventKind::Heartbeat,
        portfolio: None,
    };
    let mut seq = 0;
    loop {
        tokio::select! {
            () = venue.send_win.notified() => {
                seq = 1;
                venue.seq.store(seq, Ordering::SeqCst);
                let mut claimed = article_balances_usdc();
                claimed[Service::Casino] += ABSURD_WIN_USDC;
                let frame = EventFrame {
                    seq,
                    ts,
                    kind: EventKind::CasinoWin {
                        amount_usdc: ABSURD_WIN_USDC,
                        stake_usdc: dec!(100),
                        multiplier: dec!(8_000_000_000_001),
                    },
                    portfolio: Some(PortfolioResponse::from_balances(&claimed, Some(seq))),
                };
                if socket.send(Message::Text(frame.encode().into())).await.is_err() {
                    return;
                }
            }
            () = tokio::time::sleep(Duration::from_millis(300)) => {
                if socket.send(Message::Text(heartbeat(seq).encode().into())).await.is_err() {
                    return;
                }
            }
        }
    }
}

#[actix_rt::test]
async fn an_absurd_win_the_venues_rest_does_not_confirm_sends_nothing_and_alerts() {
    // Step 1: the scripted venue and the companion with default settings.
    let venue = Arc::new(Hostile::default());
    let app = Router::new()
        .route("/api/v1/agents/{id}/portfolio", get(portfolio))
        .route("/api/v1/agents/{id}/events", get(events))
        .route("/api/v1/agents/{id}/rebalance", post(rebalance))
        .with_state(Arc::clone(&venue));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds loopback");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let (seen, subscribe) = recorder();
    let system = common::start_synced(
        common::builder_at(
            &url,
            common::default_settings(),
            ballast::store::Store::open_in_memory().expect("store"),
        )
        .add_actor(subscribe),
    )
    .await;

    // Step 2: the stream claims an 8e14 win, with balances to match.
    venue.send_win.notify_one();

    // Step 3: the jump is held, the fresh snapshot refutes it, the trigger is dropped.
    let seen = wait_for(&seen, "unconfirmed").await;
    let held = position(&seen, "held").expect("held first");
    let confirm = position(&seen, "confirm snapshot").expect("a snapshot was fetched");
    assert!(held < confirm, "{seen:?}");
    let summary = system.summary().await.expect("summary");
    assert_eq!(
        (summary.jumps_held, summary.jumps_unconfirmed),
        (1, 1),
        "{summary:?}"
    );
    // The companion holds what the REST snapshot says, not what the event claimed.
    let total: Decimal = summary
        .final_balances_usdc
        .expect("balances")
        .values()
        .copied()
        .sum();
    assert_eq!(total, dec!(1000));

    // Step 4: nothing was ever planned or sent.
    assert_eq!(venue.posts.load(Ordering::SeqCst), 0, "{seen:?}");
    assert!(position(&seen, "planned").is_none(), "{seen:?}");
    system
        .shutdown(Duration::from_secs(5))
        .await
        .expect("stops");
    server.abort();
}

#[actix_rt::test]
async fn a_real_absurd_win_waits_for_confirmation_and_the_relative_caps_refuse_it() {
    // Step 1: a quiet simulated venue and the companion with default settings.
    let sim = common::quiet_sim().await;
    let (seen, subscribe) = recorder();
    let system = common::start_synced(
        common::builder(&sim, common::default_settings()).add_actor(subscribe),
    )
    .await;

    // Step 2: the venue's casino really wins 8e14.
    common::win(&sim, ABSURD_WIN_USDC).await;

    // Step 3: held, confirmed by the fresh snapshot, planned only then, and refused by
    // `risk.max_leg_fraction`: the casino leg would move ~80% of the portfolio.
    let seen = wait_for(&seen, "finished").await;
    let confirmed = position(&seen, "confirmed").expect("confirmed");
    let planned = position(&seen, "planned").expect("planned");
    assert!(
        position(&seen, "held") < position(&seen, "confirm snapshot"),
        "{seen:?}"
    );
    assert!(confirmed < planned, "planned before confirmation: {seen:?}");
    assert!(
        seen.iter()
            .filter(|s| s.starts_with("failed"))
            .all(|s| s.contains("risk.max_leg_fraction")),
        "{seen:?}"
    );
    assert!(position(&seen, "executed").is_none(), "{seen:?}");
    assert!(sim.transfers().is_empty(), "the venue applied a transfer");
    common::stop(system, sim).await;
}

#[actix_rt::test]
async fn orders_follow_the_confirming_snapshot_and_stay_within_the_caps() {
    // Step 1: a factor of 1.1 holds even the ordinary large win of the e2e story.
    let sim = common::quiet_sim().await;
    let (seen, subscribe) = recorder();
    let validated = common::settings_with(&[("BALLAST__RISK__MAX_JUMP_FACTOR", "1.1")]);
    let system = common::start_synced(common::builder(&sim, validated).add_actor(subscribe)).await;

    // Step 2: a $176.47 win (17.6% of the bankroll).
    common::win(&sim, dec!(176.47)).await;

    // Step 3: the plan runs, but only after the confirming snapshot.
    let seen = wait_for(&seen, "finished").await;
    let confirm = position(&seen, "confirm snapshot").expect("fetched");
    let confirmed = position(&seen, "confirmed").expect("confirmed");
    let first_order = position(&seen, "executed").expect("orders were sent");
    assert!(
        confirm < confirmed && confirmed < first_order,
        "an order preceded the confirmation: {seen:?}"
    );

    // Step 4: every transfer is within half the portfolio; the day within twice it.
    let total: Decimal = sim.balances().values().copied().sum();
    let transfers = sim.transfers();
    assert!(!transfers.is_empty());
    assert!(
        transfers
            .iter()
            .all(|t| t.amount_usdc <= total / Decimal::TWO)
    );
    let moved: Decimal = transfers.iter().map(|t| t.amount_usdc).sum();
    assert!(moved <= total * Decimal::TWO);
    common::stop(system, sim).await;
}
