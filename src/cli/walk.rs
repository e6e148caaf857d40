//! `landscape walk`: many gradient-descent walkers, with every walker's fate recorded.

use super::blocks::{self, BlockWalk, Walked, finish_replay, interrupted, take_resume};
use super::common::{
    DescentArgs, ModelArgs, RunArgs, counts_json, print_counts, replay, status_counts,
};
use super::memory;
use crate::error::Error;
use crate::npy;
use crate::output::progress::Progress;
use crate::output::run_dir::RunDir;
use crate::spec::walk::{Init, Status};
use anyhow::Context;
use clap::Args;
use rayon::prelude::*;
use serde_json::json;
use std::time::Instant;

/// Largest trace kept in memory and written, in bytes.
const MAX_TRACE_BYTES: u64 = 4 << 30;

/// Flags of `landscape walk`.
#[derive(Debug, Clone, Args, serde::Serialize, serde::Deserialize)]
pub struct WalkArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Number of walkers M.
    #[arg(long, allow_negative_numbers = true, default_value_t = 1024)]
    walkers: u64,
    /// Start distribution: normal:S (σ = S), uniform:A (on [−A, A]) or xavier (Glorot uniform, zero biases).
    #[arg(long, default_value = "normal:1")]
    init: String,
    /// Seed of the starts: walker w starts at a pure function of (seed, w).
    #[arg(long, allow_negative_numbers = true, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    descent: DescentArgs,
    /// Record θ every K steps into trace.npy ((steps/K + 1) × M × P).
    #[arg(long, allow_negative_numbers = true)]
    trace: Option<u32>,
    /// Skip the basin analysis (run it later with `landscape basins DIR`).
    #[arg(long = "no-basins")]
    no_basins: bool,
    #[command(flatten)]
    run: RunArgs,
}

/// The q-quantile of sorted values (nearest rank).
fn quantile(sorted: &[f32], q: f64) -> Option<f32> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    Some(sorted[i])
}

