//! Runs of the companion: each start, each clean stop, and the latest one for the report.
//!
//! # Invariants
//! - A run without `stopped_at` is running, or ended in a crash; only a clean stop sets it.

use rusqlite::{Connection, OptionalExtension, params};
use time::OffsetDateTime;

use super::{
    RunRecord, Store, StoreError,
    codec::{parse_time, time_text},
};

impl Store {
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
}

/// The most recently started run, if any.
pub(super) fn last_run(c: &Connection) -> Result<Option<RunRecord>, StoreError> {
    c.query_row(
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
    .transpose()
}
