//! The Notifier: raises alerts from what it sees on the bus, records every alert in the store,
//! and delivers them to the operator (a webhook POST, a command with the body on stdin).
//!
//! It subscribes to the bus like the MetricsRecorder, so it never sits on the trading path.
//! From the events it raises balance mismatches, repeated leg failures ([`LegFailureCounter`]),
//! a stream down too long (a timer of `notify.stream_down_secs` wall seconds from the stream's
//! loss), refused targets, plans the risk limits refused ([`crate::messages::PlanRefused`]),
//! the operator's halts ([`crate::messages::ControlApplied`]), implausible jumps a fresh
//! snapshot did not confirm ([`crate::messages::ImplausibleChange`]), the venue renumbering
//! its events, replies that do not match their request ([`crate::messages::ReplyMismatched`]),
//! legs another companion superseded and plans the store could not record
//! ([`crate::messages::PlanDropped`]), tax-loss harvests a risk limit or the venue refused
//! ([`crate::messages::HarvestDecided`]; not those the operator's pause or halt held) and
//! wallet buys the wash-sale rule refused ([`crate::messages::WashSaleBuyPrevented`]); it
//! publishes them to the bus,
//! where they come back as [`Alert`]s like those any other actor sends. Each [`Alert`] is
//! recorded, and, at or above `notify.min_severity`, put on a bounded delivery queue.
//!
//! A delivery worker (a task of its own) takes alerts off the queue one at a time and hands
//! the JSON body ([`NotificationBody`]) to each target, retrying with capped, jittered backoff
//! up to `notify.max_attempts`, each attempt bounded by `notify.timeout_ms`. A slow or dead
//! webhook only delays later notifications.
//!
//! # Invariants
//! - Nothing here is awaited by the trading path: the queue is bounded, and when it is full
//!   the oldest waiting alert is dropped (counted), never the caller blocked.
//! - Every alert is recorded in the store whether or not delivery is configured.
//! - The webhook URL may carry a token: it is never logged or printed beyond its host.

use std::{
    collections::VecDeque,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use actix::{Actor, AsyncContext, Context, Handler, MessageResponse, Recipient, ResponseFuture};
use ballast::{
    alerting::{AlertDetails, LegFailureCounter, NotificationBody, Severity},
    control::Command,
    money::format_usdc,
    policy::plausibility::PlausibilityNotice,
    store::{AlertRecord, Store},
    tax::HarvestOutcome,
    venue::backoff::Backoff,
};
use serde::Serialize;
use tokio::sync::Notify;
use tracing::{debug, warn};

use crate::{
    clock::TimeSource,
    messages::{Alert, DropReason, Event, GetNotifierStats, StreamStatus},
};

/// Mailbox capacity; the bus drops (and counts) what does not fit.
pub const NOTIFIER_MAILBOX_CAPACITY: usize = 1_024;

/// Where and how alerts are delivered, and when they are raised.
#[derive(Clone)]
pub struct NotifyConfig {
    /// POST each alert here; `None` for no webhook.
    pub webhook_url: Option<String>,
    /// Run this (program, then arguments) with the body on stdin; `None` for no command.
    pub command: Option<Vec<String>>,
    /// Least severity delivered.
    pub min_severity: Severity,
    /// Attempts per delivery target.
    pub max_attempts: u32,
    /// Delay between attempts.
    pub backoff: Backoff,
    /// Bound on one attempt.
    pub timeout: Duration,
    /// Alerts waiting for delivery.
    pub queue_capacity: usize,
    /// Sent legs failing in a row that raise an alert.
    pub leg_failures: u32,
    /// Stream-down time that raises an alert.
    pub stream_down: Duration,
}

impl std::fmt::Debug for NotifyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifyConfig")
            .field("webhook", &self.webhook_url.as_deref().map(redact_url))
            .field("command", &self.command.as_ref().and_then(|c| c.first()))
            .field("min_severity", &self.min_severity)
            .field("max_attempts", &self.max_attempts)
            .field("timeout", &self.timeout)
            .field("queue_capacity", &self.queue_capacity)
            .finish_non_exhaustive()
    }
}

