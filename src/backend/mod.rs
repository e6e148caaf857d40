//! Backends: the same computation on the CPU (multi-threaded, f32) and on the GPU (wgpu, WGSL,
//! f32). Both agree with the float64 reference in `crate::reference` within stated tolerances.

pub mod cpu;
pub mod gpu;
mod layout;

pub use layout::{KernelModel, LatticeF32};

use crate::error::Result;
use crate::spec::data::Dataset;
use crate::spec::model::Model;
use crate::spec::slice::Slice;
use serde::Serialize;
use std::ops::Range;

/// What a backend is, for printing and for run.json.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
}

/// `--backend auto|gpu|cpu`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// A hardware GPU adapter if there is one, else the CPU.
    Auto,
    /// A wgpu adapter (hardware preferred, software accepted).
    Gpu,
    /// The multi-threaded CPU backend.
    Cpu,
}

/// Opens the backend the user asked for. With `auto`, a missing hardware adapter is not an
/// error: the CPU backend is returned together with a note saying why.
pub fn open(
    choice: BackendChoice,
    adapter: Option<&str>,
) -> Result<(Box<dyn Backend>, Option<String>)> {
    match choice {
        BackendChoice::Cpu => Ok((Box::new(cpu::CpuBackend::new()), None)),
        BackendChoice::Gpu => {
            let ctx = gpu::GpuContext::new(adapter, false)?;
            Ok((Box::new(gpu::GpuBackend::new(ctx)), None))
        }
        BackendChoice::Auto => match gpu::GpuContext::new(adapter, true) {
            Ok(ctx) => Ok((Box::new(gpu::GpuBackend::new(ctx)), None)),
            Err(e) => Ok((
                Box::new(cpu::CpuBackend::new()),
                Some(format!("using the CPU backend: {e}")),
            )),
        },
    }
}
