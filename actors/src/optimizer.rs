//! The Optimizer: publishes the targets the DriftDetector steers towards.
//!
//! Method `fixed` publishes the configured `[targets]` at start-up and again on each
//! [`RecomputeTargets`]. The estimation methods (`risk-parity`, `min-variance`, `max-sharpe`,
//! `black-litterman`, `kelly`) also publish the configured targets at start-up, then solve:
//! at start-up, on each daily [`Tick`], on a venue `drawdown` event, on a volatility spike in
//! the venue's `price` events, and on [`RecomputeTargets`]. A solve fetches
//! `GET /returns?days=lookback_days`, has the venue adapter turn it into a
//! [`ReturnHistory`](ballast::optimizer::ReturnHistory) and hands that to [`compute_targets`]
//! in `ballast`'s pure core, with the latest balances an event carried as the current weights
//! the turnover controls measure from; this actor only does the I/O and the publishing.
//!
//! Responsiveness: the fetch runs as a spawned future, so the mailbox keeps draining while it
//! is in flight; the solve itself is a few milliseconds of CPU at six services and runs inline.
//! Bursts are bounded by the [`RecomputeGate`]: one solve at a time, at least
//! `min_interval_secs` of venue time between starts, and triggers in between merged into one
//! deferred solve.
//!
//! While the event stream is down or resyncing (the [`TradingGate`] is closed) a due solve
//! waits: it starts only once a fresh snapshot has reopened the gate, so targets are never
//! computed while the venue view is stale.
//!
//! # Invariants
//! - Only validated [`TargetAllocation`]s are published, and a computed one only if every
//!   weight is finite, within the bounds, and the solve converged. Otherwise the previous
//!   targets stay, a structured warning says why, the refusal is counted, and a
//!   [`TargetsRefused`] goes to the bus.
//! - At most one `/returns` fetch is in flight.

use std::collections::BTreeMap;

use actix::{
    Actor, ActorFutureExt, AsyncContext, Context, Handler, MessageResponse, Recipient, WrapFuture,
};
use ballast::{
    observation::Happening,
    optimizer::{
        GateDecision, OptimizeError, OptimizerConfig, RecomputeGate, TargetDiagnostics,
        VolSpikeDetector, compute_targets_near,
    },
    service::ServiceMap,
    targets::TargetAllocation,
    venue::{
        client::{ClientError, VenueClient},
        protocol::ReturnsResponse,
    },
};
use rust_decimal::Decimal;
use serde::Serialize;
use tracing::{debug, info, warn};

use crate::{
    clock::TimeSource,
    gate::TradingGate,
    messages::{
        Event, GetOptimizerStats, RecomputeTargets, TargetsRefused, TargetsUpdated, Tick,
        VenueEvent,
    },
};

/// Mailbox capacity: venue events arrive best-effort from the watcher (prices every few venue
/// hours, drawdowns rarely), plus ticks and requests; each is handled in microseconds.
pub const OPTIMIZER_MAILBOX_CAPACITY: usize = 256;

/// The `kind` of a refusal whose `/returns` fetch failed.
pub const FETCH_FAILED: &str = "fetch_failed";

/// The optimizer's counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, MessageResponse)]
pub struct OptimizerStats {
    /// Solves started (each fetched `/returns` once).
    pub solves: u64,
    /// Target updates published, configured ones included.
    pub published: u64,
    /// Solves whose result was refused or whose fetch failed; the previous targets stayed.
    pub refused: u64,
    /// Refusals by cause (`out_of_bounds`, `solve_failed`, `fetch_failed`, ...).
    pub refused_by_kind: BTreeMap<String, u64>,
    /// Triggers merged into a pending solve.
    pub coalesced: u64,
    /// The last refusal's cause.
    pub last_refusal: Option<String>,
    /// The targets in force.
    pub targets: ServiceMap<Decimal>,
}

/// How often a solve held by a closed trading gate looks again.
const STALE_RECHECK: std::time::Duration = std::time::Duration::from_millis(250);

