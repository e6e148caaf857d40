//! CPU twin of `shaders/common.wgsl`: activations and the loss and gradient of one network,
//! computed for `LANES` parameter points at once in structure-of-arrays form, so that the compiler
//! vectorises across points (or walkers). Loop order and constants are the shader's, so the two
//! backends compute the same sums.

use crate::backend::KernelModel;

/// Points processed together; one AVX2 register of float32.
pub const LANES: usize = 8;

/// One value per lane.
pub type Lanes = [f32; LANES];

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

/// Working memory of `loss_and_gradient`, one per thread.
pub struct Scratch {
    a: Vec<Lanes>,
    d: Vec<Lanes>,
}

impl Scratch {
    /// Working memory for `km`.
    pub fn new(km: &KernelModel) -> Scratch {
        Scratch {
            a: vec![[0.0; LANES]; km.units],
            d: vec![[0.0; LANES]; km.units],
        }
    }
}

/// L(θ) for `LANES` points θ (`theta[p][k]` is parameter p of point k), with ∇L written into
/// `grad` alike — the CPU twin of common.wgsl's `loss_and_gradient`. `data` holds inputs
/// (n × in) then targets (n × out).
pub fn loss_and_gradient(
    km: &KernelModel,
    n: usize,
    data: &[f32],
    theta: &[Lanes],
    grad: &mut [Lanes],
    s: &mut Scratch,
) -> Lanes {
    let (ni_all, no_all) = (km.inputs(), km.outputs());
    let layers = km.layers();
    let y_base = n * ni_all;
    let (a, d) = (&mut s.a, &mut s.d);
    for g in grad.iter_mut() {
        *g = [0.0; LANES];
    }
    let mut total = [0.0f32; LANES];
    for smp in 0..n {
        for j in 0..ni_all {
            a[j] = [data[smp * ni_all + j]; LANES];
        }
        for l in 0..layers {
            let (ni, no) = (km.widths[l], km.widths[l + 1]);
            let code = if l == layers - 1 { km.out_act } else { km.act };
            let (ui, uo, w) = (km.unit_offsets[l], km.unit_offsets[l + 1], km.w_offsets[l]);
            for i in 0..no {
                let mut z = if km.bias {
                    theta[km.b_offsets[l] + i]
                } else {
                    [0.0; LANES]
                };
                for j in 0..ni {
                    let (wt, aj) = (&theta[w + i * ni + j], &a[ui + j]);
                    for k in 0..LANES {
                        z[k] += wt[k] * aj[k];
                    }
                }
                let (mut v, mut dv) = ([0.0; LANES], [0.0; LANES]);
                for k in 0..LANES {
                    v[k] = act(code, z[k]);
                    dv[k] = act_deriv(code, z[k], v[k]);
                }
                a[uo + i] = v;
                d[uo + i] = dv;
            }
        }
        let lo = km.unit_offsets[layers];
        for o in 0..no_all {
            let y = data[y_base + smp * no_all + o];
            for k in 0..LANES {
                let e = a[lo + o][k] - y;
                total[k] += e * e;
                d[lo + o][k] *= 2.0 * e;
            }
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
                    let (g, aj) = (&mut grad[w + i * ni + j], &a[ui + j]);
                    for k in 0..LANES {
                        g[k] += delta[k] * aj[k];
                    }
                }
                if km.bias {
                    let g = &mut grad[km.b_offsets[l - 1] + i];
                    for k in 0..LANES {
                        g[k] += delta[k];
                    }
                }
            }
            if l > 1 {
                for j in 0..ni {
                    let mut back = [0.0f32; LANES];
                    for i in 0..no {
                        let (wt, di) = (&theta[w + i * ni + j], &d[uo + i]);
                        for k in 0..LANES {
                            back[k] += wt[k] * di[k];
                        }
                    }
                    for k in 0..LANES {
                        d[ui + j][k] *= back[k];
                    }
                }
            }
        }
    }
    let inv = 1.0 / n as f32;
    for g in grad.iter_mut() {
        for v in g.iter_mut() {
            *v *= inv;
        }
    }
    total.map(|t| t * inv)
}

/// ‖g‖₂ per lane, summed in parameter order as the shaders do.
pub fn norms(grad: &[Lanes]) -> Lanes {
    let mut sq = [0.0f32; LANES];
    for g in grad {
        for k in 0..LANES {
            sq[k] += g[k] * g[k];
        }
    }
    sq.map(f32::sqrt)
}
