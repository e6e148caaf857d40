//! The loss and gradient of one network for `L` parameter points at once: a general kernel for
//! any depth and width, and kernels specialised to the shape of one-hidden-layer networks, whose
//! parameters and activations then live in registers. Both compute the same sums in the same
//! order (the shaders' order: biases first, then inputs in index order).

use super::common::{Lanes, activate};
use super::descend::{keeps, step_size, update};
use super::simd::Simd;
use landscape_core::backend::{DescendSettings, KernelModel};
use landscape_core::spec::model::Activation;

/// Loss and gradient of one network shape for `L` points (`theta[p][k]` is parameter p of point
/// k), with ∇L written into `grad` alike. `data` holds inputs (n × in) then targets (n × out).
pub trait Net<const L: usize> {
    /// Working memory, one per thread.
    type Scratch;

    /// Working memory for `km`.
    fn scratch(km: &KernelModel) -> Self::Scratch;

    /// L(θ) for each lane, and the gradient's sum over the samples, n·∇L, into `grad` (the walk
    /// steps by it with lr/n, `descend::update`, and never forms the mean).
    fn loss_and_sums<S: Simd<L>>(
        km: &KernelModel,
        n: usize,
        data: &[f32],
        theta: &[Lanes<L>],
        grad: &mut [Lanes<L>],
        scratch: &mut Self::Scratch,
    ) -> Lanes<L>;

    /// L(θ) for each lane, ∇L into `grad`: `loss_and_sums` times 1/n.
    #[inline(always)]
    fn loss_and_gradient<S: Simd<L>>(
        km: &KernelModel,
        n: usize,
        data: &[f32],
        theta: &[Lanes<L>],
        grad: &mut [Lanes<L>],
        scratch: &mut Self::Scratch,
    ) -> Lanes<L> {
        let loss = Self::loss_and_sums::<S>(km, n, data, theta, grad, scratch);
        let inv = S::splat(1.0 / n as f32);
        for g in grad.iter_mut() {
            *g = S::load(g).mul(inv).store();
        }
        loss
    }

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

    /// Takes steps of `descend::walk_lanes` from `step` for the walkers in `running` (1 for a
    /// lane still running, 0 for one that has stopped) while none of them would stop and fewer
    /// than `settings.steps` are taken, updating `theta` and `velocity` as that loop does, bit
    /// for bit; returns the step it got to, which the caller evaluates again and classifies.
    /// With `still`, when it got to `settings.steps`, it also says which lanes the last of
    /// those steps left exactly where they were (θ and velocity, bit for bit); else it leaves
    /// `still` as it is. Networks without a loop of their own take no step.
    #[inline(always)]
    #[expect(
        clippy::too_many_arguments,
        reason = "a kernel takes the whole problem as plain values, so that it inlines"
    )]
    fn advance<S: Simd<L>>(
        km: &KernelModel,
        n: usize,
        data: &[f32],
        theta: &mut [Lanes<L>],
        velocity: &mut [Lanes<L>],
        running: &Lanes<L>,
        settings: &DescendSettings,
        step: u32,
        still: Option<&mut [bool; L]>,
    ) -> u32 {
        let _ = (km, n, data, theta, velocity, running, settings, still);
        step
    }
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
    /// One value per lane, from a table of columns in tiles of L (`eval::Column`): lane k reads
    /// column `at + k`, and column f of sample s lies at ((f / L)·`samples` + s)·L + f mod L.
    Lanes {
        /// a(z), in tiles.
        h: &'a [f32],
        /// a'(z), alike.
        dh: &'a [f32],
        /// Samples per tile.
        samples: usize,
        /// The column lane 0 reads.
        at: usize,
    },
}

/// Any multilayer perceptron, widths read at run time. Samples are taken `SAMPLE_BLOCK` at a
/// time (the rest one at a time): each weight is loaded once for the block's forward passes,
/// which then run as independent chains, and each part of the gradient is loaded and stored
/// once for the block's terms. Every sum still takes the samples in index order, so the bits
/// are those of one sample at a time.
pub struct General;

/// Samples the general kernel takes at a time.
const SAMPLE_BLOCK: usize = 4;

/// Activations and their derivatives of every unit, for each sample of a block (sample b's
/// units from `b · units`).
pub struct GeneralScratch<const L: usize> {
    a: Vec<Lanes<L>>,
    d: Vec<Lanes<L>>,
}

impl<const L: usize> Net<L> for General {
    type Scratch = GeneralScratch<L>;

    fn scratch(km: &KernelModel) -> GeneralScratch<L> {
        GeneralScratch {
            a: vec![[0.0; L]; SAMPLE_BLOCK * km.units],
            d: vec![[0.0; L]; SAMPLE_BLOCK * km.units],
        }
    }

    #[inline(always)]
    fn loss_and_sums<S: Simd<L>>(
        km: &KernelModel,
        n: usize,
        data: &[f32],
        theta: &[Lanes<L>],
        grad: &mut [Lanes<L>],
        s: &mut GeneralScratch<L>,
    ) -> Lanes<L> {
        for g in grad.iter_mut() {
            *g = [0.0; L];
        }
        let mut total = S::splat(0.0);
        let full = n - n % SAMPLE_BLOCK;
        let mut first = 0;
        while first < full {
            general_block::<L, S, SAMPLE_BLOCK>(km, n, data, theta, grad, s, first, &mut total);
            first += SAMPLE_BLOCK;
        }
        while first < n {
            general_block::<L, S, 1>(km, n, data, theta, grad, s, first, &mut total);
            first += 1;
        }
        total.mul(S::splat(1.0 / n as f32)).store()
    }
}

