//! CPU twin of `landscape-gpu`'s `shaders/eval.wgsl`: L, ‖∇L‖ and optionally ∇L at many
//! points, `L` points at a time.

use super::common::{Lanes, activate, fma_as, norms};
use super::isa::Kernels;
use super::net::{Hidden, Net};
use super::simd::Simd;
use landscape_core::backend::{Evaluation, KernelModel, LatticeF32, Unit, hidden_units};
use rayon::prelude::*;
use std::sync::OnceLock;

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
    /// Hidden activations the lattice leaves unchanged from point to point (lattices only).
    pub reuse: Option<&'a Reuse>,
}

/// Activations of hidden units that a lattice changes along one axis or not at all, so that
/// each is computed once per row or once per lattice instead of once per point: on a plane of
/// two first-layer weights of different units (SPEC's W2), no activation at all is computed per
/// point. Results are those of computing everything, bit for bit: the same operations run on the
/// same float32 values, only fewer times.
pub struct Reuse {
    /// Each hidden unit.
    pub units: Vec<Unit>,
    /// Points per row (values of the last axis).
    row: usize,
    /// Per `Column` unit (in unit order): its activations, built by the first block that needs
    /// them.
    columns: Vec<OnceLock<Column>>,
}

/// The activations of one `Column` unit for every value of the last axis, in tiles of `lanes`
/// columns: a tile holds its columns for every sample, sample-major, so that a block of `lanes`
/// points reads `lanes` consecutive floats per sample and the samples follow one another in
/// memory. (A table with a row per sample would put consecutive samples a row's length apart:
/// 4 KiB on SPEC's W2, all in one set of the level-1 cache.) Column f of sample s lies at
/// ((f / lanes)·n + s)·lanes + f mod lanes, in `h` for a(z) and `dh` for a'(z).
struct Column {
    /// Tile width: the lanes of the kernel that built the table.
    lanes: usize,
    /// a(z), ⌈row / lanes⌉ tiles of n × lanes.
    h: Vec<f32>,
    /// a'(z), alike.
    dh: Vec<f32>,
}

impl Reuse {
    /// The reuse plan of `lattice` for `km`, or `None` when the network is not one hidden layer
    /// or every unit changes with the last axis and another.
    pub fn new(km: &KernelModel, lattice: &LatticeF32) -> Option<Reuse> {
        let units = hidden_units(km, lattice)?;
        let last = lattice.axes - 1;
        let columns = units.iter().filter(|&&u| u == Unit::Column).count();
        Some(Reuse {
            units,
            row: lattice.n[last] as usize,
            columns: (0..columns).map(|_| OnceLock::new()).collect(),
        })
    }
}

