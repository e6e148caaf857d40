//! `landscape bench`: the standard workloads on every available backend, timed, checked against
//! each other, and expressed in effective GFLOP/s.

use super::common::flagged;
use crate::backend::cpu::{CpuBackend, Isa, PLAIN};
use crate::backend::gpu::{GpuBackend, GpuContext};
use crate::backend::{Backend, BackendChoice};
use crate::bench::{Measurement, Prepared, Workload, agreement, measure};
use clap::Args;

/// Arguments of `landscape bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Workloads to run, comma-separated (default W1,W2,W3; W3 is left out on a software GPU
    /// adapter unless named here).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub workload: Vec<Workload>,
    /// Add the GPU-sized workloads W1-XL and W2-XL.
    #[arg(long)]
    pub xl: bool,
    /// Backend to measure (default: the CPU and, when wgpu finds one, a GPU adapter).
    #[arg(long, value_enum)]
    pub backend: Option<BackendChoice>,
    /// Pick a GPU adapter by index or by part of its name (see `landscape adapters`).
    #[arg(long)]
    pub adapter: Option<String>,
    /// Timed runs per workload and backend; the median is reported (default 3, and 1 for W3).
    #[arg(long, allow_negative_numbers = true)]
    pub repeats: Option<u32>,
    /// Print the measurements as a JSON list instead of a table.
    #[arg(long)]
    pub json: bool,
    /// GPU kernels' invocations per workgroup, comma-separated: one GPU backend is timed per
    /// size (default: 64, rounded up to a whole subgroup of the adapter).
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    pub workgroup_size: Vec<u32>,
    /// Whether GPU kernels copy the data set into workgroup memory, comma-separated on/off:
    /// one GPU backend is timed per choice (default: off).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub staging: Vec<Switch>,
    /// Whether GPU lattice evaluation shares the hidden units a lattice row leaves unchanged
    /// between a workgroup's invocations, comma-separated on/off: one GPU backend is timed per
    /// choice (default: on for hardware adapters, off for software ones).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub row_sharing: Vec<Switch>,
    /// Whether GPU kernels have their loops over the parameters written out, so that the
    /// parameters and the gradient stay in registers, comma-separated on/off: one GPU backend
    /// is timed per choice (default: on).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub unroll: Vec<Switch>,
    /// Whether GPU walks give each invocation walkers one after another from a queue, retiring
    /// walkers at a fixed point of the float32 step, or one walker each, comma-separated
    /// on/off: one GPU backend is timed per choice (default: on).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub walker_queue: Vec<Switch>,
    /// Invocations of a queued GPU walk, comma-separated: one GPU backend is timed per count
    /// (default: 65 536 on hardware adapters, an eighth of the walkers on software ones).
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    pub lanes: Vec<usize>,
    /// CPU kernels' instruction sets, comma-separated: one CPU backend is timed per set, each
    /// of which the processor must support (default: the widest it supports).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub isa: Vec<IsaChoice>,
}

/// Values of `--isa`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum IsaChoice {
    /// AVX-512 (F, VL, DQ, BW) with FMA, 16 lanes.
    Avx512,
    /// AVX2 with FMA: 16 lanes as two 8-lane registers.
    Avx2,
    /// The target's baseline (SSE2 on x86-64), products not fused.
    Baseline,
}

impl IsaChoice {
    fn isa(self) -> Isa {
        match self {
            IsaChoice::Avx512 => Isa::Avx512,
            IsaChoice::Avx2 => Isa::Avx2,
            IsaChoice::Baseline => Isa::Baseline,
        }
    }
}

/// The instruction sets `--isa` names (the widest available when none), each checked against
/// the processor.
fn isas(args: &BenchArgs) -> crate::Result<Vec<Isa>> {
    let available = Isa::available();
    if args.isa.is_empty() {
        return Ok(vec![Isa::best()]);
    }
    let mut out = Vec::new();
    for choice in &args.isa {
        let isa = choice.isa();
        if !available.contains(&isa) {
            let names: Vec<&str> = available.iter().map(|i| i.name()).collect();
            return Err(crate::Error::spec(
                "--isa",
                format!(
                    "this processor does not run {} (it runs {})",
                    isa.name(),
                    names.join(", ")
                ),
            ));
        }
        if !out.contains(&isa) {
            out.push(isa);
        }
    }
    Ok(out)
}