/// Samples `first..first + B` of the general kernel: their forward passes, squared errors
/// (added to `total`) and back-propagation, their terms added to `grad` in sample order.
#[inline(always)]
#[expect(
    clippy::too_many_arguments,
    reason = "a kernel takes the whole problem as plain values, so that it inlines"
)]
fn general_block<const L: usize, S: Simd<L>, const B: usize>(
    km: &KernelModel,
    n: usize,
    data: &[f32],
    theta: &[Lanes<L>],
    grad: &mut [Lanes<L>],
    s: &mut GeneralScratch<L>,
    first: usize,
    total: &mut S,
) {
    let (ni_all, no_all) = (km.inputs(), km.outputs());
    let layers = km.layers();
    let units = km.units;
    let y_base = n * ni_all;
    let (a, d) = (&mut s.a, &mut s.d);
    for b in 0..B {
        for j in 0..ni_all {
            a[b * units + j] = [data[(first + b) * ni_all + j]; L];
        }
    }
    for l in 0..layers {
        let (ni, no) = (km.widths[l], km.widths[l + 1]);
        let code = if l == layers - 1 { km.out_act } else { km.act };
        let (ui, uo, w) = (km.unit_offsets[l], km.unit_offsets[l + 1], km.w_offsets[l]);
        for i in 0..no {
            let bias = if km.bias {
                S::load(&theta[km.b_offsets[l] + i])
            } else {
                S::splat(0.0)
            };
            let mut z = [bias; B];
            for j in 0..ni {
                let t = S::load(&theta[w + i * ni + j]);
                for b in 0..B {
                    z[b] = t.fma(S::load(&a[b * units + ui + j]), z[b]);
                }
            }
            for b in 0..B {
                let (v, dv) = activate::<L, S>(code, z[b]);
                a[b * units + uo + i] = v.store();
                d[b * units + uo + i] = dv.store();
            }
        }
    }
    let lo = km.unit_offsets[layers];
    for b in 0..B {
        let smp = first + b;
        for o in 0..no_all {
            let k = b * units + lo + o;
            let e = S::load(&a[k]).sub(S::splat(data[y_base + smp * no_all + o]));
            *total = e.fma(e, *total);
            d[k] = S::load(&d[k]).mul(S::splat(2.0).mul(e)).store();
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
            // A loop, not `array::from_fn`: a closure would be compiled without the kernel's
            // instruction set (`scripts/check-inlined.sh`).
            let mut delta = [S::splat(0.0); B];
            for b in 0..B {
                delta[b] = S::load(&d[b * units + uo + i]);
            }
            for j in 0..ni {
                let g = &mut grad[w + i * ni + j];
                let mut sum = S::load(g);
                for b in 0..B {
                    sum = delta[b].fma(S::load(&a[b * units + ui + j]), sum);
                }
                *g = sum.store();
            }
            if km.bias {
                let g = &mut grad[km.b_offsets[l - 1] + i];
                let mut sum = S::load(g);
                for db in delta {
                    sum = sum.add(db);
                }
                *g = sum.store();
            }
        }
        if l > 1 {
            for j in 0..ni {
                let mut back = [S::splat(0.0); B];
                for i in 0..no {
                    let t = S::load(&theta[w + i * ni + j]);
                    for b in 0..B {
                        back[b] = t.fma(S::load(&d[b * units + uo + i]), back[b]);
                    }
                }
                for b in 0..B {
                    let k = b * units + ui + j;
                    d[k] = S::load(&d[k]).mul(back[b]).store();
                }
            }
        }
    }
}

/// A network with one hidden layer of `H` units, `I` inputs and `O` outputs, its shape known at
/// compile time: every loop unrolls and θ, the activations and the gradient stay in registers,
/// and for tanh hidden units with a linear output the walkers step in a loop of their own
/// (`Net::advance`). With `R`, the
/// inputs and hidden units are read from the model at run time instead, 1 to `I` and 1 to `H`
/// of them: the loops still unroll, to `I` and `H`, each input and unit behind a test of the
/// count, so that one kernel serves every network up to that size. With `A`, other activations
/// are taken one sample at a time, without a loop of their own; without, they run the general
/// kernel.
///
/// Samples are taken `BLOCK` at a time, their forward passes interleaved unit by unit: each
/// sample's chain of dependent operations (the activation's polynomial and division, then the
/// output and the backward pass) is long, and interleaving gives the processor independent
/// chains to overlap. The sums still take the samples in index order, so the bits are those of
/// one sample at a time. Each form compiled costs build time, so `isa::by_shape` compiles two.
pub struct OneHidden<
    const I: usize,
    const H: usize,
    const O: usize,
    const R: bool = false,
    const A: bool = false,
>;

/// Samples interleaved per block by the specialised kernel (the rest are taken one at a time).
const BLOCK: usize = 4;

/// 0, 1, 2, …: lane numbers, for the widest vectors (16 lanes).
const IOTA: [f32; 16] = [
    0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0,
];

/// Runs `$body` with `$i` = 0, 1, …, `$n` − 1 written out, for a constant `$n` of at most 6: the
/// compiler's unroller leaves a loop whose body is large rolled, and the arrays it indexes then
/// live in memory instead of registers.
macro_rules! unroll {
    ($n:expr, |$i:ident| $body:block) => {{
        const { assert!($n <= 6) };
        unroll!(@each $n, $i, $body, 0 1 2 3 4 5)
    }};
    (@each $n:expr, $i:ident, $body:block, $($k:literal)*) => {{
        $(
            if $k < $n {
                let $i: usize = $k;
                $body
            }
        )*
    }};
}

/// Runs `$body` with `$t` bound to each part of the `Params` `$p` in the order of
/// `Model::layout` (w1, b1, w2, b2), the weights of the first `$ni` inputs, the biases only when
/// `$bias` (the kernels sum a gradient
/// for them either way). These helpers are macros, not methods taking a closure: a closure is
/// compiled as a function of its own, without the instruction set of the kernel it is written
/// in, so the vector operations in it become calls, which make a walker loop several times
/// slower (`scripts/check-inlined.sh` fails on such calls).
macro_rules! each_part {
    ($p:expr, $bias:expr, ($ni:expr, $nh:expr), |$t:ident| $body:block) => {{
        let (p, bias, ni, nh) = (&$p, $bias, $ni, $nh);
        for (i, row) in p.w1.iter().enumerate() {
            for (j, &$t) in row.iter().enumerate() {
                if i < nh && j < ni {
                    $body
                }
            }
        }
        if bias {
            for (i, &$t) in p.b1.iter().enumerate() {
                if i < nh {
                    $body
                }
            }
        }
        for row in &p.w2 {
            for (i, &$t) in row.iter().enumerate() {
                if i < nh {
                    $body
                }
            }
        }
        if bias {
            for &$t in &p.b2 {
                $body
            }
        }
    }};
}

/// Runs `$body` with `$x` and `$y` bound to the same part of the `Params` `$a` and `$b`, for
/// every part, biases included (zero in both where the model has none). See `each_part`.
macro_rules! each_pair {
    ($a:expr, $b:expr, |$x:ident, $y:ident| $body:block) => {{
        let (a, b) = (&$a, &$b);
        for (ra, rb) in a.w1.iter().zip(&b.w1) {
            for (&$x, &$y) in ra.iter().zip(rb) {
                $body
            }
        }
        for (&$x, &$y) in a.b1.iter().zip(&b.b1) {
            $body
        }
        for (ra, rb) in a.w2.iter().zip(&b.w2) {
            for (&$x, &$y) in ra.iter().zip(rb) {
                $body
            }
        }
        for (&$x, &$y) in a.b2.iter().zip(&b.b2) {
            $body
        }
    }};
}

