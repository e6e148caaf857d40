//! Eigenvalues of dense symmetric matrices, for the analysis's Hessians: Householder reduction
//! to tridiagonal form, then the implicit QL iteration on the tridiagonal, eigenvalues only.
//!
//! The reduction is where the time goes (4/3·n³ flops against O(n²) for the iteration), and for
//! the Hessians of large networks (n in the thousands, a matrix of tens to hundreds of MB) its
//! speed is that of the memory. nalgebra's `SymmetricTridiagonal` passes over the trailing matrix
//! four times a column, three of them writing it; the blocked reduction here reads it once a
//! column and does the rest as matrix products a panel at a time (LAPACK's dsytrd scheme). The
//! arithmetic is the textbook method's, and so is the backward error: of order ε‖A‖ in every
//! eigenvalue.

use nalgebra::{DMatrix, DMatrixViewMut};

/// QL iterations allowed per eigenvalue before the iteration is declared stuck (it typically
/// needs two or three).
const MAX_ITERATIONS: usize = 64;

/// The eigenvalues of the symmetric n × n matrix `a` (row-major or column-major, the same thing
/// for a symmetric matrix; only the lower triangle of the column-major view is read), ascending.
/// A matrix with a non-finite entry has no eigenvalues: `None`.
pub fn symmetric_eigenvalues(a: &[f64], n: usize) -> Option<Vec<f64>> {
    assert_eq!(a.len(), n * n, "a {n} × {n} matrix");
    if a.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let amax = a.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if n == 0 || amax == 0.0 {
        return Some(vec![0.0; n]);
    }
    // Entries scaled to at most 1, so that no square or norm below overflows.
    let mut m: Vec<f64> = a.iter().map(|v| v / amax).collect();
    let (mut d, mut e) = tridiagonalise(&mut m, n);
    drop(m);
    if !tridiagonal_eigenvalues(&mut d, &mut e) {
        // Not seen in practice; nalgebra's iteration (shifted QR, other deflation) instead.
        let full = DMatrix::from_column_slice(n, n, a);
        d = full.symmetric_eigenvalues().iter().copied().collect();
    } else {
        d.iter_mut().for_each(|v| *v *= amax);
    }
    d.sort_by(f64::total_cmp);
    Some(d)
}

/// Columns per panel of the blocked reduction.
const PANEL: usize = 32;

/// Below this many trailing columns the reduction goes on unblocked: the panel's bookkeeping
/// costs more than the matrix products save.
const UNBLOCKED_BELOW: usize = 128;

/// Columns per matrix product of the trailing update (its lower triangle, one strip at a time).
const STRIP: usize = 64;

/// A Householder reflector H = I − τ·v·vᵀ (v₀ = 1, LAPACK's dlarfg convention) that takes the
/// column `x` to β·e₁: writes v into `v` and returns (τ, β). A column with nothing below its first
/// entry needs none: τ = 0 and β = x₀.
fn reflector(x: &[f64], v: &mut [f64]) -> (f64, f64) {
    let alpha = x[0];
    let sigma: f64 = x[1..].iter().map(|t| t * t).sum();
    if sigma == 0.0 {
        v.iter_mut().for_each(|t| *t = 0.0);
        return (0.0, alpha);
    }
    let norm = (alpha * alpha + sigma).sqrt();
    let beta = if alpha >= 0.0 { -norm } else { norm };
    let inverse = 1.0 / (alpha - beta);
    v[0] = 1.0;
    for (vi, t) in v[1..].iter_mut().zip(&x[1..]) {
        *vi = t * inverse;
    }
    ((beta - alpha) / beta, beta)
}

/// Turns p = τ·B·v into w = p − (τ/2)(pᵀv)·v, so that H·B·H = B − v·wᵀ − w·vᵀ.
fn symmetric_update_vector(tau: f64, v: &[f64], w: &mut [f64]) {
    let half = 0.5 * tau * dot(w, v);
    for (wi, vi) in w.iter_mut().zip(v) {
        *wi -= half * vi;
    }
}

