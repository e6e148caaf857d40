//! Host side of `shaders/descend.wgsl`: walkers in chunks within the adapter's limits, each chunk
//! advanced by a series of dispatches with no read-back between them except for traces.

use super::context::{GpuContext, PhaseClock};
use super::shader::{Kernel, SEGMENT, Variant, loop_iterations, staging_iterations};
use landscape_core::backend::{DescendSettings, KernelModel, RUNNING, WalkOutput};
use landscape_core::error::{Error, Result};
use landscape_core::spec::walk::Status;
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
    /// Invocations (lanes) that take their first walker by index; the others, and every lane's
    /// later walkers, come from the work queue.
    lanes: u32,
    /// A lane takes another walker only while it has used at most this many slots (a step each,
    /// in whole segments, and one a walker taken): the software adapters' loop cap.
    take_until: u32,
    /// 1 when walkers at a fixed point of the float32 step retire.
    retire: u32,
    /// 1 when each walker has a learning rate of its own per weight layer (binding 2).
    rated: u32,
    pad: [u32; 3],
}

/// Knobs for tests and small GPUs.
#[derive(Debug, Clone, Copy, Default)]
pub struct DescendOptions {
    /// Upper bound on walkers per chunk (the adapter's limits may lower it further).
    pub max_chunk_walkers: Option<usize>,
    /// Upper bound on steps per dispatch (by default chosen to keep dispatches short).
    pub max_dispatch_steps: Option<u32>,
    /// Fill the outputs with NaN (L, ‖∇L‖) and an invalid code (steps, status) before a chunk's
    /// first dispatch, so that unwritten elements show.
    pub poison: bool,
    /// Invocations (lanes) of a queued dispatch, each walking one walker after another: by
    /// default [`GPU_LANES`] on a GPU and an eighth of the walkers on a software adapter;
    /// never more than the walkers, and on a software adapter more where its loop cap needs.
    pub max_lanes: Option<usize>,
    /// Whether invocations take walkers from a queue, one after another, and walkers at a
    /// fixed point of the float32 step retire (`walk_queued` in descend.wgsl), or take one
    /// walker each (by default queued). The results are the same bits either way.
    pub queued: Option<bool>,
    /// With `queued`, take every step of walkers at a fixed point instead of retiring them
    /// (the results are the same bits; for comparisons).
    pub no_retire: bool,
}

/// Default upper bound on walkers per chunk.
const DEFAULT_CHUNK_WALKERS: usize = 1 << 20;

/// Sample-steps per dispatch (walkers × steps × samples) on a software adapter: a fraction of a
/// second there.
const SOFTWARE_SAMPLE_STEPS_PER_DISPATCH: u64 = 1 << 28;

/// Sample-steps per dispatch on a GPU: 2³² is a million walkers on 4 samples for 1 024 steps,
/// tens of milliseconds on a large GPU and far below any driver's watchdog on one ten times
/// slower, so that walkers stay in registers for thousands of steps and a dispatch's last
/// partial wave of workgroups, where the GPU idles, comes rarely.
const GPU_SAMPLE_STEPS_PER_DISPATCH: u64 = 1 << 32;

/// Lanes of a dispatch on a GPU: walkers are handed to lanes as their last walker stops, so a
/// lane idles only at the end of a dispatch, but only when lanes are several times fewer than
/// walkers; and enough of them must be resident to keep the GPU busy. 2¹⁶ is about 500 an
/// SM on a GPU of 132 SMs, a quarter of what one holds; W1-XL's chunks of 512 Ki walkers give
/// each lane 8. The count is reasoned, not tuned: `landscape bench --lanes` sweeps it.
pub const GPU_LANES: usize = 1 << 16;

/// Walkers each queued lane of a software adapter must be able to take in one dispatch: steps
/// per dispatch are cut so that this many fit in its loop cap. With this many, llvmpipe walks
/// W1 queued faster than with one walker an invocation (`docs/bench/HISTORY.md`).
const SOFTWARE_WALKERS_PER_LANE: u64 = 8;