/// (θ, v) ← `$step` for every part θ of the `Params` `$p`, with its velocity v (the same part
/// of `$v`) and gradient g (of `$g`) bound to `$t`, `$vel` and `$grad`; the biases only when
/// `$bias` (else they stay zero). See `each_part`.
macro_rules! step_parts {
    ($p:expr, $v:expr, $g:expr, $bias:expr, ($ni:expr, $nh:expr), |$t:ident, $vel:ident, $grad:ident| $step:expr) => {{
        let (p, v, g, bias, ni, nh) = (&mut $p, &mut $v, &$g, $bias, $ni, $nh);
        for (i, ((pr, vr), gr)) in p.w1.iter_mut().zip(v.w1.iter_mut()).zip(&g.w1).enumerate() {
            for (j, ((pt, pv), &$grad)) in pr.iter_mut().zip(vr.iter_mut()).zip(gr).enumerate() {
                if i < nh && j < ni {
                    let ($t, $vel) = (*pt, *pv);
                    (*pt, *pv) = $step;
                }
            }
        }
        if bias {
            for (i, ((pt, pv), &$grad)) in
                p.b1.iter_mut().zip(v.b1.iter_mut()).zip(&g.b1).enumerate()
            {
                if i < nh {
                    let ($t, $vel) = (*pt, *pv);
                    (*pt, *pv) = $step;
                }
            }
        }
        for ((pr, vr), gr) in p.w2.iter_mut().zip(v.w2.iter_mut()).zip(&g.w2) {
            for (i, ((pt, pv), &$grad)) in pr.iter_mut().zip(vr.iter_mut()).zip(gr).enumerate() {
                if i < nh {
                    let ($t, $vel) = (*pt, *pv);
                    (*pt, *pv) = $step;
                }
            }
        }
        if bias {
            for ((pt, pv), &$grad) in p.b2.iter_mut().zip(v.b2.iter_mut()).zip(&g.b2) {
                let ($t, $vel) = (*pt, *pv);
                (*pt, *pv) = $step;
            }
        }
    }};
}

/// The parameters of a one-hidden-layer network, or the running sums of their gradient.
#[derive(Clone, Copy)]
struct Params<S, const I: usize, const H: usize, const O: usize> {
    w1: [[S; I]; H],
    b1: [S; H],
    w2: [[S; H]; O],
    b2: [S; O],
}

impl<S: Copy, const I: usize, const H: usize, const O: usize> Params<S, I, H, O> {
    #[inline(always)]
    fn splat(v: S) -> Self {
        Params {
            w1: [[v; I]; H],
            b1: [v; H],
            w2: [[v; H]; O],
            b2: [v; O],
        }
    }
}

/// Bounds under which every test of `descend::keeps` holds for a walker, found from running
/// maxima instead of ‖∇L‖ (`OneHidden::advance_with`, `asm231`): with G = ‖n·∇L‖∞,
/// - ‖θ‖∞ ≤ `theta` and no part of θ NaN (so θ is finite);
/// - the summed squared error at most `total` (finite; then so is the loss, the sum times 1/n);
/// - `grad_lo` ≤ G, which makes ‖∇L‖ ≥ tol however the float32 sum of squares, its root and
///   the division by n round: the sum is at least G² rounded, and the four roundings lose less
///   than a factor 1 − 2⁻²², which the margin 1 + 2⁻²⁰ covers; at least 2⁻⁶² so that G² is
///   normal (no underflow);
/// - G ≤ `grad_hi`, which keeps the sum of the squares of all P parts below f32::MAX / 2, so
///   ‖∇L‖ is finite.
///
/// No part of n·∇L is then NaN, so its maximum (which passes over NaN) is its true largest
/// part: with finite θ and inputs, z = b1 + w1·x is finite or ±∞ (never NaN, as no ∞ − ∞ can
/// arise), the clamped tanh lies in [−1, 1] and 1 − h² in [0, 1]; the outputs are finite or ±∞
/// and each error e satisfies e² ≤ (1 + 2⁻²⁰)·`total` ≤ 2¹⁰¹ (the sum of squares only grows), so
/// |δ| = |2e| ≤ 2⁵¹·⁵; every back-propagated term, at most O·‖θ‖∞·2⁵²·max(1, ‖x‖∞), and every
/// sum of n of them stay below 2¹²⁷ because `theta` is at most 2⁷² / (n·O·max(1, ‖x‖∞)). A
/// NaN or infinite input, rate or setting makes `theta` NaN, and nothing passes.
///
/// Where the bounds fail for a running walker, the loop forms ‖∇L‖ and makes the tests
/// themselves: the bounds only save work, they never decide.
struct Screen {
    theta: f32,
    total: f32,
    grad_lo: f32,
    grad_hi: f32,
}

impl Screen {
    /// The bounds for `n` samples of a network with `parameters` parameters and `outputs`
    /// outputs whose inputs are `inputs`.
    fn new(
        s: &DescendSettings,
        n: usize,
        parameters: usize,
        outputs: usize,
        inputs: &[f32],
    ) -> Screen {
        // A NaN setting stays NaN (`max` and `min` would drop it), and then no walker passes.
        let nan_or = |setting: f32, bound: f32| if setting.is_nan() { f32::NAN } else { bound };
        let lo = (f64::from(s.tol) * n as f64 * (1.0 + 2f64.powi(-20))).max(2f64.powi(-62));
        // Rounded up to a float32.
        let mut grad_lo = lo as f32;
        if f64::from(grad_lo) < lo {
            grad_lo = grad_lo.next_up();
        }
        let grad_hi = (f64::from(f32::MAX) / (4.0 * parameters as f64)).sqrt() as f32;
        // `max` passes over NaN, hence the test of every input.
        let x = inputs.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        let finite = inputs.iter().all(|v| v.is_finite())
            && step_size(s, n).is_finite()
            && s.momentum.is_finite();
        let safe = 2f64.powi(72) / (n.max(1) as f64 * outputs.max(1) as f64 * f64::from(x));
        Screen {
            theta: if finite {
                nan_or(s.diverge, s.diverge.min(f32::MAX).min(safe as f32))
            } else {
                f32::NAN
            },
            total: 2f32.powi(100),
            grad_lo: nan_or(s.tol, grad_lo),
            grad_hi,
        }
    }
}

/// Activation codes fixed at compile time (`ACT`, `OUT` ≥ 0) or read from the model (−1): the
/// common tanh–linear network gets a kernel with no branch on the activation.
#[inline(always)]
fn code(fixed: i32, model: u32) -> u32 {
    if fixed >= 0 { fixed as u32 } else { model }
}

