//! Stationary points in float64: polishing an endpoint to the nearby zero of ∇L, the exact
//! Hessian's spectrum, and the kind of point it is.

use super::dense::{Cholesky, symmetric_square_lower};
use super::eigen;
use landscape_core::reference;
use landscape_core::spec::data::Dataset;
use landscape_core::spec::model::{Activation, Model};
use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

/// A polished point counts as stationary when ‖∇L‖₂ is below this.
pub const STATIONARY_GRAD: f64 = 1e-8;

/// An eigenvalue counts as zero when |λ| ≤ this × max(1, max |λ|): polished points have
/// ‖∇L‖ ≲ 1e-11, which moves eigenvalues by far less, while the smallest genuine curvatures of
/// small teacher–student problems reach 1e-6 of the largest.
pub const ZERO_EIGENVALUE: f64 = 1e-8;

/// What kind of point a basin's representative is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Index 0, no zero eigenvalues beyond those of a continuous symmetry.
    Minimum,
    /// Index 0 with unexplained zero eigenvalues, and no lower point found along them (probed at
    /// several radii, both signs): a manifold of minima.
    DegenerateMinimum,
    /// Index 0 with zero eigenvalues along which a lower point was found: a saddle of higher
    /// order, not a minimum.
    HigherOrderSaddle,
    /// A hidden unit is saturated on every sample (its activation's derivative below float64's
    /// resolution): a plateau that continues to infinity, not a finite minimum.
    Saturated,
    /// k negative eigenvalues, 0 < k < P.
    Saddle,
    /// Every eigenvalue negative.
    Maximum,
    /// Polishing did not reach a point where ∇L vanishes, or reached one with no curvature at
    /// all (a plateau or a gradient-flat region).
    NotStationary,
    /// Not a stationary point: where gradient descent stops (‖∇L‖ < --tol) but polishing
    /// reaches no point where ∇L vanishes. A flat region, grouped with others by its loss level;
    /// the basin analysis gives this kind, never `analyse`.
    Plateau,
}

