//! What `ballast status` shows, read through the writer thread or straight from the file.
//!
//! # Invariants
//! - [`read_status`] opens the file read-only and never migrates it, so it can run beside
//!   a live `ballast run`; a file from a newer ballast is refused, not read on a guess.

use std::path::Path;

use rusqlite::Connection;
use rust_decimal::Decimal;

use super::{
    LegStatus, StatusReport, Store, StoreError, codec::parse_decimal, control::last_control,
    cursor::load_cursor, hedges::hedge_report, legs::failure_reasons, plans::recent_plans,
    report::recent_alerts, runs::last_run, schema, snapshots::last_snapshot,
};

/// Plans the report lists, newest first.
const RECENT_PLANS: u32 = 5;

/// Alerts the report lists, newest first.
const RECENT_ALERTS: u32 = 5;

impl Store {
    /// Everything `ballast status` shows.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn status(&self) -> Result<StatusReport, StoreError> {
        self.call(|c| status_report(c)).await
    }
}

/// Reads a status report straight from a store file without migrating or writing it, so
/// `ballast status` can run beside a live `ballast run`.
///
/// # Errors
/// [`StoreError`] when the file is missing, unreadable or from a newer ballast.
pub fn read_status(path: &Path) -> Result<StatusReport, StoreError> {
    status_report(&schema::open_read_only(path)?)
}

fn status_report(c: &Connection) -> Result<StatusReport, StoreError> {
    let schema_version: i64 = c.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let count = |sql: &str| -> Result<u64, StoreError> {
        let n: i64 = c.query_row(sql, [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    };
    let legs_with = |status: LegStatus| -> Result<u64, StoreError> {
        let n: i64 = c.query_row(
            "SELECT count(*) FROM legs WHERE status = ?1",
            [status.as_str()],
            |r| r.get(0),
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    };
    let mut turnover_usdc = Decimal::ZERO;
    {
        let mut statement = c.prepare("SELECT amount_usdc FROM legs WHERE status = 'applied'")?;
        let amounts = statement.query_map([], |r| r.get::<_, String>(0))?;
        for amount in amounts {
            turnover_usdc += parse_decimal("legs.amount_usdc", &amount?)?;
        }
    }
    let last_run = last_run(c)?;
    let last_snapshot = last_snapshot(c)?;
    let recent_plans = recent_plans(c, RECENT_PLANS)?;
    let failure_reasons = failure_reasons(c, &recent_plans)?;
    let recent_alerts = recent_alerts(c, RECENT_ALERTS)?;
    Ok(StatusReport {
        schema_version,
        cursor_seq: load_cursor(c, None)?,
        runs: count("SELECT count(*) FROM runs")?,
        last_run,
        plans: count("SELECT count(*) FROM plans")?,
        legs_applied: legs_with(LegStatus::Applied)?,
        legs_failed: legs_with(LegStatus::Failed)?,
        legs_pending: legs_with(LegStatus::Pending)?,
        legs_dry_run: legs_with(LegStatus::DryRun)?,
        turnover_usdc,
        last_snapshot,
        recent_plans,
        failure_reasons,
        hedges: hedge_report(c)?,
        recent_alerts,
        control: last_control(c)?,
    })
}
