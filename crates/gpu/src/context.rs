//! The GPU context: adapter, device, queue and compiled pipelines, created once and reused.

use super::shader::{self, Kernel, Variant};
use landscape_core::backend::KernelModel;
use landscape_core::error::{Error, Result};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A description of one adapter, as `--adapter` lists them.
#[derive(Debug, Clone)]
pub struct AdapterSummary {
    /// Position in the enumeration (for `--adapter INDEX`).
    pub index: usize,
    /// wgpu's description.
    pub info: wgpu::AdapterInfo,
}

/// Whether wgpu's adapter is a software rasteriser (lavapipe, SwiftShader, WARP, llvmpipe).
pub fn is_software(info: &wgpu::AdapterInfo) -> bool {
    info.device_type == wgpu::DeviceType::Cpu
}

fn instance() -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = wgpu::Backends::PRIMARY;
    wgpu::Instance::new(desc)
}

/// All adapters wgpu can see on this machine.
pub fn adapters() -> Vec<AdapterSummary> {
    pollster::block_on(instance().enumerate_adapters(wgpu::Backends::PRIMARY))
        .into_iter()
        .enumerate()
        .map(|(index, a)| AdapterSummary {
            index,
            info: a.get_info(),
        })
        .collect()
}

/// Preference among device types: discrete first, software last.
fn rank(t: wgpu::DeviceType) -> u8 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

/// Device, queue, adapter description and the pipelines compiled so far.
pub struct GpuContext {
    /// The logical device.
    pub device: wgpu::Device,
    /// Its queue.
    pub queue: wgpu::Queue,
    /// The adapter in use.
    pub info: wgpu::AdapterInfo,
    /// The device's limits (the adapter's own, all requested).
    pub limits: wgpu::Limits,
    /// Invocations per workgroup of every kernel (by default [`default_workgroup_size`]).
    pub workgroup_size: u32,
    /// Whether kernels copy a data set that fits into workgroup memory (see [`Self::variant`]).
    pub stage_data: bool,
    /// Whether lattice evaluation shares the hidden units that are the same along a row
    /// between a workgroup's invocations (see [`super::shader::Variant::shared_units`]).
    pub share_rows: bool,
    /// Whether kernels have their loops over the parameters written out (see
    /// [`super::shader::Variant::unrolled`]); on by default.
    pub unroll_loops: bool,
    layout: wgpu::BindGroupLayout,
    /// Binding 7 of every bind group: the walk kernel's work queue (see
    /// [`Self::work_queue`]); the other kernels ignore it.
    work_queue: wgpu::Buffer,
    pipelines: HashMap<(Kernel, KernelModel, Variant), wgpu::ComputePipeline>,
    /// The large buffers of the last run, for the next run of the same sizes (see
    /// [`Self::reused_buffer`]).
    pool: Vec<wgpu::Buffer>,
    /// How many buffers [`Self::reused_buffer`] had to allocate.
    allocated: u64,
    error: Arc<Mutex<Option<String>>>,
}