impl Kind {
    /// The name in tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Minimum => "minimum",
            Kind::DegenerateMinimum => "degenerate-minimum",
            Kind::HigherOrderSaddle => "higher-order-saddle",
            Kind::Saturated => "saturated",
            Kind::Saddle => "saddle",
            Kind::Maximum => "maximum",
            Kind::NotStationary => "not-stationary",
            Kind::Plateau => "plateau",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

/// A polished, classified point.
#[derive(Debug, Clone, PartialEq)]
pub struct Stationary {
    /// The polished θ.
    pub theta: Vec<f64>,
    /// L(θ).
    pub loss: f64,
    /// ‖∇L(θ)‖₂.
    pub grad_norm: f64,
    /// Eigenvalues of the exact Hessian, ascending.
    pub eigenvalues: Vec<f64>,
    /// Number of negative eigenvalues (the Morse index).
    pub index: usize,
    /// Number of zero eigenvalues.
    pub nullity: usize,
    /// The kind of point.
    pub kind: Kind,
    /// Hidden units saturated on every sample.
    pub saturated: usize,
}

/// Zero eigenvalues every stationary point has from a continuous symmetry: one per hidden ReLU
/// unit with nonzero weights (its positive rescaling).
pub fn symmetry_nullity(model: &Model, theta: &[f64]) -> usize {
    if model.act != Activation::Relu {
        return 0;
    }
    let layout = model.layout();
    (0..model.hidden().len())
        .map(|h| {
            let (inl, outl) = (layout[h], layout[h + 1]);
            (0..inl.outputs)
                .filter(|&i| {
                    let incoming = (0..inl.inputs)
                        .any(|j| theta[inl.w + i * inl.inputs + j] != 0.0)
                        || inl.b.is_some_and(|b| theta[b + i] != 0.0);
                    let outgoing =
                        (0..outl.outputs).any(|k| theta[outl.w + k * outl.inputs + i] != 0.0);
                    incoming && outgoing
                })
                .count()
        })
        .sum()
}

/// Moves θ to the nearby point where ∇L = 0. Where the exact Hessian is positive definite, a
/// Newton step on L with a backtracking (Armijo) line search, which follows curved, badly
/// conditioned valleys to their minimum; elsewhere Levenberg–Marquardt on the equation ∇L(θ) = 0
/// (Jacobian: the Hessian), which converges to saddles and maxima alike and accepts only steps
/// that shrink ‖∇L‖. Returns the point and its ‖∇L‖.
pub fn polish(model: &Model, data: &Dataset, start: &[f64]) -> (Vec<f64>, f64) {
    let p = start.len();
    let mut theta = start.to_vec();
    let eval = |t: &[f64]| reference::loss_and_gradient(model, data, t);
    let norm = |g: &[f64]| g.iter().map(|v| v * v).sum::<f64>().sqrt();
    let (mut loss, mut g) = eval(&theta);
    let mut gn = norm(&g);
    let mut mu: f64 = 1e-8;
    // ‖∇L‖ every twenty iterations: a polish that does not halve it in twenty iterations is in
    // a flat region, not near a stationary point, and stops.
    let mut checkpoint = gn;
    for it in 1..=200 {
        if gn < STATIONARY_GRAD * 1e-3 || !gn.is_finite() {
            break;
        }
        if it % 20 == 0 {
            if gn > checkpoint * 0.5 && gn > STATIONARY_GRAD {
                break;
            }
            checkpoint = gn;
        }
        let h = DMatrix::from_row_slice(p, p, &reference::hessian(model, data, &theta));
        let gv = DVector::from_column_slice(&g);
        let mut moved = false;
        if let Some(chol) = Cholesky::new(h.clone()) {
            let step = chol.solve(&(-&gv));
            let slope = gv.dot(&step);
            let mut alpha = 1.0;
            for _ in 0..30 {
                let trial: Vec<f64> = theta
                    .iter()
                    .zip(step.iter())
                    .map(|(t, s)| t + alpha * s)
                    .collect();
                let (tl, tg) = eval(&trial);
                // Near a minimum whose L is far from 0, L's change under a Newton step falls
                // below L's own rounding (N terms of a few ulps): a step that shrinks ‖∇L‖ and
                // raises L by no more than that is taken too.
                let rounding = 1e-13 * loss.abs();
                if tl <= loss + 1e-4 * alpha * slope || (tl <= loss + rounding && norm(&tg) < gn) {
                    (theta, loss, g) = (trial, tl, tg);
                    gn = norm(&g);
                    moved = true;
                    break;
                }
                alpha *= 0.5;
            }
        }
        if !moved {
            let hg = &h * &gv;
            // H² (its lower triangle, all that the factorisation reads).
            let hh = symmetric_square_lower(&h);
            for _ in 0..12 {
                let a = &hh + DMatrix::identity(p, p) * (mu * (1.0 + hh.diagonal().amax()));
                let Some(step) = Cholesky::new(a).map(|c| c.solve(&(-&hg))) else {
                    mu *= 10.0;
                    continue;
                };
                let trial: Vec<f64> = theta.iter().zip(step.iter()).map(|(t, s)| t + s).collect();
                let (tl, tg) = eval(&trial);
                let tn = norm(&tg);
                if tn < gn {
                    (theta, loss, g, gn) = (trial, tl, tg, tn);
                    mu = (mu / 10.0).max(1e-15);
                    moved = true;
                    break;
                }
                mu *= 10.0;
            }
        }
        if !moved {
            break;
        }
    }
    (theta, gn)
}

/// Polishes `start` and classifies the point it reaches.
pub fn analyse(model: &Model, data: &Dataset, start: &[f64]) -> Stationary {
    let (theta, grad_norm) = polish(model, data, start);
    classify(model, data, theta, grad_norm)
}

/// Classifies `theta` as it is, unpolished: L, ‖∇L‖ and the Hessian's spectrum there.
pub fn describe(model: &Model, data: &Dataset, theta: &[f64]) -> Stationary {
    let (_, g) = reference::loss_and_gradient(model, data, theta);
    let grad_norm = g.iter().map(|v| v * v).sum::<f64>().sqrt();
    classify(model, data, theta.to_vec(), grad_norm)
}

fn classify(model: &Model, data: &Dataset, theta: Vec<f64>, grad_norm: f64) -> Stationary {
    let loss = reference::loss(model, data, &theta);
    let p = theta.len();
    let h = reference::hessian(model, data, &theta);
    let Some(eigenvalues) = eigen::symmetric_eigenvalues(&h, p) else {
        // Curvature beyond float64's range: no spectrum to classify.
        return Stationary {
            theta,
            loss,
            grad_norm,
            eigenvalues: vec![f64::NAN; p],
            index: 0,
            nullity: 0,
            kind: Kind::NotStationary,
            saturated: 0,
        };
    };
    let scale = eigenvalues.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    let zero = ZERO_EIGENVALUE * scale;
    let index = eigenvalues.iter().filter(|&&v| v < -zero).count();
    let nullity = eigenvalues.iter().filter(|&&v| v.abs() <= zero).count();
    // With no curvature left at all, a small gradient marks a flat region (saturated units
    // pushed towards infinity), not a stationary point.
    let kind = if grad_norm >= STATIONARY_GRAD || !grad_norm.is_finite() || nullity == p {
        Kind::NotStationary
    } else if index == 0 && nullity <= symmetry_nullity(model, &theta) {
        Kind::Minimum
    } else if index == 0 {
        let f = |t: &[f64]| reference::loss(model, data, t);
        if lower_along_null_space(&f, &theta, loss, grad_norm, &h) {
            Kind::HigherOrderSaddle
        } else {
            Kind::DegenerateMinimum
        }
    } else if index + nullity == p && nullity == 0 {
        Kind::Maximum
    } else {
        Kind::Saddle
    };
    let saturated = saturated_units(model, data, &theta);
    let kind = if saturated > 0 && matches!(kind, Kind::Minimum | Kind::DegenerateMinimum) {
        Kind::Saturated
    } else {
        kind
    };
    Stationary {
        theta,
        loss,
        grad_norm,
        eigenvalues,
        index,
        nullity,
        kind,
        saturated,
    }
}

/// Hidden units whose activation's derivative is below float64's resolution (relative to its
/// peak) on every sample: they no longer respond to their weights.
pub fn saturated_units(model: &Model, data: &Dataset, theta: &[f64]) -> usize {
    let hidden = model.hidden().len();
    if hidden == 0 || data.is_empty() || theta.iter().any(|v| !v.is_finite()) {
        return 0;
    }
    let mut live: Vec<Vec<bool>> = model.hidden().iter().map(|&n| vec![false; n]).collect();
    for r in 0..data.len() {
        let (zs, _) = reference::forward_layers(model, theta, data.input(r));
        for (h, alive) in live.iter_mut().enumerate() {
            let act = model.activation(h);
            let peak = if act == Activation::Sigmoid {
                0.25
            } else {
                1.0
            };
            for (i, a) in alive.iter_mut().enumerate() {
                if !*a {
                    let d: f64 = reference::derivative(act, zs[h + 1][i]);
                    *a = d.abs() > f64::EPSILON * peak;
                }
            }
        }
    }
    live.iter().flatten().filter(|a| !**a).count()
}

/// Radii of the null-space probe, relative to max(1, ‖θ‖∞).
const PROBE_RADII: [f64; 4] = [1e-3, 1e-2, 3e-2, 1e-1];

/// Whether L falls below its value at `theta` along the Hessian's null space: each null
/// direction (and, for up to six, each sum and difference of two) at `PROBE_RADII`, both signs.
/// A drop counts only beyond what the residual gradient and L's rounding explain.
pub fn lower_along_null_space(
    f: &dyn Fn(&[f64]) -> f64,
    theta: &[f64],
    loss: f64,
    grad_norm: f64,
    h: &[f64],
) -> bool {
    let p = theta.len();
    let e = nalgebra::SymmetricEigen::new(DMatrix::from_row_slice(p, p, h));
    let top = e.eigenvalues.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    let null: Vec<Vec<f64>> = (0..p)
        .filter(|&k| e.eigenvalues[k].abs() <= ZERO_EIGENVALUE * top)
        .map(|k| e.eigenvectors.column(k).iter().copied().collect())
        .collect();
    let mut directions = null.clone();
    if null.len() <= 6 {
        for i in 0..null.len() {
            for j in i + 1..null.len() {
                for sign in [1.0, -1.0] {
                    directions.push(
                        null[i]
                            .iter()
                            .zip(&null[j])
                            .map(|(a, b)| (a + sign * b) / std::f64::consts::SQRT_2)
                            .collect(),
                    );
                }
            }
        }
    }
    let size = theta.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    directions.iter().any(|v| {
        PROBE_RADII.iter().any(|&r| {
            let step = r * size;
            let allowed = 10.0 * grad_norm * step + 1e-13 * loss.abs().max(1.0);
            [1.0, -1.0].iter().any(|&sign| {
                let t: Vec<f64> = theta
                    .iter()
                    .zip(v)
                    .map(|(a, b)| a + sign * step * b)
                    .collect();
                f(&t) < loss - allowed
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use landscape_core::spec::data::DataSource;

    #[test]
    fn the_origin_of_the_seed_example_is_a_saddle_of_index_one() {
        let m = Model::new("1-1-1", Activation::Linear, Activation::Linear, false).expect("model");
        let data = DataSource::parse("point:x=1,y=1", &m).expect("data").data;
        let s = analyse(&m, &data, &[0.01, -0.02]);
        assert_eq!((s.kind, s.index), (Kind::Saddle, 1), "{s:?}");
        assert!(s.theta.iter().all(|v| v.abs() < 1e-9));
        assert!((s.eigenvalues[0] + 2.0).abs() < 1e-9 && (s.eigenvalues[1] - 2.0).abs() < 1e-9);
        // Near (1, 1): the hyperbola w1·w2 = 1 of minima, one zero eigenvalue.
        let s = analyse(&m, &data, &[1.1, 0.95]);
        assert_eq!((s.kind, s.nullity), (Kind::DegenerateMinimum, 1), "{s:?}");
        assert!((s.theta[0] * s.theta[1] - 1.0).abs() < 1e-9 && s.loss < 1e-18);
    }

    /// A minimum of a 2-2-1 student at L ≈ 0.019: a Newton step from ‖∇L‖ = 2.7e-7 changes L by
    /// less than L's rounding, and must still be taken (it was refused once, leaving a minimum
    /// "not stationary").
    #[test]
    fn a_minimum_far_from_zero_loss_polishes_below_its_rounding() {
        let m = Model::new("2-2-1", Activation::Tanh, Activation::Linear, true).expect("model");
        let data = DataSource::parse("teacher:n=32,seed=3", &m)
            .expect("data")
            .data;
        let start = [
            -0.2843317159931048,
            -0.37411275714721026,
            0.5523655188524799,
            1.7061130988118671,
            0.26144405220319333,
            -1.5142268615665995,
            3.717565744921526,
            1.1325919734137635,
            0.14211067714771847,
        ];
        let s = analyse(&m, &data, &start);
        assert_eq!(s.kind, Kind::Minimum, "{s:?}");
        assert!(
            s.grad_norm < 1e-12 && (s.loss - 0.018993595362).abs() < 1e-11,
            "{s:?}"
        );
    }

    /// The probe of the null space: x² − y⁴ has index 0 and a zero eigenvalue at the origin,
    /// and is lower along it (a saddle of higher order); x² + y⁴ and x² (a valley of minima)
    /// are not.
    #[test]
    fn the_null_space_probe_tells_a_higher_order_saddle_from_a_minimum() {
        let h = [2.0, 0.0, 0.0, 0.0];
        let saddle = |t: &[f64]| t[0] * t[0] - t[1].powi(4);
        let quartic = |t: &[f64]| t[0] * t[0] + t[1].powi(4);
        let valley = |t: &[f64]| t[0] * t[0];
        assert!(lower_along_null_space(&saddle, &[0.0, 0.0], 0.0, 0.0, &h));
        assert!(!lower_along_null_space(&quartic, &[0.0, 0.0], 0.0, 0.0, &h));
        assert!(!lower_along_null_space(&valley, &[0.0, 0.0], 0.0, 0.0, &h));
        // A residual gradient explains a first-order drop: g·step is not a lower point.
        let tilted = |t: &[f64]| t[0] * t[0] + 1e-12 * t[1];
        assert!(!lower_along_null_space(
            &tilted,
            &[0.0, 0.0],
            0.0,
            1e-12,
            &h
        ));
    }

    /// A tanh unit with w = 40 on the sample x = 1: tanh′ ≈ 4e-35, below float64's resolution.
    /// The point fits the sample (L = 0) on a line of minima in (v, c), but is no finite
    /// minimum: it is saturated, and says so.
    #[test]
    fn a_unit_saturated_on_every_sample_makes_a_saturated_point() {
        let m = Model::new("1-1-1", Activation::Tanh, Activation::Linear, true).expect("model");
        let data = DataSource::parse("point:x=1,y=0.5", &m).expect("data").data;
        let s = analyse(&m, &data, &[40.0, 0.0, 0.25, 0.25]);
        assert_eq!((s.kind, s.saturated), (Kind::Saturated, 1), "{s:?}");
        assert!(s.loss < 1e-20);
        // Unsaturated, the same fit is a manifold of minima.
        let s = analyse(&m, &data, &[1.0, 0.0, 0.3, 0.5 - 0.3 * 1f64.tanh()]);
        assert_eq!((s.kind, s.saturated), (Kind::DegenerateMinimum, 0), "{s:?}");
    }

    #[test]
    fn linear_regression_polishes_to_the_least_squares_solution() {
        let m = Model::new("2-1", Activation::Tanh, Activation::Linear, true).expect("model");
        let data = DataSource::parse("teacher:n=30,seed=4,noise=0.3", &m)
            .expect("data")
            .data;
        let s = analyse(&m, &data, &[0.3, -0.2, 0.1]);
        assert_eq!(s.kind, Kind::Minimum);
        // Normal equations: [X 1]ᵀ[X 1] β = [X 1]ᵀ y.
        let x = DMatrix::from_fn(
            data.len(),
            3,
            |r, c| if c < 2 { data.input(r)[c] } else { 1.0 },
        );
        let y = DVector::from_fn(data.len(), |r, _| data.target(r)[0]);
        let beta = (x.transpose() * &x)
            .cholesky()
            .expect("full rank")
            .solve(&(x.transpose() * y));
        for (a, b) in s.theta.iter().zip(beta.iter()) {
            assert!((a - b).abs() < 1e-10, "{a} vs {b}");
        }
    }
}
