//! CPU twin of `landscape-gpu`'s `shaders/descend.wgsl`: gradient descent with heavy-ball
//! momentum for many walkers, `L` walkers at a time, each step in the shader's order (evaluate,
//! classify, step).
//!
//! Each thread runs `L` lanes and hands a lane the next walker as soon as its walker stops, so
//! the lanes stay full (and in the network's own loop) until the walkers run out. A walker whose
//! last step left θ and its velocity exactly as they were is at a fixed point of the float32
//! step: every later step would repeat it bit for bit, so it is *retired*, recorded as it would
//! end after its full budget (`Problem::retire`; the results are the same bits either way).

use super::common::{Lanes, norms};
use super::isa::Kernels;
use super::net::Net;
use super::simd::Simd;
use landscape_core::backend::{DescendSettings, KernelModel, RUNNING, WalkOutput, classify};
use rayon::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Steps the network's own loop takes between two looks at which walkers are at a fixed point
/// (a retiring walker takes half of it, on average, after it got there).
const SEGMENT: u32 = 48;

/// Where the walkers one thread ran ended, in the order they stopped.
pub struct Ends {
    walkers: Vec<usize>,
    endpoints: Vec<f32>,
    loss: Vec<f32>,
    grad_norm: Vec<f32>,
    steps: Vec<u32>,
    status: Vec<u32>,
    /// Each walker's rows of the trace (rows × P), in the same order.
    trace: Vec<f32>,
    /// Steps actually computed for these walkers (retired walkers count the steps they took).
    computed: u64,
}

/// The problem every walker shares.
pub struct Problem<'a> {
    /// The model.
    pub km: &'a KernelModel,
    /// Number of samples.
    pub n: usize,
    /// Inputs (n × in) then targets (n × out).
    pub data: &'a [f32],
    /// Optimiser settings.
    pub settings: &'a DescendSettings,
    /// Record θ every that many steps.
    pub trace: Option<u32>,
    /// Rows of the trace.
    pub rows: usize,
    /// Whether walkers at a fixed point of the step are retired.
    pub retire: bool,
    /// Each walker's learning rate of each weight layer (M × layers), in place of
    /// `settings.lr`; the walkers then step in this loop, not in the network's own.
    pub rates: Option<&'a [f32]>,
    /// The weight layer of each parameter (P), which picks its rate.
    pub layer_of: &'a [usize],
}

/// The walkers still to start, shared by the threads, and where they report.
pub struct Feed<'a> {
    starts: &'a [f32],
    p: usize,
    next: AtomicUsize,
    progress: &'a (dyn Fn(u64) + Sync),
}

impl Feed<'_> {
    /// The next walker to start, if any.
    fn take(&self) -> Option<usize> {
        let w = self.next.fetch_add(1, Ordering::Relaxed);
        (w < self.starts.len() / self.p).then_some(w)
    }
}