/// a(z) and a'(z) of hidden unit `unit` for every sample at parameters `theta` (one point), as
/// the kernel computes them: z summed in the same order and rounded alike, the same activation.
#[inline(always)]
fn unit_activations<const L: usize, S: Simd<L>>(
    km: &KernelModel,
    n: usize,
    data: &[f32],
    theta: &[f32],
    unit: usize,
    h: &mut [f32],
    dh: &mut [f32],
) {
    let inputs = km.widths[0];
    let w = &theta[km.w_offsets[0] + unit * inputs..km.w_offsets[0] + (unit + 1) * inputs];
    let b = if km.bias {
        theta[km.b_offsets[0] + unit]
    } else {
        0.0
    };
    for first in (0..n).step_by(L) {
        let mut z = [b; L];
        for (k, zk) in z.iter_mut().enumerate() {
            let x = &data[(first + k).min(n - 1) * inputs..][..inputs];
            for j in 0..inputs {
                *zk = fma_as::<L, S>(w[j], x[j], *zk);
            }
        }
        let (a, da) = activate::<L, S>(km.act, S::load(&z));
        let (a, da) = (a.store(), da.store());
        let count = L.min(n - first);
        h[first..first + count].copy_from_slice(&a[..count]);
        dh[first..first + count].copy_from_slice(&da[..count]);
    }
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
    let (n, data) = (problem.n, problem.data);
    let mut scratch = N::scratch(km);
    let mut theta = vec![[0.0f32; L]; p];
    let mut g = vec![[0.0f32; L]; p];
    let mut one = vec![0.0f32; p];
    let save_grad = !b.grad.is_empty();
    let reuse = match (problem.reuse, problem.points) {
        (Some(r), Points::Lattice { lattice, first }) if N::REUSES => Some((r, lattice, first)),
        _ => None,
    };
    // With a reuse plan: the activations of the `Row` units in row `row_held` (a(z) then a'(z),
    // n values each, per unit).
    let hidden = km.widths.get(1).copied().unwrap_or(0);
    let mut rows = vec![0.0f32; if reuse.is_some() { 2 * n * hidden } else { 0 }];
    let mut row_held = u64::MAX;
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
        // Reuse applies when all L lanes lie in one row (lanes past the end would not).
        let plan = reuse.and_then(|(r, lattice, first)| {
            let g0 = u64::from(first) + (b.first + base) as u64;
            let (row, at) = (g0 / r.row as u64, (g0 % r.row as u64) as usize);
            (lanes == L && at + L <= r.row && r.units.len() <= MAX_HIDDEN)
                .then_some((r, lattice, row, at))
        });
        let l: Lanes<L> = if let Some((r, lattice, row, at)) = plan {
            if row != row_held {
                // θ of this block's first point holds the row's values of the `Row` units.
                for (i, _) in r.units.iter().enumerate().filter(|(_, u)| **u == Unit::Row) {
                    let (h, dh) = rows[2 * n * i..2 * n * (i + 1)].split_at_mut(n);
                    unit_activations::<L, S>(km, n, data, &one_point(&theta, 0), i, h, dh);
                }
                row_held = row;
            }
            let mut units = [Hidden::Compute; MAX_HIDDEN];
            let mut column = 0;
            for (i, u) in r.units.iter().enumerate() {
                units[i] = match u {
                    Unit::Compute => Hidden::Compute,
                    Unit::Row => {
                        let (h, dh) = rows[2 * n * i..2 * n * (i + 1)].split_at(n);
                        Hidden::Splat { h, dh }
                    }
                    Unit::Column => {
                        let table = column_table::<L, S>(problem, r, lattice, column, i);
                        column += 1;
                        // A table built by a kernel of another width is not read (computing
                        // the unit gives the same bits).
                        if table.lanes == L {
                            Hidden::Lanes {
                                h: &table.h,
                                dh: &table.dh,
                                samples: n,
                                at,
                            }
                        } else {
                            Hidden::Compute
                        }
                    }
                };
            }
            N::loss_and_gradient_with::<S>(
                km,
                n,
                data,
                &theta,
                &mut g,
                &mut scratch,
                &units[..r.units.len()],
            )
        } else {
            N::loss_and_gradient::<S>(km, n, data, &theta, &mut g, &mut scratch)
        };
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

/// Most hidden units of the networks with specialised kernels (`isa::by_shape`).
const MAX_HIDDEN: usize = 8;

/// Lane `k` of every parameter.
fn one_point<const L: usize>(theta: &[Lanes<L>], k: usize) -> Vec<f32> {
    theta.iter().map(|t| t[k]).collect()
}

/// The activations of `Column` unit `unit` (the `column`-th) for every value of the last axis
/// (`Column`); built on first use from the lattice's first row, which holds every value of the
/// last axis, and the unit's inputs are the same in every row.
#[inline(always)]
fn column_table<'r, const L: usize, S: Simd<L>>(
    problem: &Problem<'_>,
    r: &'r Reuse,
    lattice: &LatticeF32,
    column: usize,
    unit: usize,
) -> &'r Column {
    let lock = &r.columns[column];
    if let Some(table) = lock.get() {
        return table;
    }
    // Built here rather than in `get_or_init`'s closure, which would be compiled without the
    // kernel's instruction set. Two threads may both build it; both build the same values.
    let (n, km) = (problem.n, problem.km);
    let size = r.row.div_ceil(L) * n * L;
    let (mut h, mut dh) = (vec![0.0f32; size], vec![0.0f32; size]);
    let (mut hc, mut dhc) = (vec![0.0f32; n], vec![0.0f32; n]);
    let mut theta = vec![0.0f32; km.parameters];
    for f in 0..r.row {
        lattice.point(f as u32, &mut theta);
        unit_activations::<L, S>(km, n, problem.data, &theta, unit, &mut hc, &mut dhc);
        let tile = f / L * n * L + f % L;
        for s in 0..n {
            h[tile + s * L] = hc[s];
            dh[tile + s * L] = dhc[s];
        }
    }
    lock.get_or_init(move || Column { lanes: L, h, dh })
}

#[cfg(test)]
mod tests {
    use super::*;
    use landscape_core::spec::model::{Activation, Model};
    use landscape_core::spec::slice::build_slice;

    fn units(axes: &[&str]) -> Option<Vec<Unit>> {
        let m = Model::new("2-3-1", Activation::Tanh, Activation::Linear, true).expect("model");
        let axes: Vec<String> = axes.iter().map(|a| a.to_string()).collect();
        let slice = build_slice(&m, None, Some("random:1"), &axes, None).expect("slice");
        Reuse::new(&KernelModel::new(&m), &LatticeF32::new(&slice)).map(|r| r.units)
    }

    #[test]
    fn each_hidden_unit_is_classified_by_the_axes_that_move_it() {
        use Unit::{Column, Compute, Row};
        let w2 = units(&["w1[0,0]=-3:3:8", "w1[1,1]=-3:3:8"]);
        assert_eq!(w2, Some(vec![Row, Column, Row]));
        let same_unit = units(&["w1[0,0]=-3:3:8", "b1[0]=-3:3:8"]);
        assert_eq!(same_unit, Some(vec![Compute, Row, Row]));
        let output = units(&["w2[0,0]=-3:3:8", "b2[0]=-3:3:8"]);
        assert_eq!(output, Some(vec![Row, Row, Row]));
        // A random direction moves every unit: with it as the last axis, unit 0 moves with both.
        let random_last = units(&["w1[0,0]=-3:3:8", "random:2=-1:1:8"]);
        assert_eq!(random_last, Some(vec![Compute, Column, Column]));
        assert_eq!(units(&["random:3=-1:1:8", "random:2=-1:1:8"]), None);
        // A random direction first: each row differs in every unit; unit 2 moves along rows too.
        assert_eq!(
            units(&["random:2=-1:1:8", "w1[2,0]=-3:3:8"]),
            Some(vec![Row, Row, Compute])
        );
    }
}
