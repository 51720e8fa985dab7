//! Daily returns in, annualized statistics out: CSV parsing, named series (the optimizer's
//! return history), sample mean and covariance, Ledoit–Wolf shrinkage, and the repair of covariance matrices that are not
//! positive definite.
//!
//! Conventions (the anchors' and sklearn's): the sample mean and covariance (ddof 1) are
//! annualized by 365; Ledoit–Wolf shrinks the *biased* (ddof 0) covariance of the centered
//! returns toward `μ·I` with `μ` its mean variance, exactly as sklearn's `LedoitWolf()`, and is
//! annualized the same way.
//!
//! Repair (see [`repair_covariance`]): a matrix whose Cholesky factorization fails gets its
//! eigenvalues clipped at a small positive floor relative to the largest (the nearest matrix in
//! Frobenius norm with that floor, Higham 1988); [`diagonal_loading`] is the cheaper alternative
//! that shifts the whole spectrum and keeps eigenvectors.
//!
//! # Invariants
//! - A [`ReturnsTable`] only exists with at least one asset, at least two rows, unique names,
//!   and every value finite.
//! - Covariance estimates come out exactly symmetric.

use std::collections::{BTreeMap, BTreeSet};

use nalgebra::{DMatrix, DMatrixView, SymmetricEigen};

// Linked for its `threading` feature only (see Cargo.toml); nalgebra's gemm calls it.
use matrixmultiply as _;

use super::{
    DAYS_PER_YEAR, MarketModel, MathError, linalg::cholesky_in_place,
    returns_csv::parse_returns_csv,
};

/// Relative eigenvalue floor of the PSD repair: keeps the repaired matrix invertible with a
/// condition number of at most 1e12, inside what the solvers factor reliably.
pub const EIGEN_FLOOR_REL: f64 = 1e-12;

/// Daily returns, one row per day (oldest first), one column per asset.
#[derive(Debug, Clone, PartialEq)]
pub struct ReturnsTable {
    names: Vec<String>,
    /// Row-major `rows × names.len()`.
    data: Vec<f64>,
    rows: usize,
}

/// A covariance estimate with its diagnostics.
#[derive(Debug, Clone, PartialEq)]
pub struct CovarianceEstimate {
    /// Annualized covariance.
    pub cov: DMatrix<f64>,
    /// Ledoit–Wolf shrinkage intensity in [0, 1] (None for the sample estimate).
    pub shrinkage: Option<f64>,
}

/// Which covariance estimator to use (`sample` or `ledoit-wolf` in config and JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CovarianceMethod {
    /// Sample covariance, ddof 1.
    Sample,
    /// Ledoit–Wolf shrinkage toward a scaled identity (sklearn's estimator).
    LedoitWolf,
}

impl ReturnsTable {
    /// Builds a table from names and row-major data.
    ///
    /// # Errors
    /// [`MathError::Dimension`] for no assets, duplicate names or a data length that is not a
    /// multiple of the asset count; [`MathError::EmptyReturns`] for fewer than two rows;
    /// [`MathError::NotFinite`] naming the first non-finite value; [`MathError::TotalLoss`]
    /// naming the first return of −100% or worse.
    pub fn new(names: Vec<String>, data: Vec<f64>) -> Result<Self, MathError> {
        let n = names.len();
        if n == 0 {
            return Err(MathError::Dimension("no assets".into()));
        }
        let unique: BTreeSet<&str> = names.iter().map(String::as_str).collect();
        if unique.len() != n {
            return Err(MathError::Dimension("duplicate asset names".into()));
        }
        if !data.len().is_multiple_of(n) {
            return Err(MathError::Dimension(format!(
                "{} values do not fill rows of {n} assets",
                data.len()
            )));
        }
        let rows = data.len() / n;
        if rows < 2 {
            return Err(MathError::EmptyReturns(format!(
                "{rows} rows of returns; at least 2 are needed"
            )));
        }
        if let Some(k) = data.iter().position(|x| !x.is_finite()) {
            return Err(MathError::NotFinite {
                row: k / n + 1,
                column: names[k % n].clone(),
                value: data[k].to_string(),
            });
        }
        if let Some(k) = data.iter().position(|x| *x <= -1.0) {
            return Err(MathError::TotalLoss {
                row: k / n + 1,
                column: names[k % n].clone(),
                value: data[k],
            });
        }
        Ok(ReturnsTable { names, data, rows })
    }