/// Reduces the symmetric matrix in `a` (column-major, lower triangle used and overwritten) to
/// tridiagonal form by Householder reflections: returns the diagonal and the subdiagonal (n − 1
/// values, padded with a zero to n for the QL iteration).
///
/// Blocked as LAPACK's dsytrd is: within a panel of `PANEL` columns the trailing matrix is left
/// as it was and each product with a reflector is corrected by the panel's earlier reflectors
/// (V and W below); after the panel one rank-2·`PANEL` update, as matrix products, brings the
/// trailing matrix up to date. Half the work becomes matrix products, and the trailing matrix is
/// read once per column instead of read, then read and written.
fn tridiagonalise(a: &mut [f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut d = vec![0.0; n];
    let mut e = vec![0.0; n];
    let mut k0 = 0;
    if n > UNBLOCKED_BELOW {
        // The panel's reflectors (rows below their column) and their w = p − (τ/2)(pᵀv)·v.
        let mut v = DMatrix::<f64>::zeros(n, PANEL);
        let mut w = DMatrix::<f64>::zeros(n, PANEL);
        let mut y = vec![0.0; n];
        let mut c = [0.0; 2 * PANEL];
        while n - k0 > UNBLOCKED_BELOW {
            v.fill(0.0);
            w.fill(0.0);
            for j in 0..PANEL {
                let k = k0 + j;
                // Column k, diagonal and below, brought up to date with the panel so far.
                for t in 0..j {
                    let (wk, vk) = (w[(k, t)], v[(k, t)]);
                    let (vt, wt) = (&column(&v, t)[k..], &column(&w, t)[k..]);
                    for ((x, vi), wi) in a[k * n + k..(k + 1) * n].iter_mut().zip(vt).zip(wt) {
                        *x -= vi * wk + wi * vk;
                    }
                }
                d[k] = a[k * n + k];
                let m = n - k - 1;
                let (tau, beta) = reflector(
                    &a[k * n + k + 1..(k + 1) * n],
                    &mut column_mut(&mut v, j)[k + 1..],
                );
                e[k] = beta;
                if tau == 0.0 {
                    continue;
                }
                // y = B·v with B the trailing matrix as it stands, then the corrections for the
                // panel's earlier reflectors: B's current value is B − V·Wᵀ − W·Vᵀ.
                let y = &mut y[..m];
                let vj = &column(&v, j)[k + 1..];
                symmetric_product(&a[(k + 1) * n + k + 1..], n, m, vj, y);
                for t in 0..j {
                    c[t] = dot(&column(&w, t)[k + 1..], vj);
                    c[PANEL + t] = dot(&column(&v, t)[k + 1..], vj);
                }
                for t in 0..j {
                    let (vt, wt) = (&column(&v, t)[k + 1..], &column(&w, t)[k + 1..]);
                    let (cw, cv) = (c[t], c[PANEL + t]);
                    for ((yi, vi), wi) in y.iter_mut().zip(vt).zip(wt) {
                        *yi -= vi * cw + wi * cv;
                    }
                }
                y.iter_mut().for_each(|t| *t *= tau);
                symmetric_update_vector(tau, &column(&v, j)[k + 1..], y);
                column_mut(&mut w, j)[k + 1..].copy_from_slice(y);
            }
            k0 += PANEL;
            // The trailing matrix's lower triangle less V·Wᵀ + W·Vᵀ, a strip of columns at a time.
            let mut full = DMatrixViewMut::from_slice(a, n, n);
            let mut s = k0;
            while s < n {
                let width = STRIP.min(n - s);
                let rows = n - s;
                let mut strip = full.view_mut((s, s), (rows, width));
                let wt = w.view((s, 0), (width, PANEL)).transpose();
                let vt = v.view((s, 0), (width, PANEL)).transpose();
                strip.gemm(-1.0, &v.view((s, 0), (rows, PANEL)), &wt, 1.0);
                strip.gemm(-1.0, &w.view((s, 0), (rows, PANEL)), &vt, 1.0);
                s += width;
            }
        }
    }
    unblocked(a, n, k0, &mut d, &mut e);
    (d, e)
}

/// Column t of a column-major matrix.
fn column(m: &DMatrix<f64>, t: usize) -> &[f64] {
    let rows = m.nrows();
    &m.as_slice()[t * rows..(t + 1) * rows]
}

/// Column t of a column-major matrix, to write.
fn column_mut(m: &mut DMatrix<f64>, t: usize) -> &mut [f64] {
    let rows = m.nrows();
    &mut m.as_mut_slice()[t * rows..(t + 1) * rows]
}

/// The reduction from column `start` on, one reflector at a time: each column reads the
/// trailing lower triangle once (the product with the reflector) and then reads and writes it
/// once (the rank-two update).
fn unblocked(a: &mut [f64], n: usize, start: usize, d: &mut [f64], e: &mut [f64]) {
    let mut v = vec![0.0; n];
    let mut w = vec![0.0; n];
    for k in start..n.saturating_sub(2) {
        let m = n - k - 1;
        d[k] = a[k * n + k];
        let v = &mut v[..m];
        let (tau, beta) = reflector(&a[k * n + k + 1..(k + 1) * n], v);
        e[k] = beta;
        if tau == 0.0 {
            continue;
        }
        let base = (k + 1) * n + k + 1;
        let w = &mut w[..m];
        symmetric_product(&a[base..], n, m, v, w);
        w.iter_mut().for_each(|x| *x *= tau);
        symmetric_update_vector(tau, v, w);
        for j in 0..m {
            let column = &mut a[base + j * n + j..base + j * n + m];
            let (vj, wj) = (v[j], w[j]);
            for ((x, vi), wi) in column.iter_mut().zip(&v[j..]).zip(&w[j..]) {
                *x -= vi * wj + wi * vj;
            }
        }
    }
    match n {
        0 => {}
        1 => d[0] = a[0],
        _ => {
            d[n - 2] = a[(n - 2) * n + n - 2];
            d[n - 1] = a[(n - 1) * n + n - 1];
            e[n - 2] = a[(n - 2) * n + n - 1];
        }
    }
}

/// y = B·x for the symmetric m × m block B whose lower triangle is stored column-major from the
/// start of `b` with leading dimension `ld`. One pass over the triangle: each column adds to y
/// below the diagonal and gathers its own entry of y as a dot product.
fn symmetric_product(b: &[f64], ld: usize, m: usize, x: &[f64], y: &mut [f64]) {
    y.iter_mut().for_each(|v| *v = 0.0);
    for j in 0..m {
        let column = &b[j * ld + j..j * ld + m];
        let xj = x[j];
        let (yj, below) = y[j..].split_first_mut().expect("j < m");
        *yj += column[0] * xj;
        let mut gathered = 0.0;
        // Four partial sums, so that the gather vectorises like the scatter beside it.
        let mut parts = [0.0f64; 4];
        let (cs, xs) = (&column[1..], &x[j + 1..m]);
        let whole = cs.len() / 4 * 4;
        for ((c4, x4), y4) in cs[..whole]
            .chunks_exact(4)
            .zip(xs[..whole].chunks_exact(4))
            .zip(below[..whole].chunks_exact_mut(4))
        {
            for t in 0..4 {
                y4[t] += c4[t] * xj;
                parts[t] += c4[t] * x4[t];
            }
        }
        for ((c, xi), yi) in cs[whole..]
            .iter()
            .zip(&xs[whole..])
            .zip(&mut below[whole..])
        {
            *yi += c * xj;
            gathered += c * xi;
        }
        *yj += (parts[0] + parts[1]) + (parts[2] + parts[3]) + gathered;
    }
}

/// Σ aᵢbᵢ.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The eigenvalues of the symmetric tridiagonal matrix with diagonal `d` and subdiagonal `e`
/// (`e[i]` couples i and i + 1; the last entry is unused), by the implicit QL iteration with a
/// shift from the leading 2 × 2 block of each unreduced part. Leaves them in `d`, unordered;
/// false if some eigenvalue took more than `MAX_ITERATIONS` iterations.
fn tridiagonal_eigenvalues(d: &mut [f64], e: &mut [f64]) -> bool {
    let n = d.len();
    if n == 0 {
        return true;
    }
    e[n - 1] = 0.0;
    // A coupling is negligible beside its neighbours, or beside the whole matrix: the reduction
    // to tridiagonal form has already perturbed every eigenvalue by about ε‖A‖, so dropping a
    // coupling below ε‖T‖ loses nothing. Without the second test, the many eigenvalues of order
    // ε‖T‖ of a Hessian of low rank (an over-parameterised network at a minimum) never deflate:
    // the rotations' rounding keeps their couplings at that level.
    let norm = d.iter().fold(0.0f64, |m, v| m.max(v.abs()))
        + 2.0 * e.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let negligible = f64::EPSILON * norm;
    for l in 0..n {
        let mut iterations = 0;
        loop {
            // The first negligible coupling at or after l ends the unreduced block l..=m.
            let mut m = l;
            while m + 1 < n {
                let scale = d[m].abs() + d[m + 1].abs();
                if e[m].abs() <= f64::EPSILON * scale
                    || e[m].abs() <= negligible
                    || e[m].abs() < f64::MIN_POSITIVE
                {
                    break;
                }
                m += 1;
            }
            if m == l {
                break;
            }
            iterations += 1;
            if iterations > MAX_ITERATIONS {
                return false;
            }
            // Shift: the eigenvalue of the leading 2 × 2 block nearer to d[l].
            let q = (d[l + 1] - d[l]) / (2.0 * e[l]);
            let r = q.hypot(1.0);
            let mut g = d[m] - d[l] + e[l] / (q + r.copysign(q));
            // Chase the bulge from the bottom of the block to its top by plane rotations.
            let (mut s, mut c, mut p) = (1.0f64, 1.0f64, 0.0f64);
            let mut split = false;
            for i in (l..m).rev() {
                let f = s * e[i];
                let b = c * e[i];
                let r = f.hypot(g);
                e[i + 1] = r;
                if r == 0.0 {
                    // The block splits at i + 1: undo the last update and start again.
                    d[i + 1] -= p;
                    e[m] = 0.0;
                    split = true;
                    break;
                }
                s = f / r;
                c = g / r;
                g = d[i + 1] - p;
                let t = (d[i] - g) * s + 2.0 * c * b;
                p = s * t;
                d[i + 1] = g + p;
                g = c * t - b;
            }
            if split {
                continue;
            }
            d[l] -= p;
            e[l] = g;
            e[m] = 0.0;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use landscape_core::rng::{Stream, normal};

    /// A random symmetric n × n matrix with N(0, 1) entries.
    fn random(n: usize, seed: u64) -> Vec<f64> {
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..=i {
                let v = normal(seed, Stream::Direction, (i * n + j) as u64);
                a[i * n + j] = v;
                a[j * n + i] = v;
            }
        }
        a
    }

    /// Q·diag(λ)·Qᵀ for a random orthogonal Q (a product of n random reflectors).
    fn with_spectrum(lambda: &[f64], seed: u64) -> Vec<f64> {
        let n = lambda.len();
        let mut q = DMatrix::<f64>::identity(n, n);
        for r in 0..n {
            let u = nalgebra::DVector::from_fn(n, |i, _| {
                normal(seed, Stream::Origin, (r * n + i) as u64)
            });
            let u = &u / u.norm();
            q = &q - (&q * &u) * (2.0 * u.transpose());
        }
        let a = &q
            * DMatrix::from_diagonal(&nalgebra::DVector::from_column_slice(lambda))
            * q.transpose();
        let a = (&a + a.transpose()) * 0.5;
        a.as_slice().to_vec()
    }

    fn nalgebra_eigenvalues(a: &[f64], n: usize) -> Vec<f64> {
        let mut v: Vec<f64> = DMatrix::from_column_slice(n, n, a)
            .symmetric_eigenvalues()
            .iter()
            .copied()
            .collect();
        v.sort_by(f64::total_cmp);
        v
    }

    /// The eigenvalues by this module's own iteration, failing the test where it would have
    /// fallen back on nalgebra's.
    fn own(a: &[f64], n: usize) -> Vec<f64> {
        let amax = a.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let mut m: Vec<f64> = a.iter().map(|v| v / amax).collect();
        let (mut d, mut e) = tridiagonalise(&mut m, n);
        assert!(
            tridiagonal_eigenvalues(&mut d, &mut e),
            "n = {n}: no convergence"
        );
        let mut d: Vec<f64> = d.iter().map(|v| v * amax).collect();
        d.sort_by(f64::total_cmp);
        d
    }

    fn assert_close(got: &[f64], want: &[f64], norm: f64, what: &str) {
        assert_eq!(got.len(), want.len(), "{what}");
        let tolerance = 1e-13 * (got.len().max(1) as f64) * norm.max(f64::MIN_POSITIVE);
        for (k, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (g - w).abs() <= tolerance,
                "{what}: eigenvalue {k}: {g:e} against {w:e} (tolerance {tolerance:e})"
            );
        }
    }

    #[test]
    fn random_matrices_have_nalgebra_s_eigenvalues() {
        for (seed, n) in [1usize, 2, 3, 4, 5, 7, 8, 13, 32, 61, 150]
            .into_iter()
            .enumerate()
        {
            let a = random(n, seed as u64);
            let norm = a.iter().fold(0.0f64, |m, v| m.max(v.abs())) * n as f64;
            let got = symmetric_eigenvalues(&a, n).expect("finite");
            assert_eq!(got, own(&a, n), "n = {n}: no fallback");
            assert_close(
                &got,
                &nalgebra_eigenvalues(&a, n),
                norm,
                &format!("n = {n}"),
            );
            // The trace is the sum of the eigenvalues.
            let trace: f64 = (0..n).map(|i| a[i * n + i]).sum();
            let sum: f64 = got.iter().sum();
            assert!(
                (trace - sum).abs() <= 1e-12 * norm,
                "n = {n}: {trace} vs {sum}"
            );
        }
    }

    #[test]
    fn prescribed_spectra_come_back_with_their_zeros_and_repeats() {
        // And a Hessian-like one through the blocked path: a third zeros (a manifold of minima),
        // a cluster at 1, a few negative curvatures, a spread over six decades.
        let large: Vec<f64> = (0..200)
            .map(|i| match i {
                0..70 => 0.0,
                70..100 => 1.0,
                100..104 => -0.5 * (i - 99) as f64,
                _ => 10f64.powf((i - 150) as f64 / 16.0),
            })
            .collect();
        let spectra: [&[f64]; 5] = [
            &[-3.0, -1.0, 0.0, 0.0, 0.0, 2.0, 2.0, 2.0, 5.0],
            &[1e-9, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
            &[-1.0; 6],
            &[0.0, 0.0, 1e3, -1e3, 7.5, 1e-6, -1e-6, 4.0, 4.0, 0.0, 3.0],
            &large,
        ];
        for (seed, lambda) in spectra.iter().enumerate() {
            let n = lambda.len();
            let a = with_spectrum(lambda, seed as u64);
            let mut want = lambda.to_vec();
            want.sort_by(f64::total_cmp);
            let norm = lambda.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let got = symmetric_eigenvalues(&a, n).expect("finite");
            assert_eq!(got, own(&a, n), "n = {n}: no fallback");
            assert_close(&got, &want, norm, &format!("spectrum {lambda:?}"));
        }
    }

    #[test]
    fn low_rank_hessians_converge_without_the_fallback() {
        // JᵀJ with J of a few rows: an over-parameterised network's Gauss–Newton Hessian at a
        // minimum of zero loss, `rank` positive eigenvalues and the rest zero up to rounding.
        for (n, rank) in [(150, 4), (300, 4), (333, 40)] {
            let j = DMatrix::from_fn(rank, n, |r, c| {
                normal(5, Stream::Direction, (r * n + c) as u64)
            });
            let h = j.transpose() * &j;
            let a: Vec<f64> = ((&h + h.transpose()) * 0.5).as_slice().to_vec();
            let got = own(&a, n);
            let norm = got.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            assert_close(
                &got,
                &nalgebra_eigenvalues(&a, n),
                norm,
                &format!("rank {rank}"),
            );
            let zero = got.iter().filter(|v| v.abs() <= 1e-10 * norm).count();
            assert_eq!(zero, n - rank, "n = {n}, rank {rank}");
        }
    }

    #[test]
    fn special_forms_and_scales() {
        // Zero, diagonal, already tridiagonal, a reflector with nothing to do (zero columns).
        assert_eq!(symmetric_eigenvalues(&[0.0; 9], 3), Some(vec![0.0; 3]));
        assert_eq!(symmetric_eigenvalues(&[], 0), Some(vec![]));
        assert_eq!(symmetric_eigenvalues(&[-4.5], 1), Some(vec![-4.5]));
        let diagonal = [3.0, 0.0, 0.0, 0.0, -2.0, 0.0, 0.0, 0.0, 1.0];
        assert_eq!(
            symmetric_eigenvalues(&diagonal, 3),
            Some(vec![-2.0, 1.0, 3.0])
        );
        // The path graph's Laplacian-like tridiagonal 2, −1: eigenvalues 2 − 2cos(kπ/(n+1)).
        let n = 40;
        let mut t = vec![0.0; n * n];
        for i in 0..n {
            t[i * n + i] = 2.0;
            if i + 1 < n {
                t[i * n + i + 1] = -1.0;
                t[(i + 1) * n + i] = -1.0;
            }
        }
        let want: Vec<f64> = (1..=n)
            .map(|k| 2.0 - 2.0 * (k as f64 * std::f64::consts::PI / (n as f64 + 1.0)).cos())
            .collect();
        assert_close(
            &symmetric_eigenvalues(&t, n).expect("finite"),
            &want,
            4.0,
            "path",
        );
        // Block-diagonal: the first column's reflector has nothing below its first entry.
        let mut b = random(6, 9);
        for i in 0..6 {
            for j in 0..6 {
                if (i < 2) != (j < 2) {
                    b[i * 6 + j] = 0.0;
                }
            }
        }
        assert_close(
            &symmetric_eigenvalues(&b, 6).expect("finite"),
            &nalgebra_eigenvalues(&b, 6),
            20.0,
            "block-diagonal",
        );
        // Scales far from 1 in both directions.
        for scale in [1e200, 1e-200, 1e-310] {
            let a: Vec<f64> = random(9, 3).iter().map(|v| v * scale).collect();
            let want: Vec<f64> = nalgebra_eigenvalues(&random(9, 3), 9)
                .iter()
                .map(|v| v * scale)
                .collect();
            let got = symmetric_eigenvalues(&a, 9).expect("finite");
            let norm = 30.0 * scale;
            let tolerance = if scale < 1e-300 {
                1e-3 * norm
            } else {
                1e-12 * norm
            };
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    (g - w).abs() <= tolerance,
                    "scale {scale:e}: {g:e} vs {w:e}"
                );
            }
        }
        // Non-finite entries: no eigenvalues.
        assert_eq!(
            symmetric_eigenvalues(&[1.0, f64::NAN, f64::NAN, 1.0], 2),
            None
        );
        assert_eq!(symmetric_eigenvalues(&[f64::INFINITY], 1), None);
    }
}
