//! The tax room: the lot book (open lots and every disposal), harvest decisions with their
//! figures, and wallet orders, each recorded before it is sent.
//!
//! # Invariants
//! - The book is saved whole in one transaction ([`Store::save_tax_book`]), so a crash
//!   leaves either the book before or the book after, never half of each; lots keep their
//!   book order.
//! - A wallet order is on disk (`pending`, or `dry_run`) before it is sent; its key is the
//!   venue idempotency key and is never rewritten.
//! - Reading a file for the report or the status never writes or migrates it.

use std::path::Path;

use rusqlite::{Connection, params};
use rust_decimal::Decimal;
use serde::Serialize;
use time::OffsetDateTime;

use super::{
    LegStatus, Store, StoreError,
    codec::{now_text, parse_decimal, parse_time, text_columns, time_text},
    schema,
};
use crate::{
    observation::TradeSide,
    tax::{Disposal, HarvestDecision, Lot, LotOrigin, Term},
};

/// A wallet order as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WalletOrderRecord {
    /// `{harvest_id}:sell` or `{harvest_id}:buy`: also the venue idempotency key.
    pub idempotency_key: String,
    /// The harvest it belongs to.
    pub harvest_id: String,
    /// Buy or sell.
    pub side: TradeSide,
    /// Asset ticker.
    pub asset: String,
    /// Units.
    pub quantity: Decimal,
    /// For a sale: the venue lots named, in order (empty: first in, first out).
    pub lot_ids: Vec<String>,
    /// The reason sent with it.
    pub reason: String,
    /// Pending (maybe sent, outcome unknown), applied, failed or dry run.
    pub status: LegStatus,
    /// When recorded.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// What `ballast status` shows of the tax book.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TaxStatus {
    /// Open lots.
    pub open_lots: u64,
    /// Disposals recorded.
    pub disposals: u64,
    /// Harvests decided (dry-run ones included).
    pub harvests: u64,
    /// Estimated losses harvested, USDC.
    pub harvested_loss_usdc: Decimal,
    /// Harvests skipped because they did not pay (once per asset and day).
    pub skipped_not_worth: u64,
    /// Harvests deferred by the wash-sale rule (an asset bought in the window before).
    pub skipped_wash_window: u64,
    /// Substitute buys prevented by the wash-sale rule.
    pub wash_buys_prevented: u64,
    /// Losses disallowed by wash sales and carried into replacement lots, USDC.
    pub disallowed_loss_usdc: Decimal,
    /// Wallet orders whose outcome is unknown.
    pub orders_pending: u64,
}

