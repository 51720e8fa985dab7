//! The system builder: wires the actors together and starts them.
//!
//! `SystemBuilder::new(..)` only collects parts; [`SystemBuilder::start`] spawns the
//! actors on the current actix system and returns a [`RunningSystem`] to query and stop.
//! Custom triggers join with [`SystemBuilder::add_actor`]: the factory receives the
//! [`Handles`] (notably `requests`, where `RebalanceRequest`s go, and `optimizer`, which takes
//! `RecomputeTargets`) and may return a recipient to subscribe to every [`Event`].
//!
//! [`RunningSystem::shutdown`] stops planning, lets the plan in flight finish within its
//! deadline with the trading gate left as it is, then stops the stream, records the stop and
//! returns the summary. [`contain_panics`] turns a panicking actor into a clean stop.
//!
//! # Invariants
//! - The run is recorded in the store before any actor starts; every plan is recorded with
//!   its run, and named after its trigger, so two runs planning the same trigger name it
//!   alike and the store refuses the second.
//! - Trading waits for the watcher's start-up resync snapshot (the policy starts stale).
//! - A shutdown never closes the trading gate itself: the stream stops only after the plan
//!   in flight has finished or the deadline has passed; past the deadline no leg is sent and
//!   the legs not sent stay `pending`. The stop is recorded even if the recorder is gone.

use std::{
    fmt,
    sync::{Mutex, Once, OnceLock},
    time::Duration,
};

use actix::{Actor, Addr, AsyncContext, Context, Handler, Message, Recipient};
use ballast::{
    execution::VenueTag,
    policy::PolicyState,
    secret::ApiKey,
    store::{RunRecord, Store},
    venue::{backoff::Backoff, client::VenueClient, stream::StreamConfig},
};

use crate::{
    bus::{EventBus, Subscribe},
    clock::{Clock, TimeSource},
    detector::{DriftDetector, StopPlanning},
    executor::{ExecutorConfig, ExecutorPeers, SpotExecutor, StopNow},
    gate::{NumberingEpoch, TradingGate},
    messages::{Event, GetSummary, RebalanceRequest},
    metrics::{Console, MetricsRecorder, Summary},
    optimizer::Optimizer,
    settings::Validated,
    watcher::{BalanceWatcher, WatcherPeers, cursor_key},
};

/// What a custom actor's factory receives.
#[derive(Debug, Clone)]
pub struct Handles {
    /// Where to send `RebalanceRequest { reason }`.
    pub requests: Recipient<RebalanceRequest>,
    /// The Optimizer: send it `RecomputeTargets { reason }`, ask it `GetOptimizerStats`.
    pub optimizer: Addr<Optimizer>,
    /// The bus, to publish or subscribe further actors.
    pub bus: Addr<EventBus>,
    /// The time source the system runs on.
    pub time: TimeSource,
}

type Factory = Box<dyn FnOnce(&Handles) -> Option<Recipient<Event>>>;

/// Collects the parts of a system.
pub struct SystemBuilder {
    validated: Validated,
    venue_url: String,
    agent_id: String,
    api_key: Option<ApiKey>,
    time: TimeSource,
    store: Store,
    console: Console,
    run_id: String,
    factories: Vec<Factory>,
}

impl fmt::Debug for SystemBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SystemBuilder")
            .field("venue_url", &self.venue_url)
            .field("agent_id", &self.agent_id)
            .field("api_key", &self.api_key)
            .field("run_id", &self.run_id)
            .field("custom_actors", &self.factories.len())
            .finish_non_exhaustive()
    }
}

/// A started system.
#[derive(Debug)]
pub struct RunningSystem {
    /// Handles for custom actors and callers.
    pub handles: Handles,
    /// This run's id.
    pub run_id: String,
    metrics: Addr<MetricsRecorder>,
    watcher: Addr<BalanceWatcher>,
    detector: Addr<DriftDetector>,
    executor: Addr<SpotExecutor>,
    stop: StopNow,
    store: Store,
}

/// Waits until the executor has finished whatever plan it is executing (it handles
/// messages in order, one plan at a time).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Drain;

impl Handler<Drain> for SpotExecutor {
    type Result = ();

    fn handle(&mut self, _message: Drain, _ctx: &mut Context<Self>) {}
}

