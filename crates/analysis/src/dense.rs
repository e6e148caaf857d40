//! Dense symmetric linear algebra for the polish: the Cholesky factorisation and solve, and the
//! square of a symmetric matrix, both blocked so that most of their work is matrix products.
//!
//! nalgebra's `Cholesky` is left-looking, one column at a time: column j is brought up to date
//! by j axpys over the columns before it, so the factor is read from memory n times over and
//! runs at the speed of the memory, slower than a whole matrix product of that size, which does
//! six times the arithmetic. Here a panel of `BLOCK` columns
//! is factored and then the whole trailing matrix is updated by one matrix product, as LAPACK's
//! dpotrf does. The arithmetic is the textbook method's, with the same backward error and the
//! same test for positive definiteness (every pivot positive), except that an infinite pivot is
//! refused too (nalgebra takes its square root and goes on).

use nalgebra::{DMatrix, DVector};

/// Columns per panel.
const BLOCK: usize = 48;

/// Columns per matrix product of a trailing update (its lower triangle, one strip at a time).
const STRIP: usize = 96;

/// The Cholesky factor L (A = L·Lᵀ) of a symmetric positive definite matrix.
#[derive(Debug, Clone)]
pub struct Cholesky {
    /// L in the lower triangle, column-major; the strict upper triangle holds leftovers of the
    /// trailing updates and is never read.
    l: DMatrix<f64>,
}

impl Cholesky {
    /// Factors the symmetric matrix `a`, reading only its lower triangle. `None` where a pivot
    /// is not positive and finite: the matrix is not (numerically) positive definite.
    pub fn new(mut a: DMatrix<f64>) -> Option<Self> {
        let n = a.nrows();
        assert_eq!(a.ncols(), n, "a square matrix");
        let mut panel = DMatrix::<f64>::zeros(0, 0);
        let mut k0 = 0;
        while k0 < n {
            let nb = BLOCK.min(n - k0);
            // The panel, columns k0..k0 + nb from the diagonal down, left-looking within it (the
            // columns before k0 have already been subtracted by the trailing updates).
            let data = a.as_mut_slice();
            for j in k0..k0 + nb {
                for t in k0..j {
                    let f = data[t * n + j];
                    let (before, after) = data.split_at_mut(j * n);
                    let source = &before[t * n + j..t * n + n];
                    for (x, s) in after[j..n].iter_mut().zip(source) {
                        *x -= f * s;
                    }
                }
                let pivot = data[j * n + j];
                if !(pivot > 0.0 && pivot.is_finite()) {
                    return None;
                }
                let root = pivot.sqrt();
                data[j * n + j] = root;
                let inverse = 1.0 / root;
                data[j * n + j + 1..(j + 1) * n]
                    .iter_mut()
                    .for_each(|x| *x *= inverse);
            }
            let s0 = k0 + nb;
            if s0 < n {
                // The trailing lower triangle less P·Pᵀ, P the panel's rows below it.
                panel.resize_mut(n - s0, nb, 0.0);
                panel.copy_from(&a.view((s0, k0), (n - s0, nb)));
                let mut s = s0;
                while s < n {
                    let width = STRIP.min(n - s);
                    let below = panel.rows(s - s0, n - s);
                    let top = panel.rows(s - s0, width).transpose();
                    a.view_mut((s, s), (n - s, width))
                        .gemm(-1.0, &below, &top, 1.0);
                    s += width;
                }
            }
            k0 = s0;
        }
        Some(Self { l: a })
    }

    /// x with A·x = b: L·y = b forward, then Lᵀ·x = y backward.
    pub fn solve(&self, b: &DVector<f64>) -> DVector<f64> {
        let n = self.l.nrows();
        assert_eq!(b.len(), n, "a right-hand side of the matrix's size");
        let l = self.l.as_slice();
        let mut x = b.clone();
        let x = x.as_mut_slice();
        for j in 0..n {
            let column = &l[j * n..(j + 1) * n];
            let xj = x[j] / column[j];
            x[j] = xj;
            for (xi, c) in x[j + 1..].iter_mut().zip(&column[j + 1..]) {
                *xi -= xj * c;
            }
        }
        for j in (0..n).rev() {
            let column = &l[j * n..(j + 1) * n];
            let below: f64 = column[j + 1..]
                .iter()
                .zip(&x[j + 1..])
                .map(|(c, v)| c * v)
                .sum();
            x[j] = (x[j] - below) / column[j];
        }
        DVector::from_column_slice(x)
    }
}

