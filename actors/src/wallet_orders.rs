//! The one path for wallet orders: the wash-sale guard, risk limits, the trading gate, the
//! operator's control switch, and the durable, idempotent send — the wallet's counterpart of
//! the SpotExecutor's legs.
//!
//! [`TaxLedger`] is the lot book shared by everything that trades the wallet: the
//! TaxHarvester writes it; every buy path reads it before buying ([`WalletDesk::buy`]
//! refuses, and announces, a buy of an asset sold at a loss within the wash-sale window).
//! [`WalletDesk`] sends an order the way a rebalance leg is sent: recorded in the store
//! (`pending`) under its key before anything is sent; an ambiguous failure (timeout, 5xx,
//! lost reply) is put to the venue's status query for that key (`GET /wallet/trades/{key}`)
//! before the retry rule decides, and a retry only ever goes under the same key; an order
//! still unknown stays `pending` and [`WalletDesk::reconcile_pending`] resolves it at the
//! next start-up, by asking, never by resending.
//!
//! The operator's [`ControlSwitch`] is obeyed as the SpotExecutor obeys it: every POST is made
//! under a send permit, so once a halt has returned no wallet order is in flight and none
//! starts or is retried; [`WalletDesk::operator_hold`] tells a caller not to start new work
//! (a harvest) while trading is paused or halted.
//!
//! # Invariants
//! - No buy is sent for an asset the wash-sale rule blocks at the order's time.
//! - No order is sent before it is on disk, while the trading gate is closed, in dry run,
//!   while the operator has halted trading, or beyond a risk limit (absolute, or relative to
//!   the latest portfolio; the day's turnover counts transfers and wallet orders).
//! - An order is only ever sent, retried and asked about under its one key.

use std::sync::{Arc, Mutex, MutexGuard};

use actix::Recipient;
use ballast::{
    execution::{
        LegFailure, ReconcileAction, ReplyMismatch, Trade, check_applied, check_trade,
        classify_pending,
    },
    observation::TradeSide,
    risk::RiskLimits,
    store::{LegStatus, Store, WalletOrderRecord},
    tax::{LotBook, WashBlock, WashRule},
    venue::{
        backoff::Backoff, client::ClientError, markets::MarketsClient,
        protocol::WalletTradeResponse,
    },
};
use rust_decimal::Decimal;
use time::OffsetDateTime;
use tracing::{info, warn};

use crate::{
    control::ControlSwitch,
    executor::alert_mismatch,
    gate::TradingGate,
    keyed_send::KeyedSend,
    messages::{Event, WashSaleBuyPrevented},
};

/// The lot book shared by the wallet's buy paths, with the wash-sale rule in force.
#[derive(Debug, Clone)]
pub struct TaxLedger {
    book: Arc<Mutex<LotBook>>,
    rule: WashRule,
}

impl TaxLedger {
    /// A ledger over `book` under `rule`.
    pub fn new(book: LotBook, rule: WashRule) -> Self {
        Self {
            book: Arc::new(Mutex::new(book)),
            rule,
        }
    }

    /// The wash-sale rule in force.
    pub fn rule(&self) -> WashRule {
        self.rule
    }

    /// The book, locked briefly (never across an await).
    pub fn lock(&self) -> MutexGuard<'_, LotBook> {
        // A panic while holding the lock leaves the book as it was before the failed
        // operation (every book operation is all-or-nothing), so the data is still good.
        self.book
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A copy of the book.
    pub fn snapshot(&self) -> LotBook {
        self.lock().clone()
    }

    /// Whether a buy of `asset` at `at` is forbidden by the wash-sale rule.
    pub fn buy_block(&self, asset: &str, at: OffsetDateTime) -> Option<WashBlock> {
        self.lock().buy_block(asset, at, self.rule)
    }
}

