//! The system builder: wires the actors together and starts them.
//!
//! `SystemBuilder::new(..)` only collects parts; [`SystemBuilder::start`] spawns the
//! actors on the current actix system and returns a [`RunningSystem`] to query and stop.
//! Custom triggers join with [`SystemBuilder::add_actor`]: the factory receives the
//! [`Handles`] (notably `requests`, where `RebalanceRequest`s go, `optimizer`, which takes
//! `RecomputeTargets`, and `wallet`, the wash-sale-guarded wallet order path when
//! `tax.enabled`) and may return a recipient to subscribe to every [`Event`].
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
//! - The operator's last control action in the store sets the [`ControlSwitch`] before any
//!   actor starts, so a halt survives a restart; the HTTP API (and with it the operator's
//!   halt) stays up until the plan in flight has finished.

use std::{
    fmt,
    path::PathBuf,
    sync::{Mutex, Once, OnceLock},
    time::Duration,
};

use actix::{Actor, Addr, AsyncContext, Context, Handler, Message, Recipient};
use ballast::{
    execution::{PlanNamer, VenueTag},
    policy::PolicyState,
    secret::ApiKey,
    store::{RunRecord, Store},
    tax::LotBook,
    venue::{backoff::Backoff, client::VenueClient, markets::MarketsClient, stream::StreamConfig},
};

use crate::{
    bus::{EventBus, Subscribe},
    clock::{Clock, TimeSource},
    control::ControlSwitch,
    detector::{DriftDetector, Recording, StopPlanning},
    executor::{ExecutorConfig, ExecutorPeers, SpotExecutor, StopNow},
    gate::{NumberingEpoch, TradingGate},
    harvester::TaxHarvester,
    hedger::{DrainHedges, HedgeExecutor, HedgerConfig},
    http::{HttpOptions, HttpPeers, HttpServer, RunInfo, board::StatusBoard},
    messages::{Event, GetSummary, RebalanceRequest, Tick, VenueEvent},
    metrics::{Console, MetricsRecorder, Summary},
    notify::{FlushAlerts, Notifier},
    optimizer::Optimizer,
    settings::Validated,
    wallet_orders::{DeskConfig, TaxLedger, WalletDesk},
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
    /// The daily check: a [`Tick`] sent here makes the watcher fetch the tick's snapshot and
    /// the policy close the day and decide, as the Clock's daily tick does.
    pub ticks: Recipient<Tick>,
    /// The wallet's order path, guarded by the wash-sale rule (when `tax.enabled`): every
    /// actor that buys wallet assets buys through it.
    pub wallet: Option<WalletDesk>,
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
    http: Option<HttpOptions>,
    record_events: Option<PathBuf>,
}

