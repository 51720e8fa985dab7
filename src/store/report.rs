//! What `ballast report` reads: alerts as they are recorded, and a period's snapshots, applied
//! legs, plans, target changes (`target_adjustments`: the optimizer's and the event
//! responses', written by `performance.rs`) and alerts, turned into the core's [`PeriodData`].
//!
//! # Invariants
//! - A period is selected by the companion's clock (`at`, `created_at`), never by wall time;
//!   rows are filtered after parsing, so a time written with another offset still sorts right.
//! - [`read_period`] opens the file read-only and never migrates it (as `ballast status`).
//! - Targets and alert details are JSON; a stored value that does not parse is
//!   [`StoreError::Corrupt`] naming its column.
//! - A file from before the alerts table lists no alerts in `ballast status`.

use std::{collections::BTreeMap, path::Path};

use rusqlite::{Connection, params};
use rust_decimal::Decimal;
use serde::Serialize;
use time::OffsetDateTime;

use super::{
    Store, StoreError,
    codec::{now_text, parse_decimal, parse_direction, parse_service, parse_time, time_text},
    schema::{self, open_read_only},
    snapshots::parse_balances,
};
use crate::{
    report::{AppliedLeg, BalancePoint, LegCounts, PeriodData, PlanPoint, TargetPoint},
    targets::TargetAllocation,
};

/// One alert as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertRecord {
    /// When raised (the companion's clock).
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The run that raised it.
    pub run_id: String,
    /// Its kind (`balance_mismatch`, `risk_refused`, `halt`, ...).
    pub kind: String,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// One line for humans.
    pub message: String,
    /// Structured details (a JSON object).
    pub details: serde_json::Value,
}

