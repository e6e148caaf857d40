//! How the basins of a 2-D map meet: the box-counting dimension of their boundary, the
//! uncertainty exponent, and the basin entropy with the boundary basin entropy (Daza et al.,
//! Sci. Rep. 6, 31416, 2016). Every statistic is computed on the map's pixels, each pixel holding
//! an outcome (an integer: which basin its walker ended in); distances are in pixels.
//!
//! - **Boundary.** A pixel is on the boundary when its right or its lower neighbour has another
//!   outcome: one pixel for each place where the outcome changes between neighbours.
//! - **Box-counting dimension D.** N(s) is the number of boxes of s × s pixels, tiling the map
//!   from its first pixel (the last row and column of boxes may be partial), that hold a
//!   boundary pixel, for s = 2, 4, 8, … while the map's shorter side holds at least
//!   [`MIN_BOXES`] boxes (s = 1 is left out: there a line drawn in pixels is a staircase, one
//!   pixel a row whatever its slope). D is minus the least-squares slope of ln N(s) against
//!   ln s, with the slope's standard error.
//! - **Uncertainty exponent α.** A pixel is ε-uncertain when another pixel within ε of it in
//!   both directions (Chebyshev distance ≤ ε) has another outcome; f(ε) is the fraction of such
//!   pixels, for ε = 1, 2, 4, … while 2ε + 1 is at most a quarter of the shorter side, among the
//!   pixels at least the largest ε from every edge (the same pixels for every ε). α is the least-squares slope of ln f(ε)
//!   against ln ε (f ∝ ε^α), with its standard error; the boundary's dimension by this route is
//!   2 − α.
//! - **Basin entropy.** The map is tiled by boxes of b × b pixels (whole boxes only, from the
//!   first pixel). In box i, with p_ij the share of its pixels whose outcome is j, the entropy is
//!   S_i = −Σ_j p_ij ln p_ij. S_b is the mean of S_i over all boxes; S_bb the mean over the
//!   boxes holding more than one outcome. S_bb > ln 2 is a sufficient condition for a fractal
//!   boundary; S_bb ≤ ln 2 decides nothing.

use std::collections::HashMap;

/// Fewest boxes along the map's shorter side for a box size to enter the dimension's fit.
pub const MIN_BOXES: usize = 4;

/// The default side, in pixels, of the boxes of the basin entropy (Daza et al. take 5).
pub const ENTROPY_BOX: usize = 5;

/// A straight-line fit of ln y against ln x.
#[derive(Debug, Clone, PartialEq)]
pub struct LogFit {
    /// The slope.
    pub slope: f64,
    /// Its standard error (0 with two points: the line goes through both).
    pub error: f64,
    /// The points fitted: (x, y).
    pub points: Vec<(f64, f64)>,
}

/// Least squares of ln y on ln x over the points with y > 0; none with fewer than two.
pub fn log_fit(points: &[(f64, f64)]) -> Option<LogFit> {
    let used: Vec<(f64, f64)> = points.iter().copied().filter(|p| p.1 > 0.0).collect();
    let n = used.len();
    if n < 2 {
        return None;
    }
    let (xs, ys): (Vec<f64>, Vec<f64>) = used.iter().map(|&(x, y)| (x.ln(), y.ln())).unzip();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (mx, my) = (mean(&xs), mean(&ys));
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    let sxy: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let slope = sxy / sxx;
    let error = if n > 2 {
        let rss: f64 = xs
            .iter()
            .zip(&ys)
            .map(|(x, y)| (y - my - slope * (x - mx)).powi(2))
            .sum();
        (rss / (n - 2) as f64 / sxx).sqrt()
    } else {
        0.0
    };
    Some(LogFit {
        slope,
        error,
        points: used,
    })
}

/// The boundary pixels of a map of `rows` × `cols` outcomes (row-major): true where the right or
/// lower neighbour has another outcome.
pub fn boundary(outcomes: &[i64], rows: usize, cols: usize) -> Vec<bool> {
    (0..rows * cols)
        .map(|k| {
            let (i, j) = (k / cols, k % cols);
            (j + 1 < cols && outcomes[k] != outcomes[k + 1])
                || (i + 1 < rows && outcomes[k] != outcomes[k + cols])
        })
        .collect()
}

/// The box counts N(s) of the boundary for s = 2, 4, 8, … (see the module's definition).
pub fn box_counts(edge: &[bool], rows: usize, cols: usize) -> Vec<(usize, usize)> {
    let short = rows.min(cols);
    let mut out = Vec::new();
    let mut s = 2;
    while short / s >= MIN_BOXES {
        let (br, bc) = (rows.div_ceil(s), cols.div_ceil(s));
        let mut hit = vec![false; br * bc];
        for (k, _) in edge.iter().enumerate().filter(|(_, e)| **e) {
            hit[(k / cols) / s * bc + (k % cols) / s] = true;
        }
        out.push((s, hit.iter().filter(|&&h| h).count()));
        s *= 2;
    }
    out
}

