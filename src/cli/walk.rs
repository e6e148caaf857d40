//! `landscape walk`: many gradient-descent walkers, with every walker's fate recorded.

use super::common::{
    DescentArgs, FinishArgs, ModelArgs, RunArgs, counts_json, open_backend, print_counts, replay,
    wrong_command,
};
use super::stopped::{extend, finish_replay, take_resume, timings, walk_with_checkpoints};
use crate::analysis::basins::Report;
use crate::backend::BackendInfo;
use crate::error::Result;
use crate::npy;
use crate::output::run_dir::RunDir;
use crate::record::{
    self, ArrayRecord, BasinsSummary, FORMAT, MergedRecord, Quantiles, RunRecord, WalkRecord,
    WalkSummary, WalkTimings,
};
use crate::run::checkpoint::remove_checkpoint;
use crate::run::{self, Command, Request, Walk, WalkRequest, WalkSpec};
use crate::spec::walk::Status;
use clap::Args;
use std::collections::BTreeMap;
use std::time::Instant;

/// Flags of `landscape walk`.
#[derive(Debug, Clone, Args)]
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
    #[command(flatten)]
    finish: FinishArgs,
    /// Record θ every K steps into trace.npy ((steps/K + 1) × M × P).
    #[arg(long, allow_negative_numbers = true)]
    trace: Option<u32>,
    /// Skip the basin analysis (run it later with `landscape basins DIR`).
    #[arg(long = "no-basins")]
    no_basins: bool,
    #[command(flatten)]
    run: RunArgs,
}

impl WalkArgs {
    /// The request the flags make.
    pub fn request(&self) -> Result<Request> {
        Ok(Request::Walk(WalkRequest {
            problem: self.model.request()?,
            walkers: self.walkers,
            init: self.init.clone(),
            seed: self.seed,
            descent: self.descent.settings(),
            trace: self.trace,
            finish: self.finish.request(&self.descent.settings(), false),
            basins: !self.no_basins,
            backend: self.run.backend,
            adapter: self.run.adapter.clone(),
            cwd: std::env::current_dir().ok(),
            shard: self.run.shard()?,
        }))
    }
}

/// The quantiles of the final losses recorded in run.json.
const QUANTILES: [f64; 7] = [0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0];

/// The q-quantile of sorted values (nearest rank).
fn quantile(sorted: &[f32], q: f64) -> Option<f32> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    Some(sorted[i])
}

/// The codes of status.npy, by name.
pub fn status_legend() -> BTreeMap<String, u32> {
    Status::ALL
        .iter()
        .map(|s| (s.name().to_string(), *s as u32))
        .collect()
}

/// The walker's algorithm, as run.json states it.
const ALGORITHM: &str = "at each step: evaluate L and ∇L; stop if θ is non-finite, ‖θ‖∞ > diverge, L or ∇L is non-finite, ‖∇L‖ < tol, or steps are used up (in that order); else v ← β·v − lr·∇L, θ ← θ + v";

/// Writes a walk's arrays (and its basin analysis, with the seconds it took) and run.json into
/// `out`, and returns the record.
pub fn write(
    out: &RunDir,
    request: &WalkRequest,
    spec: &WalkSpec,
    walk: &Walk,
    basins: Option<(&Report, f64)>,
    backend: BackendInfo,
) -> Result<WalkRecord> {
    write_arrays(out, spec, walk)?;
    write_rest(out, request, spec, walk, basins, backend, None)
}

/// Writes the walkers' arrays (one per walker, and the trace): those a merge joins from its
/// shards.
pub fn write_arrays(out: &RunDir, spec: &WalkSpec, walk: &Walk) -> Result<()> {
    let walked = &walk.output;
    let (mu, p) = (walked.status.len(), spec.problem.model.parameter_count());
    npy::write(&out.file("starts.npy"), &[mu, p], &walk.starts)?;
    npy::write(&out.file("endpoints.npy"), &[mu, p], &walked.endpoints)?;
    npy::write(&out.file("loss.npy"), &[mu], &walked.loss)?;
    npy::write(&out.file("grad_norm.npy"), &[mu], &walked.grad_norm)?;
    npy::write(&out.file("steps.npy"), &[mu], &walked.steps)?;
    let status: Vec<u8> = walked.status.iter().map(|&s| s as u8).collect();
    npy::write(&out.file("status.npy"), &[mu], &status)?;
    if let (Some(t), Some(rows)) = (&walked.trace, spec.trace_rows()) {
        npy::write(&out.file("trace.npy"), &[rows, mu, p], t)?;
    }
    Ok(())
}

