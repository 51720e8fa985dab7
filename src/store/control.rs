//! The operator's control actions: every accepted `pause`, `resume`, `halt`, `rebalance` and
//! `recompute`, with who asked, when and why, and the mode it left trading in.
//!
//! The latest row's mode is the mode a restart comes back in, so a halt stays in force until
//! someone resumes.
//!
//! # Invariants
//! - Rows are only appended; the history is never rewritten.
//! - A store from before this table (read-only by `ballast status`) reads as "no action".

use rusqlite::{Connection, OptionalExtension, params};

use super::{
    Store, StoreError,
    codec::{parse_time, text_columns, time_text},
    schema,
};
use crate::control::{Command, ControlRecord, Mode};

impl Store {
    /// Appends an accepted control action; durable when the future resolves.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn record_control(&self, record: ControlRecord) -> Result<(), StoreError> {
        self.call(move |c| {
            c.execute(
                "INSERT INTO control_actions (at, command, previous, mode, by, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    time_text(record.at),
                    record.command.name(),
                    record.previous.name(),
                    record.mode.name(),
                    record.by,
                    record.reason
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// The latest control action, whose mode is the one in force (`None`: never controlled,
    /// so running).
    ///
    /// # Errors
    /// [`StoreError`], or [`StoreError::Corrupt`] for a row that does not parse.
    pub async fn last_control(&self) -> Result<Option<ControlRecord>, StoreError> {
        self.call(|c| last_control(c)).await
    }
}

/// The latest control action in `c`, if the table exists and holds one.
pub(super) fn last_control(c: &Connection) -> Result<Option<ControlRecord>, StoreError> {
    if !schema::has_table(c, "control_actions")? {
        return Ok(None);
    }
    let row = c
        .query_row(
            "SELECT at, command, previous, mode, by, reason FROM control_actions
             ORDER BY id DESC LIMIT 1",
            [],
            text_columns::<6>,
        )
        .optional()?;
    let Some([at, command, previous, mode, by, reason]) = row else {
        return Ok(None);
    };
    let corrupt = |column: &'static str, value: &str| StoreError::Corrupt {
        column,
        value: value.to_owned(),
    };
    Ok(Some(ControlRecord {
        at: parse_time("control_actions.at", &at)?,
        command: command
            .parse::<Command>()
            .map_err(|_| corrupt("control_actions.command", &command))?,
        previous: previous
            .parse::<Mode>()
            .map_err(|_| corrupt("control_actions.previous", &previous))?,
        mode: mode
            .parse::<Mode>()
            .map_err(|_| corrupt("control_actions.mode", &mode))?,
        by,
        reason,
    }))
}
