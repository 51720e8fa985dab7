//! The running venue: [`start`] serves it on a listener and spawns its background activity;
//! [`SimHandle`] drives it from a test, a command or a scenario.
//!
//! # Invariants
//! - Hours run as the clock reaches their ends, never twice, whether the activity task or
//!   a clock jump runs them.
//! - [`SimHandle::shutdown`] closes every websocket (or gives up after a grace period),
//!   stops the activity and releases requests held by a lost-ack fault.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex, atomic::AtomicUsize, atomic::Ordering},
    time::Duration,
};

use rust_decimal::Decimal;
use time::OffsetDateTime;
use tokio::{
    net::TcpListener,
    sync::{Notify, broadcast, watch},
    task::JoinHandle,
};

use super::{
    clock::Clock,
    config::{SimConfig, SimError},
    engine::{AppliedTransfer, Engine},
    faults::{FaultConfig, FaultDice},
    inject::NewBalances,
    ledger::invalid,
    server,
    shared::{Shared, stopped},
};
use crate::{
    service::{Service, ServiceMap},
    venue::protocol::{
        API_BASE, EventFrame,
        sim::{AdvanceResponse, InjectRequest, SimStats},
    },
};

/// Capacity of the live frame channel; a websocket that falls this far behind is closed
/// and must resume with `since`.
const FRAME_CHANNEL_CAPACITY: usize = 16_384;
/// Capacity of the applied-transfer channel behind [`SimHandle::subscribe_transfers`].
const TRANSFER_CHANNEL_CAPACITY: usize = 4_096;
/// How long [`SimHandle::shutdown`] waits for websocket sessions to close.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

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
/// An invalid config ([`SimError::Config`]), a listener beyond loopback that the config does
/// not allow ([`SimConfig::check_listen`]), or a listener without an address.
pub async fn start(cfg: SimConfig, listener: TcpListener) -> Result<SimHandle, SimError> {
    cfg.validate()?;
    let addr = listener.local_addr().map_err(SimError::Listener)?;
    cfg.check_listen(addr)?;
    let engine = Engine::new(
        &cfg.agent_id,
        cfg.initial_balances_usdc,
        &cfg.casino,
        &cfg.markets,
        cfg.seed,
        cfg.start,
        cfg.autoplay,
    )?
    .with_locks(cfg.locks.clone());
    let (shutdown_tx, _) = watch::channel(false);
    let shared = Arc::new(Shared {
        engine: Mutex::new(engine),
        frames_tx: broadcast::channel(FRAME_CHANNEL_CAPACITY).0,
        transfers_tx: broadcast::channel(TRANSFER_CHANNEL_CAPACITY).0,
        clock: Clock::new(cfg.start, cfg.speed),
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

    /// The venue's clock, for a scenario to wait on.
    pub(super) fn clock(&self) -> &Clock {
        &self.shared.clock
    }

    /// Applies an event now and announces it; returns the announced frame (with the
    /// portfolio after it). An [`Injection`](super::Injection) sets the cash of every
    /// service it names; an [`InjectRequest`] (a scenario step) keeps the cash of the
    /// services its `balance` leaves out.
    ///
    /// # Errors
    /// [`SimError::Rejected`] when the ledger refuses it (e.g. a loss above the casino
    /// balance); nothing changes then.
    pub async fn inject<B: NewBalances>(
        &self,
        injection: InjectRequest<B>,
    ) -> Result<EventFrame, SimError> {
        let now = self.now();
        let mut engine = self.shared.engine();
        let frames = engine.inject(now, &injection)?;
        self.shared.publish(&frames, None);
        frames
            .into_iter()
            .next()
            .ok_or(SimError::Rejected(invalid("type", "announced nothing")))
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

    /// Moves the simulated clock forward by `hours` (1 to
    /// [`MAX_ADVANCE_HOURS`](super::MAX_ADVANCE_HOURS)) and runs every hour it jumps over at
    /// once: the markets always, the agent's activity with autoplay. The same as
    /// `POST /api/v1/sim/advance`.
    ///
    /// # Errors
    /// [`SimError::Rejected`] naming `hours` when it is out of range.
    pub async fn advance(&self, hours: u32) -> Result<AdvanceResponse, SimError> {
        self.shared.advance(hours).await
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
