//! The loss and gradient of one network for `L` parameter points at once: a general kernel for
//! any depth and width, and kernels specialised to the shape of one-hidden-layer networks, whose
//! parameters and activations then live in registers. Both compute the same sums in the same
//! order (the shaders' order: biases first, then inputs in index order).

use super::common::{Lanes, activate};
use super::simd::Simd;
use crate::backend::KernelModel;

/// Loss and gradient of one network shape for `L` points (`theta[p][k]` is parameter p of point
/// k), with ∇L written into `grad` alike. `data` holds inputs (n × in) then targets (n × out).
pub trait Net<const L: usize> {
    /// Working memory, one per thread.
    type Scratch;

    /// Working memory for `km`.
    fn scratch(km: &KernelModel) -> Self::Scratch;

    /// L(θ) for each lane, ∇L into `grad`.
    fn loss_and_gradient<S: Simd<L>>(
        km: &KernelModel,
        n: usize,
        data: &[f32],
        theta: &[Lanes<L>],
        grad: &mut [Lanes<L>],
        scratch: &mut Self::Scratch,
    ) -> Lanes<L>;

    /// As `loss_and_gradient`, with the activations of some hidden units of a one-hidden-layer
    /// network read from `hidden` instead of computed (`eval::Reuse`). Networks without that
    /// specialisation compute everything.
    #[inline(always)]
    fn loss_and_gradient_with<S: Simd<L>>(
        km: &KernelModel,
        n: usize,
        data: &[f32],
        theta: &[Lanes<L>],
        grad: &mut [Lanes<L>],
        scratch: &mut Self::Scratch,
        hidden: &[Hidden<'_>],
    ) -> Lanes<L> {
        let _ = hidden;
        Self::loss_and_gradient::<S>(km, n, data, theta, grad, scratch)
    }

    /// Whether `loss_and_gradient_with` reads `hidden`.
    const REUSES: bool = false;
}

/// Where the kernel finds one hidden unit's activation a(z) and derivative a'(z) for sample s.
#[derive(Clone, Copy)]
pub enum Hidden<'a> {
    /// Computed from θ, as usual.
    Compute,
    /// The same for every lane: `h[s]`, `dh[s]`.
    Splat {
        /// a(z) per sample.
        h: &'a [f32],
        /// a'(z) per sample.
        dh: &'a [f32],
    },
    /// One value per lane: `h[s·stride + at + k]` for lane k.
    Lanes {
        /// a(z), sample-major.
        h: &'a [f32],
        /// a'(z), alike.
        dh: &'a [f32],
        /// Values per sample.
        stride: usize,
        /// Where lane 0 reads.
        at: usize,
    },
}

/// Any multilayer perceptron, widths read at run time.
pub struct General;

/// Activations and their derivatives of every unit, for one sample.
pub struct GeneralScratch<const L: usize> {
    a: Vec<Lanes<L>>,
    d: Vec<Lanes<L>>,
}

impl<const L: usize> Net<L> for General {
    type Scratch = GeneralScratch<L>;

    fn scratch(km: &KernelModel) -> GeneralScratch<L> {
        GeneralScratch {
            a: vec![[0.0; L]; km.units],
            d: vec![[0.0; L]; km.units],
        }
    }