/// Sliding minimum and maximum over windows of 2ε + 1 along each row of a `rows` × `cols`
/// array (None where the window leaves the row).
fn window_min_max(v: &[i64], rows: usize, cols: usize, eps: usize) -> Vec<Option<(i64, i64)>> {
    let w = 2 * eps + 1;
    let mut out = vec![None; rows * cols];
    for i in 0..rows {
        let row = &v[i * cols..(i + 1) * cols];
        if cols < w {
            continue;
        }
        // Deques of indices, ascending values (min) and descending values (max).
        let (mut lo, mut hi) = (
            std::collections::VecDeque::<usize>::new(),
            std::collections::VecDeque::<usize>::new(),
        );
        for j in 0..cols {
            while lo.back().is_some_and(|&b| row[b] >= row[j]) {
                lo.pop_back();
            }
            lo.push_back(j);
            while hi.back().is_some_and(|&b| row[b] <= row[j]) {
                hi.pop_back();
            }
            hi.push_back(j);
            if j + 1 >= w {
                let first = j + 1 - w;
                while lo.front().is_some_and(|&f| f < first) {
                    lo.pop_front();
                }
                while hi.front().is_some_and(|&f| f < first) {
                    hi.pop_front();
                }
                if let (Some(&a), Some(&b)) = (lo.front(), hi.front()) {
                    out[i * cols + first + eps] = Some((row[a], row[b]));
                }
            }
        }
    }
    out
}

/// The fraction f(ε) of ε-uncertain pixels for ε = 1, 2, 4, … (see the module's definition).
pub fn uncertain_fractions(outcomes: &[i64], rows: usize, cols: usize) -> Vec<(usize, f64)> {
    let short = rows.min(cols);
    let epsilons: Vec<usize> = std::iter::successors(Some(1usize), |e| Some(e * 2))
        .take_while(|e| 4 * (2 * e + 1) <= short)
        .collect();
    // The same pixels for every ε: those at least the largest ε from every edge.
    let margin = epsilons.last().copied().unwrap_or(0);
    let mut out = Vec::new();
    for eps in epsilons {
        // The window's minimum and maximum outcome: rows first, then columns of the result.
        let across = window_min_max(outcomes, rows, cols, eps);
        let (lows, highs): (Vec<i64>, Vec<i64>) = across
            .iter()
            .map(|m| m.unwrap_or((i64::MAX, i64::MIN)))
            .unzip();
        let transpose = |v: &[i64]| -> Vec<i64> {
            (0..rows * cols)
                .map(|k| v[(k % rows) * cols + k / rows])
                .collect()
        };
        let (lo_t, hi_t) = (transpose(&lows), transpose(&highs));
        let lo = window_min_max(&lo_t, cols, rows, eps);
        let hi = window_min_max(&hi_t, cols, rows, eps);
        let (mut inside, mut uncertain) = (0u64, 0u64);
        for i in margin..rows - margin {
            for j in margin..cols - margin {
                let k = j * rows + i;
                if let (Some((min, _)), Some((_, max))) = (lo[k], hi[k]) {
                    inside += 1;
                    uncertain += u64::from(min != max);
                }
            }
        }
        if inside > 0 {
            out.push((eps, uncertain as f64 / inside as f64));
        }
    }
    out
}

/// The basin entropy S_b and the boundary basin entropy S_bb over boxes of `b` × `b` pixels,
/// with the number of boxes and of boundary boxes; S_b is none where no whole box fits, S_bb
/// where no box holds two outcomes.
pub fn basin_entropy(
    outcomes: &[i64],
    rows: usize,
    cols: usize,
    b: usize,
) -> (Option<f64>, Option<f64>, usize, usize) {
    let (br, bc) = (rows / b.max(1), cols / b.max(1));
    let (mut total, mut boundary_total, mut boundary_boxes) = (0.0, 0.0, 0usize);
    let mut counts: HashMap<i64, usize> = HashMap::new();
    for bi in 0..br {
        for bj in 0..bc {
            counts.clear();
            for i in bi * b..(bi + 1) * b {
                for j in bj * b..(bj + 1) * b {
                    *counts.entry(outcomes[i * cols + j]).or_default() += 1;
                }
            }
            let n = (b * b) as f64;
            let s: f64 = counts
                .values()
                .map(|&c| {
                    let p = c as f64 / n;
                    -p * p.ln()
                })
                .sum();
            total += s;
            if counts.len() > 1 {
                boundary_total += s;
                boundary_boxes += 1;
            }
        }
    }
    let boxes = br * bc;
    (
        (boxes > 0).then(|| total / boxes as f64),
        (boundary_boxes > 0).then(|| boundary_total / boundary_boxes as f64),
        boxes,
        boundary_boxes,
    )
}