/// The records of the walkers' arrays of a walk of `mu` walkers (those [`write_arrays`] writes).
pub fn walker_arrays(spec: &WalkSpec, mu: usize) -> BTreeMap<String, ArrayRecord> {
    let p = spec.problem.model.parameter_count();
    let mut arrays: BTreeMap<String, ArrayRecord> = BTreeMap::from([
        (
            "starts".into(),
            ArrayRecord::new("starts.npy", &[mu, p], "float32"),
        ),
        (
            "endpoints".into(),
            ArrayRecord::new("endpoints.npy", &[mu, p], "float32"),
        ),
        (
            "loss".into(),
            ArrayRecord::new("loss.npy", &[mu], "float32"),
        ),
        (
            "grad_norm".into(),
            ArrayRecord::new("grad_norm.npy", &[mu], "float32"),
        ),
        (
            "steps".into(),
            ArrayRecord::new("steps.npy", &[mu], "uint32"),
        ),
        (
            "status".into(),
            ArrayRecord::new("status.npy", &[mu], "uint8"),
        ),
    ]);
    if let (Some(rows), Some(k)) = (spec.trace_rows(), spec.trace) {
        let mut a = ArrayRecord::new("trace.npy", &[rows, mu, p], "float32");
        a.every = Some(k);
        arrays.insert("trace".into(), a);
    }
    arrays
}

/// Writes the rest of a walk whose walkers' arrays are written: the data, the basin analysis and
/// run.json (with `merged`, for a run joined from shards); returns the record.
pub fn write_rest(
    out: &RunDir,
    request: &WalkRequest,
    spec: &WalkSpec,
    walk: &Walk,
    basins: Option<(&Report, f64)>,
    backend: BackendInfo,
    merged: Option<MergedRecord>,
) -> Result<WalkRecord> {
    let model = &spec.problem.model;
    let mu = walk.output.status.len();
    let mut arrays = walker_arrays(spec, mu);
    arrays.extend(super::grid::write_data(out, spec.problem.dataset())?);
    if basins.is_none() {
        // The analysis comes later (`landscape basins DIR`): it needs to know which walkers
        // --extend continued, to say so in continued.npy.
        arrays.extend(super::shard::write_extended(out, walk, &[mu])?);
    }
    if let Some((report, _)) = basins {
        let extended = walk.extension.as_ref().map(|e| e.continued.as_slice());
        crate::output::basins::write(out.staging(), model, report, "basin.npy", &[mu], extended)?;
        arrays.extend(placement_arrays(mu));
    }
    let finite = walk.finite_losses();
    let walker_steps = walk.walker_steps();
    let record = WalkRecord {
        format: FORMAT,
        landscape_version: record::version(),
        command: Command::Walk,
        complete: true,
        spec: request.clone(),
        algorithm: ALGORITHM.to_string(),
        loss_definition: record::LOSS_DEFINITION.to_string(),
        parameters: model.parameter_names(),
        backend,
        timings: WalkTimings {
            walk_s: walk.walk_s,
            extend_s: walk.extension.as_ref().map(|e| e.seconds),
            basins_s: basins.map(|b| b.1),
        },
        status_legend: status_legend(),
        arrays,
        summary: WalkSummary {
            walkers: mu as u64,
            counts: counts_json(&walk.counts()),
            loss_quantiles: Quantiles {
                q: QUANTILES.to_vec(),
                loss: QUANTILES.iter().map(|&q| quantile(&finite, q)).collect(),
            },
            walker_steps,
            walker_steps_per_s: walker_steps as f64 / walk.walk_s.max(1e-9),
            basins: basins.map(|(r, _)| BasinsSummary::of(r, "basins.json")),
        },
        merged,
    };
    RunRecord::Walk(record.clone()).write(&out.file("run.json"))?;
    Ok(record)
}