/// Walks `starts` (row-major, M × P) to their ends with `kernels`, on every thread of the
/// current pool. `trace`, if given, records θ every that many steps (rows t = 0..=steps/trace,
/// stopped walkers repeating their end). `progress` is called with the number of walkers
/// finished. Also returns the walker-steps computed (fewer than taken when walkers retire).
pub fn descend(
    kernels: &Kernels,
    problem: &Problem<'_>,
    starts: &[f32],
    progress: &(dyn Fn(u64) + Sync),
) -> (WalkOutput, u64) {
    let p = problem.km.parameters;
    let m = starts.len() / p;
    let rows = problem.rows;
    let feed = Feed {
        starts,
        p,
        next: AtomicUsize::new(0),
        progress,
    };
    let threads = rayon::current_num_threads().clamp(1, m.div_ceil(kernels.lanes).max(1));
    let ends: Vec<Ends> = (0..threads)
        .into_par_iter()
        .map(|_| (kernels.walk)(problem, &feed))
        .collect();
    let mut out = WalkOutput {
        endpoints: vec![0.0; m * p],
        loss: vec![0.0; m],
        grad_norm: vec![0.0; m],
        steps: vec![0; m],
        status: vec![0; m],
        trace: problem.trace.map(|_| vec![f32::NAN; rows * m * p]),
    };
    let mut computed = 0;
    for e in &ends {
        computed += e.computed;
        for (i, &w) in e.walkers.iter().enumerate() {
            out.endpoints[w * p..(w + 1) * p].copy_from_slice(&e.endpoints[i * p..(i + 1) * p]);
            out.loss[w] = e.loss[i];
            out.grad_norm[w] = e.grad_norm[i];
            out.steps[w] = e.steps[i];
            out.status[w] = e.status[i];
            if let Some(t) = out.trace.as_mut() {
                for r in 0..rows {
                    let src = (i * rows + r) * p;
                    t[(r * m + w) * p..(r * m + w + 1) * p].copy_from_slice(&e.trace[src..src + p]);
                }
            }
        }
    }
    (out, computed)
}