/// The optimizer.
#[derive(Debug)]
pub struct Optimizer {
    config: OptimizerConfig,
    configured: TargetAllocation,
    client: VenueClient,
    time: TimeSource,
    gate: RecomputeGate,
    trading: TradingGate,
    spikes: VolSpikeDetector,
    stats: OptimizerStats,
    /// The latest balances an event carried: the current weights the turnover controls
    /// measure from (the targets in force until one arrives).
    current: Option<ServiceMap<Decimal>>,
    detector: Recipient<TargetsUpdated>,
    bus: Recipient<Event>,
}

impl Optimizer {
    /// An optimizer starting from the configured `targets`, fetching returns with `client`.
    pub fn new(
        config: OptimizerConfig,
        targets: TargetAllocation,
        client: VenueClient,
        time: TimeSource,
        trading: TradingGate,
        detector: Recipient<TargetsUpdated>,
        bus: Recipient<Event>,
    ) -> Self {
        Self {
            gate: RecomputeGate::new(config.min_interval),
            trading,
            spikes: VolSpikeDetector::new(config.vol_spike),
            stats: OptimizerStats {
                targets: *targets.weights(),
                ..OptimizerStats::default()
            },
            config,
            configured: targets,
            client,
            time,
            current: None,
            detector,
            bus,
        }
    }

    fn estimates(&self) -> bool {
        self.config.method.estimates()
    }

    fn publish(
        &mut self,
        targets: TargetAllocation,
        diagnostics: TargetDiagnostics,
        reason: String,
    ) {
        info!(
            method = %self.config.method,
            %reason,
            %diagnostics,
            "targets updated"
        );
        self.stats.published += 1;
        self.stats.targets = *targets.weights();
        let update = TargetsUpdated {
            targets,
            method: self.config.method,
            diagnostics,
            reason,
        };
        let _ = self.bus.try_send(update.clone().into());
        if let Err(error) = self.detector.try_send(update) {
            warn!(%error, "detector did not take the targets");
        }
    }

    fn refuse(&mut self, reason: String, kind: &'static str, error: String) {
        self.stats.refused += 1;
        *self
            .stats
            .refused_by_kind
            .entry(kind.to_owned())
            .or_default() += 1;
        self.stats.last_refusal = Some(error.clone());
        warn!(
            method = %self.config.method,
            %reason,
            kind,
            %error,
            refusals = self.stats.refused,
            "targets refused; keeping the previous ones"
        );
        let _ = self.bus.try_send(
            TargetsRefused {
                method: self.config.method,
                reason,
                kind,
                error,
                refusals: self.stats.refused,
            }
            .into(),
        );
    }

    /// A trigger: solve now, later, or fold into the pending solve (see [`RecomputeGate`]).
    fn trigger(&mut self, ctx: &mut Context<Self>, reason: String) {
        let decision = self.gate.request(self.time.now(), reason);
        self.follow(ctx, decision);
    }

    fn follow(&mut self, ctx: &mut Context<Self>, decision: GateDecision) {
        match decision {
            GateDecision::Start { reason } => self.start_solve(ctx, reason),
            GateDecision::DeferUntil(at) => {
                let wait = self.time.real_wait_until(at);
                debug!(
                    wait_ms = wait.as_millis() as u64,
                    "recompute deferred by the minimum interval"
                );
                ctx.run_later(wait, |optimizer, ctx| {
                    let decision = optimizer.gate.deferred_due(optimizer.time.now());
                    optimizer.follow(ctx, decision);
                });
            }
            GateDecision::Coalesced => {
                self.stats.coalesced = self.gate.coalesced();
                debug!(
                    coalesced = self.stats.coalesced,
                    "recompute merged into the pending one"
                );
            }
            GateDecision::Idle => {}
        }
    }

    fn start_solve(&mut self, ctx: &mut Context<Self>, reason: String) {
        if !self.trading.is_open() {
            // Stale venue view: hold the solve (the recompute gate keeps it in flight, so
            // triggers meanwhile merge into it) until a fresh snapshot reopens the gate.
            debug!(%reason, "recompute waits for the stream to resync");
            ctx.run_later(STALE_RECHECK, move |optimizer, ctx| {
                optimizer.start_solve(ctx, reason);
            });
            return;
        }
        self.stats.solves += 1;
        let client = self.client.clone();
        let days = self.config.lookback_days;
        // Spawned, not awaited in the handler: the mailbox keeps draining during the fetch.
        let fetch = async move { client.returns(days).await };
        ctx.spawn(fetch.into_actor(self).map(move |result, optimizer, ctx| {
            optimizer.finish_solve(reason, result);
            let decision = optimizer.gate.finished(optimizer.time.now());
            optimizer.follow(ctx, decision);
        }));
    }

