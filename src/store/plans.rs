//! Plans: each recorded with all its legs in one transaction, and the latest read back.
//!
//! # Invariants
//! - A plan and its legs are recorded together or not at all, before any leg is sent; a
//!   duplicate plan id or idempotency key refuses the whole plan
//!   ([`StoreError::DuplicatePlan`]: plans are named after triggers, so this is a trigger
//!   planned before).

use rusqlite::{Connection, params};

use super::{
    PlanRecord, Store, StoreError,
    codec::{now_text, parse_decimal, parse_time, text_columns, time_text},
    legs::leg_row,
};

impl Store {
    /// Records a plan and all its legs in one transaction, before any leg is sent.
    ///
    /// # Errors
    /// [`StoreError`]; on error nothing is recorded and nothing must be sent.
    pub async fn record_plan(&self, plan: PlanRecord) -> Result<(), StoreError> {
        let plan_id = plan.plan_id.clone();
        self.call(move |c| {
            let tx = c.transaction()?;
            tx.execute(
                "INSERT INTO plans (plan_id, run_id, created_at, trigger, reason, total_usdc,
                                    created_wall_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    plan.plan_id,
                    plan.run_id,
                    time_text(plan.created_at),
                    plan.trigger,
                    plan.reason,
                    plan.total_usdc.to_string(),
                    now_text()
                ],
            )?;
            for leg in &plan.legs {
                tx.execute(
                    "INSERT INTO legs (idempotency_key, plan_id, leg_index, service, direction,
                                       amount_usdc, status, updated_at, updated_venue_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    params![
                        leg.idempotency_key,
                        plan.plan_id,
                        leg.leg_index,
                        leg.service.name(),
                        leg.direction.name(),
                        leg.amount_usdc.to_string(),
                        leg.status.as_str(),
                        now_text(),
                        time_text(plan.created_at)
                    ],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
        .map_err(|error| match error {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(failure, _))
                if matches!(
                    failure.extended_code,
                    rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                        | rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                ) =>
            {
                StoreError::DuplicatePlan { plan_id }
            }
            other => other,
        })
    }
}

/// The latest `limit` plans with their legs, newest first.
pub(super) fn recent_plans(c: &Connection, limit: u32) -> Result<Vec<PlanRecord>, StoreError> {
    let mut statement = c.prepare(
        "SELECT plan_id, run_id, created_at, trigger, reason, total_usdc FROM plans
         ORDER BY rowid DESC LIMIT ?1",
    )?;
    let heads = statement
        .query_map([limit], text_columns::<6>)?
        .collect::<Result<Vec<_>, _>>()?;
    let mut legs_statement = c.prepare(
        "SELECT idempotency_key, leg_index, service, direction, amount_usdc, status
         FROM legs WHERE plan_id = ?1 ORDER BY leg_index",
    )?;
    let mut plans = Vec::with_capacity(heads.len());
    for [plan_id, run_id, created_at, trigger, reason, total] in heads {
        let legs = legs_statement
            .query_map([&plan_id], leg_row)?
            .map(|row| row?)
            .collect::<Result<Vec<_>, _>>()?;
        plans.push(PlanRecord {
            plan_id,
            run_id,
            created_at: parse_time("plans.created_at", &created_at)?,
            trigger,
            reason,
            total_usdc: parse_decimal("plans.total_usdc", &total)?,
            legs,
        });
    }
    Ok(plans)
}
