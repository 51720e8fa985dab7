//! Small dense kernels the solvers call in their inner loops: an in-place Cholesky
//! factorization of a row-major buffer and its triangular solves.
//!
//! nalgebra's factorizations allocate a fresh matrix per call; the active-set and Newton
//! solvers factor a new (sub)matrix at every iteration, and at n = 6 an allocation costs as much
//! as the arithmetic, so these work in caller-owned buffers.
//!
//! # Invariants
//! - Buffers are row-major `k×k`; only the lower triangle is read after factorization.
//! - A factorization reports failure (never panics, never yields NaN) when a pivot is not
//!   positive relative to its diagonal entry.

/// Pivots below this fraction of their original diagonal entry count as singular: beyond it the
/// solve would amplify rounding by more than ~1e13, useless for 1e-9 accuracy.
const PIVOT_REL_MIN: f64 = 1e-13;

/// Factors the symmetric positive definite row-major `k×k` matrix in `a` into `L Lᵀ` in place
/// (lower triangle). Returns false when the matrix is not (numerically) positive definite.
pub(crate) fn cholesky_in_place(a: &mut [f64], k: usize) -> bool {
    for i in 0..k {
        let (done, rest) = a.split_at_mut(i * k);
        let row_i = &mut rest[..k];
        for j in 0..i {
            let row_j = &done[j * k..j * k + j + 1];
            let s: f64 = row_i[j] - dot_prefix(&row_i[..j], &row_j[..j]);
            row_i[j] = s / row_j[j];
        }
        let diag = row_i[i];
        let s = diag - dot_prefix(&row_i[..i], &row_i[..i]);
        let positive = s.is_finite() && s > 0.0 && s > PIVOT_REL_MIN * diag.abs();
        if !positive {
            return false;
        }
        row_i[i] = s.sqrt();
    }
    true
}

/// Solves `L Lᵀ x = b` in place (`x` holds `b` on entry), with `l` from [`cholesky_in_place`].
pub(crate) fn cholesky_solve(l: &[f64], k: usize, x: &mut [f64]) {
    // Forward: L y = b, row i of L is contiguous.
    for i in 0..k {
        let row = &l[i * k..i * k + i];
        x[i] = (x[i] - dot_prefix(row, &x[..i])) / l[i * k + i];
    }
    // Backward: Lᵀ x = y, column-oriented so that row i of L stays contiguous.
    for i in (0..k).rev() {
        let xi = x[i] / l[i * k + i];
        x[i] = xi;
        let row = &l[i * k..i * k + i];
        for (xp, lp) in x[..i].iter_mut().zip(row) {
            *xp -= lp * xi;
        }
    }
}

/// Dot product written with four accumulators so that the compiler vectorizes it.
#[inline]
pub(crate) fn dot_prefix(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; 4];
    let chunks = n / 4;
    for c in 0..chunks {
        let i = 4 * c;
        acc[0] += a[i] * b[i];
        acc[1] += a[i + 1] * b[i + 1];
        acc[2] += a[i + 2] * b[i + 2];
        acc[3] += a[i + 3] * b[i + 3];
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for i in 4 * chunks..n {
        s += a[i] * b[i];
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_spd_systems() {
        struct TestCase {
            a: Vec<f64>,
            b: Vec<f64>,
            expected: Option<Vec<f64>>,
        }
        let cases = [
            // TC0: 1x1.
            TestCase {
                a: vec![4.0],
                b: vec![2.0],
                expected: Some(vec![0.5]),
            },
            // TC1: 2x2 SPD.
            TestCase {
                a: vec![4.0, 2.0, 2.0, 3.0],
                b: vec![2.0, 1.0],
                expected: Some(vec![0.5, 0.0]),
            },
            // TC2: singular (identical rows) is refused.
            TestCase {
                a: vec![1.0, 1.0, 1.0, 1.0],
                b: vec![1.0, 1.0],
                expected: None,
            },
            // TC3: indefinite is refused.
            TestCase {
                a: vec![1.0, 2.0, 2.0, 1.0],
                b: vec![1.0, 1.0],
                expected: None,
            },
        ];
        for (i, case) in cases.into_iter().enumerate() {
            let k = case.b.len();
            let mut l = case.a.clone();
            let ok = cholesky_in_place(&mut l, k);
            match case.expected {
                None => assert!(!ok, "TC{i}"),
                Some(expected) => {
                    assert!(ok, "TC{i}");
                    let mut x = case.b.clone();
                    cholesky_solve(&l, k, &mut x);
                    for (got, want) in x.iter().zip(&expected) {
                        assert!((got - want).abs() < 1e-14, "TC{i}: {got} vs {want}");
                    }
                }
            }
        }
    }
}
