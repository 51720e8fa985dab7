//! The simulated venue's event stream over a real loopback websocket: replay and resume
//! from `since`, live frames with the portfolio, transfers announced, heartbeats, clean
//! shutdown, websocket faults, and background activity under virtual time.

mod sim_support;

use std::time::Duration;

use ballast::{
    service::Service,
    sim::{FaultConfig, Injection, SimConfig},
    venue::protocol::{EventFrame, EventKind},
};
use futures_util::StreamExt;
use rust_decimal_macros::dec;
use serde_json::json;
use sim_support::{
    client, connect, even_money_win, next_event, next_text, post_json, quiet, start,
};
use tokio_tungstenite::tungstenite::{Message, protocol::frame::coding::CloseCode};

#[tokio::test]
async fn resumes_after_since_then_goes_live() {
    let sim = start(quiet()).await;

    // Step 1: five events before anyone listens.
    for amount in 1..=5 {
        sim.inject(Injection::ReferralIncome {
            amount_usdc: rust_decimal::Decimal::from(amount),
            source_service: Service::Casino,
        })
        .await
        .expect("applies");
    }

    // Step 2: a client that has processed up to seq 2 gets 3, 4, 5 replayed, in order,
    // each with the portfolio as of that event.
    let mut ws = connect(&sim, 2).await;
    for expected_seq in 3..=5 {
        let frame = next_event(&mut ws).await;
        assert_eq!(frame.seq, expected_seq);
        let portfolio = frame.portfolio.expect("portfolio");
        assert_eq!(portfolio.seq, Some(expected_seq));
        // Referrals of 1..=seq have landed in the reserve.
        let paid: u64 = (1..=expected_seq).sum();
        assert_eq!(
            portfolio.available_balance,
            dec!(100) + rust_decimal::Decimal::from(paid)
        );
    }

    // Step 3: the next event arrives live, exactly once.
    let injected = sim
        .inject(Injection::CasinoWin {
            amount_usdc: dec!(150),
        })
        .await
        .expect("applies");
    let live = next_event(&mut ws).await;
    assert_eq!(live, injected);
    assert_eq!(live.seq, 6);
    assert_eq!(live.kind, even_money_win(dec!(150)));
    assert_eq!(live.portfolio.expect("portfolio").casino_balance, dec!(350));

    // Step 4: a client already up to date gets nothing replayed, only the next event.
    let mut fresh = connect(&sim, 6).await;
    sim.inject(Injection::DomainsIncome {
        amount_usdc: dec!(1.25),
    })
    .await
    .expect("applies");
    assert_eq!(next_event(&mut fresh).await.seq, 7);
    assert_eq!(next_event(&mut ws).await.seq, 7);
    sim.shutdown().await;
}

#[tokio::test]
async fn rebalances_are_announced_and_shutdown_closes_the_stream() {
    let sim = start(quiet()).await;
    let mut ws = connect(&sim, 0).await;
    let response = post_json(
        &client(),
        format!("{}/agents/agent-1/rebalance", sim.base_url()),
        &json!({"service":"wallet","direction":"decrease","amount_usdc":12.34,"reason":"drift"}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let frame = next_event(&mut ws).await;
    match frame.kind {
        EventKind::Transfer {
            service,
            amount_usdc,
            ..
        } => {
            assert_eq!(service, Service::Wallet);
            assert_eq!(amount_usdc, dec!(12.34));
        }
        other => panic!("expected a transfer, got {other:?}"),
    }
    assert_eq!(sim.transfers()[0].seq, frame.seq);

    // Shutdown sends a close frame (1001, going away) and returns.
    let closing = tokio::spawn(sim.clone().shutdown());
    let mut close_code = None;
    while let Some(message) = ws.next().await {
        if let Ok(Message::Close(Some(close))) = message {
            close_code = Some(close.code);
            break;
        }
    }
    assert_eq!(close_code, Some(CloseCode::Away));
    closing.await.expect("shutdown completes");
}

#[tokio::test]
async fn idle_connections_get_heartbeats() {
    let sim = start(quiet()).await;
    let mut ws = connect(&sim, 0).await;
    let text = tokio::time::timeout(Duration::from_secs(30), next_text(&mut ws))
        .await
        .expect("a heartbeat arrives")
        .expect("stream open");
    let frame = EventFrame::decode(&text).expect("decodes");
    assert_eq!(frame.kind, EventKind::Heartbeat);
    assert_eq!(frame.seq, 0);
    assert!(frame.portfolio.is_none());
    sim.shutdown().await;
}

#[tokio::test]
async fn websocket_faults_duplicate_malform_and_drop() {
    // Step 1: every frame duplicated and preceded by a malformed one; a careful client
    // decoding, rejecting bad frames and dropping seq it has seen gets each event once.
    let sim = start(SimConfig {
        faults: "duplicate=1,malformed=1"
            .parse::<FaultConfig>()
            .expect("spec"),
        ..quiet()
    })
    .await;
    let mut ws = connect(&sim, 0).await;
    for _ in 0..3 {
        sim.inject(Injection::CasinoLoss {
            amount_usdc: dec!(1),
        })
        .await
        .expect("applies");
    }
    let (mut seen, mut bad, mut duplicates, mut last_seq) = (Vec::new(), 0, 0, 0);
    while seen.len() < 3 {
        let text = next_text(&mut ws).await.expect("stream open");
        match EventFrame::decode(&text) {
            Err(_) => bad += 1,
            Ok(frame) if frame.kind == EventKind::Heartbeat => {}
            Ok(frame) if frame.seq <= last_seq => duplicates += 1,
            Ok(frame) => {
                last_seq = frame.seq;
                seen.push(frame.seq);
            }
        }
    }
    assert_eq!(seen, [1, 2, 3]);
    assert!(bad + duplicates >= 5, "bad {bad}, duplicates {duplicates}");
    let stats = sim.stats();
    assert_eq!(stats.faults_injected["duplicate"], 3);
    assert_eq!(stats.faults_injected["malformed"], 3);
    sim.shutdown().await;

    // Step 2: drop_ws=1 closes the socket without a close frame at the first event.
    let sim = start(SimConfig {
        faults: "drop_ws=1".parse::<FaultConfig>().expect("spec"),
        ..quiet()
    })
    .await;
    let mut ws = connect(&sim, 0).await;
    sim.inject(Injection::CasinoLoss {
        amount_usdc: dec!(1),
    })
    .await
    .expect("applies");
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                let frame = EventFrame::decode(text.as_str()).expect("decodes");
                assert_eq!(frame.kind, EventKind::Heartbeat, "no event before the drop");
            }
            Some(Ok(Message::Close(_))) => panic!("a dropped socket sends no close frame"),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => break,
        }
    }
    sim.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn activity_follows_virtual_time_and_keeps_the_books_exact() {
    let cfg = SimConfig::default();
    let start_time = cfg.start;
    let sim = start(cfg).await;
    let mut events = sim.subscribe_events();

    // Ten virtual seconds at 6 simulated hours per second: 60 simulated hours.
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(sim.now(), start_time + time::Duration::hours(60));

    let stats = sim.stats();
    assert!(stats.last_seq >= 60, "only {} events", stats.last_seq);
    assert!(stats.accounting.ok, "{:?}", stats.accounting);
    // Events arrived in seq order, each with its own portfolio.
    let mut last = 0;
    while let Ok(frame) = events.try_recv() {
        assert_eq!(frame.seq, last + 1);
        assert_eq!(frame.portfolio.and_then(|p| p.seq), Some(frame.seq));
        last = frame.seq;
    }
    assert_eq!(last, stats.last_seq);
    sim.shutdown().await;
}
