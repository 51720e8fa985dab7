//! The TaxHarvester: keeps the lot book in step with the venue and harvests losses.
//!
//! It subscribes to the bus. (A `TradeExecuted` transfer moves USDC between services, never
//! lots, so it changes nothing here.) A `wallet_trade` event adds the lots of a buy it did not make
//! (and applies the wash-sale rule to them) or records a sale it did not make; a price event
//! and the daily tick (which first reconciles the book with `/wallet/holdings`) run a
//! harvest round: `ballast::tax::plan_harvests` decides, and each harvest is sold, and its
//! substitute bought, through the [`WalletDesk`] (durable, idempotent, guarded, gated,
//! within the risk limits, the relative ones taken of the latest portfolio the bus
//! reported: a snapshot, or the portfolio a venue event carried). Every decision is recorded in the store with its figures (a skip once per
//! asset, reason and day) and announced as [`HarvestDecided`]; an executed harvest as
//! [`HarvestExecuted`]. While the operator has paused or halted trading no harvest starts:
//! the decision is recorded as refused (once per asset and day), and the next price move or
//! tick after `resume` decides again; a halt also stops the orders of a harvest under way.
//!
//! A harvest is named after its trigger (`ballast::tax::ids`): the price event that prompted
//! the round, or the tick's venue date, with the asset and an attempt past any name the store
//! already holds, so a second companion deciding the same harvest sends the same order keys.
//!
//! At start-up, before any event: wallet orders left pending by a crash are resolved by a
//! status query (an applied one is booked), and the book is reconciled with the venue's
//! holdings.
//!
//! # Invariants
//! - The book changes only through the core's operations, and is saved whole after each
//!   change, before the next message is handled.
//! - One harvest at a time: the handler holds the actor while orders are in flight, and
//!   after a harvest the candidates are decided again on the new book.
//! - No harvest starts while the operator's switch holds plans (paused or halted).
//! - Decisions use venue time (the events' `at`), as the lots' purchase times do.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use actix::{
    Actor, ActorFutureExt, AsyncContext, AtomicResponse, Context, Handler, Recipient, WrapFuture,
};
use ballast::{
    execution::{TriggerId, VenueTag},
    observation::{Happening, Observation, TradeLot, TradeSide},
    store::Store,
    tax::{
        DecisionMemo, DisposalMethod, HarvestDecision, HarvestOutcome, LotOrigin, RefusedBy,
        SoldPart, TaxConfig, VenueLot, harvest::substitute_quantity, ids::harvest_id,
        lots::SaleRules, plan_harvests, wash::WashMatch,
    },
    venue::{client::VenueClient, protocol::WalletTradeResponse},
};
use rust_decimal::Decimal;
use time::OffsetDateTime;
use tracing::{info, warn};

use crate::{
    gate::NumberingEpoch,
    messages::{Event, HarvestDecided, HarvestExecuted, WashSaleRecorded},
    wallet_orders::{OrderOutcome, WalletDesk, WalletOrder},
};

/// Mailbox capacity: the bus drops (and counts) what does not fit.
pub const HARVESTER_MAILBOX_CAPACITY: usize = 4_096;
/// The reason sent with a harvest's orders.
pub const HARVEST_REASON: &str = "tax_loss_harvest";
/// Most harvests in one round (one per asset held is the most there can be).
const MAX_HARVESTS_PER_ROUND: usize = 16;

/// The harvester.
#[derive(Debug)]
pub struct TaxHarvester {
    shared: Shared,
    prices: BTreeMap<String, Decimal>,
    venue_now: Option<OffsetDateTime>,
}

/// Cheap clones of what a round needs, so its future owns them while the actor is held.
#[derive(Debug, Clone)]
struct Shared {
    desk: WalletDesk,
    client: VenueClient,
    store: Store,
    config: Arc<TaxConfig>,
    bus: Recipient<Event>,
    run_id: String,
    memo: Arc<Mutex<DecisionMemo>>,
    /// The venue harvest names carry (the name plan ids carry).
    venue: VenueTag,
    /// The venue's event numbering, which harvest names carry.
    numbering: NumberingEpoch,
    /// The latest portfolio value the bus reported (a snapshot, or the portfolio a venue
    /// event carried), USDC: what the relative risk limits are taken of.
    portfolio_usdc: Arc<Mutex<Option<Decimal>>>,
}

