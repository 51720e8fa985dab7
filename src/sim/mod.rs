//! The simulated venue: the Purple Flea protocol over real HTTP and websocket on loopback.
//!
//! It is the venue `ballast run` talks to by default, the `ballast sim` command, and the
//! peer of every end-to-end test and benchmark, so it must be faithful enough to rehearse
//! on. [`start`] serves it on a listener the caller bound (tests bind `127.0.0.1:0`) and
//! spawns the background activity (casino play, income, markets) on the current tokio
//! runtime; the returned [`SimHandle`] reads the clock, the balances and the transfers,
//! injects events and shuts everything down.
//!
//! How the parts fit:
//! - [`state`]: the pure ledger, one [`state::Op`] at a time, with the accounting identity;
//!   [`book`] holds its perp positions and FIFO lots and their arithmetic.
//! - [`markets`]: the assets and perp markets, their parameters, and the seeded model of
//!   mark prices and funding rates.
//! - [`model`]: the agent's own seeded activity (casino, income, escrow deals, marks), one
//!   simulated hour at a time.
//! - [`engine`]: ledger + event log + idempotency + return history + counters, no I/O.
//! - [`faults`]: the fault spec and its seeded dice.
//! - `server` and `ws`: the thin axum layer (routes, auth, faults, the event stream).
//! - [`scenario`]: TOML scripts of injections at simulated times.
//!
//! The clock: simulated time is `start + real elapsed × speed + skipped`, measured with
//! `tokio::time::Instant`, so under `tokio::time::pause()` it follows virtual time and a
//! test can fast-forward days of activity. [`SimHandle::advance`] (and the simulator-only
//! `POST /api/v1/sim/advance`) adds whole hours to `skipped` and runs the hours it jumps
//! over at once: with autoplay off that is the markets alone (marks, funding, limit fills,
//! liquidations) and the day closes, which is how a test steps a quiet venue's markets
//! without any wall-clock wait.
//!
//! # Invariants
//! - Every `/api/v1` route requires `Authorization: Bearer KEY` when a key is configured;
//!   the key is never logged or printed.
//! - Every error response is an [`ErrorBody`](crate::venue::protocol::ErrorBody) JSON.
//! - No balance ever goes negative and the accounting identity holds exactly (see
//!   [`state`]).
//! - Faults are off unless configured, and drawn from their own seeded stream.

pub mod book;
pub mod engine;
pub mod faults;
pub mod inject;
pub mod markets;
pub mod model;
pub mod scenario;
mod server;
pub mod state;
#[cfg(test)]
mod test_support;
mod ws;

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicI64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use rust_decimal::Decimal;
use time::OffsetDateTime;
use tokio::{
    net::TcpListener,
    sync::{Notify, broadcast, watch},
    task::JoinHandle,
    time::Instant,
};

use self::{
    engine::Engine,
    faults::{Fault, FaultDice},
};
pub use self::{
    engine::{AppliedTransfer, MAX_ADVANCE_HOURS, SimStats},
    faults::{FaultConfig, FaultSpecError},
    inject::{InjectRequest, Injection},
    markets::MarketParams,
    model::CasinoParams,
    scenario::Scenario,
    state::{MarketStats, StateError},
};
use crate::{
    secret::ApiKey,
    service::{Service, ServiceMap},
    venue::protocol::{API_BASE, EventFrame},
};

/// Default simulated seconds per real second: 6 simulated hours a second, so a 30-second
/// demo lives through a week of casino play, income and markets.
pub const DEFAULT_SPEED: f64 = 21_600.0;
/// Fastest clock accepted: about 2,800 simulated hours per real second, still well within
/// what one core announces.
pub const MAX_SPEED: f64 = 10_000_000.0;
/// Default seed.
pub const DEFAULT_SEED: u64 = 42;
/// Default agent id.
pub const DEFAULT_AGENT_ID: &str = "agent-1";
/// Capacity of the live frame channel; a websocket that falls this far behind is closed
/// and must resume with `since`.
const FRAME_CHANNEL_CAPACITY: usize = 16_384;
/// Capacity of the applied-transfer channel behind [`SimHandle::subscribe_transfers`].
const TRANSFER_CHANNEL_CAPACITY: usize = 4_096;
/// How long [`SimHandle::shutdown`] waits for websocket sessions to close.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The article's $1,000 agent on its conservative target (20/30/15/15/10/10), USDC: the
/// default starting balances, and the books the simulator's unit tests start from.
pub fn article_balances_usdc() -> ServiceMap<Decimal> {
    ServiceMap([200, 300, 150, 150, 100, 100].map(Decimal::from))
}