/// Walks walkers from `feed`, `L` at a time, until it has none left. A lane without a walker
/// (the feed ran out) repeats a lane that has one, so that every lane always runs; its results
/// are dropped.
#[inline(always)]
pub fn walk_lanes<const L: usize, S: Simd<L>, N: Net<L>>(
    problem: &Problem<'_>,
    feed: &Feed<'_>,
) -> Ends {
    let Problem {
        km,
        n,
        data,
        settings: s,
        trace,
        rows,
        retire,
        rates,
        layer_of,
    } = *problem;
    let p = km.parameters;
    let layers = km.layers();
    // Each lane's step size per parameter, when the walkers have rates of their own.
    let mut lane_rate = vec![[0.0f32; L]; if rates.is_some() { p } else { 0 }];
    // Retiring needs the network's own loop, which tracing does without.
    let retire = retire && trace.is_none();
    let mut theta = vec![[0.0f32; L]; p];
    let mut velocity = vec![[0.0f32; L]; p];
    let mut grad = vec![[0.0f32; L]; p];
    let mut scratch = N::scratch(km);
    let mut ends = Ends {
        walkers: Vec::new(),
        endpoints: Vec::new(),
        loss: Vec::new(),
        grad_norm: Vec::new(),
        steps: Vec::new(),
        status: Vec::new(),
        trace: Vec::new(),
        computed: 0,
    };
    // Retired walkers not yet recorded (their L and ‖∇L‖ are evaluated `L` at a time).
    let mut retired = Retired {
        walkers: Vec::new(),
        at: Vec::new(),
        theta: Vec::new(),
    };
    // Each lane's walker (None: a lane repeating another), the steps it has taken and its rows
    // of the trace.
    let mut who: [Option<usize>; L] = [None; L];
    let mut at = [0u32; L];
    let mut rows_of = vec![f32::NAN; if trace.is_some() { L * rows * p } else { 0 }];
    let running: Lanes<L> = [1.0; L];
    let live = S::splat(1.0).le(S::load(&running));
    let (inv, rate) = (S::splat(1.0 / n as f32), S::splat(step_size(s, n)));
    let mut finished = 0u64;
    'lanes: loop {
        if finished >= 64 {
            (feed.progress)(finished);
            finished = 0;
        }
        // Lanes without a walker take the next ones, then any still empty repeat a lane that
        // has one (θ, velocity and step count).
        for k in 0..L {
            if who[k].is_some() {
                continue;
            }
            if let Some(w) = feed.take() {
                who[k] = Some(w);
                for q in 0..p {
                    theta[q][k] = feed.starts[w * p + q];
                    velocity[q][k] = 0.0;
                }
                at[k] = 0;
                if let Some(r) = rates {
                    for q in 0..p {
                        lane_rate[q][k] = r[w * layers + layer_of[q]] / n as f32;
                    }
                }
                if trace.is_some() {
                    rows_of[k * rows * p..(k + 1) * rows * p].fill(f32::NAN);
                }
            }
        }
        let Some(first) = (0..L).find(|&k| who[k].is_some()) else {
            break;
        };
        for k in (0..L).filter(|&k| who[k].is_none()) {
            for q in 0..p {
                theta[q][k] = theta[q][first];
                velocity[q][k] = velocity[q][first];
            }
            for r in &mut lane_rate {
                r[k] = r[first];
            }
            at[k] = at[first];
        }
        if trace.is_none() && rates.is_none() {
            // Steps on which no walker stops, taken by the network's own loop where it has one
            // (θ in registers), `SEGMENT` at a time; after each, the walkers its last step left
            // where they were retire and their lanes take new walkers. The loop stops before a
            // step at which a walker would stop, which is then evaluated below. (Without a loop
            // of its own a network takes every step below, and its walkers retire there.)
            let left = (0..L)
                .filter(|&k| who[k].is_some())
                .map(|k| s.steps - at[k])
                .min()
                .unwrap_or(0);
            if left > 0 {
                let seg = left.min(SEGMENT);
                let mut local = *s;
                local.steps = seg;
                let mut still = [false; L];
                let (t, v) = (&mut theta, &mut velocity);
                let asked = retire.then_some(&mut still);
                let took = N::advance::<S>(km, n, data, t, v, &running, &local, 0, asked);
                for a in &mut at {
                    *a += took;
                }
                if still.iter().any(|&x| x) {
                    finished += retired.take(&still, &mut who, &at, &theta);
                    if retired.walkers.len() >= L {
                        retired.record::<L, S, N>(problem, &mut scratch, &mut ends);
                    }
                    continue 'lanes;
                }
                if took == seg && left > seg {
                    continue 'lanes;
                }
            }
        }
        // `grad` holds n·∇L: the step is lr/n times it, and ‖∇L‖ = ‖n·∇L‖/n.
        let loss = N::loss_and_sums::<S>(km, n, data, &theta, &mut grad, &mut scratch);
        let norm = S::load(&norms::<L, S>(&grad)).mul(inv).store();
        if let Some(every) = trace {
            for k in (0..L).filter(|&k| who[k].is_some() && at[k].is_multiple_of(every)) {
                let r = (at[k] / every) as usize;
                for q in 0..p {
                    rows_of[(k * rows + r) * p + q] = theta[q][k];
                }
            }
        }
        // Whether any walker may stop at this step, decided for all lanes at once: ‖θ‖∞ (a
        // non-finite θ makes `nan` NaN) and the tests of `classify`, all vectorised.
        let (max_abs, nan) = bounds::<L, S>(&theta);
        let keep = keeps::<L, S>(max_abs, nan, S::load(&loss), S::load(&norm), s);
        let budget = (0..L).any(|k| who[k].is_some() && at[k] >= s.steps);
        if budget || keep.andnot(live).any() {
            let (max_abs, nan) = (max_abs.store(), nan.store());
            for k in 0..L {
                let Some(w) = who[k] else { continue };
                let finite = nan[k] == 0.0;
                let status = classify(finite, max_abs[k], loss[k], norm[k], at[k], s);
                if status == RUNNING {
                    continue;
                }
                let end: Vec<f32> = (0..p).map(|q| theta[q][k]).collect();
                ends.push(w, &end, loss[k], norm[k], at[k], status, at[k]);
                if let Some(every) = trace {
                    // Later rows repeat the end.
                    for r in (at[k] / every) as usize + 1..rows {
                        rows_of[(k * rows + r) * p..(k * rows + r + 1) * p].copy_from_slice(&end);
                    }
                    ends.trace
                        .extend_from_slice(&rows_of[k * rows * p..(k + 1) * rows * p]);
                }
                who[k] = None;
                finished += 1;
            }
        }
        // Lanes whose step leaves θ and the velocity bit for bit as they were end with no bit
        // set in `moved`.
        let mut moved = S::splat(0.0);
        for q in 0..p {
            let (t0, v0) = (S::load(&theta[q]), S::load(&velocity[q]));
            let r = if rates.is_some() {
                S::load(&lane_rate[q])
            } else {
                rate
            };
            let (t, v) = update::<L, S>(t0, v0, S::load(&grad[q]), live, true, s.momentum, r);
            moved = moved.or(t.xor(t0)).or(v.xor(v0));
            theta[q] = t.store();
            velocity[q] = v.store();
        }
        for a in &mut at {
            *a += 1;
        }
        if retire {
            // Every lane with a walker kept running at this θ, so a walker that did not move is
            // at a fixed point: it retires as in the network's own loop above.
            let moved = moved.store();
            let still: [bool; L] = std::array::from_fn(|k| moved[k].to_bits() == 0);
            finished += retired.take(&still, &mut who, &at, &theta);
            if retired.walkers.len() >= L {
                retired.record::<L, S, N>(problem, &mut scratch, &mut ends);
            }
        }
    }
    if !retired.walkers.is_empty() {
        retired.record::<L, S, N>(problem, &mut scratch, &mut ends);
    }
    if finished > 0 {
        (feed.progress)(finished);
    }
    ends
}

