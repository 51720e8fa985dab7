//! The embedded store: one SQLite file in WAL mode holding what must survive a restart.
//!
//! It keeps the event-stream cursor, every run, every planned rebalance with each leg's
//! idempotency key and status, every perp hedge with its keys, costs and status, and
//! balance snapshots. One writer thread owns the
//! connection; async callers hand it jobs over a bounded crossbeam channel and await the
//! reply on a oneshot, so SQLite's blocking calls never stall the async runtime.
//!
//! # Invariants
//! - `synchronous = FULL`: when a write's future resolves, the row is on disk. Legs are
//!   recorded (status `pending`) before they are sent, so a crash can never forget a leg
//!   that might have reached the venue. The one exception is a write its caller marks
//!   [`Durability::Written`] (the balance snapshots the metrics keep in the background):
//!   it reaches the OS, so a killed process loses nothing, and it is synced by the next
//!   on-disk write; only a power loss in between can lose it. The connection is back at
//!   `FULL` before the next job runs.
//! - Amounts are stored as decimal TEXT, never REAL, so they round-trip exactly.
//! - The schema is versioned by `PRAGMA user_version` and migrated forward in one
//!   transaction per step; a database from a newer ballast is refused, not altered.
//! - What ballast creates is private to its user: a missing store directory is created
//!   0700 and a new database 0600 (SQLite gives its `-wal` and `-shm` files the database's
//!   mode). Existing files and directories keep theirs.
//! - One companion per store: `ballast run` holds a [`StoreLock`] for its whole life.
//!
//! # Layout
//! This file holds the [`Store`] handle and its writer thread; each room adds the calls
//! for its tables: the event cursor (`cursor.rs`), runs (`runs.rs`), plans and their legs
//! (`plans.rs`, `legs.rs`), hedges (`hedges.rs`), snapshots (`snapshots.rs`), the
//! operator's control actions (`control.rs`), the status report (`status.rs`), the changes
//! of the targets (the optimizer's and the live policy's adjustments) and daily observations
//! (`performance.rs`), what `ballast report` reads: alerts and a period's rows
//! (`report.rs`), and the tax book, harvest decisions and wallet orders (`tax.rs`).
//! The records they exchange are in `records.rs`, the column texts in `codec.rs`, the
//! migrations in `schema.rs`, the one-companion-per-store lock in `lock.rs`.

mod codec;
mod control;
mod cursor;
mod hedges;
mod legs;
mod lock;
mod performance;
mod plans;
mod records;
mod report;
mod runs;
mod schema;
mod snapshots;
mod status;
mod tax;

use std::{path::Path, thread};

use rusqlite::Connection;
use tokio::sync::oneshot;

// The rooms' shared vocabulary from the core: they name it through `super::`.
use crate::{
    portfolio::PortfolioSnapshot,
    service::{Direction, Service, ServiceMap},
};

pub use cursor::Cursor;
pub use legs::PendingLeg;
pub use lock::{LockError, StoreLock};
pub use performance::{
    AdjustmentRecord, OPTIMIZER_TARGETS, RunPerformance, StoredDay, read_run_performance,
};
pub use records::{
    HedgeRecord, HedgeReport, LegRecord, LegStatus, PlanRecord, RunRecord, SnapshotRecord,
    StatusReport,
};
pub use report::{AlertRecord, read_period};
pub use status::read_status;
pub use tax::{TaxStatus, WalletOrderRecord, read_tax_disposals};

/// How far a write must have gone when its future resolves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// On disk (`synchronous = FULL`): what neither a crash nor a power loss may lose.
    OnDisk,
    /// Handed to the OS (`synchronous = NORMAL` for this one transaction): survives a killed
    /// process and is synced with the next on-disk write; a power loss before that may lose
    /// it. For rows that only inform (balance snapshots), so that they cost no disk sync
    /// beside the trading path's own.
    Written,
}

/// Runs `write` on `c` at `durability`, and leaves the connection at `synchronous = FULL`
/// whatever the write returned.
///
/// # Errors
/// `write`'s error, or SQLite's if the `synchronous` setting cannot be changed (the
/// restore's error first: a connection left at `NORMAL` must not go unnoticed).
fn write_with<R>(
    c: &Connection,
    durability: Durability,
    write: impl FnOnce(&Connection) -> Result<R, StoreError>,
) -> Result<R, StoreError> {
    if durability == Durability::OnDisk {
        return write(c);
    }
    c.pragma_update(None, "synchronous", "NORMAL")?;
    let written = write(c);
    c.pragma_update(None, "synchronous", "FULL")?;
    written
}

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
    /// A value the column cannot hold.
    #[error("store: `{value}` does not fit column `{column}`")]
    OutOfRange {
        /// Column name.
        column: &'static str,
        /// The value refused.
        value: String,
    },
    /// A plan with this id is already recorded: its trigger was planned before (by an
    /// earlier run of this store); nothing of the new plan was recorded.
    #[error("store: plan `{plan_id}` is already recorded")]
    DuplicatePlan {
        /// The plan id.
        plan_id: String,
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

impl Store {
    /// Opens (creating if needed) the store at `path` and migrates it.
    ///
    /// # Errors
    /// [`StoreError`] when the file cannot be opened or migrated.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        create_private(path);
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
}

/// Creates a missing data directory (0700) and an empty database file (0600), so that what
/// the store holds (balances, plans, the venue url) is readable by its user alone. Failures
/// surface as SQLite's own error when it opens the file.
fn create_private(path: &Path) {
    create_private_dir(path);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // `create_new`: an existing database keeps its mode.
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path);
    }
}

/// Creates the missing directories above the store at `path`, 0700 on Unix.
fn create_private_dir(path: &Path) {
    let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) else {
        return;
    };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    let _ = builder.create(parent);
}

#[cfg(test)]
mod tests;