/// What a message asks of the harvester.
enum Work {
    Nothing,
    /// A wallet trade the venue announced.
    Trade(Arc<Observation>),
    /// Prices moved: a harvest round.
    Round {
        prices: BTreeMap<String, Decimal>,
        at: OffsetDateTime,
        trigger: TriggerId,
    },
    /// The daily tick: reconcile with the holdings, then a round.
    Tick {
        prices: BTreeMap<String, Decimal>,
        at: OffsetDateTime,
    },
}

impl TaxHarvester {
    /// A harvester for run `run_id`, trading through `desk`.
    pub fn new(
        desk: WalletDesk,
        client: VenueClient,
        store: Store,
        config: TaxConfig,
        run_id: String,
        bus: Recipient<Event>,
    ) -> Self {
        let venue = VenueTag::of(&crate::watcher::stream_name(
            client.base_url(),
            client.agent_id(),
        ));
        Self {
            shared: Shared {
                desk,
                client,
                store,
                config: Arc::new(config),
                bus,
                // The same venue name plan ids carry (and the stored cursor is kept under).
                venue,
                run_id,
                memo: Arc::new(Mutex::new(DecisionMemo::default())),
                numbering: NumberingEpoch::default(),
                portfolio_usdc: Arc::new(Mutex::new(None)),
            },
            prices: BTreeMap::new(),
            venue_now: None,
        }
    }
}

impl TaxHarvester {
    /// Follows the venue's event `numbering` (the watcher's), which harvest names carry; the
    /// default stays at epoch 0.
    #[must_use]
    pub fn with_numbering(mut self, numbering: NumberingEpoch) -> Self {
        self.shared.numbering = numbering;
        self
    }
}

impl Actor for TaxHarvester {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(HARVESTER_MAILBOX_CAPACITY);
        let shared = self.shared.clone();
        let work = async move {
            if !shared.desk.dry_run() {
                for (record, reply) in shared.desk.reconcile_pending(&shared.run_id).await {
                    shared.book_reply(
                        record.side,
                        &reply,
                        record.created_at,
                        Some(&record.harvest_id),
                        &[],
                    );
                }
            }
            shared.reconcile_holdings().await
        };
        ctx.wait(work.into_actor(self).map(|prices, harvester, _| {
            harvester.prices.extend(prices);
        }));
    }
}

impl Handler<Event> for TaxHarvester {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, event: Event, _ctx: &mut Self::Context) -> Self::Result {
        let work = match event {
            Event::Venue(venue) => {
                let observation = venue.observation;
                self.venue_now = Some(observation.at);
                if let Some(snapshot) = &observation.snapshot {
                    *lock(&self.shared.portfolio_usdc) = Some(snapshot.total_usdc());
                }
                match &observation.what {
                    Happening::Prices { prices_usdc } => {
                        self.prices
                            .extend(prices_usdc.iter().map(|(a, p)| (a.clone(), *p)));
                        Work::Round {
                            prices: self.prices.clone(),
                            at: observation.at,
                            trigger: TriggerId::event_or_day(
                                Some(observation.seq),
                                self.shared.numbering.get(),
                                observation.at,
                            ),
                        }
                    }
                    Happening::WalletTrade { .. } => Work::Trade(observation),
                    _ => Work::Nothing,
                }
            }
            Event::Balances(observed) => {
                *lock(&self.shared.portfolio_usdc) = Some(observed.snapshot.total_usdc());
                Work::Nothing
            }
            Event::Tick(tick) => Work::Tick {
                prices: self.prices.clone(),
                // Lots carry venue times; a tick on wall time would misjudge the windows.
                at: self.venue_now.unwrap_or(tick.at),
            },
            _ => Work::Nothing,
        };
        let shared = self.shared.clone();
        let future = async move {
            match work {
                Work::Nothing => BTreeMap::new(),
                Work::Trade(observation) => {
                    shared.book_observed_trade(&observation);
                    shared.save_book().await;
                    BTreeMap::new()
                }
                Work::Round {
                    prices,
                    at,
                    trigger,
                } => {
                    shared.round(&prices, at, trigger).await;
                    BTreeMap::new()
                }
                Work::Tick { mut prices, at } => {
                    prices.extend(shared.reconcile_holdings().await);
                    if let Ok(all) = shared.client.prices(&[]).await {
                        prices.extend(all.prices.into_iter().map(|(a, p)| (a, p.0)));
                    }
                    let trigger = TriggerId::event_or_day(None, shared.numbering.get(), at);
                    shared.round(&prices, at, trigger).await;
                    prices
                }
            }
        };
        AtomicResponse::new(Box::pin(
            future
                .into_actor(self)
                .map(|prices, harvester, _| harvester.prices.extend(prices)),
        ))
    }
}