/// Every boundary statistic of one map.
#[derive(Debug, Clone)]
pub struct Statistics {
    /// Pixels along the map's first and second axes.
    pub shape: [usize; 2],
    /// Distinct outcomes in the map.
    pub outcomes: usize,
    /// Boundary pixels.
    pub boundary_pixels: usize,
    /// N(s) for each box side s.
    pub box_counts: Vec<(usize, usize)>,
    /// The box-counting dimension's fit (D = −slope); none with fewer than two box sizes holding
    /// the boundary.
    pub dimension: Option<LogFit>,
    /// f(ε) for each ε.
    pub uncertain: Vec<(usize, f64)>,
    /// The uncertainty exponent's fit (α = slope).
    pub alpha: Option<LogFit>,
    /// The side of the entropy's boxes.
    pub entropy_box: usize,
    /// Boxes, and those holding more than one outcome.
    pub boxes: (usize, usize),
    /// S_b (none where no whole box fits).
    pub basin_entropy: Option<f64>,
    /// S_bb.
    pub boundary_basin_entropy: Option<f64>,
}

/// The boundary statistics of a map of `rows` × `cols` outcomes (row-major, the first axis
/// slowest), entropy boxes of `b` pixels.
pub fn statistics(outcomes: &[i64], rows: usize, cols: usize, b: usize) -> Statistics {
    debug_assert_eq!(outcomes.len(), rows * cols);
    let edge = boundary(outcomes, rows, cols);
    let counts = box_counts(&edge, rows, cols);
    let points: Vec<(f64, f64)> = counts.iter().map(|&(s, n)| (s as f64, n as f64)).collect();
    let uncertain = uncertain_fractions(outcomes, rows, cols);
    let fpoints: Vec<(f64, f64)> = uncertain.iter().map(|&(e, f)| (e as f64, f)).collect();
    let (sb, sbb, boxes, bboxes) = basin_entropy(outcomes, rows, cols, b);
    let mut distinct: Vec<i64> = outcomes.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    Statistics {
        shape: [rows, cols],
        outcomes: distinct.len(),
        boundary_pixels: edge.iter().filter(|&&e| e).count(),
        dimension: log_fit(&points).map(|f| LogFit {
            slope: -f.slope,
            ..f
        }),
        box_counts: counts,
        alpha: log_fit(&fpoints),
        uncertain,
        entropy_box: b,
        boxes: (boxes, bboxes),
        basin_entropy: sb,
        boundary_basin_entropy: sbb,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A map of `n` × `n` pixels split by the line through (x0, y0) at `angle` radians.
    fn half_plane(n: usize, angle: f64, offset: f64) -> Vec<i64> {
        let (c, s) = (angle.cos(), angle.sin());
        (0..n * n)
            .map(|k| {
                let (i, j) = ((k / n) as f64, (k % n) as f64);
                i64::from(c * (j - n as f64 / 2.0) + s * (i - n as f64 / 2.0) > offset)
            })
            .collect()
    }

    #[test]
    fn a_straight_boundary_has_dimension_one_and_uncertainty_exponent_one() {
        // Vertical (exact), and tilted off the box lattice: box counting on 512² pixels is good
        // to about 5 % (0.952 to 1.03 over these angles).
        for (angle, tol) in [
            (0.0, 1e-9),
            (0.3, 0.06),
            (0.7, 0.06),
            (1.2, 0.06),
            (2.0, 0.06),
        ] {
            let map = half_plane(512, angle, 0.37);
            let st = statistics(&map, 512, 512, ENTROPY_BOX);
            let d = st.dimension.as_ref().expect("a dimension");
            let a = st.alpha.as_ref().expect("an exponent");
            assert!((d.slope - 1.0).abs() < tol, "D = {} at {angle}", d.slope);
            assert!(
                (a.slope - 1.0).abs() < tol.max(0.02),
                "α = {} at {angle}",
                a.slope
            );
            assert_eq!(st.outcomes, 2);
            let sbb = st.boundary_basin_entropy.expect("boundary boxes");
            assert!(sbb < std::f64::consts::LN_2 && st.basin_entropy < Some(sbb));
        }
    }

    #[test]
    fn a_random_map_fills_the_plane_and_its_entropy_passes_ln_2() {
        // Three outcomes at random: every pixel near the boundary, D = 2, α = 0.
        let mut x: u64 = 12345;
        let map: Vec<i64> = (0..256 * 256)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((x >> 33) % 3) as i64
            })
            .collect();
        let st = statistics(&map, 256, 256, ENTROPY_BOX);
        // Nearly every box holds a boundary pixel from s = 2 (all from s = 4): D = 2.
        assert!(
            (st.dimension.as_ref().expect("D").slope - 2.0).abs() < 0.01,
            "{:?}",
            st.box_counts
        );
        assert!(st.alpha.expect("α").slope.abs() < 0.01);
        assert!(st.boundary_basin_entropy.expect("S_bb") > std::f64::consts::LN_2);
    }

    #[test]
    fn one_outcome_has_no_boundary() {
        let st = statistics(&[7; 64 * 64], 64, 64, ENTROPY_BOX);
        assert_eq!(st.boundary_pixels, 0);
        assert!(st.dimension.is_none() && st.boundary_basin_entropy.is_none());
        assert_eq!(st.basin_entropy, Some(0.0));
        let tiny = statistics(&[1, 2, 1, 2], 2, 2, ENTROPY_BOX);
        assert!(tiny.basin_entropy.is_none() && tiny.dimension.is_none());
        assert!(st.uncertain.iter().all(|&(_, f)| f == 0.0) && st.alpha.is_none());
    }
}
