//! Schema migrations, applied in order; `PRAGMA user_version` records the last one applied.
//!
//! # Clocks
//! Two clocks meet in the store. The *companion's clock* is venue time when ballast follows a
//! simulated venue's accelerated clock, wall time otherwise; it stamps what happened on the
//! venue (`plans.created_at`, `legs.updated_venue_at`, `snapshots.at`, `target_adjustments.at`,
//! `run_days.at`, `alerts.at`, `runs.started_at`/`stopped_at`). *Wall time* stamps when a row
//! was written or an operator acted (`legs.updated_at`, `plans.created_wall_at`,
//! `cursor.updated_at`, `control_actions.at`, `*.recorded_at`).
//!
//! # Invariants
//! - Each migration runs in its own transaction together with its version bump, so a crash
//!   mid-migration leaves the previous version intact.
//! - Migrations are append-only: a released step is never edited, only followed.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

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
    // v4: perp hedges, each recorded before its order is sent (see hedges.rs).
    "CREATE TABLE hedges (
         hedge_id          TEXT PRIMARY KEY,
         run_id            TEXT NOT NULL,
         service           TEXT NOT NULL,
         market            TEXT NOT NULL,
         side              TEXT NOT NULL CHECK (side IN ('long', 'short')),
         notional_usdc     TEXT NOT NULL,
         leverage          INTEGER NOT NULL,
         ratio             TEXT NOT NULL,
         reason            TEXT NOT NULL,
         status            TEXT NOT NULL,
         open_key          TEXT NOT NULL UNIQUE,
         close_key         TEXT,
         position_id       TEXT,
         created_at        TEXT NOT NULL,
         opened_at         TEXT,
         closed_at         TEXT,
         close_reason      TEXT,
         fees_usdc         TEXT NOT NULL,
         funding_usdc      TEXT NOT NULL,
         realized_pnl_usdc TEXT NOT NULL,
         error             TEXT,
         updated_at        TEXT NOT NULL
     );
     CREATE INDEX hedges_by_status ON hedges(status);",
    // v5: operating. Each of plans and legs names both clocks: `plans.created_at` and the new
    // `legs.updated_venue_at` are the companion's clock (venue time when it follows a simulated
    // venue), `legs.updated_at` and the new `plans.created_wall_at` are wall time. Alerts are
    // kept for `ballast status` and `ballast report`; snapshots get an index by time. (The
    // optimizer's target changes go to v3's `target_adjustments`, kind `optimizer`.)
    "ALTER TABLE plans ADD COLUMN created_wall_at TEXT;
     ALTER TABLE legs ADD COLUMN updated_venue_at TEXT;
     CREATE TABLE alerts (
         id          INTEGER PRIMARY KEY AUTOINCREMENT,
         at          TEXT NOT NULL,
         recorded_at TEXT NOT NULL,
         run_id      TEXT NOT NULL,
         kind        TEXT NOT NULL,
         severity    TEXT NOT NULL,
         message     TEXT NOT NULL,
         details     TEXT NOT NULL
     );
     CREATE INDEX snapshots_by_time ON snapshots(at);",
    // v6: the venue's event numbering epoch beside each cursor: how many times ballast saw
    // the venue's numbering start over (plans are named after events within an epoch).
    "ALTER TABLE cursor ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;",
    // v7: the tax book (open lots in book order, every disposal), harvest decisions with
    // their figures, and wallet orders recorded before they are sent.
    "CREATE TABLE tax_lots (
         lot_id               TEXT PRIMARY KEY,
         position             INTEGER NOT NULL,
         venue_lot_id         TEXT NOT NULL,
         asset                TEXT NOT NULL,
         quantity             TEXT NOT NULL,
         cost_basis_usdc      TEXT NOT NULL,
         wash_adjustment_usdc TEXT NOT NULL,
         bought_at            TEXT NOT NULL,
         acquired_at          TEXT NOT NULL,
         origin               TEXT NOT NULL CHECK (origin IN ('ballast', 'external')),
         replacement          INTEGER NOT NULL
     );
     CREATE TABLE tax_disposals (
         disposal_id          TEXT PRIMARY KEY,
         trade_id             TEXT NOT NULL,
         asset                TEXT NOT NULL,
         lot_id               TEXT NOT NULL,
         quantity             TEXT NOT NULL,
         acquired_at          TEXT NOT NULL,
         sold_at              TEXT NOT NULL,
         proceeds_usdc        TEXT NOT NULL,
         cost_basis_usdc      TEXT NOT NULL,
         disallowed_loss_usdc TEXT NOT NULL,
         unmatched_quantity   TEXT NOT NULL,
         unmatched_loss_usdc  TEXT NOT NULL,
         term                 TEXT NOT NULL CHECK (term IN ('short', 'long')),
         harvest_id           TEXT
     );
     CREATE INDEX tax_disposals_by_sold ON tax_disposals(sold_at);
     CREATE TABLE tax_decisions (
         id                  INTEGER PRIMARY KEY AUTOINCREMENT,
         at                  TEXT NOT NULL,
         asset               TEXT NOT NULL,
         outcome             TEXT NOT NULL,
         harvest_id          TEXT,
         dry_run             INTEGER NOT NULL,
         lot_ids             TEXT NOT NULL,
         quantity            TEXT NOT NULL,
         loss_usdc           TEXT NOT NULL,
         tax_value_usdc      TEXT NOT NULL,
         trade_cost_usdc     TEXT NOT NULL,
         holding_cost_usdc   TEXT NOT NULL,
         substitute          TEXT,
         blocked_substitutes TEXT NOT NULL,
         detail              TEXT NOT NULL
     );
     CREATE TABLE wallet_orders (
         idempotency_key TEXT PRIMARY KEY,
         harvest_id      TEXT NOT NULL,
         side            TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
         asset           TEXT NOT NULL,
         quantity        TEXT NOT NULL,
         lot_ids         TEXT NOT NULL,
         reason          TEXT NOT NULL,
         status          TEXT NOT NULL,
         trade_id        TEXT,
         notional_usdc   TEXT,
         error           TEXT,
         created_at      TEXT NOT NULL,
         updated_at      TEXT NOT NULL
     );
     CREATE INDEX wallet_orders_by_status ON wallet_orders(status);",
    // v8: legs by plan, so the day's turnover (read before every plan while a daily cap is
    // on, as the relative one is by default) walks today's plans newest first and stops,
    // instead of sorting every applied leg ever recorded.
    "CREATE INDEX legs_by_plan ON legs(plan_id, leg_index);",
];