/// Runs `landscape walk`.
pub fn run(args: WalkArgs, explicit: &[String]) -> anyhow::Result<()> {
    let (args, replay) = replay(args, |a| &mut a.run, explicit, "walk")?;
    let (model, source) = args.model.resolve()?;
    let (done, replay_dir, before_s) = take_resume(replay, model.parameter_count(), args.walkers)?;
    let init = Init::parse(&args.init)?;
    let settings = args.descent.settings()?;
    let m = args.walkers;
    if m == 0 || m > u32::MAX as u64 {
        return Err(Error::spec(
            "--walkers",
            format!("{m} walkers; expected 1 to {}", u32::MAX),
        )
        .into());
    }
    let p = model.parameter_count();
    if args.trace == Some(0) {
        return Err(Error::spec(
            "--trace",
            "0; expected a positive number of steps between records",
        )
        .into());
    }
    if let Some(k) = args.trace {
        let bytes = (u64::from(settings.steps / k) + 1)
            .saturating_mul(m)
            .saturating_mul(p as u64 * 4);
        if bytes > MAX_TRACE_BYTES {
            return Err(Error::spec(
                "--trace",
                format!(
                    "the trace would take {:.1} GiB (at most {} GiB); record less often or use fewer walkers",
                    bytes as f64 / (1u64 << 30) as f64,
                    MAX_TRACE_BYTES >> 30
                ),
            )
            .into());
        }
    }
    let trace_bytes = args.trace.map_or(0, |k| {
        (u64::from(settings.steps / k) + 1)
            .saturating_mul(m)
            .saturating_mul(p as u64 * 4)
    });
    memory::check(
        "--walkers",
        &format!("a walk of {m} walkers"),
        memory::walk_bytes(m, p as u64, trace_bytes, !args.no_basins),
        "use fewer walkers (several runs with different --seed cover more starts)",
    )?;
    let out = RunDir::create(args.run.out.as_deref(), "walk", args.run.force)?;
    let mut backend = args.run.open_backend()?;
    let quiet = args.run.quiet;
    if !quiet {
        eprintln!(
            // {:?} keeps 1e30 and 1e-7 short, as typed.
            "walk: {model}, data {} ({}), {m} walkers from {}, seed {}, up to {} steps, lr {:?}, momentum {:?}",
            source.spec,
            crate::output::count(source.data.len() as u64, "sample", "samples"),
            args.init,
            args.seed,
            settings.steps,
            settings.lr,
            settings.momentum
        );
    }
    let starts: Vec<f32> = (0..m)
        .into_par_iter()
        .flat_map_iter(|w| {
            init.start(&model, args.seed, w)
                .into_iter()
                .map(|v| v as f32)
        })
        .collect();

    let progress = Progress::new(m * u64::from(settings.steps), "walker-steps", quiet);
    let t0 = Instant::now();
    let recorded = serde_json::to_value(&args).context("recording the arguments")?;
    let walked = if args.trace.is_some() {
        // A trace is kept whole in memory: such a run is not cut into blocks or checkpointed.
        backend
            .walk(&model, &source.data, &starts, &settings, args.trace, &|n| {
                progress.add(n)
            })
            .map(Walked::Complete)
    } else {
        blocks::walk(
            backend.as_mut(),
            &BlockWalk {
                model: &model,
                data: &source.data,
                starts: &starts,
                settings: &settings,
                dir: out.staging(),
                command: "walk",
                args: &recorded,
                before_s,
            },
            done,
            &progress,
        )
    }
    .context("walking");
    progress.finish();
    let walked = match walked? {
        Walked::Complete(w) => w,
        Walked::Interrupted { done } => {
            return interrupted(out, "walk", &recorded, done, m as usize);
        }
    };
    // A resumed run's time includes its earlier processes', as its walker count does.
    let walk_s = before_s + t0.elapsed().as_secs_f64();
    blocks::remove_checkpoint(out.staging())?;
    if args.trace.is_none() {
        blocks::land_walk_on_interrupt(&out, "walk", &recorded, &walked, walk_s)?;
    }

    let mu = m as usize;
    npy::write(&out.file("starts.npy"), &[mu, p], &starts)?;
    npy::write(&out.file("endpoints.npy"), &[mu, p], &walked.endpoints)?;
    npy::write(&out.file("loss.npy"), &[mu], &walked.loss)?;
    npy::write(&out.file("grad_norm.npy"), &[mu], &walked.grad_norm)?;
    npy::write(&out.file("steps.npy"), &[mu], &walked.steps)?;
    let status: Vec<u8> = walked.status.iter().map(|&s| s as u8).collect();
    npy::write(&out.file("status.npy"), &[mu], &status)?;
    let d = &source.data;
    npy::write(&out.file("data_x.npy"), &[d.len(), d.inputs()], d.x())?;
    npy::write(&out.file("data_y.npy"), &[d.len(), d.outputs()], d.y())?;
    let mut arrays = json!({
        "starts": {"file": "starts.npy", "shape": [mu, p], "dtype": "float32"},
        "endpoints": {"file": "endpoints.npy", "shape": [mu, p], "dtype": "float32"},
        "loss": {"file": "loss.npy", "shape": [mu], "dtype": "float32"},
        "grad_norm": {"file": "grad_norm.npy", "shape": [mu], "dtype": "float32"},
        "steps": {"file": "steps.npy", "shape": [mu], "dtype": "uint32"},
        "status": {"file": "status.npy", "shape": [mu], "dtype": "uint8"},
        "data_x": {"file": "data_x.npy", "shape": [d.len(), d.inputs()], "dtype": "float64"},
        "data_y": {"file": "data_y.npy", "shape": [d.len(), d.outputs()], "dtype": "float64"},
    });
    if let (Some(t), Some(k)) = (&walked.trace, args.trace) {
        let rows = (settings.steps / k) as usize + 1;
        npy::write(&out.file("trace.npy"), &[rows, mu, p], t)?;
        arrays["trace"] =
            json!({"file": "trace.npy", "shape": [rows, mu, p], "dtype": "float32", "every": k});
    }

    let basins = if args.no_basins {
        None
    } else {
        let t = Instant::now();
        let report = super::basins::analyse_and_write(
            out.staging(),
            &model,
            &source.data,
            &walked.endpoints,
            &walked.status,
            quiet,
            " (--no-basins skips the analysis; landscape basins DIR runs it later)",
        )?;
        Some((report, t.elapsed().as_secs_f64()))
    };

    let counts = status_counts(&walked.status);
    let mut finite: Vec<f32> = walked
        .loss
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    finite.sort_by(f32::total_cmp);
    let qs = [0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0];
    let quantiles: Vec<Option<f32>> = qs.iter().map(|&q| quantile(&finite, q)).collect();
    let walker_steps: u64 = walked.steps.iter().map(|&s| u64::from(s)).sum();
    let rate = walker_steps as f64 / walk_s.max(1e-9);

    let run_json = json!({
        "landscape_version": env!("CARGO_PKG_VERSION"),
        "command": "walk",
        "complete": true,
        "spec": {
            "model": model.widths_string(), "act": model.act, "out_act": model.out_act, "bias": model.bias,
            "data": source.spec, "walkers": m, "init": init, "init_spec": args.init, "seed": args.seed,
            "lr": settings.lr, "momentum": settings.momentum, "steps": settings.steps, "tol": settings.tol, "diverge": settings.diverge,
            "trace": args.trace, "backend": args.run.backend, "adapter": args.run.adapter,
        },
        "args": recorded,
        "algorithm": "at each step: evaluate L and ∇L; stop if θ is non-finite, ‖θ‖∞ > diverge, L or ∇L is non-finite, ‖∇L‖ < tol, or steps are used up (in that order); else v ← β·v − lr·∇L, θ ← θ + v",
        "loss_definition": "L(θ) = (1/N) Σ_i ‖f(x_i; θ) − y_i‖²",
        "parameters": model.parameter_names(),
        "backend": backend.info(),
        "seed": args.seed,
        "timings": {"walk_s": walk_s, "basins_s": basins.as_ref().map(|b| b.1)},
        "status_legend": Status::ALL.iter().map(|s| (s.name(), *s as u32)).collect::<std::collections::BTreeMap<_, _>>(),
        "arrays": arrays,
        "summary": {
            "walkers": m,
            "counts": counts_json(&counts),
            "loss_quantiles": {"q": qs, "loss": quantiles},
            "walker_steps": walker_steps,
            "walker_steps_per_s": rate,
            "basins": basins.as_ref().map(|(r, _)| super::basins::summary(r)),
        },
    });
    let text = serde_json::to_string_pretty(&run_json).context("serialising run.json")?;
    std::fs::write(out.file("run.json"), text)
        .with_context(|| format!("writing run.json into {}", out.target().display()))?;
    blocks::remove_checkpoint(out.staging())?;
    let dir = out.finish()?;
    crate::interrupt::clear_landing();
    finish_replay(replay_dir.as_deref(), &dir);
    if !quiet {
        print_counts(&counts);
        let fmt = |v: Option<f32>| v.map_or("n/a".to_string(), |v| format!("{v:.3e}"));
        eprintln!(
            "  loss over {} finite endpoints: min {}, 5% {}, 25% {}, median {}, 75% {}, 95% {}, max {}",
            finite.len(),
            fmt(quantiles[0]),
            fmt(quantiles[1]),
            fmt(quantiles[2]),
            fmt(quantiles[3]),
            fmt(quantiles[4]),
            fmt(quantiles[5]),
            fmt(quantiles[6])
        );
        eprintln!("  {walker_steps} walker-steps in {walk_s:.3} s ({rate:.3e} walker-steps/s)");
        if let Some((report, _)) = &basins {
            eprint!("{}", report.table());
        }
        println!("{}", dir.display());
    }
    Ok(())
}
