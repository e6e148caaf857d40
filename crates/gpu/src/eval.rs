//! Host side of `shaders/eval.wgsl`: uploads, chunking within the adapter's limits, read-back.

use super::context::{GpuContext, PhaseClock};
use super::descend::copy_out;
use super::shader::{Kernel, Variant, loop_iterations, staging_iterations};
use landscape_core::backend::{Evaluation, KernelModel, LatticeF32, Unit, hidden_units};
use landscape_core::error::{Error, Result};
use landscape_core::spec::slice::MAX_AXES;
use wgpu::util::DeviceExt;

/// Uniform parameters of one eval dispatch. Keep in sync with `EvalParams` in eval.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct EvalParams {
    mode: u32,
    n_samples: u32,
    first: u32,
    count: u32,
    n_axes: u32,
    save_grad: u32,
    row0: u32,
    segments: u32,
    axis_n: [u32; MAX_AXES],
    axis_param: [i32; MAX_AXES],
    axis_offset: [u32; MAX_AXES],
}

/// Where the points come from.
pub enum Source<'a> {
    /// Lattice points from global index `first` on.
    Lattice(&'a LatticeF32, u32),
    /// Explicit points, row-major count × P.
    Points(&'a [f32]),
}

/// Knobs for tests and for users with small GPUs.
#[derive(Debug, Clone, Copy, Default)]
pub struct EvalOptions {
    /// Upper bound on points per dispatch (the adapter's limits may lower it further).
    pub max_chunk_points: Option<usize>,
    /// Fill outputs with NaN before every dispatch, so unwritten elements show.
    pub poison: bool,
}

/// Default upper bound on points per dispatch: keeps one dispatch well under a second on
/// software adapters and bounds the staging memory.
const DEFAULT_CHUNK_POINTS: usize = 1 << 22;

/// The output buffers of one chunk in flight.
struct Outputs {
    loss: wgpu::Buffer,
    norm: wgpu::Buffer,
    grad: wgpu::Buffer,
    staging: wgpu::Buffer,
    bind: wgpu::BindGroup,
}

fn nan_bytes(count: usize) -> Vec<u8> {
    bytemuck::cast_slice(&vec![f32::NAN; count]).to_vec()
}

/// The hidden units of a one-hidden-layer `km` that `lattice` leaves the same along each row
/// (bit i for unit i), as `hidden_units` classifies them for both backends; `None` when there
/// are none, or more than 32 hidden units.
fn row_units(km: &KernelModel, lattice: &LatticeF32) -> Option<u32> {
    let units = hidden_units(km, lattice)?;
    if units.len() > 32 {
        return None;
    }
    let mask = units
        .iter()
        .enumerate()
        .filter(|(_, u)| **u == Unit::Row)
        .fold(0u32, |m, (i, _)| m | (1 << i));
    (mask != 0).then_some(mask)
}

/// `variant` with the row units of `lattice` shared, the points per row and the workgroups per
/// row, when sharing applies: some hidden unit is the same along rows, at most a quarter of the
/// invocations would idle past rows' ends, and the workgroup memory stays within a quarter of
/// `workgroup_bytes` (the bound staging keeps, `GpuContext::variant`).
pub fn plan_rows(
    km: &KernelModel,
    lattice: &LatticeF32,
    variant: Variant,
    n_samples: usize,
    workgroup_bytes: u32,
) -> Option<(Variant, u64, u64)> {
    let mask = row_units(km, lattice)?;
    let row_len = u64::from(lattice.n[lattice.axes - 1]);
    let wg = u64::from(variant.workgroup_size);
    let segments = row_len.div_ceil(wg);
    let shared = Variant {
        shared_units: mask,
        samples: u32::try_from(n_samples).ok()?,
        ..variant
    };
    let idle_ok = segments * wg * 4 <= row_len * 5;
    let memory_ok = shared.workgroup_floats() * 4 <= u64::from(workgroup_bytes) / 4;
    (idle_ok && memory_ok).then_some((shared, row_len, segments))
}

/// Evaluates L, ‖∇L‖ and optionally ∇L at `count` points.
#[expect(
    clippy::too_many_arguments,
    reason = "mirrors Backend::evaluate_* plus the kernel's knobs"
)]
pub fn run(
    ctx: &mut GpuContext,
    km: &KernelModel,
    n_samples: usize,
    data: &[f32],
    source: Source<'_>,
    count: usize,
    save_grad: bool,
    opts: EvalOptions,
) -> Result<Evaluation> {
    let p = km.parameters;
    let limit = ctx.max_binding_bytes();
    if (data.len() * 4) as u64 > limit {
        return Err(Error::Gpu(format!(
            "the data set ({} bytes) exceeds the adapter's largest buffer ({limit} bytes); use --backend cpu",
            data.len() * 4
        )));
    }
    let mut variant = ctx.variant(data.len());
    // Points per lattice row and workgroups per row, when workgroups share a row's units.
    let mut rows: Option<(u64, u64)> = None;
    if let Source::Lattice(l, _) = &source
        && ctx.share_rows
    {
        let bytes = ctx.limits.max_compute_workgroup_storage_size;
        // Sharing saves more than staging: where both do not fit, share and read the data set
        // from storage.
        let unstaged = Variant {
            staged: 0,
            ..variant
        };
        if let Some((shared, row_len, segments)) = plan_rows(km, l, variant, n_samples, bytes)
            .or_else(|| plan_rows(km, l, unstaged, n_samples, bytes))
        {
            variant = shared;
            rows = Some((row_len, segments));
        }
    }
    if let Some(budget) = ctx.loop_budget()
        && loop_iterations(Kernel::Eval, km, n_samples) + staging_iterations(variant) > budget
    {
        return Err(Error::Gpu(format!(
            "{} samples exceed what the software adapter {} runs in one invocation (about {budget} loop iterations); use --backend cpu",
            n_samples, ctx.info.name
        )));
    }
    let per_point_vectors = if save_grad || matches!(source, Source::Points(_)) {
        p
    } else {
        1
    };
    let groups_limit = ctx.limits.max_compute_workgroups_per_dimension as usize;
    let mut chunk = opts
        .max_chunk_points
        .unwrap_or(DEFAULT_CHUNK_POINTS)
        .min((limit / (4 * per_point_vectors as u64)) as usize)
        .min(groups_limit * groups_limit * variant.workgroup_size as usize)
        .max(1);
    // Two chunks are in flight at once (one computing while the other is read back), each with
    // its own outputs: when there is more than one chunk, halve it so that the two take the
    // memory one would.
    if count > chunk {
        chunk = chunk.div_ceil(2);
    }
    chunk = chunk.min(count.max(1));
    let mut clock = PhaseClock::new("evaluate");
    let pipeline = ctx.pipeline(Kernel::Eval, km, variant)?;

    use wgpu::BufferUsages as U;
    let dev = &ctx.device;
    let data_buf = dev.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("data"),
        contents: bytemuck::cast_slice(data),
        usage: U::STORAGE,
    });
    let vectors: &[f32] = match &source {
        Source::Lattice(l, _) => &l.vectors,
        Source::Points(_) => &[0.0; 4],
    };
    let vec_buf = dev.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("vectors"),
        contents: bytemuck::cast_slice(vectors),
        usage: U::STORAGE,
    });
    let explicit = matches!(source, Source::Points(_));
    let points_buf = ctx.reused_buffer(
        "points",
        if explicit { (chunk * p * 4) as u64 } else { 16 },
        U::STORAGE | U::COPY_DST,
    );
    let uniform = ctx.reused_buffer(
        "params",
        std::mem::size_of::<EvalParams>() as u64,
        U::UNIFORM | U::COPY_DST,
    );
    let staging_floats = chunk * (2 + if save_grad { p } else { 0 });
    let set_count = if count > chunk { 2 } else { 1 };
    let mut sets: Vec<Outputs> = Vec::with_capacity(set_count);
    for _ in 0..set_count {
        let out = U::STORAGE | U::COPY_SRC | U::COPY_DST;
        let loss = ctx.reused_buffer("loss", (chunk * 4) as u64, out);
        let norm = ctx.reused_buffer("grad_norm", (chunk * 4) as u64, out);
        let grad = ctx.reused_buffer(
            "grad",
            if save_grad {
                (chunk * p * 4) as u64
            } else {
                16
            },
            out,
        );
        let staging = ctx.reused_buffer(
            "staging",
            (staging_floats * 4) as u64,
            U::MAP_READ | U::COPY_DST,
        );
        let bind = ctx.bind_group(
            "eval",
            &[
                &uniform,
                &data_buf,
                &vec_buf,
                &points_buf,
                &loss,
                &norm,
                &grad,
            ],
        );
        sets.push(Outputs {
            loss,
            norm,
            grad,
            staging,
            bind,
        });
    }
    ctx.check()?;
    clock.lap("set-up");

    let mut result = Evaluation {
        loss: Vec::with_capacity(count),
        grad_norm: Vec::with_capacity(count),
        grad: save_grad.then(|| Vec::with_capacity(count * p)),
    };
    // Chunk k runs on output set k mod 2; it is read back after chunk k + 1 is queued, so the
    // GPU computes one chunk while the host reads the other. Queued writes (parameters, points)
    // are ordered with the dispatches.
    let mut pending: Option<(usize, usize, wgpu::SubmissionIndex)> = None;
    let mut start = 0;
    let mut k = 0;
    while start < count || pending.is_some() {
        let queued = if start < count {
            let len = chunk.min(count - start);
            let set = &sets[k % set_count];
            let mut params = EvalParams {
                mode: u32::from(explicit),
                n_samples: n_samples as u32,
                first: 0,
                count: len as u32,
                n_axes: 0,
                save_grad: u32::from(save_grad),
                row0: 0,
                segments: 0,
                axis_n: [1; MAX_AXES],
                axis_param: [-1; MAX_AXES],
                axis_offset: [0; MAX_AXES],
            };
            match &source {
                Source::Lattice(l, first) => {
                    params.first = first + start as u32;
                    params.n_axes = l.axes as u32;
                    params.axis_n = l.n;
                    params.axis_param = l.param;
                    params.axis_offset = l.offset;
                    if let Some((row_len, segments)) = rows {
                        params.row0 = (u64::from(params.first) / row_len) as u32;
                        params.segments = segments as u32;
                    }
                }
                Source::Points(pts) => {
                    ctx.queue.write_buffer(
                        &points_buf,
                        0,
                        bytemuck::cast_slice(&pts[start * p..(start + len) * p]),
                    );
                }
            }
            ctx.queue
                .write_buffer(&uniform, 0, bytemuck::bytes_of(&params));
            if opts.poison {
                ctx.queue.write_buffer(&set.loss, 0, &nan_bytes(len));
                ctx.queue.write_buffer(&set.norm, 0, &nan_bytes(len));
                if save_grad {
                    ctx.queue.write_buffer(&set.grad, 0, &nan_bytes(len * p));
                }
            }
            let invocations = match rows {
                // Whole rows from the one holding the chunk's first point to its last's.
                Some((row_len, segments)) => {
                    let first = u64::from(params.first);
                    let last = first + len as u64 - 1;
                    let spanned = last / row_len - first / row_len + 1;
                    (spanned * segments * u64::from(variant.workgroup_size)) as usize
                }
                None => len,
            };
            let mut enc = ctx.encode_dispatch("eval", &pipeline, variant, &set.bind, invocations);
            let bytes = (len * 4) as u64;
            enc.copy_buffer_to_buffer(&set.loss, 0, &set.staging, 0, bytes);
            enc.copy_buffer_to_buffer(&set.norm, 0, &set.staging, bytes, bytes);
            if save_grad {
                enc.copy_buffer_to_buffer(&set.grad, 0, &set.staging, 2 * bytes, bytes * p as u64);
            }
            let index = ctx.queue.submit([enc.finish()]);
            clock.lap("queue");
            start += len;
            k += 1;
            Some((k - 1, len, index))
        } else {
            None
        };
        if let Some((earlier, len, index)) = std::mem::replace(&mut pending, queued) {
            let set = &sets[earlier % set_count];
            let total = (len * 4 * (2 + if save_grad { p } else { 0 })) as u64;
            ctx.wait_for(index.clone())?;
            clock.lap("kernels and copies");
            ctx.read_with(&set.staging, total, Some(index), |raw| {
                let floats: &[f32] = bytemuck::cast_slice(raw);
                copy_out(&mut result.loss, &floats[..len]);
                copy_out(&mut result.grad_norm, &floats[len..2 * len]);
                if let Some(g) = result.grad.as_mut() {
                    copy_out(g, &floats[2 * len..]);
                }
            })?;
            clock.lap("read-back");
        }
    }
    let mut kept = vec![points_buf, uniform];
    for set in sets {
        kept.extend([set.loss, set.norm, set.grad, set.staging]);
    }
    ctx.keep_buffers(kept);
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use landscape_core::spec::model::{Activation, Model};
    use landscape_core::spec::slice::build_slice;

    /// The shared units, points per row and workgroups per row `plan_rows` picks.
    fn plan(axes: &[&str], wg: u32, samples: usize) -> Option<(u32, u64, u64)> {
        let m = Model::new("2-3-1", Activation::Tanh, Activation::Linear, true).expect("model");
        let axes: Vec<String> = axes.iter().map(|a| a.to_string()).collect();
        let slice = build_slice(&m, None, Some("random:1"), &axes, None).expect("slice");
        let variant = Variant {
            workgroup_size: wg,
            ..Variant::PORTABLE
        };
        plan_rows(
            &KernelModel::new(&m),
            &LatticeF32::new(&slice),
            variant,
            samples,
            16384,
        )
        .map(|(v, row, segments)| (v.shared_units, row, segments))
    }

    #[test]
    fn rows_are_shared_only_where_it_saves_work_within_bounds() {
        // W2: units 0 and 2 are the same along rows; 1024 points per row, 16 workgroups of 64.
        let w2 = ["w1[0,0]=-3:3:1024", "w1[1,1]=-3:3:1024"];
        assert_eq!(plan(&w2, 64, 256), Some((0b101, 1024, 16)));
        // Rows of 250: 4 workgroups of 64 (6 idle invocations), or 1 of 256.
        let rows250 = ["w1[0,0]=-3:3:9", "w1[1,1]=-3:3:250"];
        assert_eq!(plan(&rows250, 64, 29), Some((0b101, 250, 4)));
        assert_eq!(plan(&rows250, 256, 29), Some((0b101, 250, 1)));
        // Rows of 19 in workgroups of 64: most invocations would idle.
        assert_eq!(plan(&["w1[0,0]=-3:3:9", "w1[1,1]=-3:3:19"], 64, 29), None);
        // 2 units × 2 arrays × 2000 samples × 4 bytes exceed a quarter of 16 KiB.
        assert_eq!(plan(&w2, 64, 2000), None);
        // Every unit moves with the last axis and another: nothing to share.
        assert_eq!(
            plan(&["random:3=-1:1:8", "random:2=-1:1:256"], 64, 29),
            None
        );
    }
}
