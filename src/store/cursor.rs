//! The event-stream cursor: the last processed `seq` of each stream.
//!
//! A stream is one agent on one venue (`{api_base_url}#{agent_id}`), so a different venue
//! or agent starts from zero.
//!
//! Beside the `seq` each cursor keeps its numbering epoch: how many times the venue's event
//! numbering started over (a venue restarted without its log). Only a rebase
//! ([`Store::rebase_cursor`]), done when ballast sees the numbering change, moves a cursor
//! down, and it starts a new epoch.
//!
//! # Invariants
//! - The cursor never moves backwards within an epoch: a save below the stored `seq` keeps
//!   the stored one.
//! - A `seq` the column cannot hold (above `i64::MAX`) is refused, naming `cursor.seq`;
//!   it never saturates into the stored cursor.

use rusqlite::{Connection, OptionalExtension, params};

use super::{Store, StoreError, codec::now_text};

/// A stream's resume point.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursor {
    /// The last processed event `seq` (0 when none).
    pub seq: u64,
    /// Numbering resets seen on this stream (0 until the venue renumbers).
    pub epoch: u32,
}

/// `seq` as the column holds it, or the error naming the column.
fn seq_column(seq: u64) -> Result<i64, StoreError> {
    i64::try_from(seq).map_err(|_| StoreError::OutOfRange {
        column: "cursor.seq",
        value: seq.to_string(),
    })
}

impl Store {
    /// The last processed event `seq` of `stream` (0 when none). A stream is one agent on
    /// one venue (`{api_base_url}#{agent_id}`), so a different venue starts from zero.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn load_cursor(&self, stream: &str) -> Result<u64, StoreError> {
        let stream = stream.to_owned();
        self.call(move |c| load_cursor(c, Some(&stream))).await
    }

    /// The resume point of `stream`: its `seq` and numbering epoch (both 0 when none).
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn load_cursor_state(&self, stream: &str) -> Result<Cursor, StoreError> {
        let stream = stream.to_owned();
        self.call(move |c| {
            let row: Option<(i64, i64)> = c
                .query_row(
                    "SELECT seq, epoch FROM cursor WHERE stream = ?1",
                    [stream],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            Ok(row.map_or_else(Cursor::default, |(seq, epoch)| Cursor {
                seq: u64::try_from(seq).unwrap_or(0),
                epoch: u32::try_from(epoch).unwrap_or(0),
            }))
        })
        .await
    }

    /// Records the last processed event `seq` of `stream`; never moves it backwards.
    ///
    /// # Errors
    /// [`StoreError::OutOfRange`] for a `seq` above `i64::MAX`, or SQLite's error.
    pub async fn save_cursor(&self, stream: &str, seq: u64) -> Result<(), StoreError> {
        let stream = stream.to_owned();
        let seq = seq_column(seq)?;
        self.call(move |c| {
            c.execute(
                "INSERT INTO cursor (stream, seq, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(stream) DO UPDATE SET seq = max(seq, excluded.seq),
                                                   updated_at = excluded.updated_at",
                params![stream, seq, now_text()],
            )?;
            Ok(())
        })
        .await
    }

    /// The venue's numbering started over: `stream` resumes after `seq` of the new
    /// numbering, in `epoch`. The one way a cursor moves down.
    ///
    /// # Errors
    /// [`StoreError::OutOfRange`] for a `seq` above `i64::MAX`, or SQLite's error.
    pub async fn rebase_cursor(
        &self,
        stream: &str,
        seq: u64,
        epoch: u32,
    ) -> Result<(), StoreError> {
        let stream = stream.to_owned();
        let seq = seq_column(seq)?;
        self.call(move |c| {
            c.execute(
                "INSERT INTO cursor (stream, seq, updated_at, epoch) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(stream) DO UPDATE SET seq = excluded.seq, epoch = excluded.epoch,
                                                   updated_at = excluded.updated_at",
                params![stream, seq, now_text(), epoch],
            )?;
            Ok(())
        })
        .await
    }
}

/// The cursor of `stream`, or of the most recently updated stream when `None`.
pub(super) fn load_cursor(c: &Connection, stream: Option<&str>) -> Result<u64, StoreError> {
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
