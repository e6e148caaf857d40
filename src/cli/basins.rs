//! `landscape basins DIR`: (re)analyse a walk.

use crate::analysis::basins::{Options, Report, Stage, cluster_cap};
use crate::backend::WalkOutput;
use crate::error::Error;
use crate::npy;
use crate::output;
use crate::output::progress::Progress;
use crate::record::{BasinsSummary, RunRecord, WalkRecord};
use crate::run::{self, Problem};
use crate::spec::data::{DataSource, Dataset};
use crate::spec::model::Model;
use crate::spec::walk::Status;
use anyhow::Context;
use clap::Args;
use std::path::{Path, PathBuf};

/// Flags of `landscape basins`.
#[derive(Debug, Clone, Args)]
pub struct BasinsArgs {
    /// A run directory written by `landscape walk`.
    dir: PathBuf,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

/// Parameter count from which the analysis announces itself: each point it polishes then costs
/// seconds of dense P × P float64 work (Hessians, their factorisations and eigenvalues).
const LARGE_P: usize = 1000;

/// The basin analysis of a walk, with a progress bar over the points it polishes and, for large
/// P, a notice first (ending with `hint`), both on standard error unless `quiet`.
pub fn analyse(
    problem: &Problem,
    walked: &WalkOutput,
    options: &Options,
    quiet: bool,
    hint: &str,
) -> Report {
    let p = problem.model.parameter_count();
    let what = if options.flow.is_some() {
        "ends continued or polished"
    } else {
        "ends polished"
    };
    let progress = Progress::new(0, what, quiet);
    // Representatives come in rounds (the later ones near boundaries between outcomes).
    let total = std::sync::atomic::AtomicU64::new(0);
    let report = run::basins_observed(problem, walked, options, &|stage| match stage {
        Stage::Clusters(n) => {
            let first = total.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed) == 0;
            progress.set_total(total.load(std::sync::atomic::Ordering::Relaxed));
            if first && p >= LARGE_P && n > 0 && !quiet {
                let points = if n == 1 { "point" } else { "points" };
                eprintln!(
                    "basins: polishing {n} {points} (at most {} at this size) with dense {p} × {p} float64 Hessians, {} each{hint}",
                    cluster_cap(p),
                    if p < 2500 {
                        "seconds"
                    } else {
                        "tens of seconds"
                    }
                );
            }
        }
        Stage::Polished => progress.add(1),
    });
    progress.finish();
    report
}

/// A finished walk read back from its run directory: its record, problem (model and the data
/// actually used), endpoints (M × P) and statuses; every file checked, and named in errors.
pub struct Walked {
    /// run.json.
    pub record: WalkRecord,
    /// The model and data_x.npy, data_y.npy.
    pub problem: Problem,
    /// endpoints.npy.
    pub endpoints: Vec<f64>,
    /// status.npy.
    pub status: Vec<u8>,
}

