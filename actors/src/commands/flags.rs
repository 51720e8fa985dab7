//! Flags that name a configuration value (`--method`, `--covariance`, `--to`) take exactly the
//! configuration's words for it: the names come from the core type's serde, the one name
//! table, never from a list in the CLI.
//!
//! # Invariants
//! - A bad value is refused by clap, listing the names offered; `--help` lists the same names.
//! - Nothing here panics on user input.

use std::fmt;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use serde::{
    Deserializer,
    de::{self, DeserializeOwned, Visitor, value::StrDeserializer},
};

/// A clap parser for the values of a configuration enum `T` by their configuration names
/// (`sample`, `ledoit-wolf`; `risk-parity`, ...), offering those that `keep` accepts; `--help`
/// and a bad value list the same names.
pub fn config_names<T>(keep: fn(&T) -> bool) -> impl TypedValueParser<Value = T>
where
    T: DeserializeOwned + Clone + Send + Sync + 'static,
{
    let offered = serde_names::<T>()
        .iter()
        .copied()
        .filter(|name| from_name::<T>(name).is_some_and(|value| keep(&value)));
    PossibleValuesParser::new(offered).try_map(|name| {
        from_name::<T>(&name).ok_or_else(|| format!("`{name}` is not a name of this value"))
    })
}

/// The value of `T` that serde calls `name`.
fn from_name<T: DeserializeOwned>(name: &str) -> Option<T> {
    T::deserialize(StrDeserializer::<de::value::Error>::new(name)).ok()
}

/// The names serde knows for the variants of the unit-only enum `T`, as the `&'static` strings
/// clap's possible values need. Serde's derive (and the core's hand-written method serde)
/// hands its name table to `deserialize_enum`; this deserializer takes it from there and
/// deserializes nothing.
fn serde_names<T: DeserializeOwned>() -> &'static [&'static str] {
    /// Carries the table out, as the "error" that ends the deserialization.
    #[derive(Debug)]
    struct Names(&'static [&'static str]);

    impl fmt::Display for Names {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "variant names {:?}", self.0)
        }
    }

    impl std::error::Error for Names {}

    impl de::Error for Names {
        fn custom<M: fmt::Display>(_message: M) -> Self {
            Names(&[])
        }
    }

    struct TableReader;

    impl<'de> Deserializer<'de> for TableReader {
        type Error = Names;

        fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Names> {
            Err(Names(&[]))
        }

        fn deserialize_enum<V: Visitor<'de>>(
            self,
            _name: &'static str,
            variants: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Names> {
            Err(Names(variants))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map struct identifier
            ignored_any
        }
    }

    match T::deserialize(TableReader) {
        Err(Names(names)) => names,
        Ok(_) => &[],
    }
}

#[cfg(test)]
mod tests {
    use ballast::{
        drift::RebalanceTo,
        math::{methods::OptimizerMethod, returns::CovarianceMethod},
    };
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Flags {
        #[arg(long, value_parser = config_names(|method: &OptimizerMethod| method.estimates()))]
        method: Option<OptimizerMethod>,
        #[arg(long, value_parser = config_names(|_: &CovarianceMethod| true))]
        covariance: Option<CovarianceMethod>,
        #[arg(long, value_parser = config_names(|_: &RebalanceTo| true))]
        to: Option<RebalanceTo>,
    }

    /// What [`Flags`] holds after parsing.
    type Parsed = (
        Option<OptimizerMethod>,
        Option<CovarianceMethod>,
        Option<RebalanceTo>,
    );

    #[test]
    fn flags_take_the_configuration_names() {
        struct TestCase {
            args: &'static [&'static str],
            expected: Result<Parsed, &'static str>,
        }
        let cases = [
            // TC0: both by their config names.
            TestCase {
                args: &["--method", "black-litterman", "--covariance", "ledoit-wolf"],
                expected: Ok((
                    Some(OptimizerMethod::BlackLitterman),
                    Some(CovarianceMethod::LedoitWolf),
                    None,
                )),
            },
            // TC1: a kebab-case policy value.
            TestCase {
                args: &["--to", "band-edge"],
                expected: Ok((None, None, Some(RebalanceTo::BandEdge))),
            },
            // TC2: `fixed` is a configured method but nothing to compute from a CSV.
            TestCase {
                args: &["--method", "fixed"],
                expected: Err(
                    "[possible values: risk-parity, min-variance, max-sharpe, black-litterman, kelly]",
                ),
            },
            // TC3: an unknown estimator lists the known ones.
            TestCase {
                args: &["--covariance", "shrunk"],
                expected: Err("[possible values: sample, ledoit-wolf]"),
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            let parsed =
                Flags::try_parse_from(std::iter::once("test").chain(case.args.iter().copied()));
            match (parsed, &case.expected) {
                (Ok(flags), Ok(want)) => {
                    assert_eq!((flags.method, flags.covariance, flags.to), *want, "TC{i}")
                }
                (Err(e), Err(needle)) => assert!(e.to_string().contains(needle), "TC{i}: {e}"),
                (got, want) => panic!("TC{i}: got {got:?}, want {want:?}"),
            }
        }
    }
}
