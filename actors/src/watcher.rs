//! The BalanceWatcher: keeps the venue's event stream open and balances fresh.
//!
//! On start it fetches a REST snapshot (the resync that arms the DriftDetector) and opens
//! the websocket stream after the stored cursor. Each event goes to the bus, to the Optimizer
//! (best-effort), and to the detector in order. A disconnect pauses trading (`StreamStatus::Reconnecting`); a new
//! connection or a sequence gap fetches a fresh REST snapshot before trading resumes. On
//! each [`Tick`] it fetches a REST snapshot for the daily check.
//!
//! On [`ConfirmBalances`] (the detector holds an implausible jump) it fetches a REST snapshot
//! and delivers it as [`SnapshotSource::Confirm`], retried like a resync until one arrives.
//!
//! Each REST snapshot is also a sync check: when it is at the same event `seq` as the last
//! balances ballast holds, no announced event can explain a difference, and one above
//! `venue.balance_alert_fraction` of the portfolio raises a [`BalanceMismatch`] alert.
//!
//! A REST snapshot whose `seq` is below the cursor (as it stood when the fetch started), or a
//! stream whose first frame is far below it, means the venue's event numbering changed (a
//! venue restarted without its log): the watcher raises [`StreamStatus::Renumbered`], starts a
//! new numbering epoch, moves the stored cursor down to the new numbering, tells the stream
//! to follow it, and resyncs. Without this, every event of the new numbering would look old
//! and be dropped, and ballast would go deaf.
//!
//! # Invariants
//! - The [`TradingGate`] closes on every disconnect or gap, before the status reaches the
//!   detector, and reopens only when a snapshot fetched after the last close has been
//!   taken by the detector. A resync snapshot fetched before a later close is dropped.
//! - Events reach the detector in `seq` order, each once (the stream drops duplicates),
//!   with backpressure: the next event waits until the detector has taken the previous one.
//! - The cursor is persisted at most every [`CURSOR_SAVE_INTERVAL`] and on stop. A restart
//!   may therefore replay a few events; replays are harmless because every plan is named
//!   after its trigger, and a trigger already planned by an earlier run is not planned again.
//! - A renumbering closes the gate and reaches the detector before any event of the new
//!   numbering.

use std::{sync::Arc, time::Duration};

use actix::{
    Actor, ActorFutureExt, AsyncContext, Context, Handler, Recipient, StreamHandler, WrapFuture,
};
use ballast::{
    portfolio::{PortfolioSnapshot, unexplained_changes},
    store::Store,
    venue::{
        client::VenueClient,
        stream::{StreamConfig, StreamItem, run_event_stream_rebasing},
    },
};
use rust_decimal::Decimal;
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use crate::{
    clock::TimeSource,
    gate::{NumberingEpoch, TradingGate},
    messages::{
        BalanceMismatch, BalancesObserved, ConfirmBalances, Event, SnapshotSource, StreamStatus,
        Tick, VenueEvent,
    },
};

/// Stream items buffered between the socket task and the actor.
pub const STREAM_BUFFER: usize = 1_024;
/// Mailbox capacity (ticks only arrive here; events come through the stream).
pub const WATCHER_MAILBOX_CAPACITY: usize = 64;
/// Cursor persistence interval.
pub const CURSOR_SAVE_INTERVAL: Duration = Duration::from_millis(250);

/// Where the watcher sends what it observes.
#[derive(Debug, Clone)]
pub struct WatcherPeers {
    /// Snapshots for the detector.
    pub balances: Recipient<BalancesObserved>,
    /// Events for the detector.
    pub events: Recipient<VenueEvent>,
    /// Stream health for the detector.
    pub status: Recipient<StreamStatus>,
    /// Events for the Optimizer (drawdowns and prices trigger recomputes). Best-effort: it is
    /// off the trading path, so a full mailbox loses the event (logged) instead of stalling.
    pub optimizer: Recipient<VenueEvent>,
    /// Everything, for observers.
    pub bus: Recipient<Event>,
}