/// Runs `landscape walk`.
pub fn run(args: WalkArgs, explicit: &[String]) -> anyhow::Result<()> {
    let (request, replayed) = replay(Command::Walk, &args.run, explicit, || args.request())?;
    let Request::Walk(walk_request) = &request else {
        return Err(wrong_command(&request, Command::Walk).into());
    };
    let spec = walk_request.validate()?;
    let model = &spec.problem.model;
    let resumed = take_resume(replayed, model.parameter_count(), spec.walkers_here())?;
    let checkpoint_dir = resumed.as_ref().map(|c| c.dir.clone());
    let out = args.run.run_dir(Command::Walk)?;
    let quiet = args.run.quiet;
    let mut backend = open_backend(walk_request.backend, walk_request.adapter.as_deref(), quiet)?;
    let m = spec.walkers;
    let settings = &spec.descent;
    if !quiet && let Some(s) = spec.shard {
        let b = spec.block();
        eprintln!("shard {s}: walkers {}..{} of {m}", b.start, b.end);
    }
    if !quiet {
        eprintln!(
            // {:?} keeps 1e30 and 1e-7 short, as typed.
            "walk: {model}, data {} ({}), {m} walkers from {}, seed {}, up to {} steps, lr {:?}, momentum {:?}",
            spec.problem.data.spec,
            crate::output::count(spec.problem.dataset().len() as u64, "sample", "samples"),
            walk_request.init,
            spec.seed,
            settings.steps,
            settings.lr,
            settings.momentum
        );
    }
    let walker_steps = spec.walkers_here() * u64::from(settings.steps);
    let Some((out, mut walk)) = walk_with_checkpoints(
        out,
        &request,
        resumed,
        (walker_steps, quiet, spec.trace.is_none()),
        |control| run::walk_with(backend.as_mut(), &spec, control),
    )?
    else {
        return Ok(());
    };
    extend(
        backend.as_mut(),
        &spec.problem,
        &mut walk,
        settings,
        spec.finish.extend,
        quiet,
    )?;
    if let Some(shard) = spec.shard {
        let fingerprint = super::shard::fingerprint_of(&request, spec.problem.dataset(), None);
        let place = super::shard::place(shard, spec.walkers, "walkers", fingerprint);
        let mu = walk.output.status.len();
        write_arrays(&out, &spec, &walk)?;
        let mut arrays = walker_arrays(&spec, mu);
        arrays.extend(super::grid::write_data(&out, spec.problem.dataset())?);
        arrays.extend(super::shard::write_extended(&out, &walk, &[mu])?);
        return Ok(super::shard::land_walked(
            out,
            &request,
            model,
            backend.info(),
            &walk,
            (place, arrays),
            (checkpoint_dir.as_deref(), quiet),
        )?);
    }
    let basins = if walk_request.basins {
        let t = Instant::now();
        let options = spec.finish.analysis(model.parameter_count(), settings);
        let report = super::basins::analyse(
            &spec.problem,
            &walk.output,
            &options,
            quiet,
            " (--no-basins skips the analysis; landscape basins DIR runs it later)",
        );
        Some((report, t.elapsed().as_secs_f64()))
    } else {
        None
    };
    let record = write(
        &out,
        walk_request,
        &spec,
        &walk,
        basins.as_ref().map(|(r, s)| (r, *s)),
        backend.info(),
    )?;
    remove_checkpoint(out.staging())?;
    let dir = out.finish()?;
    crate::interrupt::clear_landing();
    finish_replay(checkpoint_dir.as_deref(), &dir);
    if !quiet {
        print_counts(&walk.counts());
        let q = &record.summary.loss_quantiles.loss;
        let fmt = |v: Option<f32>| v.map_or("n/a".to_string(), |v| format!("{v:.3e}"));
        eprintln!(
            "  loss over {} finite endpoints: min {}, 5% {}, 25% {}, median {}, 75% {}, 95% {}, max {}",
            walk.finite_losses().len(),
            fmt(q[0]),
            fmt(q[1]),
            fmt(q[2]),
            fmt(q[3]),
            fmt(q[4]),
            fmt(q[5]),
            fmt(q[6])
        );
        eprintln!(
            "  {} walker-steps in {:.3} s ({:.3e} walker-steps/s)",
            record.summary.walker_steps, walk.walk_s, record.summary.walker_steps_per_s
        );
        if let Some((report, basins_s)) = &basins {
            eprint!("{}", report.table());
            eprintln!("  {}", timings(&walk, report, *basins_s));
        }
        println!("{}", dir.display());
    }
    Ok(())
}

/// The records of a walk's placement.npy and continued.npy (M walkers).
pub fn placement_arrays(walkers: usize) -> [(String, ArrayRecord); 2] {
    [
        ("placement", record::PLACEMENT_MEANING),
        ("continued", record::CONTINUED_MEANING),
    ]
    .map(|(name, meaning)| {
        let mut a = ArrayRecord::new(&format!("{name}.npy"), &[walkers], "uint8");
        a.meaning = Some(meaning.to_string());
        (name.to_string(), a)
    })
}