/// How the desk trades.
#[derive(Debug, Clone)]
pub struct DeskConfig {
    /// Record, never send.
    pub dry_run: bool,
    /// Retries per order (same key).
    pub retry_limit: u32,
    /// Retry schedule.
    pub retry_backoff: Backoff,
    /// Limits checked before an order is sent.
    pub risk: RiskLimits,
}

/// One wallet order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletOrder {
    /// The idempotency key: `{harvest_id}:sell` or `{harvest_id}:buy`.
    pub key: String,
    /// The harvest (or other action) it belongs to.
    pub harvest_id: String,
    /// Buy or sell.
    pub side: TradeSide,
    /// Asset ticker.
    pub asset: String,
    /// Units.
    pub quantity: Decimal,
    /// For a sale: the venue lots to sell from (empty: first in, first out).
    pub lot_ids: Vec<String>,
    /// The reason sent with it.
    pub reason: String,
    /// When (venue time): the wash-sale guard and the daily turnover read it.
    pub at: OffsetDateTime,
}

impl WalletOrder {
    /// The trade asked for, to check the venue's reply against.
    fn as_trade(&self) -> Trade<'_> {
        Trade {
            asset: &self.asset,
            side: self.side,
            quantity: self.quantity,
        }
    }
}

/// What became of an order.
#[derive(Debug, Clone, PartialEq)]
pub enum OrderOutcome {
    /// The venue applied it (possibly found by a status query).
    Applied {
        /// The venue's reply.
        reply: Box<WalletTradeResponse>,
        /// POSTs sent.
        attempts: u32,
    },
    /// Dry run: recorded, not sent.
    DryRun,
    /// Not applied: refused by the venue, a limit or the guard, or given up; recorded as
    /// failed.
    Failed {
        /// Why.
        reason: String,
    },
    /// Outcome unknown: left `pending` for reconciliation.
    Unknown {
        /// Why.
        reason: String,
    },
}

/// The wallet's order path. Cheap to clone.
#[derive(Debug, Clone)]
pub struct WalletDesk {
    markets: MarketsClient,
    store: Store,
    ledger: TaxLedger,
    gate: TradingGate,
    config: DeskConfig,
    bus: Recipient<Event>,
    control: ControlSwitch,
}

impl WalletDesk {
    /// A desk sending through `markets` while `gate` is open, guarded by `ledger`.
    pub fn new(
        markets: MarketsClient,
        store: Store,
        ledger: TaxLedger,
        gate: TradingGate,
        config: DeskConfig,
        bus: Recipient<Event>,
    ) -> Self {
        Self {
            markets,
            store,
            ledger,
            gate,
            config,
            bus,
            control: ControlSwitch::default(),
        }
    }

    /// Obeys the operator's `control` switch (the default switch always runs).
    #[must_use]
    pub fn with_control(mut self, control: ControlSwitch) -> Self {
        self.control = control;
        self
    }

    /// Why new work (a harvest) must not start now: trading paused or halted by the operator.
    pub fn operator_hold(&self) -> Option<String> {
        let mode = self.control.mode();
        mode.holds_plans()
            .then(|| format!("{mode} by the operator"))
    }

    /// The shared lot book.
    pub fn ledger(&self) -> &TaxLedger {
        &self.ledger
    }

    /// The venue's markets client (holdings, prices).
    pub fn markets(&self) -> &MarketsClient {
        &self.markets
    }

    /// Whether orders are recorded only.
    pub fn dry_run(&self) -> bool {
        self.config.dry_run
    }

    /// Whether orders may be sent now (the event stream is up and fresh).
    pub fn gate_open(&self) -> bool {
        self.gate.is_open()
    }

