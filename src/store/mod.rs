//! The embedded store: one SQLite file in WAL mode holding what must survive a restart.
//!
//! It keeps the event-stream cursor, every run, every planned rebalance with each leg's
//! idempotency key and status, and balance snapshots. One writer thread owns the
//! connection; async callers hand it jobs over a bounded crossbeam channel and await the
//! reply on a oneshot, so SQLite's blocking calls never stall the async runtime.
//!
//! # Invariants
//! - `synchronous = FULL`: when a write's future resolves, the row is on disk. Legs are
//!   recorded (status `pending`) before they are sent, so a crash can never forget a leg
//!   that might have reached the venue.
//! - Amounts are stored as decimal TEXT, never REAL, so they round-trip exactly.
//! - The schema is versioned by `PRAGMA user_version` and migrated forward in one
//!   transaction per step; a database from a newer ballast is refused, not altered.

mod schema;

use std::{collections::BTreeMap, path::Path, str::FromStr, thread};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use rust_decimal::Decimal;
use serde::Serialize;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use tokio::sync::oneshot;

use crate::{
    portfolio::PortfolioSnapshot,
    service::{Direction, Service, ServiceMap},
};

/// Jobs that may wait for the writer thread before senders block.
pub const STORE_QUEUE_CAPACITY: usize = 1_024;

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused.
    #[error("store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database was written by a newer ballast.
    #[error("store schema version {found} is newer than this ballast understands ({supported})")]
    TooNew {
        /// Version in the file.
        found: i64,
        /// Highest version this build knows.
        supported: i64,
    },
    /// A stored value does not parse (hand-edited or corrupt file).
    #[error("store: column `{column}` holds `{value}`, which does not parse")]
    Corrupt {
        /// Column name.
        column: &'static str,
        /// The raw value.
        value: String,
    },
    /// The writer thread is gone (process shutting down).
    #[error("store writer thread has stopped")]
    Closed,
}

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// Handle to the store; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    jobs: crossbeam_channel::Sender<Job>,
}

/// Status of one leg of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LegStatus {
    /// Recorded, not yet sent (or the outcome of sending is unknown).
    Pending,
    /// The venue applied it.
    Applied,
    /// The venue refused it, or it was abandoned; never retried under the same plan.
    Failed,
    /// Dry run: recorded, never sent.
    DryRun,
}

impl LegStatus {
    fn as_str(self) -> &'static str {
        match self {
            LegStatus::Pending => "pending",
            LegStatus::Applied => "applied",
            LegStatus::Failed => "failed",
            LegStatus::DryRun => "dry_run",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        Ok(match text {
            "pending" => LegStatus::Pending,
            "applied" => LegStatus::Applied,
            "failed" => LegStatus::Failed,
            "dry_run" => LegStatus::DryRun,
            other => {
                return Err(StoreError::Corrupt {
                    column: "legs.status",
                    value: other.to_owned(),
                });
            }
        })
    }
}

/// One leg as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LegRecord {
    /// `{run_id}:{plan_seq}:{leg_index}`; also the venue idempotency key.
    pub idempotency_key: String,
    /// Position in the plan.
    pub leg_index: u32,
    /// Service moved.
    pub service: Service,
    /// Direction.
    pub direction: Direction,
    /// Amount.
    pub amount_usdc: Decimal,
    /// Current status.
    pub status: LegStatus,
}

/// A plan as recorded, with its legs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanRecord {
    /// `{run_id}:{plan_seq}`.
    pub plan_id: String,
    /// The run that made it.
    pub run_id: String,
    /// When it was planned (venue or wall time).
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// What triggered it (`large_win`, `tick`, `request`, ...).
    pub trigger: String,
    /// Human-readable reason.
    pub reason: String,
    /// Portfolio total at planning time.
    pub total_usdc: Decimal,
    /// The legs, in execution order.
    pub legs: Vec<LegRecord>,
}