impl Store {
    /// Replaces the stored book with `lots` (in book order) and `disposals`.
    ///
    /// # Errors
    /// [`StoreError`]; the stored book is then unchanged.
    pub async fn save_tax_book(
        &self,
        lots: Vec<Lot>,
        disposals: Vec<Disposal>,
    ) -> Result<(), StoreError> {
        self.call(move |c| {
            let tx = c.transaction()?;
            tx.execute("DELETE FROM tax_lots", [])?;
            {
                let mut insert = tx.prepare(
                    "INSERT INTO tax_lots (lot_id, position, venue_lot_id, asset, quantity,
                         cost_basis_usdc, wash_adjustment_usdc, bought_at, acquired_at, origin,
                         replacement)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )?;
                for (position, lot) in lots.iter().enumerate() {
                    insert.execute(params![
                        lot.lot_id,
                        i64::try_from(position).unwrap_or(i64::MAX),
                        lot.venue_lot_id,
                        lot.asset,
                        lot.quantity.to_string(),
                        lot.cost_basis_usdc.to_string(),
                        lot.wash_adjustment_usdc.to_string(),
                        time_text(lot.bought_at),
                        time_text(lot.acquired_at),
                        lot.origin.name(),
                        lot.replacement,
                    ])?;
                }
                let mut upsert = tx.prepare(
                    "INSERT OR REPLACE INTO tax_disposals (disposal_id, trade_id, asset, lot_id,
                         quantity, acquired_at, sold_at, proceeds_usdc, cost_basis_usdc,
                         disallowed_loss_usdc, unmatched_quantity, unmatched_loss_usdc, term,
                         harvest_id)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                )?;
                for d in &disposals {
                    upsert.execute(params![
                        d.disposal_id,
                        d.trade_id,
                        d.asset,
                        d.lot_id,
                        d.quantity.to_string(),
                        time_text(d.acquired_at),
                        time_text(d.sold_at),
                        d.proceeds_usdc.to_string(),
                        d.cost_basis_usdc.to_string(),
                        d.disallowed_loss_usdc.to_string(),
                        d.unmatched_quantity.to_string(),
                        d.unmatched_loss_usdc.to_string(),
                        d.term.name(),
                        d.harvest_id,
                    ])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// The stored book: open lots in book order, and every disposal in the order sold.
    ///
    /// # Errors
    /// [`StoreError`], [`StoreError::Corrupt`] naming a column that does not parse.
    pub async fn load_tax_book(&self) -> Result<(Vec<Lot>, Vec<Disposal>), StoreError> {
        self.call(|c| Ok((load_lots(c)?, load_disposals(c)?))).await
    }

    /// Records one harvest decision with its figures.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn record_harvest_decision(
        &self,
        decision: HarvestDecision,
        harvest_id: Option<String>,
        dry_run: bool,
    ) -> Result<(), StoreError> {
        self.call(move |c| {
            let blocked: Vec<&str> = decision
                .blocked_substitutes
                .iter()
                .map(|b| b.asset.as_str())
                .collect();
            c.execute(
                "INSERT INTO tax_decisions (at, asset, outcome, harvest_id, dry_run, lot_ids,
                     quantity, loss_usdc, tax_value_usdc, trade_cost_usdc, holding_cost_usdc,
                     substitute, blocked_substitutes, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                params![
                    time_text(decision.at),
                    decision.asset,
                    decision.outcome.name(),
                    harvest_id,
                    dry_run,
                    decision.lot_ids.join(","),
                    decision.quantity.to_string(),
                    decision.loss_usdc.to_string(),
                    decision.tax_value_usdc.to_string(),
                    decision.trade_cost_usdc.to_string(),
                    decision.holding_cost_usdc.to_string(),
                    decision.substitute,
                    blocked.join(","),
                    decision.describe(),
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// Harvests recorded so far (their ids are numbered from this).
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn harvest_count(&self) -> Result<u64, StoreError> {
        self.call(|c| {
            let n: i64 = c.query_row(
                "SELECT count(*) FROM tax_decisions WHERE outcome = 'harvested'",
                [],
                |r| r.get(0),
            )?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
        .await
    }

    /// Whether `harvest_id` names a harvest the store already holds (an order recorded under
    /// it, or a decision): such a name is never used again.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn harvest_id_used(&self, harvest_id: String) -> Result<bool, StoreError> {
        self.call(move |c| {
            let used: bool = c.query_row(
                "SELECT EXISTS (SELECT 1 FROM wallet_orders WHERE harvest_id = ?1)
                     OR EXISTS (SELECT 1 FROM tax_decisions WHERE harvest_id = ?1)",
                [&harvest_id],
                |r| r.get(0),
            )?;
            Ok(used)
        })
        .await
    }

    /// Records a wallet order before it is sent.
    ///
    /// # Errors
    /// [`StoreError`] (a key recorded before is refused: keys are never reused).
    pub async fn record_wallet_order(&self, order: WalletOrderRecord) -> Result<(), StoreError> {
        self.call(move |c| {
            c.execute(
                "INSERT INTO wallet_orders (idempotency_key, harvest_id, side, asset, quantity,
                     lot_ids, reason, status, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    order.idempotency_key,
                    order.harvest_id,
                    order.side.name(),
                    order.asset,
                    order.quantity.to_string(),
                    order.lot_ids.join(","),
                    order.reason,
                    order.status.as_str(),
                    time_text(order.created_at),
                    now_text(),
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// Sets a wallet order's outcome.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn update_wallet_order(
        &self,
        idempotency_key: String,
        status: LegStatus,
        trade_id: Option<String>,
        notional_usdc: Option<Decimal>,
        error: Option<String>,
    ) -> Result<(), StoreError> {
        self.call(move |c| {
            c.execute(
                "UPDATE wallet_orders SET status = ?2, trade_id = ?3, notional_usdc = ?4,
                     error = ?5, updated_at = ?6
                 WHERE idempotency_key = ?1",
                params![
                    idempotency_key,
                    status.as_str(),
                    trade_id,
                    notional_usdc.map(|n| n.to_string()),
                    error,
                    now_text()
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// Wallet orders whose outcome is unknown, oldest first.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn pending_wallet_orders(&self) -> Result<Vec<WalletOrderRecord>, StoreError> {
        self.call(|c| {
            let mut statement = c.prepare(
                "SELECT idempotency_key, harvest_id, side, asset, quantity, lot_ids, reason,
                     status, created_at
                 FROM wallet_orders WHERE status = 'pending' ORDER BY rowid",
            )?;
            let rows = statement.query_map([], text_columns::<9>)?;
            rows.map(|row| {
                let [
                    key,
                    harvest_id,
                    side,
                    asset,
                    quantity,
                    lot_ids,
                    reason,
                    status,
                    at,
                ] = row?;
                Ok(WalletOrderRecord {
                    idempotency_key: key,
                    harvest_id,
                    side: parse_side(&side)?,
                    asset,
                    quantity: parse_decimal("wallet_orders.quantity", &quantity)?,
                    lot_ids: split_list(&lot_ids),
                    reason,
                    status: LegStatus::parse(&status)?,
                    created_at: parse_time("wallet_orders.created_at", &at)?,
                })
            })
            .collect()
        })
        .await
    }

    /// USDC traded by applied wallet orders recorded on `day` (UTC), for the daily
    /// turnover cap.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn wallet_orders_usdc_on(&self, day: time::Date) -> Result<Decimal, StoreError> {
        self.call(move |c| {
            let mut statement = c.prepare(
                "SELECT created_at, notional_usdc FROM wallet_orders
                 WHERE status = 'applied' AND notional_usdc IS NOT NULL",
            )?;
            let mut rows = statement.query([])?;
            let mut total = Decimal::ZERO;
            while let Some(row) = rows.next()? {
                let at: String = row.get(0)?;
                let on = parse_time("wallet_orders.created_at", &at)?
                    .to_offset(time::UtcOffset::UTC)
                    .date();
                if on == day {
                    let notional: String = row.get(1)?;
                    total += parse_decimal("wallet_orders.notional_usdc", &notional)?;
                }
            }
            Ok(total)
        })
        .await
    }

    /// What `ballast status` shows of the tax book.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn tax_status(&self) -> Result<TaxStatus, StoreError> {
        self.call(|c| tax_status(c)).await
    }
}

/// Every disposal in a store file, read without writing or migrating it (for
/// `ballast report tax` beside a running companion).
///
/// # Errors
/// [`StoreError`] when the file is missing, unreadable or from a newer ballast.
pub fn read_tax_disposals(path: &Path) -> Result<Vec<Disposal>, StoreError> {
    let connection = schema::open_read_only(path)?;
    if !schema::has_table(&connection, "tax_disposals")? {
        return Ok(Vec::new());
    }
    load_disposals(&connection)
}

/// The tax part of the status report; empty for a store from before the tax room.
pub(super) fn tax_status(c: &Connection) -> Result<TaxStatus, StoreError> {
    if !schema::has_table(c, "tax_disposals")? {
        return Ok(TaxStatus::default());
    }
    let count = |sql: &str| -> Result<u64, StoreError> {
        let n: i64 = c.query_row(sql, [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    };
    let sum = |sql: &str, column: &'static str| -> Result<Decimal, StoreError> {
        let mut statement = c.prepare(sql)?;
        let values = statement.query_map([], |r| r.get::<_, String>(0))?;
        let mut total = Decimal::ZERO;
        for value in values {
            total += parse_decimal(column, &value?)?;
        }
        Ok(total)
    };
    let mut blocked = c.prepare("SELECT blocked_substitutes FROM tax_decisions")?;
    let wash_buys_prevented = blocked
        .query_map([], |r| r.get::<_, String>(0))?
        .map(|list| list.map(|l| split_list(&l).len() as u64))
        .sum::<Result<u64, _>>()?;
    Ok(TaxStatus {
        open_lots: count("SELECT count(*) FROM tax_lots")?,
        disposals: count("SELECT count(*) FROM tax_disposals")?,
        harvests: count("SELECT count(*) FROM tax_decisions WHERE outcome = 'harvested'")?,
        harvested_loss_usdc: crate::tax::report::harvested_loss_usdc(
            &harvests(c)?,
            &load_disposals(c)?,
        ),
        skipped_not_worth: count("SELECT count(*) FROM tax_decisions WHERE outcome = 'not_worth'")?,
        skipped_wash_window: count(
            "SELECT count(*) FROM tax_decisions WHERE outcome = 'wash_sale_window'",
        )?,
        wash_buys_prevented,
        disallowed_loss_usdc: sum(
            "SELECT disallowed_loss_usdc FROM tax_disposals",
            "tax_disposals.disallowed_loss_usdc",
        )?,
        orders_pending: count("SELECT count(*) FROM wallet_orders WHERE status = 'pending'")?,
    })
}

/// Each harvest executed: its id and the loss its decision expected.
fn harvests(c: &Connection) -> Result<Vec<(String, Decimal)>, StoreError> {
    let mut statement = c.prepare(
        "SELECT harvest_id, loss_usdc FROM tax_decisions
         WHERE outcome = 'harvested' AND harvest_id IS NOT NULL",
    )?;
    let rows = statement.query_map([], text_columns::<2>)?;
    rows.map(|row| {
        let [harvest_id, loss] = row?;
        Ok((harvest_id, parse_decimal("tax_decisions.loss_usdc", &loss)?))
    })
    .collect()
}

fn load_lots(c: &Connection) -> Result<Vec<Lot>, StoreError> {
    let mut statement = c.prepare(
        "SELECT lot_id, venue_lot_id, asset, quantity, cost_basis_usdc, wash_adjustment_usdc,
             bought_at, acquired_at, origin, replacement
         FROM tax_lots ORDER BY position",
    )?;
    let rows = statement.query_map([], |r| Ok((text_columns::<9>(r)?, r.get::<_, bool>(9)?)))?;
    rows.map(|row| {
        let (
            [
                lot_id,
                venue_lot_id,
                asset,
                q,
                basis,
                adjustment,
                bought,
                acquired,
                origin,
            ],
            replacement,
        ) = row?;
        Ok(Lot {
            lot_id,
            venue_lot_id,
            asset,
            quantity: parse_decimal("tax_lots.quantity", &q)?,
            cost_basis_usdc: parse_decimal("tax_lots.cost_basis_usdc", &basis)?,
            wash_adjustment_usdc: parse_decimal("tax_lots.wash_adjustment_usdc", &adjustment)?,
            bought_at: parse_time("tax_lots.bought_at", &bought)?,
            acquired_at: parse_time("tax_lots.acquired_at", &acquired)?,
            origin: match origin.as_str() {
                "ballast" => LotOrigin::Ballast,
                "external" => LotOrigin::External,
                _ => {
                    return Err(StoreError::Corrupt {
                        column: "tax_lots.origin",
                        value: origin,
                    });
                }
            },
            replacement,
        })
    })
    .collect()
}

fn load_disposals(c: &Connection) -> Result<Vec<Disposal>, StoreError> {
    let mut statement = c.prepare(
        "SELECT disposal_id, trade_id, asset, lot_id, quantity, acquired_at, sold_at,
             proceeds_usdc, cost_basis_usdc, disallowed_loss_usdc, unmatched_quantity,
             unmatched_loss_usdc, term, harvest_id
         FROM tax_disposals ORDER BY sold_at, rowid",
    )?;
    let mut rows = statement.query([])?;
    let mut disposals = Vec::new();
    while let Some(r) = rows.next()? {
        let text = |i: usize| r.get::<_, String>(i);
        let decimal = |i: usize, column: &'static str| -> Result<Decimal, StoreError> {
            parse_decimal(column, &r.get::<_, String>(i)?)
        };
        let term = text(12)?;
        disposals.push(Disposal {
            disposal_id: text(0)?,
            trade_id: text(1)?,
            asset: text(2)?,
            lot_id: text(3)?,
            quantity: decimal(4, "tax_disposals.quantity")?,
            acquired_at: parse_time("tax_disposals.acquired_at", &text(5)?)?,
            sold_at: parse_time("tax_disposals.sold_at", &text(6)?)?,
            proceeds_usdc: decimal(7, "tax_disposals.proceeds_usdc")?,
            cost_basis_usdc: decimal(8, "tax_disposals.cost_basis_usdc")?,
            disallowed_loss_usdc: decimal(9, "tax_disposals.disallowed_loss_usdc")?,
            unmatched_quantity: decimal(10, "tax_disposals.unmatched_quantity")?,
            unmatched_loss_usdc: decimal(11, "tax_disposals.unmatched_loss_usdc")?,
            term: match term.as_str() {
                "short" => Term::Short,
                "long" => Term::Long,
                _ => {
                    return Err(StoreError::Corrupt {
                        column: "tax_disposals.term",
                        value: term,
                    });
                }
            },
            harvest_id: r.get::<_, Option<String>>(13)?,
        });
    }
    Ok(disposals)
}

fn parse_side(text: &str) -> Result<TradeSide, StoreError> {
    match text {
        "buy" => Ok(TradeSide::Buy),
        "sell" => Ok(TradeSide::Sell),
        other => Err(StoreError::Corrupt {
            column: "wallet_orders.side",
            value: other.to_owned(),
        }),
    }
}

fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;
    use time::macros::datetime;

    use super::*;
    use crate::tax::{
        DisposalMethod, LotBook, TaxConfig, VenueLot, WashRule, lots::SaleRules, plan_harvests,
    };

    fn book() -> LotBook {
        let rule = WashRule::Window { days: 30 };
        let mut book = LotBook::new();
        for (id, q, basis, at) in [
            (
                "lot-1",
                dec!(0.002),
                dec!(190.20),
                datetime!(2025-01-01 12:00 UTC),
            ),
            (
                "lot-2",
                dec!(0.001),
                dec!(95.10),
                datetime!(2025-06-01 12:00 UTC),
            ),
        ] {
            book.open_lot(
                &VenueLot {
                    venue_lot_id: id.into(),
                    asset: "BTC".into(),
                    quantity: q,
                    cost_basis_usdc: basis,
                    acquired_at: at,
                },
                LotOrigin::External,
                rule,
            )
            .expect("opens");
        }
        book.dispose(
            "BTC",
            dec!(0.001),
            dec!(79.92),
            DisposalMethod::Fifo,
            &[],
            datetime!(2026-02-01 00:00 UTC),
            "wt-9",
            SaleRules {
                long_term_days: 365,
                wash: rule,
            },
        )
        .expect("sells");
        book
    }

    #[tokio::test]
    async fn the_book_round_trips_exactly_in_order() {
        let store = Store::open_in_memory().expect("opens");
        let book = book();
        store
            .save_tax_book(book.lots().to_vec(), book.disposals().to_vec())
            .await
            .expect("saves");
        // Saving again (a later state) replaces the lots and upserts the disposals.
        store
            .save_tax_book(book.lots().to_vec(), book.disposals().to_vec())
            .await
            .expect("saves");
        let (lots, disposals) = store.load_tax_book().await.expect("loads");
        assert_eq!(LotBook::restore(lots, disposals), book);
        assert_eq!(book.disposals()[0].term, Term::Long);
    }

    #[tokio::test]
    async fn orders_and_decisions_feed_the_status() {
        let store = Store::open_in_memory().expect("opens");
        let order = |side, key: &str, status| WalletOrderRecord {
            idempotency_key: key.into(),
            harvest_id: "r1:h1".into(),
            side,
            asset: "BTC".into(),
            quantity: dec!(0.001),
            lot_ids: vec!["lot-1".into(), "lot-2".into()],
            reason: "tax_loss_harvest".into(),
            status,
            created_at: datetime!(2026-02-01 00:00 UTC),
        };
        store
            .record_wallet_order(order(TradeSide::Sell, "r1:h1:sell", LegStatus::Pending))
            .await
            .expect("records");
        store
            .record_wallet_order(order(TradeSide::Buy, "r1:h1:buy", LegStatus::Pending))
            .await
            .expect("records");
        // A key is never reused.
        assert!(
            store
                .record_wallet_order(order(TradeSide::Buy, "r1:h1:buy", LegStatus::Pending))
                .await
                .is_err()
        );
        store
            .update_wallet_order(
                "r1:h1:sell".into(),
                LegStatus::Applied,
                Some("wt-1".into()),
                Some(dec!(79.92)),
                None,
            )
            .await
            .expect("updates");
        let pending = store.pending_wallet_orders().await.expect("reads");
        assert_eq!(
            pending,
            [order(TradeSide::Buy, "r1:h1:buy", LegStatus::Pending)]
        );
        assert_eq!(
            store
                .wallet_orders_usdc_on(datetime!(2026-02-01 00:00 UTC).date())
                .await
                .expect("sums"),
            dec!(79.92)
        );
        let prices = [
            ("BTC".to_owned(), dec!(80000)),
            ("ETH".to_owned(), dec!(3000)),
        ]
        .into_iter()
        .collect();
        let config = TaxConfig::default();
        let decision =
            plan_harvests(&book(), &prices, &config, datetime!(2026-03-15 00:00 UTC)).remove(0);
        store
            .record_harvest_decision(decision.clone(), Some("r1:h1".into()), false)
            .await
            .expect("records");
        let status = store.tax_status().await.expect("status");
        assert_eq!(status.harvests, 1);
        assert_eq!(status.harvested_loss_usdc, decision.loss_usdc);
        assert_eq!(status.orders_pending, 1);
        assert_eq!(store.harvest_count().await.expect("counts"), 1);
        // A name with orders or a decision is taken; another is free.
        assert!(store.harvest_id_used("r1:h1".into()).await.expect("reads"));
        assert!(!store.harvest_id_used("r1:h2".into()).await.expect("reads"));
    }
}
