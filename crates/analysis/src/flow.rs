//! Gradient flow with adaptive steps, in float64: how a walker that reached its step budget while
//! still moving is finished.
//!
//! Gradient descent with a small learning rate follows the gradient flow θ' = −∇L(θ), one step of
//! length lr per step of time. Where it crawls — flat valleys, and the plateaus beside saddle
//! manifolds that a walker leaves at the rate of a tiny negative curvature — the flow can be
//! followed in steps many thousand times longer. The integrator is linearly implicit Euler
//! (Rosenbrock–Euler) with the exact Hessian: θ ← θ + k, (I + hH)·k = −h·∇L. It is stable in stiff
//! valleys at any step; along a negative curvature λ it needs h·|λ| < 1, which the
//! factorisation enforces (I + hH must be positive definite). The local error is estimated by
//! step doubling and held below `FlowSettings::accuracy` relative to max(1, ‖θ‖∞), and a step
//! must lower L, as the flow does.
//!
//! The flow stops where gradient descent with the run's settings stops: at the first point where
//! ‖∇L‖ < tol (looked for inside each step along the step's linear model, so that a long step
//! does not pass over the place a walker would have stopped), past ‖θ‖∞ > diverge, or on a
//! non-finite value. A flow that reaches its own budget has not ended, and says so.

use super::dense::Cholesky;
use landscape_core::reference;
use landscape_core::spec::data::Dataset;
use landscape_core::spec::model::Model;
use nalgebra::{DMatrix, DVector};

/// How far the flow may go and how closely it follows the exact trajectory.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlowSettings {
    /// The run's learning rate: the first step, and the unit of `time` in gradient-descent steps.
    pub lr: f64,
    /// Stop when ‖∇L‖₂ < tol (the run's `--tol`).
    pub tol: f64,
    /// Stop when ‖θ‖∞ > diverge (the run's `--diverge`).
    pub diverge: f64,
    /// Local error allowed per step, relative to max(1, ‖θ‖∞).
    pub accuracy: f64,
    /// Most accepted steps.
    pub max_steps: usize,
    /// Most flow time, in gradient-descent steps of `lr`.
    pub max_time_steps: f64,
}

impl FlowSettings {
    /// The defaults for a run's lr, tol and diverge: error 1e-4 per step, 20 000 steps, and a
    /// horizon of 10¹² gradient-descent steps.
    pub fn new(lr: f64, tol: f64, diverge: f64) -> FlowSettings {
        FlowSettings {
            lr,
            tol,
            diverge,
            accuracy: 1e-4,
            max_steps: 20_000,
            max_time_steps: 1e12,
        }
    }
}

/// Why a flow stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowEnd {
    /// ‖∇L‖ < tol: where a gradient-descent walker stops.
    Converged,
    /// ‖θ‖∞ passed `diverge`.
    Diverged,
    /// θ, L or ∇L became non-finite.
    NonFinite,
    /// The flow's own step or time budget ran out while it was still moving.
    Budget,
    /// No step both followed the flow and lowered L (at float64's resolution of L).
    Stalled,
}

/// Where a flow ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Flowed {
    /// θ at the end.
    pub theta: Vec<f64>,
    /// L there.
    pub loss: f64,
    /// ‖∇L‖₂ there.
    pub grad_norm: f64,
    /// Why it stopped.
    pub end: FlowEnd,
    /// Steps accepted.
    pub steps: usize,
    /// Exact Hessians computed (the cost: each is about P/16 + 1 gradients).
    pub hessians: usize,
    /// Flow time, in gradient-descent steps of lr.
    pub time_steps: f64,
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0f64, |m, x| m.max(x.abs()))
}

/// Follows the gradient flow from `start` until it ends (see the module's text).
pub fn flow(model: &Model, data: &Dataset, start: &[f64], s: &FlowSettings) -> Flowed {
    follow(model, data, start, s, None)
}

/// `flow`, with the trajectory: `start`, then θ after every accepted step.
pub fn flow_traced(
    model: &Model,
    data: &Dataset,
    start: &[f64],
    s: &FlowSettings,
) -> (Flowed, Vec<Vec<f64>>) {
    let mut trace = vec![start.to_vec()];
    let f = follow(model, data, start, s, Some(&mut trace));
    (f, trace)
}