    /// Parses a returns CSV with the one reader ([`parse_returns_csv`]: BOM, date column,
    /// caps, −100% refused).
    ///
    /// # Errors
    /// [`MathError::Csv`] naming the row, column or cap at fault; as [`ReturnsTable::new`]
    /// (fewer than two rows).
    pub fn from_csv(text: &str) -> Result<Self, MathError> {
        let csv = parse_returns_csv(text)?;
        Self::new(csv.names, csv.data)
    }

    /// Takes named series of equal length, in name order.
    ///
    /// # Errors
    /// As [`ReturnsTable::from_columns`].
    pub fn from_series(series: &BTreeMap<String, Vec<f64>>) -> Result<Self, MathError> {
        Self::from_columns(series.iter().map(|(name, s)| (name.as_str(), s.as_slice())))
    }

    /// Takes named series of equal length, one column each, in the order given.
    ///
    /// # Errors
    /// [`MathError::UnequalLengths`] naming the first series whose length differs from the
    /// first one's; as [`ReturnsTable::new`].
    pub fn from_columns<'a>(
        columns: impl IntoIterator<Item = (&'a str, &'a [f64])>,
    ) -> Result<Self, MathError> {
        let columns: Vec<(&str, &[f64])> = columns.into_iter().collect();
        let rows = columns.first().map_or(0, |(_, s)| s.len());
        for (name, s) in &columns {
            if s.len() != rows {
                return Err(MathError::UnequalLengths {
                    name: (*name).to_owned(),
                    len: s.len(),
                    expected: rows,
                });
            }
        }
        let mut data = Vec::with_capacity(rows * columns.len());
        for t in 0..rows {
            data.extend(columns.iter().map(|(_, s)| s[t]));
        }
        let names = columns.iter().map(|(name, _)| (*name).to_owned()).collect();
        Self::new(names, data)
    }

    /// Asset names.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Number of days.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of assets.
    pub fn assets(&self) -> usize {
        self.names.len()
    }

    /// The returns of asset `j`, oldest first.
    pub fn column(&self, j: usize) -> Vec<f64> {
        let n = self.assets();
        (0..self.rows).map(|t| self.data[t * n + j]).collect()
    }

    /// Whether every row equals the first: each asset earns the same every day.
    fn every_column_constant(&self) -> bool {
        let n = self.assets();
        let first = &self.data[..n];
        self.data.chunks_exact(n).all(|row| row == first)
    }

    /// Daily mean return per asset.
    fn daily_mean(&self) -> Vec<f64> {
        let n = self.assets();
        let mut mean = vec![0.0; n];
        for row in self.data.chunks_exact(n) {
            for (m, x) in mean.iter_mut().zip(row) {
                *m += x;
            }
        }
        for m in &mut mean {
            *m /= self.rows as f64;
        }
        mean
    }

    /// Annualized mean return (daily mean × 365).
    pub fn annual_mean(&self) -> Vec<f64> {
        self.daily_mean()
            .into_iter()
            .map(|m| m * DAYS_PER_YEAR)
            .collect()
    }

    /// Centered returns transposed — an `n × rows` column-major matrix, so each day is one
    /// contiguous column, copied straight from the row-major table — and the scatter
    /// `Σ_t x_t x_tᵀ`.
    fn centered_scatter(&self) -> (DMatrix<f64>, DMatrix<f64>) {
        let n = self.assets();
        let mean = self.daily_mean();
        let xt = DMatrix::from_fn(n, self.rows, |j, t| self.data[t * n + j] - mean[j]);
        let s = scatter(&xt);
        (xt, s)
    }

    /// Annualized sample covariance (ddof 1).
    ///
    /// # Errors
    /// [`MathError::FewerRowsThanAssets`] with fewer than `n + 1` rows, where the sample
    /// covariance is singular (use Ledoit–Wolf then).
    pub fn sample_covariance(&self) -> Result<DMatrix<f64>, MathError> {
        let n = self.assets();
        if self.rows < n + 1 {
            return Err(MathError::FewerRowsThanAssets {
                rows: self.rows,
                assets: n,
                needed: n + 1,
            });
        }
        let (_, s) = self.centered_scatter();
        Ok(s * (DAYS_PER_YEAR / (self.rows - 1) as f64))
    }

    /// sklearn's `LedoitWolf()` (not `assume_centered`), annualized.
    pub fn ledoit_wolf(&self) -> CovarianceEstimate {
        let n = self.assets();
        let t = self.rows as f64;
        let (xt, s) = self.centered_scatter();
        let emp = s / t;
        let trace: f64 = (0..n).map(|i| emp[(i, i)]).sum();
        let mu = trace / n as f64;
        let shrinkage = if n == 1 {
            // sklearn returns 0 for a single feature: there is nothing to shrink toward.
            0.0
        } else {
            // δ: ‖S − μI‖²_F / n; β: the estimation error of S, from Σ_t ‖x_t‖⁴ (sklearn forms
            // (X²)ᵀX² and sums it, which is the same number at O(T·n) instead of O(T·n²)).
            let frob2: f64 = emp.iter().map(|v| v * v).sum();
            let mut beta_sum = 0.0;
            for day in xt.column_iter() {
                let r2 = day.norm_squared();
                beta_sum += r2 * r2;
            }
            let beta = (beta_sum / t - frob2) / (n as f64 * t);
            let delta = (frob2 - 2.0 * mu * trace + n as f64 * mu * mu) / n as f64;
            let beta = beta.min(delta);
            // sklearn's formula; clamped because rounding can leave β a hair below 0 when the
            // estimate is exact (e.g. two rows), and δ = 0 means S is already μ·I.
            if beta == 0.0 || !(delta > 0.0) {
                0.0
            } else {
                (beta / delta).clamp(0.0, 1.0)
            }
        };
        let mut cov = emp * (1.0 - shrinkage);
        for i in 0..n {
            cov[(i, i)] += shrinkage * mu;
        }
        CovarianceEstimate {
            cov: cov * DAYS_PER_YEAR,
            shrinkage: Some(shrinkage),
        }
    }

    /// The market model (annualized mean and covariance) by `method`, repaired if needed.
    ///
    /// # Errors
    /// [`MathError::ConstantReturns`] when no asset's returns ever change (there is no risk to
    /// estimate, and any weights or Sharpe ratio would be noise); as
    /// [`ReturnsTable::sample_covariance`] for the sample estimate.
    pub fn model(
        &self,
        method: CovarianceMethod,
    ) -> Result<(MarketModel, CovarianceEstimate, Repair), MathError> {
        if self.every_column_constant() {
            return Err(MathError::ConstantReturns);
        }
        let estimate = match method {
            CovarianceMethod::Sample => CovarianceEstimate {
                cov: self.sample_covariance()?,
                shrinkage: None,
            },
            CovarianceMethod::LedoitWolf => self.ledoit_wolf(),
        };
        let (cov, repair) = repair_covariance(&estimate.cov)?;
        let model = MarketModel::new(self.names.clone(), self.annual_mean(), cov)?;
        Ok((model, estimate, repair))
    }
}

