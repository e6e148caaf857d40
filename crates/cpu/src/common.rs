//! CPU twin of `landscape-gpu`'s `shaders/common.wgsl`: the activations and their derivatives
//! on vectors of `L` lanes (`simd::Simd`), without libm calls so that they run at full vector
//! width. Everything is `#[inline(always)]`, so it is compiled into each instruction-set variant
//! of the kernels (`super::isa`).

use super::simd::Simd;

/// One value per lane.
pub type Lanes<const L: usize> = [f32; L];

/// a·b + c, fused (one rounding) when `F`.
#[inline(always)]
pub fn fma<const F: bool>(a: f32, b: f32, c: f32) -> f32 {
    if F { a.mul_add(b, c) } else { a * b + c }
}

/// a·b + c rounded as `S` rounds its products (fused or not), for scalar loops.
#[inline(always)]
pub fn fma_as<const L: usize, S: Simd<L>>(a: f32, b: f32, c: f32) -> f32 {
    if S::FUSED { a.mul_add(b, c) } else { a * b + c }
}

/// e^y − 1: y = n·ln 2 + r with |r| ≤ ln2/2, e^r − 1 by its degree-8 Taylor polynomial
/// (truncation below 2e-9 relative), then 2ⁿ·(e^r − 1) + (2ⁿ − 1), exact in the scaling.
/// Valid for y in [−87, 88].
#[inline(always)]
pub fn expm1<const L: usize, S: Simd<L>>(y: S) -> S {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split so that n·LN2_HI is exact for |n| < 2⁸.
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // Round to nearest with the 1.5·2²³ trick: plain additions, and t's low bits hold n.
    const ROUND: f32 = 12_582_912.0;
    let t = y.mul(S::splat(LOG2E)).add(S::splat(ROUND));
    let n = t.sub(S::splat(ROUND));
    let r = n.fma(S::splat(-LN2_LO), n.fma(S::splat(-LN2_HI), y));
    let mut p = S::splat(1.0 / 40320.0);
    for c in [
        1.0 / 5040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        1.0 / 2.0,
        1.0,
    ] {
        p = p.fma(r, S::splat(c));
    }
    let p = p.mul(r);
    let scale = t.pow2_from_rounded();
    scale.fma(p, scale.sub(S::splat(1.0)))
}

/// `tanh`'s numerator, coefficients of z⁰, z², …, z⁸.
pub const TANH_P: [f32; 5] = [
    1.0,
    0.133_810_3,
    0.003_495_592_9,
    2.060_916e-5,
    1.335_476_5e-8,
];
/// `tanh`'s denominator, as `TANH_P`.
pub const TANH_Q: [f32; 5] = [1.0, 0.467_143_45, 0.025_877, 3.285_642_6e-4, 7.776_601_5e-7];
/// `tanh`'s clamp on z.
pub const TANH_CLAMP: f32 = 8.018_211;

/// tanh(z) ≈ z·P(z²)/Q(z²), a minimax rational approximation of degrees 9/8 in z fitted on
/// [0, 9] (relative error 2.1e-8 in exact arithmetic; `scripts/fit-tanh.py` derives the
/// coefficients): within 6.5 ulp of the exact value in float32, fused or not (tested; 5.6 ulp
/// fused and 6.25 ulp not fused over every float32 argument in [2⁻¹⁰, 8.5]), odd by construction
/// and exact near 0. z is clamped at ±8.018211, the smallest argument from which the float32
/// evaluation reaches 1, and the result at ±1, so |tanh| ≤ 1 and tanh(±∞) = ±1. Fifteen vector
/// operations with one division, against 26 for e/(e + 2) with e = e^{2|z|} − 1; P and Q of equal
/// degree make two Horner chains of four steps each, so the latency of one tanh is that of four
/// multiply–adds (a fit of degrees 13/6 takes six, and nine multiply–adds in all, for 6 ulp;
/// the fits with seven multiply–adds stay above 10 ulp).
#[inline(always)]
pub fn tanh<const L: usize, S: Simd<L>>(z: S) -> S {
    const P: [f32; 5] = TANH_P;
    const Q: [f32; 5] = TANH_Q;
    const CLAMP: f32 = TANH_CLAMP;
    let x = z.min(S::splat(CLAMP)).max(S::splat(-CLAMP));
    let t = x.mul(x);
    let (mut p, mut q) = (S::splat(P[4]), S::splat(Q[4]));
    for k in (0..4).rev() {
        p = p.fma(t, S::splat(P[k]));
        q = q.fma(t, S::splat(Q[k]));
    }
    let one = S::splat(1.0);
    x.mul(p).div(q).min(one).max(S::splat(-1.0))
}

/// σ(z) = 1/(1 + e^{−z}), with z clamped to ±80 as in common.wgsl.
#[inline(always)]
pub fn sigmoid<const L: usize, S: Simd<L>>(z: S) -> S {
    let m = S::splat(0.0).sub(z.min(S::splat(80.0)).max(S::splat(-80.0)));
    S::splat(1.0).div(S::splat(2.0).add(expm1::<L, S>(m)))
}