/// A URL reduced to its scheme and host (`https://hooks.example.com/…`): webhook paths and
/// queries often carry tokens.
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) => format!(
            "{}://{}/…",
            parsed.scheme(),
            parsed.host_str().unwrap_or("?")
        ),
        Err(_) => "(not a URL)".to_owned(),
    }
}

/// The Notifier's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, MessageResponse)]
pub struct NotifierStats {
    /// Alerts seen (raised here or sent by other actors).
    pub alerts: u64,
    /// Alerts put on the delivery queue.
    pub queued: u64,
    /// Deliveries that succeeded (one per target).
    pub delivered: u64,
    /// Deliveries given up after every attempt.
    pub failed: u64,
    /// Alerts dropped from a full queue.
    pub dropped: u64,
}

/// The delivery queue shared with the worker, and the counters the worker updates.
#[derive(Debug, Default)]
struct Shared {
    queue: Mutex<VecDeque<String>>,
    stats: Mutex<NotifierStats>,
    wake: Notify,
    /// Alerts whose store write has not finished.
    recording: AtomicUsize,
    /// The worker is delivering an alert it took off the queue (set under the queue's lock).
    delivering: AtomicBool,
}

impl Shared {
    fn stats(&self) -> std::sync::MutexGuard<'_, NotifierStats> {
        // A poisoned lock only means a panic elsewhere mid-update; the counts stay usable.
        self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, VecDeque<String>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every alert handled so far is recorded and delivered (or given up).
    fn idle(&self) -> bool {
        let queue = self.queue();
        queue.is_empty()
            && !self.delivering.load(Ordering::Acquire)
            && self.recording.load(Ordering::Acquire) == 0
    }
}

/// The Notifier.
#[derive(Debug)]
pub struct Notifier {
    config: NotifyConfig,
    store: Store,
    time: TimeSource,
    run_id: String,
    bus: Recipient<Event>,
    legs: LegFailureCounter,
    /// Bumped when the stream goes down, so a timer from an earlier outage does nothing.
    outage: u64,
    down: Option<(tokio::time::Instant, String)>,
    shared: Arc<Shared>,
}

impl Notifier {
    /// A notifier for `run_id`, publishing the alerts it raises on `bus`.
    pub fn new(
        config: NotifyConfig,
        store: Store,
        time: TimeSource,
        run_id: String,
        bus: Recipient<Event>,
    ) -> Self {
        Self {
            legs: LegFailureCounter::new(config.leg_failures),
            config,
            store,
            time,
            run_id,
            bus,
            outage: 0,
            down: None,
            shared: Arc::default(),
        }
    }

    /// Raises an alert: to the bus, which hands it back to every subscriber, this one included.
    fn raise(&self, details: AlertDetails, message: String) {
        let alert = Alert::new(details, message, self.time.now());
        if self.bus.try_send(alert.into()).is_err() {
            warn!("bus full; alert not published");
        }
    }

    fn on_stream(&mut self, status: &StreamStatus, ctx: &mut Context<Self>) {
        match status {
            StreamStatus::Connected { .. } => self.down = None,
            StreamStatus::Reconnecting { reason } if self.down.is_none() => {
                self.outage += 1;
                let outage = self.outage;
                self.down = Some((tokio::time::Instant::now(), reason.clone()));
                ctx.run_later(self.config.stream_down, move |notifier, _ctx| {
                    let Some((since, reason)) = notifier.down.clone() else {
                        return;
                    };
                    if notifier.outage != outage {
                        return;
                    }
                    let down_secs = since.elapsed().as_secs();
                    notifier.raise(
                        AlertDetails::StreamDown {
                            down_secs,
                            reason: reason.clone(),
                        },
                        format!(
                            "event stream down for {down_secs} s ({reason}); nothing is traded \
                             until it resyncs"
                        ),
                    );
                });
            }
            StreamStatus::Renumbered {
                cursor,
                venue_seq,
                epoch,
            } => self.raise(
                AlertDetails::NumberingReset {
                    cursor: *cursor,
                    venue_seq: *venue_seq,
                    epoch: *epoch,
                },
                format!(
                    "the venue's event numbering started over (ballast was at event {cursor}, \
                     the venue is at {venue_seq}); re-baselined on a fresh snapshot, names now \
                     in epoch {epoch}"
                ),
            ),
            _ => {}
        }
    }

