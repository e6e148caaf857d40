//! CPU twin of `shaders/eval.wgsl`: L, ‖∇L‖ and optionally ∇L at many points, `LANES` points at a
//! time.

use super::common::{LANES, Lanes, Scratch, loss_and_gradient, norms};
use crate::backend::{Evaluation, KernelModel, LatticeF32};
use rayon::prelude::*;

/// Points per rayon task: a multiple of `LANES`, large enough to amortise scheduling.
const POINTS_PER_TASK: usize = 32 * LANES;

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
    let tasks = count.div_ceil(POINTS_PER_TASK);
    let grad_chunks: Vec<&mut [f32]> = if save_grad {
        grad.chunks_mut(p * POINTS_PER_TASK).collect()
    } else {
        (0..tasks).map(|_| &mut [][..]).collect()
    };
    loss.par_chunks_mut(POINTS_PER_TASK)
        .zip(grad_norm.par_chunks_mut(POINTS_PER_TASK))
        .zip(grad_chunks)
        .enumerate()
        .for_each(|(c, ((ls, gn), gs))| {
            let mut scratch = Scratch::new(km);
            let mut theta = vec![[0.0f32; LANES]; p];
            let mut g = vec![[0.0f32; LANES]; p];
            let mut one = vec![0.0f32; p];
            for base in (0..ls.len()).step_by(LANES) {
                let lanes = LANES.min(ls.len() - base);
                // Lanes past the end repeat the last point; their results are dropped.
                for k in 0..LANES {
                    let idx = c * POINTS_PER_TASK + base + k.min(lanes - 1);
                    match points {
                        Points::Lattice { lattice, first } => {
                            lattice.point(first + idx as u32, &mut one)
                        }
                        Points::Explicit(pts) => one.copy_from_slice(&pts[idx * p..(idx + 1) * p]),
                    }
                    for (t, v) in theta.iter_mut().zip(&one) {
                        t[k] = *v;
                    }
                }
                let l: Lanes = loss_and_gradient(km, n, data, &theta, &mut g, &mut scratch);
                let norm = norms(&g);
                for k in 0..lanes {
                    ls[base + k] = l[k];
                    gn[base + k] = norm[k];
                    if save_grad {
                        for (q, gv) in g.iter().enumerate() {
                            gs[(base + k) * p + q] = gv[k];
                        }
                    }
                }
            }
        });
    Evaluation {
        loss,
        grad_norm,
        grad: save_grad.then_some(grad),
    }
}