fn follow(
    model: &Model,
    data: &Dataset,
    start: &[f64],
    s: &FlowSettings,
    mut trace: Option<&mut Vec<Vec<f64>>>,
) -> Flowed {
    let p = start.len();
    let eval = |t: &[f64]| reference::loss_and_gradient(model, data, t);
    let mut theta = start.to_vec();
    let (mut loss, mut g) = eval(&theta);
    let mut h = s.lr;
    let mut time = 0.0;
    let (mut steps, mut hessians) = (0, 0);
    let end = loop {
        let gn = norm(&g);
        if theta.iter().any(|v| !v.is_finite()) {
            break FlowEnd::NonFinite;
        }
        if max_abs(&theta) > s.diverge {
            break FlowEnd::Diverged;
        }
        if !loss.is_finite() || !gn.is_finite() {
            break FlowEnd::NonFinite;
        }
        if gn < s.tol {
            break FlowEnd::Converged;
        }
        if steps >= s.max_steps || time >= s.max_time_steps * s.lr {
            break FlowEnd::Budget;
        }
        let hess = DMatrix::from_row_slice(p, p, &reference::hessian(model, data, &theta));
        hessians += 1;
        let gv = DVector::from_column_slice(&g);
        let allowed = s.accuracy * max_abs(&theta).max(1.0);
        let mut accepted = None;
        for _ in 0..60 {
            // (I + hH)k = −h g, once with h and twice with h/2 (the second half-step with the
            // gradient at the midpoint and the same Hessian).
            let solve = |step: f64, rhs: &DVector<f64>| {
                let a = DMatrix::identity(p, p) + &hess * step;
                Cholesky::new(a).map(|c| c.solve(&(-rhs * step)))
            };
            let (Some(full), Some(half)) = (solve(h, &gv), solve(0.5 * h, &gv)) else {
                h *= 0.25;
                continue;
            };
            let mid: Vec<f64> = theta.iter().zip(half.iter()).map(|(t, k)| t + k).collect();
            let (_, gm) = eval(&mid);
            let Some(second) = solve(0.5 * h, &DVector::from_column_slice(&gm)) else {
                h *= 0.25;
                continue;
            };
            let next: Vec<f64> = mid.iter().zip(second.iter()).map(|(t, k)| t + k).collect();
            let err = next
                .iter()
                .zip(theta.iter().zip(full.iter()))
                .fold(0.0f64, |m, (a, (t, k))| m.max((a - (t + k)).abs()));
            let (nl, ng) = eval(&next);
            // NaN anywhere rejects the step.
            let accepted_step = err <= allowed && nl <= loss;
            if !accepted_step {
                let shrink = if err.is_finite() && err > 0.0 {
                    (0.9 * (allowed / err).sqrt()).clamp(0.1, 0.5)
                } else {
                    0.25
                };
                h *= shrink;
                if h < 1e-12 * s.lr {
                    break;
                }
                continue;
            }
            let grow = if err > 0.0 {
                (0.9 * (allowed / err).sqrt()).clamp(1.0, 4.0)
            } else {
                4.0
            };
            accepted = Some((next, nl, ng, grow));
            break;
        }
        let Some((next, nl, ng, grow)) = accepted else {
            break FlowEnd::Stalled;
        };
        // Where along the step would ‖∇L‖ first fall below tol? On the linear model
        // ∇L(θ + σΔ) ≈ ∇L + σHΔ, the least ‖·‖² over σ ∈ [0, 1].
        let delta: Vec<f64> = next.iter().zip(&theta).map(|(a, b)| a - b).collect();
        let hd = &hess * DVector::from_column_slice(&delta);
        let (a, b) = (hd.dot(&hd), gv.dot(&hd));
        let sigma = if a > 0.0 {
            (-b / a).clamp(0.0, 1.0)
        } else {
            1.0
        };
        let least = (&gv + &hd * sigma).norm();
        if sigma < 1.0 && least < s.tol {
            let stop: Vec<f64> = theta
                .iter()
                .zip(&delta)
                .map(|(t, d)| t + sigma * d)
                .collect();
            let (sl, sg) = eval(&stop);
            if sl <= loss && norm(&sg) < s.tol {
                (theta, loss, g) = (stop, sl, sg);
                time += sigma * h;
                steps += 1;
                if let Some(t) = trace.as_deref_mut() {
                    t.push(theta.clone());
                }
                continue;
            }
        }
        (theta, loss, g) = (next, nl, ng);
        time += h;
        steps += 1;
        h *= grow;
        if let Some(t) = trace.as_deref_mut() {
            t.push(theta.clone());
        }
    };
    Flowed {
        grad_norm: norm(&g),
        theta,
        loss,
        end,
        steps,
        hessians,
        time_steps: time / s.lr,
    }
}

