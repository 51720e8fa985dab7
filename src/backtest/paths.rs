//! Where paths come from: a returns CSV, the venue-like return model, or days bootstrapped
//! from a returns table.
//!
//! The CSV has a header naming services (`casino,trading,wallet,domains,escrow,reserve`, in
//! any order; a service without a column earns nothing, like idle USDC) and one row of simple
//! daily returns per day, read by the one reader of returns files (`math::returns_csv`: a
//! UTF-8 byte-order mark stripped, blank lines and a date column skipped, sizes capped).
//!
//! The model is the anchors' `common.services_returns` (Student-t market factor with
//! 5 degrees of freedom × 0.6, loadings, Student-t(4) × 0.7 idiosyncratic noise, the article's
//! annual drifts and volatilities) drawn with this crate's seeded generators: the same
//! distribution, not numpy's numbers.
//!
//! # Invariants
//! - A parsed path has at least one row, every value finite and above −100%.
//! - A generated path depends only on (seed, path index): the same on any thread count.
//! - Nothing here allocates per day when writing into a caller's buffer.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StudentT};

use super::{BacktestError, N, Row};
use crate::{math::returns_csv, service::Service};

/// Parses a returns CSV into one [`Row`] per day, through the one reader
/// (`math::returns_csv`: BOM, blank lines, a date column, caps, −100% refused).
///
/// # Errors
/// [`BacktestError::Csv`] naming the row and column at fault (ragged rows, non-numbers,
/// NaN/inf, returns ≤ −100%, more than [`MAX_RETURN_CELLS`](super::MAX_RETURN_CELLS));
/// [`BacktestError::BadHeader`] for a name that is not a service.
pub fn parse_returns_csv(text: &str) -> Result<Vec<Row>, BacktestError> {
    let csv = returns_csv::parse_returns_csv(text)?;
    // A date column, when present, is the file's first: names start at column 2 then.
    let first_column = usize::from(
        text.trim_start_matches('\u{feff}')
            .lines()
            .find(|l| !l.trim().is_empty())
            .is_some_and(|header| header.split(',').count() > csv.names.len()),
    ) + 1;
    let mut indices = Vec::with_capacity(csv.names.len());
    for (k, name) in csv.names.iter().enumerate() {
        let service: Service = name.parse().map_err(|_| BacktestError::BadHeader {
            column: first_column + k,
            problem: format!(
                "`{name}` is not a service (expected casino, trading, wallet, domains, escrow, reserve)"
            ),
        })?;
        if indices.contains(&service.index()) {
            return Err(BacktestError::BadHeader {
                column: first_column + k,
                problem: format!("`{name}` is named twice"),
            });
        }
        indices.push(service.index());
    }
    Ok(csv
        .data
        .chunks_exact(indices.len())
        .map(|values| {
            let mut row = [0.0; N];
            for (index, value) in indices.iter().zip(values) {
                row[*index] = *value;
            }
            row
        })
        .collect())
}

/// The anchors' six-service model (`common.services_returns`), per service in
/// [`Service::ALL`] order.
#[derive(Debug, Clone, PartialEq)]
pub struct ServicesModel {
    /// Annual volatility.
    pub annual_vol: Row,
    /// Annual drift.
    pub annual_mean: Row,
    /// Loading on the market factor.
    pub loading: Row,
}

impl Default for ServicesModel {
    fn default() -> Self {
        // casino very volatile with a small edge, trading and wallet crypto-like, domains
        // steady, escrow and reserve nearly riskless.
        ServicesModel {
            annual_vol: [1.20, 0.60, 0.70, 0.25, 0.05, 0.005],
            annual_mean: [0.25, 0.18, 0.06, 0.10, 0.04, 0.0],
            loading: [0.2, 0.8, 0.9, 0.3, 0.1, 0.0],
        }
    }
}

