//! Shared pieces of the portfolio-math commands (`optimize`, `frontier`): loading returns into
//! a market model, parsing `--bounds` and `name=value` lists, and the flags that take the
//! configuration's names (`--method`, `--covariance`).
//!
//! # Invariants
//! - Every error names the flag it came from (`--returns`, `--bounds`, `--budgets`, ...).
//! - A flag naming a configuration value takes exactly the configuration's words: the names
//!   come from the core type's serde, never from a list here.
//! - Nothing here panics on user input.

use std::{collections::BTreeMap, fmt, path::Path};

use anyhow::{Context, anyhow, bail};
use ballast::math::{
    MarketModel, WeightBounds,
    returns::{CovarianceMethod, Repair, ReturnsTable},
};
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

/// Returns loaded and turned into a model.
#[derive(Debug, Clone)]
pub struct LoadedModel {
    /// The annualized model.
    pub model: MarketModel,
    /// Ledoit–Wolf shrinkage intensity, if that estimator was used.
    pub shrinkage: Option<f64>,
    /// What the positive-definiteness repair did.
    pub repair: Repair,
}

/// Reads a daily-returns CSV and estimates the model.
///
/// # Errors
/// Unreadable file, bad CSV (ragged row, NaN, too few rows), each naming `--returns`.
pub fn load_model(path: &Path, covariance: CovarianceMethod) -> anyhow::Result<LoadedModel> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--returns {}: cannot read the file", path.display()))?;
    let table =
        ReturnsTable::from_csv(&text).map_err(|e| anyhow!("--returns {}: {e}", path.display()))?;
    let (model, estimate, repair) = table
        .model(covariance)
        .map_err(|e| anyhow!("--returns {}: {e}", path.display()))?;
    Ok(LoadedModel {
        model,
        shrinkage: estimate.shrinkage,
        repair,
    })
}

/// Parses `LO,HI` into uniform bounds over `n` assets.
///
/// # Errors
/// Malformed text or infeasible bounds, naming `--bounds`.
pub fn parse_bounds(text: &str, n: usize) -> anyhow::Result<WeightBounds> {
    let (lo, hi) = text
        .split_once(',')
        .with_context(|| format!("--bounds: `{text}` is not LO,HI"))?;
    let lo: f64 = lo
        .trim()
        .parse()
        .with_context(|| format!("--bounds: `{}` is not a number", lo.trim()))?;
    let hi: f64 = hi
        .trim()
        .parse()
        .with_context(|| format!("--bounds: `{}` is not a number", hi.trim()))?;
    WeightBounds::uniform(n, lo, hi).map_err(|e| anyhow!("--bounds {text}: {e}"))
}

/// Parses `name=value,name=value`, naming the flag on error.
///
/// # Errors
/// Malformed pairs, non-numbers and duplicates.
pub fn parse_named(flag: &str, text: &str) -> anyhow::Result<BTreeMap<String, f64>> {
    let mut out = BTreeMap::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, value) = pair
            .split_once('=')
            .with_context(|| format!("--{flag}: `{pair}` is not name=value"))?;
        let value: f64 = value
            .trim()
            .parse()
            .with_context(|| format!("--{flag}: `{}` is not a number", value.trim()))?;
        if out.insert(name.trim().to_owned(), value).is_some() {
            bail!("--{flag}: `{}` given twice", name.trim());
        }
    }
    Ok(out)
}

/// Orders named values by `names`, refusing unknown and missing names.
///
/// # Errors
/// An unknown or missing asset, naming the flag.
pub fn ordered(
    flag: &str,
    names: &[String],
    named: &BTreeMap<String, f64>,
) -> anyhow::Result<Vec<f64>> {
    if let Some(unknown) = named.keys().find(|k| !names.contains(k)) {
        bail!("--{flag}: `{unknown}` is not an asset in the returns file");
    }
    names
        .iter()
        .map(|n| {
            named
                .get(n)
                .copied()
                .with_context(|| format!("--{flag}: no value for asset `{n}`"))
        })
        .collect()
}

/// `name → value` for output.
pub fn by_name(names: &[String], values: &[f64]) -> BTreeMap<String, f64> {
    names.iter().cloned().zip(values.iter().copied()).collect()
}

#[cfg(test)]
mod tests {
    use ballast::math::methods::OptimizerMethod;
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Flags {
        #[arg(long, value_parser = config_names(|method: &OptimizerMethod| method.estimates()))]
        method: Option<OptimizerMethod>,
        #[arg(long, value_parser = config_names(|_: &CovarianceMethod| true))]
        covariance: Option<CovarianceMethod>,
    }

    #[test]
    fn flags_take_the_configuration_names() {
        struct TestCase {
            args: &'static [&'static str],
            expected: Result<(Option<OptimizerMethod>, Option<CovarianceMethod>), &'static str>,
        }
        let cases = [
            // TC0: both by their config names.
            TestCase {
                args: &["--method", "black-litterman", "--covariance", "ledoit-wolf"],
                expected: Ok((
                    Some(OptimizerMethod::BlackLitterman),
                    Some(CovarianceMethod::LedoitWolf),
                )),
            },
            // TC1: `fixed` is a configured method but nothing to compute from a CSV.
            TestCase {
                args: &["--method", "fixed"],
                expected: Err(
                    "[possible values: risk-parity, min-variance, max-sharpe, black-litterman, kelly]",
                ),
            },
            // TC2: an unknown estimator lists the known ones.
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
                    assert_eq!((flags.method, flags.covariance), *want, "TC{i}")
                }
                (Err(e), Err(needle)) => assert!(e.to_string().contains(needle), "TC{i}: {e}"),
                (got, want) => panic!("TC{i}: got {got:?}, want {want:?}"),
            }
        }
    }
}