/// What `ballast status` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusReport {
    /// Schema version of the file.
    pub schema_version: i64,
    /// Last processed event `seq` of the most recently active stream.
    pub cursor_seq: u64,
    /// Runs recorded.
    pub runs: u64,
    /// The most recent run, if any: id, start, stop (None while running or after a crash).
    pub last_run: Option<RunRecord>,
    /// Plans recorded over all runs.
    pub plans: u64,
    /// Legs per status.
    pub legs_applied: u64,
    /// Legs that failed.
    pub legs_failed: u64,
    /// Legs whose outcome is still unknown.
    pub legs_pending: u64,
    /// Legs recorded in dry-run mode.
    pub legs_dry_run: u64,
    /// USDC moved by applied legs.
    pub turnover_usdc: Decimal,
    /// The latest balance snapshot.
    pub last_snapshot: Option<SnapshotRecord>,
    /// The latest plans, newest first (at most 5).
    pub recent_plans: Vec<PlanRecord>,
    /// Why each failed leg of those plans failed, by idempotency key.
    pub failure_reasons: BTreeMap<String, String>,
}

/// One run of the companion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunRecord {
    /// Run id.
    pub run_id: String,
    /// Start time.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// Clean stop time; `None` while running or after a crash.
    #[serde(with = "time::serde::rfc3339::option")]
    pub stopped_at: Option<OffsetDateTime>,
    /// Venue URL (no credentials).
    pub venue: String,
    /// Whether the run was a dry run.
    pub dry_run: bool,
}

/// A recorded balance snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotRecord {
    /// When observed.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Event `seq` it reflects, if known.
    pub seq: Option<u64>,
    /// Where it came from (`rest`, `event`).
    pub source: String,
    /// Balances per service.
    pub balances_usdc: ServiceMap<Decimal>,
}

