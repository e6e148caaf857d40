//! CPU twin of `shaders/common.wgsl`: activations and the loss and gradient of one network,
//! computed for `LANES` parameter points at once in structure-of-arrays form, so that the compiler
//! vectorises across points (or walkers). Loop order and constants are the shader's, so the two
//! backends compute the same sums.

use crate::backend::KernelModel;

/// Points processed together; one AVX2 register of float32.
pub const LANES: usize = 8;

/// One value per lane.
pub type Lanes = [f32; LANES];

/// e^y − 1 in float32 without a libm call, so that loops over lanes vectorise: y = n·ln 2 + r
/// with |r| ≤ ln2/2, e^r − 1 by its degree-8 Taylor polynomial (truncation below 2e-9 relative),
/// then 2ⁿ·(e^r − 1) + (2ⁿ − 1), exact in the scaling. Valid for y in [−87, 88].
#[inline]
pub fn expm1(y: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split so that n·LN2_HI is exact for |n| < 2⁸.
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // Round to nearest with the 1.5·2²³ trick: plain additions, vectorisable on any x86-64.
    const ROUND: f32 = 12_582_912.0;
    let n = (y * LOG2E + ROUND) - ROUND;
    let r = (y - n * LN2_HI) - n * LN2_LO;
    let p = r
        * (1.0
            + r * (1.0 / 2.0
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0
                        + r * (1.0 / 120.0
                            + r * (1.0 / 720.0 + r * (1.0 / 5040.0 + r * (1.0 / 40320.0))))))));
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    scale * p + (scale - 1.0)
}

/// tanh(z) = sign(z)·e/(e + 2) with e = e^{2|z|} − 1: within 3 ulp of the exact value (tested),
/// and vectorisable. Clamped at |z| = 9, where tanh is 1 in float32.
#[inline]
pub fn tanh(z: f32) -> f32 {
    let e = expm1(2.0 * z.abs().min(9.0));
    (e / (e + 2.0)).copysign(z)
}

/// σ(z) = 1/(1 + e^{−z}), with z clamped to ±80 as in common.wgsl.
#[inline]
pub fn sigmoid(z: f32) -> f32 {
    1.0 / (2.0 + expm1(-z.clamp(-80.0, 80.0)))
}

/// a(z) as common.wgsl's `act` computes it (codes from `Activation::code`); tanh and the sigmoid
/// by the vectorisable functions above, which agree with the shaders' built-ins to a few ulp.
#[inline]
pub fn act(code: u32, z: f32) -> f32 {
    match code {
        0 => tanh(z),
        1 => sigmoid(z),
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
        3 => sigmoid(z),
        _ => 1.0,
    }
}

/// a(z) and a'(z) for every lane, with the activation chosen once outside the lane loop so that
/// the loop vectorises.
#[inline]
fn activate(code: u32, z: &Lanes) -> (Lanes, Lanes) {
    let (mut v, mut dv) = ([0.0; LANES], [0.0; LANES]);
    macro_rules! lanes {
        ($code:literal) => {
            for k in 0..LANES {
                v[k] = act($code, z[k]);
                dv[k] = act_deriv($code, z[k], v[k]);
            }
        };
    }
    match code {
        0 => lanes!(0),
        1 => lanes!(1),
        2 => lanes!(2),
        3 => lanes!(3),
        _ => lanes!(4),
    }
    (v, dv)
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
                let (v, dv) = activate(code, &z);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// ulps between a float32 result and the exact value.
    fn ulps(got: f32, exact: f64) -> f64 {
        let e = exact as f32;
        let ulp = f64::from(f32::from_bits(e.abs().to_bits() + 1) - e.abs());
        (f64::from(got) - exact).abs() / ulp
    }

    #[test]
    fn fast_tanh_is_within_three_ulp_everywhere() {
        let mut worst: f64 = 0.0;
        for i in -2_000_000..=2_000_000 {
            let z = i as f32 * 1e-5;
            worst = worst.max(ulps(tanh(z), f64::from(z).tanh()));
        }
        for i in 0..=200_000 {
            let z = 1e-8 * 1.0001f32.powi(i);
            worst = worst.max(ulps(tanh(z), f64::from(z).tanh()));
            worst = worst.max(ulps(tanh(-z), f64::from(-z).tanh()));
        }
        assert!(worst <= 3.0, "tanh error {worst} ulp");
        assert_eq!((tanh(0.0), tanh(100.0), tanh(-1e30)), (0.0, 1.0, -1.0));
    }

    #[test]
    fn fast_sigmoid_is_within_three_ulp_everywhere() {
        let mut worst: f64 = 0.0;
        for i in -1_000_000..=1_000_000 {
            let z = i as f32 * 8e-5;
            worst = worst.max(ulps(sigmoid(z), 1.0 / (1.0 + (-f64::from(z)).exp())));
        }
        assert!(worst <= 3.0, "sigmoid error {worst} ulp");
    }
}