impl fmt::Debug for SystemBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SystemBuilder")
            .field("venue_url", &self.venue_url)
            .field("agent_id", &self.agent_id)
            .field("api_key", &self.api_key)
            .field("run_id", &self.run_id)
            .field("custom_actors", &self.factories.len())
            .field("http", &self.http)
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
    /// The Notifier (ask it `GetNotifierStats`).
    pub notifier: Addr<Notifier>,
    metrics: Addr<MetricsRecorder>,
    watcher: Addr<BalanceWatcher>,
    detector: Addr<DriftDetector>,
    executor: Addr<SpotExecutor>,
    harvester: Option<Addr<TaxHarvester>>,
    stop: StopNow,
    hedger: Option<Addr<HedgeExecutor>>,
    store: Store,
    control: ControlSwitch,
    http: Option<HttpServer>,
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
            http: None,
            record_events: None,
        }
    }

    /// Records every input of the trigger policy and every decision to `path` as JSON lines
    /// (`ballast run --record-events`; replayed by `ballast backtest --events`).
    #[must_use]
    pub fn record_events(mut self, path: impl Into<PathBuf>) -> Self {
        self.record_events = Some(path.into());
        self
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

    /// Serves the HTTP API (status, metrics, dashboard, control) with `options`.
    #[must_use]
    pub fn http(mut self, options: HttpOptions) -> Self {
        self.http = Some(options);
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
            http,
            record_events,
        } = self;
        let recording = record_events
            .map(|path| {
                Recording::create(
                    &path,
                    &validated.policy,
                    &validated.targets,
                    validated.risk.max_jump_factor,
                )
            })
            .transpose()?;
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
        let last_action = store.last_control().await?;
        let control = ControlSwitch::new(last_action.as_ref().map(|a| a.mode).unwrap_or_default());
        let started_at = time::OffsetDateTime::now_utc();
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
        let metrics = MetricsRecorder::new(
            store.clone(),
            console,
            time,
            &validated.targets,
            validated.risk,
        )
        .with_run(&run_id, validated.optimizer.risk_free_rate)
        .start();
        bus.do_send(Subscribe(metrics.clone().recipient()));
        let bus_recipient: Recipient<Event> = bus.clone().recipient();
        let notifier = start_notifier(&validated, &store, time, &run_id, &bus);

        let executor_config = ExecutorConfig {
            dry_run: validated.settings.executor.dry_run,
            leg_retry_limit: validated.settings.executor.leg_retry_limit,
            retry_backoff: Backoff {
                base: Duration::from_millis(validated.settings.executor.leg_retry_base_ms),
                max: Duration::from_secs(30),
            },
            risk: validated.risk,
            max_plan_age: validated.max_plan_age,
        };
        let gate = TradingGate::new();
        let (client_for_tax, tax_gate) = (client.clone(), gate.clone());
        let stop = StopNow::new();
        let numbering = NumberingEpoch::new(cursor.epoch);
        let tax_numbering = numbering.clone();
        let hedger = start_hedger(
            &validated,
            &client,
            &store,
            (&run_id, time),
            (&gate, &control, &numbering),
            &bus,
        )?;
        let mut executor_slot = None;
        // The watcher's address exists before it starts: the detector asks it for confirming
        // snapshots, and the watcher needs the detector's address to start.
        let watcher_context = Context::<BalanceWatcher>::new();
        let confirmer = watcher_context.address().recipient();
        let policy = PolicyState::new(validated.policy.clone(), validated.targets.clone())
            .with_max_jump_factor(validated.risk.max_jump_factor);
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
            .with_control(control.clone())
            .start();
            executor_slot = Some(executor.clone());
            // Requests are named after the last event seen: until the stream delivers one,
            // the last one an earlier run processed.
            let mut namer = PlanNamer::new(venue, cursor.epoch);
            namer.saw_event(cursor.seq);
            let detector = DriftDetector::new(
                policy,
                namer,
                time,
                gate.clone(),
                executor.recipient(),
                bus_recipient.clone(),
            )
            .with_control(control.clone())
            .confirm_with(confirmer);
            let detector = match &hedger {
                Some(hedger) => detector.with_hedger(hedger.clone().recipient()),
                None => detector,
            };
            match recording {
                Some(recording) => detector.record_to(recording),
                None => detector,
            }
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

        let client_url = client.base_url().to_owned();
        let watcher = watcher_context.run(
            BalanceWatcher::new(
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
                gate.clone(),
            )
            .balance_alert(validated.balance_alert_fraction),
        );

        Clock::new(
            time,
            validated.tick_utc,
            vec![watcher.clone().recipient(), optimizer.clone().recipient()],
        )
        .start();

        let (wallet, harvester) = start_tax_harvester(
            &validated,
            &client_for_tax,
            &store,
            (&tax_gate, &control, &tax_numbering),
            &run_id,
            &bus,
        )
        .await?;
        let http = match http {
            None => None,
            Some(options) => Some(start_http(
                options,
                &bus,
                &validated.targets,
                |board| HttpPeers {
                    board,
                    metrics: metrics.clone(),
                    detector: detector.clone().recipient(),
                    requests: detector.clone().recipient(),
                    optimizer: optimizer.clone().recipient(),
                    bus: bus_recipient.clone(),
                    store: store.clone(),
                    switch: control.clone(),
                    gate,
                    bands: validated.policy.bands,
                    run: RunInfo {
                        run_id: run_id.clone(),
                        venue: client_url,
                        dry_run: validated.settings.executor.dry_run,
                        started_at,
                        version: env!("CARGO_PKG_VERSION"),
                    },
                },
                last_action,
            )?),
        };
        let handles = Handles {
            requests: detector.clone().recipient(),
            optimizer,
            bus: bus.clone(),
            time,
            wallet,
            ticks: watcher.clone().recipient(),
        };
        for factory in factories {
            if let Some(subscriber) = factory(&handles) {
                bus.do_send(Subscribe(subscriber));
            }
        }
        Ok(RunningSystem {
            handles,
            run_id,
            notifier,
            metrics,
            watcher,
            detector,
            executor,
            harvester,
            stop,
            hedger,
            store,
            control,
            http,
        })
    }
}