impl Store {
    /// Opens (creating if needed) the store at `path` and migrates it.
    ///
    /// # Errors
    /// [`StoreError`] when the file cannot be opened or migrated.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            // A missing data directory is created; failure surfaces as SQLite's own error.
            let _ = std::fs::create_dir_all(parent);
        }
        Self::start(Connection::open(path)?)
    }

    /// An in-memory store, for tests and dry runs that must leave no file.
    ///
    /// # Errors
    /// [`StoreError`] if SQLite cannot start.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::start(Connection::open_in_memory()?)
    }

    fn start(mut connection: Connection) -> Result<Self, StoreError> {
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "FULL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        schema::migrate(&mut connection)?;
        let (jobs, queue) = crossbeam_channel::bounded::<Job>(STORE_QUEUE_CAPACITY);
        thread::Builder::new()
            .name("ballast-store".into())
            .spawn(move || {
                // Runs until every handle is dropped, then closes the connection cleanly.
                for job in queue {
                    job(&mut connection);
                }
            })
            .map_err(|_| StoreError::Closed)?;
        Ok(Self { jobs })
    }

    /// Runs `f` on the writer thread and returns its result.
    ///
    /// # Errors
    /// [`StoreError::Closed`] if the writer is gone, or `f`'s own error.
    pub async fn call<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |connection| {
            let _ = reply.send(f(connection));
        });
        self.jobs.send(job).map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// The last processed event `seq` of `stream` (0 when none). A stream is one agent on
    /// one venue (`{api_base_url}#{agent_id}`), so a different venue starts from zero.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn load_cursor(&self, stream: &str) -> Result<u64, StoreError> {
        let stream = stream.to_owned();
        self.call(move |c| load_cursor(c, Some(&stream))).await
    }

    /// Records the last processed event `seq` of `stream`; never moves it backwards.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn save_cursor(&self, stream: &str, seq: u64) -> Result<(), StoreError> {
        let stream = stream.to_owned();
        self.call(move |c| {
            c.execute(
                "INSERT INTO cursor (stream, seq, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(stream) DO UPDATE SET seq = max(seq, excluded.seq),
                                                   updated_at = excluded.updated_at",
                params![stream, to_i64(seq), now_text()],
            )?;
            Ok(())
        })
        .await
    }

    /// Records the start of a run.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn start_run(&self, run: RunRecord) -> Result<(), StoreError> {
        self.call(move |c| {
            c.execute(
                "INSERT INTO runs (run_id, started_at, venue, dry_run) VALUES (?1, ?2, ?3, ?4)",
                params![
                    run.run_id,
                    time_text(run.started_at),
                    run.venue,
                    run.dry_run
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// Records a clean stop.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn finish_run(&self, run_id: String, at: OffsetDateTime) -> Result<(), StoreError> {
        self.call(move |c| {
            c.execute(
                "UPDATE runs SET stopped_at = ?2 WHERE run_id = ?1",
                params![run_id, time_text(at)],
            )?;
            Ok(())
        })
        .await
    }

    /// Records a plan and all its legs in one transaction, before any leg is sent.
    ///
    /// # Errors
    /// [`StoreError`]; on error nothing is recorded and nothing must be sent.
    pub async fn record_plan(&self, plan: PlanRecord) -> Result<(), StoreError> {
        self.call(move |c| {
            let tx = c.transaction()?;
            tx.execute(
                "INSERT INTO plans (plan_id, run_id, created_at, trigger, reason, total_usdc)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    plan.plan_id,
                    plan.run_id,
                    time_text(plan.created_at),
                    plan.trigger,
                    plan.reason,
                    plan.total_usdc.to_string()
                ],
            )?;
            for leg in &plan.legs {
                tx.execute(
                    "INSERT INTO legs (idempotency_key, plan_id, leg_index, service, direction,
                                       amount_usdc, status, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        leg.idempotency_key,
                        plan.plan_id,
                        leg.leg_index,
                        leg.service.name(),
                        leg.direction.name(),
                        leg.amount_usdc.to_string(),
                        leg.status.as_str(),
                        now_text()
                    ],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// Sets a leg's outcome.
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
        self.call(move |c| {
            c.execute(
                "UPDATE legs SET status = ?2, transfer_id = ?3, error = ?4, updated_at = ?5
                 WHERE idempotency_key = ?1",
                params![
                    idempotency_key,
                    status.as_str(),
                    transfer_id,
                    error,
                    now_text()
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

    /// USDC moved by applied legs of plans made on `day` (UTC), newest plans first, so the
    /// daily turnover cap survives a restart.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn applied_usdc_on(&self, day: time::Date) -> Result<Decimal, StoreError> {
        self.call(move |c| {
            let mut statement = c.prepare(
                "SELECT plans.created_at, legs.amount_usdc FROM legs
                 JOIN plans ON plans.plan_id = legs.plan_id
                 WHERE legs.status = 'applied'
                 ORDER BY plans.rowid DESC, legs.leg_index",
            )?;
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

    /// Records a balance snapshot.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn record_snapshot(
        &self,
        at: OffsetDateTime,
        source: &'static str,
        snapshot: PortfolioSnapshot,
    ) -> Result<(), StoreError> {
        self.call(move |c| {
            let balances = serde_json::to_string(&snapshot.balances_usdc.map(|_, d| d.to_string()))
                .map_err(|e| StoreError::Corrupt {
                    column: "snapshots.balances",
                    value: e.to_string(),
                })?;
            c.execute(
                "INSERT INTO snapshots (at, seq, source, balances, total_usdc)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    time_text(at),
                    snapshot.seq.map(to_i64),
                    source,
                    balances,
                    snapshot.total_usdc().to_string()
                ],
            )?;
            Ok(())
        })
        .await
    }

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
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let version: i64 = connection.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > schema::CURRENT_VERSION {
        return Err(StoreError::TooNew {
            found: version,
            supported: schema::CURRENT_VERSION,
        });
    }
    status_report(&connection)
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
    let last_run = c
        .query_row(
            "SELECT run_id, started_at, stopped_at, venue, dry_run FROM runs
             ORDER BY started_at DESC, rowid DESC LIMIT 1",
            [],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, bool>(4)?,
                ))
            },
        )
        .optional()?
        .map(|(run_id, started, stopped, venue, dry_run)| {
            Ok::<_, StoreError>(RunRecord {
                run_id,
                started_at: parse_time("runs.started_at", &started)?,
                stopped_at: stopped
                    .map(|s| parse_time("runs.stopped_at", &s))
                    .transpose()?,
                venue,
                dry_run,
            })
        })
        .transpose()?;
    let last_snapshot = c
        .query_row(
            "SELECT at, seq, source, balances FROM snapshots ORDER BY id DESC LIMIT 1",
            [],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            },
        )
        .optional()?
        .map(|(at, seq, source, balances)| {
            Ok::<_, StoreError>(SnapshotRecord {
                at: parse_time("snapshots.at", &at)?,
                seq: seq.and_then(|s| u64::try_from(s).ok()),
                source,
                balances_usdc: parse_balances(&balances)?,
            })
        })
        .transpose()?;
    let recent_plans = recent_plans(c, 5)?;
    let failure_reasons = failure_reasons(c, &recent_plans)?;
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
    })
}

/// The recorded error of every failed leg of `plans`.
fn failure_reasons(
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

fn recent_plans(c: &Connection, limit: u32) -> Result<Vec<PlanRecord>, StoreError> {
    let mut statement = c.prepare(
        "SELECT plan_id, run_id, created_at, trigger, reason, total_usdc FROM plans
         ORDER BY rowid DESC LIMIT ?1",
    )?;
    let heads = statement
        .query_map([limit], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut legs_statement = c.prepare(
        "SELECT idempotency_key, leg_index, service, direction, amount_usdc, status
         FROM legs WHERE plan_id = ?1 ORDER BY leg_index",
    )?;
    let mut plans = Vec::with_capacity(heads.len());
    for (plan_id, run_id, created_at, trigger, reason, total) in heads {
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

fn leg_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<LegRecord, StoreError>> {
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
            service: Service::from_str(&service).map_err(|_| StoreError::Corrupt {
                column: "legs.service",
                value: service.clone(),
            })?,
            direction: match direction.as_str() {
                "increase" => Direction::Increase,
                "decrease" => Direction::Decrease,
                _ => {
                    return Err(StoreError::Corrupt {
                        column: "legs.direction",
                        value: direction,
                    });
                }
            },
            amount_usdc: parse_decimal("legs.amount_usdc", &amount)?,
            status: LegStatus::parse(&status)?,
        })
    })())
}

/// The cursor of `stream`, or of the most recently updated stream when `None`.
fn load_cursor(c: &Connection, stream: Option<&str>) -> Result<u64, StoreError> {
    let seq: Option<i64> = match stream {
        Some(stream) => c
            .query_row("SELECT seq FROM cursor WHERE stream = ?1", [stream], |r| {
                r.get(0)
            })
            .optional()?,
        None => c
            .query_row(
                "SELECT seq FROM cursor ORDER BY updated_at DESC, rowid DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?,
    };
    Ok(seq.and_then(|s| u64::try_from(s).ok()).unwrap_or(0))
}

fn parse_balances(text: &str) -> Result<ServiceMap<Decimal>, StoreError> {
    let raw: std::collections::BTreeMap<String, String> =
        serde_json::from_str(text).map_err(|_| StoreError::Corrupt {
            column: "snapshots.balances",
            value: text.to_owned(),
        })?;
    let mut balances = ServiceMap::from_fn(|_| Decimal::ZERO);
    for service in Service::ALL {
        let value = raw.get(service.name()).ok_or_else(|| StoreError::Corrupt {
            column: "snapshots.balances",
            value: text.to_owned(),
        })?;
        balances[service] = parse_decimal("snapshots.balances", value)?;
    }
    Ok(balances)
}

fn parse_decimal(column: &'static str, text: &str) -> Result<Decimal, StoreError> {
    Decimal::from_str(text).map_err(|_| StoreError::Corrupt {
        column,
        value: text.to_owned(),
    })
}

fn parse_time(column: &'static str, text: &str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|_| StoreError::Corrupt {
        column,
        value: text.to_owned(),
    })
}

fn time_text(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

fn now_text() -> String {
    time_text(OffsetDateTime::now_utc())
}

/// Sequence numbers above `i64::MAX` cannot occur in practice; saturate rather than wrap.
fn to_i64(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;