/// Values of `--staging`, `--row-sharing`, `--unroll` and `--walker-queue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    /// The flag's choice on.
    On,
    /// The flag's choice off.
    Off,
}

/// The GPU backends to time on `ctx`'s adapter: one per combination of the workgroup sizes,
/// staging, row-sharing and unrolling choices named, or `ctx` as it opened.
fn gpu_backends(args: &BenchArgs, ctx: GpuContext) -> crate::Result<Vec<Box<dyn Backend>>> {
    if args.workgroup_size.is_empty()
        && args.staging.is_empty()
        && args.row_sharing.is_empty()
        && args.unroll.is_empty()
        && args.walker_queue.is_empty()
        && args.lanes.is_empty()
    {
        // Named all the same, so that every figure says how its kernels were compiled.
        let mut g = GpuBackend::new(ctx);
        g.name_variant = true;
        return Ok(vec![Box::new(g)]);
    }
    let sizes = if args.workgroup_size.is_empty() {
        vec![ctx.workgroup_size]
    } else {
        args.workgroup_size.clone()
    };
    for &size in &sizes {
        ctx.check_workgroup_size(size).map_err(flagged)?;
    }
    let choices = |named: &[Switch], default: bool| -> Vec<bool> {
        if named.is_empty() {
            vec![default]
        } else {
            named.iter().map(|&s| s == Switch::On).collect()
        }
    };
    let staging = choices(&args.staging, ctx.stage_data);
    let sharing = choices(&args.row_sharing, ctx.share_rows);
    let unrolling = choices(&args.unroll, ctx.unroll_loops);
    let queueing = choices(&args.walker_queue, true);
    let lanes: Vec<Option<usize>> = if args.lanes.is_empty() {
        vec![None]
    } else {
        args.lanes.iter().map(|&n| Some(n)).collect()
    };
    let mut out: Vec<Box<dyn Backend>> = Vec::new();
    for &size in &sizes {
        for &stage in &staging {
            for &share in &sharing {
                for (&unroll, &queued) in unrolling
                    .iter()
                    .flat_map(|u| queueing.iter().map(move |q| (u, q)))
                {
                    // Lanes count only with walkers queued.
                    let lanes = if queued { &lanes[..] } else { &lanes[..1] };
                    for &lanes in lanes {
                        // One context each: pipelines are cached per context and variant.
                        let mut g = GpuBackend::new(
                            GpuContext::new(args.adapter.as_deref(), false).map_err(flagged)?,
                        );
                        let c = g.context_mut();
                        c.workgroup_size = size;
                        c.stage_data = stage;
                        c.share_rows = share;
                        c.unroll_loops = unroll;
                        g.descend_options.queued = Some(queued);
                        g.descend_options.max_lanes = lanes;
                        g.name_variant = true;
                        out.push(Box::new(g));
                    }
                }
            }
        }
    }
    Ok(out)
}

/// The GPU-only flags `args` names.
fn gpu_flags(args: &BenchArgs) -> Vec<&'static str> {
    [
        ("--adapter", args.adapter.is_some()),
        ("--workgroup-size", !args.workgroup_size.is_empty()),
        ("--staging", !args.staging.is_empty()),
        ("--row-sharing", !args.row_sharing.is_empty()),
        ("--unroll", !args.unroll.is_empty()),
        ("--walker-queue", !args.walker_queue.is_empty()),
        ("--lanes", !args.lanes.is_empty()),
    ]
    .into_iter()
    .filter_map(|(flag, named)| named.then_some(flag))
    .collect()
}