impl GpuContext {
    /// Opens an adapter: `selector` is an index or a case-insensitive part of the name from
    /// `--adapter`; otherwise the best by device type. With `hardware_only`, software adapters
    /// are refused (for `--backend auto`).
    pub fn new(selector: Option<&str>, hardware_only: bool) -> Result<GpuContext> {
        let instance = instance();
        let all = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::PRIMARY));
        let listing = || {
            all.iter()
                .enumerate()
                .map(|(i, a)| format!("{i}: {}", a.get_info().name))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let chosen = match selector {
            Some(sel) => {
                let found = match sel.parse::<usize>() {
                    Ok(i) => all.get(i),
                    Err(_) => all
                        .iter()
                        .find(|a| a.get_info().name.to_lowercase().contains(&sel.to_lowercase())),
                };
                found.ok_or_else(|| {
                    Error::setting("adapter", format!("no adapter matches '{sel}'; available: [{}]", listing()))
                })?
            }
            None => all
                .iter()
                .filter(|a| !hardware_only || !is_software(&a.get_info()))
                .min_by_key(|a| rank(a.get_info().device_type))
                .ok_or_else(|| {
                    Error::NoAdapter(if all.is_empty() {
                        " (is a Vulkan, Metal or DX12 driver installed? On Debian, mesa-vulkan-drivers provides a software one)".into()
                    } else {
                        format!(" with hardware acceleration; software adapters: [{}]", listing())
                    })
                })?,
        };
        let info = chosen.get_info();
        let limits = chosen.limits();
        let (device, queue) = pollster::block_on(chosen.request_device(&wgpu::DeviceDescriptor {
            label: Some("landscape"),
            required_features: wgpu::Features::empty(),
            required_limits: limits.clone(),
            experimental_features: wgpu::ExperimentalFeatures::default(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        }))
        .map_err(|e| Error::Gpu(format!("cannot open {}: {e}", info.name)))?;
        let error = Arc::new(Mutex::new(None));
        let sink = Arc::clone(&error);
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            if let Ok(mut slot) = sink.lock() {
                slot.get_or_insert_with(|| e.to_string());
            }
        }));
        let lost = Arc::clone(&error);
        device.set_device_lost_callback(move |reason, message| {
            // Destroying the device at the end of a run also "loses" it: not an error.
            if reason == wgpu::DeviceLostReason::Destroyed {
                return;
            }
            if let Ok(mut slot) = lost.lock() {
                slot.get_or_insert_with(|| {
                    format!(
                        "the GPU device was lost ({reason:?}: {message}); the driver may have reset \
                         it after a dispatch ran too long or ran out of memory: retry with fewer \
                         walkers or points, or with --backend cpu"
                    )
                });
            }
        });
        let layout = bind_group_layout(&device);
        let work_queue = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("work queue"),
            size: 16,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_DST
                | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let workgroup_size = default_workgroup_size(&info, &limits);
        // On a GPU, sharing row units turns their activations at every point into reads of
        // on-chip memory, while staging the data set gains nothing: it is small and every
        // invocation reads the same sample at once, which the caches serve as well. llvmpipe
        // keeps workgroup memory in ordinary memory and gathers it lane by lane, so there both
        // are slower than reading storage or recomputing. So rows are shared on hardware
        // adapters only, and data is staged only when asked (figures: `docs/bench/HISTORY.md`).
        let share_rows = !is_software(&info);
        Ok(GpuContext {
            device,
            queue,
            info,
            limits,
            workgroup_size,
            stage_data: false,
            share_rows,
            unroll_loops: true,
            layout,
            work_queue,
            pipelines: HashMap::new(),
            pool: Vec::new(),
            allocated: 0,
            error,
        })
    }

    /// The bind group layout all kernels share.
    pub fn layout(&self) -> &wgpu::BindGroupLayout {
        &self.layout
    }

    /// The four counters every bind group holds at binding 7: `descend.wgsl` hands out
    /// walkers from the first and counts retired walkers in the second.
    pub fn work_queue(&self) -> &wgpu::Buffer {
        &self.work_queue
    }

    /// A bind group of the shared layout with `buffers` bound whole, in binding order (0–6),
    /// and the work queue at 7.
    pub fn bind_group(&self, label: &str, buffers: &[&wgpu::Buffer]) -> wgpu::BindGroup {
        let entries: Vec<wgpu::BindGroupEntry<'_>> = buffers
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: b.as_entire_binding(),
            })
            .chain(std::iter::once(wgpu::BindGroupEntry {
                binding: 7,
                resource: self.work_queue.as_entire_binding(),
            }))
            .collect();
        self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(label),
            layout: &self.layout,
            entries: &entries,
        })
    }

    /// The most loop iterations one invocation may run, where the adapter caps them: llvmpipe
    /// (lavapipe) stops every loop of an invocation once 65 535 iterations have run in total.
    pub fn loop_budget(&self) -> Option<u64> {
        self.info
            .name
            .to_lowercase()
            .contains("llvmpipe")
            .then_some(65_000)
    }

    /// An unmapped buffer of at least `size` bytes (16 at least, so that an unused binding is
    /// never empty).
    pub fn buffer(&self, label: &str, size: u64, usage: wgpu::BufferUsages) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: size.max(16),
            usage,
            mapped_at_creation: false,
        })
    }

    /// A buffer like [`Self::buffer`], taken from the ones the last run handed back
    /// ([`Self::keep_buffers`]) when one has this size and usage. Allocating large buffers
    /// costs time in proportion to their size, a sizeable part of a short run's, and repeated
    /// runs of one size, as `bench` makes, need the same ones again. Its contents are whatever
    /// the last run left: every kernel writes what it is read back for.
    /// When none fits, the run is of other sizes, and the kept buffers are let go before a new
    /// one is allocated, so that they never add to the memory a run needs.
    pub fn reused_buffer(
        &mut self,
        label: &str,
        size: u64,
        usage: wgpu::BufferUsages,
    ) -> wgpu::Buffer {
        let size = size.max(16);
        match self
            .pool
            .iter()
            .position(|b| b.size() == size && b.usage() == usage)
        {
            Some(i) => self.pool.swap_remove(i),
            None => {
                self.pool.clear();
                self.allocated += 1;
                self.buffer(label, size, usage)
            }
        }
    }

    /// Keeps a finished run's buffers (unmapped) for the next run's [`Self::reused_buffer`];
    /// only the last run's are kept.
    pub fn keep_buffers(&mut self, buffers: impl IntoIterator<Item = wgpu::Buffer>) {
        self.pool.clear();
        self.pool.extend(buffers);
    }

    /// How many buffers [`Self::keep_buffers`] holds, and how many [`Self::reused_buffer`] has
    /// allocated since the context was opened.
    pub fn buffer_counts(&self) -> (usize, u64) {
        (self.pool.len(), self.allocated)
    }

    /// The largest buffer a kernel may bind, in bytes.
    pub fn max_binding_bytes(&self) -> u64 {
        self.limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size)
    }

    /// How kernels are compiled for a data set of `data_floats` floats on this adapter: the
    /// context's workgroup size, and the data set staged in workgroup memory when that is on
    /// and the data set takes at most a quarter of the workgroup memory one workgroup may use
    /// (so that staging never leaves a compute unit fewer than four resident workgroups on its
    /// account; real GPUs have at least that much per unit, usually several times more).
    pub fn variant(&self, data_floats: usize) -> Variant {
        let fits = (data_floats as u64) * 4
            <= u64::from(self.limits.max_compute_workgroup_storage_size) / 4;
        Variant {
            workgroup_size: self.workgroup_size,
            staged: if self.stage_data && fits && data_floats > 0 {
                data_floats as u32
            } else {
                0
            },
            unrolled: self.unroll_loops,
            ..Variant::PORTABLE
        }
    }

    /// Checks a workgroup size against the adapter's limits.
    pub fn check_workgroup_size(&self, size: u32) -> Result<()> {
        let most = self
            .limits
            .max_compute_invocations_per_workgroup
            .min(self.limits.max_compute_workgroup_size_x);
        if size == 0 || size > most {
            return Err(Error::setting(
                "workgroup size",
                format!(
                    "{size} invocations per workgroup: {} allows 1 to {most}",
                    self.info.name
                ),
            ));
        }
        Ok(())
    }

    /// The compiled pipeline of `kernel` for `km` as `variant`, compiled on first use and
    /// cached.
    pub fn pipeline(
        &mut self,
        kernel: Kernel,
        km: &KernelModel,
        variant: Variant,
    ) -> Result<wgpu::ComputePipeline> {
        if let Some(p) = self.pipelines.get(&(kernel, km.clone(), variant)) {
            return Ok(p.clone());
        }
        self.check_workgroup_size(variant.workgroup_size)?;
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(kernel.name()),
                source: wgpu::ShaderSource::Wgsl(shader::source(kernel, km, variant).into()),
            });
        let layout = self
            .device
            .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some(kernel.name()),
                bind_group_layouts: &[Some(&self.layout)],
                immediate_size: 0,
            });
        let pipeline = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(kernel.name()),
                layout: Some(&layout),
                module: &module,
                entry_point: Some(kernel.name()),
                compilation_options: wgpu::PipelineCompilationOptions::default(),
                cache: None,
            });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Gpu(format!(
                "shader {} failed to compile: {e}",
                kernel.name()
            )));
        }
        self.pipelines
            .insert((kernel, km.clone(), variant), pipeline.clone());
        Ok(pipeline)
    }

    /// A command encoder holding one dispatch of `pipeline` (compiled as `variant`) over
    /// `invocations` invocations, as a 2-D grid of workgroups when one dimension's limit is
    /// too small (the kernels fold the grid back into one index).
    pub fn encode_dispatch(
        &self,
        label: &str,
        pipeline: &wgpu::ComputePipeline,
        variant: Variant,
        bind: &wgpu::BindGroup,
        invocations: usize,
    ) -> wgpu::CommandEncoder {
        let groups = invocations.div_ceil(variant.workgroup_size as usize).max(1);
        let gx = groups.min(self.limits.max_compute_workgroups_per_dimension as usize);
        let gy = groups.div_ceil(gx);
        let mut enc = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) });
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(label),
                timestamp_writes: None,
            });
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, bind, &[]);
            pass.dispatch_workgroups(gx as u32, gy as u32, 1);
        }
        enc
    }

    /// Waits for submitted work and reports any error the device raised meanwhile.
    pub fn wait(&self) -> Result<()> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Gpu(format!("waiting for the device failed: {e}")))?;
        self.check()
    }

    /// Blocks until submission `index` has run (later ones may still be running), then reports
    /// any error the device raised.
    pub fn wait_for(&self, index: wgpu::SubmissionIndex) -> Result<()> {
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(index),
                timeout: None,
            })
            .map_err(|e| Error::Gpu(format!("waiting for the device failed: {e}")))?;
        self.check()
    }

    /// Reports (and clears) an error the device raised asynchronously.
    pub fn check(&self) -> Result<()> {
        match self.error.lock().ok().and_then(|mut slot| slot.take()) {
            Some(e) => Err(Error::Gpu(format!(
                "{e} (an out-of-memory error may be avoided by a smaller lattice or --backend cpu)"
            ))),
            None => Ok(()),
        }
    }

    /// Copies `size` bytes of `buffer` back to the host.
    pub fn read(&self, buffer: &wgpu::Buffer, size: u64) -> Result<Vec<u8>> {
        self.read_with(buffer, size, None, |bytes| bytes.to_vec())
    }

    /// Maps the first `size` bytes of `buffer` once submission `index` (by default the latest)
    /// has run, and hands them to `take` (submissions queued after it may go on running
    /// meanwhile): the caller copies what it keeps straight out of the mapped memory, with no
    /// intermediate copy.
    pub fn read_with<T>(
        &self,
        buffer: &wgpu::Buffer,
        size: u64,
        index: Option<wgpu::SubmissionIndex>,
        take: impl FnOnce(&[u8]) -> T,
    ) -> Result<T> {
        let (tx, rx) = std::sync::mpsc::channel();
        buffer
            .slice(..size)
            .map_async(wgpu::MapMode::Read, move |r| {
                let _ = tx.send(r);
            });
        match index {
            Some(index) => self.wait_for(index)?,
            None => self.wait()?,
        }
        rx.recv()
            .map_err(|_| Error::Gpu("the device dropped a read-back".into()))?
            .map_err(|e| Error::Gpu(format!("mapping a read-back buffer failed: {e}")))?;
        let out = {
            let view = buffer
                .slice(..size)
                .get_mapped_range()
                .map_err(|e| Error::Gpu(format!("reading a mapped buffer failed: {e}")))?;
            take(&view)
        };
        buffer.unmap();
        Ok(out)
    }
}