    /// Records `alert` and queues it for delivery when its severity is high enough.
    fn handle_alert(&mut self, alert: Alert) {
        self.shared.stats().alerts += 1;
        let body = NotificationBody {
            kind: alert.kind,
            severity: alert.severity,
            message: &alert.message,
            run_id: &self.run_id,
            at: alert.at,
            details: &alert.details,
        };
        let json = match serde_json::to_string(&body) {
            Ok(json) => json,
            Err(error) => {
                warn!(%error, kind = alert.kind.name(), "alert body not encoded");
                return;
            }
        };
        let record = AlertRecord {
            at: alert.at,
            run_id: self.run_id.clone(),
            kind: alert.kind.name().to_owned(),
            severity: alert.severity.name().to_owned(),
            message: alert.message.clone(),
            details: serde_json::to_value(&alert.details).unwrap_or_default(),
        };
        let store = self.store.clone();
        let shared = self.shared.clone();
        shared.recording.fetch_add(1, Ordering::AcqRel);
        actix::spawn(async move {
            if let Err(error) = store.record_alert(record).await {
                warn!(%error, "alert not recorded");
            }
            shared.recording.fetch_sub(1, Ordering::AcqRel);
        });
        let configured = self.config.webhook_url.is_some() || self.config.command.is_some();
        if !configured || alert.severity < self.config.min_severity {
            return;
        }
        let mut queue = self.shared.queue();
        if queue.len() >= self.config.queue_capacity.max(1) {
            queue.pop_front();
            self.shared.stats().dropped += 1;
            warn!("notification queue full; the oldest waiting alert was dropped");
        }
        queue.push_back(json);
        drop(queue);
        self.shared.stats().queued += 1;
        self.shared.wake.notify_one();
    }
}

impl Actor for Notifier {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(NOTIFIER_MAILBOX_CAPACITY);
        if self.config.webhook_url.is_none() && self.config.command.is_none() {
            return;
        }
        let worker = Worker {
            config: self.config.clone(),
            shared: self.shared.clone(),
            http: http_client(self.config.timeout),
        };
        // A task of its own: a slow target never holds up this actor's mailbox.
        actix::spawn(worker.run());
    }
}

impl Handler<Event> for Notifier {
    type Result = ();