/// The watcher.
#[derive(Debug)]
pub struct BalanceWatcher {
    client: VenueClient,
    stream: StreamConfig,
    store: Store,
    time: TimeSource,
    since: u64,
    /// The venue's numbering epoch: resets seen on this stream (shared with the executor).
    epoch: NumberingEpoch,
    peers: WatcherPeers,
    gate: TradingGate,
    shutdown: Option<watch::Sender<bool>>,
    /// Tells the stream task to follow a new numbering from a given cursor.
    rebase: Option<mpsc::UnboundedSender<u64>>,
    unsaved_seq: Option<u64>,
    /// The latest balances known, from an event frame or a REST snapshot, with their `seq`.
    held: Option<PortfolioSnapshot>,
    balance_alert_fraction: Decimal,
}

impl BalanceWatcher {
    /// A watcher resuming after `cursor`, keeping `epoch` (which starts at the cursor's) up
    /// to date.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        client: VenueClient,
        stream: StreamConfig,
        store: Store,
        time: TimeSource,
        cursor: ballast::store::Cursor,
        epoch: NumberingEpoch,
        peers: WatcherPeers,
        gate: TradingGate,
    ) -> Self {
        epoch.set(cursor.epoch);
        Self {
            client,
            stream,
            store,
            time,
            since: cursor.seq,
            epoch,
            peers,
            gate,
            shutdown: None,
            rebase: None,
            unsaved_seq: None,
            held: None,
            balance_alert_fraction: Decimal::ZERO,
        }
    }

    /// Raises a [`BalanceMismatch`] when a REST snapshot shows an unannounced change above
    /// `fraction` of the portfolio (0, the default, disables the check).
    #[must_use]
    pub fn balance_alert(mut self, fraction: Decimal) -> Self {
        self.balance_alert_fraction = fraction;
        self
    }

    /// Compares a fresh REST snapshot with the held view, alerting on unexplained changes.
    fn sync_check(&mut self, fresh: &PortfolioSnapshot, source: SnapshotSource) {
        if let Some(held) = &self.held {
            let changes = unexplained_changes(held, fresh, self.balance_alert_fraction);
            if let (false, Some(seq)) = (changes.is_empty(), fresh.seq) {
                for change in &changes {
                    warn!(service = change.service.name(), held_usdc = %change.held_usdc,
                          venue_usdc = %change.venue_usdc, seq, ?source,
                          "balance changed with no venue event");
                }
                self.publish(
                    BalanceMismatch {
                        changes,
                        seq,
                        at: self.time.now(),
                        source,
                    }
                    .into(),
                );
            }
        }
        self.held = Some(fresh.clone());
    }

    /// Fetches a REST snapshot and delivers it; failures are logged (the next trigger or
    /// reconnect retries), and trading stays paused if this was a resync.
    fn fetch_snapshot(&self, ctx: &mut Context<Self>, source: SnapshotSource) {
        self.fetch_snapshot_attempt(ctx, source, 0);
    }

    /// One try of [`Self::fetch_snapshot`]. A failed resync is retried with the stream's
    /// backoff (or the venue's `Retry-After`) for as long as the connection it belongs to
    /// lasts: trading stays paused until one succeeds, so giving up would pause it for good.
    fn fetch_snapshot_attempt(
        &self,
        ctx: &mut Context<Self>,
        source: SnapshotSource,
        attempt: u32,
    ) {
        let client = self.client.clone();
        let epoch = self.gate.epoch();
        // The venue's numbering cannot be below what was delivered before the fetch began.
        let cursor_before = self.since;
        let fetch = async move { client.portfolio().await };
        ctx.spawn(fetch.into_actor(self).map(move |result, watcher, ctx| {
            if source == SnapshotSource::Resync && watcher.gate.epoch() != epoch {
                // The stream dropped again while this was in flight; the next connection
                // fetches its own snapshot.
                info!(epoch, "stale resync snapshot dropped");
                return;
            }
            let outcome = match result {
                Ok(portfolio) => portfolio.to_snapshot().map_err(|e| (e.to_string(), None)),
                Err(error) => Err((error.to_string(), error.retry_after())),
            };
            let snapshot = match outcome {
                Ok(snapshot) => snapshot,
                Err((error, retry_after)) => {
                    warn!(%error, ?source, attempt, "portfolio fetch failed");
                    // A held jump waits for its confirmation as trading waits for a resync.
                    if matches!(source, SnapshotSource::Resync | SnapshotSource::Confirm) {
                        let next = attempt.saturating_add(1);
                        let delay = retry_after
                            .unwrap_or_else(|| watcher.stream.backoff.jittered_delay(next));
                        ctx.run_later(delay, move |watcher, ctx| {
                            if source == SnapshotSource::Confirm || watcher.gate.epoch() == epoch {
                                watcher.fetch_snapshot_attempt(ctx, source, next);
                            }
                        });
                    }
                    return;
                }
            };
            if let Some(venue_seq) = snapshot.seq.filter(|seq| *seq < cursor_before)
                && watcher.gate.epoch() == epoch
            {
                // The stream reconnects from the new numbering and its resync follows.
                watcher.renumbered(ctx, venue_seq);
                if let Some(rebase) = &watcher.rebase {
                    let _ = rebase.send(venue_seq);
                }
                return;
            }
            watcher.sync_check(&snapshot, source);
            let message = BalancesObserved {
                snapshot,
                at: watcher.time.now(),
                source,
            };
            watcher.publish(message.clone().into());
            let delivered = watcher.peers.balances.send(message);
            ctx.wait(
                delivered
                    .into_actor(watcher)
                    .map(move |result, watcher, _| {
                        if source == SnapshotSource::Resync
                            && result.is_ok()
                            && watcher.gate.open_if(epoch)
                        {
                            info!(epoch, "trading resumed after resync");
                        }
                    }),
            );
        }));
    }

    /// Waits for the detector to take `send` before the actor handles anything else:
    /// ordering plus backpressure on the stream.
    fn send_in_order<M>(&self, ctx: &mut Context<Self>, send: actix::dev::RecipientRequest<M>)
    where
        M: actix::Message + Send + 'static,
        M::Result: Send,
    {
        ctx.wait(send.into_actor(self).map(|_, _, _| ()));
    }

    /// The venue's numbering changed; it stands at `venue_seq` now. Alerts, starts a new
    /// epoch, moves the stored cursor down, closes the gate and tells the detector before any
    /// event of the new numbering. The caller arranges the resync.
    fn renumbered(&mut self, ctx: &mut Context<Self>, venue_seq: u64) {
        let cursor = self.since;
        self.gate.close();
        let epoch = self.epoch.get().saturating_add(1);
        self.epoch.set(epoch);
        self.since = venue_seq;
        self.unsaved_seq = None;
        // The held balances are numbered in the old scheme: no sync check against them.
        self.held = None;
        warn!(
            cursor,
            venue_seq,
            epoch,
            "ALERT: the venue's event numbering changed; re-baselining on a fresh snapshot"
        );
        let store = self.store.clone();
        let stream = cursor_key(&self.stream);
        actix::spawn(async move {
            if let Err(error) = store.rebase_cursor(&stream, venue_seq, epoch).await {
                warn!(%error, venue_seq, "re-baselined cursor not saved");
            }
        });
        let status = StreamStatus::Renumbered {
            cursor,
            venue_seq,
            epoch,
        };
        self.publish(status.clone().into());
        self.send_in_order(ctx, self.peers.status.send(status));
    }

    fn publish(&self, event: Event) {
        // Observers are best-effort; the bus logs what it cannot deliver.
        let _ = self.peers.bus.try_send(event);
    }

    fn save_cursor(&mut self) {
        if let Some(seq) = self.unsaved_seq.take() {
            let store = self.store.clone();
            let stream = cursor_key(&self.stream);
            actix::spawn(async move {
                if let Err(error) = store.save_cursor(&stream, seq).await {
                    warn!(%error, seq, "cursor not saved");
                }
            });
        }
    }
}

