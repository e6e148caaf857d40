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

/// `--adapter local-rank`: on a node with several GPUs, each process of a job takes the GPU of
/// its rank on the node.
pub const LOCAL_RANK: &str = "local-rank";

/// The adapter `--adapter local-rank` names: the k-th hardware adapter in wgpu's enumeration
/// (every adapter, where there is no hardware one), k being the process's rank on its node,
/// `SLURM_LOCALID` (else `LOCAL_RANK`, as torchrun and others set it).
fn local_rank_adapter(env: &dyn Fn(&str) -> Option<String>) -> Result<String> {
    let (name, value) = ["SLURM_LOCALID", "LOCAL_RANK"]
        .into_iter()
        .find_map(|n| env(n).map(|v| (n, v)))
        .ok_or_else(|| {
            crate::Error::setting(
                "adapter",
                "local-rank: neither SLURM_LOCALID nor LOCAL_RANK is set; expected a process started by Slurm (or a launcher that sets LOCAL_RANK), or give an adapter's index",
            )
        })?;
    let rank: usize = value.trim().parse().map_err(|_| {
        crate::Error::setting(
            "adapter",
            format!("local-rank: {name} is '{value}'; expected a whole number"),
        )
    })?;
    let all = gpu::adapters();
    let hardware: Vec<&gpu::AdapterSummary> =
        all.iter().filter(|a| !gpu::is_software(&a.info)).collect();
    let pool: Vec<&gpu::AdapterSummary> = if hardware.is_empty() {
        all.iter().collect()
    } else {
        hardware
    };
    let chosen = pool.get(rank).ok_or_else(|| {
        crate::Error::setting(
            "adapter",
            format!(
                "local-rank: {name} is {rank}, but this node has {} GPU adapter{} ([{}]); start at most one process per GPU",
                pool.len(),
                if pool.len() == 1 { "" } else { "s" },
                pool.iter()
                    .map(|a| format!("{}: {}", a.index, a.info.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })?;
    Ok(chosen.index.to_string())
}

/// Opens the backend the user asked for. With `auto`, a missing hardware adapter is not an
/// error: the CPU backend is returned together with a note saying why.
pub fn open(
    choice: BackendChoice,
    adapter: Option<&str>,
) -> Result<(Box<dyn Backend>, Option<String>)> {
    let ranked;
    let adapter = match adapter {
        Some(LOCAL_RANK) if choice != BackendChoice::Cpu => {
            ranked = local_rank_adapter(&|n| std::env::var(n).ok().filter(|v| !v.is_empty()))?;
            Some(ranked.as_str())
        }
        other => other,
    };
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