impl Ends {
    /// Records one walker's end.
    #[expect(
        clippy::too_many_arguments,
        reason = "a kernel takes the whole problem as plain values, so that it inlines"
    )]
    fn push(
        &mut self,
        walker: usize,
        end: &[f32],
        loss: f32,
        grad_norm: f32,
        steps: u32,
        status: u32,
        computed: u32,
    ) {
        self.walkers.push(walker);
        self.endpoints.extend_from_slice(end);
        self.loss.push(loss);
        self.grad_norm.push(grad_norm);
        self.steps.push(steps);
        self.status.push(status);
        self.computed += u64::from(computed);
    }
}

/// Walkers found at a fixed point of the step, waiting to be recorded.
struct Retired {
    walkers: Vec<usize>,
    /// Steps each took.
    at: Vec<u32>,
    /// Their θ (row-major, one row per walker).
    theta: Vec<f32>,
}

impl Retired {
    /// Takes the walkers of the lanes marked in `still` (lanes without a walker are passed
    /// over), with the steps they took and their θ, and frees their lanes; returns how many.
    #[inline(always)]
    fn take<const L: usize>(
        &mut self,
        still: &[bool; L],
        who: &mut [Option<usize>; L],
        at: &[u32; L],
        theta: &[Lanes<L>],
    ) -> u64 {
        let mut taken = 0;
        for k in 0..L {
            let Some(w) = who[k] else { continue };
            if still[k] {
                self.walkers.push(w);
                self.at.push(at[k]);
                self.theta.extend(theta.iter().map(|t| t[k]));
                who[k] = None;
                taken += 1;
            }
        }
        taken
    }

    /// Records the first `L` (or all, if fewer) as they would end after the full budget: L and
    /// ‖∇L‖ at θ, classified at the last step. (Their last step kept every test of `keeps` at
    /// this θ, so they run to the budget.)
    #[inline(always)]
    fn record<const L: usize, S: Simd<L>, N: Net<L>>(
        &mut self,
        problem: &Problem<'_>,
        scratch: &mut N::Scratch,
        ends: &mut Ends,
    ) {
        let Problem {
            km,
            n,
            data,
            settings: s,
            ..
        } = *problem;
        let p = km.parameters;
        let count = self.walkers.len().min(L);
        let mut theta = vec![[0.0f32; L]; p];
        for k in 0..L {
            let j = k.min(count - 1);
            for q in 0..p {
                theta[q][k] = self.theta[j * p + q];
            }
        }
        let mut grad = vec![[0.0f32; L]; p];
        let loss = N::loss_and_sums::<S>(km, n, data, &theta, &mut grad, scratch);
        let norm = S::load(&norms::<L, S>(&grad))
            .mul(S::splat(1.0 / n as f32))
            .store();
        let (max_abs, nan) = bounds::<L, S>(&theta);
        let (max_abs, nan) = (max_abs.store(), nan.store());
        for k in 0..count {
            let status = classify(nan[k] == 0.0, max_abs[k], loss[k], norm[k], s.steps, s);
            let end = &self.theta[k * p..(k + 1) * p];
            ends.push(
                self.walkers[k],
                end,
                loss[k],
                norm[k],
                s.steps,
                status,
                self.at[k],
            );
        }
        self.walkers.drain(..count);
        self.at.drain(..count);
        self.theta.drain(..count * p);
    }
}