impl<const I: usize, const H: usize, const O: usize, const R: bool, const A: bool>
    OneHidden<I, H, O, R, A>
{
    /// The numbers of inputs and hidden units, `ni` and `nh`.
    #[inline(always)]
    fn widths(km: &KernelModel) -> (usize, usize) {
        (Self::ni(km), Self::nh(km))
    }

    /// The number of inputs: `I`, or with `R` the model's (at most `I`).
    #[inline(always)]
    fn ni(km: &KernelModel) -> usize {
        if R {
            debug_assert!(km.widths[0] <= I);
            km.widths[0]
        } else {
            I
        }
    }

    /// The number of hidden units: `H`, or with `R` the model's (at most `H`).
    #[inline(always)]
    fn nh(km: &KernelModel) -> usize {
        if R {
            debug_assert!(km.widths[1] <= H);
            km.widths[1]
        } else {
            H
        }
    }

    /// Samples `smp..smp + U` (inputs `x`, U × `ni`, and targets `y`, U × O) added to `sums`
    /// and `total`.
    #[inline(always)]
    #[expect(
        clippy::too_many_arguments,
        reason = "a kernel takes the whole problem as plain values, so that it inlines"
    )]
    fn block<const L: usize, S: Simd<L>, const U: usize, const ACT: i32, const OUT: i32>(
        km: &KernelModel,
        p: &Params<S, I, H, O>,
        sums: &mut Params<S, I, H, O>,
        total: &mut S,
        x: &[f32],
        y: &[f32],
        smp: usize,
        hidden: &[Hidden<'_>],
    ) {
        let (act, out_act) = (code(ACT, km.act), code(OUT, km.out_act));
        let (ni, nh) = (Self::ni(km), Self::nh(km));
        let zero = S::splat(0.0);
        let mut xs = [[zero; I]; U];
        for u in 0..U {
            for j in 0..I {
                if j < ni {
                    xs[u][j] = S::splat(x[u * ni + j]);
                }
            }
        }
        let mut h = [[zero; H]; U];
        let mut dh = [[zero; H]; U];
        if ACT < 0 {
            // The activation chosen at run time (`hidden` is all `Compute`): every unit's z
            // first, then the activation in one loop over the units, so that its forms are
            // compiled once rather than once per unit.
            let mut z = [[zero; H]; U];
            unroll!(H, |i| {
                if i < nh {
                    for u in 0..U {
                        let mut zi = p.b1[i];
                        for j in 0..I {
                            if j < ni {
                                zi = p.w1[i][j].fma(xs[u][j], zi);
                            }
                        }
                        z[u][i] = zi;
                    }
                }
            });
            for u in 0..U {
                for i in 0..nh {
                    (h[u][i], dh[u][i]) = activate::<L, S>(act, z[u][i]);
                }
            }
        } else {
            unroll!(H, |i| {
                if i < nh {
                    for u in 0..U {
                        (h[u][i], dh[u][i]) = match hidden[i] {
                            Hidden::Compute => {
                                let mut z = p.b1[i];
                                for j in 0..I {
                                    if j < ni {
                                        z = p.w1[i][j].fma(xs[u][j], z);
                                    }
                                }
                                activate::<L, S>(act, z)
                            }
                            Hidden::Splat { h, dh } => {
                                (S::splat(h[smp + u]), S::splat(dh[smp + u]))
                            }
                            Hidden::Lanes { h, dh, samples, at } => {
                                let (tile, r) = (at / L, at % L);
                                let k = (tile * samples + smp + u) * L + r;
                                let (a, da) =
                                    (S::load_slice(&h[k..k + L]), S::load_slice(&dh[k..k + L]));
                                if r == 0 {
                                    (a, da)
                                } else {
                                    // Lanes L − r.. lie at the start of the next tile: read there from
                                    // r − L (the lanes below belong to the sample before).
                                    let next = k + samples * L - L;
                                    let high = S::splat((L - r) as f32).le(S::load_slice(&IOTA));
                                    (
                                        S::select(high, S::load_slice(&h[next..next + L]), a),
                                        S::select(high, S::load_slice(&dh[next..next + L]), da),
                                    )
                                }
                            }
                        };
                    }
                }
            });
        }
        let mut delta = [[zero; O]; U];
        for u in 0..U {
            for o in 0..O {
                let mut z = p.b2[o];
                for i in 0..H {
                    if i < nh {
                        z = p.w2[o][i].fma(h[u][i], z);
                    }
                }
                let (v, dv) = activate::<L, S>(out_act, z);
                let e = v.sub(S::splat(y[u * O + o]));
                *total = e.fma(e, *total);
                delta[u][o] = dv.mul(e.add(e));
            }
        }
        for u in 0..U {
            for o in 0..O {
                for i in 0..H {
                    if i < nh {
                        sums.w2[o][i] = delta[u][o].fma(h[u][i], sums.w2[o][i]);
                    }
                }
                sums.b2[o] = sums.b2[o].add(delta[u][o]);
            }
            for i in 0..H {
                if i < nh {
                    let mut back = zero;
                    for o in 0..O {
                        back = p.w2[o][i].fma(delta[u][o], back);
                    }
                    let di = dh[u][i].mul(back);
                    for j in 0..I {
                        if j < ni {
                            sums.w1[i][j] = di.fma(xs[u][j], sums.w1[i][j]);
                        }
                    }
                    sums.b1[i] = sums.b1[i].add(di);
                }
            }
        }
    }

    /// θ in the layout of `Model::layout` (w1 as H × `ni`, b1, w2 as O × H, b2; biases zero when
    /// the model has none, and so are the inputs' weights past `ni`).
    #[inline(always)]
    fn load<const L: usize, S: Simd<L>>(
        bias: bool,
        (ni, nh): (usize, usize),
        theta: &[Lanes<L>],
    ) -> Params<S, I, H, O> {
        let mut p = Params::splat(S::splat(0.0));
        // Plain loops rather than closures or iterator adaptors throughout: a closure is a
        // function of its own, compiled without the caller's instruction set unless inlined.
        let mut q = 0;
        for i in 0..H {
            if i < nh {
                for j in 0..I {
                    if j < ni {
                        p.w1[i][j] = S::load(&theta[q]);
                        q += 1;
                    }
                }
            }
        }
        if bias {
            for i in 0..H {
                if i < nh {
                    p.b1[i] = S::load(&theta[q]);
                    q += 1;
                }
            }
        }
        for o in 0..O {
            for i in 0..H {
                if i < nh {
                    p.w2[o][i] = S::load(&theta[q]);
                    q += 1;
                }
            }
        }
        if bias {
            for o in 0..O {
                p.b2[o] = S::load(&theta[q]);
                q += 1;
            }
        }
        p
    }

    /// `p` written into `theta` in the layout of `load`.
    #[inline(always)]
    fn store<const L: usize, S: Simd<L>>(
        bias: bool,
        (ni, nh): (usize, usize),
        p: &Params<S, I, H, O>,
        out: &mut [Lanes<L>],
    ) {
        let mut q = 0;
        for i in 0..H {
            if i < nh {
                for j in 0..I {
                    if j < ni {
                        out[q] = p.w1[i][j].store();
                        q += 1;
                    }
                }
            }
        }
        if bias {
            for i in 0..H {
                if i < nh {
                    out[q] = p.b1[i].store();
                    q += 1;
                }
            }
        }
        for o in 0..O {
            for i in 0..H {
                if i < nh {
                    out[q] = p.w2[o][i].store();
                    q += 1;
                }
            }
        }
        if bias {
            for o in 0..O {
                out[q] = p.b2[o].store();
                q += 1;
            }
        }
    }

    /// The summed squared error and the summed gradient over all samples, in blocks of `U`
    /// samples, with the activation codes `ACT`, `OUT` (see `code`).
    #[inline(always)]
    fn sums<const L: usize, S: Simd<L>, const U: usize, const ACT: i32, const OUT: i32>(
        km: &KernelModel,
        n: usize,
        data: &[f32],
        p: &Params<S, I, H, O>,
        hidden: &[Hidden<'_>],
    ) -> (Params<S, I, H, O>, S) {
        let (ni, nh) = Self::widths(km);
        debug_assert_eq!(km.widths, [ni, nh, O]);
        debug_assert_eq!(hidden.len(), nh);
        let zero = S::splat(0.0);
        let mut sums = Params::splat(zero);
        let mut total = zero;
        let (inputs, targets) = data.split_at(n * ni);
        let blocked = n - n % U;
        let mut smp = 0;
        while smp < blocked {
            Self::block::<L, S, U, ACT, OUT>(
                km,
                p,
                &mut sums,
                &mut total,
                &inputs[smp * ni..(smp + U) * ni],
                &targets[smp * O..(smp + U) * O],
                smp,
                hidden,
            );
            smp += U;
        }
        while smp < n {
            Self::block::<L, S, 1, ACT, OUT>(
                km,
                p,
                &mut sums,
                &mut total,
                &inputs[smp * ni..(smp + 1) * ni],
                &targets[smp * O..(smp + 1) * O],
                smp,
                hidden,
            );
            smp += 1;
        }
        (sums, total)
    }

    /// The mean of summed gradients (each part times `inv` = 1/n).
    #[inline(always)]
    fn mean<const L: usize, S: Simd<L>>(sums: &Params<S, I, H, O>, inv: S) -> Params<S, I, H, O> {
        // Parts past the model's widths are zero in `sums` and stay zero.
        let mut g = *sums;
        for i in 0..H {
            for j in 0..I {
                g.w1[i][j] = sums.w1[i][j].mul(inv);
            }
            g.b1[i] = sums.b1[i].mul(inv);
        }
        for o in 0..O {
            for i in 0..H {
                g.w2[o][i] = sums.w2[o][i].mul(inv);
            }
            g.b2[o] = sums.b2[o].mul(inv);
        }
        g
    }

    /// `loss_and_gradient_with` (`mean`) or `loss_and_sums` in blocks of `U` samples, with the
    /// activation codes `ACT`, `OUT`.
    #[inline(always)]
    fn with_codes<const L: usize, S: Simd<L>, const U: usize, const ACT: i32, const OUT: i32>(
        km: &KernelModel,
        n: usize,
        data: &[f32],
        theta: &[Lanes<L>],
        grad: &mut [Lanes<L>],
        hidden: &[Hidden<'_>],
        mean: bool,
    ) -> Lanes<L> {
        let p = Self::load::<L, S>(km.bias, Self::widths(km), theta);
        let (sums, total) = Self::sums::<L, S, U, ACT, OUT>(km, n, data, &p, hidden);
        let inv = S::splat(1.0 / n as f32);
        if mean {
            Self::store::<L, S>(
                km.bias,
                Self::widths(km),
                &Self::mean::<L, S>(&sums, inv),
                grad,
            );
        } else {
            Self::store::<L, S>(km.bias, Self::widths(km), &sums, grad);
        }
        total.mul(inv).store()
    }

    /// `Net::advance` in blocks of `U` samples, with the activation codes `ACT`, `OUT`: the
    /// parameters, the velocity and the gradient stay in registers from step to step.
    #[inline(always)]
    #[expect(
        clippy::too_many_arguments,
        reason = "a kernel takes the whole problem as plain values, so that it inlines"
    )]
    fn advance_with<const L: usize, S: Simd<L>, const U: usize, const ACT: i32, const OUT: i32>(
        km: &KernelModel,
        n: usize,
        data: &[f32],
        theta: &mut [Lanes<L>],
        velocity: &mut [Lanes<L>],
        running: &Lanes<L>,
        s: &DescendSettings,
        mut step: u32,
        still: Option<&mut [bool; L]>,
    ) -> u32 {
        let (bias, (ni, nh)) = (km.bias, Self::widths(km));
        // θ and the velocity before the last step, when asked which lanes it left alone.
        let mut before = None;
        let zero = S::splat(0.0);
        let mut p = Self::load::<L, S>(bias, (ni, nh), theta);
        let mut v = Self::load::<L, S>(bias, (ni, nh), velocity);
        let live = S::splat(1.0).le(S::load(running));
        let all_live = running.iter().all(|&r| r != 0.0);
        let plain_all_live = all_live && s.momentum == 0.0;
        let (inv, rate) = (S::splat(1.0 / n as f32), S::splat(step_size(s, n)));
        let compute = [Hidden::Compute; H];
        let compute = &compute[..Self::nh(km)];
        let screen = Screen::new(s, n, km.parameters, O, &data[..n * ni]);
        let (screen_theta, screen_total, screen_lo, screen_hi) = (
            S::splat(screen.theta),
            S::splat(screen.total),
            S::splat(screen.grad_lo),
            S::splat(screen.grad_hi),
        );
        // W1's network on AVX-512 takes the steps of plain descent with every walker running
        // in assembly (`asm231`), with the same bits.
        #[cfg(target_arch = "x86_64")]
        let native = S::AVX512
            && (I, H, O, R) == (2, 3, 1, false)
            && L == 16
            && (ni, nh, O) == (2, 3, 1)
            && bias
            && ACT == TANH
            && OUT == LINEAR
            && plain_all_live
            && n > 0;
        #[cfg(target_arch = "x86_64")]
        let mut hidden = Vec::new();
        // Whether to enter the assembly: not again after it took no step (its screen failed at
        // once, as it does while a walker's ‖∇L‖ is just above tol), until this loop's screen
        // passes, so that such steps are not computed twice.
        #[cfg(target_arch = "x86_64")]
        let mut enter = native;
        loop {
            if still.is_some() && step + 1 == s.steps {
                before = Some((p, v));
            }
            #[cfg(target_arch = "x86_64")]
            if enter {
                // The assembly tests no θ for NaN: a NaN can enter only with θ itself (a step
                // from a finite θ with a gradient that passed the screen or `keeps` is never
                // NaN), so it is tested here.
                let mut sum = zero;
                each_part!(p, bias, (ni, nh), |t| {
                    sum = sum.add(t);
                });
                if sum.le(sum).andnot(live).any() {
                    // Left to the loop below, which stops the walker.
                } else if let Some(done) = Self::native_steps(
                    &mut p,
                    theta,
                    &data[..3 * n],
                    n,
                    &screen,
                    step_size(s, n),
                    &mut hidden,
                    step,
                    // The last step apart, when asked about it.
                    if still.is_some() && step + 1 < s.steps {
                        s.steps - 1
                    } else {
                        s.steps
                    },
                ) {
                    enter = done > step;
                    step = done;
                }
            }
            if step >= s.steps {
                break;
            }
            if still.is_some() && step + 1 == s.steps {
                before = Some((p, v));
            }
            // The gradient summed over the samples, n·∇L, as `loss_and_sums`.
            let (g, total) = Self::sums::<L, S, U, ACT, OUT>(km, n, data, &p, compute);
            // Whether any running walker may stop at this step. First a test that implies
            // every one of `keeps` and needs no ‖∇L‖, only running maxima (`Screen`): with it,
            // the steps on which nothing happens cost no sum of squares.
            // The maxima pass over NaN: the sum of θ catches a NaN part of θ (a NaN part makes
            // its sum NaN; sums of finite parts are never NaN, and an infinite part fails its
            // maximum's bound), and under the bounds no part of n·∇L is NaN (`Screen`).
            let (mut theta_max, mut theta_sum) = (zero, zero);
            let mut g_max = zero;
            each_part!(p, bias, (ni, nh), |t| {
                theta_max = t.max_abs(theta_max);
                theta_sum = theta_sum.add(t);
            });
            each_part!(g, bias, (ni, nh), |t| {
                g_max = t.max_abs(g_max);
            });
            let surely = theta_max
                .le(screen_theta)
                .and(theta_sum.le(theta_sum))
                .and(total.abs().le(screen_total))
                .and(screen_lo.le(g_max))
                .and(g_max.le(screen_hi));
            let screened = !surely.andnot(live).any();
            #[cfg(target_arch = "x86_64")]
            {
                enter |= native && screened;
            }
            if !screened {
                // The tests themselves, as `descend::walk_lanes` makes them: ‖n·∇L‖ summed in
                // parameter order, as `common::norms`, then ‖∇L‖ = it / n (the biases of a model
                // without them stay zero and are left out); θ finite and within the bound
                // exactly when its sum is not NaN and its maximum finite and within the bound.
                let mut sq = zero;
                each_part!(g, bias, (ni, nh), |t| {
                    sq = t.fma(t, sq);
                });
                // m − m is 0 for a finite maximum m, else NaN (`keeps` wants 0); the sum is NaN
                // where a part is.
                let nan = theta_max.sub(theta_max);
                let loss = total.mul(inv);
                let keep = keeps::<L, S>(theta_max, nan, loss, sq.sqrt().mul(inv), s)
                    .and(theta_sum.le(theta_sum));
                if keep.andnot(live).any() {
                    break;
                }
            }
            // The common case, every lane running with plain descent, has its constants written
            // in: no branch per parameter.
            if plain_all_live {
                step_parts!(p, v, g, bias, (ni, nh), |t, vel, grad| {
                    update::<L, S>(t, vel, grad, live, true, 0.0, rate)
                });
            } else {
                step_parts!(p, v, g, bias, (ni, nh), |t, vel, grad| {
                    update::<L, S>(t, vel, grad, live, all_live, s.momentum, rate)
                });
            }
            step += 1;
        }
        Self::store::<L, S>(bias, (ni, nh), &p, theta);
        Self::store::<L, S>(bias, (ni, nh), &v, velocity);
        if let (Some(still), Some((bp, bv))) = (still, before)
            && step == s.steps
        {
            // Lanes whose θ and velocity the last step left bit for bit as they were: no bit
            // set in any part's XOR with its value before.
            let mut differ = zero;
            for (b, now) in [(&bp, &p), (&bv, &v)] {
                each_pair!(*b, *now, |x, y| {
                    differ = differ.or(x.xor(y));
                });
            }
            let differ = differ.store();
            for k in 0..L {
                still[k] = differ[k].to_bits() == 0;
            }
        }
        step
    }
}