/// Everything the simulated venue needs to start.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The one agent the venue serves; other ids get 404.
    pub agent_id: String,
    /// Seed of the market (casino, income, prices); faults use a derived stream.
    pub seed: u64,
    /// Simulated seconds per real second; positive and finite, at most [`MAX_SPEED`].
    pub speed: f64,
    /// Simulated time at start.
    pub start: OffsetDateTime,
    /// Balances at start, whole cents.
    pub initial_balances_usdc: ServiceMap<Decimal>,
    /// When set, every `/api/v1` request must carry `Authorization: Bearer KEY`.
    pub api_key: Option<ApiKey>,
    /// How the agent plays the casino.
    pub casino: CasinoParams,
    /// Fees, the wallet's spread and the leverage limit of the markets.
    pub markets: MarketParams,
    /// Whether background activity runs; off, only requests, injections and
    /// [`SimHandle::advance`] move money.
    pub autoplay: bool,
    /// Faults to inject (all off by default).
    pub faults: FaultConfig,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            agent_id: DEFAULT_AGENT_ID.to_owned(),
            seed: DEFAULT_SEED,
            speed: DEFAULT_SPEED,
            start: time::macros::datetime!(2025-12-31 12:00 UTC),
            initial_balances_usdc: article_balances_usdc(),
            api_key: None,
            casino: CasinoParams::default(),
            markets: MarketParams::default(),
            autoplay: true,
            faults: FaultConfig::default(),
        }
    }
}

impl SimConfig {
    /// Checks every field, listing every problem at once.
    ///
    /// # Errors
    /// [`SimError::Config`] with one line per bad field, each naming it.
    pub fn validate(&self) -> Result<(), SimError> {
        let mut problems = Vec::new();
        if self.agent_id.is_empty()
            || !self
                .agent_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            problems.push(format!(
                "agent_id: `{}` must be non-empty ASCII letters, digits, `-`, `_` or `.`",
                self.agent_id
            ));
        }
        if !(self.speed.is_finite() && self.speed > 0.0 && self.speed <= MAX_SPEED) {
            problems.push(format!(
                "speed: {} must be a finite number in (0, {MAX_SPEED}]",
                self.speed
            ));
        }
        if let Err(error) = state::Ledger::new(self.initial_balances_usdc) {
            problems.push(format!("initial_balances_usdc: {error}"));
        }
        if let Err(mut casino) = self.casino.validate() {
            problems.append(&mut casino);
        }
        if let Err(mut markets) = self.markets.validate() {
            problems.append(&mut markets);
        }
        if let Err(mut faults) = self.faults.validate() {
            problems.append(&mut faults);
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(SimError::Config(problems))
        }
    }
}

