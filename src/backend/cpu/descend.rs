//! CPU twin of `shaders/descend.wgsl`: gradient descent with heavy-ball momentum for many
//! walkers, `L` walkers at a time, each step in the shader's order (evaluate, classify, step).

use super::common::{Lanes, norms};
use super::isa::Kernels;
use super::net::Net;
use super::simd::Simd;
use crate::backend::{DescendSettings, KernelModel, RUNNING, WalkOutput, classify};
use rayon::prelude::*;

/// What one group of walkers produced (`lanes` of them; arrays are as long as the lane count of
/// the kernel that ran them).
pub struct Group {
    endpoints: Vec<f32>,
    loss: Vec<f32>,
    grad_norm: Vec<f32>,
    steps: Vec<u32>,
    status: Vec<u32>,
    trace: Vec<f32>,
}

/// The problem every group of walkers shares.
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
}

/// Walks `starts` (row-major, M × P) to their ends with `kernels`. `trace`, if given, records θ
/// every that many steps (rows t = 0..=steps/trace, stopped walkers repeating their end).
/// `progress` is called with the number of walkers finished.
pub fn descend(
    kernels: &Kernels,
    problem: &Problem<'_>,
    starts: &[f32],
    progress: &(dyn Fn(u64) + Sync),
) -> WalkOutput {
    let p = problem.km.parameters;
    let m = starts.len() / p;
    let lanes = kernels.lanes;
    let rows = problem.rows;
    let groups: Vec<Group> = (0..m.div_ceil(lanes))
        .into_par_iter()
        .map(|gi| {
            let count = lanes.min(m - gi * lanes);
            let g = (kernels.walk)(problem, &starts[gi * lanes * p..(gi * lanes + count) * p]);
            progress(count as u64);
            g
        })
        .collect();
    let mut out = WalkOutput {
        endpoints: Vec::with_capacity(m * p),
        loss: Vec::with_capacity(m),
        grad_norm: Vec::with_capacity(m),
        steps: Vec::with_capacity(m),
        status: Vec::with_capacity(m),
        trace: problem.trace.map(|_| vec![f32::NAN; rows * m * p]),
    };
    for (gi, g) in groups.iter().enumerate() {
        let count = lanes.min(m - gi * lanes);
        out.endpoints.extend_from_slice(&g.endpoints[..count * p]);
        out.loss.extend_from_slice(&g.loss[..count]);
        out.grad_norm.extend_from_slice(&g.grad_norm[..count]);
        out.steps.extend_from_slice(&g.steps[..count]);
        out.status.extend_from_slice(&g.status[..count]);
        if let Some(t) = out.trace.as_mut() {
            for r in 0..rows {
                let dst = (r * m + gi * lanes) * p;
                t[dst..dst + count * p]
                    .copy_from_slice(&g.trace[r * lanes * p..(r * lanes + count) * p]);
            }
        }
    }
    out
}

/// One group of up to `L` walkers (row-major starts); missing lanes repeat the last walker.
#[inline(always)]
pub fn walk_group<const L: usize, S: Simd<L>, N: Net<L>>(
    problem: &Problem<'_>,
    starts: &[f32],
) -> Group {
    let Problem {
        km,
        n,
        data,
        settings: s,
        trace,
        rows,
    } = *problem;
    let p = km.parameters;
    let lanes = starts.len() / p;
    let mut theta = vec![[0.0f32; L]; p];
    for k in 0..L {
        let w = k.min(lanes - 1);
        for q in 0..p {
            theta[q][k] = starts[w * p + q];
        }
    }
    let mut velocity = vec![[0.0f32; L]; p];
    let mut grad = vec![[0.0f32; L]; p];
    let mut scratch = N::scratch(km);
    let mut g = Group {
        endpoints: vec![0.0; L * p],
        loss: vec![f32::NAN; L],
        grad_norm: vec![f32::NAN; L],
        steps: vec![0; L],
        status: vec![RUNNING; L],
        trace: vec![f32::NAN; rows * L * p],
    };
    // 1 for a walker still running, 0 once it has stopped.
    let mut running: Lanes<L> = [1.0; L];
    let (inv, rate) = (S::splat(1.0 / n as f32), S::splat(step_size(s, n)));
    let mut all_running = true;
    let mut step = 0u32;
    loop {
        if trace.is_none() {
            // Steps on which no walker stops, taken by the network's own loop where it has one
            // (θ in registers); it stops before the step at which one would, which is then
            // evaluated again below.
            step = N::advance::<S>(km, n, data, &mut theta, &mut velocity, &running, s, step);
        }
        // `grad` holds n·∇L: the step is lr/n times it, and ‖∇L‖ = ‖n·∇L‖/n.
        let loss = N::loss_and_sums::<S>(km, n, data, &theta, &mut grad, &mut scratch);
        let norm = S::load(&norms::<L, S>(&grad)).mul(inv).store();
        if let Some(every) = trace
            && step.is_multiple_of(every)
        {
            let r = (step / every) as usize;
            for k in (0..L).filter(|&k| g.status[k] == RUNNING) {
                for q in 0..p {
                    g.trace[(r * L + k) * p + q] = theta[q][k];
                }
            }
        }
        // Whether any running walker may stop at this step, decided for all lanes at once: ‖θ‖∞
        // (a non-finite θ makes `nan` NaN) and the tests of `classify`, all vectorised.
        let (mut max_abs, mut nan) = (S::splat(0.0), S::splat(0.0));
        for t in &theta {
            let t = S::load(t);
            // `max` keeps max_abs where |t| is NaN; `nan` catches that: t − t is 0 for a finite
            // t and NaN otherwise (additions, which leave the multipliers to the kernel).
            max_abs = t.abs().max(max_abs);
            nan = nan.add(t.sub(t));
        }
        let keep = keeps::<L, S>(max_abs, nan, S::load(&loss), S::load(&norm), s);
        let live = S::splat(1.0).le(S::load(&running));
        let stops = step >= s.steps || keep.andnot(live).any();
        let (max_abs, nan) = (max_abs.store(), nan.store());
        if stops {
            for k in 0..L {
                if g.status[k] != RUNNING {
                    continue;
                }
                let finite = nan[k] == 0.0;
                let status = classify(finite, max_abs[k], loss[k], norm[k], step, s);
                if status == RUNNING {
                    continue;
                }
                running[k] = 0.0;
                all_running = false;
                g.status[k] = status;
                g.steps[k] = step;
                g.loss[k] = loss[k];
                g.grad_norm[k] = norm[k];
                for q in 0..p {
                    g.endpoints[k * p + q] = theta[q][k];
                }
                if let Some(every) = trace {
                    // Later rows repeat the end.
                    for r in (step / every) as usize + 1..rows {
                        for q in 0..p {
                            g.trace[(r * L + k) * p + q] = theta[q][k];
                        }
                    }
                }
            }
            if running.iter().all(|&r| r == 0.0) {
                return g;
            }
        }
        let live = S::splat(1.0).le(S::load(&running));
        for q in 0..p {
            let (t, v) = update::<L, S>(
                S::load(&theta[q]),
                S::load(&velocity[q]),
                S::load(&grad[q]),
                live,
                all_running,
                s.momentum,
                rate,
            );
            theta[q] = t.store();
            velocity[q] = v.store();
        }
        step += 1;
    }
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
