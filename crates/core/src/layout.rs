//! The float32 forms of a model and a slice that both backends' kernels consume.

use crate::spec::data::Dataset;
use crate::spec::model::Model;
use crate::spec::slice::{AxisKind, MAX_AXES, Slice};

/// The model as the kernels see it: widths and parameter offsets per layer, activation codes.
/// The shader header generated from it (`landscape-gpu`'s `shader`) and the CPU kernels read the
/// same fields.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KernelModel {
    /// Layer widths, input first.
    pub widths: Vec<usize>,
    /// Offset of each layer's units in the per-sample activation array (input layer first).
    pub unit_offsets: Vec<usize>,
    /// Offset of each weight layer's matrix in θ.
    pub w_offsets: Vec<usize>,
    /// Offset of each weight layer's bias in θ (unused without biases).
    pub b_offsets: Vec<usize>,
    /// Total units over all layers, input included.
    pub units: usize,
    /// P.
    pub parameters: usize,
    /// Activation code of the hidden layers.
    pub act: u32,
    /// Activation code of the output layer.
    pub out_act: u32,
    /// Whether layers have biases.
    pub bias: bool,
}

impl KernelModel {
    /// The kernel form of `model`.
    pub fn new(model: &Model) -> KernelModel {
        let layout = model.layout();
        let mut unit_offsets = Vec::with_capacity(model.widths.len());
        let mut acc = 0;
        for &w in &model.widths {
            unit_offsets.push(acc);
            acc += w;
        }
        KernelModel {
            widths: model.widths.clone(),
            unit_offsets,
            w_offsets: layout.iter().map(|l| l.w).collect(),
            b_offsets: layout.iter().map(|l| l.b.unwrap_or(0)).collect(),
            units: acc,
            parameters: model.parameter_count(),
            act: model.act.code(),
            out_act: model.out_act.code(),
            bias: model.bias,
        }
    }

    /// Number of weight layers.
    pub fn layers(&self) -> usize {
        self.widths.len() - 1
    }

    /// Input width.
    pub fn inputs(&self) -> usize {
        self.widths[0]
    }

    /// Output width.
    pub fn outputs(&self) -> usize {
        self.widths[self.widths.len() - 1]
    }
}

/// A slice in float32 as the kernels compute lattice points: origin, up to four axes each either
/// setting a parameter (`param ≥ 0`) or offsetting along a direction (`param = −1`). Axis values
/// are tabulated on the host in float64 and rounded once, so every lattice coordinate is the
/// float32 nearest to its exact value, on every backend.
#[derive(Debug, Clone, PartialEq)]
pub struct LatticeF32 {
    /// Number of axes.
    pub axes: usize,
    /// Points per axis.
    pub n: [u32; MAX_AXES],
    /// Parameter set by each axis, or −1 for a direction axis.
    pub param: [i32; MAX_AXES],
    /// Offset of each axis's value table in `vectors`.
    pub offset: [u32; MAX_AXES],
    /// Origin (P values), one direction (P values) per axis slot (zero where unused), then the
    /// value table of each axis.
    pub vectors: Vec<f32>,
}

impl LatticeF32 {
    /// The float32 form of `slice`.
    pub fn new(slice: &Slice) -> LatticeF32 {
        let p = slice.origin.len();
        let mut l = LatticeF32 {
            axes: slice.axes.len(),
            n: [1; MAX_AXES],
            param: [-1; MAX_AXES],
            offset: [0; MAX_AXES],
            vectors: vec![0.0; p * (1 + MAX_AXES)],
        };
        for (v, o) in l.vectors.iter_mut().zip(&slice.origin) {
            *v = *o as f32;
        }
        for (j, a) in slice.axes.iter().enumerate() {
            l.n[j] = a.n as u32;
            match &a.kind {
                AxisKind::Set(q) => l.param[j] = *q as i32,
                AxisKind::Offset(d) => {
                    for (v, dv) in l.vectors[p * (1 + j)..p * (2 + j)].iter_mut().zip(d) {
                        *v = *dv as f32;
                    }
                }
                // A direction of zeros: the point does not move along it. Lattices are
                // evaluated by `grid`, which refuses hyper-parameter axes
                // (`Slice::parameters_only`); maps take their starts from `Slice::point`.
                AxisKind::Rate(_) | AxisKind::Scale => {}
            }
        }
        for (j, a) in slice.axes.iter().enumerate() {
            l.offset[j] = l.vectors.len() as u32;
            l.vectors.extend(a.values().into_iter().map(|v| v as f32));
        }
        l
    }

