//! Money: USDC amounts as exact `rust_decimal::Decimal`, and the boundary to `f64`.
//!
//! Every balance, amount and fee in ballast is a `Decimal`. `f64` exists only inside the
//! numeric optimizers; crossing from `f64` to money goes through [`decimal_from_f64`], which
//! rejects NaN and infinities. How amounts travel on the wire is the venue protocol's
//! business (`venue::protocol::wire`).
//!
//! # Invariants
//! - Amounts sent to the venue are rounded to whole cents ([`round_cents`]), toward zero, so
//!   a transfer never asks for more than was planned.
//! - No function here panics on any input.

use rust_decimal::{Decimal, RoundingStrategy, prelude::ToPrimitive};

/// Decimal places of a USDC cent.
pub const CENT_DP: u32 = 2;

/// Rounds an amount to whole cents, toward zero.
pub fn round_cents(amount_usdc: Decimal) -> Decimal {
    amount_usdc.round_dp_with_strategy(CENT_DP, RoundingStrategy::ToZero)
}

/// Converts an optimizer's `f64` to a `Decimal`, rejecting NaN, infinities and values that
/// do not fit.
///
/// # Errors
/// [`NonFinite`] names the quantity that failed.
pub fn decimal_from_f64(value: f64, what: &str) -> Result<Decimal, NonFinite> {
    if !value.is_finite() {
        return Err(NonFinite {
            what: what.to_owned(),
            value: value.to_string(),
        });
    }
    // Through the shortest round-trip text, so 0.1_f64 becomes exactly 0.1.
    let text = value.to_string();
    text.parse::<Decimal>()
        .or_else(|_| Decimal::from_scientific(&format!("{value:e}")))
        .map_err(|_| NonFinite {
            what: what.to_owned(),
            value: text,
        })
}

/// Converts money to `f64` for the numeric core (lossy beyond ~15 significant digits).
pub fn decimal_to_f64(value: Decimal) -> f64 {
    value.to_f64().unwrap_or(0.0)
}

/// A value that is not a finite, representable number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} is not a finite number: {value}")]
pub struct NonFinite {
    /// The quantity that was being converted.
    pub what: String,
    /// Its textual value.
    pub value: String,
}

/// An amount as decimal text with exactly two places, half away from zero (`"436.00"`,
/// `"48.00"`, `"1320.00"`): how USDC reads in every JSON output.
pub fn usdc_text(amount_usdc: Decimal) -> String {
    let rounded =
        amount_usdc.round_dp_with_strategy(CENT_DP, RoundingStrategy::MidpointAwayFromZero);
    format!("{rounded:.2}")
}

/// Serde `serialize_with` for USDC amounts: [`usdc_text`], a JSON string.
///
/// # Errors
/// The serializer's.
pub fn serialize_usdc<S: serde::Serializer>(
    amount_usdc: &Decimal,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&usdc_text(*amount_usdc))
}

/// [`serialize_usdc`] for an optional amount (`null` when absent).
///
/// # Errors
/// The serializer's.
pub fn serialize_usdc_option<S: serde::Serializer>(
    amount_usdc: &Option<Decimal>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match amount_usdc {
        Some(amount) => serializer.serialize_some(&usdc_text(*amount)),
        None => serializer.serialize_none(),
    }
}

/// Formats an amount as `$1,234.56` for humans.
pub fn format_usdc(amount_usdc: Decimal) -> String {
    let rounded =
        amount_usdc.round_dp_with_strategy(CENT_DP, RoundingStrategy::MidpointAwayFromZero);
    let negative = rounded.is_sign_negative() && !rounded.is_zero();
    let text = format!("{:.2}", rounded.abs());
    let (int_part, frac_part) = text.split_once('.').unwrap_or((&text, "00"));
    let mut grouped = String::with_capacity(int_part.len() + int_part.len() / 3);
    for (i, ch) in int_part.chars().enumerate() {
        if i > 0 && (int_part.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    format!("{}${grouped}.{frac_part}", if negative { "-" } else { "" })
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn round_cents_truncates_toward_zero() {
        assert_eq!(round_cents(dec!(1.239)), dec!(1.23));
        assert_eq!(round_cents(dec!(-1.239)), dec!(-1.23));
        assert_eq!(round_cents(dec!(5)), dec!(5));
    }

    #[test]
    fn f64_boundary_rejects_non_finite() {
        assert!(decimal_from_f64(f64::NAN, "w").is_err());
        assert!(decimal_from_f64(f64::INFINITY, "w").is_err());
        assert_eq!(decimal_from_f64(0.1, "w"), Ok(dec!(0.1)));
        assert_eq!(decimal_from_f64(1e-20, "w").map(|d| d.is_zero()), Ok(false));
    }

    #[test]
    fn format_usdc_groups_thousands() {
        assert_eq!(format_usdc(dec!(1234567.891)), "$1,234,567.89");
        assert_eq!(format_usdc(dec!(-5)), "-$5.00");
        assert_eq!(format_usdc(dec!(0.004)), "$0.00");
    }
}
