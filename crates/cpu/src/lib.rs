//! The CPU backend: float32 kernels, one file per kernel named as its shader, run on all cores
//! with rayon. Every point is computed by one thread in a fixed order, so results do not depend
//! on the thread count. `asm231` is the walkers' step loop of W1's network in AVX-512 assembly,
//! the same operations as `net`'s compiled loop.
//!
//! Only the backend (`CpuBackend`) and the choice of instruction set (`Isa`) are public. The
//! kernels, the vector types and the dispatch are private: a vector type's operations run its
//! instructions without a check, so only kernels handed out after the processor was found to
//! support them may use them.
//!
//! ```compile_fail,E0603
//! // error[E0603]: module `simd` is private
//! use landscape_cpu::simd::Avx512;
//! ```

#[cfg(target_arch = "x86_64")]
mod asm231;
mod common;
mod descend;
mod eval;
mod isa;
mod net;
mod simd;

pub use isa::Isa;
use isa::Kernels;

use landscape_core::backend::{
    Backend, BackendInfo, DescendSettings, Evaluation, KernelModel, LatticeF32, WalkOutput,
    check_range, check_rates, data_f32,
};
use landscape_core::error::Result;
use landscape_core::spec::data::Dataset;
use landscape_core::spec::model::Model;
use landscape_core::spec::slice::Slice;
use landscape_core::spec::walk::WalkSettings;
use std::ops::Range;

/// How the adapter of a CPU backend without activation reuse or retirement ends: it computes
/// everything the GPU kernels compute.
pub const PLAIN: &str = ", no activation reuse or retirement";

/// The multi-threaded CPU backend.
pub struct CpuBackend {
    pool: rayon::ThreadPool,
    isa: Isa,
    reuse: bool,
    retire: bool,
    computed: u64,
}

/// Stack of each CPU thread in unoptimised builds (`with_options`).
const DEBUG_STACK: usize = 16 << 20;

impl CpuBackend {
    /// A backend on all cores.
    pub fn new() -> CpuBackend {
        Self::with_threads(0)
    }

    /// A backend on `threads` threads (0: all cores), with the widest instruction set.
    pub fn with_threads(threads: usize) -> CpuBackend {
        Self::with_options(threads, Isa::best())
    }

    /// A backend on `threads` threads (0: all cores) running the kernels compiled for `isa`
    /// (the baseline when the processor lacks it).
    pub fn with_options(threads: usize, isa: Isa) -> CpuBackend {
        let isa = if Isa::available().contains(&isa) {
            isa
        } else {
            Isa::Baseline
        };
        // Unoptimised builds keep the specialised kernels' unrolled arrays on the stack, several
        // MiB of it: their threads get more than the default 2 MiB (optimised builds keep them in
        // registers and need no more).
        let builder = || {
            let b = rayon::ThreadPoolBuilder::new();
            if cfg!(debug_assertions) {
                b.stack_size(DEBUG_STACK)
            } else {
                b
            }
        };
        let pool = builder()
            .num_threads(threads)
            .build()
            .or_else(|_| builder().num_threads(1).build());
        match pool {
            Ok(pool) => CpuBackend {
                pool,
                isa,
                reuse: true,
                retire: true,
                computed: 0,
            },
            // A pool of one thread only fails when the OS refuses to spawn threads at all.
            Err(e) => panic!("cannot start a CPU thread: {e}"),
        }
    }

    /// Whether lattice evaluations compute the hidden activations that the lattice leaves fixed
    /// along rows or columns once rather than at every point (`eval::Reuse`; on by default, off
    /// to time or check the kernel that computes everything). Results are the same either way.
    pub fn with_reuse(mut self, reuse: bool) -> CpuBackend {
        self.reuse = reuse;
        self
    }

    /// Whether walks retire a walker whose last step left it exactly where it was (a fixed
    /// point of the float32 step, which every later step would repeat), recording it as it
    /// would end after its full budget (`descend`; on by default, off to time every step).
    /// Results are the same bits either way.
    pub fn with_retire(mut self, retire: bool) -> CpuBackend {
        self.retire = retire;
        self
    }

    /// Walker-steps the last walk computed: its walkers' steps, less those that retired
    /// walkers did not need to take.
    pub fn computed_steps(&self) -> u64 {
        self.computed
    }

    /// The instruction-set variant the kernels run.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Number of worker threads.
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }
}

impl Default for CpuBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl Backend for CpuBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            backend: "cpu".into(),
            adapter: format!(
                "{} threads, {}{}",
                self.threads(),
                self.isa.name(),
                match (self.reuse, self.retire) {
                    (true, true) => "",
                    (false, true) => ", no activation reuse",
                    (true, false) => ", no retirement",
                    (false, false) => PLAIN,
                }
            ),
            device_type: "Host".into(),
            api: "none".into(),
            software_adapter: false,
        }
    }

    fn evaluate_lattice(
        &mut self,
        model: &Model,
        data: &Dataset,
        slice: &Slice,
        range: Range<u64>,
        save_grad: bool,
    ) -> Result<Evaluation> {
        check_range(slice, &range)?;
        let km = KernelModel::new(model);
        let lattice = LatticeF32::new(slice);
        let d = data_f32(data);
        let reuse = if self.reuse {
            eval::Reuse::new(&km, &lattice)
        } else {
            None
        };
        let problem = eval::Problem {
            km: &km,
            n: data.len(),
            data: &d,
            points: eval::Points::Lattice {
                lattice: &lattice,
                first: range.start as u32,
            },
            reuse: reuse.as_ref(),
        };
        let kernels = Kernels::new(&km, self.isa);
        let count = (range.end - range.start) as usize;
        Ok(self
            .pool
            .install(|| eval::eval(&kernels, &problem, count, save_grad)))
    }

    fn evaluate_points(
        &mut self,
        model: &Model,
        data: &Dataset,
        points: &[f64],
        save_grad: bool,
    ) -> Result<Evaluation> {
        let km = KernelModel::new(model);
        let p = km.parameters;
        let pts: Vec<f32> = points.iter().map(|&v| v as f32).collect();
        let d = data_f32(data);
        let problem = eval::Problem {
            km: &km,
            n: data.len(),
            data: &d,
            points: eval::Points::Explicit(&pts),
            reuse: None,
        };
        let kernels = Kernels::new(&km, self.isa);
        Ok(self
            .pool
            .install(|| eval::eval(&kernels, &problem, points.len() / p, save_grad)))
    }

    fn walk_rated(
        &mut self,
        model: &Model,
        data: &Dataset,
        starts: &[f32],
        rates: Option<&[f32]>,
        settings: &WalkSettings,
        trace: Option<u32>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<WalkOutput> {
        if let Some(r) = rates {
            check_rates(r, starts.len() / model.parameter_count(), model.layers())?;
        }
        let layer_of = model.layer_of();
        let km = KernelModel::new(model);
        let d = data_f32(data);
        let s = DescendSettings::new(settings);
        let per_walker = u64::from(settings.steps);
        let problem = descend::Problem {
            km: &km,
            n: data.len(),
            data: &d,
            settings: &s,
            trace,
            rows: trace.map_or(0, |k| (s.steps / k) as usize + 1),
            retire: self.retire,
            rates,
            layer_of: &layer_of,
        };
        let kernels = Kernels::new(&km, self.isa);
        let (out, computed) = self.pool.install(|| {
            descend::descend(&kernels, &problem, starts, &|walkers| {
                progress(walkers * per_walker)
            })
        });
        self.computed = computed;
        Ok(out)
    }
}