impl SystemBuilder {
    /// Collects the parts; spawns nothing.
    pub fn new(
        validated: Validated,
        venue_url: &str,
        api_key: Option<ApiKey>,
        time: TimeSource,
        store: Store,
        console: Console,
    ) -> Self {
        let agent_id = validated.settings.venue.agent_id.clone();
        Self {
            validated,
            venue_url: venue_url.to_owned(),
            agent_id,
            api_key,
            time,
            store,
            console,
            run_id: new_run_id(),
            factories: Vec::new(),
        }
    }

    /// Adds a custom actor. The factory runs during [`SystemBuilder::start`], after the
    /// built-in actors exist; a returned recipient is subscribed to every [`Event`].
    #[must_use]
    pub fn add_actor(
        mut self,
        factory: impl FnOnce(&Handles) -> Option<Recipient<Event>> + 'static,
    ) -> Self {
        self.factories.push(Box::new(factory));
        self
    }

    /// Overrides the run id (tests that need stable keys).
    #[must_use]
    pub fn run_id(mut self, run_id: impl Into<String>) -> Self {
        self.run_id = run_id.into();
        self
    }

    /// Starts every actor on the current actix system.
    ///
    /// # Errors
    /// When the venue client cannot be built or the store cannot record the run.
    pub async fn start(self) -> anyhow::Result<RunningSystem> {
        let Self {
            validated,
            venue_url,
            agent_id,
            api_key,
            time,
            store,
            console,
            run_id,
            factories,
        } = self;
        let client = VenueClient::new(
            &venue_url,
            &agent_id,
            api_key.clone(),
            validated.request_timeout,
        )?;
        let stream = StreamConfig {
            base_url: client.base_url().to_owned(),
            agent_id: agent_id.clone(),
            api_key,
            idle_timeout: validated.idle_timeout,
            backoff: validated.reconnect,
        };
        let cursor = store.load_cursor_state(&cursor_key(&stream)).await?;
        // Plans are named after triggers the venue numbered: the venue is part of the name.
        let venue = VenueTag::of(&cursor_key(&stream));
        store
            .start_run(RunRecord {
                run_id: run_id.clone(),
                started_at: time.now(),
                stopped_at: None,
                venue: client.base_url().to_owned(),
                dry_run: validated.settings.executor.dry_run,
            })
            .await?;

        let bus = EventBus::default().start();
        let metrics = MetricsRecorder::new(store.clone(), console, &validated.targets).start();
        bus.do_send(Subscribe(metrics.clone().recipient()));
        let bus_recipient: Recipient<Event> = bus.clone().recipient();

        let executor_config = ExecutorConfig {
            dry_run: validated.settings.executor.dry_run,
            leg_retry_limit: validated.settings.executor.leg_retry_limit,
            retry_backoff: Backoff {
                base: Duration::from_millis(validated.settings.executor.leg_retry_base_ms),
                max: Duration::from_secs(30),
            },
            risk: validated.risk,
        };
        let gate = TradingGate::new();
        let stop = StopNow::new();
        let numbering = NumberingEpoch::new(cursor.epoch);
        let mut executor_slot = None;
        let policy = PolicyState::new(validated.policy.clone(), validated.targets.clone());
        let detector = DriftDetector::create(|ctx| {
            let executor = SpotExecutor::new(
                client.clone(),
                store.clone(),
                executor_config,
                time,
                run_id.clone(),
                gate.clone(),
                stop.clone(),
                numbering.clone(),
                ExecutorPeers {
                    detector: ctx.address().recipient(),
                    bus: bus_recipient.clone(),
                },
            )
            .start();
            executor_slot = Some(executor.clone());
            DriftDetector::new(
                policy,
                venue,
                cursor.epoch,
                time,
                gate.clone(),
                executor.recipient(),
            )
        });
        let executor = executor_slot.ok_or_else(|| anyhow::anyhow!("executor did not start"))?;

        let optimizer = Optimizer::new(
            validated.optimizer.clone(),
            validated.targets.clone(),
            client.clone(),
            time,
            gate.clone(),
            detector.clone().recipient(),
            bus_recipient.clone(),
        )
        .start();

        let watcher = BalanceWatcher::new(
            client,
            stream,
            store.clone(),
            time,
            cursor,
            numbering,
            WatcherPeers {
                balances: detector.clone().recipient(),
                events: detector.clone().recipient(),
                status: detector.clone().recipient(),
                optimizer: optimizer.clone().recipient(),
                bus: bus_recipient.clone(),
            },
            gate,
        )
        .balance_alert(validated.balance_alert_fraction)
        .start();

        Clock::new(
            time,
            validated.tick_utc,
            vec![watcher.clone().recipient(), optimizer.clone().recipient()],
        )
        .start();

        let handles = Handles {
            requests: detector.clone().recipient(),
            optimizer,
            bus: bus.clone(),
            time,
        };
        for factory in factories {
            if let Some(subscriber) = factory(&handles) {
                bus.do_send(Subscribe(subscriber));
            }
        }
        Ok(RunningSystem {
            handles,
            run_id,
            metrics,
            watcher,
            detector,
            executor,
            stop,
            store,
        })
    }
}

