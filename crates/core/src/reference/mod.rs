//! The float64 reference: forward pass, loss L(θ) = (1/N) Σ_i ‖f(x_i; θ) − y_i‖², its gradient
//! by backpropagation and its exact Hessian. This is the definition every backend is tested
//! against, written for clarity rather than speed.

mod real;

pub use real::{Dual, Duals, Real};

use crate::spec::data::Dataset;
use crate::spec::model::{Activation, Model};
use crate::spec::walk::{Status, WalkSettings};

fn zero<R: Real>() -> R {
    R::from_f64(0.0)
}

/// a(z).
pub fn activate<R: Real>(act: Activation, z: R) -> R {
    match act {
        Activation::Tanh => z.tanh(),
        Activation::Sigmoid => R::from_f64(1.0) / (R::from_f64(1.0) + (-z).exp()),
        Activation::Relu => {
            if z.value() > 0.0 {
                z
            } else {
                zero()
            }
        }
        // max(z, 0) + ln(1 + e^−|z|) never overflows.
        Activation::Softplus => {
            let (pos, abs) = if z.value() > 0.0 {
                (z, z)
            } else {
                (zero(), -z)
            };
            pos + (-abs).exp().ln_1p()
        }
        Activation::Linear => z,
    }
}

/// a'(z) (ReLU's derivative at 0 is taken as 0).
pub fn derivative<R: Real>(act: Activation, z: R) -> R {
    let one = R::from_f64(1.0);
    match act {
        Activation::Tanh => {
            let t = z.tanh();
            one - t * t
        }
        Activation::Sigmoid => {
            let s = activate(Activation::Sigmoid, z);
            s * (one - s)
        }
        Activation::Relu => {
            if z.value() > 0.0 {
                one
            } else {
                zero()
            }
        }
        Activation::Softplus => activate(Activation::Sigmoid, z),
        Activation::Linear => one,
    }
}

/// a'(z) given a = a(z) as `activate` computed it: tanh and sigmoid reuse a, which is exactly
/// what `derivative` recomputes, so the result is the same to the bit at half the cost.
fn derivative_given<R: Real>(act: Activation, z: R, a: R) -> R {
    let one = R::from_f64(1.0);
    match act {
        Activation::Tanh => one - a * a,
        Activation::Sigmoid => a * (one - a),
        _ => derivative(act, z),
    }
}

/// Pre-activations z and activations a of every layer for one input, input layer included
/// (`a[0]` is the input, `z[0]` is empty).
pub fn forward_layers<R: Real>(
    model: &Model,
    theta: &[R],
    x: &[f64],
) -> (Vec<Vec<R>>, Vec<Vec<R>>) {
    let mut zs = vec![Vec::new()];
    let mut acts: Vec<Vec<R>> = vec![x.iter().map(|&v| R::from_f64(v)).collect()];
    for (l, lay) in model.layout().iter().enumerate() {
        let prev = &acts[l];
        let z: Vec<R> = (0..lay.outputs)
            .map(|i| {
                let row = &theta[lay.w + i * lay.inputs..lay.w + (i + 1) * lay.inputs];
                let bias = lay.b.map_or(zero(), |b| theta[b + i]);
                row.iter().zip(prev).fold(bias, |acc, (&w, &a)| acc + w * a)
            })
            .collect();
        let act = model.activation(l);
        acts.push(z.iter().map(|&v| activate(act, v)).collect());
        zs.push(z);
    }
    (zs, acts)
}

/// The network's output f(x; θ).
pub fn predict<R: Real>(model: &Model, theta: &[R], x: &[f64]) -> Vec<R> {
    let (_, mut acts) = forward_layers(model, theta, x);
    acts.pop().unwrap_or_default()
}

/// L(θ).
pub fn loss<R: Real>(model: &Model, data: &Dataset, theta: &[R]) -> R {
    let mut total = zero::<R>();
    for s in 0..data.len() {
        for (&f, &y) in predict(model, theta, data.input(s))
            .iter()
            .zip(data.target(s))
        {
            let e = f - R::from_f64(y);
            total = total + e * e;
        }
    }
    total / R::from_f64(data.len() as f64)
}