    #[inline(always)]
    fn loss_and_gradient<S: Simd<L>>(
        km: &KernelModel,
        n: usize,
        data: &[f32],
        theta: &[Lanes<L>],
        grad: &mut [Lanes<L>],
        s: &mut GeneralScratch<L>,
    ) -> Lanes<L> {
        let (ni_all, no_all) = (km.inputs(), km.outputs());
        let layers = km.layers();
        let y_base = n * ni_all;
        let (a, d) = (&mut s.a, &mut s.d);
        for g in grad.iter_mut() {
            *g = [0.0; L];
        }
        let mut total = S::splat(0.0);
        for smp in 0..n {
            for j in 0..ni_all {
                a[j] = [data[smp * ni_all + j]; L];
            }
            for l in 0..layers {
                let (ni, no) = (km.widths[l], km.widths[l + 1]);
                let code = if l == layers - 1 { km.out_act } else { km.act };
                let (ui, uo, w) = (km.unit_offsets[l], km.unit_offsets[l + 1], km.w_offsets[l]);
                for i in 0..no {
                    let mut z = if km.bias {
                        S::load(&theta[km.b_offsets[l] + i])
                    } else {
                        S::splat(0.0)
                    };
                    for j in 0..ni {
                        z = S::load(&theta[w + i * ni + j]).fma(S::load(&a[ui + j]), z);
                    }
                    let (v, dv) = activate::<L, S>(code, z);
                    a[uo + i] = v.store();
                    d[uo + i] = dv.store();
                }
            }
            let lo = km.unit_offsets[layers];
            for o in 0..no_all {
                let e = S::load(&a[lo + o]).sub(S::splat(data[y_base + smp * no_all + o]));
                total = e.fma(e, total);
                d[lo + o] = S::load(&d[lo + o]).mul(S::splat(2.0).mul(e)).store();
            }
            for l in (1..=layers).rev() {
                let (ni, no) = (km.widths[l - 1], km.widths[l]);
                let (ui, uo, w) = (
                    km.unit_offsets[l - 1],
                    km.unit_offsets[l],
                    km.w_offsets[l - 1],
                );
                for i in 0..no {
                    let delta = S::load(&d[uo + i]);
                    for j in 0..ni {
                        let g = &mut grad[w + i * ni + j];
                        *g = delta.fma(S::load(&a[ui + j]), S::load(g)).store();
                    }
                    if km.bias {
                        let g = &mut grad[km.b_offsets[l - 1] + i];
                        *g = S::load(g).add(delta).store();
                    }
                }
                if l > 1 {
                    for j in 0..ni {
                        let mut back = S::splat(0.0);
                        for i in 0..no {
                            back = S::load(&theta[w + i * ni + j]).fma(S::load(&d[uo + i]), back);
                        }
                        d[ui + j] = S::load(&d[ui + j]).mul(back).store();
                    }
                }
            }
        }
        let inv = S::splat(1.0 / n as f32);
        for g in grad.iter_mut() {
            *g = S::load(g).mul(inv).store();
        }
        total.mul(inv).store()
    }
}

/// A network with one hidden layer of `H` units, `I` inputs and `O` outputs, its shape known at
/// compile time: every loop unrolls and θ, the activations and the gradient stay in registers.
pub struct OneHidden<const I: usize, const H: usize, const O: usize>;

impl<const L: usize, const I: usize, const H: usize, const O: usize> Net<L> for OneHidden<I, H, O> {
    type Scratch = ();

    fn scratch(_: &KernelModel) {}

    #[inline(always)]
    fn loss_and_gradient<S: Simd<L>>(
        km: &KernelModel,
        n: usize,
        data: &[f32],
        theta: &[Lanes<L>],
        grad: &mut [Lanes<L>],
        scratch: &mut (),
    ) -> Lanes<L> {
        // A constant `hidden`: once inlined, every unit's `match` folds to the computing arm.
        Self::loss_and_gradient_with::<S>(km, n, data, theta, grad, scratch, &[Hidden::Compute; H])
    }

    const REUSES: bool = true;