/// The store's cursor key for a stream: one agent on one venue.
pub fn cursor_key(stream: &StreamConfig) -> String {
    stream_name(&stream.base_url, &stream.agent_id)
}

/// The name of an agent's event stream at a venue, `{api_base_url}#{agent_id}`: what plan and
/// hedge names carry as their venue tag.
pub fn stream_name(base_url: &str, agent_id: &str) -> String {
    format!("{base_url}#{agent_id}")
}

impl Actor for BalanceWatcher {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(WATCHER_MAILBOX_CAPACITY);
        let (items_tx, items_rx) = mpsc::channel(STREAM_BUFFER);
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let (rebase_tx, rebase_rx) = mpsc::unbounded_channel();
        self.shutdown = Some(shutdown_tx);
        self.rebase = Some(rebase_tx);
        actix::spawn(run_event_stream_rebasing(
            self.stream.clone(),
            self.since,
            items_tx,
            shutdown_rx,
            rebase_rx,
        ));
        ctx.add_stream(futures_util::stream::unfold(
            items_rx,
            |mut rx| async move { rx.recv().await.map(|item| (item, rx)) },
        ));
        ctx.run_interval(CURSOR_SAVE_INTERVAL, |watcher, _| watcher.save_cursor());
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        self.gate.close();
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(true);
        }
        self.save_cursor();
    }
}

