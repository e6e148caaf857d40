//! The GPU backend: WGSL compute shaders run through wgpu, on any adapter (hardware or
//! software), with work split into chunks that respect the adapter's limits.

pub mod context;
pub mod descend;
pub mod eval;
pub mod shader;

pub use context::{AdapterSummary, GpuContext, adapters, is_software};
pub use descend::DescendOptions;
pub use eval::EvalOptions;

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

/// The GPU backend over one context.
pub struct GpuBackend {
    ctx: GpuContext,
    /// Options of the eval kernel (chunk size, poisoning).
    pub eval_options: EvalOptions,
    /// Options of the descend kernel (chunk size, steps per dispatch).
    pub descend_options: DescendOptions,
    /// Whether [`Backend::info`] names the kernels' workgroup size and data staging after the
    /// adapter (for `landscape bench`, which can time several of them).
    pub name_variant: bool,
    /// Walkers of the last walk that retired at a fixed point of the float32 step.
    retired: u64,
}

impl GpuBackend {
    /// A backend on an opened context.
    pub fn new(ctx: GpuContext) -> GpuBackend {
        GpuBackend {
            ctx,
            eval_options: EvalOptions::default(),
            descend_options: DescendOptions::default(),
            name_variant: false,
            retired: 0,
        }
    }

    /// How many walkers of the last walk retired at a fixed point of the float32 step (their
    /// steps after it were not taken, their results are the same bits; see
    /// [`DescendOptions::no_retire`]).
    pub fn retired_walkers(&self) -> u64 {
        self.retired
    }

    /// The context (device, queue, adapter).
    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    /// The context, to change how kernels are compiled (workgroup size, data staging).
    pub fn context_mut(&mut self) -> &mut GpuContext {
        &mut self.ctx
    }
}

impl Backend for GpuBackend {
    fn info(&self) -> BackendInfo {
        let i = &self.ctx.info;
        let adapter = if self.name_variant {
            format!(
                "{} [wg {}, {}, {}, {}, {}]",
                i.name,
                self.ctx.workgroup_size,
                if self.ctx.stage_data {
                    "staged"
                } else {
                    "unstaged"
                },
                if self.ctx.share_rows {
                    "rows shared"
                } else {
                    "rows unshared"
                },
                if self.ctx.unroll_loops {
                    "unrolled"
                } else {
                    "loops"
                },
                match (
                    self.descend_options.queued.unwrap_or(true),
                    self.descend_options.max_lanes,
                ) {
                    (false, _) => "walkers one an invocation".to_string(),
                    (true, None) => "walkers queued".to_string(),
                    (true, Some(n)) => format!("walkers queued on {n} lanes"),
                }
            )
        } else {
            i.name.clone()
        };
        BackendInfo {
            backend: "gpu".into(),
            adapter,
            device_type: format!("{:?}", i.device_type),
            api: format!("{:?}", i.backend),
            software_adapter: is_software(i),
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
        let count = (range.end - range.start) as usize;
        let source = eval::Source::Lattice(&lattice, range.start as u32);
        eval::run(
            &mut self.ctx,
            &km,
            data.len(),
            &data_f32(data),
            source,
            count,
            save_grad,
            self.eval_options,
        )
    }

    fn evaluate_points(
        &mut self,
        model: &Model,
        data: &Dataset,
        points: &[f64],
        save_grad: bool,
    ) -> Result<Evaluation> {
        let km = KernelModel::new(model);
        let pts: Vec<f32> = points.iter().map(|&v| v as f32).collect();
        let count = points.len() / km.parameters;
        let source = eval::Source::Points(&pts);
        eval::run(
            &mut self.ctx,
            &km,
            data.len(),
            &data_f32(data),
            source,
            count,
            save_grad,
            self.eval_options,
        )
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
        let km = KernelModel::new(model);
        let s = DescendSettings::new(settings);
        let d = data_f32(data);
        let (out, retired) = descend::run(
            &mut self.ctx,
            &km,
            data.len(),
            &d,
            starts,
            rates,
            &s,
            trace,
            progress,
            self.descend_options,
        )?;
        self.retired = retired;
        Ok(out)
    }
}
