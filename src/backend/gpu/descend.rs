//! Host side of `shaders/descend.wgsl`: walkers in chunks within the adapter's limits, each chunk
//! advanced by a series of dispatches with no read-back between them except for traces.

use super::context::{GpuContext, PhaseClock};
use super::shader::{Kernel, loop_iterations, staging_iterations};
use crate::backend::{DescendSettings, KernelModel, RUNNING, WalkOutput};
use crate::error::{Error, Result};
use wgpu::util::DeviceExt;

/// Uniform parameters of one descend dispatch. Keep in sync with `DescendParams` in descend.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct DescendParams {
    count: u32,
    n_samples: u32,
    steps: u32,
    until: u32,
    lr: f32,
    momentum: f32,
    tol: f32,
    diverge: f32,
    /// 1 on a chunk's first dispatch: every walker starts at θ with zero velocity, 0 steps,
    /// running (so that only θ is uploaded); 0 after.
    fresh: u32,
    _pad: [u32; 3],
}

/// Knobs for tests and small GPUs.
#[derive(Debug, Clone, Copy, Default)]
pub struct DescendOptions {
    /// Upper bound on walkers per chunk (the adapter's limits may lower it further).
    pub max_chunk_walkers: Option<usize>,
    /// Upper bound on steps per dispatch (by default chosen to keep dispatches short).
    pub max_dispatch_steps: Option<u32>,
}

/// Default upper bound on walkers per chunk.
const DEFAULT_CHUNK_WALKERS: usize = 1 << 20;

/// Sample-steps per dispatch (walkers × steps × samples) on a software adapter: a fraction of a
/// second there.
const SOFTWARE_SAMPLE_STEPS_PER_DISPATCH: u64 = 1 << 28;

/// Sample-steps per dispatch on a GPU: 2³² is a million walkers on 4 samples for 1 024 steps,
/// about 25 ms on an H100 (still far below any driver's watchdog on GPUs ten times slower), so
/// that walkers stay in registers for thousands of steps and a dispatch's last partial wave of
/// workgroups, where the GPU idles, comes rarely: W1-XL measured 64 steps per dispatch before.
const GPU_SAMPLE_STEPS_PER_DISPATCH: u64 = 1 << 32;