    fn finish_solve(&mut self, reason: String, result: Result<ReturnsResponse, ClientError>) {
        let returns = match result {
            Ok(returns) => returns,
            Err(error) => return self.refuse(reason, FETCH_FAILED, error.to_string()),
        };
        // CPU work, inline: a few milliseconds for six services.
        let current = self.current.unwrap_or(self.stats.targets);
        let computed = returns
            .to_history()
            .map_err(OptimizeError::from)
            .and_then(|history| {
                compute_targets_near(&history, &self.config, &self.configured, &current)
            });
        match computed {
            Ok(computed) => {
                if let Some(gap) = &computed.diagnostics.equal_risk_gap {
                    warn!(method = %self.config.method, %gap, "targets published within bounds that bind");
                }
                self.publish(
                    computed.targets,
                    TargetDiagnostics::Optimal(Box::new(computed.diagnostics)),
                    reason,
                )
            }
            Err(error) => self.refuse(reason, error.kind(), error.to_string()),
        }
    }
}

impl Actor for Optimizer {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(OPTIMIZER_MAILBOX_CAPACITY);
        // The configured targets first, so subscribers that start now have some; an estimating
        // method replaces them as soon as its first solve succeeds.
        self.publish(
            self.configured.clone(),
            TargetDiagnostics::Configured,
            "start-up".to_owned(),
        );
        if self.estimates() {
            self.trigger(ctx, "start-up".to_owned());
        }
    }
}

impl Handler<Tick> for Optimizer {
    type Result = ();

    fn handle(&mut self, _tick: Tick, ctx: &mut Self::Context) {
        // Fixed targets do not change; estimated ones are refreshed daily.
        if self.estimates() {
            self.trigger(ctx, "daily tick".to_owned());
        }
    }
}

impl Handler<VenueEvent> for Optimizer {
    type Result = ();

    fn handle(&mut self, event: VenueEvent, ctx: &mut Self::Context) {
        if let Some(snapshot) = &event.observation.snapshot {
            self.current = Some(snapshot.balances_usdc);
        }
        if !self.estimates() {
            return;
        }
        match &event.observation.what {
            Happening::Drawdown { service, drawdown } => {
                self.trigger(ctx, format!("{service} drawdown {drawdown}"));
            }
            Happening::Prices { prices_usdc } => {
                for spike in self.spikes.observe_prices(prices_usdc) {
                    info!(
                        asset = %spike.asset,
                        recent_vol = spike.recent_vol,
                        baseline_vol = spike.baseline_vol,
                        "volatility spike"
                    );
                    self.trigger(
                        ctx,
                        format!(
                            "{} volatility spike ({:.2}% vs {:.2}% per move)",
                            spike.asset,
                            100.0 * spike.recent_vol,
                            100.0 * spike.baseline_vol
                        ),
                    );
                }
            }
            _ => {}
        }
    }
}

impl Handler<RecomputeTargets> for Optimizer {
    type Result = ();

    fn handle(&mut self, message: RecomputeTargets, ctx: &mut Self::Context) {
        info!(method = %self.config.method, reason = %message.reason, "recompute requested");
        if self.estimates() {
            self.trigger(ctx, message.reason);
        } else {
            self.publish(
                self.configured.clone(),
                TargetDiagnostics::Configured,
                message.reason,
            );
        }
    }
}

impl Handler<GetOptimizerStats> for Optimizer {
    type Result = OptimizerStats;

    fn handle(&mut self, _message: GetOptimizerStats, _ctx: &mut Self::Context) -> OptimizerStats {
        OptimizerStats {
            coalesced: self.gate.coalesced(),
            ..self.stats.clone()
        }
    }
}
