//! Serde for money on the wire: written as a JSON number, read exactly from a number or
//! a decimal string. Non-finite and unrepresentable values are errors, never panics.
//!
//! A JSON number is parsed through its shortest decimal representation, so `12.34` arrives as
//! exactly `12.34`; an amount a number cannot carry exactly is written as a decimal string.

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
        Some(f) if crate::money::decimal_from_f64(f, "amount").as_ref() == Ok(value) => {
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
        crate::money::decimal_from_f64(v, "amount").map_err(E::custom)
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

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;
    use rust_decimal_macros::dec;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Amount {
        #[serde(with = "super")]
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
}