/// `XᵀX` from `Xᵀ` (`n × T`, column-major), through matrixmultiply's gemm on the upper block
/// triangle only (the product is symmetric), then mirrored. Column panels keep ~55% of the
/// flops of the full product while each panel is still one large, fast gemm; the right factor
/// is `Xᵀ` read through a transposed (row-major) view, so `X` is never materialized.
fn scatter(xt: &DMatrix<f64>) -> DMatrix<f64> {
    let n = xt.nrows();
    let days = xt.ncols();
    let data = xt.as_slice();
    let mut s = DMatrix::<f64>::zeros(n, n);
    let panel = 64usize.max(n.div_ceil(8));
    let mut j0 = 0;
    while j0 < n {
        let width = panel.min(n - j0);
        let rows_upto = j0 + width;
        // X[:, j0..j0+width]: element (t, c) is Xᵀ(j0 + c, t) at data[j0 + c + t·n].
        let x_panel = DMatrixView::from_slice_with_strides(&data[j0..], days, width, n, 1);
        s.view_mut((0, j0), (rows_upto, width))
            .gemm(1.0, &xt.rows(0, rows_upto), &x_panel, 0.0);
        j0 += width;
    }
    for j in 0..n {
        for i in (j + 1)..n {
            s[(i, j)] = s[(j, i)];
        }
    }
    s
}

