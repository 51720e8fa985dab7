//! Schema migrations, applied in order; `PRAGMA user_version` records the last one applied.
//!
//! # Invariants
//! - Each migration runs in its own transaction together with its version bump, so a crash
//!   mid-migration leaves the previous version intact.
//! - Migrations are append-only: a released step is never edited, only followed.

use rusqlite::Connection;

use super::StoreError;

/// The steps; index + 1 is the version each produces.
const MIGRATIONS: &[&str] = &[
    // v1: cursor, runs, plans and legs, snapshots.
    "CREATE TABLE cursor (
         stream     TEXT PRIMARY KEY,
         seq        INTEGER NOT NULL,
         updated_at TEXT NOT NULL
     );
     CREATE TABLE runs (
         run_id     TEXT PRIMARY KEY,
         started_at TEXT NOT NULL,
         stopped_at TEXT,
         venue      TEXT NOT NULL,
         dry_run    INTEGER NOT NULL
     );
     CREATE TABLE plans (
         plan_id    TEXT PRIMARY KEY,
         run_id     TEXT NOT NULL REFERENCES runs(run_id),
         created_at TEXT NOT NULL,
         trigger    TEXT NOT NULL,
         reason     TEXT NOT NULL,
         total_usdc TEXT NOT NULL
     );
     CREATE TABLE legs (
         idempotency_key TEXT PRIMARY KEY,
         plan_id         TEXT NOT NULL REFERENCES plans(plan_id),
         leg_index       INTEGER NOT NULL,
         service         TEXT NOT NULL,
         direction       TEXT NOT NULL CHECK (direction IN ('increase', 'decrease')),
         amount_usdc     TEXT NOT NULL,
         status          TEXT NOT NULL,
         transfer_id     TEXT,
         error           TEXT,
         updated_at      TEXT NOT NULL
     );
     CREATE INDEX legs_by_status ON legs(status);
     CREATE TABLE snapshots (
         id         INTEGER PRIMARY KEY AUTOINCREMENT,
         at         TEXT NOT NULL,
         seq        INTEGER,
         source     TEXT NOT NULL,
         balances   TEXT NOT NULL,
         total_usdc TEXT NOT NULL
     );",
    // v2: the operator's control actions (pause, resume, halt, ...); the latest row's mode is
    // the one a restart comes back in.
    "CREATE TABLE control_actions (
         id       INTEGER PRIMARY KEY AUTOINCREMENT,
         at       TEXT NOT NULL,
         command  TEXT NOT NULL,
         previous TEXT NOT NULL,
         mode     TEXT NOT NULL CHECK (mode IN ('running', 'paused', 'halted')),
         by       TEXT NOT NULL,
         reason   TEXT NOT NULL
     );",
    // v3: the live policy's record: targets changed by event responses (drawdown cuts and
    // restores, volatility spikes), and each day's observation for the run's metrics.
    "CREATE TABLE target_adjustments (
         id         INTEGER PRIMARY KEY AUTOINCREMENT,
         run_id     TEXT NOT NULL REFERENCES runs(run_id),
         at         TEXT NOT NULL,
         kind       TEXT NOT NULL,
         reason     TEXT NOT NULL,
         targets    TEXT NOT NULL
     );
     CREATE TABLE run_days (
         run_id      TEXT NOT NULL REFERENCES runs(run_id),
         day         INTEGER NOT NULL,
         at          TEXT NOT NULL,
         observation TEXT NOT NULL,
         PRIMARY KEY (run_id, day)
     );",
    // v4: the venue's event numbering epoch beside each cursor: how many times ballast saw
    // the venue's numbering start over (plans are named after events within an epoch).
    "ALTER TABLE cursor ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;",
];

/// The version this build writes.
pub const CURRENT_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database up to [`CURRENT_VERSION`].
///
/// # Errors
/// [`StoreError::TooNew`] for a database from a newer ballast, or SQLite's error.
pub fn migrate(connection: &mut Connection) -> Result<(), StoreError> {
    let found: i64 = connection.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if found > CURRENT_VERSION {
        return Err(StoreError::TooNew {
            found,
            supported: CURRENT_VERSION,
        });
    }
    for (index, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(found).unwrap_or(0))
    {
        let tx = connection.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}