/// ‖θ‖∞ per lane and a value that is 0 where θ is finite and NaN elsewhere (`keeps`).
#[inline(always)]
fn bounds<const L: usize, S: Simd<L>>(theta: &[Lanes<L>]) -> (S, S) {
    let (mut max_abs, mut nan) = (S::splat(0.0), S::splat(0.0));
    for t in theta {
        let t = S::load(t);
        // `max` keeps max_abs where |t| is NaN; `nan` catches that: t − t is 0 for a finite t
        // and NaN otherwise (additions, which leave the multipliers to the kernel).
        max_abs = t.abs().max(max_abs);
        nan = nan.add(t.sub(t));
    }
    (max_abs, nan)
}

/// The factor of the summed gradient n·∇L in a step: lr/n, so that rate·(n·∇L) is lr·∇L up to
/// rounding (exactly, when n is a power of two). Stepping by the sum saves forming the mean.
pub fn step_size(s: &DescendSettings, n: usize) -> f32 {
    s.lr / n as f32
}

/// One parameter's step of heavy-ball descent for the lanes in `live` (a mask from `le`; all of
/// them when `all_live`), given the summed gradient `sums` = n·∇L and `rate` = `step_size`:
/// v ← β·v − rate·sums, θ ← θ + v, and the unchanged θ and v in the others. For plain gradient
/// descent (β = 0), θ ← θ − rate·sums in one multiply–add (fused on the fused instruction sets),
/// and v is left as it is. (The shaders step by lr times the mean gradient, v ← β·v − lr·∇L, or
/// for β = 0 θ ← fma(−lr, ∇L, θ): the same step up to rounding.)
#[inline(always)]
pub fn update<const L: usize, S: Simd<L>>(
    theta: S,
    velocity: S,
    sums: S,
    live: S,
    all_live: bool,
    momentum: f32,
    rate: S,
) -> (S, S) {
    if momentum == 0.0 {
        let t = rate.fnma(sums, theta);
        let t = if all_live {
            t
        } else {
            S::select(live, t, theta)
        };
        return (t, velocity);
    }
    let v = S::splat(momentum).mul(velocity).sub(rate.mul(sums));
    let t = theta.add(v);
    if all_live {
        (t, v)
    } else {
        (S::select(live, t, theta), S::select(live, v, velocity))
    }
}

/// Whether a walker keeps running after an evaluation, per lane (a mask as from `le`): θ finite
/// (`nan`, a sum of t − t over θ, is 0) and within the divergence bound, the loss finite, and
/// tol ≤ ‖∇L‖ < ∞; comparisons with NaN are false, so NaN stops.
#[inline(always)]
pub fn keeps<const L: usize, S: Simd<L>>(
    max_abs: S,
    nan: S,
    loss: S,
    norm: S,
    s: &DescendSettings,
) -> S {
    max_abs
        .le(S::splat(s.diverge))
        .and(nan.le(S::splat(0.0)))
        .and(loss.abs().le(S::splat(f32::MAX)))
        .and(S::splat(s.tol).le(norm))
        .and(norm.le(S::splat(f32::MAX)))
}