/// What [`repair_covariance`] did.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Repair {
    /// The matrix was positive definite and is returned unchanged.
    None,
    /// Eigenvalues below the floor were raised to it.
    EigenClipped {
        /// The most negative eigenvalue before repair.
        min_eigenvalue: f64,
        /// How many eigenvalues were raised.
        clipped: usize,
    },
    /// `shift` was added to the diagonal.
    DiagonalLoading {
        /// The amount added to each variance.
        shift: f64,
    },
}

fn eigen_floor(max_eig: f64) -> f64 {
    EIGEN_FLOOR_REL * max_eig.max(f64::MIN_POSITIVE)
}

fn is_positive_definite(cov: &DMatrix<f64>) -> bool {
    let n = cov.nrows();
    // Row-major copy (symmetric, so the column-major slice reads the same).
    let mut buf = cov.as_slice().to_vec();
    cholesky_in_place(&mut buf, n)
}

/// Returns `cov` unchanged if it is numerically positive definite, else the nearest matrix
/// whose eigenvalues are at least [`EIGEN_FLOOR_REL`] × the largest (eigenvalue clipping).
///
/// # Errors
/// [`MathError::NonFiniteInput`] for NaN/inf entries; [`MathError::NotPositiveSemidefinite`]
/// when every eigenvalue is ≤ 0 (nothing to repair toward).
pub fn repair_covariance(cov: &DMatrix<f64>) -> Result<(DMatrix<f64>, Repair), MathError> {
    super::check_finite_matrix("covariance", cov)?;
    if cov.nrows() != cov.ncols() {
        return Err(MathError::Dimension(format!(
            "covariance is {}x{}",
            cov.nrows(),
            cov.ncols()
        )));
    }
    if is_positive_definite(cov) {
        return Ok((cov.clone(), Repair::None));
    }
    let sym = (cov + cov.transpose()) * 0.5;
    let eig = SymmetricEigen::new(sym);
    let max_eig = eig.eigenvalues.max();
    if !(max_eig > 0.0) {
        return Err(MathError::NotPositiveSemidefinite(format!(
            "largest eigenvalue is {max_eig}"
        )));
    }
    let floor = eigen_floor(max_eig);
    let min_eigenvalue = eig.eigenvalues.min();
    let clipped = eig.eigenvalues.iter().filter(|&&l| l < floor).count();
    let values = eig.eigenvalues.map(|l| l.max(floor));
    let v = &eig.eigenvectors;
    let mut out = v * DMatrix::from_diagonal(&values) * v.transpose();
    let n = out.nrows();
    for j in 0..n {
        for i in (j + 1)..n {
            let avg = 0.5 * (out[(i, j)] + out[(j, i)]);
            out[(i, j)] = avg;
            out[(j, i)] = avg;
        }
    }
    Ok((
        out,
        Repair::EigenClipped {
            min_eigenvalue,
            clipped,
        },
    ))
}