    /// Checks orders of `amounts_usdc` against the risk limits: the relative ones of
    /// `portfolio_usdc` (the latest portfolio observed), the daily ones with the day's
    /// turnover read from the store (transfers and wallet orders).
    ///
    /// # Errors
    /// Every breached limit, as one line; a relative limit with no portfolio known yet.
    pub async fn check_risk(
        &self,
        amounts_usdc: &[Decimal],
        portfolio_usdc: Option<Decimal>,
        at: OffsetDateTime,
    ) -> Result<(), String> {
        let risk = self.config.risk;
        let relative =
            risk.max_leg_fraction.is_some() || risk.max_daily_turnover_fraction.is_some();
        let portfolio_usdc = match portfolio_usdc {
            Some(total) => total,
            // Zero would make every order a breach, naming a limit for the wrong reason.
            None if relative => {
                return Err(
                    "risk.max_leg_fraction / risk.max_daily_turnover_fraction: no portfolio observed yet"
                        .to_owned(),
                );
            }
            None => Decimal::ZERO,
        };
        let used_today_usdc = match risk.counts_daily_turnover() {
            false => Decimal::ZERO,
            true => {
                let day = at.to_offset(time::UtcOffset::UTC).date();
                let transfers = self.store.applied_usdc_on(day).await;
                let orders = self.store.wallet_orders_usdc_on(day).await;
                match (transfers, orders) {
                    (Ok(a), Ok(b)) => a + b,
                    _ => {
                        warn!("today's turnover unknown; counting the cap as used");
                        Decimal::MAX
                    }
                }
            }
        };
        risk.check_amounts(amounts_usdc, portfolio_usdc, used_today_usdc)
            .map_err(|refusals| {
                refusals
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            })
    }

    /// Buys, unless the wash-sale rule forbids the asset at `order.at` (then the refusal is
    /// announced as [`WashSaleBuyPrevented`] and nothing is recorded or sent).
    pub async fn buy(&self, order: WalletOrder) -> OrderOutcome {
        if let Some(block) = self.ledger.buy_block(&order.asset, order.at) {
            warn!(asset = %order.asset, %block, reason = %order.reason, "wallet buy prevented by the wash-sale rule");
            let reason = block.to_string();
            let _ = self.bus.try_send(
                WashSaleBuyPrevented {
                    block,
                    reason: order.reason.clone(),
                }
                .into(),
            );
            return OrderOutcome::Failed { reason };
        }
        self.execute(order).await
    }

    /// Sells (the lots named, or first in, first out).
    pub async fn sell(&self, order: WalletOrder) -> OrderOutcome {
        self.execute(order).await
    }

    async fn execute(&self, order: WalletOrder) -> OrderOutcome {
        let status = if self.config.dry_run {
            LegStatus::DryRun
        } else {
            LegStatus::Pending
        };
        let record = WalletOrderRecord {
            idempotency_key: order.key.clone(),
            harvest_id: order.harvest_id.clone(),
            side: order.side,
            asset: order.asset.clone(),
            quantity: order.quantity,
            lot_ids: order.lot_ids.clone(),
            reason: order.reason.clone(),
            status,
            created_at: order.at,
        };
        if let Err(error) = self.store.record_wallet_order(record).await {
            warn!(%error, key = %order.key, "wallet order not recorded; nothing sent");
            return OrderOutcome::Failed {
                reason: format!("not recorded: {error}"),
            };
        }
        if self.config.dry_run {
            return OrderOutcome::DryRun;
        }
        if self.control.is_halted() {
            let reason = LegFailure::halted(None).reason;
            self.finish(&order.key, LegStatus::Failed, None, Some(reason.clone()))
                .await;
            return OrderOutcome::Failed { reason };
        }
        if !self.gate.is_open() {
            let reason = format!(
                "skipped: {}",
                ballast::execution::outcome::STREAM_DOWN_REASON
            );
            self.finish(&order.key, LegStatus::Failed, None, Some(reason.clone()))
                .await;
            return OrderOutcome::Failed { reason };
        }
        match self.send(&order).await {
            Ok((reply, _))
                if let Err(mismatch) = check_order_reply(&order.key, &order.as_trade(), &reply) =>
            {
                // The lot book takes units and proceeds from the reply: one that describes
                // another trade is never booked. The order stays pending (asked about again
                // at the next start) and the harvest stops here.
                alert_mismatch(&self.bus, &mismatch, order.at);
                OrderOutcome::Unknown {
                    reason: mismatch.to_string(),
                }
            }
            Ok((reply, attempts)) => {
                info!(key = %order.key, trade_id = %reply.trade_id, asset = %order.asset,
                      quantity = %reply.quantity, notional_usdc = %reply.notional_usdc,
                      "wallet order applied");
                self.finish(
                    &order.key,
                    LegStatus::Applied,
                    Some((reply.trade_id.clone(), reply.notional_usdc)),
                    None,
                )
                .await;
                OrderOutcome::Applied {
                    reply: Box::new(reply),
                    attempts,
                }
            }
            Err(failure) if failure.ambiguous => {
                warn!(key = %order.key, reason = %failure.reason, "wallet order outcome unknown");
                OrderOutcome::Unknown {
                    reason: failure.reason,
                }
            }
            Err(failure) => {
                warn!(key = %order.key, reason = %failure.reason, "wallet order failed");
                self.finish(
                    &order.key,
                    LegStatus::Failed,
                    None,
                    Some(failure.reason.clone()),
                )
                .await;
                OrderOutcome::Failed {
                    reason: failure.reason,
                }
            }
        }
    }