impl RunningSystem {
    /// The running summary.
    ///
    /// # Errors
    /// If the recorder has stopped.
    pub async fn summary(&self) -> anyhow::Result<Summary> {
        Ok(self.metrics.send(GetSummary).await?)
    }

    /// Stops planning, lets the plan in progress finish (bounded by `deadline`; the trading
    /// gate is left as it is), then stops the stream, records the clean stop, and returns the
    /// final summary. Past the deadline no further leg is sent: the legs not sent stay
    /// `pending`, for the next start to reconcile.
    ///
    /// # Errors
    /// If the store cannot record the stop.
    pub async fn shutdown(self, deadline: Duration) -> anyhow::Result<Summary> {
        let started = tokio::time::Instant::now();
        // No new plans; the executor finishes the current one with the gate still open.
        let _ = self.detector.send(StopPlanning).await;
        let left = deadline.saturating_sub(started.elapsed());
        let finished = tokio::time::timeout(left, self.executor.send(Drain)).await;
        if finished.is_err() {
            self.stop.set();
            tracing::warn!(
                deadline_ms = deadline.as_millis() as u64,
                "plan still executing at the shutdown deadline; its legs not sent stay pending"
            );
        }
        let plan_finished_ms = started.elapsed().as_millis() as u64;
        // Only now does the stream stop (and with it the gate close).
        let _ = self.watcher.send(StopActor).await;
        // Give the bus a moment to hand the last events to the recorder.
        let _ = tokio::time::timeout(Duration::from_millis(200), async {
            self.handles.bus.send(crate::bus::Flush).await
        })
        .await;
        // The stop is recorded first: a recorder that is gone must not cost the record.
        let recorded = self
            .store
            .finish_run(self.run_id.clone(), self.handles.time.now())
            .await;
        let mut summary = match self.metrics.send(GetSummary).await {
            Ok(summary) => summary,
            Err(error) => {
                tracing::warn!(%error, "metrics recorder gone; the summary is incomplete");
                Summary::default()
            }
        };
        summary.shutdown_ms = Some(plan_finished_ms);
        summary.legs_pending = match self.store.status().await {
            Ok(status) => status.legs_pending,
            Err(error) => {
                tracing::warn!(%error, "pending legs not counted");
                0
            }
        };
        recorded?;
        Ok(summary)
    }
}

/// A panic in any thread of this process (an actor's handler, usually) is reported on every
/// receiver returned here, after the usual panic report on stderr. `ballast run` stops
/// cleanly on it instead of trading on with part of the system dead: actix does not restart
/// an actor whose handler panicked, it just loses it.
pub fn contain_panics() -> tokio::sync::mpsc::UnboundedReceiver<String> {
    static HOOK: Once = Once::new();
    static WATCHERS: OnceLock<Mutex<Vec<tokio::sync::mpsc::UnboundedSender<String>>>> =
        OnceLock::new();
    let watchers = WATCHERS.get_or_init(Mutex::default);
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            let message = info.to_string();
            if let Some(watchers) = WATCHERS.get() {
                let mut watchers = watchers.lock().unwrap_or_else(|e| e.into_inner());
                watchers.retain(|watcher| watcher.send(message.clone()).is_ok());
            }
        }));
    });
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    watchers
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(sender);
    receiver
}

/// Stops an actor (the watcher at shutdown).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct StopActor;

impl Handler<StopActor> for BalanceWatcher {
    type Result = ();

    fn handle(&mut self, _message: StopActor, ctx: &mut Context<Self>) {
        use actix::ActorContext;
        ctx.stop();
    }
}

/// A run id unique across runs of this store: wall-clock milliseconds plus the process id.
fn new_run_id() -> String {
    let millis = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    format!("r{millis:x}{:x}", std::process::id() & 0xfff)
}
