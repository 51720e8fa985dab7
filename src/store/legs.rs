//! Legs: their outcomes, the ones still pending, the day's applied turnover, and why the
//! failed ones failed.
//!
//! # Invariants
//! - A leg is found by its idempotency key, the text the venue saw; the store never
//!   rewrites a key.
//! - Only `applied` legs count as money moved; `pending` ones are not turnover (yet).

use std::collections::BTreeMap;

use rusqlite::{Connection, params};
use rust_decimal::Decimal;

use super::{
    LegRecord, LegStatus, PlanRecord, Store, StoreError,
    codec::{now_text, parse_decimal, parse_direction, parse_service, parse_time, time_text},
};

/// A leg of unknown outcome, with the run that recorded its plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingLeg {
    /// The leg.
    pub leg: LegRecord,
    /// The run that recorded its plan (a leg of this run may still be on the way).
    pub run_id: String,
}

/// The applied legs with their plans' times, newest plan first. CROSS JOIN keeps plans the
/// outer loop: SQLite walks them newest first without a sort and finds each one's legs
/// through `legs_by_plan` (v8), so [`Store::applied_usdc_on`] stops at the first plan of an
/// earlier day after reading only that day's.
pub(super) const APPLIED_ON_DAY_SQL: &str = "SELECT plans.created_at, legs.amount_usdc FROM plans
     CROSS JOIN legs ON legs.plan_id = plans.plan_id
     WHERE legs.status = 'applied'
     ORDER BY plans.rowid DESC, legs.leg_index";

impl Store {
    /// Sets a leg's outcome (`updated_at` in wall time; the companion's clock is not known
    /// here, so `updated_venue_at` keeps its value: see [`Store::update_leg_at`]).
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn update_leg(
        &self,
        idempotency_key: String,
        status: LegStatus,
        transfer_id: Option<String>,
        error: Option<String>,
    ) -> Result<(), StoreError> {
        self.update_leg_at(idempotency_key, status, transfer_id, error, None)
            .await
    }

    /// [`Store::update_leg`], also stamping the companion's clock (`updated_venue_at`) when
    /// `venue_at` is given.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn update_leg_at(
        &self,
        idempotency_key: String,
        status: LegStatus,
        transfer_id: Option<String>,
        error: Option<String>,
        venue_at: Option<time::OffsetDateTime>,
    ) -> Result<(), StoreError> {
        self.call(move |c| {
            c.execute(
                "UPDATE legs SET status = ?2, transfer_id = ?3, error = ?4, updated_at = ?5,
                                 updated_venue_at = coalesce(?6, updated_venue_at)
                 WHERE idempotency_key = ?1",
                params![
                    idempotency_key,
                    status.as_str(),
                    transfer_id,
                    error,
                    now_text(),
                    venue_at.map(time_text)
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// Legs whose outcome is unknown (recorded, maybe sent, never confirmed): a restart
    /// resolves each with a status query under the same key before trading again.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn pending_legs(&self) -> Result<Vec<LegRecord>, StoreError> {
        self.call(|c| {
            let mut statement = c.prepare(
                "SELECT idempotency_key, leg_index, service, direction, amount_usdc, status
                 FROM legs WHERE status = 'pending' ORDER BY rowid",
            )?;
            let rows = statement.query_map([], leg_row)?;
            rows.map(|row| row?).collect()
        })
        .await
    }

    /// [`Store::pending_legs`], each with the run that recorded its plan: keys are named after
    /// triggers, so only the store knows which run a leg belongs to.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn pending_legs_with_run(&self) -> Result<Vec<PendingLeg>, StoreError> {
        self.call(|c| {
            let mut statement = c.prepare(
                "SELECT legs.idempotency_key, legs.leg_index, legs.service, legs.direction,
                        legs.amount_usdc, legs.status, plans.run_id
                 FROM legs JOIN plans ON plans.plan_id = legs.plan_id
                 WHERE legs.status = 'pending' ORDER BY legs.rowid",
            )?;
            let rows = statement.query_map([], |r| {
                let leg = leg_row(r)?;
                let run_id: String = r.get(6)?;
                Ok(leg.map(|leg| PendingLeg { leg, run_id }))
            })?;
            rows.map(|row| row?).collect()
        })
        .await
    }

    /// USDC moved by applied legs of plans made on `day` (UTC), newest plans first, so the
    /// daily turnover cap survives a restart.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn applied_usdc_on(&self, day: time::Date) -> Result<Decimal, StoreError> {
        self.call(move |c| {
            let mut statement = c.prepare(APPLIED_ON_DAY_SQL)?;
            let mut rows = statement.query([])?;
            let mut total = Decimal::ZERO;
            while let Some(row) = rows.next()? {
                let created_at: String = row.get(0)?;
                let plan_day = parse_time("plans.created_at", &created_at)?
                    .to_offset(time::UtcOffset::UTC)
                    .date();
                if plan_day < day {
                    // Plans are in time order: nothing older can be on `day`.
                    break;
                }
                if plan_day == day {
                    let amount: String = row.get(1)?;
                    total += parse_decimal("legs.amount_usdc", &amount)?;
                }
            }
            Ok(total)
        })
        .await
    }
}

/// The recorded error of every failed leg of `plans`.
pub(super) fn failure_reasons(
    c: &Connection,
    plans: &[PlanRecord],
) -> Result<BTreeMap<String, String>, StoreError> {
    let mut statement = c.prepare(
        "SELECT idempotency_key, error FROM legs
         WHERE plan_id = ?1 AND status = 'failed' AND error IS NOT NULL",
    )?;
    let mut reasons = BTreeMap::new();
    for plan in plans {
        let rows = statement.query_map([&plan.plan_id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        for row in rows {
            let (key, error) = row?;
            reasons.insert(key, error);
        }
    }
    Ok(reasons)
}

/// One leg from a row of `idempotency_key, leg_index, service, direction, amount_usdc,
/// status`: SQLite's error outside, a column that does not parse inside.
pub(super) fn leg_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<LegRecord, StoreError>> {
    let key: String = r.get(0)?;
    let leg_index: u32 = r.get(1)?;
    let service: String = r.get(2)?;
    let direction: String = r.get(3)?;
    let amount: String = r.get(4)?;
    let status: String = r.get(5)?;
    Ok((|| {
        Ok(LegRecord {
            idempotency_key: key,
            leg_index,
            service: parse_service("legs.service", &service)?,
            direction: parse_direction("legs.direction", &direction)?,
            amount_usdc: parse_decimal("legs.amount_usdc", &amount)?,
            status: LegStatus::parse(&status)?,
        })
    })())
}
