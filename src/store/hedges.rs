//! Hedges: each perp hedge recorded before its order is sent, updated as it opens and
//! closes, the live ones read back at start-up, and the totals `ballast status` shows.
//!
//! # Invariants
//! - A hedge is recorded (`opening`, or `dry_run`) before its order is sent; its open key is
//!   unique, so one order can never be recorded twice.
//! - A hedge is found by its id; the store never rewrites an id or a key.
//! - Fees, funding and PnL are decimal text, summed exactly.

use std::str::FromStr;

use rusqlite::{Connection, OptionalExtension, params};

use super::{
    HedgeRecord, HedgeReport, Service, Store, StoreError,
    codec::{now_text, parse_decimal, parse_time, time_text},
};
use crate::{
    hedge::{HedgeCosts, HedgeStatus},
    observation::PositionSide,
};

/// Hedges the report lists, newest first.
const RECENT_HEDGES: u32 = 5;

const COLUMNS: &str = "hedge_id, run_id, service, market, side, notional_usdc, leverage, ratio,
     reason, status, open_key, close_key, position_id, created_at, opened_at, closed_at,
     close_reason, fees_usdc, funding_usdc, realized_pnl_usdc, error";

impl Store {
    /// Records a new hedge, or saves what became of one already recorded (matched by id).
    ///
    /// # Errors
    /// [`StoreError`]; a new hedge whose open key is taken is refused, and nothing must be
    /// sent then.
    pub async fn save_hedge(&self, hedge: HedgeRecord) -> Result<(), StoreError> {
        self.call(move |c| {
            c.execute(
                "INSERT INTO hedges (hedge_id, run_id, service, market, side, notional_usdc,
                     leverage, ratio, reason, status, open_key, close_key, position_id,
                     created_at, opened_at, closed_at, close_reason, fees_usdc, funding_usdc,
                     realized_pnl_usdc, error, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                         ?17, ?18, ?19, ?20, ?21, ?22)
                 ON CONFLICT(hedge_id) DO UPDATE SET
                     status = excluded.status, close_key = excluded.close_key,
                     position_id = excluded.position_id, opened_at = excluded.opened_at,
                     closed_at = excluded.closed_at, close_reason = excluded.close_reason,
                     fees_usdc = excluded.fees_usdc, funding_usdc = excluded.funding_usdc,
                     realized_pnl_usdc = excluded.realized_pnl_usdc, error = excluded.error,
                     updated_at = excluded.updated_at",
                params![
                    hedge.hedge_id,
                    hedge.run_id,
                    hedge.service.name(),
                    hedge.market,
                    side_text(hedge.side),
                    hedge.notional_usdc.to_string(),
                    hedge.leverage,
                    hedge.ratio.to_string(),
                    hedge.reason,
                    hedge.status.as_str(),
                    hedge.open_key,
                    hedge.close_key,
                    hedge.position_id,
                    time_text(hedge.created_at),
                    hedge.opened_at.map(time_text),
                    hedge.closed_at.map(time_text),
                    hedge.close_reason,
                    hedge.costs.fees_usdc.to_string(),
                    hedge.costs.funding_usdc.to_string(),
                    hedge.costs.realized_pnl_usdc.to_string(),
                    hedge.error,
                    now_text()
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// Hedges that may still hold a position (`opening`, `open`, `closing`), oldest first:
    /// a restart resolves each before hedging again.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn live_hedges(&self) -> Result<Vec<HedgeRecord>, StoreError> {
        self.call(|c| {
            let mut statement = c.prepare(&format!(
                "SELECT {COLUMNS} FROM hedges
                 WHERE status IN ('opening', 'open', 'closing') ORDER BY rowid"
            ))?;
            let rows = statement.query_map([], hedge_row)?;
            rows.map(|row| row?).collect()
        })
        .await
    }

    /// One hedge by id.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn hedge(&self, hedge_id: String) -> Result<Option<HedgeRecord>, StoreError> {
        self.call(move |c| {
            let mut statement =
                c.prepare(&format!("SELECT {COLUMNS} FROM hedges WHERE hedge_id = ?1"))?;
            statement
                .query_row([hedge_id], hedge_row)
                .optional()?
                .transpose()
        })
        .await
    }
}

/// What `ballast status` shows of the hedges; empty for a store from before hedges.
pub(super) fn hedge_report(c: &Connection) -> Result<HedgeReport, StoreError> {
    let exists: i64 = c.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'hedges'",
        [],
        |r| r.get(0),
    )?;
    if exists == 0 {
        return Ok(HedgeReport::default());
    }
    let mut report = HedgeReport::default();
    let mut statement = c.prepare(&format!("SELECT {COLUMNS} FROM hedges ORDER BY rowid"))?;
    let rows = statement.query_map([], hedge_row)?;
    for row in rows {
        let hedge = row??;
        match hedge.status {
            HedgeStatus::Open | HedgeStatus::Opening | HedgeStatus::Closing => {
                report.open_now += 1;
            }
            HedgeStatus::Closed => report.closed += 1,
            HedgeStatus::Failed => report.failed += 1,
            HedgeStatus::DryRun => report.dry_run += 1,
        }
        if hedge.opened_at.is_some() {
            report.opened += 1;
        }
        report.costs += hedge.costs;
    }
    let mut recent = c.prepare(&format!(
        "SELECT {COLUMNS} FROM hedges ORDER BY rowid DESC LIMIT ?1"
    ))?;
    report.recent = recent
        .query_map([RECENT_HEDGES], hedge_row)?
        .map(|row| row?)
        .collect::<Result<_, _>>()?;
    Ok(report)
}

fn side_text(side: PositionSide) -> &'static str {
    match side {
        PositionSide::Long => "long",
        PositionSide::Short => "short",
    }
}