impl Shared {
    fn rules(&self) -> SaleRules {
        SaleRules {
            long_term_days: self.config.long_term_days,
            wash: self.config.wash,
        }
    }

    /// Saves the whole book.
    async fn save_book(&self) {
        let book = self.desk.ledger().snapshot();
        if let Err(error) = self
            .store
            .save_tax_book(book.lots().to_vec(), book.disposals().to_vec())
            .await
        {
            warn!(%error, "tax book not saved");
        }
    }

    /// Reconciles the book with the venue's holdings and saves it; returns the held assets'
    /// prices (none when the holdings could not be read).
    async fn reconcile_holdings(&self) -> BTreeMap<String, Decimal> {
        let holdings = match self.desk.markets().holdings().await {
            Ok(holdings) => holdings,
            Err(error) => {
                warn!(%error, "wallet holdings not read; the book is not reconciled");
                return BTreeMap::new();
            }
        };
        let ledger = self.desk.ledger();
        let report = ledger.lock().reconcile(&holdings.tax_lots(), ledger.rule());
        match report {
            Ok(report) => {
                if !report.added.is_empty() {
                    info!(lots = ?report.added, "lots bought outside ballast added to the tax book");
                }
                if !report.dropped.is_empty() {
                    warn!(dropped = ?report.dropped, "lots sold without ballast seeing the sale dropped from the tax book (no disposal recorded)");
                }
                self.announce_washes(&report.washed);
            }
            Err(error) => warn!(%error, "venue holdings not reconciled"),
        }
        self.save_book().await;
        holdings.prices_usdc()
    }

    /// Applies a `wallet_trade` the venue announced, unless the book has it already (the
    /// harvester's own trades are booked from the replies).
    fn book_observed_trade(&self, observation: &Observation) {
        let Happening::WalletTrade {
            trade_id,
            asset,
            side,
            lots,
            ..
        } = &observation.what
        else {
            return;
        };
        let ledger = self.desk.ledger();
        let rule = ledger.rule();
        match side {
            TradeSide::Buy => {
                for lot in lots {
                    if ledger.lock().knows_venue_lot(&lot.lot_id) {
                        continue;
                    }
                    let opened = ledger.lock().open_lot(
                        &VenueLot::from_trade_lot(asset, lot),
                        LotOrigin::External,
                        rule,
                    );
                    match opened {
                        Ok(matches) => {
                            info!(%asset, lot_id = %lot.lot_id, %trade_id, "buy outside ballast added to the tax book");
                            self.announce_washes(&matches);
                        }
                        Err(error) => warn!(%error, %trade_id, "bought lot not booked"),
                    }
                }
            }
            TradeSide::Sell => {
                if lots.is_empty() || ledger.lock().knows_trade(trade_id) {
                    return;
                }
                self.book_sale(asset, trade_id, lots, observation.at, &[], None);
            }
        }
    }

    /// Records a sale the venue reported (its lots and their proceeds).
    fn book_sale(
        &self,
        asset: &str,
        trade_id: &str,
        lots: &[TradeLot],
        sold_at: OffsetDateTime,
        prefer: &[String],
        harvest_id: Option<&str>,
    ) -> Option<Decimal> {
        let parts: Vec<SoldPart> = lots.iter().map(SoldPart::from_trade_lot).collect();
        let recorded = self.desk.ledger().lock().record_sale(
            asset,
            &parts,
            sold_at,
            trade_id,
            prefer,
            harvest_id,
            self.rules(),
        );
        match recorded {
            Ok((disposals, matches)) => {
                self.announce_washes(&matches);
                Some(
                    disposals
                        .iter()
                        .map(|d| d.cost_basis_usdc - d.proceeds_usdc)
                        .sum(),
                )
            }
            Err(error) => {
                // The book disagrees with the venue: the next reconciliation with the
                // holdings brings the lots back in line.
                warn!(%error, %trade_id, "sale not booked");
                None
            }
        }
    }

