//! Event-to-order latency: from the simulated venue emitting a large-win event to the
//! venue receiving the first resulting POST, through real loopback sockets, the actors and
//! a durable SQLite store (WAL, synchronous=FULL) on disk.
//!
//! Run: `cargo bench -p ballast-actors --bench event_to_order` (release profile).
//! Optional: `EVENTS=2000` to change the number of events (default 1,000).
//!
//! Each round resets the venue to the target allocation (a `balance` event), waits for the
//! companion to see it, then injects a casino win of 15% of the bankroll and measures the
//! time until the venue records the first transfer of the resulting plan. The clock starts
//! just before the injection call, so the figure is an upper bound on emit-to-POST.

use std::time::{Duration, Instant};

use actix::{Actor, Context, Handler};
use ballast::{
    service::ServiceMap,
    sim::{Injection, SimConfig},
    store::Store,
};
use ballast_actors::{
    clock::TimeSource, messages::Event, metrics::Console, settings::Settings, system::SystemBuilder,
};
use rust_decimal::Decimal;
use tokio::sync::mpsc;

/// Forwards plan completions and balance events to the bench loop.
struct Probe(mpsc::UnboundedSender<Probed>);

enum Probed {
    Finished,
    Seq(u64),
}

impl Actor for Probe {
    type Context = Context<Self>;
}

impl Handler<Event> for Probe {
    type Result = ();

    fn handle(&mut self, event: Event, _ctx: &mut Self::Context) {
        match event {
            Event::Finished(_) => {
                let _ = self.0.send(Probed::Finished);
            }
            Event::Venue(venue) => {
                let _ = self.0.send(Probed::Seq(venue.observation.seq));
            }
            _ => {}
        }
    }
}

fn main() -> anyhow::Result<()> {
    let events: usize = std::env::var("EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    let dir = std::env::temp_dir().join(format!("ballast-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let db_path = dir.join("bench.db");
    let result = actix_rt::System::new().block_on(run(events, &db_path));
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run(events: usize, db_path: &std::path::Path) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let sim = ballast::sim::start(
        SimConfig {
            autoplay: false,
            speed: 1.0,
            ..SimConfig::default()
        },
        listener,
    )
    .await?;
    // A thousand large wins in one UTC day would trip the daily turnover cap (twice the
    // portfolio) after a few rounds; the bench measures latency, so that one limit is off.
    let env = [(
        "BALLAST__RISK__MAX_DAILY_TURNOVER_FRACTION".to_owned(),
        "0".to_owned(),
    )];
    let mut validated = Settings::load_with_env(&[], env)?.validate()?;
    // Only the post-win trigger matters here; keep the calendar floor out of the way.
    validated.policy.calendar_floor_days = None;
    let (probe_tx, mut probe_rx) = mpsc::unbounded_channel();
    let system = SystemBuilder::new(
        validated,
        &sim.base_url(),
        None,
        TimeSource::Wall,
        Store::open(db_path)?,
        Console::Off,
    )
    .add_actor(move |_| Some(Probe(probe_tx).start().recipient()))
    .start()
    .await?;
    // Wait for the start-up resync.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let on_target = ServiceMap([200, 300, 150, 150, 100, 100].map(Decimal::from));
    let mut transfers = sim.subscribe_transfers();
    let mut latencies_us: Vec<f64> = Vec::with_capacity(events);
    for round in 0..events {
        // Reset to target and wait until the companion has seen the reset event.
        let reset = sim
            .inject(Injection::Balance {
                balances_usdc: on_target,
            })
            .await?;
        wait_for_seq(&mut probe_rx, reset.seq).await?;
        while transfers.try_recv().is_ok() {}
        let started = Instant::now();
        sim.inject(Injection::CasinoWin {
            amount_usdc: Decimal::from(150),
        })
        .await?;
        let first = tokio::time::timeout(Duration::from_secs(5), transfers.recv())
            .await
            .map_err(|_| anyhow::anyhow!("round {round}: no order within 5 s"))??;
        let latency = first
            .received_at
            .into_std()
            .saturating_duration_since(started);
        latencies_us.push(latency.as_secs_f64() * 1e6);
        // Let the plan finish before the next round.
        tokio::time::timeout(Duration::from_secs(5), async {
            while let Some(item) = probe_rx.recv().await {
                if matches!(item, Probed::Finished) {
                    break;
                }
            }
        })
        .await
        .map_err(|_| anyhow::anyhow!("round {round}: plan did not finish"))?;
    }
    let _ = system.shutdown(Duration::from_secs(5)).await?;
    sim.shutdown().await;
    latencies_us.sort_by(f64::total_cmp);
    let pick = |q: f64| latencies_us[((latencies_us.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "event-to-order latency over {} large-win events (release, loopback, SQLite synchronous=FULL):",
        latencies_us.len()
    );
    println!(
        "  p50 {:.0} us   p90 {:.0} us   p99 {:.0} us   max {:.0} us   (target p99 < 5000 us)",
        pick(0.50),
        pick(0.90),
        pick(0.99),
        pick(1.0)
    );
    Ok(())
}

async fn wait_for_seq(
    probe_rx: &mut mpsc::UnboundedReceiver<Probed>,
    seq: u64,
) -> anyhow::Result<()> {
    tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(item) = probe_rx.recv().await {
            if matches!(item, Probed::Seq(s) if s >= seq) {
                return;
            }
        }
    })
    .await
    .map_err(|_| anyhow::anyhow!("companion never saw event {seq}"))
}