#[cfg(target_arch = "x86_64")]
impl<const I: usize, const H: usize, const O: usize, const R: bool, const A: bool>
    OneHidden<I, H, O, R, A>
{
    /// Steps from `step` in `asm231` (the caller has checked that this is W1's network on
    /// AVX-512 with 16 lanes and every walker running plain descent, and that θ = `p` holds
    /// no NaN); `p` and `theta` hold θ after them. `None` where the assembly did not run.
    #[expect(
        clippy::too_many_arguments,
        reason = "a kernel takes the whole problem as plain values, so that it inlines"
    )]
    #[inline(always)]
    fn native_steps<const L: usize, S: Simd<L>>(
        p: &mut Params<S, I, H, O>,
        theta: &mut [Lanes<L>],
        data: &[f32],
        n: usize,
        screen: &Screen,
        rate: f32,
        hidden: &mut Vec<Lanes<16>>,
        step: u32,
        steps: u32,
    ) -> Option<u32> {
        use super::asm231::{CONSTANTS, at};
        use super::common::{TANH_CLAMP, TANH_P, TANH_Q};
        let mut c = [0.0f32; CONSTANTS];
        c[at::CLAMP] = TANH_CLAMP;
        c[at::NEG_CLAMP] = -TANH_CLAMP;
        for (k, q) in [at::P0, at::P1, at::P2, at::P3, at::P4]
            .into_iter()
            .enumerate()
        {
            c[q] = TANH_P[k];
        }
        for (k, q) in [at::Q0, at::Q1, at::Q2, at::Q3, at::Q4]
            .into_iter()
            .enumerate()
        {
            c[q] = TANH_Q[k];
        }
        c[at::ONE] = 1.0;
        c[at::NEG_ONE] = -1.0;
        c[at::RATE] = rate;
        c[at::THETA] = screen.theta;
        c[at::TOTAL] = screen.total;
        c[at::GRAD_LO] = screen.grad_lo;
        c[at::GRAD_HI] = screen.grad_hi;
        c[at::ABS] = f32::from_bits(0x7fff_ffff);
        Self::store::<L, S>(true, (2, 3), p, theta);
        let done =
            super::asm231::steps(theta.as_flattened_mut(), data, n, &c, hidden, step, steps)?;
        *p = Self::load::<L, S>(true, (2, 3), theta);
        Some(done)
    }
}