    fn handle(&mut self, event: Event, ctx: &mut Self::Context) {
        match event {
            Event::Alert(alert) => self.handle_alert(alert),
            Event::Mismatch(mismatch) => {
                let changes: Vec<String> = mismatch
                    .changes
                    .iter()
                    .map(|c| {
                        format!(
                            "{} {} -> {}",
                            c.service.name(),
                            format_usdc(c.held_usdc),
                            format_usdc(c.venue_usdc)
                        )
                    })
                    .collect();
                self.raise(
                    AlertDetails::BalanceMismatch {
                        seq: mismatch.seq,
                        changes: mismatch.changes.clone(),
                    },
                    format!(
                        "balances changed with no venue event (at event #{}): {}",
                        mismatch.seq,
                        changes.join(", ")
                    ),
                );
            }
            Event::TargetsRefused(refused) => self.raise(
                AlertDetails::TargetsRefused {
                    method: refused.method.name().to_owned(),
                    cause: refused.kind.to_owned(),
                    error: refused.error.clone(),
                    refusals: refused.refusals,
                },
                format!(
                    "optimizer ({}) result refused [{}]: {}; the previous targets stay",
                    refused.method, refused.kind, refused.error
                ),
            ),
            Event::Refused(refused) => {
                let refusals: Vec<String> =
                    refused.refusals.iter().map(ToString::to_string).collect();
                let message = format!(
                    "plan {} refused by risk limits; nothing sent: {}",
                    refused.plan_id,
                    refusals.join("; ")
                );
                self.raise(
                    AlertDetails::RiskRefused {
                        plan_id: refused.plan_id.to_string(),
                        refusals,
                    },
                    message,
                );
            }
            Event::Control(control) if control.record.command == Command::Halt => {
                let record = control.record;
                let message = if record.reason.is_empty() {
                    format!("trading halted by {}", record.by)
                } else {
                    format!("trading halted by {}: {}", record.by, record.reason)
                };
                self.raise(
                    AlertDetails::Halt {
                        source: record.by,
                        reason: record.reason,
                    },
                    message,
                );
            }
            Event::Implausible(change) => {
                let message = change.notice.describe();
                if let PlausibilityNotice::Unconfirmed {
                    jump,
                    fresh_usdc,
                    dropped,
                } = change.notice
                {
                    self.raise(
                        AlertDetails::JumpUnconfirmed {
                            seq: jump.seq,
                            held_usdc: jump.held_usdc,
                            reported_usdc: jump.reported_usdc,
                            fresh_usdc,
                            dropped,
                        },
                        message,
                    );
                }
            }
            Event::Executed(trade) if !trade.dry_run => self.legs.applied(),
            Event::Failed(failed) if failed.superseded => {
                // Another companion's plan holds the key: no failure of the venue's or ours,
                // so it does not count toward legs failing in a row, but the operator should
                // know two companions trade this agent with different plans.
                let key = failed.idempotency_key.to_string();
                self.raise(
                    AlertDetails::LegSuperseded {
                        key: key.clone(),
                        reason: failed.reason.clone(),
                    },
                    format!(
                        "leg {key} superseded: another companion's request holds its key ({}); \
                         its plan stopped",
                        failed.reason
                    ),
                );
            }
            Event::Failed(failed) => {
                let key = failed.idempotency_key.to_string();
                if let Some(details) = self.legs.failed(failed.attempts, &key, &failed.reason) {
                    let message = match &details {
                        AlertDetails::LegFailures { consecutive, .. } => format!(
                            "{consecutive} legs failed in a row after being sent; last {key}: {}",
                            failed.reason
                        ),
                        _ => failed.reason.clone(),
                    };
                    self.raise(details, message);
                }
            }
            Event::ReplyAlert(alert) => {
                let mismatch = alert.mismatch.to_string();
                self.raise(
                    AlertDetails::ReplyMismatch {
                        key: alert.mismatch.key.clone(),
                        mismatch: mismatch.clone(),
                    },
                    format!("{mismatch}; leg left unresolved, plan stopped"),
                );
            }
            Event::Dropped(dropped) => {
                // A trigger an earlier run planned is no news; a plan not on disk is.
                if let DropReason::NotRecorded { error } = dropped.why {
                    let trigger = dropped.trigger.name().to_owned();
                    let message = format!(
                        "plan {} [{trigger}] not recorded ({error}); nothing sent",
                        dropped.plan_id
                    );
                    self.raise(
                        AlertDetails::PlanNotRecorded {
                            plan_id: dropped.plan_id.to_string(),
                            trigger,
                            error,
                        },
                        message,
                    );
                }
            }
            Event::Stream(status) => self.on_stream(&status, ctx),
            Event::HarvestDecided(decided) => {
                let decision = &decided.decision;
                if let HarvestOutcome::Refused { by, reason } = &decision.outcome
                    && by.alerts()
                {
                    self.raise(
                        AlertDetails::HarvestRefused {
                            asset: decision.asset.clone(),
                            harvest_id: decided.harvest_id.clone(),
                            refused_by: *by,
                            reason: reason.clone(),
                        },
                        format!("{} tax-loss harvest not executed: {reason}", decision.asset),
                    );
                }
            }
            Event::WashBuyPrevented(prevented) => {
                let message = format!(
                    "wallet buy refused ({}): {}",
                    prevented.reason, prevented.block
                );
                self.raise(
                    AlertDetails::WashBuyPrevented {
                        block: prevented.block,
                        requested_by: prevented.reason,
                    },
                    message,
                );
            }
            // Nothing an operator needs told.
            Event::Tick(_)
            | Event::Balances(_)
            | Event::Venue(_)
            | Event::Targets(_)
            | Event::Planned(_)
            | Event::Executed(_)
            | Event::Finished(_)
            | Event::HedgeOpened(_)
            | Event::HedgeClosed(_)
            | Event::HedgeSkipped(_)
            | Event::HedgesReconciled(_)
            | Event::Control(_)
            | Event::Noticed(_)
            | Event::Harvested(_)
            | Event::WashSale(_) => {}
        }
    }
}