/// A note that the flags `ignored` do nothing because of `why` (none when there are none).
fn note_ignored(ignored: &[&str], why: &str) {
    if !ignored.is_empty() {
        eprintln!("note: {} ignored: {why}", ignored.join(", "));
    }
}

/// The backends to measure, CPU first. With the CPU backend comes a second CPU backend that
/// computes everything the GPU kernels compute: every hidden activation at every lattice point
/// (`CpuBackend::with_reuse`) and every step of every walker (`CpuBackend::with_retire`). It is
/// timed on W1 and W2 (and their -XL sizes), so that the gains of reusing activations and
/// retiring walkers at a fixed point are reported apart from the kernels' speed.
fn backends(args: &BenchArgs) -> crate::Result<Vec<Box<dyn Backend>>> {
    let mut out: Vec<Box<dyn Backend>> = Vec::new();
    let isas = isas(args)?;
    let cpu = || {
        isas.iter()
            .map(|&isa| Box::new(CpuBackend::with_options(0, isa)) as Box<dyn Backend>)
            .collect::<Vec<_>>()
    };
    let cpu_only = || {
        let flags = gpu_flags(args);
        let why = if flags.len() == 1 {
            "it applies"
        } else {
            "they apply"
        };
        note_ignored(&flags, &format!("{why} to GPU backends only"));
    };
    let gpu_only = || {
        if !args.isa.is_empty() {
            note_ignored(&["--isa"], "it applies to the CPU backend only");
        }
    };
    match args.backend {
        Some(BackendChoice::Cpu) => {
            cpu_only();
            out.extend(cpu());
        }
        Some(BackendChoice::Gpu) => {
            gpu_only();
            out.extend(gpu_backends(
                args,
                GpuContext::new(args.adapter.as_deref(), false).map_err(flagged)?,
            )?)
        }
        Some(BackendChoice::Auto) => {
            match GpuContext::new(args.adapter.as_deref(), true).map_err(flagged) {
                Ok(ctx) => {
                    gpu_only();
                    out.extend(gpu_backends(args, ctx)?)
                }
                Err(e) => {
                    eprintln!("note: using the CPU backend: {e}");
                    cpu_only();
                    out.extend(cpu());
                }
            }
        }
        None => {
            out.extend(cpu());
            match GpuContext::new(args.adapter.as_deref(), false).map_err(flagged) {
                Ok(ctx) => out.extend(gpu_backends(args, ctx)?),
                Err(e) => eprintln!("note: no GPU backend: {e}"),
            }
        }
    }
    if out[0].info().backend == "cpu" {
        let n = out.iter().filter(|b| b.info().backend == "cpu").count();
        out.insert(
            n,
            Box::new(
                CpuBackend::with_options(0, isas[0])
                    .with_reuse(false)
                    .with_retire(false),
            ),
        );
    }
    Ok(out)
}

/// Whether `b` is the CPU backend that computes everything, which W3 does not time.
fn plain(b: &dyn Backend) -> bool {
    b.info().adapter.ends_with(PLAIN)
}

