//! The run's record of its targets and days: every change of the targets, each with its kind,
//! reason and the targets then in force (the optimizer's new targets, kind
//! [`OPTIMIZER_TARGETS`], and the event responses' adjustments: drawdown cuts and restores,
//! volatility spikes), and each day's observation, from which `ballast status` computes the
//! run's metrics. `ballast report` reads the same changes as its targets over time
//! (`report.rs`).
//!
//! # Invariants
//! - A day is stored once per run (`(run_id, day)` is the key); a repeat replaces it.
//! - [`RunPerformance::adjustments`] holds the event responses' adjustments only; the
//!   optimizer's changes are read by the report.
//! - [`read_run_performance`] opens the file read-only and never migrates it; a store from
//!   before these tables (or a newer one) reads as "nothing recorded" or is refused, never
//!   altered.

use std::path::Path;

use rusqlite::{Connection, params};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{
    ServiceMap, Store, StoreError,
    codec::{parse_time, text_columns, time_text},
    runs::last_run,
    schema,
};
use crate::performance::DailyObservation;

/// One stored day.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StoredDay {
    /// The portfolio's value when the day began.
    pub previous_value_usdc: f64,
    /// The day.
    pub observation: DailyObservation,
}

/// The kind of a target change the optimizer made (new targets published), beside the event
/// responses' kinds in `target_adjustments`.
pub const OPTIMIZER_TARGETS: &str = "optimizer";

/// One stored target adjustment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdjustmentRecord {
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// `drawdown_cut`, `drawdown_restore`, `vol_spike` or `vol_calm`.
    pub kind: String,
    /// What changed and why.
    pub reason: String,
    /// The targets in force after it, by service name.
    pub targets: serde_json::Value,
}

/// What the last run recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunPerformance {
    /// The run.
    pub run_id: String,
    /// Its days, in order.
    pub days: Vec<StoredDay>,
    /// Its target adjustments by the event responses, in order.
    pub adjustments: Vec<AdjustmentRecord>,
}

fn corrupt(column: &'static str, value: impl ToString) -> StoreError {
    StoreError::Corrupt {
        column,
        value: value.to_string(),
    }
}

impl Store {
    /// Records one day of `run_id`.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn record_day(
        &self,
        run_id: String,
        day: u32,
        at: OffsetDateTime,
        stored: StoredDay,
    ) -> Result<(), StoreError> {
        self.call(move |c| {
            let json =
                serde_json::to_string(&stored).map_err(|e| corrupt("run_days.observation", e))?;
            c.execute(
                "INSERT OR REPLACE INTO run_days (run_id, day, at, observation)
                 VALUES (?1, ?2, ?3, ?4)",
                params![run_id, day, time_text(at), json],
            )?;
            Ok(())
        })
        .await
    }

    /// Records a change of `run_id`'s targets: an event response's adjustment, or the
    /// optimizer's new targets (kind [`OPTIMIZER_TARGETS`]).
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn record_adjustment(
        &self,
        run_id: String,
        at: OffsetDateTime,
        kind: &'static str,
        reason: String,
        targets: ServiceMap<Decimal>,
    ) -> Result<(), StoreError> {
        self.call(move |c| {
            let json = serde_json::to_string(&targets)
                .map_err(|e| corrupt("target_adjustments.targets", e))?;
            c.execute(
                "INSERT INTO target_adjustments (run_id, at, kind, reason, targets)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![run_id, time_text(at), kind, reason, json],
            )?;
            Ok(())
        })
        .await
    }

    /// What the last run recorded (for tests and the status of an open store).
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn run_performance(&self) -> Result<Option<RunPerformance>, StoreError> {
        self.call(|c| run_performance(c)).await
    }
}

/// Reads what the last run recorded straight from a store file, without migrating or
/// writing it (`ballast status` beside a live `ballast run`). `None` when there is no run,
/// or the store predates these tables.
///
/// # Errors
/// [`StoreError`] when the file is unreadable, corrupt, or from a newer ballast.
pub fn read_run_performance(path: &Path) -> Result<Option<RunPerformance>, StoreError> {
    let connection = schema::open_read_only(path)?;
    if !schema::has_table(&connection, "run_days")? {
        return Ok(None);
    }
    run_performance(&connection)
}

fn run_performance(c: &Connection) -> Result<Option<RunPerformance>, StoreError> {
    let Some(run) = last_run(c)? else {
        return Ok(None);
    };
    let mut days = Vec::new();
    {
        let mut statement =
            c.prepare("SELECT observation FROM run_days WHERE run_id = ?1 ORDER BY day")?;
        let rows = statement.query_map([&run.run_id], |r| r.get::<_, String>(0))?;
        for row in rows {
            let text = row?;
            days.push(
                serde_json::from_str::<StoredDay>(&text)
                    .map_err(|_| corrupt("run_days.observation", &text))?,
            );
        }
    }
    let mut adjustments = Vec::new();
    {
        let mut statement = c.prepare(
            "SELECT at, kind, reason, targets FROM target_adjustments
             WHERE run_id = ?1 AND kind <> ?2 ORDER BY id",
        )?;
        let rows =
            statement.query_map([run.run_id.as_str(), OPTIMIZER_TARGETS], text_columns::<4>)?;
        for row in rows {
            let [at, kind, reason, targets] = row?;
            adjustments.push(AdjustmentRecord {
                at: parse_time("target_adjustments.at", &at)?,
                kind,
                reason,
                targets: serde_json::from_str(&targets)
                    .map_err(|_| corrupt("target_adjustments.targets", &targets))?,
            });
        }
    }
    Ok(Some(RunPerformance {
        run_id: run.run_id,
        days,
        adjustments,
    }))
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::store::RunRecord;
    use crate::testing::weights;

    #[tokio::test]
    async fn days_and_adjustments_round_trip_for_the_last_run() {
        let store = Store::open_in_memory().expect("store");
        let at = datetime!(2026-01-01 00:05 UTC);
        assert_eq!(store.run_performance().await.expect("reads"), None);
        store
            .start_run(RunRecord {
                run_id: "r1".into(),
                started_at: at,
                stopped_at: None,
                venue: "sim".into(),
                dry_run: false,
            })
            .await
            .expect("run");
        let day = StoredDay {
            previous_value_usdc: 1000.0,
            observation: DailyObservation {
                value_usdc: 1010.0,
                target_return: 0.01,
                buy_and_hold_value_usdc: 1005.0,
                outside_band: true,
                ..DailyObservation::default()
            },
        };
        store
            .record_day("r1".into(), 0, at, day)
            .await
            .expect("day");
        // A repeat of the same day replaces it.
        store
            .record_day("r1".into(), 0, at, day)
            .await
            .expect("day");
        store
            .record_adjustment(
                "r1".into(),
                at,
                "drawdown_cut",
                "trading target cut 30.0% → 15.0%".into(),
                ServiceMap(weights![0.2, 0.15, 0.15, 0.15, 0.1, 0.25]),
            )
            .await
            .expect("adjustment");
        let read = store
            .run_performance()
            .await
            .expect("reads")
            .expect("a run");
        assert_eq!(read.run_id, "r1");
        assert_eq!(read.days, vec![day]);
        assert_eq!(read.adjustments.len(), 1);
        assert_eq!(read.adjustments[0].kind, "drawdown_cut");
        assert_eq!(read.adjustments[0].targets["trading"], "0.15");
    }
}
