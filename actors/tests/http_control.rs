//! Story (STYLE promise 11, the kill switch): an operator halts a companion that is in the
//! middle of a rebalance with 100,000 venue events queued ahead of everything in its trading
//! path. No order may reach the venue after the halt is acknowledged — not while the backlog
//! drains, not for a new large win, not after a restart — and a resume trades again.
//!
//! The venue is the simulated one over loopback, with 40 ms of latency on every request, so
//! legs are in flight when the halt lands. The flood is queued where the watcher delivers
//! events (the detector's inbox): a real websocket applies backpressure, so a real flood would
//! queue mostly in sockets; here it is queued where it would delay a control message that
//! travelled with the events. Each queued event is a large win, a trigger in its own right.
//! The halt is sent from another thread, as an operator's shell would, and its latency is
//! printed (measured, not asserted: timing belongs in benchmarks).

#[path = "../../tests/common/mod.rs"]
mod common;
mod http_support;

use std::{
    io::{Read, Write},
    net::TcpStream,
    sync::Arc,
    time::{Duration, Instant},
};

use ballast::{
    observation::{Happening, Observation},
    portfolio::PortfolioSnapshot,
    sim::SimHandle,
    store::Store,
};
use ballast_actors::messages::VenueEvent;
use common::{default_settings, quiet_sim, summary_when};
use http_support::{TOKEN, control, status};
use rust_decimal_macros::dec;

/// Events queued ahead of the halt.
const FLOOD: usize = 100_000;

/// `POST /control/halt` over a plain socket, timed from connect to the whole answer.
fn halt_from_a_shell(addr: &str) -> (String, Instant, Duration) {
    let body = r#"{"reason":"flood drill","by":"operator"}"#;
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).expect("API reachable");
    write!(
        stream,
        "POST /control/halt HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("request written");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("answer read");
    let acknowledged = Instant::now();
    (response, acknowledged, acknowledged - started)
}

/// POSTs of legs the venue has received so far (applied or not).
fn rebalance_posts(sim: &SimHandle) -> u64 {
    sim.stats()
        .requests_by_endpoint
        .iter()
        .filter(|(endpoint, _)| endpoint.starts_with("POST") && endpoint.ends_with("/rebalance"))
        .map(|(_, n)| *n)
        .sum()
}

#[actix_rt::test]
async fn a_halt_under_a_100k_event_flood_stops_every_order_survives_a_restart_and_resume_trades() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("ballast-halt-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("ballast.db");

    // Step 1: a quiet venue, slow to answer, and the companion with its API.
    let sim = quiet_sim().await;
    let (system, base) =
        http_support::start(&sim, default_settings(), Store::open(&path).expect("store")).await;

    // Step 2: a large win starts a five-leg rebalance; wait until its first leg has landed.
    common::rebalance_under_way(&sim, Duration::from_millis(40)).await;

    // Step 3: 100,000 large wins queued in the trading path, then the halt, from a shell.
    let balances = sim.balances();
    let seq = sim.stats().last_seq;
    let flood_event = VenueEvent {
        observation: Arc::new(Observation {
            seq,
            at: sim.now(),
            snapshot: Some(PortfolioSnapshot::new(balances, Some(seq)).expect("valid")),
            what: Happening::CasinoWin {
                amount_usdc: dec!(150),
                stake_usdc: dec!(150),
                multiplier: dec!(2),
            },
        }),
    };
    let inbox = system.detector_events();
    let queued_at = Instant::now();
    for _ in 0..FLOOD {
        inbox.do_send(flood_event.clone());
    }
    let addr = base.trim_start_matches("http://").to_owned();
    let (answer_tx, answer_rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = answer_tx.send(halt_from_a_shell(&addr));
    });
    let (response, acknowledged, latency) = answer_rx.await.expect("the shell answered");
    let posts_at_ack = rebalance_posts(&sim);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains(r#""mode":"halted""#), "{response}");

    // Step 4: the backlog drains (the probe waits behind every queued event).
    let probe = VenueEvent {
        observation: Arc::new(Observation {
            seq,
            at: sim.now(),
            snapshot: None,
            what: Happening::Heartbeat,
        }),
    };
    inbox.send(probe).await.expect("the detector is alive");
    let drained = Instant::now();
    let answer: serde_json::Value =
        serde_json::from_str(response.split("\r\n\r\n").nth(1).expect("a body")).expect("JSON");
    println!(
        "halt in force {:.2} ms after the API received it, the leg POST in flight back at {:.1} ms, \
         acknowledged {:.1} ms after it was sent, with {FLOOD} events queued; the backlog \
         drained {:.1} ms after it was queued ({})",
        answer["effective_ms"].as_f64().expect("effective_ms"),
        answer["settled_ms"].as_f64().expect("settled_ms"),
        latency.as_secs_f64() * 1e3,
        (drained - queued_at).as_secs_f64() * 1e3,
        if acknowledged < drained {
            "the halt was handled before the backlog drained"
        } else {
            "the backlog drained first"
        }
    );

    // Step 5: no order reached the venue after the acknowledgement, during the drain or for a
    // new large win.
    common::win(&sim, dec!(200)).await;
    summary_when(&system, Duration::from_secs(10), "win not seen", |s| {
        s.events_by_type.get("casino_win") == Some(&2)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let late: Vec<_> = sim
        .transfers()
        .into_iter()
        .filter(|t| t.received_at.into_std() > acknowledged)
        .collect();
    assert!(late.is_empty(), "orders after the halt: {late:?}");
    assert_eq!(
        rebalance_posts(&sim),
        posts_at_ack,
        "a leg was sent after the halt"
    );
    let before_restart = sim.transfers().len();
    let halted = status(&base).await;
    assert_eq!(halted["control"]["mode"], "halted");
    assert_eq!(halted["control"]["last_action"]["reason"], "flood drill");
    assert_eq!(halted["control"]["last_action"]["by"], "operator");
    system
        .shutdown(Duration::from_secs(5))
        .await
        .expect("stops");

    // Step 6: a restart on the same store comes back halted, and trades nothing on a win.
    let (system, base) =
        http_support::start(&sim, default_settings(), Store::open(&path).expect("store")).await;
    assert_eq!(status(&base).await["control"]["mode"], "halted");
    common::win(&sim, dec!(250)).await;
    summary_when(&system, Duration::from_secs(10), "win not seen", |s| {
        s.events_by_type.get("casino_win") == Some(&1)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sim.transfers().len(), before_restart, "traded while halted");

    // Step 7: resume trades again: the win that waited is rebalanced.
    let (code, body) = control(&base, "resume", Some(TOKEN), "drill over").await;
    assert_eq!(code, 200, "{body}");
    summary_when(
        &system,
        Duration::from_secs(20),
        "no trade after resume",
        |s| s.legs_applied >= 1,
    )
    .await;
    assert!(sim.transfers().len() > before_restart);
    common::stop(system, sim).await;
    let _ = std::fs::remove_dir_all(&dir);
}