/// Waits until every alert the Notifier has handled is recorded and delivered (or given up):
/// at a stop, so the last alerts (a panicked actor's above all) are not lost with the
/// process. The caller bounds the wait.
#[derive(Debug, Clone, Copy, actix::Message)]
#[rtype(result = "()")]
pub struct FlushAlerts;

impl Handler<FlushAlerts> for Notifier {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _message: FlushAlerts, _ctx: &mut Self::Context) -> Self::Result {
        let shared = self.shared.clone();
        Box::pin(async move {
            while !shared.idle() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    }
}

impl Handler<GetNotifierStats> for Notifier {
    type Result = NotifierStats;

    fn handle(&mut self, _message: GetNotifierStats, _ctx: &mut Self::Context) -> NotifierStats {
        self.shared.stats().clone()
    }
}

fn http_client(timeout: Duration) -> Option<reqwest::Client> {
    ballast::venue::client::init_tls();
    match reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("ballast/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(client) => Some(client),
        Err(error) => {
            warn!(%error, "webhook client not built; webhook notifications are off");
            None
        }
    }
}

/// Takes alerts off the queue and delivers each to every target.
struct Worker {
    config: NotifyConfig,
    shared: Arc<Shared>,
    http: Option<reqwest::Client>,
}

impl Worker {
    async fn run(self) {
        loop {
            let next = {
                let mut queue = self.shared.queue();
                let next = queue.pop_front();
                self.shared
                    .delivering
                    .store(next.is_some(), Ordering::Release);
                next
            };
            let Some(body) = next else {
                self.shared.wake.notified().await;
                continue;
            };
            if let (Some(url), Some(http)) = (&self.config.webhook_url, &self.http) {
                self.deliver("webhook", || post(http, url, &body)).await;
            }
            if let Some(command) = &self.config.command {
                let timeout = self.config.timeout;
                self.deliver("command", || run_command(command, &body, timeout))
                    .await;
            }
            self.shared.delivering.store(false, Ordering::Release);
        }
    }

    /// Tries `attempt` up to `max_attempts` times with backoff; counts the outcome.
    async fn deliver<F, Fut>(&self, target: &'static str, attempt: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<(), String>>,
    {
        let attempts = self.config.max_attempts.max(1);
        for n in 0..attempts {
            // Attempt 0 waits nothing; later ones back off.
            tokio::time::sleep(self.config.backoff.jittered_delay(n)).await;
            match attempt().await {
                Ok(()) => {
                    self.shared.stats().delivered += 1;
                    debug!(target, "alert delivered");
                    return;
                }
                Err(error) => warn!(target, attempt = n + 1, %error, "alert delivery failed"),
            }
        }
        self.shared.stats().failed += 1;
        warn!(target, attempts, "alert given up after every attempt");
    }
}

async fn post(http: &reqwest::Client, url: &str, body: &str) -> Result<(), String> {
    let response = http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_owned())
        .send()
        .await
        // reqwest's errors name the URL; only its host may be shown.
        .map_err(|e| format!("{} ({})", redact_url(url), error_kind(&e)))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!(
            "{} answered {}",
            redact_url(url),
            response.status()
        ))
    }
}

fn error_kind(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else {
        "request failed"
    }
}

async fn run_command(command: &[String], body: &str, timeout: Duration) -> Result<(), String> {
    use tokio::io::AsyncWriteExt;
    let (program, args) = command.split_first().ok_or("empty command")?;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("{program}: {e}"))?;
    let work = async {
        if let Some(mut stdin) = child.stdin.take() {
            // One line per alert: a hook that appends stdin to a file keeps JSON lines.
            let line = format!("{body}\n");
            stdin
                .write_all(line.as_bytes())
                .await
                .map_err(|e| format!("{program}: writing stdin: {e}"))?;
        }
        let status = child.wait().await.map_err(|e| format!("{program}: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("{program} exited with {status}"))
        }
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(result) => result,
        // Dropping the child kills it (kill_on_drop).
        Err(_) => Err(format!(
            "{program} timed out after {} ms",
            timeout.as_millis()
        )),
    }
}

#[cfg(test)]
mod tests;