/// A software adapter's cap on the loop iterations of one invocation (llvmpipe counts every
/// iteration of every loop of a SIMD vector of invocations against one limit, and ends the
/// loops when it is reached), and what a queued lane spends of it.
#[derive(Debug, Clone, Copy)]
struct LoopCap {
    /// Iterations an invocation may run, less those of staging the data.
    budget: u64,
    /// Iterations charged to one slot of a queued lane (a step, or taking a walker).
    per_slot: u64,
}

impl LoopCap {
    /// Steps a dispatch may take when each queued lane must be able to take `walkers` walkers.
    /// A lane walks in segments of [`SEGMENT`] steps and takes a walker while it has used at
    /// most (`walkers` − 1)·(steps + 1 + `SEGMENT`) slots, each walker using at most steps +
    /// 1 + `SEGMENT` (one to take it, one evaluation a step and one more, rounded up to whole
    /// segments), so at most `walkers`·(steps + 1 + `SEGMENT`) in all.
    fn steps(&self, walkers: u64) -> u32 {
        let slots = self.budget / walkers.max(1) / self.per_slot;
        slots
            .saturating_sub(1 + u64::from(SEGMENT))
            .min(u64::from(u32::MAX)) as u32
    }
}

/// What poisoned step counts and statuses hold: no status, and more steps than a walk takes.
const POISON_CODE: u32 = 0xdead_beef;

/// The buffers of one chunk in flight: its walkers' state and results, and where they are read
/// back from.
struct ChunkBuffers {
    /// The walkers' learning rates (the unused buffer without them).
    rate: wgpu::Buffer,
    state: wgpu::Buffer,
    values: wgpu::Buffer,
    counters: wgpu::Buffer,
    staging: wgpu::Buffer,
    bind: wgpu::BindGroup,
}

/// A chunk whose results are queued for read-back: its first walker, its length and the
/// submission that copies them into its set's staging buffer.
struct Pending {
    set: usize,
    start: usize,
    len: usize,
    copied: wgpu::SubmissionIndex,
}

