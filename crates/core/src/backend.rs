//! What every backend implements: the same computation on the CPU (multi-threaded, f32, crate
//! `landscape-cpu`) and on the GPU (wgpu, WGSL, f32, crate `landscape-gpu`). Both agree with the
//! float64 reference in `crate::reference` within stated tolerances.

pub use crate::layout::{KernelModel, LatticeF32, Unit, data_f32, hidden_units};

use crate::error::{Error, Result};
use crate::spec::data::Dataset;
use crate::spec::model::Model;
use crate::spec::slice::Slice;
use crate::spec::walk::{Status, WalkSettings};
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// What a backend is, for printing and for run.json.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendInfo {
    /// `cpu` or `gpu`.
    pub backend: String,
    /// The adapter's name (the CPU backend names its thread count).
    pub adapter: String,
    /// The adapter's device type as wgpu reports it (`DiscreteGpu`, `Cpu`, ...), or `Host`.
    pub device_type: String,
    /// The graphics API in use (`Vulkan`, `Metal`, ...), or `none` for the CPU backend.
    pub api: String,
    /// Whether the GPU backend runs on a software adapter (such as lavapipe).
    pub software_adapter: bool,
}

impl std::fmt::Display for BackendInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.backend == "cpu" {
            write!(f, "cpu ({})", self.adapter)
        } else {
            write!(
                f,
                "gpu: {} ({}, {}{})",
                self.adapter,
                self.device_type,
                self.api,
                if self.software_adapter {
                    ", software adapter"
                } else {
                    ""
                }
            )
        }
    }
}

/// Loss and gradient at a set of points.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// L at each point.
    pub loss: Vec<f32>,
    /// ‖∇L‖₂ at each point.
    pub grad_norm: Vec<f32>,
    /// ∇L at each point (points × P, row-major), when asked for.
    pub grad: Option<Vec<f32>>,
}

/// Internal status of a walker that has not stopped (never written to status.npy).
pub const RUNNING: u32 = u32::MAX;

/// Walk settings in the float32 form the kernels use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DescendSettings {
    /// Learning rate.
    pub lr: f32,
    /// Heavy-ball momentum β.
    pub momentum: f32,
    /// Converged when ‖∇L‖ < tol.
    pub tol: f32,
    /// Diverged when ‖θ‖∞ > diverge.
    pub diverge: f32,
    /// Maximum number of steps.
    pub steps: u32,
}

impl DescendSettings {
    /// The float32 form of validated settings.
    pub fn new(s: &WalkSettings) -> DescendSettings {
        DescendSettings {
            lr: s.lr as f32,
            momentum: s.momentum as f32,
            tol: s.tol as f32,
            diverge: s.diverge as f32,
            steps: s.steps,
        }
    }
}

/// The status of a walker after evaluating L and ∇L at its current point, before stepping:
/// non-finite θ, then divergence, then non-finite L or ∇L, then convergence, then the step
/// budget. The CPU twin of `classify` in descend.wgsl; `max_abs` is ‖θ‖∞.
#[inline]
pub fn classify(
    theta_finite: bool,
    max_abs: f32,
    loss: f32,
    grad_norm: f32,
    step: u32,
    s: &DescendSettings,
) -> u32 {
    if !theta_finite {
        Status::NonFinite as u32
    } else if max_abs > s.diverge {
        Status::Diverged as u32
    } else if !loss.is_finite() || !grad_norm.is_finite() {
        Status::NonFinite as u32
    } else if grad_norm < s.tol {
        Status::Converged as u32
    } else if step >= s.steps {
        Status::MaxSteps as u32
    } else {
        RUNNING
    }
}

/// Where M walkers ended.
#[derive(Debug, Clone, PartialEq)]
pub struct WalkOutput {
    /// Final θ of each walker (M × P).
    pub endpoints: Vec<f32>,
    /// L at the endpoint.
    pub loss: Vec<f32>,
    /// ‖∇L‖ at the endpoint.
    pub grad_norm: Vec<f32>,
    /// Steps taken.
    pub steps: Vec<u32>,
    /// `Status` code of each walker.
    pub status: Vec<u32>,
    /// With `--trace K`: θ every K steps, (S/K + 1) × M × P.
    pub trace: Option<Vec<f32>>,
}

/// A way to evaluate the loss and its gradient at many points.
pub trait Backend {
    /// What this backend is.
    fn info(&self) -> BackendInfo;

    /// L and ∇L at the lattice points with global indices in `range` of `slice`.
    fn evaluate_lattice(
        &mut self,
        model: &Model,
        data: &Dataset,
        slice: &Slice,
        range: Range<u64>,
        save_grad: bool,
    ) -> Result<Evaluation>;

    /// L and ∇L at explicit points (row-major, points × P, float64 rounded to float32).
    fn evaluate_points(
        &mut self,
        model: &Model,
        data: &Dataset,
        points: &[f64],
        save_grad: bool,
    ) -> Result<Evaluation>;

    /// Runs gradient descent from every start (row-major, M × P, float32) until each walker
    /// stops; `trace` records θ every that many steps; `progress` is called with the number of
    /// walker-steps (counting a stopped walker's remaining budget as done) since its last call.
    fn walk(
        &mut self,
        model: &Model,
        data: &Dataset,
        starts: &[f32],
        settings: &WalkSettings,
        trace: Option<u32>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<WalkOutput> {
        self.walk_rated(model, data, starts, None, settings, trace, progress)
    }

    /// `walk`, where `rates` (when given) holds each walker's own learning rate of each weight
    /// layer (M × layers, row-major) in place of `settings.lr`: walker w steps the weights and
    /// biases of layer l by `rates[w·layers + l]`. (A walker whose rates all equal
    /// `settings.lr` takes the very steps it takes without them.)
    #[expect(
        clippy::too_many_arguments,
        reason = "the walk's inputs, as `walk` takes them, and the rates"
    )]
    fn walk_rated(
        &mut self,
        model: &Model,
        data: &Dataset,
        starts: &[f32],
        rates: Option<&[f32]>,
        settings: &WalkSettings,
        trace: Option<u32>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<WalkOutput>;
}

/// Checks that `rates` holds one positive, finite learning rate per walker and weight layer, as
/// `Backend::walk_rated` needs.
pub fn check_rates(rates: &[f32], walkers: usize, layers: usize) -> Result<()> {
    if rates.len() != walkers * layers {
        return Err(Error::setting(
            "rates",
            format!(
                "{} learning rates for {walkers} walkers of {layers} weight layers; expected {}",
                rates.len(),
                walkers * layers
            ),
        ));
    }
    if let Some(r) = rates.iter().find(|r| !(r.is_finite() && **r > 0.0)) {
        return Err(Error::setting(
            "rates",
            format!("learning rate {r}; expected finite rates above 0"),
        ));
    }
    Ok(())
}

/// Checks that the lattice points `range` of `slice` exist and that one kernel call can index
/// them (below 2³²), as `Backend::evaluate_lattice` needs.
pub fn check_range(slice: &Slice, range: &Range<u64>) -> Result<()> {
    if range.start > range.end || range.end > slice.len() || range.end > u64::from(u32::MAX) {
        return Err(Error::setting(
            "range",
            format!(
                "lattice points {}..{} are not within the slice's {} points (at most 2³² a call)",
                range.start,
                range.end,
                slice.len()
            ),
        ));
    }
    Ok(())
}
