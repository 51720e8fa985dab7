//! Money: USDC amounts as exact `rust_decimal::Decimal`, and the boundary to `f64`.
//!
//! Every balance, amount and fee in ballast is a `Decimal`. `f64` exists only inside the
//! numeric optimizers; crossing from `f64` to money goes through [`decimal_from_f64`], which
//! rejects NaN and infinities. On the wire, amounts are JSON numbers (the article's API) and
//! are read back exactly by [`wire`]: a JSON number is parsed through its shortest decimal
//! form, so `12.34` arrives as exactly `12.34`, never `12.339999...`.
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

/// Serde for money on the wire: written as a JSON number, read exactly from a number or
/// a decimal string. Non-finite and unrepresentable values are errors, never panics.
pub mod wire {
    use std::fmt;

    use rust_decimal::{Decimal, prelude::ToPrimitive};
    use serde::{Deserializer, Serializer, de};

    /// Writes the amount as a JSON number when a number reads back exactly (every amount
    /// with at most 15 significant digits), and as a decimal string otherwise, so that no
    /// amount ever changes on the wire. [`deserialize`] reads both.
    ///
    /// # Errors
    /// None in practice; the signature is serde's.
    pub fn serialize<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
        match value.to_f64() {
            Some(f) if super::decimal_from_f64(f, "amount").as_ref() == Ok(value) => {
                serializer.serialize_f64(f)
            }
            _ => serializer.serialize_str(&value.normalize().to_string()),
        }
    }

    /// Reads an amount from a JSON number or a decimal string.
    ///
    /// # Errors
    /// On non-numbers, non-finite numbers and out-of-range values.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        deserializer.deserialize_any(DecimalVisitor)
    }

    pub(crate) struct DecimalVisitor;

    impl de::Visitor<'_> for DecimalVisitor {
        type Value = Decimal;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a finite decimal number")
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
            Ok(Decimal::from(v))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
            Ok(Decimal::from(v))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
            super::decimal_from_f64(v, "amount").map_err(E::custom)
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Decimal, E> {
            v.trim()
                .parse::<Decimal>()
                .or_else(|_| Decimal::from_scientific(v.trim()))
                .map_err(|_| E::custom(format!("`{v}` is not a decimal number")))
        }
    }

    /// The same, for optional amounts (`null` or absent is `None`).
    pub mod option {
        use rust_decimal::Decimal;
        use serde::{Deserialize, Deserializer, Serializer};

        /// Writes `Some` as a JSON number and `None` as `null`.
        ///
        /// # Errors
        /// As [`super::serialize`].
        pub fn serialize<S: Serializer>(
            value: &Option<Decimal>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match value {
                Some(v) => super::serialize(v, serializer),
                None => serializer.serialize_none(),
            }
        }

        /// Reads `null` as `None`, otherwise as [`super::deserialize`].
        ///
        /// # Errors
        /// As [`super::deserialize`].
        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<Decimal>, D::Error> {
            #[derive(Deserialize)]
            struct Wrapped(#[serde(with = "super")] Decimal);
            Ok(Option::<Wrapped>::deserialize(deserializer)?.map(|w| w.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;
    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Amount {
        #[serde(with = "wire")]
        amount_usdc: Decimal,
    }

    #[test]
    fn wire_reads_numbers_exactly() {
        struct TestCase {
            input: &'static str,
            expected: Option<Decimal>,
        }
        let cases = [
            // TC0: a float with a binary-inexact value arrives exactly.
            TestCase {
                input: r#"{"amount_usdc": 12.34}"#,
                expected: Some(dec!(12.34)),
            },
            // TC1: integers.
            TestCase {
                input: r#"{"amount_usdc": 1000}"#,
                expected: Some(dec!(1000)),
            },
            // TC2: strings are accepted.
            TestCase {
                input: r#"{"amount_usdc": "0.10"}"#,
                expected: Some(dec!(0.10)),
            },
            // TC3: exponent notation.
            TestCase {
                input: r#"{"amount_usdc": 1e-7}"#,
                expected: Some(dec!(0.0000001)),
            },
            // TC4: NaN is not JSON and is rejected.
            TestCase {
                input: r#"{"amount_usdc": NaN}"#,
                expected: None,
            },
            // TC5: too large for a Decimal.
            TestCase {
                input: r#"{"amount_usdc": 1e300}"#,
                expected: None,
            },
            // TC6: wrong type.
            TestCase {
                input: r#"{"amount_usdc": true}"#,
                expected: None,
            },
            // TC7: missing.
            TestCase {
                input: r#"{}"#,
                expected: None,
            },
        ];
        for (index, case) in cases.iter().enumerate() {
            let actual = serde_json::from_str::<Amount>(case.input)
                .ok()
                .map(|a| a.amount_usdc);
            assert_eq!(actual, case.expected, "TC{index} failed");
        }
    }

    #[test]
    fn wire_round_trips_cents() {
        for cents in [0_i64, 1, 99, 12_345, 100_000_000, 98_765_432_101] {
            let amount = Amount {
                amount_usdc: Decimal::new(cents, 2),
            };
            let text = serde_json::to_string(&amount).expect("serializes");
            let back: Amount = serde_json::from_str(&text).expect("parses");
            assert_eq!(back, amount, "{text}");
        }
    }

    #[test]
    fn wire_round_trips_amounts_a_number_cannot_carry() {
        for amount_usdc in [
            dec!(-17017260048618627),
            dec!(12345678901234567.89),
            dec!(0.1234567890123456789),
            Decimal::MAX,
            Decimal::MIN,
        ] {
            let amount = Amount { amount_usdc };
            let text = serde_json::to_string(&amount).expect("serializes");
            let back: Amount = serde_json::from_str(&text).expect("parses");
            assert_eq!(back, amount, "{text}");
        }
        // Ordinary amounts stay JSON numbers.
        let text = serde_json::to_string(&Amount {
            amount_usdc: dec!(1234.56),
        })
        .expect("serializes");
        assert_eq!(text, r#"{"amount_usdc":1234.56}"#);
    }

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
