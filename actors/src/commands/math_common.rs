//! Shared pieces of the portfolio-math commands (`optimize`, `frontier`, and `backtest`'s file):
//! their data and model flags, reading a returns file within its size cap, loading returns
//! into a market model, and parsing `--bounds` and `name=value` lists.
//!
//! # Invariants
//! - Every error names the flag it came from (`--returns`, `--bounds`, `--budgets`, ...).
//! - Nothing here panics on user input.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use anyhow::{Context, anyhow, bail};
use ballast::math::{
    MarketModel, WeightBounds,
    returns::{CovarianceMethod, Repair, ReturnsTable},
    returns_csv::MAX_RETURN_FILE_BYTES,
};

use super::flags::config_names;

/// The flags that say which data and which model, shared by `optimize` and `frontier`.
#[derive(clap::Args, Debug)]
pub struct ModelArgs {
    /// Daily returns CSV: a header of asset names (an optional first date column), one row a day.
    /// (Required by `frontier`; `optimize` reads the venue without it.)
    #[arg(long)]
    pub returns: Option<PathBuf>,
    /// Covariance estimator (default: `optimizer.covariance`).
    #[arg(long, value_parser = config_names(|_: &CovarianceMethod| true))]
    pub covariance: Option<CovarianceMethod>,
    /// Weight bounds `LO,HI` for every asset (default long-only, uncapped).
    #[arg(long)]
    pub bounds: Option<String>,
}

impl ModelArgs {
    /// `--returns` estimated by `--covariance`, or by `configured` when the flag is left open;
    /// the estimator used comes back with the model.
    ///
    /// # Errors
    /// As [`load_model`], and no `--returns`.
    pub fn load(
        &self,
        configured: CovarianceMethod,
    ) -> anyhow::Result<(CovarianceMethod, LoadedModel)> {
        let returns = self
            .returns
            .as_deref()
            .ok_or_else(|| anyhow!("--returns FILE.csv is required"))?;
        let covariance = self.covariance.unwrap_or(configured);
        Ok((covariance, load_model(returns, covariance)?))
    }

    /// `--bounds` over `n` assets, when given.
    ///
    /// # Errors
    /// As [`parse_bounds`].
    pub fn bounds(&self, n: usize) -> anyhow::Result<Option<WeightBounds>> {
        self.bounds
            .as_deref()
            .map(|text| parse_bounds(text, n))
            .transpose()
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

/// The text of the returns file at `path`, refused before reading when it is larger than
/// [`MAX_RETURN_FILE_BYTES`]: the one way `optimize`, `frontier` and `backtest` read it.
///
/// # Errors
/// A missing, directory, unreadable, oversized or non-text path, naming `--returns`.
pub fn read_returns_file(path: &Path) -> anyhow::Result<String> {
    crate::files::read_named("--returns", path, MAX_RETURN_FILE_BYTES).map_err(|e| anyhow!(e))
}

/// Reads a daily-returns CSV and estimates the model.
///
/// # Errors
/// Unreadable file, bad CSV (ragged row, NaN, too few rows, too large, constant returns),
/// each naming `--returns`.
pub fn load_model(path: &Path, covariance: CovarianceMethod) -> anyhow::Result<LoadedModel> {
    let text = read_returns_file(path)?;
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
    let (lo, hi) = (number("bounds", lo)?, number("bounds", hi)?);
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
        let value = number(flag, value)?;
        if out.insert(name.trim().to_owned(), value).is_some() {
            bail!("--{flag}: `{}` given twice", name.trim());
        }
    }
    Ok(out)
}

/// Parses one number of `--flag`, naming the flag on error.
fn number(flag: &str, text: &str) -> anyhow::Result<f64> {
    text.trim()
        .parse()
        .with_context(|| format!("--{flag}: `{}` is not a number", text.trim()))
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