    #[inline(always)]
    fn loss_and_gradient_with<S: Simd<L>>(
        km: &KernelModel,
        n: usize,
        data: &[f32],
        theta: &[Lanes<L>],
        grad: &mut [Lanes<L>],
        _: &mut (),
        hidden: &[Hidden<'_>],
    ) -> Lanes<L> {
        debug_assert_eq!(km.widths, [I, H, O]);
        debug_assert_eq!(hidden.len(), H);
        let (bias, act, out_act) = (km.bias, km.act, km.out_act);
        let zero = S::splat(0.0);
        // θ in the layout of `Model::layout`: w1 (H × I), b1, w2 (O × H), b2.
        let mut w1 = [[zero; I]; H];
        let mut b1 = [zero; H];
        let mut w2 = [[zero; H]; O];
        let mut b2 = [zero; O];
        // Plain loops rather than closures or iterator adaptors throughout: a closure is a
        // function of its own, compiled without the caller's instruction set unless inlined.
        let mut q = 0;
        for i in 0..H {
            for j in 0..I {
                w1[i][j] = S::load(&theta[q]);
                q += 1;
            }
        }
        if bias {
            for i in 0..H {
                b1[i] = S::load(&theta[q]);
                q += 1;
            }
        }
        for o in 0..O {
            for i in 0..H {
                w2[o][i] = S::load(&theta[q]);
                q += 1;
            }
        }
        if bias {
            for o in 0..O {
                b2[o] = S::load(&theta[q]);
                q += 1;
            }
        }
        let (mut gw1, mut gb1) = ([[zero; I]; H], [zero; H]);
        let (mut gw2, mut gb2) = ([[zero; H]; O], [zero; O]);
        let mut total = zero;
        let (inputs, targets) = data.split_at(n * I);
        for (smp, (x, y)) in inputs
            .chunks_exact(I)
            .zip(targets.chunks_exact(O))
            .enumerate()
        {
            let mut xs = [zero; I];
            for j in 0..I {
                xs[j] = S::splat(x[j]);
            }
            let x = xs;
            let mut h = [zero; H];
            let mut dh = [zero; H];
            for i in 0..H {
                (h[i], dh[i]) = match hidden[i] {
                    Hidden::Compute => {
                        let mut z = b1[i];
                        for j in 0..I {
                            z = w1[i][j].fma(x[j], z);
                        }
                        activate::<L, S>(act, z)
                    }
                    Hidden::Splat { h, dh } => (S::splat(h[smp]), S::splat(dh[smp])),
                    Hidden::Lanes { h, dh, stride, at } => {
                        let k = smp * stride + at;
                        (S::load_slice(&h[k..k + L]), S::load_slice(&dh[k..k + L]))
                    }
                };
            }
            let mut delta = [zero; O];
            for o in 0..O {
                let mut z = b2[o];
                for i in 0..H {
                    z = w2[o][i].fma(h[i], z);
                }
                let (v, dv) = activate::<L, S>(out_act, z);
                let e = v.sub(S::splat(y[o]));
                total = e.fma(e, total);
                delta[o] = dv.mul(e.add(e));
            }
            for o in 0..O {
                for i in 0..H {
                    gw2[o][i] = delta[o].fma(h[i], gw2[o][i]);
                }
                gb2[o] = gb2[o].add(delta[o]);
            }
            for i in 0..H {
                let mut back = zero;
                for o in 0..O {
                    back = w2[o][i].fma(delta[o], back);
                }
                let di = dh[i].mul(back);
                for j in 0..I {
                    gw1[i][j] = di.fma(x[j], gw1[i][j]);
                }
                gb1[i] = gb1[i].add(di);
            }
        }
        let inv = S::splat(1.0 / n as f32);
        let mut q = 0;
        for i in 0..H {
            for j in 0..I {
                grad[q] = gw1[i][j].mul(inv).store();
                q += 1;
            }
        }
        if bias {
            for i in 0..H {
                grad[q] = gb1[i].mul(inv).store();
                q += 1;
            }
        }
        for o in 0..O {
            for i in 0..H {
                grad[q] = gw2[o][i].mul(inv).store();
                q += 1;
            }
        }
        if bias {
            for o in 0..O {
                grad[q] = gb2[o].mul(inv).store();
                q += 1;
            }
        }
        total.mul(inv).store()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::cpu::simd::Arr;
    use crate::spec::model::{Activation, Model};

    /// The specialised kernel computes the general kernel's sums in the same order: equal bits.
    fn same_bits<S: Simd<8>>() {
        for (act, out_act, bias) in [
            (Activation::Tanh, Activation::Linear, true),
            (Activation::Sigmoid, Activation::Tanh, false),
            (Activation::Relu, Activation::Sigmoid, true),
            (Activation::Softplus, Activation::Linear, true),
        ] {
            let model = Model::new("3-4-1", act, out_act, bias).expect("model");
            let km = KernelModel::new(&model);
            let p = km.parameters;
            let n = 7;
            let mut state = 1u64;
            let mut next = || {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                ((state >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
            };
            let data: Vec<f32> = (0..n * 4).map(|_| next()).collect();
            let theta: Vec<Lanes<8>> = (0..p).map(|_| std::array::from_fn(|_| next())).collect();
            let (mut g1, mut g2) = (vec![[0.0; 8]; p], vec![[0.0; 8]; p]);
            let l1 = <OneHidden<3, 4, 1> as Net<8>>::loss_and_gradient::<S>(
                &km,
                n,
                &data,
                &theta,
                &mut g1,
                &mut (),
            );
            let mut scratch = <General as Net<8>>::scratch(&km);
            let l2 = <General as Net<8>>::loss_and_gradient::<S>(
                &km,
                n,
                &data,
                &theta,
                &mut g2,
                &mut scratch,
            );
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&l1), bits(&l2), "{model}: loss");
            assert_eq!(
                bits(g1.as_flattened()),
                bits(g2.as_flattened()),
                "{model}: gradient"
            );
        }
    }

    #[test]
    fn specialised_and_general_kernels_agree_bitwise() {
        same_bits::<Arr<8, false>>();
        same_bits::<Arr<8, true>>();
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            same_bits::<crate::backend::cpu::simd::Avx2>();
        }
    }
}