/// Runs `landscape bench`.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.repeats == Some(0) {
        return Err(crate::Error::spec("--repeats", "0 is not a positive number of runs").into());
    }
    if args.workgroup_size.contains(&0) {
        return Err(crate::Error::spec(
            "--workgroup-size",
            "0 is not a positive number of invocations",
        )
        .into());
    }
    if args.lanes.contains(&0) {
        return Err(
            crate::Error::spec("--lanes", "0 is not a positive number of invocations").into(),
        );
    }
    let named = !args.workload.is_empty();
    let mut workloads = if named {
        args.workload.clone()
    } else {
        vec![Workload::W1, Workload::W2, Workload::W3]
    };
    if args.xl {
        for w in [Workload::W1Xl, Workload::W2Xl] {
            if !workloads.contains(&w) {
                workloads.push(w);
            }
        }
    }
    let mut backends = backends(&args)?;
    for b in &backends {
        eprintln!("backend: {}", b.info());
    }
    let mut results: Vec<Measurement> = Vec::new();
    for &w in &workloads {
        let prepared = Prepared::new(w)?;
        let repeats = args
            .repeats
            .unwrap_or(if w == Workload::W3 { 1 } else { 3 });
        let mut first = None;
        for b in backends.iter_mut() {
            let info = b.info();
            if plain(b.as_ref()) && w == Workload::W3 {
                continue;
            }
            if w == Workload::W3 && info.software_adapter && !named {
                eprintln!(
                    "note: W3 skipped on the software adapter {} (about as long as on the \
                     CPU); name it with --workload W3 to run it",
                    info.adapter
                );
                continue;
            }
            eprintln!("running {} on {info} ({repeats}×)…", w.name());
            let (mut m, out) = measure(&prepared, b.as_mut(), repeats)?;
            match &first {
                None => first = Some(out),
                Some(reference) => {
                    let a = agreement(w, reference, &out);
                    m.agrees = Some(a.agrees);
                    m.agreement = Some(a);
                }
            }
            if !args.json {
                eprintln!("  {}", row(&m, ADAPTER_WIDTH));
            }
            results.push(m);
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    } else {
        print_table(&results);
    }
    if results.iter().any(|m| m.agrees == Some(false)) {
        return Err(anyhow::anyhow!(
            "backends disagree (see the agree column); the timings above are not comparable"
        ));
    }
    Ok(())
}

/// The adapter column's text.
fn adapter_label(m: &Measurement) -> String {
    if m.software_adapter {
        format!("{} (software)", m.adapter)
    } else {
        m.adapter.clone()
    }
}

/// Width of the adapter column, at least.
const ADAPTER_WIDTH: usize = 38;

fn row(m: &Measurement, width: usize) -> String {
    format!(
        "{:<6} {:<4} {:<width$} {:>9.3} s {:>10.3e} {:<15} {:>8.2} GFLOP/s  {}",
        m.workload,
        m.backend,
        adapter_label(m),
        m.seconds,
        m.rate,
        m.unit,
        m.gflops,
        match &m.agreement {
            None => "reference".to_string(),
            Some(a) => format!(
                "{} ({:.4} %)",
                if a.agrees { "agrees" } else { "DISAGREES" },
                100.0 * a.fraction
            ),
        }
    )
}

fn print_table(results: &[Measurement]) {
    // As wide as the longest adapter name, so that long names do not shift the columns.
    let width = results
        .iter()
        .map(|m| adapter_label(m).chars().count())
        .fold(ADAPTER_WIDTH, usize::max);
    println!(
        "{:<6} {:<4} {:<width$} {:>11} {:>10} {:<15} {:>16}  agreement with the first backend",
        "work", "back", "adapter", "median", "rate", "unit", "effective"
    );
    for m in results {
        println!("{}", row(m, width));
    }
    let mut names: Vec<&str> = results.iter().map(|m| m.workload.as_str()).collect();
    names.dedup();
    for name in names {
        let cpu = results
            .iter()
            .find(|m| m.workload == name && m.backend == "cpu");
        let gpus = results
            .iter()
            .filter(|m| m.workload == name && m.backend == "gpu");
        let everything = results
            .iter()
            .find(|m| m.workload == name && m.backend == "cpu" && m.adapter.ends_with(PLAIN));
        let Some(c) = cpu else { continue };
        for g in gpus {
            println!(
                "{name}: GPU/CPU = {:.2}{}{}{}",
                g.rate / c.rate,
                match everything {
                    // The GPU kernels compute every activation at every point and every step.
                    Some(p) => format!(
                        " ({:.2} against the CPU computing everything, as the GPU does)",
                        g.rate / p.rate
                    ),
                    None => String::new(),
                },
                if g.software_adapter {
                    " (software adapter: a CPU running shaders, not a GPU result)"
                } else {
                    ""
                },
                match g.adapter.rfind(" [") {
                    Some(at) => format!(" for {}", &g.adapter[at + 1..]),
                    None => String::new(),
                }
            );
        }
    }
}