    /// Sends under the order's one key until it applies or the retry rule gives it up; an
    /// ambiguous failure is put to a status query first. Each POST is made under a send
    /// permit: a halt either comes before it (nothing is sent) or waits for it to return.
    async fn send(&self, order: &WalletOrder) -> Result<(WalletTradeResponse, u32), LegFailure> {
        let send = KeyedSend {
            key: &order.key,
            what: "wallet order",
            control: &self.control,
            gate: &self.gate,
            retry_limit: self.config.retry_limit,
            backoff: &self.config.retry_backoff,
            stop: None,
        };
        send.run(
            move || self.post(order),
            move || self.markets.wallet_trade_status(&order.key),
        )
        .await
        .map_err(|(failure, _)| failure)
    }

    /// One POST of `order`: a buy, or a sale from the lots it names.
    async fn post(&self, order: &WalletOrder) -> Result<WalletTradeResponse, ClientError> {
        match order.side {
            TradeSide::Buy => {
                self.markets
                    .wallet_trade(
                        TradeSide::Buy,
                        &order.asset,
                        order.quantity,
                        &order.reason,
                        &order.key,
                    )
                    .await
            }
            TradeSide::Sell => {
                self.markets
                    .wallet_sell_lots(
                        &order.asset,
                        order.quantity,
                        &order.lot_ids,
                        &order.reason,
                        &order.key,
                    )
                    .await
            }
        }
    }

    async fn finish(
        &self,
        key: &str,
        status: LegStatus,
        applied: Option<(String, Decimal)>,
        error: Option<String>,
    ) {
        let (trade_id, notional) = applied.map_or((None, None), |(t, n)| (Some(t), Some(n)));
        if let Err(e) = self
            .store
            .update_wallet_order(key.to_owned(), status, trade_id, notional, error)
            .await
        {
            warn!(error = %e, key, "wallet order outcome not recorded");
        }
    }