/// Walks `starts` (M × P) on the GPU; see `Backend::walk`.
#[expect(
    clippy::too_many_arguments,
    reason = "mirrors Backend::walk plus the kernel's knobs"
)]
pub fn run(
    ctx: &mut GpuContext,
    km: &KernelModel,
    n_samples: usize,
    data: &[f32],
    starts: &[f32],
    s: &DescendSettings,
    trace: Option<u32>,
    progress: &(dyn Fn(u64) + Sync),
    opts: DescendOptions,
) -> Result<WalkOutput> {
    let mut clock = PhaseClock::new("walk");
    let p = km.parameters;
    let m = starts.len() / p;
    let limit = ctx.max_binding_bytes();
    if (data.len() * 4) as u64 > limit {
        return Err(Error::Gpu(format!(
            "the data set ({} bytes) exceeds the adapter's largest buffer ({limit} bytes); use --backend cpu",
            data.len() * 4
        )));
    }
    let chunk = opts
        .max_chunk_walkers
        .unwrap_or(DEFAULT_CHUNK_WALKERS)
        .min((limit / (8 * p as u64)) as usize)
        .min(m.max(1))
        .max(1);
    let rows = trace.map_or(0, |k| (s.steps / k) as usize + 1);
    // Steps per dispatch that stay within a software adapter's loop cap (loads and stores of θ
    // and the velocity, then one evaluation per step plus the last).
    let variant = ctx.variant(data.len());
    let budget_steps = match ctx.loop_budget() {
        Some(budget) => {
            let per_step = loop_iterations(Kernel::Descend, km, n_samples);
            let fixed = 2 * p as u64 + 16 + staging_iterations(variant);
            let steps = budget.saturating_sub(fixed) / per_step;
            if steps < 2 {
                return Err(Error::Gpu(format!(
                    "{n_samples} samples exceed what the software adapter {} runs in one invocation; use --backend cpu",
                    ctx.info.name
                )));
            }
            (steps - 1).min(u64::from(u32::MAX)) as u32
        }
        None => u32::MAX,
    };
    let pipeline = ctx.pipeline(Kernel::Descend, km, variant)?;
    let mut out = WalkOutput {
        endpoints: Vec::with_capacity(m * p),
        loss: Vec::with_capacity(m),
        grad_norm: Vec::with_capacity(m),
        steps: Vec::with_capacity(m),
        status: Vec::with_capacity(m),
        trace: trace.map(|_| vec![f32::NAN; rows * m * p]),
    };
    use wgpu::BufferUsages as U;
    let data_buf = ctx
        .device
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("data"),
            contents: bytemuck::cast_slice(data),
            usage: U::STORAGE,
        });
    let dummy = ctx.buffer("unused", 16, U::STORAGE);
    let uniform = ctx.buffer(
        "params",
        std::mem::size_of::<DescendParams>() as u64,
        U::UNIFORM | U::COPY_DST,
    );
    let rw = U::STORAGE | U::COPY_SRC | U::COPY_DST;
    let state = ctx.buffer("state", (chunk * 2 * p * 4) as u64, rw);
    let values = ctx.buffer("values", (chunk * 2 * 4) as u64, rw);
    let counters = ctx.buffer("counters", (chunk * 2 * 4) as u64, rw);
    let staging = ctx.buffer(
        "staging",
        (chunk * (p + 4) * 4) as u64,
        U::MAP_READ | U::COPY_DST,
    );
    let bind = ctx.bind_group(
        "descend",
        &[
            &uniform, &data_buf, &dummy, &dummy, &state, &values, &counters,
        ],
    );
    ctx.check()?;
    clock.lap("set-up");

    let mut start = 0;
    while start < m {
        let len = chunk.min(m - start);
        // Fresh walkers: θ = start; the first dispatch sets velocity 0, 0 steps, running.
        ctx.queue.write_buffer(
            &state,
            0,
            bytemuck::cast_slice(&starts[start * p..(start + len) * p]),
        );
        let sample_steps = if super::is_software(&ctx.info) {
            SOFTWARE_SAMPLE_STEPS_PER_DISPATCH
        } else {
            GPU_SAMPLE_STEPS_PER_DISPATCH
        };
        let per_dispatch = (sample_steps / (len as u64 * n_samples.max(1) as u64))
            .clamp(1, u64::from(s.steps)) as u32;
        let per_dispatch = opts
            .max_dispatch_steps
            .map_or(per_dispatch, |cap| per_dispatch.min(cap.max(1)))
            .min(budget_steps);
        let read_theta = |ctx: &GpuContext, row: usize, out: &mut WalkOutput| -> Result<()> {
            let mut enc = ctx.device.create_command_encoder(&Default::default());
            enc.copy_buffer_to_buffer(&state, 0, &staging, 0, (len * p * 4) as u64);
            ctx.queue.submit([enc.finish()]);
            let raw = ctx.read(&staging, (len * p * 4) as u64)?;
            if let Some(t) = out.trace.as_mut() {
                let dst = (row * m + start) * p;
                t[dst..dst + len * p].copy_from_slice(bytemuck::cast_slice(&raw));
            }
            Ok(())
        };
        if trace.is_some() {
            read_theta(ctx, 0, &mut out)?;
        }
        clock.lap("upload");
        let mut done = 0u32;
        let mut first_dispatch = true;
        // Without a trace, the next dispatch is queued before the host waits for the previous
        // one, so the GPU never idles between dispatches; the host only waits to report
        // progress. (Queued parameter writes are ordered with the dispatches.)
        let mut in_flight: Option<(wgpu::SubmissionIndex, u64)> = None;
        // The dispatch that reaches step S also classifies every walker still running there.
        loop {
            let until = match trace {
                Some(k) => (done / k + 1) * k,
                None => u32::MAX,
            }
            .min(done.saturating_add(per_dispatch))
            .min(s.steps);
            let params = DescendParams {
                count: len as u32,
                n_samples: n_samples as u32,
                steps: s.steps,
                until,
                lr: s.lr,
                momentum: s.momentum,
                tol: s.tol,
                diverge: s.diverge,
                fresh: u32::from(first_dispatch),
                _pad: [0; 3],
            };
            first_dispatch = false;
            ctx.queue
                .write_buffer(&uniform, 0, bytemuck::bytes_of(&params));
            let enc = ctx.encode_dispatch("descend", &pipeline, variant, &bind, len);
            let index = ctx.queue.submit([enc.finish()]);
            let work = len as u64 * u64::from(until - done);
            if trace.is_some() || until == s.steps {
                ctx.wait()?;
                if let Some((_, earlier)) = in_flight.take() {
                    progress(earlier);
                }
                progress(work);
            } else if let Some((earlier, earlier_work)) = in_flight.replace((index, work)) {
                ctx.wait_for(earlier)?;
                progress(earlier_work);
            }
            if let Some(k) = trace
                && until % k == 0
                && until > done
            {
                read_theta(ctx, (until / k) as usize, &mut out)?;
            }
            if until == s.steps {
                break;
            }
            done = until;
        }
        clock.lap("kernels");
        let mut enc = ctx.device.create_command_encoder(&Default::default());
        let theta_bytes = (len * p * 4) as u64;
        enc.copy_buffer_to_buffer(&state, 0, &staging, 0, theta_bytes);
        enc.copy_buffer_to_buffer(&values, 0, &staging, theta_bytes, (len * 8) as u64);
        enc.copy_buffer_to_buffer(
            &counters,
            0,
            &staging,
            theta_bytes + (len * 8) as u64,
            (len * 8) as u64,
        );
        ctx.queue.submit([enc.finish()]);
        ctx.read_with(&staging, theta_bytes + (len * 16) as u64, None, |raw| {
            let floats: &[f32] = bytemuck::cast_slice(raw);
            let ints: &[u32] = bytemuck::cast_slice(&raw[(len * p + 2 * len) * 4..]);
            copy_out(&mut out.endpoints, &floats[..len * p]);
            copy_out(&mut out.loss, &floats[len * p..len * p + len]);
            copy_out(
                &mut out.grad_norm,
                &floats[len * p + len..len * p + 2 * len],
            );
            copy_out(&mut out.steps, &ints[..len]);
            copy_out(&mut out.status, &ints[len..2 * len]);
        })?;
        clock.lap("read-back");
        start += len;
    }
    if out.status.contains(&RUNNING) {
        let w = out.status.iter().position(|&v| v == RUNNING).unwrap_or(0);
        return Err(Error::Gpu(format!(
            "walker {w} was left running after its last dispatch, at step {} of {}",
            out.steps[w], s.steps
        )));
    }
    Ok(out)
}