/// Activation codes of the network with a kernel of its own: tanh hidden units, linear output.
const TANH: i32 = Activation::Tanh.code() as i32;
/// See `TANH`.
const LINEAR: i32 = Activation::Linear.code() as i32;

impl<const I: usize, const H: usize, const O: usize, const R: bool, const A: bool>
    OneHidden<I, H, O, R, A>
{
    /// Whether `km` is the tanh–linear network, which this kernel takes in blocks of samples
    /// and walks in a loop of its own. With `A`, other activations are taken one sample at a
    /// time, the activation chosen at run time in one loop over the units (`block`), which keeps
    /// the kernel's size, and its build time, in bounds; without, they run the general kernel.
    #[inline(always)]
    fn tanh_linear(km: &KernelModel) -> bool {
        km.act == Activation::Tanh.code() && km.out_act == Activation::Linear.code()
    }
}

impl<const L: usize, const I: usize, const H: usize, const O: usize, const R: bool, const A: bool>
    Net<L> for OneHidden<I, H, O, R, A>
{
    type Scratch = GeneralScratch<L>;

    fn scratch(km: &KernelModel) -> GeneralScratch<L> {
        <General as Net<L>>::scratch(km)
    }

    #[inline(always)]
    fn loss_and_sums<S: Simd<L>>(
        km: &KernelModel,
        n: usize,
        data: &[f32],
        theta: &[Lanes<L>],
        grad: &mut [Lanes<L>],
        scratch: &mut GeneralScratch<L>,
    ) -> Lanes<L> {
        // A constant `hidden`: once inlined, every unit's `match` folds to the computing arm.
        let compute = [Hidden::Compute; H];
        let compute = &compute[..Self::nh(km)];
        if Self::tanh_linear(km) {
            Self::with_codes::<L, S, BLOCK, TANH, LINEAR>(km, n, data, theta, grad, compute, false)
        } else if A {
            Self::with_codes::<L, S, 1, -1, -1>(km, n, data, theta, grad, compute, false)
        } else {
            <General as Net<L>>::loss_and_sums::<S>(km, n, data, theta, grad, scratch)
        }
    }

    const REUSES: bool = true;

    #[inline(always)]
    fn loss_and_gradient_with<S: Simd<L>>(
        km: &KernelModel,
        n: usize,
        data: &[f32],
        theta: &[Lanes<L>],
        grad: &mut [Lanes<L>],
        scratch: &mut GeneralScratch<L>,
        hidden: &[Hidden<'_>],
    ) -> Lanes<L> {
        if !Self::tanh_linear(km) {
            // Every activation computed, with the same bits.
            return Self::loss_and_gradient::<S>(km, n, data, theta, grad, scratch);
        }
        // One sample at a time: where activations are read (`eval::Reuse`) the chains are
        // short, and a block would only add register pressure.
        Self::with_codes::<L, S, 1, TANH, LINEAR>(km, n, data, theta, grad, hidden, true)
    }

    #[inline(always)]
    fn advance<S: Simd<L>>(
        km: &KernelModel,
        n: usize,
        data: &[f32],
        theta: &mut [Lanes<L>],
        velocity: &mut [Lanes<L>],
        running: &Lanes<L>,
        s: &DescendSettings,
        step: u32,
        still: Option<&mut [bool; L]>,
    ) -> u32 {
        if !Self::tanh_linear(km) {
            return step;
        }
        Self::advance_with::<L, S, BLOCK, TANH, LINEAR>(
            km, n, data, theta, velocity, running, s, step, still,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::Arr;
    use landscape_core::spec::model::{Activation, Model};

    /// L and the summed gradient of network type `N` at `theta` (8 lanes).
    fn sums_of<N: Net<8>, S: Simd<8>>(
        km: &KernelModel,
        n: usize,
        data: &[f32],
        theta: &[Lanes<8>],
    ) -> (Lanes<8>, Vec<Lanes<8>>, Lanes<8>, Vec<Lanes<8>>) {
        let mut scratch = N::scratch(km);
        let mut sums = vec![[f32::NAN; 8]; km.parameters];
        let l = N::loss_and_sums::<S>(km, n, data, theta, &mut sums, &mut scratch);
        let mut mean = vec![[f32::NAN; 8]; km.parameters];
        let lm = N::loss_and_gradient::<S>(km, n, data, theta, &mut mean, &mut scratch);
        (l, sums, lm, mean)
    }

    /// The specialised kernels compute the general kernel's sums in the same order: equal bits,
    /// for the exact shape and for the kernel that reads its widths at run time, for networks
    /// smaller than its widths and as large, with and without biases, with samples in blocks
    /// of 4 and a remainder; other activations run the general kernel itself.
    fn same_bits<S: Simd<8>>() {
        let bits = |v: &[Lanes<8>]| {
            v.as_flattened()
                .iter()
                .map(|x| x.to_bits())
                .collect::<Vec<_>>()
        };
        for (shape, act, out_act, bias) in [
            ("3-4-1", Activation::Tanh, Activation::Linear, true),
            ("3-4-1", Activation::Tanh, Activation::Linear, false),
            ("1-1-1", Activation::Tanh, Activation::Linear, true),
            ("2-5-1", Activation::Tanh, Activation::Linear, true),
            ("4-6-1", Activation::Tanh, Activation::Linear, true),
            ("3-4-1", Activation::Sigmoid, Activation::Tanh, false),
            ("3-4-1", Activation::Relu, Activation::Sigmoid, true),
            ("3-4-1", Activation::Softplus, Activation::Linear, true),
        ] {
            let model = Model::new(shape, act, out_act, bias).expect("model");
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
            let data: Vec<f32> = (0..n * (km.widths[0] + 1)).map(|_| next()).collect();
            let theta: Vec<Lanes<8>> = (0..p).map(|_| std::array::from_fn(|_| next())).collect();
            let general = sums_of::<General, S>(&km, n, &data, &theta);
            let mut forms = vec![(
                "widths at run time",
                sums_of::<OneHidden<4, 6, 1, true, true>, S>(&km, n, &data, &theta),
            )];
            if shape == "3-4-1" {
                forms.push((
                    "exact shape",
                    sums_of::<OneHidden<3, 4, 1>, S>(&km, n, &data, &theta),
                ));
            }
            for (form, (l, sums, lm, mean)) in forms {
                assert_eq!(bits(&[l]), bits(&[general.0]), "{model}, {form}: loss");
                assert_eq!(bits(&sums), bits(&general.1), "{model}, {form}: sums");
                assert_eq!(bits(&[lm]), bits(&[general.2]), "{model}, {form}: loss");
                assert_eq!(bits(&mean), bits(&general.3), "{model}, {form}: gradient");
            }
            // The summed gradient (what the walk steps by) is n times the mean up to its
            // rounding.
            for (sum, mean) in general
                .1
                .as_flattened()
                .iter()
                .zip(general.3.as_flattened())
            {
                let back = sum / n as f32;
                assert!(
                    (back - mean).abs() <= 1e-6 * mean.abs().max(1e-3),
                    "{model}: {sum} vs {mean}"
                );
            }
        }
    }

    /// ‖∇L‖ as `descend::walk_lanes` forms it from the summed gradient `g` (one value per
    /// parameter, the same on every lane): √(Σ g²) in order, times 1/n.
    fn norm<S: Simd<8>>(g: &[f32], n: usize) -> f32 {
        let lanes: Vec<Lanes<8>> = g.iter().map(|&x| [x; 8]).collect();
        let sq = crate::common::norms::<8, S>(&lanes);
        S::load(&sq).mul(S::splat(1.0 / n as f32)).store()[0]
    }

    /// The screen's bounds imply the tests they stand for, at their edges: a summed gradient
    /// whose largest part is `grad_lo` (alone, or with every part as large) has ‖∇L‖ ≥ tol,
    /// and one whose parts are all `grad_hi` a finite ‖∇L‖, fused or not.
    fn screen_holds<S: Simd<8>>() {
        for n in [1usize, 3, 4, 11, 256, 100_000] {
            for tol in [
                0.0f32, 1e-37, 1e-25, 1e-12, 1.2e-7, 1e-6, 1e-3, 0.7, 3e4, 1e30,
            ] {
                for p in [3usize, 13, 37] {
                    let s = DescendSettings {
                        lr: 0.1,
                        momentum: 0.0,
                        tol,
                        diverge: 1e4,
                        steps: 10,
                    };
                    let screen = Screen::new(&s, n, p, 1, &[0.5, -2.0]);
                    let lo = screen.grad_lo;
                    // The smallest passing part alone, every part that large, and both with
                    // the sign flipped.
                    let mut cases = vec![vec![0.0; p], vec![lo; p], vec![-lo; p]];
                    cases[0][p / 2] = lo;
                    for g in &cases {
                        let got = norm::<S>(g, n);
                        assert!(tol <= got, "n {n}, tol {tol}, P {p}: ‖∇L‖ {got} from {lo}");
                    }
                    let got = norm::<S>(&vec![screen.grad_hi; p], n);
                    assert!(got <= f32::MAX, "n {n}, P {p}: ‖∇L‖ {got}");
                }
            }
        }
        // NaN settings let nothing through.
        let s = DescendSettings {
            lr: 0.1,
            momentum: 0.0,
            tol: f32::NAN,
            diverge: f32::NAN,
            steps: 10,
        };
        let screen = Screen::new(&s, 4, 13, 1, &[1.0]);
        assert!(screen.grad_lo.is_nan() && screen.theta.is_nan());
        // So do non-finite inputs and rates.
        let s = DescendSettings {
            lr: 0.1,
            momentum: 0.0,
            tol: 0.0,
            diverge: 1e4,
            steps: 10,
        };
        assert!(
            Screen::new(&s, 4, 13, 1, &[1.0, f32::INFINITY])
                .theta
                .is_nan()
        );
        assert!(Screen::new(&s, 4, 13, 1, &[f32::NAN]).theta.is_nan());
        let s = DescendSettings {
            lr: f32::INFINITY,
            ..s
        };
        assert!(Screen::new(&s, 1, 13, 1, &[1.0]).theta.is_nan());
    }

    /// Under the screen's bounds no part of the summed gradient is NaN or infinite: θ with
    /// every part at ±`theta`, the largest errors `total` allows, the largest inputs, hidden
    /// units at 0 (a' = 1, the largest backward terms) and saturated (a' = 0, where an infinite
    /// back-propagated term would make NaN), for several n, widths and input scales.
    fn no_nan_under_the_screen<S: Simd<8>>() {
        fn check<S: Simd<8>, const I: usize, const H: usize>(
            n: usize,
            scale: f32,
            saturate: bool,
        ) -> bool {
            let model = Model::new(
                &format!("{I}-{H}-1"),
                Activation::Tanh,
                Activation::Linear,
                true,
            )
            .expect("model");
            let km = KernelModel::new(&model);
            let p = km.parameters;
            let s = DescendSettings {
                lr: 0.1,
                momentum: 0.0,
                tol: 0.0,
                diverge: f32::MAX,
                steps: 10,
            };
            // Inputs ±scale in turn, targets that leave each error just inside the bound.
            let mut data: Vec<f32> = (0..n * I)
                .map(|k| if k % 3 == 1 { -scale } else { scale })
                .collect();
            let screen = Screen::new(&s, n, p, 1, &data);
            let bound = screen.theta;
            assert!(bound.is_finite() && bound > 0.0, "theta bound {bound}");
            // θ: w1 and b1 zero (or ±bound, saturating every unit), w2 ±bound, b2 zero, so the
            // output is 0 or ±H·bound.
            let mut theta = vec![[0.0f32; 8]; p];
            for (q, t) in theta.iter_mut().enumerate() {
                let sign = if q % 2 == 0 { 1.0 } else { -1.0 };
                let w1b1 = q < H * I + H;
                let w2 = (H * I + H..H * I + 2 * H).contains(&q);
                if (w1b1 && saturate) || w2 {
                    *t = [sign * bound; 8];
                }
            }
            let e = (screen.total / n as f32).sqrt() * 0.999;
            let grad_base = vec![[0.0f32; 8]; p];
            // Targets that make each sample's error ±e, from its output (target 0).
            let mut scratch = <General as Net<8>>::scratch(&km);
            let mut targets = Vec::with_capacity(n);
            for u in 0..n {
                // The output of sample u alone.
                let mut one = data[u * I..(u + 1) * I].to_vec();
                one.push(0.0);
                let mut g = grad_base.clone();
                let _ = OneHidden::<I, H, 1>::loss_and_sums::<S>(
                    &km,
                    1,
                    &one,
                    &theta,
                    &mut g,
                    &mut scratch,
                );
                // b2's part is 2e exactly, and with target 0, e is the output.
                let out = g[p - 1][0] / 2.0;
                targets.push(if u % 2 == 0 { out - e } else { out + e });
            }
            data.extend(&targets);
            let mut g = grad_base;
            let total = OneHidden::<I, H, 1>::loss_and_sums::<S>(
                &km,
                n,
                &data,
                &theta,
                &mut g,
                &mut scratch,
            );
            if total[0] > screen.total {
                // Rounding of the outputs put the errors outside the bound: nothing to check.
                return false;
            }
            for (q, part) in g.iter().enumerate() {
                assert!(
                    part[0].is_finite(),
                    "{I}-{H}-1, n {n}, inputs ±{scale}, saturated {saturate}: part {q} is {}",
                    part[0]
                );
            }
            true
        }
        let mut checked = 0;
        for n in [1usize, 4, 11, 1000] {
            for scale in [0.25f32, 1.0, 3e5, 1e20] {
                for saturate in [false, true] {
                    checked += usize::from(check::<S, 2, 3>(n, scale, saturate));
                    checked += usize::from(check::<S, 1, 4>(n, scale, saturate));
                }
            }
        }
        assert!(
            checked >= 48,
            "only {checked} of 64 cases reached the bound"
        );
    }

    #[test]
    fn the_screen_leaves_no_nan_in_the_gradient() {
        no_nan_under_the_screen::<Arr<8, false>>();
        no_nan_under_the_screen::<Arr<8, true>>();
    }

    #[test]
    fn the_stopping_screen_implies_the_stopping_tests() {
        screen_holds::<Arr<8, false>>();
        screen_holds::<Arr<8, true>>();
    }

    #[test]
    fn specialised_and_general_kernels_agree_bitwise() {
        same_bits::<Arr<8, false>>();
        same_bits::<Arr<8, true>>();
        #[cfg(target_arch = "x86_64")]
        if crate::isa::Isa::tested().contains(&crate::isa::Isa::Avx2) {
            same_bits::<crate::simd::Avx2>();
        }
    }
}
