//! CPU twin of `shaders/eval.wgsl`: L, ‖∇L‖ and optionally ∇L at many points, `L` points at a
//! time.

use super::common::{Lanes, norms};
use super::isa::Kernels;
use super::net::Net;
use super::simd::Simd;
use crate::backend::{Evaluation, KernelModel, LatticeF32};
use rayon::prelude::*;

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

impl Points<'_> {
    /// Point `idx` (counted from the first) written into `theta`.
    fn point(&self, idx: usize, theta: &mut [f32]) {
        let p = theta.len();
        match self {
            Points::Lattice { lattice, first } => lattice.point(first + idx as u32, theta),
            Points::Explicit(pts) => theta.copy_from_slice(&pts[idx * p..(idx + 1) * p]),
        }
    }
}

/// The problem every block of points shares.
pub struct Problem<'a> {
    /// The model.
    pub km: &'a KernelModel,
    /// Number of samples.
    pub n: usize,
    /// Inputs (n × in) then targets (n × out).
    pub data: &'a [f32],
    /// Where the points come from.
    pub points: Points<'a>,
}

/// One block of consecutive points: its first index and where its results go.
pub struct Block<'a> {
    /// Index of the block's first point.
    pub first: usize,
    /// L per point.
    pub loss: &'a mut [f32],
    /// ‖∇L‖ per point.
    pub grad_norm: &'a mut [f32],
    /// ∇L per point (row-major), or empty when not asked for.
    pub grad: &'a mut [f32],
}

/// L, ‖∇L‖ and optionally ∇L at `count` points. Outputs start as NaN, so a point the kernel
/// skipped can never pass for a computed one.
pub fn eval(kernels: &Kernels, problem: &Problem<'_>, count: usize, save_grad: bool) -> Evaluation {
    let p = problem.km.parameters;
    // Points per rayon task: many lanes, to amortise scheduling.
    let per_task = 32 * kernels.lanes;
    let mut loss = vec![f32::NAN; count];
    let mut grad_norm = vec![f32::NAN; count];
    let mut grad = if save_grad {
        vec![f32::NAN; count * p]
    } else {
        Vec::new()
    };
    let tasks = count.div_ceil(per_task);
    let grad_chunks: Vec<&mut [f32]> = if save_grad {
        grad.chunks_mut(p * per_task).collect()
    } else {
        (0..tasks).map(|_| &mut [][..]).collect()
    };
    loss.par_chunks_mut(per_task)
        .zip(grad_norm.par_chunks_mut(per_task))
        .zip(grad_chunks)
        .enumerate()
        .for_each(|(c, ((loss, grad_norm), grad))| {
            (kernels.eval)(
                problem,
                Block {
                    first: c * per_task,
                    loss,
                    grad_norm,
                    grad,
                },
            )
        });
    Evaluation {
        loss,
        grad_norm,
        grad: save_grad.then_some(grad),
    }
}

/// Evaluates one block, `L` points at a time; lanes past the end repeat the last point and their
/// results are dropped.
#[inline(always)]
pub fn eval_block<const L: usize, S: Simd<L>, N: Net<L>>(problem: &Problem<'_>, b: Block<'_>) {
    let km = problem.km;
    let p = km.parameters;
    let mut scratch = N::scratch(km);
    let mut theta = vec![[0.0f32; L]; p];
    let mut g = vec![[0.0f32; L]; p];
    let mut one = vec![0.0f32; p];
    let save_grad = !b.grad.is_empty();
    for base in (0..b.loss.len()).step_by(L) {
        let lanes = L.min(b.loss.len() - base);
        for k in 0..L {
            problem
                .points
                .point(b.first + base + k.min(lanes - 1), &mut one);
            for (t, v) in theta.iter_mut().zip(&one) {
                t[k] = *v;
            }
        }
        let l: Lanes<L> =
            N::loss_and_gradient::<S>(km, problem.n, problem.data, &theta, &mut g, &mut scratch);
        let norm = norms::<L, S>(&g);
        for k in 0..lanes {
            b.loss[base + k] = l[k];
            b.grad_norm[base + k] = norm[k];
            if save_grad {
                for (q, gv) in g.iter().enumerate() {
                    b.grad[(base + k) * p + q] = gv[k];
                }
            }
        }
    }
}