/// The lower triangle (diagonal included) of H·H for the symmetric matrix `h`, as matrix
/// products a strip of columns at a time: half the work of the full product. The strict upper
/// triangle of the result is zero.
pub fn symmetric_square_lower(h: &DMatrix<f64>) -> DMatrix<f64> {
    let n = h.nrows();
    assert_eq!(h.ncols(), n, "a square matrix");
    let mut out = DMatrix::<f64>::zeros(n, n);
    let mut s = 0;
    while s < n {
        let width = STRIP.min(n - s);
        // Columns s..s + width of H·H = H·Hᵀ, rows s and below.
        let rows = h.rows(s, n - s);
        let top = h.rows(s, width).transpose();
        out.view_mut((s, s), (n - s, width))
            .gemm(1.0, &rows, &top, 0.0);
        // The strip's square top also got entries above the diagonal.
        for j in 1..width {
            for i in 0..j {
                out[(s + i, s + j)] = 0.0;
            }
        }
        s += width;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use landscape_core::rng::{Stream, normal};

    /// Bᵀ·B + shift·I for a random n × n B with N(0, 1) entries.
    fn spd(n: usize, shift: f64, seed: u64) -> DMatrix<f64> {
        let b = DMatrix::from_fn(n, n, |i, j| {
            normal(seed, Stream::Direction, (i * n + j) as u64)
        });
        b.transpose() * &b + DMatrix::identity(n, n) * shift
    }

    fn rhs(n: usize, seed: u64) -> DVector<f64> {
        DVector::from_fn(n, |i, _| normal(seed, Stream::Origin, i as u64))
    }

    #[test]
    fn factors_and_solves_like_nalgebra_across_block_boundaries() {
        for (seed, n) in [1usize, 2, 3, 47, 48, 49, 95, 96, 97, 150, 301]
            .into_iter()
            .enumerate()
        {
            let a = spd(n, 1.0, seed as u64);
            // Only the lower triangle may be read: poison the strict upper triangle.
            let mut poisoned = a.clone();
            for j in 0..n {
                for i in 0..j {
                    poisoned[(i, j)] = f64::NAN;
                }
            }
            let ours = Cholesky::new(poisoned).expect("positive definite");
            let theirs = a.clone().cholesky().expect("positive definite").l();
            let scale = theirs.amax();
            for j in 0..n {
                for i in j..n {
                    let (x, y) = (ours.l[(i, j)], theirs[(i, j)]);
                    assert!(
                        (x - y).abs() <= 1e-12 * scale,
                        "n = {n}: L[{i},{j}] = {x:e} against {y:e}"
                    );
                }
            }
            let b = rhs(n, seed as u64);
            let x = ours.solve(&b);
            let residual = (&a * &x - &b).amax();
            assert!(
                residual <= 1e-9 * b.amax().max(1.0),
                "n = {n}: residual {residual:e}"
            );
        }
    }

    #[test]
    fn refuses_what_is_not_positive_definite() {
        let n = 130;
        // Positive semidefinite of rank 3, indefinite, negative definite, and with a NaN or an
        // infinity on the diagonal: no factor, in whichever panel the bad pivot falls.
        let low = DMatrix::from_fn(n, 3, |i, j| {
            normal(7, Stream::Direction, (i * 3 + j) as u64)
        });
        let mut cases = vec![&low * low.transpose(), -spd(n, 1.0, 3)];
        let mut indefinite = spd(n, 1.0, 4);
        indefinite[(100, 100)] = -1e6;
        cases.push(indefinite);
        for (k, bad) in [(0, f64::NAN), (60, f64::INFINITY), (129, f64::NAN)] {
            let mut m = spd(n, 1.0, 5);
            m[(k, k)] = bad;
            cases.push(m);
        }
        for (k, m) in cases.into_iter().enumerate() {
            assert!(Cholesky::new(m).is_none(), "case {k}");
        }
        assert!(Cholesky::new(DMatrix::zeros(0, 0)).is_some());
    }

    #[test]
    fn the_lower_square_is_that_of_the_full_product() {
        for (seed, n) in [1usize, 2, 95, 96, 97, 200].into_iter().enumerate() {
            let b = DMatrix::from_fn(n, n, |i, j| {
                normal(seed as u64, Stream::Direction, (i * n + j) as u64)
            });
            let h = &b + b.transpose();
            let full = &h * &h;
            let lower = symmetric_square_lower(&h);
            let tolerance = 1e-12 * full.amax();
            for j in 0..n {
                for i in 0..n {
                    let want = if i >= j { full[(i, j)] } else { 0.0 };
                    assert!(
                        (lower[(i, j)] - want).abs() <= tolerance,
                        "n = {n}: ({i}, {j})"
                    );
                }
            }
        }
    }
}