/// L(θ) and ∇L(θ) by backpropagation. The same operations in the same order as
/// `forward_layers` and the textbook backward pass, on flat buffers allocated once per call
/// (the polish calls this thousands of times per endpoint, through the Hessian).
pub fn loss_and_gradient<R: Real>(model: &Model, data: &Dataset, theta: &[R]) -> (R, Vec<R>) {
    let layout = model.layout();
    let widths = &model.widths;
    let last = model.layers();
    // Unit l, i of layer l (0 = input) sits at units[l] + i in `z` and `a`.
    let mut units = Vec::with_capacity(widths.len() + 1);
    units.push(0);
    for w in widths {
        units.push(units[units.len() - 1] + w);
    }
    let total_units = units[widths.len()];
    let widest = widths.iter().copied().max().unwrap_or(0);
    let n = R::from_f64(data.len() as f64);
    let two = R::from_f64(2.0);
    let mut grad = vec![zero::<R>(); theta.len()];
    let mut total = zero::<R>();
    let mut z = vec![zero::<R>(); total_units];
    let mut a = vec![zero::<R>(); total_units];
    let mut delta = vec![zero::<R>(); widest];
    let mut next = vec![zero::<R>(); widest];
    for s in 0..data.len() {
        for (slot, &x) in a[..widths[0]].iter_mut().zip(data.input(s)) {
            *slot = R::from_f64(x);
        }
        for (l, lay) in layout.iter().enumerate() {
            let act = model.activation(l);
            for i in 0..lay.outputs {
                let row = &theta[lay.w + i * lay.inputs..lay.w + (i + 1) * lay.inputs];
                let bias = lay.b.map_or(zero(), |b| theta[b + i]);
                let prev = &a[units[l]..units[l] + lay.inputs];
                let v = row.iter().zip(prev).fold(bias, |acc, (&w, &p)| acc + w * p);
                z[units[l + 1] + i] = v;
                a[units[l + 1] + i] = activate(act, v);
            }
        }
        // δ = ∂(loss of this sample)/∂z of the current layer, starting at the output.
        for (k, &y) in data.target(s).iter().enumerate() {
            let u = units[last] + k;
            let e = a[u] - R::from_f64(y);
            total = total + e * e;
            delta[k] = two * e / n * derivative_given(model.out_act, z[u], a[u]);
        }
        for l in (0..last).rev() {
            let lay = layout[l];
            for i in 0..lay.outputs {
                for j in 0..lay.inputs {
                    let g = &mut grad[lay.w + i * lay.inputs + j];
                    *g = *g + delta[i] * a[units[l] + j];
                }
                if let Some(b) = lay.b {
                    grad[b + i] = grad[b + i] + delta[i];
                }
            }
            if l > 0 {
                let act = model.activation(l - 1);
                for (j, slot) in next[..lay.inputs].iter_mut().enumerate() {
                    let back = (0..lay.outputs).fold(zero::<R>(), |acc, i| {
                        acc + theta[lay.w + i * lay.inputs + j] * delta[i]
                    });
                    let u = units[l] + j;
                    *slot = back * derivative_given(act, z[u], a[u]);
                }
                std::mem::swap(&mut delta, &mut next);
            }
        }
    }
    (total / n, grad)
}

/// Directions one forward-mode pass of `hessian` carries.
const HESSIAN_LANES: usize = 16;

/// The exact Hessian ∇²L(θ) (P × P, row-major), by forward-mode passes through the
/// backpropagation, each carrying `HESSIAN_LANES` columns: exact up to float64 rounding, with no
/// finite differences, and the same numbers as one `Dual` pass per column.
pub fn hessian(model: &Model, data: &Dataset, theta: &[f64]) -> Vec<f64> {
    let p = theta.len();
    let mut h = vec![0.0; p * p];
    for first in (0..p).step_by(HESSIAN_LANES) {
        let seeded: Vec<Duals<HESSIAN_LANES>> = theta
            .iter()
            .enumerate()
            .map(|(q, &v)| {
                let mut d = [0.0; HESSIAN_LANES];
                if (first..first + HESSIAN_LANES).contains(&q) {
                    d[q - first] = 1.0;
                }
                Duals { v, d }
            })
            .collect();
        let (_, g) = loss_and_gradient(model, data, &seeded);
        for (row, gr) in g.iter().enumerate() {
            for (k, &dk) in gr.d.iter().enumerate().take(p - first) {
                h[row * p + first + k] = dk;
            }
        }
    }
    // Symmetric in exact arithmetic; average away the rounding.
    for i in 0..p {
        for j in 0..i {
            let m = 0.5 * (h[i * p + j] + h[j * p + i]);
            h[i * p + j] = m;
            h[j * p + i] = m;
        }
    }
    h
}

/// Where one float64 walker ended.
#[derive(Debug, Clone, PartialEq)]
pub struct WalkEnd {
    /// Final θ.
    pub theta: Vec<f64>,
    /// L at the end.
    pub loss: f64,
    /// ‖∇L‖ at the end.
    pub grad_norm: f64,
    /// Steps taken.
    pub steps: u32,
    /// How it ended.
    pub status: Status,
}