/// One hedge from a row of [`COLUMNS`]: SQLite's error outside, a column that does not
/// parse inside.
fn hedge_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<HedgeRecord, StoreError>> {
    let text = |i: usize| r.get::<_, String>(i);
    let optional = |i: usize| r.get::<_, Option<String>>(i);
    let (service, side, status) = (text(2)?, text(4)?, text(9)?);
    let (notional, ratio, created_at) = (text(5)?, text(7)?, text(13)?);
    let (opened_at, closed_at) = (optional(14)?, optional(15)?);
    let (fees, funding, pnl) = (text(17)?, text(18)?, text(19)?);
    let base = (
        text(0)?,
        text(1)?,
        text(3)?,
        r.get::<_, u32>(6)?,
        text(8)?,
        text(10)?,
    );
    let (close_key, position_id, close_reason, error) =
        (optional(11)?, optional(12)?, optional(16)?, optional(20)?);
    Ok((|| {
        let corrupt = |column: &'static str, value: &str| StoreError::Corrupt {
            column,
            value: value.to_owned(),
        };
        let time =
            |column, value: Option<String>| value.map(|v| parse_time(column, &v)).transpose();
        let (hedge_id, run_id, market, leverage, reason, open_key) = base;
        Ok(HedgeRecord {
            hedge_id,
            run_id,
            service: Service::from_str(&service)
                .map_err(|_| corrupt("hedges.service", &service))?,
            market,
            side: match side.as_str() {
                "long" => PositionSide::Long,
                "short" => PositionSide::Short,
                _ => return Err(corrupt("hedges.side", &side)),
            },
            notional_usdc: parse_decimal("hedges.notional_usdc", &notional)?,
            leverage,
            ratio: parse_decimal("hedges.ratio", &ratio)?,
            reason,
            status: HedgeStatus::parse(&status).ok_or_else(|| corrupt("hedges.status", &status))?,
            open_key,
            close_key,
            position_id,
            created_at: parse_time("hedges.created_at", &created_at)?,
            opened_at: time("hedges.opened_at", opened_at)?,
            closed_at: time("hedges.closed_at", closed_at)?,
            close_reason,
            costs: HedgeCosts {
                fees_usdc: parse_decimal("hedges.fees_usdc", &fees)?,
                funding_usdc: parse_decimal("hedges.funding_usdc", &funding)?,
                realized_pnl_usdc: parse_decimal("hedges.realized_pnl_usdc", &pnl)?,
            },
            error,
        })
    })())
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;
    use time::macros::datetime;

    use super::*;

    fn hedge(seq: u32, status: HedgeStatus) -> HedgeRecord {
        HedgeRecord {
            hedge_id: format!("r1:h{seq}"),
            run_id: "r1".into(),
            service: Service::Casino,
            market: "BTC-PERP".into(),
            side: PositionSide::Short,
            notional_usdc: dec!(120.00),
            leverage: 2,
            ratio: dec!(0.8123),
            reason: "casino 15.0 points over, 150 locked".into(),
            status,
            open_key: format!("r1:h{seq}:open"),
            close_key: None,
            position_id: None,
            created_at: datetime!(2026-01-01 05:00 UTC),
            opened_at: None,
            closed_at: None,
            close_reason: None,
            costs: HedgeCosts::default(),
            error: None,
        }
    }

    #[tokio::test]
    async fn hedges_round_trip_and_live_ones_are_found() {
        let store = Store::open_in_memory().expect("opens");
        let opening = hedge(1, HedgeStatus::Opening);
        store.save_hedge(opening.clone()).await.expect("records");
        assert_eq!(
            store.live_hedges().await.expect("reads"),
            vec![opening.clone()]
        );
        // Opened, then closed: every field comes back exactly.
        let open = HedgeRecord {
            status: HedgeStatus::Open,
            position_id: Some("pos-00000001".into()),
            opened_at: Some(datetime!(2026-01-01 05:00:01 UTC)),
            costs: HedgeCosts {
                fees_usdc: dec!(0.12),
                ..HedgeCosts::default()
            },
            ..opening.clone()
        };
        store.save_hedge(open.clone()).await.expect("saves");
        let closed = HedgeRecord {
            status: HedgeStatus::Closed,
            close_key: Some("r1:h1:close".into()),
            closed_at: Some(datetime!(2026-01-03 13:00 UTC)),
            close_reason: Some("lock_released".into()),
            costs: HedgeCosts {
                fees_usdc: dec!(0.24),
                funding_usdc: dec!(-0.03),
                realized_pnl_usdc: dec!(1.57),
            },
            ..open
        };
        store.save_hedge(closed.clone()).await.expect("saves");
        assert_eq!(
            store.hedge("r1:h1".into()).await.expect("reads"),
            Some(closed.clone())
        );
        assert!(store.live_hedges().await.expect("reads").is_empty());
        // A second hedge under the same open key is refused: one order, one record.
        let duplicate = HedgeRecord {
            hedge_id: "r1:h9".into(),
            ..hedge(1, HedgeStatus::Opening)
        };
        assert!(store.save_hedge(duplicate).await.is_err());
        store
            .save_hedge(hedge(2, HedgeStatus::Failed))
            .await
            .expect("records");
        let report = store.status().await.expect("status").hedges;
        assert_eq!(
            (report.opened, report.closed, report.failed, report.open_now),
            (1, 1, 1, 0)
        );
        assert_eq!(report.costs.cost_usdc(), dec!(0.27));
        assert_eq!(report.recent[0].hedge_id, "r1:h2");
    }
}