/// Largest P for which `toward_infinity` follows the flow (each step needs a P × P Hessian).
pub const TOWARD_INFINITY_MAX_P: usize = 256;

/// Whether the loss keeps falling while ‖θ‖ grows from `start`: descent points outward (−∇L
/// within 60° of θ), and the gradient flow (60 steps of up to 10⁹ steps' worth of time, lr 0.01)
/// either passes ‖θ‖∞ = 10⁶, or lowers L while ‖θ‖₂ grows by at least 10 % and is still growing
/// at its last step. A point that is not stationary
/// and does this lies on a slope to infinity (saturating units), not near a stationary point.
pub fn toward_infinity(model: &Model, data: &Dataset, start: &[f64]) -> bool {
    if start.len() > TOWARD_INFINITY_MAX_P || start.iter().any(|v| !v.is_finite()) {
        return false;
    }
    // First, cheaply: descent must point outward (within 60° of θ itself).
    let (_, g) = reference::loss_and_gradient(model, data, start);
    let outward = -g.iter().zip(start).map(|(a, b)| a * b).sum::<f64>();
    if outward <= 0.5 * norm(&g) * norm(start) {
        return false;
    }
    let s = FlowSettings {
        max_steps: 60,
        max_time_steps: 1e9,
        ..FlowSettings::new(0.01, 0.0, 1e6)
    };
    let l0 = reference::loss(model, data, start);
    let (f, trace) = flow_traced(model, data, start, &s);
    match f.end {
        FlowEnd::Diverged => true,
        FlowEnd::Budget | FlowEnd::Stalled => {
            let n0 = norm(start);
            let n1 = norm(&f.theta);
            let growing = trace.len() >= 2 && {
                let k = trace.len();
                norm(&trace[k - 1]) > norm(&trace[k - 2])
            };
            f.loss < l0 && n1 > 1.1 * n0.max(1e-12) && growing
        }
        FlowEnd::Converged | FlowEnd::NonFinite => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use landscape_core::spec::data::DataSource;
    use landscape_core::spec::model::Activation;
    use landscape_core::spec::walk::{Status, WalkSettings};

    /// The seed example L = (w₂w₁ − 1)²: walkers stopped after 100 steps of gradient descent
    /// (lr 0.01) and continued by the flow end at the point of the hyperbola w₁w₂ = 1 that long
    /// gradient descent reaches. On this manifold of minima the two may differ by O(lr): where
    /// along a valley of minima gradient descent stops depends on its step, not only on its path.
    #[test]
    fn the_flow_ends_where_gradient_descent_ends_on_the_seed_example() {
        let m = Model::new("1-1-1", Activation::Linear, Activation::Linear, false).expect("model");
        let data = DataSource::parse("point:x=1,y=1", &m).expect("data").data;
        let settings = WalkSettings {
            lr: 0.01,
            momentum: 0.0,
            steps: 200_000,
            tol: 1e-9,
            diverge: 1e4,
        };
        for start in [
            [0.3, -0.2],
            [-1.5, 0.1],
            [2.0, 2.5],
            [0.05, 0.01],
            [0.01, 0.0],
        ] {
            let gd = reference::walk(&m, &data, &start, &settings);
            assert_eq!(gd.status, Status::Converged, "{start:?}");
            let short = WalkSettings {
                steps: 100,
                ..settings
            };
            let stopped = reference::walk(&m, &data, &start, &short);
            let f = flow(
                &m,
                &data,
                &stopped.theta,
                &FlowSettings::new(0.01, 1e-9, 1e4),
            );
            assert_eq!(f.end, FlowEnd::Converged, "{start:?}: {f:?}");
            assert!((f.theta[0] * f.theta[1] - 1.0).abs() < 1e-8, "{f:?}");
            for (a, b) in f.theta.iter().zip(&gd.theta) {
                assert!((a - b).abs() < 5e-3, "{start:?}: flow {f:?} vs gd {gd:?}");
            }
        }
    }

    /// Walkers of a 2-2-1 tanh student stopped after 200 steps while still moving, continued by
    /// the flow, reach the stationary point that plain gradient descent with the same lr reaches
    /// when it is let run to the end (those it finishes within 400 000 steps: about 10⁵ steps
    /// each, which the flow crosses in a few hundred).
    #[test]
    fn continued_walkers_end_where_long_gradient_descent_ends() {
        use crate::stationary::{Kind, analyse};
        use crate::symmetry::{distance, normalise};
        use landscape_core::rng::{Stream, normal};
        use rayon::prelude::*;
        let m = Model::new("2-2-1", Activation::Tanh, Activation::Linear, true).expect("model");
        let data = DataSource::parse("teacher:n=16,seed=3", &m)
            .expect("data")
            .data;
        let p = m.parameter_count();
        let long = WalkSettings {
            lr: 0.05,
            momentum: 0.0,
            steps: 400_000,
            tol: 1e-6,
            diverge: 1e4,
        };
        let short = WalkSettings { steps: 200, ..long };
        // Per walker that long descent finishes: its end polished, the flow's end polished.
        type Ends = (Vec<f64>, Vec<f64>, Kind);
        let outcomes: Vec<Option<Ends>> = (0..48u64)
            .into_par_iter()
            .map(|w| {
                let start: Vec<f64> = (0..p)
                    .map(|i| 1.5 * normal(7, Stream::Start, w * p as u64 + i as u64))
                    .collect();
                let gd = reference::walk(&m, &data, &start, &long);
                if gd.status != Status::Converged {
                    return None;
                }
                let stopped = reference::walk(&m, &data, &start, &short);
                assert_eq!(stopped.status, Status::MaxSteps, "walker {w}");
                let f = flow(
                    &m,
                    &data,
                    &stopped.theta,
                    &FlowSettings::new(0.05, long.tol, 1e4),
                );
                assert_eq!(f.end, FlowEnd::Converged, "walker {w}: {f:?}");
                let (a, b) = (analyse(&m, &data, &gd.theta), analyse(&m, &data, &f.theta));
                Some((a.theta, b.theta, a.kind))
            })
            .collect();
        let finished: Vec<_> = outcomes.into_iter().flatten().collect();
        assert!(
            finished.len() >= 24,
            "only {} walkers finished",
            finished.len()
        );
        let mut points: Vec<Vec<f64>> = Vec::new();
        for (gd, fl, kind) in &finished {
            assert_ne!(*kind, Kind::NotStationary);
            let (gd, fl) = (normalise(&m, gd), normalise(&m, fl));
            assert!(distance(&gd, &fl) < 1e-6, "gd {gd:?}\nflow {fl:?}");
            if !points.iter().any(|q| distance(q, &gd) < 1e-6) {
                points.push(gd);
            }
        }
        // Several distinct ends, so that agreement is not a single basin's.
        assert!(points.len() >= 3, "{} distinct points", points.len());
    }

    /// 1-1-1 tanh → tanh without biases on (x = 1, y = 1): f = tanh(v·tanh(w)) reaches 1 only
    /// as v·tanh(w) → ∞, so L falls forever while ‖θ‖ grows. Gradient descent stopped anywhere
    /// on that slope is on its way to infinity; a minimum is not.
    #[test]
    fn a_slope_to_infinity_is_told_from_a_minimum() {
        let m = Model::new("1-1-1", Activation::Tanh, Activation::Tanh, false).expect("model");
        let data = DataSource::parse("point:x=1,y=1", &m).expect("data").data;
        let settings = WalkSettings {
            lr: 0.1,
            momentum: 0.0,
            steps: 2000,
            tol: 1e-9,
            diverge: 1e6,
        };
        let end = reference::walk(&m, &data, &[0.5, 0.5], &settings);
        assert!(toward_infinity(&m, &data, &end.theta), "{end:?}");
        // With a target inside tanh's range the same net has minima: not toward infinity.
        let data = DataSource::parse("point:x=1,y=0.5", &m).expect("data").data;
        let end = reference::walk(&m, &data, &[0.5, 0.5], &settings);
        assert!(!toward_infinity(&m, &data, &end.theta), "{end:?}");
    }
}