/// Adds the smallest multiple of the identity that lifts every eigenvalue to the floor
/// ([`EIGEN_FLOOR_REL`] × the largest): cheaper to explain than clipping and it keeps the
/// eigenvectors, at the price of inflating every variance by the same amount.
///
/// # Errors
/// As [`repair_covariance`].
pub fn diagonal_loading(cov: &DMatrix<f64>) -> Result<(DMatrix<f64>, Repair), MathError> {
    super::check_finite_matrix("covariance", cov)?;
    let sym = (cov + cov.transpose()) * 0.5;
    let eig = SymmetricEigen::new(sym.clone());
    let max_eig = eig.eigenvalues.max();
    if !(max_eig > 0.0) {
        return Err(MathError::NotPositiveSemidefinite(format!(
            "largest eigenvalue is {max_eig}"
        )));
    }
    let shift = (eigen_floor(max_eig) - eig.eigenvalues.min()).max(0.0);
    if shift == 0.0 {
        return Ok((sym, Repair::None));
    }
    let n = sym.nrows();
    Ok((
        sym + DMatrix::identity(n, n) * shift,
        Repair::DiagonalLoading { shift },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_parsing() {
        struct TestCase {
            text: &'static str,
            expected: Result<(usize, usize), &'static str>,
        }
        let cases = [
            // TC0: plain header and rows.
            TestCase {
                text: "a,b\n0.01,0.02\n-0.01,0.00\n0.0,0.01\n",
                expected: Ok((3, 2)),
            },
            // TC1: a date column is skipped.
            TestCase {
                text: "date,a,b\n2024-01-01,0.01,0.02\n2024-01-02,-0.01,0.00\n",
                expected: Ok((2, 2)),
            },
            // TC2: ragged row named by line.
            TestCase {
                text: "a,b\n0.01,0.02\n0.03\n",
                expected: Err("row 3: 1 fields"),
            },
            // TC3: NaN named by line and column.
            TestCase {
                text: "a,b\n0.01,0.02\n0.03,NaN\n",
                expected: Err("row 3, column b: `NaN` is not finite"),
            },
            // TC4: a non-number.
            TestCase {
                text: "a,b\n0.01,x\n0.03,0.1\n",
                expected: Err("row 2, column b: `x` is not a number"),
            },
            // TC5: empty.
            TestCase {
                text: "",
                expected: Err("empty"),
            },
            // TC6: header only.
            TestCase {
                text: "a,b\n",
                expected: Err("no rows"),
            },
            // TC7: infinity.
            TestCase {
                text: "a\n0.1\ninf\n",
                expected: Err("`inf` is not finite"),
            },
            // TC8: a byte-order mark is stripped from the first name.
            TestCase {
                text: "\u{feff}a,b\n0.01,0.02\n-0.01,0.00\n",
                expected: Ok((2, 2)),
            },
            // TC9: −500% is refused.
            TestCase {
                text: "a,b\n0.01,0.02\n-5,0.00\n",
                expected: Err("row 3, column a: a return of -5 is −100% or worse"),
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            match (ReturnsTable::from_csv(case.text), &case.expected) {
                (Ok(t), Ok((rows, assets))) => {
                    assert_eq!((t.rows(), t.assets()), (*rows, *assets), "TC{i}");
                }
                (Err(e), Err(needle)) => {
                    assert!(e.to_string().contains(needle), "TC{i}: {e}");
                }
                (got, want) => panic!("TC{i}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_a_name() {
        let t = ReturnsTable::from_csv("\u{feff}a,b\n0.01,0.02\n-0.01,0.00\n").expect("parses");
        assert_eq!(t.names(), ["a", "b"]);
    }

    #[test]
    fn in_memory_returns_of_minus_100_percent_are_refused() {
        let error =
            ReturnsTable::from_columns([("casino", &[0.1, -1.0][..])]).expect_err("refused");
        assert!(
            error
                .to_string()
                .contains("`casino`: a return of -1 is −100% or worse"),
            "{error}"
        );
    }

    #[test]
    fn constant_returns_have_no_model() {
        let t = ReturnsTable::from_csv("a,b\n0.001,0.002\n0.001,0.002\n0.001,0.002\n0.001,0.002\n")
            .expect("parses");
        for method in [CovarianceMethod::Sample, CovarianceMethod::LedoitWolf] {
            assert!(matches!(t.model(method), Err(MathError::ConstantReturns)));
        }
        // One varying asset is enough to estimate from.
        let t = ReturnsTable::from_csv("a,b\n0.001,0.002\n0.001,0.004\n0.001,0.001\n0.001,0.003\n")
            .expect("parses");
        assert!(t.model(CovarianceMethod::Sample).is_ok());
    }

    #[test]
    fn fewer_rows_than_assets_is_named() {
        let t = ReturnsTable::from_csv("a,b,c\n0.1,0.2,0.3\n0.2,0.1,0.0\n").expect("parses");
        assert!(matches!(
            t.sample_covariance(),
            Err(MathError::FewerRowsThanAssets {
                rows: 2,
                assets: 3,
                needed: 4
            })
        ));
        // Ledoit–Wolf still gives a usable estimate.
        let lw = t.ledoit_wolf();
        assert!(lw.cov.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn repair_makes_positive_definite() {
        // Rank-one matrix: identical assets.
        let cov = DMatrix::from_row_slice(2, 2, &[1.0, 1.0, 1.0, 1.0]);
        let (fixed, repair) = repair_covariance(&cov).expect("repairable");
        assert!(matches!(repair, Repair::EigenClipped { clipped: 1, .. }));
        assert!(is_positive_definite(&fixed) || fixed[(0, 0)] > 0.0);
        let (loaded, repair) = diagonal_loading(&cov).expect("repairable");
        assert!(matches!(repair, Repair::DiagonalLoading { .. }));
        assert!(loaded[(0, 0)] > 1.0);
    }
}