    /// Resolves every `pending` wallet order by a status query, never by resending: applied
    /// ones are recorded and returned (for the book), refused ones and earlier runs' orders
    /// the venue never saw are failed, the rest stay pending.
    pub async fn reconcile_pending(
        &self,
        run_id: &str,
    ) -> Vec<(WalletOrderRecord, WalletTradeResponse)> {
        let pending = match self.store.pending_wallet_orders().await {
            Ok(pending) => pending,
            Err(error) => {
                warn!(%error, "pending wallet orders not read; reconciliation deferred");
                return Vec::new();
            }
        };
        let mut applied = Vec::new();
        for record in pending {
            let key = record.idempotency_key.clone();
            let this_run = key.starts_with(&format!("{run_id}:"));
            let answer = self.markets.wallet_trade_status(&key).await;
            if let Err(error) = &answer {
                warn!(%error, %key, "pending wallet order still unresolved");
            }
            let asked = Trade {
                asset: &record.asset,
                side: record.side,
                quantity: record.quantity,
            };
            let action = check_applied(classify_pending(answer.ok(), this_run), |reply| {
                check_order_reply(&key, &asked, reply)
            });
            match action {
                ReconcileAction::RecordApplied(reply) => {
                    info!(%key, trade_id = %reply.trade_id, "pending wallet order was applied by the venue");
                    self.finish(
                        &key,
                        LegStatus::Applied,
                        Some((reply.trade_id.clone(), reply.notional_usdc)),
                        None,
                    )
                    .await;
                    applied.push((record, reply));
                }
                ReconcileAction::RecordRefused { reason }
                | ReconcileAction::RecordAbandoned { reason } => {
                    self.finish(&key, LegStatus::Failed, None, Some(reason))
                        .await;
                }
                ReconcileAction::Mismatched(mismatch) => {
                    alert_mismatch(&self.bus, &mismatch, record.created_at);
                }
                ReconcileAction::LeavePending => {}
            }
        }
        applied
    }
}

/// Checks the venue's reply against the order asked for under `key`.
fn check_order_reply(
    key: &str,
    asked: &Trade<'_>,
    reply: &WalletTradeResponse,
) -> Result<(), ReplyMismatch> {
    let replied = Trade {
        asset: &reply.asset,
        side: reply.side,
        quantity: reply.quantity,
    };
    check_trade(key, asked, &replied)
}

#[cfg(test)]
mod tests {
    use actix::Actor;
    use ballast::{
        risk::RiskSettingsValues,
        tax::{LotBook, WashRule},
        venue::client::VenueClient,
    };
    use rust_decimal_macros::dec;
    use time::macros::datetime;

    use super::*;
    use crate::bus::EventBus;

    /// A desk under `risk` whose venue is never called (the checks are local).
    /// A desk with an empty lot book, no retries and `risk`, sending to the venue at `base`.
    fn desk_on(
        base: &str,
        timeout: std::time::Duration,
        store: Store,
        gate: TradingGate,
        risk: RiskLimits,
    ) -> WalletDesk {
        let venue = VenueClient::new(base, "agent", None, timeout).expect("client");
        WalletDesk::new(
            MarketsClient::new(&venue, timeout).expect("client"),
            store,
            TaxLedger::new(LotBook::default(), WashRule::None),
            gate,
            DeskConfig {
                dry_run: false,
                retry_limit: 0,
                retry_backoff: Backoff::default(),
                risk,
            },
            EventBus::default().start().recipient(),
        )
    }

    /// A desk whose venue is unreachable.
    fn desk(risk: RiskLimits) -> WalletDesk {
        let timeout = std::time::Duration::from_secs(1);
        let store = Store::open_in_memory().expect("store");
        desk_on(
            "http://127.0.0.1:1",
            timeout,
            store,
            TradingGate::new(),
            risk,
        )
    }

    /// A harvest's sale of 0.001 BTC, first in, first out.
    fn harvest_sale() -> WalletOrder {
        WalletOrder {
            key: "r:h1:sell".into(),
            harvest_id: "r:h1".into(),
            side: TradeSide::Sell,
            asset: "BTC".into(),
            quantity: dec!(0.001),
            lot_ids: Vec::new(),
            reason: "tax_loss_harvest".into(),
            at: datetime!(2026-01-01 00:00 UTC),
        }
    }

