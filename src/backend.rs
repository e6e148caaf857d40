//! Backends: the same computation on the CPU (multi-threaded, f32; `cpu`, the crate
//! `landscape-cpu`) and on the GPU (wgpu, WGSL, f32; `gpu`, the crate `landscape-gpu`), behind the
//! `Backend` trait of `landscape-core`. Both agree with the float64 reference in
//! `crate::reference` within stated tolerances.
//!
//! The CPU backend's kernels, vector types and instruction-set dispatch are private to its
//! crate, so that no safe function of this library runs an instruction the processor lacks:
//!
//! ```compile_fail,E0603
//! // error[E0603]: module `simd` is private
//! use landscape::backend::cpu::simd::Avx512;
//! ```

pub use landscape_core::backend::*;
pub use landscape_cpu as cpu;
pub use landscape_gpu as gpu;

use crate::error::Result;
use serde::Serialize;

/// `--backend auto|gpu|cpu`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, serde::Deserialize)]
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