/// The version this build writes.
pub const CURRENT_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database up to [`CURRENT_VERSION`].
///
/// # Errors
/// [`StoreError::TooNew`] for a database from a newer ballast, or SQLite's error.
pub fn migrate(connection: &mut Connection) -> Result<(), StoreError> {
    migrate_to(connection, CURRENT_VERSION)
}

/// Brings the database up to `version` (at most [`CURRENT_VERSION`]): [`migrate`], and the
/// tests that start from an older file.
///
/// # Errors
/// As [`migrate`].
pub(super) fn migrate_to(connection: &mut Connection, version: i64) -> Result<(), StoreError> {
    let found: i64 = connection.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if found > CURRENT_VERSION {
        return Err(StoreError::TooNew {
            found,
            supported: CURRENT_VERSION,
        });
    }
    let wanted = usize::try_from(version.min(CURRENT_VERSION)).unwrap_or(0);
    for (index, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .take(wanted)
        .skip(usize::try_from(found).unwrap_or(0))
    {
        let tx = connection.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// Whether `c` holds the table `name` (a file read as it is may predate it).
///
/// # Errors
/// SQLite's error.
pub(super) fn has_table(c: &Connection, name: &str) -> Result<bool, StoreError> {
    let n: i64 = c.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [name],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

/// Opens a store file read-only, refusing one from a newer ballast; never migrates.
///
/// # Errors
/// [`StoreError`] when the file is missing, unreadable or from a newer ballast.
pub(super) fn open_read_only(path: &Path) -> Result<Connection, StoreError> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let version: i64 = connection.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > CURRENT_VERSION {
        return Err(StoreError::TooNew {
            found: version,
            supported: CURRENT_VERSION,
        });
    }
    Ok(connection)
}