/// Degrees of freedom of the market factor.
const MARKET_DOF: f64 = 5.0;
/// Degrees of freedom of the idiosyncratic noise.
const NOISE_DOF: f64 = 4.0;
/// Scale of the market factor (the anchors' 0.6: a t(5) has variance 5/3).
const MARKET_SCALE: f64 = 0.6;
/// Scale of the noise (0.7: a t(4) has variance 2).
const NOISE_SCALE: f64 = 0.7;

/// The generator of path `index` under `seed`: independent streams, so a path is the same
/// whichever thread draws it and in whatever order.
pub fn path_rng(seed: u64, index: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index);
    rng
}

impl ServicesModel {
    /// Fills `out` with one path of daily returns.
    pub fn fill(&self, rng: &mut impl Rng, out: &mut [Row]) {
        // Degrees of freedom are constants above 0, so construction cannot fail.
        let market = StudentT::new(MARKET_DOF).unwrap_or_else(|_| unreachable!());
        let noise = StudentT::new(NOISE_DOF).unwrap_or_else(|_| unreachable!());
        let sqrt_year = 365f64.sqrt();
        let mut daily_vol = [0.0; N];
        let mut daily_mean = [0.0; N];
        let mut own = [0.0; N];
        for i in 0..N {
            daily_vol[i] = self.annual_vol[i] / sqrt_year;
            daily_mean[i] = self.annual_mean[i] / 365.0;
            own[i] = (1.0 - self.loading[i] * self.loading[i]).max(0.0).sqrt();
        }
        for row in out.iter_mut() {
            let m = market.sample(rng) * MARKET_SCALE;
            for i in 0..N {
                let eps = noise.sample(rng) * NOISE_SCALE;
                let z = self.loading[i] * m + own[i] * eps;
                // A t draw can be extreme: keep a day above −100% (−99%), as a real
                // service cannot lose more than everything.
                row[i] = (daily_mean[i] + daily_vol[i] * z).max(-0.99);
            }
        }
    }
}

/// Fills `out` with days drawn uniformly, with replacement, from `table` (whole rows, so the
/// services' same-day correlation is kept; serial dependence is not).
pub fn bootstrap_fill(table: &[Row], rng: &mut impl Rng, out: &mut [Row]) {
    if table.is_empty() {
        return;
    }
    for row in out.iter_mut() {
        *row = table[rng.random_range(0..table.len())];
    }
}