/// Starts the TaxHarvester and the wallet's guarded order path when `tax.enabled`: the lot
/// book is loaded from the store, the order path obeys the trading `gate` and the
/// operator's `control` switch, and the harvester subscribes to the bus.
///
/// # Errors
/// When the stored book cannot be read or the markets client built.
async fn start_tax_harvester(
    validated: &Validated,
    client: &VenueClient,
    store: &Store,
    (gate, control, numbering): (&TradingGate, &ControlSwitch, &NumberingEpoch),
    run_id: &str,
    bus: &Addr<EventBus>,
) -> anyhow::Result<(Option<WalletDesk>, Option<Addr<TaxHarvester>>)> {
    if !validated.settings.tax.enabled {
        return Ok((None, None));
    }
    let (lots, disposals) = store.load_tax_book().await?;
    let ledger = TaxLedger::new(LotBook::restore(lots, disposals), validated.tax.wash);
    let executor = &validated.settings.executor;
    let desk = WalletDesk::new(
        MarketsClient::new(client, validated.request_timeout)?,
        store.clone(),
        ledger,
        gate.clone(),
        DeskConfig {
            dry_run: executor.dry_run,
            retry_limit: executor.leg_retry_limit,
            retry_backoff: Backoff {
                base: Duration::from_millis(executor.leg_retry_base_ms),
                max: Duration::from_secs(30),
            },
            risk: validated.risk,
        },
        bus.clone().recipient(),
    )
    .with_control(control.clone());
    let harvester = TaxHarvester::new(
        desk.clone(),
        client.clone(),
        store.clone(),
        validated.tax.clone(),
        run_id.to_owned(),
        bus.clone().recipient(),
    )
    .with_numbering(numbering.clone())
    .start();
    bus.do_send(Subscribe(harvester.clone().recipient()));
    Ok((Some(desk), Some(harvester)))
}

impl Handler<Drain> for TaxHarvester {
    type Result = ();

    fn handle(&mut self, _message: Drain, _ctx: &mut Context<Self>) {}
}

/// Starts the HedgeExecutor when `hedge.enabled`, subscribed to the bus for snapshots,
/// finished plans and the venue's closes; the DriftDetector sends it requests.
///
/// # Errors
/// When its markets client cannot be built.
fn start_hedger(
    validated: &Validated,
    client: &VenueClient,
    store: &Store,
    run: (&str, TimeSource),
    (gate, control, numbering): (&TradingGate, &ControlSwitch, &NumberingEpoch),
    bus: &Addr<EventBus>,
) -> anyhow::Result<Option<Addr<HedgeExecutor>>> {
    if !validated.hedge.enabled {
        return Ok(None);
    }
    let executor = &validated.settings.executor;
    let config = HedgerConfig {
        hedge: validated.hedge.clone(),
        dry_run: executor.dry_run,
        risk: validated.risk,
        retry_limit: executor.leg_retry_limit,
        retry_backoff: Backoff {
            base: Duration::from_millis(executor.leg_retry_base_ms),
            max: Duration::from_secs(30),
        },
    };
    let hedger = HedgeExecutor::new(
        client.clone(),
        store.clone(),
        config,
        validated.targets.clone(),
        (run.0.to_owned(), run.1),
        gate.clone(),
        bus.clone().recipient(),
    )?
    .with_control(control.clone())
    .with_numbering(numbering.clone())
    .start();
    bus.do_send(Subscribe(hedger.clone().recipient()));
    Ok(Some(hedger))
}