    /// Books the reply of an order the desk sent (or found applied).
    fn book_reply(
        &self,
        side: TradeSide,
        reply: &WalletTradeResponse,
        at: OffsetDateTime,
        harvest_id: Option<&str>,
        prefer: &[String],
    ) -> Option<Decimal> {
        let lots: Vec<TradeLot> = reply.lots.iter().map(|l| l.to_trade_lot()).collect();
        let ledger = self.desk.ledger();
        match side {
            TradeSide::Sell => {
                if ledger.lock().knows_trade(&reply.trade_id) {
                    return None;
                }
                self.book_sale(&reply.asset, &reply.trade_id, &lots, at, prefer, harvest_id)
            }
            TradeSide::Buy => {
                for lot in &lots {
                    if ledger.lock().knows_venue_lot(&lot.lot_id) {
                        continue;
                    }
                    let opened = ledger.lock().open_lot(
                        &VenueLot::from_trade_lot(&reply.asset, lot),
                        LotOrigin::Ballast,
                        ledger.rule(),
                    );
                    match opened {
                        Ok(matches) => self.announce_washes(&matches),
                        Err(error) => {
                            warn!(%error, trade_id = %reply.trade_id, "bought lot not booked")
                        }
                    }
                }
                None
            }
        }
    }

    fn announce_washes(&self, matches: &[WashMatch]) {
        if matches.is_empty() {
            return;
        }
        let asset = self
            .desk
            .ledger()
            .lock()
            .disposals()
            .iter()
            .find(|d| d.disposal_id == matches[0].disposal_id)
            .map(|d| d.asset.clone())
            .unwrap_or_default();
        info!(%asset, matches = matches.len(), disallowed_usdc = %matches.iter().map(|m| m.disallowed_usdc).sum::<Decimal>(),
              "wash sale: a disallowed loss moved into its replacement's basis");
        let _ = self.bus.try_send(
            WashSaleRecorded {
                asset,
                matches: matches.to_vec(),
            }
            .into(),
        );
    }

    /// Decides on the book as it is, executes one harvest, and decides again, until
    /// nothing is left to harvest; skips are recorded (once per asset, reason and day).
    async fn round(
        &self,
        prices: &BTreeMap<String, Decimal>,
        at: OffsetDateTime,
        trigger: TriggerId,
    ) {
        for _ in 0..MAX_HARVESTS_PER_ROUND {
            let decisions = {
                let book = self.desk.ledger().lock();
                plan_harvests(&book, prices, &self.config, at)
            };
            let mut changed = false;
            for decision in decisions {
                if decision.outcome == HarvestOutcome::Harvest {
                    // After a harvest the book changed: the rest are decided again.
                    if changed {
                        continue;
                    }
                    if let Some(hold) = self.desk.operator_hold() {
                        let refusal = (RefusedBy::Operator, hold);
                        self.refuse(&decision, refusal, None, self.desk.dry_run())
                            .await;
                    } else if let Some(confirmed) = self.confirm(&decision, prices).await {
                        changed = self.harvest(confirmed, trigger).await;
                    }
                } else {
                    let admitted = self.memo().admit(&decision);
                    if admitted {
                        self.record(decision, None, false).await;
                    }
                }
            }
            if !changed {
                break;
            }
        }
    }

    /// The harvest decided again on a fresh quote from the venue: the prices of the event
    /// that prompted it may be stale (events replayed after a restart). `None` when it no
    /// longer stands, or the quote cannot be read.
    async fn confirm(
        &self,
        decision: &HarvestDecision,
        prices: &BTreeMap<String, Decimal>,
    ) -> Option<HarvestDecision> {
        let quote = match self.client.prices(&[]).await {
            Ok(quote) => quote,
            Err(error) => {
                warn!(%error, asset = %decision.asset, "no fresh quote; harvest not confirmed");
                return None;
            }
        };
        let mut fresh = prices.clone();
        fresh.extend(
            quote
                .prices
                .into_iter()
                .map(|(asset, price)| (asset, price.0)),
        );
        let book = self.desk.ledger().lock();
        plan_harvests(&book, &fresh, &self.config, decision.at)
            .into_iter()
            .find(|d| d.asset == decision.asset && d.outcome == HarvestOutcome::Harvest)
    }

