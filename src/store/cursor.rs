//! The event-stream cursor: the last processed `seq` of each stream.
//!
//! A stream is one agent on one venue (`{api_base_url}#{agent_id}`), so a different venue
//! or agent starts from zero.
//!
//! # Invariants
//! - The cursor never moves backwards: a save below the stored `seq` keeps the stored one.

use rusqlite::{Connection, OptionalExtension, params};

use super::{
    Store, StoreError,
    codec::{now_text, to_i64},
};

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