/// What can go wrong starting or driving the simulated venue.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The config is invalid; one entry per problem, each naming its field.
    #[error("invalid simulated venue config: {}", .0.join("; "))]
    Config(Vec<String>),
    /// The listener has no local address.
    #[error("cannot read the listener's address: {0}")]
    Listener(#[source] std::io::Error),
    /// The ledger refused an injection.
    #[error("injection refused: {0}")]
    Rejected(#[from] StateError),
    /// A fault spec did not parse.
    #[error(transparent)]
    FaultSpec(#[from] FaultSpecError),
    /// A scenario file could not be read or is invalid.
    #[error("scenario {path}: {reason}")]
    Scenario {
        /// The file.
        path: String,
        /// What is wrong, naming the step and field.
        reason: String,
    },
}

/// The simulated clock: `start + real elapsed × speed + skipped`, on tokio's (possibly
/// virtual) clock.
#[derive(Debug, Clone)]
struct SimClock {
    start: OffsetDateTime,
    started_at: Instant,
    speed: f64,
    /// Simulated seconds skipped by [`SimHandle::advance`]; only ever grows, so the clock
    /// never goes backwards.
    skipped_secs: Arc<AtomicI64>,
}

impl SimClock {
    fn skipped(&self) -> time::Duration {
        time::Duration::seconds(self.skipped_secs.load(Ordering::Acquire))
    }

    fn now(&self) -> OffsetDateTime {
        let sim_nanos = self.started_at.elapsed().as_secs_f64() * self.speed * 1e9;
        // Clamped so that a clock run for centuries saturates instead of panicking.
        let sim_nanos = sim_nanos.clamp(0.0, i64::MAX as f64) as i64;
        self.start
            .checked_add(time::Duration::nanoseconds(sim_nanos))
            .and_then(|t| t.checked_add(self.skipped()))
            .unwrap_or(self.start)
    }

    /// The real instant at which the simulated clock reads `at`.
    fn instant_for(&self, at: OffsetDateTime) -> Instant {
        let real_secs = (at - self.start - self.skipped()).as_seconds_f64() / self.speed;
        let real = Duration::try_from_secs_f64(real_secs.max(0.0)).unwrap_or(Duration::MAX);
        self.started_at
            .checked_add(real)
            .unwrap_or_else(|| self.started_at + Duration::from_secs(86_400 * 365 * 100))
    }

    /// Moves the clock forward by `hours`.
    fn skip_hours(&self, hours: u32) {
        self.skipped_secs
            .fetch_add(i64::from(hours) * 3_600, Ordering::AcqRel);
    }
}

/// State shared by the server, the activity task and the handle.
#[derive(Debug)]
struct Shared {
    engine: Mutex<Engine>,
    frames_tx: broadcast::Sender<EventFrame>,
    transfers_tx: broadcast::Sender<AppliedTransfer>,
    clock: SimClock,
    agent_id: String,
    api_key: Option<ApiKey>,
    dice: Mutex<FaultDice>,
    shutdown_tx: watch::Sender<bool>,
    active_websockets: AtomicUsize,
    websocket_closed: Notify,
    /// Wakes the activity task when the clock jumps, so it does not sleep through the jump.
    clock_moved: Notify,
    /// Serializes clock jumps, so two advances never interleave their hours.
    advancing: tokio::sync::Mutex<()>,
}

impl Shared {
    /// The engine; a panic elsewhere while holding the lock leaves consistent state (every
    /// mutation is applied whole), so a poisoned lock is recovered, not propagated.
    fn engine(&self) -> MutexGuard<'_, Engine> {
        self.engine
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Broadcasts frames and a transfer. Called with the engine lock held, so subscribers
    /// see frames in `seq` order.
    fn publish(&self, frames: &[EventFrame], transfer: Option<&AppliedTransfer>) {
        for frame in frames {
            // No subscriber is fine: the frame is in the replay buffer.
            let _ = self.frames_tx.send(frame.clone());
        }
        if let Some(transfer) = transfer {
            let _ = self.transfers_tx.send(transfer.clone());
        }
    }

    /// Rolls the dice for a fault, counting it when it happens.
    fn roll(&self, fault: Fault) -> bool {
        let happens = self
            .dice
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .roll(fault);
        if happens {
            self.engine().count_fault(fault.name());
            tracing::debug!(fault = fault.name(), "sim injected fault");
        }
        happens
    }

    /// What the venue saw, with the clock's speed.
    fn stats(&self) -> SimStats {
        let now = self.clock.now();
        let mut stats = self.engine().stats(now);
        stats.speed = crate::money::decimal_from_f64(self.clock.speed, "speed").unwrap_or_default();
        stats
    }

    fn dice(&self) -> MutexGuard<'_, FaultDice> {
        self.dice
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn shutting_down(&self) -> watch::Receiver<bool> {
        self.shutdown_tx.subscribe()
    }
}

/// Resolves once shutdown has been requested (at once if it already was).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`; drop it here, before any other await.
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// A running simulated venue. Cheap to clone; every clone drives the same venue.
#[derive(Debug, Clone)]
pub struct SimHandle {
    shared: Arc<Shared>,
    addr: SocketAddr,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

/// Starts the simulated venue on `listener`: spawns the HTTP/websocket server and (with
/// `autoplay`) the activity task on the current tokio runtime.
///
/// # Errors
/// An invalid config ([`SimError::Config`]) or a listener without an address.
pub async fn start(cfg: SimConfig, listener: TcpListener) -> Result<SimHandle, SimError> {
    cfg.validate()?;
    let addr = listener.local_addr().map_err(SimError::Listener)?;
    let engine = Engine::new(
        &cfg.agent_id,
        cfg.initial_balances_usdc,
        &cfg.casino,
        &cfg.markets,
        cfg.seed,
        cfg.start,
        cfg.autoplay,
    )?;
    let (shutdown_tx, _) = watch::channel(false);
    let shared = Arc::new(Shared {
        engine: Mutex::new(engine),
        frames_tx: broadcast::channel(FRAME_CHANNEL_CAPACITY).0,
        transfers_tx: broadcast::channel(TRANSFER_CHANNEL_CAPACITY).0,
        clock: SimClock {
            start: cfg.start,
            started_at: Instant::now(),
            speed: cfg.speed,
            skipped_secs: Arc::new(AtomicI64::new(0)),
        },
        agent_id: cfg.agent_id.clone(),
        api_key: cfg.api_key.clone(),
        dice: Mutex::new(FaultDice::new(cfg.faults, cfg.seed)),
        shutdown_tx,
        active_websockets: AtomicUsize::new(0),
        websocket_closed: Notify::new(),
        clock_moved: Notify::new(),
        advancing: tokio::sync::Mutex::new(()),
    });
    let router = server::router(Arc::clone(&shared));
    let mut shutdown = shared.shutting_down();
    let mut tasks = vec![tokio::spawn(async move {
        let serve = axum::serve(listener, router)
            .with_graceful_shutdown(async move { stopped(&mut shutdown).await });
        if let Err(error) = serve.await {
            tracing::error!(%error, "sim server stopped with an error");
        }
    })];
    if cfg.autoplay {
        tasks.push(tokio::spawn(run_activity(Arc::clone(&shared))));
    }
    tracing::info!(
        %addr,
        agent_id = cfg.agent_id,
        seed = cfg.seed,
        speed = cfg.speed,
        autoplay = cfg.autoplay,
        auth = cfg.api_key.is_some(),
        faults = %cfg.faults,
        "sim started"
    );
    Ok(SimHandle {
        shared,
        addr,
        tasks: Arc::new(Mutex::new(tasks)),
    })
}

/// Runs the simulated hours as the clock reaches their ends, until shutdown.
async fn run_activity(shared: Arc<Shared>) {
    let mut shutdown = shared.shutting_down();
    loop {
        let ran = {
            let mut engine = shared.engine();
            let ran = engine.run_next_hour_if_due(shared.clock.now());
            if let Some(frames) = &ran {
                shared.publish(frames, None);
            }
            ran.is_some()
        };
        if ran {
            // When the clock is far ahead (a very fast speed, a jump, or a stalled process),
            // hours run back to back; yielding keeps requests and websockets served between.
            tokio::task::yield_now().await;
            continue;
        }
        // Registered before the wake-up instant is computed, so a jump in between is not
        // slept through.
        let moved = shared.clock_moved.notified();
        tokio::pin!(moved);
        moved.as_mut().enable();
        let wake_at = shared.clock.instant_for(shared.engine().next_hour_end());
        tokio::select! {
            biased;
            () = stopped(&mut shutdown) => break,
            () = &mut moved => {}
            () = tokio::time::sleep_until(wake_at) => {}
        }
    }
}

/// What [`SimHandle::advance`] did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Advanced {
    /// Simulated time after the jump.
    #[serde(with = "time::serde::rfc3339")]
    pub sim_time: OffsetDateTime,
    /// Simulated hours run by the jump.
    pub hours_run: u32,
    /// `seq` of the last announced event.
    pub last_seq: u64,
}

/// Moves the clock forward by `hours` and runs the hours it jumps over.
async fn advance(shared: &Shared, hours: u32) -> Result<Advanced, SimError> {
    if !(1..=MAX_ADVANCE_HOURS).contains(&hours) {
        return Err(SimError::Rejected(StateError::Invalid {
            field: "hours",
            reason: format!("must be an integer in [1, {MAX_ADVANCE_HOURS}]"),
        }));
    }
    let _one_at_a_time = shared.advancing.lock().await;
    shared.clock.skip_hours(hours);
    let now = shared.clock.now();
    let (hours_run, last_seq) = {
        let mut engine = shared.engine();
        let (frames, hours_run) = engine.run_due_hours(now);
        shared.publish(&frames, None);
        (hours_run, engine.last_seq())
    };
    shared.clock_moved.notify_waiters();
    tracing::info!(hours, hours_run, sim_time = %now, "sim clock advanced");
    Ok(Advanced {
        sim_time: now,
        hours_run,
        last_seq,
    })
}

impl SimHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API base URL, e.g. `http://127.0.0.1:8787/api/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}{API_BASE}", self.addr)
    }

    /// The simulated agent's id.
    pub fn agent_id(&self) -> &str {
        &self.shared.agent_id
    }

    /// Simulated time now.
    pub fn now(&self) -> OffsetDateTime {
        self.shared.clock.now()
    }

    /// Applies an event now and announces it; returns the announced frame (with the
    /// portfolio after it).
    ///
    /// # Errors
    /// [`SimError::Rejected`] when the ledger refuses it (e.g. a loss above the casino
    /// balance); nothing changes then.
    pub async fn inject(&self, kind: Injection) -> Result<EventFrame, SimError> {
        let now = self.now();
        let mut engine = self.shared.engine();
        let frames = engine.inject(now, &kind)?;
        self.shared.publish(&frames, None);
        frames
            .into_iter()
            .next()
            .ok_or(SimError::Rejected(StateError::Invalid {
                field: "type",
                reason: "announced nothing".into(),
            }))
    }

    /// Moves one service's cash without announcing it (no event, no `seq`): a venue that
    /// fails to tell its clients, for rehearsing the companion's sync check.
    ///
    /// # Errors
    /// [`SimError::Rejected`] when the cash would go negative.
    pub fn adjust_unannounced(
        &self,
        service: Service,
        change_usdc: Decimal,
    ) -> Result<(), SimError> {
        self.shared
            .engine()
            .adjust_unannounced(service, change_usdc)
            .map_err(SimError::Rejected)
    }

    /// Each service's value now (cash plus positions or lots), rounded down to the cent, as
    /// the portfolio reports it.
    pub fn balances(&self) -> ServiceMap<Decimal> {
        self.shared.engine().balances()
    }

    /// Each service's cash now, outside positions and lots (what `balance` injections set).
    pub fn cash_balances(&self) -> ServiceMap<Decimal> {
        self.shared.engine().cash_balances()
    }

    /// Moves the simulated clock forward by `hours` (1 to [`MAX_ADVANCE_HOURS`]) and runs
    /// every hour it jumps over at once: the markets always, the agent's activity with
    /// autoplay. The same as `POST /api/v1/sim/advance`.
    ///
    /// # Errors
    /// [`SimError::Rejected`] naming `hours` when it is out of range.
    pub async fn advance(&self, hours: u32) -> Result<Advanced, SimError> {
        advance(&self.shared, hours).await
    }

    /// One balance now.
    pub fn balance(&self, service: Service) -> Decimal {
        self.balances()[service]
    }

    /// Every applied rebalance transfer, in order.
    pub fn transfers(&self) -> Vec<AppliedTransfer> {
        self.shared.engine().transfers().to_vec()
    }

    /// A receiver notified as each rebalance transfer is applied.
    pub fn subscribe_transfers(&self) -> broadcast::Receiver<AppliedTransfer> {
        self.shared.transfers_tx.subscribe()
    }

    /// A receiver of every announced event frame from now on (no heartbeats, no faults).
    pub fn subscribe_events(&self) -> broadcast::Receiver<EventFrame> {
        self.shared.frames_tx.subscribe()
    }

    /// Switches the injected faults while the venue runs.
    ///
    /// # Errors
    /// [`SimError::Config`] listing every out-of-range value; the faults are unchanged.
    pub fn set_faults(&self, faults: FaultConfig) -> Result<(), SimError> {
        faults.validate().map_err(SimError::Config)?;
        self.shared.dice().set_config(faults);
        tracing::info!(%faults, "sim faults switched");
        Ok(())
    }

    /// The faults injected now.
    pub fn faults(&self) -> FaultConfig {
        *self.shared.dice().config()
    }

    /// What the venue saw; the same as `GET /api/v1/sim/stats`.
    pub fn stats(&self) -> SimStats {
        self.shared.stats()
    }

    /// Stops gracefully: closes websockets, stops the activity, and waits for in-flight
    /// requests (those held by a lost-ack fault are released with 503).
    pub async fn shutdown(self) {
        self.shared.shutdown_tx.send_replace(true);
        let tasks = std::mem::take(
            &mut *self
                .tasks
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        for task in tasks {
            if let Err(error) = task.await {
                tracing::warn!(%error, "sim task ended abnormally");
            }
        }
        let closed = async {
            while self.shared.active_websockets.load(Ordering::Acquire) > 0 {
                self.shared.websocket_closed.notified().await;
            }
        };
        if tokio::time::timeout(SHUTDOWN_GRACE, closed).await.is_err() {
            tracing::warn!("sim websockets still open after the shutdown grace period");
        }
        tracing::info!(addr = %self.addr, "sim stopped");
    }
}