/// Reads the walk in `dir`.
pub fn load_walk(dir: &Path) -> crate::Result<Walked> {
    let run_json = dir.join("run.json");
    let record = match RunRecord::read(&run_json)? {
        RunRecord::Walk(r) => r,
        RunRecord::Shard(s) => {
            return Err(Error::file(
                &run_json,
                format!(
                    "records shard {}/{} of a `{}`; join the shards with `landscape merge DIR... --out DIR` first (it runs the analysis)",
                    s.shard.index, s.shard.count, s.command
                ),
            ));
        }
        other => {
            let what = if other.complete() {
                format!("a `{}` run", other.command())
            } else {
                "an unfinished run (continue it with --resume first)".to_string()
            };
            return Err(Error::file(
                &run_json,
                format!("records {what}; expected a finished `walk`"),
            ));
        }
    };
    let asked = &record.spec.problem;
    // The run's own files are at fault here, not a flag: name them in every message.
    let model =
        Model::new(&asked.model, asked.act, asked.out_act, asked.bias).map_err(|e| match e {
            Error::Spec { message, .. } => {
                Error::file(&run_json, format!("spec.problem.model: {message}"))
            }
            other => other,
        })?;
    let (x_path, y_path) = (dir.join("data_x.npy"), dir.join("data_y.npy"));
    let (x, xs) = npy::read_f64(&x_path)?;
    let (y, ys) = npy::read_f64(&y_path)?;
    let (inputs, outputs) = (model.inputs(), model.outputs());
    if xs.len() != 2 || xs[1] != inputs || xs[0] == 0 {
        return Err(Error::file(
            &x_path,
            format!(
                "shape {xs:?}, expected (N, {inputs}) for model {}",
                model.widths_string()
            ),
        ));
    }
    if ys != [xs[0], outputs] {
        return Err(Error::file(
            &y_path,
            format!(
                "shape {ys:?}, expected [{}, {outputs}] to match data_x.npy",
                xs[0]
            ),
        ));
    }
    for (path, values) in [(&x_path, &x), (&y_path, &y)] {
        if let Some(v) = values
            .iter()
            .find(|v| !v.is_finite() || v.abs() > f64::from(f32::MAX))
        {
            return Err(Error::file(
                path,
                format!("holds {v:e}; expected finite numbers within float32's range"),
            ));
        }
    }
    let dataset = Dataset::new(inputs, outputs, x, y)?;
    let problem = Problem {
        model,
        data: DataSource {
            spec: asked.data.clone(),
            data: dataset,
            teacher: None,
        },
    };
    let model = &problem.model;
    let (endpoints, eshape) = npy::read_f64(&dir.join("endpoints.npy"))?;
    if eshape.len() != 2 || eshape[1] != model.parameter_count() {
        return Err(Error::file(
            dir.join("endpoints.npy"),
            format!(
                "shape {eshape:?} does not match P = {}",
                model.parameter_count()
            ),
        ));
    }
    let (status, sshape) = npy::read_u8(&dir.join("status.npy"))?;
    if sshape != [eshape[0]] {
        return Err(Error::file(
            dir.join("status.npy"),
            format!("shape {sshape:?}, expected [{}]", eshape[0]),
        ));
    }
    if let Some(bad) = status
        .iter()
        .find(|&&s| Status::from_code(u32::from(s)).is_none())
    {
        return Err(Error::file(
            dir.join("status.npy"),
            format!(
                "holds status code {bad}; expected 0 to {} (see run.json's status_legend)",
                Status::ALL.len() - 1
            ),
        ));
    }
    Ok(Walked {
        record,
        problem,
        endpoints,
        status,
    })
}

/// Runs `landscape basins`.
pub fn run(args: BasinsArgs) -> anyhow::Result<()> {
    let dir = &args.dir;
    let Walked {
        mut record,
        problem,
        endpoints,
        status,
    } = load_walk(dir)?;
    let model = &problem.model;
    let mu = status.len();
    let walked = WalkOutput {
        endpoints: endpoints.iter().map(|&v| v as f32).collect(),
        status: status.iter().map(|&s| u32::from(s)).collect(),
        // The analysis reads only the endpoints and statuses.
        loss: Vec::new(),
        grad_norm: Vec::new(),
        steps: Vec::new(),
        trace: None,
    };
    let t = std::time::Instant::now();
    let options = record
        .spec
        .finish
        .analysis(model.parameter_count(), &record.spec.descent);
    let report = analyse(&problem, &walked, &options, args.quiet, "");
    // The walkers --extend continued, recorded by a walk that left its analysis for later.
    let extended_path = dir.join("extended.npy");
    let extended: Option<Vec<bool>> = if extended_path.is_file() {
        let (flags, shape) = npy::read_exact::<u8>(&extended_path)?;
        if shape != [mu] {
            return Err(Error::file(
                &extended_path,
                format!("shape {shape:?}, expected [{mu}] to match status.npy"),
            )
            .into());
        }
        Some(flags.iter().map(|&f| f != 0).collect())
    } else {
        None
    };
    output::basins::write(dir, model, &report, "basin.npy", &[mu], extended.as_deref())
        .context("writing the analysis")?;
    // run.json now describes the analysis too, as if the walk had made it.
    record.summary.basins = Some(BasinsSummary::of(&report, "basins.json"));
    record.arrays.extend(super::walk::placement_arrays(mu));
    record.timings.basins_s = Some(t.elapsed().as_secs_f64());
    RunRecord::Walk(record).write(&dir.join("run.json"))?;
    if !args.quiet {
        print!("{}", report.table());
    }
    Ok(())
}