/// Starts a [`StatusBoard`] on the bus and serves the HTTP API with `options`; `peers`
/// names everything else it talks to (its `board` is replaced by the new one).
fn start_http(
    options: HttpOptions,
    bus: &Addr<EventBus>,
    targets: &ballast::targets::TargetAllocation,
    peers: impl FnOnce(Addr<StatusBoard>) -> HttpPeers,
    last_action: Option<ballast::control::ControlRecord>,
) -> anyhow::Result<HttpServer> {
    let board = StatusBoard::new(targets).start();
    bus.do_send(Subscribe(board.clone().recipient()));
    crate::http::start(options, peers(board), last_action)
}

impl RunningSystem {
    /// Where the HTTP API listens, when it was asked for.
    pub fn http_addr(&self) -> Option<std::net::SocketAddr> {
        self.http.as_ref().map(HttpServer::addr)
    }

    /// The operator's control switch.
    pub fn control(&self) -> &ControlSwitch {
        &self.control
    }

    /// The trading path's inbox (the DriftDetector's), where the watcher delivers venue
    /// events: for load tests that queue events behind which nothing may wait.
    pub fn detector_events(&self) -> Recipient<VenueEvent> {
        self.detector.clone().recipient()
    }

    /// An actor panicked (`panic`, as [`contain_panics`] reported it): logs it and raises the
    /// `actor_panicked` alert, which the Notifier records and delivers before the stop ends
    /// (up to [`ALERT_FLUSH_MAX`]). The caller stops the run next.
    pub async fn panicked(&self, panic: &str) {
        tracing::error!(%panic, "a ballast actor failed; stopping cleanly");
        let alert = crate::messages::Alert::new(
            ballast::alerting::AlertDetails::ActorPanicked {
                panic: panic.to_owned(),
            },
            format!("a ballast actor failed ({panic}); the run stopped cleanly"),
            self.handles.time.now(),
        );
        if let Err(error) = self.handles.bus.send(Event::Alert(alert)).await {
            tracing::warn!(%error, "bus gone; alert not raised");
        }
    }

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
        // A harvest in flight finishes its orders (each is durable either way), within what is
        // left of the deadline.
        if let Some(harvester) = &self.harvester
            && tokio::time::timeout(
                deadline.saturating_sub(started.elapsed()),
                harvester.send(Drain),
            )
            .await
            .is_err()
        {
            tracing::warn!("harvest still executing at the shutdown deadline");
        }
        let left = deadline.saturating_sub(started.elapsed());
        if let Some(hedger) = &self.hedger
            && tokio::time::timeout(left, hedger.send(DrainHedges))
                .await
                .is_err()
        {
            // Whatever was in flight is on disk with its key; the next start resolves it.
            tracing::warn!("hedge order still in flight at shutdown deadline");
        }
        // Only now does the stream stop (and with it the gate close).
        let _ = self.watcher.send(StopActor).await;
        // Give the bus a moment to hand the last events to the recorder.
        let _ = tokio::time::timeout(Duration::from_millis(200), async {
            self.handles.bus.send(crate::bus::Flush).await
        })
        .await;
        // The last alerts recorded and delivered before the process goes.
        if tokio::time::timeout(ALERT_FLUSH_MAX, self.notifier.send(FlushAlerts))
            .await
            .is_err()
        {
            tracing::warn!("alerts still being delivered at the stop; the rest are not sent");
        }
        // The last known balances, for `ballast status` and `ballast report`.
        let _ = self.metrics.send(crate::messages::RecordLatest).await;
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
        if let Some(http) = self.http {
            http.stop();
        }
        recorded?;
        Ok(summary)
    }
}

/// The longest a stop waits for the last alerts to be recorded and delivered.
pub const ALERT_FLUSH_MAX: Duration = Duration::from_secs(5);

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

/// Starts the Notifier on the bus: it raises alerts from events, records every alert and
/// delivers them per `[notify]`, off the trading path.
fn start_notifier(
    validated: &Validated,
    store: &Store,
    time: TimeSource,
    run_id: &str,
    bus: &Addr<EventBus>,
) -> Addr<Notifier> {
    let notifier = Notifier::new(
        validated.notify.clone(),
        store.clone(),
        time,
        run_id.to_owned(),
        bus.clone().recipient(),
    )
    .start();
    bus.do_send(Subscribe(notifier.clone().recipient()));
    notifier
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