/// Appends `from` (mapped read-back memory) to `to`, on every core: copying results out is what
/// bounds large GPU runs, and a single thread writing fresh host memory is far slower than the
/// bus (measured 1–2 GB/s on a virtual machine, mostly first-touch page faults).
pub fn copy_out<T: Copy + Send + Sync>(to: &mut Vec<T>, from: &[T]) {
    use rayon::prelude::*;
    const SERIAL: usize = 1 << 16;
    if from.len() <= SERIAL {
        to.extend_from_slice(from);
    } else {
        to.par_extend(from.par_iter().copied().with_min_len(SERIAL));
    }
}

#[cfg(test)]
mod tests {
    use super::copy_out;

    #[test]
    fn read_backs_append_in_order_whether_copied_on_one_core_or_all() {
        for n in [0usize, 1, 1000, (1 << 16) + 1, 3 << 18] {
            let from: Vec<u32> = (0..n as u32).collect();
            let mut to = vec![7u32, 8];
            copy_out(&mut to, &from);
            copy_out(&mut to, &from[..n / 2]);
            assert_eq!(to.len(), 2 + n + n / 2, "{n}");
            assert_eq!(&to[..2], &[7, 8]);
            assert_eq!(&to[2..2 + n], &from[..]);
            assert_eq!(&to[2 + n..], &from[..n / 2]);
        }
    }
}