/// Where Monte Carlo paths come from.
#[derive(Debug, Clone, Copy)]
pub enum PathSource<'a> {
    /// The venue-like model.
    Model(&'a ServicesModel),
    /// Days bootstrapped from a returns table.
    Bootstrap(&'a [Row]),
}

impl PathSource<'_> {
    /// Fills `out` with path `index` under `seed`.
    pub fn fill(&self, seed: u64, index: u64, out: &mut [Row]) {
        let mut rng = path_rng(seed, index);
        match self {
            PathSource::Model(model) => model.fill(&mut rng, out),
            PathSource::Bootstrap(table) => bootstrap_fill(table, &mut rng, out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{super::MAX_RETURN_CELLS, *};

    #[test]
    fn parse_returns_csv_accepts_and_refuses() {
        struct TestCase {
            text: &'static str,
            expected: Result<Vec<Row>, &'static str>,
        }
        let cases = [
            // TC0: all six in canonical order, with a BOM and a blank line.
            TestCase {
                text: "\u{feff}casino,trading,wallet,domains,escrow,reserve\n0.1,0,0,0,0,0\n\n-0.5,0.01,0,0,0,0.001\n",
                expected: Ok(vec![
                    [0.1, 0.0, 0.0, 0.0, 0.0, 0.0],
                    [-0.5, 0.01, 0.0, 0.0, 0.0, 0.001],
                ]),
            },
            // TC1: any order, missing services earn nothing.
            TestCase {
                text: "reserve,casino\n0.001,0.2\n",
                expected: Ok(vec![[0.2, 0.0, 0.0, 0.0, 0.0, 0.001]]),
            },
            // TC2: an unknown name, with its column.
            TestCase {
                text: "casino,stocks\n0,0\n",
                expected: Err("header column 2: `stocks` is not a service"),
            },
            // TC3: a service twice.
            TestCase {
                text: "casino,casino\n0,0\n",
                expected: Err("header column 2: `casino` is named twice"),
            },
            // TC4: NaN is refused.
            TestCase {
                text: "casino,trading\nNaN,0\n",
                expected: Err("row 2, column casino: `NaN` is not finite"),
            },
            // TC5: text is refused.
            TestCase {
                text: "casino,trading\n0,abc\n",
                expected: Err("row 2, column trading: `abc` is not a number"),
            },
            // TC6: ragged.
            TestCase {
                text: "casino,trading\n0,0,0\n",
                expected: Err("row 2: 3 fields, the header has 2"),
            },
        ];
        for (index, case) in cases.iter().enumerate() {
            match (parse_returns_csv(case.text), &case.expected) {
                (Ok(rows), Ok(expected)) => assert_eq!(&rows, expected, "TC{index}"),
                (Err(e), Err(prefix)) => {
                    assert!(e.to_string().starts_with(prefix), "TC{index}: {e}")
                }
                (actual, _) => panic!("TC{index}: {actual:?}"),
            }
        }
        // Every refusal of the one reader reaches the caller as the reader words it.
        for (i, (text, message)) in returns_csv::REFUSALS.iter().enumerate() {
            let error = parse_returns_csv(text).expect_err("refused");
            assert!(matches!(error, BacktestError::Csv(_)), "R{i}: {error:?}");
            assert_eq!(&error.to_string(), message, "R{i}");
        }
    }

    #[test]
    fn too_many_cells_are_refused_with_the_cap() {
        let mut text = String::from("casino,trading,wallet,domains,escrow,reserve\n");
        let rows = MAX_RETURN_CELLS / 6 + 1;
        text.reserve(rows * 12);
        for _ in 0..rows {
            text.push_str("0,0,0,0,0,0\n");
        }
        let error = parse_returns_csv(&text).expect_err("capped");
        assert!(
            matches!(
                error,
                BacktestError::Csv(returns_csv::CsvError::TooLarge { .. })
            ),
            "{error}"
        );
    }

    #[test]
    fn model_paths_have_the_models_character() {
        // 20 years of one path: annualized volatilities within 20% of the model's (whose
        // unit-scale shocks have variance load² × 0.6 + (1 − load²) × 0.98, as the
        // anchors'), and the same path for the same (seed, index).
        let model = ServicesModel::default();
        let mut path = vec![[0.0; N]; 7300];
        PathSource::Model(&model).fill(7, 3, &mut path);
        let mut again = vec![[0.0; N]; 7300];
        PathSource::Model(&model).fill(7, 3, &mut again);
        assert_eq!(path, again);
        for i in 0..4 {
            let xs: Vec<f64> = path.iter().map(|r| r[i]).collect();
            let mean = xs.iter().sum::<f64>() / xs.len() as f64;
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (xs.len() - 1) as f64;
            let annual = (var * 365.0).sqrt();
            let load = model.loading[i];
            let shock_var = load * load * 0.6 + (1.0 - load * load) * 0.98;
            let want = model.annual_vol[i] * shock_var.sqrt();
            assert!(
                (annual / want - 1.0).abs() < 0.2,
                "service {i}: {annual} vs {want}"
            );
        }
        let mut other = vec![[0.0; N]; 10];
        PathSource::Model(&model).fill(7, 4, &mut other);
        assert_ne!(other[..], path[..10]);
    }

    #[test]
    fn bootstrap_draws_whole_days_from_the_table() {
        let table = [
            [0.01, 0.02, 0.0, 0.0, 0.0, 0.0],
            [-0.01, -0.02, 0.0, 0.0, 0.0, 0.0],
        ];
        let mut out = vec![[0.0; N]; 50];
        PathSource::Bootstrap(&table).fill(1, 0, &mut out);
        assert!(out.iter().all(|r| table.contains(r)));
        assert!(out.contains(&table[0]) && out.contains(&table[1]));
    }
}