    fn memo(&self) -> std::sync::MutexGuard<'_, DecisionMemo> {
        lock(&self.memo)
    }

    /// Records `decision` refused by `by` for `reason`, once per asset and day.
    async fn refuse(
        &self,
        decision: &HarvestDecision,
        (by, reason): (RefusedBy, String),
        harvest_id: Option<String>,
        dry_run: bool,
    ) {
        let refused = HarvestDecision {
            outcome: HarvestOutcome::Refused { by, reason },
            ..decision.clone()
        };
        if self.memo().once_a_day(&refused) {
            self.record(refused, harvest_id, dry_run).await;
        }
    }

    /// Records a decision and announces it.
    async fn record(&self, decision: HarvestDecision, harvest_id: Option<String>, dry_run: bool) {
        info!(decision = %decision.describe(), ?harvest_id, dry_run, "harvest decision");
        if let Err(error) = self
            .store
            .record_harvest_decision(decision.clone(), harvest_id.clone(), dry_run)
            .await
        {
            warn!(%error, "harvest decision not recorded");
        }
        let _ = self.bus.try_send(
            HarvestDecided {
                decision: Arc::new(decision),
                harvest_id,
                dry_run,
            }
            .into(),
        );
    }

    /// Executes one harvest: the sale, then the substitute. Returns whether the book
    /// changed.
    async fn harvest(&self, decision: HarvestDecision, trigger: TriggerId) -> bool {
        let at = decision.at;
        let dry_run = self.desk.dry_run();
        if !dry_run && !self.desk.gate_open() {
            // No order on a stale view; the next price move or tick decides again.
            return false;
        }
        let mut amounts = vec![decision.proceeds_usdc];
        if decision.substitute.is_some() {
            amounts.push(decision.proceeds_usdc);
        }
        let portfolio_usdc = *lock(&self.portfolio_usdc);
        if let Err(why) = self.desk.check_risk(&amounts, portfolio_usdc, at).await {
            self.refuse(&decision, (RefusedBy::RiskLimit, why), None, dry_run)
                .await;
            return false;
        }
        // The operator may have paused since the round began (the quote took a request).
        if let Some(hold) = self.desk.operator_hold() {
            self.refuse(&decision, (RefusedBy::Operator, hold), None, dry_run)
                .await;
            return false;
        }
        if dry_run && !self.memo().once_a_day(&decision) {
            return false;
        }
        let Some(harvest_id) = self.fresh_harvest_id(trigger, &decision.asset).await else {
            return false;
        };
        let venue_lots = if self.config.method == DisposalMethod::Fifo {
            Vec::new()
        } else {
            let mut ids: Vec<String> = Vec::new();
            for id in &decision.lot_ids {
                let venue = ballast::tax::lot::venue_id_of(id).to_owned();
                if !ids.contains(&venue) {
                    ids.push(venue);
                }
            }
            ids
        };
        let sale = self
            .desk
            .sell(WalletOrder {
                key: format!("{harvest_id}:sell"),
                harvest_id: harvest_id.clone(),
                side: TradeSide::Sell,
                asset: decision.asset.clone(),
                quantity: decision.quantity,
                lot_ids: venue_lots,
                reason: HARVEST_REASON.to_owned(),
                at,
            })
            .await;
        let reply = match sale {
            OrderOutcome::Applied { reply, .. } => reply,
            OrderOutcome::DryRun => {
                self.announce_dry_run(decision, harvest_id).await;
                return false;
            }
            OrderOutcome::Failed { reason } | OrderOutcome::Unknown { reason } => {
                self.refuse(
                    &decision,
                    (RefusedBy::Venue, format!("sale: {reason}")),
                    Some(harvest_id),
                    false,
                )
                .await;
                return false;
            }
        };
        let loss_usdc = self
            .book_reply(
                TradeSide::Sell,
                &reply,
                at,
                Some(&harvest_id),
                &decision.lot_ids,
            )
            .unwrap_or(decision.loss_usdc);
        self.save_book().await;
        let (substitute, substitute_quantity, substitute_cost_usdc) = self
            .buy_substitute(&decision, &harvest_id, reply.notional_usdc)
            .await;
        self.record(decision.clone(), Some(harvest_id.clone()), false)
            .await;
        info!(%harvest_id, asset = %decision.asset, proceeds_usdc = %reply.notional_usdc,
              %loss_usdc, ?substitute, "harvested");
        let _ = self.bus.try_send(
            HarvestExecuted {
                harvest_id,
                asset: decision.asset,
                quantity: reply.quantity,
                proceeds_usdc: reply.notional_usdc,
                loss_usdc,
                substitute,
                substitute_quantity,
                substitute_cost_usdc,
                dry_run: false,
                at,
            }
            .into(),
        );
        true
    }

    /// The name of the next harvest of `asset` on `trigger`: the first attempt the store does
    /// not hold yet (`None`, and nothing sent, when the store cannot say).
    async fn fresh_harvest_id(&self, trigger: TriggerId, asset: &str) -> Option<String> {
        for attempt in 1..=u32::MAX {
            let id = harvest_id(self.venue, trigger, asset, attempt);
            match self.store.harvest_id_used(id.clone()).await {
                Ok(false) => return Some(id),
                // An earlier run, or an earlier harvest of this round, used it.
                Ok(true) => continue,
                Err(error) => {
                    warn!(%error, harvest_id = %id, "harvest names not read; nothing sent");
                    return None;
                }
            }
        }
        None
    }

    /// Buys the decision's substitute with `proceeds_usdc`; returns what was bought.
    async fn buy_substitute(
        &self,
        decision: &HarvestDecision,
        harvest_id: &str,
        proceeds_usdc: Decimal,
    ) -> (Option<String>, Decimal, Decimal) {
        let (Some(substitute), Some(price)) =
            (&decision.substitute, decision.substitute_price_usdc)
        else {
            return (None, Decimal::ZERO, Decimal::ZERO);
        };
        let quantity = substitute_quantity(proceeds_usdc, price, self.config.trade_cost_rate);
        if quantity.is_zero() {
            return (None, Decimal::ZERO, Decimal::ZERO);
        }
        let bought = self
            .desk
            .buy(WalletOrder {
                key: format!("{harvest_id}:buy"),
                harvest_id: harvest_id.to_owned(),
                side: TradeSide::Buy,
                asset: substitute.clone(),
                quantity,
                lot_ids: Vec::new(),
                reason: HARVEST_REASON.to_owned(),
                at: decision.at,
            })
            .await;
        match bought {
            OrderOutcome::Applied { reply, .. } => {
                self.book_reply(TradeSide::Buy, &reply, decision.at, Some(harvest_id), &[]);
                self.save_book().await;
                (
                    Some(substitute.clone()),
                    reply.quantity,
                    reply.notional_usdc,
                )
            }
            OrderOutcome::DryRun => (Some(substitute.clone()), quantity, Decimal::ZERO),
            OrderOutcome::Failed { reason } | OrderOutcome::Unknown { reason } => {
                warn!(%harvest_id, %substitute, %reason, "substitute not bought: the exposure is not restored");
                (None, Decimal::ZERO, Decimal::ZERO)
            }
        }
    }

    /// Records a dry-run harvest (its sale and buy recorded, nothing sent).
    async fn announce_dry_run(&self, decision: HarvestDecision, harvest_id: String) {
        let (substitute, substitute_quantity, _) = self
            .buy_substitute(&decision, &harvest_id, decision.proceeds_usdc)
            .await;
        self.record(decision.clone(), Some(harvest_id.clone()), true)
            .await;
        let _ = self.bus.try_send(
            HarvestExecuted {
                harvest_id,
                asset: decision.asset,
                quantity: decision.quantity,
                proceeds_usdc: decision.proceeds_usdc,
                loss_usdc: decision.loss_usdc,
                substitute,
                substitute_quantity,
                substitute_cost_usdc: Decimal::ZERO,
                dry_run: true,
                at: decision.at,
            }
            .into(),
        );
    }
}

/// Locks `mutex`; a panic while it was held leaves plain data (a value replaced whole), so a
/// poisoned lock is still good.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