/// One walker in float64, with the kernels' algorithm: at each step evaluate L and ∇L, then stop
/// on non-finite θ, ‖θ‖∞ > diverge, non-finite L or ∇L, ‖∇L‖ < tol, or the step budget, in that
/// order; otherwise v ← β·v − lr·∇L, θ ← θ + v.
pub fn walk(model: &Model, data: &Dataset, start: &[f64], s: &WalkSettings) -> WalkEnd {
    walk_rated(model, data, start, &vec![s.lr; model.layers()], s)
}

/// `walk` with a learning rate for each weight layer (`rates[l]` for the weights and biases of
/// layer l) in place of `s.lr`.
pub fn walk_rated(
    model: &Model,
    data: &Dataset,
    start: &[f64],
    rates: &[f64],
    s: &WalkSettings,
) -> WalkEnd {
    let rate: Vec<f64> = model.layer_of().iter().map(|&l| rates[l]).collect();
    let mut theta = start.to_vec();
    let mut velocity = vec![0.0; theta.len()];
    let mut step = 0;
    loop {
        let (loss, grad) = loss_and_gradient(model, data, &theta);
        let grad_norm = grad.iter().map(|g| g * g).sum::<f64>().sqrt();
        let max_abs = theta.iter().fold(0.0f64, |m, t| m.max(t.abs()));
        let status = if theta.iter().any(|t| !t.is_finite()) {
            Some(Status::NonFinite)
        } else if max_abs > s.diverge {
            Some(Status::Diverged)
        } else if !loss.is_finite() || !grad_norm.is_finite() {
            Some(Status::NonFinite)
        } else if grad_norm < s.tol {
            Some(Status::Converged)
        } else if step >= s.steps {
            Some(Status::MaxSteps)
        } else {
            None
        };
        if let Some(status) = status {
            return WalkEnd {
                theta,
                loss,
                grad_norm,
                steps: step,
                status,
            };
        }
        for (((t, v), g), r) in theta.iter_mut().zip(&mut velocity).zip(&grad).zip(&rate) {
            *v = s.momentum * *v - r * g;
            *t += *v;
        }
        step += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stream, normal};

    fn random_data(model: &Model, n: usize, seed: u64) -> Dataset {
        let x = (0..n * model.inputs())
            .map(|i| normal(seed, Stream::DataInputs, i as u64))
            .collect();
        // Targets in (0, 1) so that sigmoid outputs can reach them.
        let y = (0..n * model.outputs())
            .map(|i| 0.5 + 0.4 * normal(seed, Stream::Noise, i as u64).tanh())
            .collect();
        Dataset::new(model.inputs(), model.outputs(), x, y).expect("consistent data")
    }

    /// Central differences with step h have error O(h²·L''') ≈ 1e-10 at h = 1e-5, and rounding
    /// error ≈ 1e-16/h ≈ 1e-11; 1e-6 relative leaves room for curvature.
    #[test]
    fn gradient_equals_central_finite_differences_for_every_activation() {
        let mut checked = 0;
        for (k, widths) in ["2-3-1", "3-2-2", "2-3-2-1"].iter().enumerate() {
            for act in Activation::ALL {
                for out_act in [Activation::Linear, Activation::Sigmoid, Activation::Tanh] {
                    for bias in [true, false] {
                        let model = Model::new(widths, act, out_act, bias).expect("valid model");
                        let seed =
                            (k * 100 + act.code() as usize * 10 + out_act.code() as usize) as u64;
                        let data = random_data(&model, 7, seed);
                        let theta: Vec<f64> = (0..model.parameter_count())
                            .map(|i| normal(seed, Stream::Start, i as u64))
                            .collect();
                        let (_, grad) = loss_and_gradient(&model, &data, &theta);
                        let h = 1e-5;
                        for p in 0..theta.len() {
                            let mut up = theta.clone();
                            up[p] += h;
                            let mut down = theta.clone();
                            down[p] -= h;
                            let fd =
                                (loss(&model, &data, &up) - loss(&model, &data, &down)) / (2.0 * h);
                            let tol = 1e-6 * (1.0 + fd.abs());
                            // Random inputs put no ReLU pre-activation within h of its kink.
                            assert!(
                                (fd - grad[p]).abs() <= tol,
                                "{model}: ∂L/∂{} analytic {} vs finite difference {fd}",
                                model.parameter_name(p),
                                grad[p]
                            );
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert!(checked > 500);
    }

    /// Central differences of the exact gradient, step 1e-6: error O(h²) ≈ 1e-12 plus rounding
    /// ≈ 1e-16/h = 1e-10 relative to the gradient's size.
    #[test]
    fn hessian_equals_central_differences_of_the_gradient() {
        for (widths, act) in [
            ("2-3-1", Activation::Tanh),
            ("2-2-2", Activation::Sigmoid),
            ("2-3-2-1", Activation::Softplus),
        ] {
            let model = Model::new(widths, act, Activation::Tanh, true).expect("valid");
            let data = random_data(&model, 6, 11);
            let theta: Vec<f64> = (0..model.parameter_count())
                .map(|i| normal(12, Stream::Start, i as u64))
                .collect();
            let h = hessian(&model, &data, &theta);
            let p = theta.len();
            let step = 1e-6;
            for col in 0..p {
                let mut up = theta.clone();
                up[col] += step;
                let mut down = theta.clone();
                down[col] -= step;
                let (_, gu) = loss_and_gradient(&model, &data, &up);
                let (_, gd) = loss_and_gradient(&model, &data, &down);
                for row in 0..p {
                    let fd = (gu[row] - gd[row]) / (2.0 * step);
                    let exact = h[row * p + col];
                    assert!(
                        (fd - exact).abs() < 1e-7 * (1.0 + exact.abs()),
                        "{model}: H[{row},{col}] = {exact}, differences give {fd}"
                    );
                }
            }
        }
    }

    #[test]
    fn derivative_from_the_activation_equals_the_recomputed_one_bit_for_bit() {
        for act in Activation::ALL {
            for k in 0..2001 {
                let z = (k as f64 - 1000.0) * 0.0173;
                let a = activate(act, z);
                assert_eq!(
                    derivative_given(act, z, a).to_bits(),
                    derivative(act, z).to_bits(),
                    "{act:?} at {z}"
                );
                let zd = Duals {
                    v: z,
                    d: [1.0, -0.5, 3.0],
                };
                let (got, want) = (
                    derivative_given(act, zd, activate(act, zd)),
                    derivative(act, zd),
                );
                assert_eq!(got.v.to_bits(), want.v.to_bits(), "{act:?} at {z}");
                for (g, w) in got.d.iter().zip(want.d) {
                    assert_eq!(g.to_bits(), w.to_bits(), "{act:?} at {z}");
                }
            }
        }
    }

    /// Several directions per pass change no bit: each column equals one plain `Dual` pass
    /// (before symmetrisation), for widths below, at and above the lanes of a pass.
    #[test]
    fn hessian_columns_equal_single_direction_passes_bit_for_bit() {
        for (widths, act) in [
            ("1-1-1", Activation::Linear),
            ("2-3-1", Activation::Tanh),
            ("3-4-2", Activation::Sigmoid),
            ("2-4-4-1", Activation::Softplus),
            ("3-5-1", Activation::Relu),
        ] {
            let model = Model::new(widths, act, Activation::Linear, true).expect("valid");
            let data = random_data(&model, 5, 21);
            let theta: Vec<f64> = (0..model.parameter_count())
                .map(|i| normal(22, Stream::Start, i as u64))
                .collect();
            let p = theta.len();
            let h = hessian(&model, &data, &theta);
            let mut single = vec![0.0; p * p];
            for col in 0..p {
                let seeded: Vec<Dual> = theta
                    .iter()
                    .enumerate()
                    .map(|(q, &v)| Dual {
                        v,
                        d: f64::from(u8::from(q == col)),
                    })
                    .collect();
                let (_, g) = loss_and_gradient(&model, &data, &seeded);
                for (row, gr) in g.iter().enumerate() {
                    single[row * p + col] = gr.d;
                }
            }
            for i in 0..p {
                for j in 0..p {
                    let m = 0.5 * (single[i * p + j] + single[j * p + i]);
                    let want = if i == j { single[i * p + i] } else { m };
                    assert_eq!(
                        h[i * p + j].to_bits(),
                        want.to_bits(),
                        "{model}: H[{i},{j}]"
                    );
                }
            }
        }
    }

    #[test]
    fn loss_of_the_gradient_pass_equals_the_plain_loss() {
        let model =
            Model::new("2-4-4-1", Activation::Softplus, Activation::Tanh, true).expect("valid");
        let data = random_data(&model, 9, 3);
        let theta: Vec<f64> = (0..model.parameter_count())
            .map(|i| normal(5, Stream::Start, i as u64))
            .collect();
        let (l, _) = loss_and_gradient(&model, &data, &theta);
        assert!((l - loss(&model, &data, &theta)).abs() < 1e-14);
    }
}