/// a(z) and a'(z) as common.wgsl's `act` and `act_deriv` (codes from `Activation::code`); tanh
/// by the rational approximation above, which the shaders use too (`tanh_rational`), and the
/// sigmoid by `sigmoid`, which agrees with the shaders' built-in exp to a few ulp.
#[inline(always)]
pub fn activate<const L: usize, S: Simd<L>>(code: u32, z: S) -> (S, S) {
    let one = S::splat(1.0);
    match code {
        0 => {
            let a = tanh::<L, S>(z);
            (a, a.fnma(a, one))
        }
        1 => {
            let a = sigmoid::<L, S>(z);
            (a, a.mul(one.sub(a)))
        }
        2 => (z.max(S::splat(0.0)), z.positive()),
        3 => (
            z.map(|v| v.max(0.0) + (1.0 + (-v.abs()).exp()).ln()),
            sigmoid::<L, S>(z),
        ),
        _ => (z, one),
    }
}

/// ‖g‖₂ per lane, summed in parameter order as the shaders do.
#[inline(always)]
pub fn norms<const L: usize, S: Simd<L>>(grad: &[Lanes<L>]) -> Lanes<L> {
    let mut sq = S::splat(0.0);
    for g in grad {
        let g = S::load(g);
        sq = g.fma(g, sq);
    }
    sq.sqrt().store()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::Arr;

    /// ulps between a float32 result and the exact value.
    fn ulps(got: f32, exact: f64) -> f64 {
        let e = exact as f32;
        let ulp = f64::from(f32::from_bits(e.abs().to_bits() + 1) - e.abs());
        (f64::from(got) - exact).abs() / ulp
    }

    /// The worst error of `f` (on 8 lanes of `S`) against `exact` over `zs`.
    fn worst<S: Simd<8>>(zs: &[f32], f: fn(S) -> S, exact: fn(f64) -> f64) -> f64 {
        let mut worst: f64 = 0.0;
        for chunk in zs.chunks(8) {
            let mut z = [chunk[0]; 8];
            z[..chunk.len()].copy_from_slice(chunk);
            let got = f(S::load(&z)).store();
            for k in 0..chunk.len() {
                worst = worst.max(ulps(got[k], exact(f64::from(z[k]))));
            }
        }
        worst
    }

    fn tanh_inputs() -> Vec<f32> {
        let mut zs: Vec<f32> = (-2_000_000..=2_000_000).map(|i| i as f32 * 1e-5).collect();
        // Every float32 in [4, 8.5], where the errors are largest (odd: one sign suffices).
        zs.extend((4.0f32.to_bits()..=8.5f32.to_bits()).map(f32::from_bits));
        for i in 0..=200_000 {
            let z = 1e-8 * 1.0001f32.powi(i);
            zs.extend([z, -z]);
        }
        zs
    }

    /// Runs `check` for every vector type this processor can run.
    fn each_simd(check: impl Fn(&str, &dyn Fn(&[f32]) -> (f64, f64))) {
        check("portable", &|zs| {
            (
                worst::<Arr<8, false>>(zs, tanh::<8, _>, f64::tanh),
                worst::<Arr<8, false>>(zs, sigmoid::<8, _>, |z| 1.0 / (1.0 + (-z).exp())),
            )
        });
        check("portable fused", &|zs| {
            (
                worst::<Arr<8, true>>(zs, tanh::<8, _>, f64::tanh),
                worst::<Arr<8, true>>(zs, sigmoid::<8, _>, |z| 1.0 / (1.0 + (-z).exp())),
            )
        });
        #[cfg(target_arch = "x86_64")]
        if crate::isa::Isa::tested().contains(&crate::isa::Isa::Avx2) {
            use crate::simd::Avx2;
            check("avx2", &|zs| {
                (
                    worst::<Avx2>(zs, tanh::<8, _>, f64::tanh),
                    worst::<Avx2>(zs, sigmoid::<8, _>, |z| 1.0 / (1.0 + (-z).exp())),
                )
            });
        }
    }

    #[test]
    fn fast_tanh_within_six_and_a_half_ulp_and_sigmoid_within_three_everywhere() {
        let tz = tanh_inputs();
        let sz: Vec<f32> = (-1_000_000..=1_000_000).map(|i| i as f32 * 8e-5).collect();
        each_simd(|name, f| {
            let (t, _) = f(&tz);
            let (_, s) = f(&sz);
            assert!(t <= 6.5, "{name}: tanh error {t} ulp");
            assert!(s <= 3.0, "{name}: sigmoid error {s} ulp");
        });
        let ends =
            tanh::<8, Arr<8, false>>(Arr::load(&[0.0, 100.0, -1e30, -0.0, 9.5, -9.5, 1e-30, 5.0]))
                .store();
        assert_eq!(&ends[..6], &[0.0, 1.0, -1.0, 0.0, 1.0, -1.0]);
        for fused in [false, true] {
            let big = tz
                .iter()
                .chain(&[8.0, 8.018_211, 8.139_846, 8.5, 9.0, 20.0])
                .map(|&z| {
                    let t = if fused {
                        tanh::<8, Arr<8, true>>(Arr::load(&[z; 8])).store()[0]
                    } else {
                        tanh::<8, Arr<8, false>>(Arr::load(&[z; 8])).store()[0]
                    };
                    t.abs()
                });
            assert!(big.fold(0.0f32, f32::max) <= 1.0, "|tanh| > 1");
        }
    }
}