/// Walks `starts` (M × P) on the GPU; see `Backend::walk`. Also returns how many walkers
/// retired at a fixed point of the float32 step (see `DescendOptions::no_retire`).
///
/// Walkers go in chunks within the adapter's limits. When there are several, chunk k uses
/// buffer set k mod 2 and is read back after chunk k + 1 has been queued, so that the GPU runs
/// one chunk while the host uploads the next and copies out the last (chunks are then half
/// the size, so that the two sets take the memory one would).
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
    rates: Option<&[f32]>,
    s: &DescendSettings,
    trace: Option<u32>,
    progress: &(dyn Fn(u64) + Sync),
    opts: DescendOptions,
) -> Result<(WalkOutput, u64)> {
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
    let mut chunk = opts
        .max_chunk_walkers
        .unwrap_or(DEFAULT_CHUNK_WALKERS)
        .min((limit / (8 * p as u64)) as usize)
        .max(1);
    if m > chunk {
        chunk = chunk.div_ceil(2);
    }
    chunk = chunk.min(m.max(1));
    let rows = trace.map_or(0, |k| (s.steps / k) as usize + 1);
    let software = super::is_software(&ctx.info);
    let variant = Variant {
        queued: opts.queued.unwrap_or(true),
        ..ctx.variant(data.len())
    };
    let queued = variant.queued;
    // A software adapter caps the loop iterations of an invocation. One walker an invocation:
    // loads and stores of θ and the velocity, then one evaluation per step plus the last,
    // counting every loop over the parameters. Queued: a step costs n + 2 iterations on
    // llvmpipe with the loops over the parameters written out (the loop over samples with its
    // exit, and the segment's loop); where they are not, add about 9 such loops (zeroing,
    // scaling, the norm and the update every step, and a walker's loads, stores and
    // comparison once a segment, counted every step). A slot is charged twice that, and 16
    // for the loop that takes walkers, which a SIMD vector runs for each of its lanes that
    // takes one.
    let per_step = loop_iterations(Kernel::Descend, km, n_samples);
    let parameter_loops = if variant.unrolled { 0 } else { p as u64 };
    let cap = ctx.loop_budget().map(|budget| LoopCap {
        budget: budget.saturating_sub(staging_iterations(variant)),
        per_slot: 2 * (n_samples as u64 + 2 + 9 * parameter_loops) + 16,
    });
    let adapter = ctx.info.name.clone();
    let too_many_samples = || {
        Error::Gpu(format!(
            "{n_samples} samples exceed what the software adapter {adapter} runs in one invocation; use --backend cpu"
        ))
    };
    // Lanes and steps a dispatch may take, for a chunk of `len` walkers.
    let lanes_for = |len: usize| -> Result<(usize, u32)> {
        if !queued {
            // One walker a lane: loads and stores of θ and the velocity, then one evaluation
            // per step plus the last.
            let Some(cap) = cap else {
                return Ok((len, u32::MAX));
            };
            let steps = cap.budget.saturating_sub(2 * p as u64 + 16) / per_step;
            if steps < 2 {
                return Err(too_many_samples());
            }
            return Ok((len, (steps - 1).min(u64::from(u32::MAX)) as u32));
        }
        let wanted = opts.max_lanes.unwrap_or(if software {
            len.div_ceil(SOFTWARE_WALKERS_PER_LANE as usize)
        } else {
            GPU_LANES
        });
        let mut lanes = wanted.clamp(1, len.max(1));
        let Some(cap) = cap else {
            return Ok((lanes, u32::MAX));
        };
        // Fewer steps a dispatch let a lane take more walkers; where fewer than two segments
        // fit (a walker then never reaches the end of one, where it could retire), more lanes
        // (up to one a walker).
        loop {
            let steps = cap.steps(len.div_ceil(lanes) as u64);
            if steps >= 2 * SEGMENT || lanes >= len {
                return if steps >= 1 {
                    Ok((lanes, steps))
                } else {
                    Err(too_many_samples())
                };
            }
            lanes = (lanes * 2).min(len);
        }
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
    let retire = queued && !opts.no_retire && trace.is_none();
    let data_buf = ctx
        .device
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("data"),
            contents: bytemuck::cast_slice(data),
            usage: U::STORAGE,
        });
    let dummy = ctx.reused_buffer("unused", 16, U::STORAGE);
    let uniform = ctx.reused_buffer(
        "params",
        std::mem::size_of::<DescendParams>() as u64,
        U::UNIFORM | U::COPY_DST,
    );
    let rw = U::STORAGE | U::COPY_SRC | U::COPY_DST;
    let set_count = if m > chunk { 2 } else { 1 };
    let groups = km.layers();
    let mut sets = Vec::with_capacity(set_count);
    for _ in 0..set_count {
        let state = ctx.reused_buffer("state", (chunk * 2 * p * 4) as u64, rw);
        let values = ctx.reused_buffer("values", (chunk * 2 * 4) as u64, rw);
        let counters = ctx.reused_buffer("counters", (chunk * 2 * 4) as u64, rw);
        let staging = ctx.reused_buffer(
            "staging",
            (chunk * (p + 4) * 4) as u64,
            U::MAP_READ | U::COPY_DST,
        );
        let rate = match rates {
            Some(_) => ctx.reused_buffer(
                "rates",
                (chunk * groups * 4) as u64,
                U::STORAGE | U::COPY_DST,
            ),
            None => dummy.clone(),
        };
        let bind = ctx.bind_group(
            "descend",
            &[
                &uniform, &data_buf, &rate, &dummy, &state, &values, &counters,
            ],
        );
        sets.push(ChunkBuffers {
            rate,
            state,
            values,
            counters,
            staging,
            bind,
        });
    }
    // The queue's counters: the next walker (zeroed before each dispatch) and walkers retired.
    ctx.queue.write_buffer(ctx.work_queue(), 0, &[0; 16]);
    ctx.check()?;
    clock.lap("set-up");

    let sample_steps = if super::is_software(&ctx.info) {
        SOFTWARE_SAMPLE_STEPS_PER_DISPATCH
    } else {
        GPU_SAMPLE_STEPS_PER_DISPATCH
    };
    // Dispatches queued and not yet waited for, with their walker-steps: the host waits for
    // one only when it needs its results or to report progress, so the GPU never idles
    // between dispatches.
    let mut in_flight: Vec<(wgpu::SubmissionIndex, u64)> = Vec::new();
    let mut pending: Option<Pending> = None;
    let mut start = 0;
    let mut k = 0;
    while start < m || pending.is_some() {
        let queued = if start < m {
            let len = chunk.min(m - start);
            let set = k % set_count;
            let b = &sets[set];
            // Fresh walkers: θ = start; the first dispatch sets velocity 0, 0 steps, running.
            ctx.queue.write_buffer(
                &b.state,
                0,
                bytemuck::cast_slice(&starts[start * p..(start + len) * p]),
            );
            if let Some(r) = rates {
                ctx.queue.write_buffer(
                    &b.rate,
                    0,
                    bytemuck::cast_slice(&r[start * groups..(start + len) * groups]),
                );
            }
            if opts.poison {
                let nan: Vec<f32> = vec![f32::NAN; 2 * len];
                let code: Vec<u32> = vec![POISON_CODE; 2 * len];
                ctx.queue
                    .write_buffer(&b.values, 0, bytemuck::cast_slice(&nan));
                ctx.queue
                    .write_buffer(&b.counters, 0, bytemuck::cast_slice(&code));
            }
            let (lanes, budget_steps) = lanes_for(len)?;
            let per_dispatch = (sample_steps / (len as u64 * n_samples.max(1) as u64))
                .clamp(1, u64::from(s.steps)) as u32;
            let per_dispatch = opts
                .max_dispatch_steps
                .map_or(per_dispatch, |cap| per_dispatch.min(cap.max(1)))
                .min(budget_steps);
            let read_theta = |ctx: &GpuContext, row: usize, out: &mut WalkOutput| -> Result<()> {
                let mut enc = ctx.device.create_command_encoder(&Default::default());
                enc.copy_buffer_to_buffer(&b.state, 0, &b.staging, 0, (len * p * 4) as u64);
                ctx.queue.submit([enc.finish()]);
                let raw = ctx.read(&b.staging, (len * p * 4) as u64)?;
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
            // The dispatch that reaches step S also classifies every walker still running
            // there.
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
                    lanes: lanes as u32,
                    // Each walker takes a slot and at most one evaluation a step from `done`
                    // to `until` and one more, in whole segments: a lane takes at least
                    // `len / lanes` of them.
                    take_until: if cap.is_some() {
                        ((len.div_ceil(lanes) - 1) as u32) * (until - done + 1 + SEGMENT)
                    } else {
                        u32::MAX
                    },
                    retire: u32::from(retire),
                    rated: u32::from(rates.is_some()),
                    pad: [0; 3],
                };
                first_dispatch = false;
                // Queued writes are ordered with the dispatches.
                ctx.queue
                    .write_buffer(&uniform, 0, bytemuck::bytes_of(&params));
                ctx.queue.write_buffer(ctx.work_queue(), 0, &[0; 4]);
                let enc = ctx.encode_dispatch("descend", &pipeline, variant, &b.bind, lanes);
                let index = ctx.queue.submit([enc.finish()]);
                in_flight.push((index, len as u64 * u64::from(until - done)));
                // Wait for the dispatch before this one (the GPU has the new one meanwhile),
                // or for this one where a trace row is due.
                let due = trace.is_some_and(|k| until % k == 0 && until > done);
                let keep = if due { 0 } else { 1 };
                while in_flight.len() > keep {
                    let (index, work) = in_flight.remove(0);
                    ctx.wait_for(index)?;
                    progress(work);
                }
                if due {
                    read_theta(ctx, (until / trace.unwrap_or(1)) as usize, &mut out)?;
                }
                if until == s.steps {
                    break;
                }
                done = until;
            }
            clock.lap("kernels");
            let mut enc = ctx.device.create_command_encoder(&Default::default());
            let theta_bytes = (len * p * 4) as u64;
            enc.copy_buffer_to_buffer(&b.state, 0, &b.staging, 0, theta_bytes);
            enc.copy_buffer_to_buffer(&b.values, 0, &b.staging, theta_bytes, (len * 8) as u64);
            enc.copy_buffer_to_buffer(
                &b.counters,
                0,
                &b.staging,
                theta_bytes + (len * 8) as u64,
                (len * 8) as u64,
            );
            let copied = ctx.queue.submit([enc.finish()]);
            let chunk_start = start;
            start += len;
            k += 1;
            Some(Pending {
                set,
                start: chunk_start,
                len,
                copied,
            })
        } else {
            None
        };
        if let Some(done) = std::mem::replace(&mut pending, queued) {
            // The chunk queued before (the GPU has the next one, if any, meanwhile). Its copy
            // follows all its dispatches; the last chunk's copy follows every dispatch.
            ctx.wait_for(done.copied.clone())?;
            if pending.is_none() {
                for (_, work) in in_flight.drain(..) {
                    progress(work);
                }
            }
            clock.lap("kernels");
            read_back(ctx, &sets[done.set], &done, p, &mut out)?;
            clock.lap("read-back");
        }
    }
    // Walkers retired at a fixed point: a diagnostic (for tests and `bench`).
    let mut enc = ctx.device.create_command_encoder(&Default::default());
    enc.copy_buffer_to_buffer(ctx.work_queue(), 0, &sets[0].staging, 0, 16);
    ctx.queue.submit([enc.finish()]);
    let counts = ctx.read(&sets[0].staging, 16)?;
    let retired = u64::from(u32::from_le_bytes([
        counts[4], counts[5], counts[6], counts[7],
    ]));
    if let Some(w) = out
        .status
        .iter()
        .position(|&v| Status::from_code(v).is_none())
    {
        return Err(Error::Gpu(if out.status[w] == RUNNING {
            format!(
                "walker {w} was left running after its last dispatch, at step {} of {}",
                out.steps[w], s.steps
            )
        } else {
            format!(
                "walker {w} came back without a status (code {:#x}): the kernel did not write it",
                out.status[w]
            )
        }));
    }
    let mut kept = vec![dummy, uniform];
    for b in sets {
        if rates.is_some() {
            kept.push(b.rate);
        }
        kept.extend([b.state, b.values, b.counters, b.staging]);
    }
    ctx.keep_buffers(kept);
    Ok((out, retired))
}

/// Appends a chunk's results (θ, L, ‖∇L‖, steps and status, copied into its set's staging
/// buffer) to `out`.
fn read_back(
    ctx: &GpuContext,
    b: &ChunkBuffers,
    done: &Pending,
    p: usize,
    out: &mut WalkOutput,
) -> Result<()> {
    let len = done.len;
    let theta_bytes = (len * p * 4) as u64;
    debug_assert_eq!(
        out.status.len(),
        done.start,
        "chunks are read back in order"
    );
    ctx.read_with(
        &b.staging,
        theta_bytes + (len * 16) as u64,
        Some(done.copied.clone()),
        |raw| {
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
        },
    )
}

/// Appends `from` (mapped read-back memory) to `to`, on every core: copying results out is what
/// bounds large GPU runs, and a single thread writing fresh host memory is far slower than the
/// bus (first-touch page faults, which are costly on a virtual machine).
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