/// The workgroup size kernels get unless told otherwise: 64 invocations, rounded up to a whole
/// number of the adapter's largest subgroup and kept within its limits.
///
/// Why 64: every walker and lattice point is independent and keeps θ, its velocity and ∇L in
/// registers, so occupancy is set by registers and by how many workgroups a compute unit holds
/// at once. NVIDIA GPUs hold 32 workgroups and 2 048 invocations per SM: 64 is the smallest
/// size that can fill an SM (32 would cap it at half), and a small workgroup leaves the least
/// idle tail per dispatch. AMD's 64-wide wavefronts take one wavefront per workgroup; adapters
/// with wider subgroups get one whole subgroup. The staged data set is kept small enough
/// ([`GpuContext::variant`]) not to limit resident workgroups. `landscape bench
/// --workgroup-size` measures other sizes.
pub fn default_workgroup_size(info: &wgpu::AdapterInfo, limits: &wgpu::Limits) -> u32 {
    let subgroup = info.subgroup_max_size.clamp(1, 128);
    let size = 64u32.div_ceil(subgroup) * subgroup;
    size.min(limits.max_compute_invocations_per_workgroup)
        .min(limits.max_compute_workgroup_size_x)
        .max(1)
}

/// One uniform and seven storage buffers (read-only inputs 1–3, read-write outputs 4–6, and
/// the work queue at 7), the same for every kernel so that one layout serves all.
fn bind_group_layout(device: &wgpu::Device) -> wgpu::BindGroupLayout {
    let entry = |binding: u32, ty: wgpu::BufferBindingType| wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty,
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    };
    let read = wgpu::BufferBindingType::Storage { read_only: true };
    let write = wgpu::BufferBindingType::Storage { read_only: false };
    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some("landscape"),
        entries: &[
            entry(0, wgpu::BufferBindingType::Uniform),
            entry(1, read),
            entry(2, read),
            entry(3, read),
            entry(4, write),
            entry(5, write),
            entry(6, write),
            entry(7, write),
        ],
    })
}