    #[actix_rt::test]
    async fn a_harvests_orders_are_checked_against_the_latest_portfolio() {
        struct TestCase {
            portfolio_usdc: Option<Decimal>,
            refused_by: Option<&'static str>,
        }
        // The defaults: half the portfolio per order, twice it per day.
        let risk = RiskLimits::new(RiskSettingsValues {
            max_leg_fraction: dec!(0.5),
            max_daily_turnover_fraction: dec!(2),
            ..RiskSettingsValues::default()
        })
        .expect("valid");
        let cases = [
            // TC0: $80 orders of a $1,000 portfolio pass.
            TestCase {
                portfolio_usdc: Some(dec!(1000)),
                refused_by: None,
            },
            // TC1: of a $100 portfolio they are above half of it.
            TestCase {
                portfolio_usdc: Some(dec!(100)),
                refused_by: Some("risk.max_leg_fraction"),
            },
            // TC2: no portfolio observed yet: refused, saying so, not measured against zero.
            TestCase {
                portfolio_usdc: None,
                refused_by: Some("no portfolio observed yet"),
            },
        ];
        let desk = desk(risk);
        let at = datetime!(2026-01-01 00:00 UTC);
        for (i, case) in cases.iter().enumerate() {
            let got = desk
                .check_risk(&[dec!(80), dec!(80)], case.portfolio_usdc, at)
                .await;
            match (got, case.refused_by) {
                (Ok(()), None) => {}
                (Err(why), Some(expected)) => assert!(why.contains(expected), "TC{i}: {why}"),
                (got, expected) => panic!("TC{i}: got {got:?}, expected {expected:?}"),
            }
        }
    }

    #[actix_rt::test]
    async fn no_order_is_sent_while_halted_and_new_work_waits_while_paused() {
        let control = ControlSwitch::default();
        let desk = desk(RiskLimits::default()).with_control(control.clone());
        assert_eq!(desk.operator_hold(), None);
        control.set(ballast::control::Mode::Paused).await;
        assert_eq!(
            desk.operator_hold().as_deref(),
            Some("paused by the operator")
        );
        control.set(ballast::control::Mode::Halted).await;
        // Recorded, then failed unsent: the venue (unreachable here) is never asked.
        let outcome = desk.sell(harvest_sale()).await;
        assert_eq!(
            outcome,
            OrderOutcome::Failed {
                reason: "not sent: halted by the operator".into()
            }
        );
        assert!(
            desk.store
                .pending_wallet_orders()
                .await
                .expect("reads")
                .is_empty()
        );
    }

    /// A venue that answers every sale, and every question about one, with a trade of ten
    /// times the units asked for.
    async fn lying_wallet_venue() -> String {
        use axum::{
            Json, Router,
            routing::{get, post},
        };
        use serde_json::json;
        async fn lie() -> Json<serde_json::Value> {
            Json(json!({
                "trade_id": "wt-evil", "asset": "BTC", "side": "sell", "quantity": "0.01",
                "price_usdc": "80000", "notional_usdc": "800", "fee_usdc": "0.8",
            }))
        }
        let app = Router::new()
            .route("/api/v1/wallet/sell", post(lie))
            .route("/api/v1/wallet/trades/{key}", get(lie));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{address}")
    }

    #[actix_rt::test]
    async fn a_wallet_reply_for_another_trade_is_never_booked() {
        let base = lying_wallet_venue().await;
        let timeout = std::time::Duration::from_secs(2);
        let store = Store::open_in_memory().expect("store");
        let gate = TradingGate::new();
        assert!(gate.open_if(gate.epoch()));
        let desk = desk_on(&base, timeout, store.clone(), gate, RiskLimits::default());
        let outcome = desk.sell(harvest_sale()).await;
        let OrderOutcome::Unknown { reason } = outcome else {
            panic!("booked a reply for another trade: {outcome:?}");
        };
        assert!(
            reason.contains("quantity: asked 0.001, replied 0.01"),
            "{reason}"
        );
        // Left pending; asked again at the next start, the venue tells the same story, and
        // the order stays pending with nothing booked.
        let pending = store.pending_wallet_orders().await.expect("reads");
        assert_eq!(pending.len(), 1);
        assert!(desk.reconcile_pending("r2").await.is_empty());
        assert_eq!(store.pending_wallet_orders().await.expect("reads").len(), 1);
    }
}
