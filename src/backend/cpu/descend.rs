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
    let mut all_running = true;
    let mut step = 0u32;
    loop {
        let loss = N::loss_and_gradient::<S>(km, n, data, &theta, &mut grad, &mut scratch);
        let norm = norms::<L, S>(&grad);
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
            // `max` keeps max_abs where |t| is NaN; `nan` catches that.
            max_abs = t.abs().max(max_abs);
            nan = t.fma(S::splat(0.0), nan);
        }
        // A lane keeps running while θ is finite and within the divergence bound, the loss is
        // finite and tol ≤ ‖∇L‖ < ∞ (comparisons with NaN are false, so NaN stops).
        let keep = max_abs
            .le(S::splat(s.diverge))
            .and(nan.le(S::splat(0.0)))
            .and(S::load(&loss).abs().le(S::splat(f32::MAX)))
            .and(S::splat(s.tol).le(S::load(&norm)))
            .and(S::load(&norm).le(S::splat(f32::MAX)));
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
        if all_running {
            let (momentum, lr) = (S::splat(s.momentum), S::splat(s.lr));
            for q in 0..p {
                let v = momentum
                    .mul(S::load(&velocity[q]))
                    .sub(lr.mul(S::load(&grad[q])));
                velocity[q] = v.store();
                theta[q] = S::load(&theta[q]).add(v).store();
            }
        } else {
            for q in 0..p {
                let (v, t, gr) = (&mut velocity[q], &mut theta[q], &grad[q]);
                for k in 0..L {
                    let nv = s.momentum * v[k] - s.lr * gr[k];
                    if running[k] != 0.0 {
                        v[k] = nv;
                        t[k] += nv;
                    }
                }
            }
        }
        step += 1;
    }
}