/// Where the host's time goes in one GPU run, by phase, printed to stderr when it ends if the
/// environment variable `LANDSCAPE_GPU_TIMING` is set: a diagnostic for telling kernel time
/// (the host waiting for the device) from uploads, read-backs and set-up.
pub struct PhaseClock {
    what: &'static str,
    enabled: bool,
    last: std::time::Instant,
    phases: Vec<(&'static str, f64)>,
}

impl PhaseClock {
    /// Starts the clock for a run described as `what`.
    pub fn new(what: &'static str) -> Self {
        PhaseClock {
            what,
            enabled: std::env::var_os("LANDSCAPE_GPU_TIMING").is_some(),
            last: std::time::Instant::now(),
            phases: Vec::new(),
        }
    }

    /// Charges the time since the last lap to `phase`.
    pub fn lap(&mut self, phase: &'static str) {
        if !self.enabled {
            return;
        }
        let now = std::time::Instant::now();
        let dt = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        match self.phases.iter_mut().find(|(p, _)| *p == phase) {
            Some((_, t)) => *t += dt,
            None => self.phases.push((phase, dt)),
        }
    }
}

impl Drop for PhaseClock {
    fn drop(&mut self) {
        if self.enabled {
            let total: f64 = self.phases.iter().map(|(_, t)| t).sum();
            let parts: Vec<String> = self
                .phases
                .iter()
                .map(|(p, t)| format!("{p} {t:.4} s"))
                .collect();
            eprintln!(
                "gpu timing, {}: {total:.4} s = {}",
                self.what,
                parts.join(", ")
            );
        }
    }
}