    /// Value `i` of axis `j`.
    #[inline]
    fn value(&self, j: usize, i: u32) -> f32 {
        self.vectors[(self.offset[j] + i) as usize]
    }

    /// θ at global lattice index `g`, written into `theta` (the CPU twin of `lattice_point` in
    /// eval.wgsl: sets first, then offsets, in axis order).
    pub fn point(&self, g: u32, theta: &mut [f32]) {
        let p = theta.len();
        theta.copy_from_slice(&self.vectors[..p]);
        let mut idx = [0u32; MAX_AXES];
        let mut rest = g;
        for j in (0..self.axes).rev() {
            idx[j] = rest % self.n[j];
            rest /= self.n[j];
        }
        for j in 0..self.axes {
            if self.param[j] >= 0 {
                theta[self.param[j] as usize] = self.value(j, idx[j]);
            }
        }
        for j in 0..self.axes {
            if self.param[j] < 0 {
                let t = self.value(j, idx[j]);
                let d = &self.vectors[p * (1 + j)..p * (2 + j)];
                for (th, dv) in theta.iter_mut().zip(d) {
                    *th += t * dv;
                }
            }
        }
    }
}

/// Data as float32 in the layout the kernels read: inputs (N × in) then targets (N × out).
pub fn data_f32(data: &Dataset) -> Vec<f32> {
    data.x().iter().chain(data.y()).map(|&v| v as f32).collect()
}

/// How a hidden unit of a one-hidden-layer network varies over a lattice: what both backends'
/// lattice kernels may compute once per row or once per lattice instead of once per point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// With the last (fastest) axis and another: computed at every point.
    Compute,
    /// Not with the last axis: the same along each row (a run of points that differ in the last
    /// axis only), computed once per row.
    Row,
    /// With the last axis only: the same in every row, computed once per lattice for each value
    /// of the last axis.
    Column,
}

/// How each hidden unit of `km` varies over `lattice`, or `None` when the network is not one
/// hidden layer or every unit changes with the last axis and another (nothing to reuse).
pub fn hidden_units(km: &KernelModel, lattice: &LatticeF32) -> Option<Vec<Unit>> {
    if km.widths.len() != 3 || lattice.axes == 0 {
        return None;
    }
    let (inputs, hidden) = (km.widths[0], km.widths[1]);
    let p = km.parameters;
    let last = lattice.axes - 1;
    let units: Vec<Unit> = (0..hidden)
        .map(|i| {
            // θ entries that feed unit i: its row of w1 and its bias.
            let mut feeds: Vec<usize> = (0..inputs)
                .map(|j| km.w_offsets[0] + i * inputs + j)
                .collect();
            if km.bias {
                feeds.push(km.b_offsets[0] + i);
            }
            let moves = |axis: usize| {
                if lattice.param[axis] >= 0 {
                    feeds.contains(&(lattice.param[axis] as usize))
                } else {
                    let d = &lattice.vectors[p * (1 + axis)..p * (2 + axis)];
                    feeds.iter().any(|&q| d[q] != 0.0)
                }
            };
            match (moves(last), (0..last).any(moves)) {
                (true, true) => Unit::Compute,
                (true, false) => Unit::Column,
                (false, _) => Unit::Row,
            }
        })
        .collect();
    (!units.iter().all(|&u| u == Unit::Compute)).then_some(units)
}