impl StreamHandler<StreamItem> for BalanceWatcher {
    fn handle(&mut self, item: StreamItem, ctx: &mut Self::Context) {
        match item {
            StreamItem::Event(observation) => {
                let seq = observation.seq;
                if let Some(snapshot) = &observation.snapshot {
                    self.held = Some(snapshot.clone());
                }
                self.since = seq;
                self.unsaved_seq = Some(seq);
                let event = VenueEvent {
                    observation: Arc::from(observation),
                };
                self.publish(event.clone().into());
                if let Err(error) = self.peers.optimizer.try_send(event.clone()) {
                    warn!(%error, seq, "optimizer mailbox full; event not delivered to it");
                }
                // Wait for the detector to take it: ordering plus backpressure.
                self.send_in_order(ctx, self.peers.events.send(event));
            }
            StreamItem::Connected { since, connection } => {
                info!(since, connection, "event stream connected");
                let status = StreamStatus::Connected { since, connection };
                self.publish(status.clone().into());
                let _ = self.peers.status.try_send(status);
                self.fetch_snapshot(ctx, SnapshotSource::Resync);
            }
            StreamItem::Gap { after, next } => {
                self.gate.close();
                warn!(after, next, "event sequence gap; resyncing");
                let status = StreamStatus::Gap { after, next };
                self.publish(status.clone().into());
                self.send_in_order(ctx, self.peers.status.send(status));
                self.fetch_snapshot(ctx, SnapshotSource::Resync);
            }
            StreamItem::Renumbered { first, .. } => {
                // The stream follows the new numbering from `first` (delivered next).
                self.renumbered(ctx, first.saturating_sub(1));
                self.fetch_snapshot(ctx, SnapshotSource::Resync);
            }
            StreamItem::Malformed(error) => {
                self.publish(
                    StreamStatus::Malformed {
                        error: error.to_string(),
                    }
                    .into(),
                );
            }
            StreamItem::Disconnected { reason, .. } => {
                self.gate.close();
                let status = StreamStatus::Reconnecting { reason };
                self.publish(status.clone().into());
                self.send_in_order(ctx, self.peers.status.send(status));
            }
        }
    }

    fn finished(&mut self, _ctx: &mut Self::Context) {
        // The socket task ended (shutdown): nothing more will arrive; keep the actor for
        // ticks until the system stops.
    }
}

impl Handler<Tick> for BalanceWatcher {
    type Result = ();

    fn handle(&mut self, tick: Tick, ctx: &mut Self::Context) {
        self.publish(tick.into());
        self.fetch_snapshot(ctx, SnapshotSource::Tick);
    }
}

impl Handler<ConfirmBalances> for BalanceWatcher {
    type Result = ();

    fn handle(&mut self, request: ConfirmBalances, ctx: &mut Self::Context) {
        info!(reason = %request.reason, "fetching a snapshot to confirm a change");
        self.fetch_snapshot(ctx, SnapshotSource::Confirm);
    }
}
