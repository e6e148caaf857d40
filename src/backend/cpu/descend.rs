//! CPU twin of `shaders/descend.wgsl`: gradient descent with heavy-ball momentum for many
//! walkers, `LANES` walkers at a time, each step in the shader's order (evaluate, classify, step).

use super::common::{LANES, Lanes, Scratch, loss_and_gradient, norms};
use crate::backend::{DescendSettings, KernelModel, RUNNING, WalkOutput, classify};
use rayon::prelude::*;

/// What one group of `LANES` walkers produced.
struct Group {
    endpoints: Vec<f32>,
    loss: Lanes,
    grad_norm: Lanes,
    steps: [u32; LANES],
    status: [u32; LANES],
    trace: Vec<f32>,
}

/// Walks `starts` (row-major, M × P) to their ends. `trace`, if given, records θ every that many
/// steps (rows t = 0..=steps/trace, stopped walkers repeating their end). `progress` is called
/// with the number of walkers finished.
pub fn descend(
    km: &KernelModel,
    n: usize,
    data: &[f32],
    starts: &[f32],
    settings: &DescendSettings,
    trace: Option<u32>,
    progress: &(dyn Fn(u64) + Sync),
) -> WalkOutput {
    let p = km.parameters;
    let m = starts.len() / p;
    let rows = trace.map_or(0, |k| (settings.steps / k) as usize + 1);
    let groups: Vec<Group> = (0..m.div_ceil(LANES))
        .into_par_iter()
        .map(|gi| {
            let lanes = LANES.min(m - gi * LANES);
            let g = walk_group(
                km,
                n,
                data,
                &starts[gi * LANES * p..(gi * LANES + lanes) * p],
                settings,
                trace,
                rows,
            );
            progress(lanes as u64);
            g
        })
        .collect();
    let mut out = WalkOutput {
        endpoints: Vec::with_capacity(m * p),
        loss: Vec::with_capacity(m),
        grad_norm: Vec::with_capacity(m),
        steps: Vec::with_capacity(m),
        status: Vec::with_capacity(m),
        trace: trace.map(|_| vec![f32::NAN; rows * m * p]),
    };
    for (gi, g) in groups.iter().enumerate() {
        let lanes = LANES.min(m - gi * LANES);
        out.endpoints.extend_from_slice(&g.endpoints[..lanes * p]);
        out.loss.extend_from_slice(&g.loss[..lanes]);
        out.grad_norm.extend_from_slice(&g.grad_norm[..lanes]);
        out.steps.extend_from_slice(&g.steps[..lanes]);
        out.status.extend_from_slice(&g.status[..lanes]);
        if let Some(t) = out.trace.as_mut() {
            for r in 0..rows {
                let dst = (r * m + gi * LANES) * p;
                t[dst..dst + lanes * p]
                    .copy_from_slice(&g.trace[r * LANES * p..(r * LANES + lanes) * p]);
            }
        }
    }
    out
}

/// One group of up to `LANES` walkers (row-major starts); missing lanes repeat the last walker.
fn walk_group(
    km: &KernelModel,
    n: usize,
    data: &[f32],
    starts: &[f32],
    s: &DescendSettings,
    trace: Option<u32>,
    rows: usize,
) -> Group {
    let p = km.parameters;
    let lanes = starts.len() / p;
    let mut theta = vec![[0.0f32; LANES]; p];
    for k in 0..LANES {
        let w = k.min(lanes - 1);
        for q in 0..p {
            theta[q][k] = starts[w * p + q];
        }
    }
    let mut velocity = vec![[0.0f32; LANES]; p];
    let mut grad = vec![[0.0f32; LANES]; p];
    let mut scratch = Scratch::new(km);
    let mut g = Group {
        endpoints: vec![0.0; LANES * p],
        loss: [f32::NAN; LANES],
        grad_norm: [f32::NAN; LANES],
        steps: [0; LANES],
        status: [RUNNING; LANES],
        trace: vec![f32::NAN; rows * LANES * p],
    };
    let mut step = 0u32;
    loop {
        let loss = loss_and_gradient(km, n, data, &theta, &mut grad, &mut scratch);
        let norm = norms(&grad);
        if let Some(every) = trace
            && step.is_multiple_of(every)
        {
            let r = (step / every) as usize;
            for k in (0..LANES).filter(|&k| g.status[k] == RUNNING) {
                for q in 0..p {
                    g.trace[(r * LANES + k) * p + q] = theta[q][k];
                }
            }
        }
        let mut running = [false; LANES];
        for k in 0..LANES {
            if g.status[k] != RUNNING {
                continue;
            }
            let max_abs = theta.iter().fold(0.0f32, |m, t| m.max(t[k].abs()));
            let finite = theta.iter().all(|t| t[k].is_finite());
            let status = classify(finite, max_abs, loss[k], norm[k], step, s);
            if status == RUNNING {
                running[k] = true;
                continue;
            }
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
                        g.trace[(r * LANES + k) * p + q] = theta[q][k];
                    }
                }
            }
        }
        if !running.iter().any(|&r| r) {
            return g;
        }
        for q in 0..p {
            let (v, t, gr) = (&mut velocity[q], &mut theta[q], &grad[q]);
            for k in 0..LANES {
                let nv = s.momentum * v[k] - s.lr * gr[k];
                if running[k] {
                    v[k] = nv;
                    t[k] += nv;
                }
            }
        }
        step += 1;
    }
}
