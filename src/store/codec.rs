//! Text <-> value for the store's columns: decimals, RFC 3339 times, sequence numbers,
//! services and leg directions.
//!
//! # Invariants
//! - Amounts are written with `Decimal`'s `Display` and read with `FromStr`, so they
//!   round-trip exactly; REAL is never involved.
//! - A column that does not parse is [`StoreError::Corrupt`] naming the column and the raw
//!   value, never a default.

use std::str::FromStr;

use rust_decimal::Decimal;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use super::{Direction, Service, StoreError};

pub(super) fn parse_decimal(column: &'static str, text: &str) -> Result<Decimal, StoreError> {
    Decimal::from_str(text).map_err(|_| StoreError::Corrupt {
        column,
        value: text.to_owned(),
    })
}

pub(super) fn parse_time(column: &'static str, text: &str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|_| StoreError::Corrupt {
        column,
        value: text.to_owned(),
    })
}

/// A service named by `legs.service`-like text.
pub(super) fn parse_service(column: &'static str, text: &str) -> Result<Service, StoreError> {
    Service::from_str(text).map_err(|_| StoreError::Corrupt {
        column,
        value: text.to_owned(),
    })
}

/// A leg direction written as `increase` or `decrease`.
pub(super) fn parse_direction(column: &'static str, text: &str) -> Result<Direction, StoreError> {
    match text {
        "increase" => Ok(Direction::Increase),
        "decrease" => Ok(Direction::Decrease),
        _ => Err(StoreError::Corrupt {
            column,
            value: text.to_owned(),
        }),
    }
}

/// The first `N` columns of `row` as text: for a query whose columns are all text, each parsed
/// afterwards by the helpers above so a bad one is named.
pub(super) fn text_columns<const N: usize>(
    row: &rusqlite::Row<'_>,
) -> rusqlite::Result<[String; N]> {
    let mut columns: [String; N] = std::array::from_fn(|_| String::new());
    for (i, column) in columns.iter_mut().enumerate() {
        *column = row.get(i)?;
    }
    Ok(columns)
}

pub(super) fn time_text(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

pub(super) fn now_text() -> String {
    time_text(OffsetDateTime::now_utc())
}

/// Sequence numbers above `i64::MAX` cannot occur in practice; saturate rather than wrap.
pub(super) fn to_i64(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;
    use time::macros::datetime;

    use super::*;

    #[test]
    fn decimals_round_trip_and_bad_text_names_its_column() {
        struct TestCase {
            text: &'static str,
            expected: Option<Decimal>,
        }
        let cases = [
            // TC0: cents survive exactly.
            TestCase {
                text: "120.01",
                expected: Some(dec!(120.01)),
            },
            // TC1: trailing zeros are kept.
            TestCase {
                text: "0.10",
                expected: Some(dec!(0.10)),
            },
            // TC2: not a number.
            TestCase {
                text: "12,5",
                expected: None,
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            match (parse_decimal("legs.amount_usdc", case.text), case.expected) {
                (Ok(value), Some(expected)) => {
                    assert_eq!(value, expected, "TC{i}");
                    assert_eq!(value.to_string(), case.text, "TC{i}");
                }
                (Err(StoreError::Corrupt { column, value }), None) => {
                    assert_eq!((column, value.as_str()), ("legs.amount_usdc", case.text));
                }
                (other, _) => panic!("TC{i}: {other:?}"),
            }
        }
    }

    #[test]
    fn times_round_trip_and_sequence_numbers_saturate() {
        let at = datetime!(2026-01-01 00:05:30.25 UTC);
        assert_eq!(parse_time("runs.started_at", &time_text(at)).ok(), Some(at));
        assert!(parse_time("runs.started_at", "yesterday").is_err());
        assert_eq!(to_i64(7), 7);
        assert_eq!(to_i64(u64::MAX), i64::MAX);
    }
}