impl Store {
    /// Records an alert.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn record_alert(&self, alert: AlertRecord) -> Result<(), StoreError> {
        self.call(move |c| {
            c.execute(
                "INSERT INTO alerts (at, recorded_at, run_id, kind, severity, message, details)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    time_text(alert.at),
                    now_text(),
                    alert.run_id,
                    alert.kind,
                    alert.severity,
                    alert.message,
                    alert.details.to_string()
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// What `ballast report` reads about the period from `since` on (everything when `None`).
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn period(&self, since: Option<OffsetDateTime>) -> Result<PeriodData, StoreError> {
        self.call(move |c| period(c, since)).await
    }
}

/// [`Store::period`] straight from a store file, read-only, beside a running companion.
///
/// # Errors
/// [`StoreError`] when the file is missing, unreadable or from a newer ballast.
pub fn read_period(path: &Path, since: Option<OffsetDateTime>) -> Result<PeriodData, StoreError> {
    period(&open_read_only(path)?, since)
}

fn period(c: &Connection, since: Option<OffsetDateTime>) -> Result<PeriodData, StoreError> {
    let inside = |at: &OffsetDateTime| since.is_none_or(|s| *at >= s);
    let mut snapshots = Vec::new();
    {
        let mut statement = c.prepare("SELECT at, balances FROM snapshots ORDER BY id")?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            let at = parse_time("snapshots.at", &row.get::<_, String>(0)?)?;
            if inside(&at) {
                snapshots.push(BalancePoint {
                    at,
                    balances_usdc: parse_balances(&row.get::<_, String>(1)?)?,
                });
            }
        }
    }
    // Recorded in arrival order; the report reads them in time order.
    snapshots.sort_by_key(|p| p.at);
    let mut legs = Vec::new();
    {
        let mut statement = c.prepare(
            "SELECT coalesce(legs.updated_venue_at, plans.created_at), legs.service,
                    legs.direction, legs.amount_usdc
             FROM legs JOIN plans ON plans.plan_id = legs.plan_id
             WHERE legs.status = 'applied' ORDER BY plans.rowid, legs.leg_index",
        )?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            let at = parse_time("legs.updated_venue_at", &row.get::<_, String>(0)?)?;
            if !inside(&at) {
                continue;
            }
            let service: String = row.get(1)?;
            let direction: String = row.get(2)?;
            legs.push(AppliedLeg {
                at,
                service: parse_service("legs.service", &service)?,
                direction: parse_direction("legs.direction", &direction)?,
                amount_usdc: parse_decimal("legs.amount_usdc", &row.get::<_, String>(3)?)?,
            });
        }
    }
    legs.sort_by_key(|l| l.at);
    Ok(PeriodData {
        snapshots,
        legs,
        plans: plans(c, since)?,
        targets: target_changes(c, since)?,
        alerts: alerts(c, since)?
            .into_iter()
            .map(|a| (a.at, a.kind))
            .collect(),
    })
}

/// Plans from `since` on, with their legs counted by status.
fn plans(c: &Connection, since: Option<OffsetDateTime>) -> Result<Vec<PlanPoint>, StoreError> {
    let mut statement = c.prepare(
        "SELECT plans.plan_id, plans.created_at, plans.trigger, legs.status, count(legs.rowid)
         FROM plans LEFT JOIN legs ON legs.plan_id = plans.plan_id
         GROUP BY plans.plan_id, legs.status ORDER BY plans.rowid",
    )?;
    let mut rows = statement.query([])?;
    let mut by_plan: BTreeMap<String, PlanPoint> = BTreeMap::new();
    while let Some(row) = rows.next()? {
        let plan_id: String = row.get(0)?;
        let at = parse_time("plans.created_at", &row.get::<_, String>(1)?)?;
        if since.is_some_and(|s| at < s) {
            continue;
        }
        let plan = by_plan.entry(plan_id).or_insert_with(|| PlanPoint {
            at,
            trigger: String::new(),
            legs: LegCounts::default(),
        });
        plan.trigger = row.get(2)?;
        let count = u64::try_from(row.get::<_, i64>(4)?).unwrap_or(0);
        match row.get::<_, Option<String>>(3)?.as_deref() {
            Some("applied") => plan.legs.applied += count,
            Some("failed") => plan.legs.failed += count,
            Some("pending") => plan.legs.pending += count,
            Some("dry_run") => plan.legs.dry_run += count,
            None => {}
            Some(other) => {
                return Err(StoreError::Corrupt {
                    column: "legs.status",
                    value: other.to_owned(),
                });
            }
        }
    }
    let mut plans: Vec<PlanPoint> = by_plan.into_values().collect();
    plans.sort_by_key(|p| p.at);
    Ok(plans)
}

/// The last target change before `since` (the targets in force when the period starts), then
/// every change in the period: the optimizer's and the event responses', of every run.
fn target_changes(
    c: &Connection,
    since: Option<OffsetDateTime>,
) -> Result<Vec<TargetPoint>, StoreError> {
    let mut statement = c.prepare("SELECT at, targets FROM target_adjustments ORDER BY id")?;
    let mut rows = statement.query([])?;
    let mut all = Vec::new();
    while let Some(row) = rows.next()? {
        let at = parse_time("target_adjustments.at", &row.get::<_, String>(0)?)?;
        let text: String = row.get(1)?;
        let corrupt = || StoreError::Corrupt {
            column: "target_adjustments.targets",
            value: text.clone(),
        };
        let named: BTreeMap<String, String> = serde_json::from_str(&text).map_err(|_| corrupt())?;
        let named = named
            .into_iter()
            .map(|(k, v)| Ok((k, parse_decimal("target_adjustments.targets", &v)?)))
            .collect::<Result<BTreeMap<String, Decimal>, StoreError>>()?;
        let targets = TargetAllocation::from_named(&named).map_err(|_| corrupt())?;
        all.push(TargetPoint { at, targets });
    }
    all.sort_by_key(|t| t.at);
    let Some(since) = since else {
        return Ok(all);
    };
    let first_inside = all.iter().position(|t| t.at >= since).unwrap_or(all.len());
    Ok(all.split_off(first_inside.saturating_sub(1)))
}

/// Alerts from `since` on, oldest first.
fn alerts(c: &Connection, since: Option<OffsetDateTime>) -> Result<Vec<AlertRecord>, StoreError> {
    let mut statement =
        c.prepare("SELECT at, run_id, kind, severity, message, details FROM alerts ORDER BY id")?;
    let rows = statement.query_map([], alert_row)?;
    let mut out = Vec::new();
    for row in rows {
        let alert = row??;
        if since.is_none_or(|s| alert.at >= s) {
            out.push(alert);
        }
    }
    Ok(out)
}

/// The latest `limit` alerts, newest first (none in a file from before the alerts table).
pub(super) fn recent_alerts(c: &Connection, limit: u32) -> Result<Vec<AlertRecord>, StoreError> {
    if !schema::has_table(c, "alerts")? {
        return Ok(Vec::new());
    }
    let mut statement = c.prepare(
        "SELECT at, run_id, kind, severity, message, details FROM alerts
         ORDER BY id DESC LIMIT ?1",
    )?;
    let rows = statement.query_map([limit], alert_row)?;
    rows.map(|row| row?).collect()
}

fn alert_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<AlertRecord, StoreError>> {
    let at: String = r.get(0)?;
    let run_id: String = r.get(1)?;
    let kind: String = r.get(2)?;
    let severity: String = r.get(3)?;
    let message: String = r.get(4)?;
    let details: String = r.get(5)?;
    Ok((|| {
        Ok(AlertRecord {
            at: parse_time("alerts.at", &at)?,
            run_id,
            kind,
            severity,
            message,
            details: serde_json::from_str(&details).map_err(|_| StoreError::Corrupt {
                column: "alerts.details",
                value: details.clone(),
            })?,
        })
    })())
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;
    use time::macros::datetime;

    use super::*;
    use crate::{
        service::{Direction, Service, ServiceMap},
        store::schema,
    };

    #[test]
    fn a_version_1_file_keeps_its_plans_and_legs_and_gains_both_clocks() {
        let mut c = Connection::open_in_memory().expect("opens");
        schema::migrate_to(&mut c, 1).expect("v1");
        c.execute_batch(
            "INSERT INTO runs VALUES ('r1', '2026-01-01T00:00:00Z', NULL, 'v', 0);
             INSERT INTO plans VALUES ('r1:1', 'r1', '2026-01-01T05:00:00Z', 'tick', 'x', '1000');
             INSERT INTO legs (idempotency_key, plan_id, leg_index, service, direction,
                               amount_usdc, status, updated_at)
             VALUES ('r1:1:0', 'r1:1', 0, 'casino', 'decrease', '12.50', 'applied',
                     '2026-06-01T00:00:00Z');",
        )
        .expect("v1 rows");
        schema::migrate(&mut c).expect("migrates");
        let (wall, venue): (Option<String>, Option<String>) = c
            .query_row(
                "SELECT plans.created_wall_at, legs.updated_venue_at FROM plans
                 JOIN legs ON legs.plan_id = plans.plan_id",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("the old rows");
        assert_eq!((wall, venue), (None, None), "old rows keep what they knew");
        // The report falls back on the plan's time for a leg without its own.
        let data = period(&c, None).expect("reads");
        assert_eq!(data.legs.len(), 1);
        assert_eq!(data.legs[0].at, datetime!(2026-01-01 05:00 UTC));
        assert_eq!(data.plans[0].legs.applied, 1);
    }

    #[tokio::test]
    async fn new_plans_and_legs_carry_both_clocks_by_name() {
        use crate::store::{LegRecord, LegStatus, PlanRecord, RunRecord};
        let store = Store::open_in_memory().expect("opens");
        let venue_time = datetime!(2026-01-01 05:00 UTC);
        store
            .start_run(RunRecord {
                run_id: "r1".into(),
                started_at: venue_time,
                stopped_at: None,
                venue: "v".into(),
                dry_run: false,
            })
            .await
            .expect("run");
        store
            .record_plan(PlanRecord {
                plan_id: "r1:1".into(),
                run_id: "r1".into(),
                created_at: venue_time,
                trigger: "tick".into(),
                reason: "x".into(),
                total_usdc: dec!(1000),
                legs: vec![LegRecord {
                    idempotency_key: "r1:1:0".into(),
                    leg_index: 0,
                    service: Service::Casino,
                    direction: Direction::Decrease,
                    amount_usdc: dec!(5),
                    status: LegStatus::Pending,
                }],
            })
            .await
            .expect("records");
        let applied_at = datetime!(2026-01-01 05:30 UTC);
        store
            .update_leg_at(
                "r1:1:0".into(),
                LegStatus::Applied,
                None,
                None,
                Some(applied_at),
            )
            .await
            .expect("updates");
        let (wall, venue, updated): (String, String, String) = store
            .call(|c| {
                Ok(c.query_row(
                    "SELECT plans.created_wall_at, legs.updated_venue_at, legs.updated_at
                     FROM plans JOIN legs ON legs.plan_id = plans.plan_id",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )?)
            })
            .await
            .expect("reads");
        assert_eq!(venue, "2026-01-01T05:30:00Z", "the companion's clock");
        // Wall time is now, not 2026-01-01.
        let now = OffsetDateTime::now_utc();
        for text in [wall, updated] {
            let at = parse_time("wall", &text).expect("RFC 3339");
            assert!((now - at).whole_minutes().abs() < 10, "{text}");
        }
    }

    #[tokio::test]
    async fn target_changes_and_alerts_round_trip_and_periods_filter_by_time() {
        use crate::store::{OPTIMIZER_TARGETS, RunRecord};
        let store = Store::open_in_memory().expect("opens");
        store
            .start_run(RunRecord {
                run_id: "r1".into(),
                started_at: datetime!(2026-01-01 00:00 UTC),
                stopped_at: None,
                venue: "v".into(),
                dry_run: false,
            })
            .await
            .expect("run");
        let targets = TargetAllocation::conservative();
        // The optimizer's targets, then an event response's: one kind of row each.
        for (at, kind, reason) in [
            (
                datetime!(2026-01-01 00:00 UTC),
                OPTIMIZER_TARGETS,
                "risk-parity (start-up)",
            ),
            (
                datetime!(2026-01-03 00:00 UTC),
                "drawdown_cut",
                "trading cut",
            ),
        ] {
            store
                .record_adjustment("r1".into(), at, kind, reason.into(), *targets.weights())
                .await
                .expect("records");
        }
        store
            .record_alert(AlertRecord {
                at: datetime!(2026-01-02 08:00 UTC),
                run_id: "r1".into(),
                kind: "balance_mismatch".into(),
                severity: "warning".into(),
                message: "casino $10.00 -> $20.00".into(),
                details: serde_json::json!({"seq": 7}),
            })
            .await
            .expect("records");
        let balances = ServiceMap::from_fn(|_| dec!(100));
        let snapshot = crate::portfolio::PortfolioSnapshot::new(balances, None).expect("valid");
        for at in [
            datetime!(2026-01-01 12:00 UTC),
            datetime!(2026-01-02 12:00 UTC),
        ] {
            store
                .record_snapshot(
                    at,
                    "tick",
                    snapshot.clone(),
                    crate::store::Durability::OnDisk,
                )
                .await
                .expect("records");
        }
        let all = store.period(None).await.expect("reads");
        assert_eq!(
            (all.snapshots.len(), all.targets.len(), all.alerts.len()),
            (2, 2, 1)
        );
        // From the 2nd: the targets in force then (set on the 1st) come along.
        let since = store
            .period(Some(datetime!(2026-01-02 00:00 UTC)))
            .await
            .expect("reads");
        assert_eq!(since.snapshots.len(), 1);
        assert_eq!(since.targets.len(), 2);
        assert_eq!(since.targets[0].at, datetime!(2026-01-01 00:00 UTC));
        assert_eq!(
            since.alerts,
            vec![(datetime!(2026-01-02 08:00 UTC), "balance_mismatch".into())]
        );
        let status = store.status().await.expect("status");
        assert_eq!(status.recent_alerts[0].details["seq"], 7);
        // The run's adjustments (`ballast status`) are the event responses' only.
        let performance = store
            .run_performance()
            .await
            .expect("reads")
            .expect("a run");
        let kinds: Vec<&str> = performance
            .adjustments
            .iter()
            .map(|a| a.kind.as_str())
            .collect();
        assert_eq!(kinds, ["drawdown_cut"]);
    }

    #[test]
    fn a_version_3_file_reads_as_status_without_alerts() {
        let mut c = Connection::open_in_memory().expect("opens");
        schema::migrate_to(&mut c, 3).expect("v3");
        assert_eq!(recent_alerts(&c, 5).expect("reads"), Vec::new());
    }
}
