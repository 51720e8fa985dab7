//! Balance snapshots: each one recorded, the latest one read back for the report.
//!
//! Balances are stored as one JSON object of decimal texts keyed by service name, beside
//! their total.
//!
//! # Invariants
//! - A stored snapshot names every service; one that misses a service, or holds a value
//!   that does not parse, is [`StoreError::Corrupt`], never filled with zero.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, params};
use rust_decimal::Decimal;
use time::OffsetDateTime;

use super::{
    Durability, PortfolioSnapshot, Service, ServiceMap, SnapshotRecord, Store, StoreError,
    codec::{parse_decimal, parse_time, time_text, to_i64},
    write_with,
};

impl Store {
    /// Records a balance snapshot, as far as `durability` asks.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn record_snapshot(
        &self,
        at: OffsetDateTime,
        source: &'static str,
        snapshot: PortfolioSnapshot,
        durability: Durability,
    ) -> Result<(), StoreError> {
        self.call(move |c| {
            write_with(c, durability, |c| {
                let balances =
                    serde_json::to_string(&snapshot.balances_usdc.map(|_, d| d.to_string()))
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
        })
        .await
    }
}

/// The latest recorded snapshot, if any.
pub(super) fn last_snapshot(c: &Connection) -> Result<Option<SnapshotRecord>, StoreError> {
    c.query_row(
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
    .transpose()
}

pub(super) fn parse_balances(text: &str) -> Result<ServiceMap<Decimal>, StoreError> {
    let raw: BTreeMap<String, String> =
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
