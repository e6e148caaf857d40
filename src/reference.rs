//! The float64 reference: forward pass, loss L(θ) = (1/N) Σ_i ‖f(x_i; θ) − y_i‖² and its
//! gradient by backpropagation. This is the definition every backend is tested against, written
//! for clarity rather than speed.

use crate::spec::data::Dataset;
use crate::spec::model::{Activation, Model};
use crate::spec::walk::{Status, WalkSettings};

/// a(z) in float64.
pub fn activate(act: Activation, z: f64) -> f64 {
    match act {
        Activation::Tanh => z.tanh(),
        Activation::Sigmoid => 1.0 / (1.0 + (-z).exp()),
        Activation::Relu => z.max(0.0),
        // max(z, 0) + ln(1 + e^−|z|) never overflows.
        Activation::Softplus => z.max(0.0) + (-z.abs()).exp().ln_1p(),
        Activation::Linear => z,
    }
}

/// a'(z) in float64 (ReLU's derivative at 0 is taken as 0).
pub fn derivative(act: Activation, z: f64) -> f64 {
    match act {
        Activation::Tanh => 1.0 - z.tanh().powi(2),
        Activation::Sigmoid => {
            let s = activate(Activation::Sigmoid, z);
            s * (1.0 - s)
        }
        Activation::Relu => {
            if z > 0.0 {
                1.0
            } else {
                0.0
            }
        }
        Activation::Softplus => activate(Activation::Sigmoid, z),
        Activation::Linear => 1.0,
    }
}

/// Pre-activations z and activations a of every layer for one input, input layer included
/// (`a[0]` is the input, `z[0]` is empty).
pub fn forward_layers(model: &Model, theta: &[f64], x: &[f64]) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let mut zs = vec![Vec::new()];
    let mut acts = vec![x.to_vec()];
    for (l, lay) in model.layout().iter().enumerate() {
        let prev = &acts[l];
        let z: Vec<f64> = (0..lay.outputs)
            .map(|i| {
                let row = &theta[lay.w + i * lay.inputs..lay.w + (i + 1) * lay.inputs];
                let bias = lay.b.map_or(0.0, |b| theta[b + i]);
                bias + row.iter().zip(prev).map(|(w, a)| w * a).sum::<f64>()
            })
            .collect();
        let act = model.activation(l);
        acts.push(z.iter().map(|&v| activate(act, v)).collect());
        zs.push(z);
    }
    (zs, acts)
}

/// The network's output f(x; θ).
pub fn predict(model: &Model, theta: &[f64], x: &[f64]) -> Vec<f64> {
    let (_, mut acts) = forward_layers(model, theta, x);
    acts.pop().unwrap_or_default()
}

/// L(θ).
pub fn loss(model: &Model, data: &Dataset, theta: &[f64]) -> f64 {
    let total: f64 = (0..data.len())
        .map(|s| {
            predict(model, theta, data.input(s))
                .iter()
                .zip(data.target(s))
                .map(|(f, y)| (f - y).powi(2))
                .sum::<f64>()
        })
        .sum();
    total / data.len() as f64
}

/// L(θ) and ∇L(θ) by backpropagation.
pub fn loss_and_gradient(model: &Model, data: &Dataset, theta: &[f64]) -> (f64, Vec<f64>) {
    let layout = model.layout();
    let n = data.len() as f64;
    let mut grad = vec![0.0; theta.len()];
    let mut total = 0.0;
    for s in 0..data.len() {
        let (zs, acts) = forward_layers(model, theta, data.input(s));
        let last = model.layers();
        // δ = ∂(loss of this sample)/∂z of the current layer, starting at the output.
        let mut delta: Vec<f64> = acts[last]
            .iter()
            .zip(data.target(s))
            .zip(&zs[last])
            .map(|((f, y), z)| {
                total += (f - y).powi(2);
                2.0 * (f - y) / n * derivative(model.out_act, *z)
            })
            .collect();
        for l in (0..last).rev() {
            let lay = layout[l];
            for i in 0..lay.outputs {
                for j in 0..lay.inputs {
                    grad[lay.w + i * lay.inputs + j] += delta[i] * acts[l][j];
                }
                if let Some(b) = lay.b {
                    grad[b + i] += delta[i];
                }
            }
            if l > 0 {
                let act = model.activation(l - 1);
                delta = (0..lay.inputs)
                    .map(|j| {
                        let back: f64 = (0..lay.outputs)
                            .map(|i| theta[lay.w + i * lay.inputs + j] * delta[i])
                            .sum();
                        back * derivative(act, zs[l][j])
                    })
                    .collect();
            }
        }
    }
    (total / n, grad)
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
        for ((t, v), g) in theta.iter_mut().zip(&mut velocity).zip(&grad) {
            *v = s.momentum * *v - s.lr * g;
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
