//! CPU twin of `shaders/eval.wgsl`: L and ∇L at many points, in float32, with the shader's
//! loop order and constants, so the two backends compute the same sums.

use crate::backend::{Evaluation, KernelModel, LatticeF32};
use rayon::prelude::*;

/// Points per rayon task: large enough to amortise scheduling, small enough to balance 2–128 cores.
const POINTS_PER_TASK: usize = 256;

/// Where the points come from (the shader's `mode`).
#[derive(Clone, Copy)]
pub enum Points<'a> {
    /// Lattice points `first..first + count` (mode 0).
    Lattice {
        /// The lattice.
        lattice: &'a LatticeF32,
        /// Global index of the first point.
        first: u32,
    },
    /// Explicit points, row-major count × P (mode 1).
    Explicit(&'a [f32]),
}

/// a(z) as common.wgsl's `act` computes it (codes from `Activation::code`).
#[inline]
pub fn act(code: u32, z: f32) -> f32 {
    match code {
        // Clamped: tanh(±15) is ±1 in float32, and some drivers' tanh overflows to NaN beyond.
        0 => z.clamp(-15.0, 15.0).tanh(),
        1 => 1.0 / (1.0 + (-z.clamp(-80.0, 80.0)).exp()),
        2 => z.max(0.0),
        3 => z.max(0.0) + (1.0 + (-z.abs()).exp()).ln(),
        _ => z,
    }
}

/// a'(z) given z and a = a(z), as common.wgsl's `act_deriv`.
#[inline]
pub fn act_deriv(code: u32, z: f32, a: f32) -> f32 {
    match code {
        0 => 1.0 - a * a,
        1 => a * (1.0 - a),
        2 => {
            if z > 0.0 {
                1.0
            } else {
                0.0
            }
        }
        3 => 1.0 / (1.0 + (-z.clamp(-80.0, 80.0)).exp()),
        _ => 1.0,
    }
}

/// Per-thread working memory of `loss_and_gradient`.
pub struct Scratch {
    a: Vec<f32>,
    d: Vec<f32>,
}

impl Scratch {
    /// Working memory for `km`.
    pub fn new(km: &KernelModel) -> Scratch {
        Scratch {
            a: vec![0.0; km.units],
            d: vec![0.0; km.units],
        }
    }
}

/// L(θ), with ∇L(θ) written into `grad` — the CPU twin of common.wgsl's `loss_and_gradient`.
/// `data` holds inputs (n × in) then targets (n × out).
pub fn loss_and_gradient(
    km: &KernelModel,
    n: usize,
    data: &[f32],
    theta: &[f32],
    grad: &mut [f32],
    s: &mut Scratch,
) -> f32 {
    let (ni_all, no_all) = (km.inputs(), km.outputs());
    let layers = km.layers();
    let y_base = n * ni_all;
    let (a, d) = (&mut s.a, &mut s.d);
    grad.fill(0.0);
    let mut total = 0.0f32;
    for smp in 0..n {
        a[..ni_all].copy_from_slice(&data[smp * ni_all..(smp + 1) * ni_all]);
        for l in 0..layers {
            let (ni, no) = (km.widths[l], km.widths[l + 1]);
            let code = if l == layers - 1 { km.out_act } else { km.act };
            let (ui, uo, w) = (km.unit_offsets[l], km.unit_offsets[l + 1], km.w_offsets[l]);
            for i in 0..no {
                let mut z = if km.bias {
                    theta[km.b_offsets[l] + i]
                } else {
                    0.0
                };
                for j in 0..ni {
                    z += theta[w + i * ni + j] * a[ui + j];
                }
                let v = act(code, z);
                a[uo + i] = v;
                d[uo + i] = act_deriv(code, z, v);
            }
        }
        let lo = km.unit_offsets[layers];
        for k in 0..no_all {
            let e = a[lo + k] - data[y_base + smp * no_all + k];
            total += e * e;
            d[lo + k] *= 2.0 * e;
        }
        for l in (1..=layers).rev() {
            let (ni, no) = (km.widths[l - 1], km.widths[l]);
            let (ui, uo, w) = (
                km.unit_offsets[l - 1],
                km.unit_offsets[l],
                km.w_offsets[l - 1],
            );
            for i in 0..no {
                let delta = d[uo + i];
                for j in 0..ni {
                    grad[w + i * ni + j] += delta * a[ui + j];
                }
                if km.bias {
                    grad[km.b_offsets[l - 1] + i] += delta;
                }
            }
            if l > 1 {
                for j in 0..ni {
                    let mut back = 0.0f32;
                    for i in 0..no {
                        back += theta[w + i * ni + j] * d[uo + i];
                    }
                    d[ui + j] *= back;
                }
            }
        }
    }
    let inv = 1.0 / n as f32;
    for g in grad.iter_mut() {
        *g *= inv;
    }
    total * inv
}

/// L, ‖∇L‖ and optionally ∇L at `count` points. Outputs start as NaN, so a point the kernel
/// skipped can never pass for a computed one.
pub fn eval(
    km: &KernelModel,
    n: usize,
    data: &[f32],
    points: Points<'_>,
    count: usize,
    save_grad: bool,
) -> Evaluation {
    let p = km.parameters;
    let mut loss = vec![f32::NAN; count];
    let mut grad_norm = vec![f32::NAN; count];
    let mut grad = if save_grad {
        vec![f32::NAN; count * p]
    } else {
        Vec::new()
    };
    let gstride = if save_grad { p * POINTS_PER_TASK } else { 0 };
    let grad_chunks: Vec<&mut [f32]> = if save_grad {
        grad.chunks_mut(gstride).collect()
    } else {
        (0..count.div_ceil(POINTS_PER_TASK))
            .map(|_| &mut [][..])
            .collect()
    };
    loss.par_chunks_mut(POINTS_PER_TASK)
        .zip(grad_norm.par_chunks_mut(POINTS_PER_TASK))
        .zip(grad_chunks)
        .enumerate()
        .for_each(|(c, ((ls, gn), gs))| {
            let mut scratch = Scratch::new(km);
            let mut theta = vec![0.0f32; p];
            let mut g = vec![0.0f32; p];
            for k in 0..ls.len() {
                let idx = c * POINTS_PER_TASK + k;
                match points {
                    Points::Lattice { lattice, first } => {
                        lattice.point(first + idx as u32, &mut theta)
                    }
                    Points::Explicit(pts) => theta.copy_from_slice(&pts[idx * p..(idx + 1) * p]),
                }
                ls[k] = loss_and_gradient(km, n, data, &theta, &mut g, &mut scratch);
                gn[k] = g.iter().map(|v| v * v).sum::<f32>().sqrt();
                if save_grad {
                    gs[k * p..(k + 1) * p].copy_from_slice(&g);
                }
            }
        });
    Evaluation {
        loss,
        grad_norm,
        grad: save_grad.then_some(grad),
    }
}
