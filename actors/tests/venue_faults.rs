//! Story: the companion against a venue that loses acknowledgements and drops its event
//! stream in the middle of a rebalance, and a restart that finds legs of unknown outcome.
//!
//! Everything runs over real loopback sockets: the simulated venue on 127.0.0.1:0 and, for
//! the mid-rebalance disconnect, a small TCP proxy written here that can cut the websocket
//! and refuse new ones while REST traffic flows on. No test asserts a duration.

#[path = "../../tests/common/mod.rs"]
mod common;

use common::{builder_at, eventually, quiet_sim, settings_with, stop, summary_when};
use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use ballast::{
    service::Service,
    sim::{FaultConfig, SimHandle},
    store::{LegRecord, LegStatus, PlanRecord, RunRecord, Store, StoreError},
    venue::{
        client::VenueClient,
        protocol::{Direction, RebalanceBody},
    },
};
use ballast_actors::{settings::Validated, system::RunningSystem};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use tokio::{
    net::{TcpListener, TcpStream},
    task::AbortHandle,
};

async fn start(venue_url: &str, validated: Validated, store: Store) -> RunningSystem {
    builder_at(venue_url, validated, store)
        .start()
        .await
        .expect("system starts")
}

/// `(status, transfer_id, error)` of one leg, straight from the store.
async fn leg_row(store: &Store, key: &str) -> (String, Option<String>, Option<String>) {
    let key = key.to_owned();
    store
        .call(move |c| {
            c.query_row(
                "SELECT status, transfer_id, error FROM legs WHERE idempotency_key = ?1",
                [key],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .map_err(StoreError::from)
        })
        .await
        .expect("leg is recorded")
}

fn assert_one_transfer_per_key(sim: &SimHandle) {
    let transfers = sim.transfers();
    let mut keys: Vec<String> = transfers
        .iter()
        .map(|t| t.idempotency_key.clone().expect("every leg carries a key"))
        .collect();
    keys.sort();
    let before = keys.len();
    keys.dedup();
    assert_eq!(keys.len(), before, "a leg was applied twice: {transfers:?}");
}

#[actix_rt::test]
async fn a_lost_ack_is_resolved_by_a_status_query_and_applied_exactly_once() {
    // Step 1: a venue that applies every transfer but never answers, and a companion that
    // gives up on a response after 300 ms and may not retry at all: only the status query
    // can tell it what happened.
    let sim = quiet_sim().await;
    let store = Store::open_in_memory().expect("store");
    let validated = settings_with(&[
        ("BALLAST__VENUE__REQUEST_TIMEOUT_MS", "300"),
        ("BALLAST__EXECUTOR__LEG_RETRY_LIMIT", "0"),
    ]);
    let system = start(&sim.base_url(), validated, store.clone()).await;
    common::wait_synced(&system).await;
    sim.set_faults(FaultConfig {
        lost_ack: 1.0,
        ..FaultConfig::default()
    })
    .expect("valid faults");

    // Step 2: a large win triggers a plan; every leg's acknowledgement is lost.
    common::win(&sim, dec!(176.47)).await;
    let summary = summary_when(
        &system,
        Duration::from_secs(20),
        "plan never finished",
        |s| s.rebalances >= 1,
    )
    .await;

    // Step 3: the venue lost every ack, yet each leg is applied once and counted once.
    let stats = sim.stats();
    let transfers = sim.transfers();
    assert!(!transfers.is_empty());
    assert!(
        stats.faults_injected.get("lost_ack").copied().unwrap_or(0) >= transfers.len() as u64,
        "every applied leg lost its ack: {stats:?}"
    );
    assert_one_transfer_per_key(&sim);
    assert_eq!(summary.legs_failed, 0, "{summary:?}");
    assert_eq!(summary.legs_applied, transfers.len() as u64);
    let moved: Decimal = transfers.iter().map(|t| t.amount_usdc).sum();
    assert_eq!(summary.turnover_usdc, moved);
    for transfer in &transfers {
        let key = transfer.idempotency_key.as_deref().expect("key");
        let (status, transfer_id, _) = leg_row(&store, key).await;
        assert_eq!(status, "applied", "{key}");
        assert_eq!(transfer_id.as_deref(), Some(transfer.transfer_id.as_str()));
    }
    assert!(store.pending_legs().await.expect("reads").is_empty());

    sim.set_faults(FaultConfig::default()).expect("valid");
    stop(system, sim).await;
}

#[actix_rt::test]
async fn a_restart_reconciles_pending_legs_without_resending_them() {
    // Step 1: an earlier run recorded a plan with two legs and died: the first reached the
    // venue (we send it here under its key), the second never left the machine.
    let sim = quiet_sim().await;
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("ballast-reconcile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("ballast.db");
    let store = Store::open(&path).expect("store");
    let now = time::OffsetDateTime::now_utc();
    store
        .start_run(RunRecord {
            run_id: "old-run".into(),
            started_at: now,
            stopped_at: None,
            venue: sim.base_url(),
            dry_run: false,
        })
        .await
        .expect("run recorded");
    let leg = |index: u32, service, direction, amount_usdc| LegRecord {
        idempotency_key: format!("old-run:1:{index}"),
        leg_index: index,
        service,
        direction,
        amount_usdc,
        status: LegStatus::Pending,
    };
    store
        .record_plan(PlanRecord {
            plan_id: "old-run:1".into(),
            run_id: "old-run".into(),
            created_at: now,
            trigger: "request".into(),
            reason: "test".into(),
            total_usdc: dec!(1000),
            legs: vec![
                leg(0, Service::Casino, Direction::Decrease, dec!(25)),
                leg(1, Service::Trading, Direction::Increase, dec!(25)),
            ],
        })
        .await
        .expect("plan recorded");
    let client = VenueClient::new(
        &sim.base_url(),
        sim.agent_id(),
        None,
        Duration::from_secs(5),
    )
    .expect("client");
    let applied = client
        .rebalance(
            &RebalanceBody {
                service: Service::Casino,
                direction: Direction::Decrease,
                amount_usdc: dec!(25),
                reason: "test".into(),
            },
            "old-run:1:0",
        )
        .await
        .expect("first leg applied");
    drop(store);

    // Step 2: the companion restarts on the same store.
    let store = Store::open(&path).expect("store reopens");
    let system = start(&sim.base_url(), settings_with(&[]), store.clone()).await;
    assert!(
        eventually(Duration::from_secs(10), async || store
            .pending_legs()
            .await
            .map(|p| p.is_empty())
            .unwrap_or(false))
        .await,
        "pending legs were never reconciled"
    );

    // Step 3: the applied leg is recorded with the venue's transfer id; the lost one is
    // abandoned, not resent. The venue saw exactly one transfer from the old plan.
    let (status, transfer_id, _) = leg_row(&store, "old-run:1:0").await;
    assert_eq!(status, "applied");
    assert_eq!(transfer_id, Some(applied.transfer_id));
    let (status, _, error) = leg_row(&store, "old-run:1:1").await;
    assert_eq!(status, "failed");
    assert!(error.unwrap_or_default().contains("never reached"));
    let old: Vec<_> = sim
        .transfers()
        .into_iter()
        .filter(|t| {
            t.idempotency_key
                .as_deref()
                .is_some_and(|k| k.starts_with("old-run:"))
        })
        .collect();
    assert_eq!(old.len(), 1, "{old:?}");
    assert_one_transfer_per_key(&sim);

    stop(system, sim).await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// A loopback TCP proxy that can cut the venue's websocket and refuse new ones while REST
/// requests pass.
#[derive(Clone)]
struct Proxy {
    addr: std::net::SocketAddr,
    state: Arc<Mutex<ProxyState>>,
}

#[derive(Default)]
struct ProxyState {
    block_streams: bool,
    streams: Vec<AbortHandle>,
    refused: u64,
    fail_portfolio: bool,
    portfolio_failures: u64,
}

impl Proxy {
    async fn start(upstream: std::net::SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let proxy = Proxy {
            addr: listener.local_addr().expect("addr"),
            state: Arc::default(),
        };
        let state = Arc::clone(&proxy.state);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let state = Arc::clone(&state);
                tokio::spawn(async move { forward(client, upstream, state).await });
            }
        });
        proxy
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Cuts every open event stream and refuses new ones until [`Proxy::allow_streams`].
    fn cut_streams(&self) {
        let mut state = self.state.lock().expect("lock");
        state.block_streams = true;
        for stream in state.streams.drain(..) {
            stream.abort();
        }
    }

    fn allow_streams(&self) {
        self.state.lock().expect("lock").block_streams = false;
    }

    fn refused(&self) -> u64 {
        self.state.lock().expect("lock").refused
    }

    /// Answers every portfolio request with 503 (and closes the connection, so each retry
    /// opens a new one that the proxy sees) until switched off.
    fn fail_portfolio(&self, fail: bool) {
        self.state.lock().expect("lock").fail_portfolio = fail;
    }

    fn portfolio_failures(&self) -> u64 {
        self.state.lock().expect("lock").portfolio_failures
    }
}

async fn forward(client: TcpStream, upstream: std::net::SocketAddr, state: Arc<Mutex<ProxyState>>) {
    // Peek at the request line: websocket upgrades go to `/agents/{id}/events`.
    let mut head = [0_u8; 512];
    let mut is_stream = false;
    let mut is_portfolio = false;
    for _ in 0..100 {
        let Ok(n) = client.peek(&mut head).await else {
            return;
        };
        let text = String::from_utf8_lossy(&head[..n]);
        if n == 0 {
            return;
        }
        if text.contains("\r\n") {
            let line = text.lines().next().unwrap_or_default();
            is_stream = line.contains("/events");
            is_portfolio = line.contains("/portfolio");
            break;
        }
        tokio::task::yield_now().await;
    }
    if is_portfolio {
        let fail = {
            let mut state = state.lock().expect("lock");
            if state.fail_portfolio {
                state.portfolio_failures += 1;
            }
            state.fail_portfolio
        };
        if fail {
            use tokio::io::AsyncWriteExt;
            let body = r#"{"code":"unavailable","message":"proxy says no"}"#;
            let reply = format!(
                "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let mut client = client;
            let _ = client.write_all(reply.as_bytes()).await;
            let _ = client.shutdown().await;
            return;
        }
    }
    let task = tokio::spawn(async move {
        let mut client = client;
        let Ok(mut server) = TcpStream::connect(upstream).await else {
            return;
        };
        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
    });
    if is_stream {
        let mut state = state.lock().expect("lock");
        if state.block_streams {
            state.refused += 1;
            task.abort();
        } else {
            state.streams.push(task.abort_handle());
        }
    }
}

#[actix_rt::test]
async fn a_disconnect_mid_rebalance_stops_orders_until_a_fresh_snapshot() {
    // Step 1: every venue response takes 300 ms, so a plan's legs are spread out in time;
    // the companion reaches the venue through the proxy.
    let sim = quiet_sim().await;
    let proxy = Proxy::start(sim.addr()).await;
    let store = Store::open_in_memory().expect("store");
    let system = start(&proxy.url(), settings_with(&[]), store).await;
    common::wait_synced(&system).await;
    sim.set_faults(FaultConfig {
        latency: Duration::from_millis(300),
        ..FaultConfig::default()
    })
    .expect("valid faults");

    // Step 2: a large win starts a multi-leg plan. Once the first leg is applied (the next
    // is then inside the venue's latency), the event stream is cut and kept down.
    let mut applied = sim.subscribe_transfers();
    common::win(&sim, dec!(176.47)).await;
    tokio::time::timeout(Duration::from_secs(10), applied.recv())
        .await
        .expect("first leg applied in time")
        .expect("transfer channel open");
    tokio::time::sleep(Duration::from_millis(100)).await;
    proxy.cut_streams();
    let cut_at = tokio::time::Instant::now();

    // Step 3: while the stream cannot come back, the plan stops at its next leg and no
    // order reaches the venue (the leg already inside the venue's latency may land: it was
    // sent before the cut).
    let refused = eventually(Duration::from_secs(10), async || proxy.refused() >= 2).await;
    assert!(refused, "the companion never tried to reconnect");
    summary_when(
        &system,
        Duration::from_secs(10),
        "the rest of the plan was not skipped",
        |s| s.legs_failed >= 1,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = sim
        .transfers()
        .into_iter()
        .filter(|t| t.received_at > cut_at)
        .count();
    assert_eq!(during, 0, "orders sent while the stream was down");
    let before_resync = sim.transfers().len();

    // Step 4: the stream comes back; after a fresh snapshot, trading resumes and the
    // portfolio returns to its bands.
    proxy.allow_streams();
    sim.set_faults(FaultConfig::default()).expect("valid");
    let resumed = eventually(Duration::from_secs(20), async || {
        sim.transfers().len() > before_resync
    })
    .await;
    assert!(resumed, "trading never resumed after the resync");
    let validated = settings_with(&[]);
    let band = validated.policy.bands.absolute;
    let in_band = eventually(Duration::from_secs(20), async || {
        let balances = sim.balances();
        let total: Decimal = balances.values().copied().sum();
        Service::ALL
            .iter()
            .all(|s| (balances[*s] / total - validated.targets.weight(*s)).abs() <= band)
    })
    .await;
    assert!(in_band, "not back in band: {:?}", sim.balances());
    assert_one_transfer_per_key(&sim);

    stop(system, sim).await;
}

#[actix_rt::test]
async fn a_failed_resync_is_retried_until_trading_can_resume() {
    // Step 1: the stream connects, but every portfolio request fails: the companion must
    // neither trade nor give up.
    let sim = quiet_sim().await;
    let proxy = Proxy::start(sim.addr()).await;
    proxy.fail_portfolio(true);
    let system = start(
        &proxy.url(),
        settings_with(&[]),
        Store::open_in_memory().expect("store"),
    )
    .await;
    assert!(
        eventually(Duration::from_secs(10), async || proxy.portfolio_failures()
            >= 3)
        .await,
        "the resync was not retried"
    );
    let summary = system.summary().await.expect("summary");
    assert!(summary.final_balances_usdc.is_none(), "{summary:?}");
    common::win(&sim, dec!(176.47)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(sim.transfers().is_empty(), "traded without a snapshot");

    // Step 2: the venue recovers; the next retry syncs on the same connection, and the win
    // deferred while stale is rebalanced.
    proxy.fail_portfolio(false);
    let summary = summary_when(&system, Duration::from_secs(20), "never rebalanced", |s| {
        s.rebalances >= 1
    })
    .await;
    assert_eq!(
        summary.connections, 1,
        "no reconnect was needed: {summary:?}"
    );
    assert!(!sim.transfers().is_empty());

    stop(system, sim).await;
}

#[actix_rt::test]
async fn the_optimizer_waits_for_a_fresh_snapshot_before_solving() {
    use ballast_actors::messages::{GetOptimizerStats, RecomputeTargets};

    // Step 1: an estimating optimizer, synced; its start-up solve completes.
    let sim = quiet_sim().await;
    let proxy = Proxy::start(sim.addr()).await;
    let validated = settings_with(&[
        ("BALLAST__OPTIMIZER__METHOD", "min-variance"),
        ("BALLAST__OPTIMIZER__MIN_INTERVAL_SECS", "0"),
    ]);
    let system = start(
        &proxy.url(),
        validated,
        Store::open_in_memory().expect("store"),
    )
    .await;
    let optimizer = system.handles.optimizer.clone();
    let solves = async || {
        optimizer
            .send(GetOptimizerStats)
            .await
            .expect("stats")
            .solves
    };
    assert!(
        eventually(Duration::from_secs(10), async || solves().await >= 1).await,
        "no start-up solve"
    );
    let before = solves().await;

    // Step 2: the stream is cut and kept down; a requested recompute does not start.
    proxy.cut_streams();
    assert!(eventually(Duration::from_secs(10), async || proxy.refused() >= 1).await);
    optimizer.do_send(RecomputeTargets {
        reason: "operator".into(),
    });
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(solves().await, before, "solved on a stale view");

    // Step 3: after the resync it runs.
    proxy.allow_streams();
    assert!(
        eventually(Duration::from_secs(20), async || solves().await > before).await,
        "the held recompute never ran"
    );
    stop(system, sim).await;
}

#[actix_rt::test]
async fn dry_run_plans_and_records_but_never_mutates_the_venue() {
    let sim = quiet_sim().await;
    let store = Store::open_in_memory().expect("store");
    let validated = settings_with(&[("BALLAST__EXECUTOR__DRY_RUN", "true")]);
    let system = start(&sim.base_url(), validated, store.clone()).await;
    common::wait_synced(&system).await;
    common::win(&sim, dec!(176.47)).await;
    let summary = summary_when(&system, Duration::from_secs(10), "no dry-run plan", |s| {
        s.legs_dry_run >= 1
    })
    .await;
    assert_eq!(summary.legs_applied, 0);
    let stats = sim.stats();
    let mutating: Vec<_> = stats
        .requests_by_endpoint
        .keys()
        .filter(|endpoint| !endpoint.starts_with("GET"))
        .collect();
    assert!(mutating.is_empty(), "dry run sent {mutating:?}");
    assert!(sim.transfers().is_empty());
    let status = store.status().await.expect("status");
    assert_eq!(
        status.legs_dry_run, summary.legs_dry_run,
        "every leg is recorded"
    );
    assert_eq!(status.legs_applied + status.legs_pending, 0);
    stop(system, sim).await;
}

#[actix_rt::test]
async fn the_daily_sync_alerts_on_balances_the_venue_changed_without_an_event() {
    use ballast_actors::{clock::TimeSource, metrics::Console, system::SystemBuilder};

    // The companion's clock runs a simulated day per real second, so daily ticks come fast.
    let sim = quiet_sim().await;
    let system = SystemBuilder::new(
        settings_with(&[]),
        &sim.base_url(),
        None,
        TimeSource::scaled(sim.now(), 86_400.0),
        Store::open_in_memory().expect("store"),
        Console::Off,
    )
    .start()
    .await
    .expect("starts");
    common::wait_synced(&system).await;

    // Step 1: an announced change (a small win, with its event) is no surprise at the tick.
    common::win(&sim, dec!(30)).await;
    let summary = summary_when(&system, Duration::from_secs(10), "no tick", |s| {
        s.ticks >= 1
    })
    .await;
    assert_eq!(summary.balance_alerts, 0, "{summary:?}");

    // Step 2: the venue credits $50 to the casino and announces nothing.
    let ticks = summary.ticks;
    sim.adjust_unannounced(Service::Casino, dec!(50))
        .expect("adjusts");
    let summary = summary_when(&system, Duration::from_secs(10), "no alert", |s| {
        s.balance_alerts >= 1 && s.ticks > ticks
    })
    .await;
    assert_eq!(summary.balance_alerts, 1, "{summary:?}");
    // The venue's balances were adopted: at 280 of 1,080 the casino is 5.9 points over its
    // target (it was 2.3 before the unannounced credit), so the tick rebalances it.
    let summary = summary_when(&system, Duration::from_secs(10), "no tick rebalance", |s| {
        s.rebalances_by_trigger.get("tick").copied().unwrap_or(0) >= 1
    })
    .await;
    assert_eq!(summary.balance_alerts, 1, "{summary:?}");
    stop(system, sim).await;
}
