//! `landscape basins DIR`: (re)analyse a walk.

use crate::analysis::basins::{Report, Stage, analyse_walk_observed, cluster_cap};
use crate::error::Error;
use crate::npy;
use crate::output;
use crate::output::progress::Progress;
use crate::spec::data::Dataset;
use crate::spec::model::{Activation, Model};
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

/// The basin analysis of a walk's arrays, with a progress bar over the points it polishes and,
/// for large P, a notice first (ending with `hint`), both on standard error unless `quiet`.
pub fn analyse(
    model: &Model,
    data: &Dataset,
    endpoints: &[f32],
    status: &[u32],
    quiet: bool,
    hint: &str,
) -> Report {
    let p = model.parameter_count();
    let progress = Progress::new(0, "points polished", quiet);
    let report = analyse_walk_observed(model, data, endpoints, status, &|stage| match stage {
        Stage::Clusters(n) => {
            progress.set_total(n as u64);
            if p >= LARGE_P && n > 0 && !quiet {
                let points = if n == 1 { "point" } else { "points" };
                eprintln!(
                    "basins: polishing {n} {points} (at most {} at this size) with dense {p} × {p} float64 Hessians, {} each{hint}",
                    cluster_cap(p),
                    // About a second a point at P = 1600, tens of seconds at P = 4000 (BENCHMARKS.md).
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

/// The analysis as run.json's `summary.basins` records it.
pub fn summary(report: &Report) -> serde_json::Value {
    serde_json::json!({
        "file": "basins.json", "classes": report.classes.len(), "group_order": report.group_order,
        "group_order_log10": report.group_order_log10,
        "lowest_loss": report.classes.first().map(|c| c.loss),
    })
}

/// Runs the analysis on a walk's arrays and writes basins.json, basins.csv and basin.npy into `dir`.
pub fn analyse_and_write(
    dir: &Path,
    model: &Model,
    data: &Dataset,
    endpoints: &[f32],
    status: &[u32],
    quiet: bool,
    hint: &str,
) -> anyhow::Result<Report> {
    let report = analyse(model, data, endpoints, status, quiet, hint);
    output::basins::write(dir, model, &report, "basin.npy", &[status.len()])?;
    Ok(report)
}

/// Runs `landscape basins`.
pub fn run(args: BasinsArgs) -> anyhow::Result<()> {
    let dir = &args.dir;
    let run_json = dir.join("run.json");
    let text = std::fs::read_to_string(&run_json)
        .map_err(|e| Error::file(&run_json, format!("cannot read the walk's run.json ({e}); expected a directory written by landscape walk")))?;
    let run: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::file(&run_json, format!("not valid JSON: {e}")))?;
    if run["command"] != "walk" {
        return Err(Error::file(&run_json, "is not from landscape walk").into());
    }
    let spec = &run["spec"];
    let field = |k: &str| {
        spec[k]
            .as_str()
            .ok_or_else(|| Error::file(&run_json, format!("spec.{k} is missing")))
    };
    let act: Activation = field("act")?
        .parse()
        .map_err(|e: String| Error::file(&run_json, e))?;
    let out_act: Activation = field("out_act")?
        .parse()
        .map_err(|e: String| Error::file(&run_json, e))?;
    let bias = spec["bias"]
        .as_bool()
        .ok_or_else(|| Error::file(&run_json, "spec.bias is missing"))?;
    // The run's own files are at fault here, not a flag: name them in every message.
    let model = Model::new(field("model")?, act, out_act, bias).map_err(|e| match e {
        Error::Spec { message, .. } => Error::file(&run_json, format!("spec.model: {message}")),
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
        )
        .into());
    }
    if ys != [xs[0], outputs] {
        return Err(Error::file(
            &y_path,
            format!(
                "shape {ys:?}, expected [{}, {outputs}] to match data_x.npy",
                xs[0]
            ),
        )
        .into());
    }
    for (path, values) in [(&x_path, &x), (&y_path, &y)] {
        if let Some(v) = values
            .iter()
            .find(|v| !v.is_finite() || v.abs() > f64::from(f32::MAX))
        {
            return Err(Error::file(
                path,
                format!("holds {v:e}; expected finite numbers within float32's range"),
            )
            .into());
        }
    }
    let data = Dataset::new(inputs, outputs, x, y)?;
    let (endpoints, eshape) = npy::read_f64(&dir.join("endpoints.npy"))?;
    if eshape.len() != 2 || eshape[1] != model.parameter_count() {
        return Err(Error::file(
            dir.join("endpoints.npy"),
            format!(
                "shape {eshape:?} does not match P = {}",
                model.parameter_count()
            ),
        )
        .into());
    }
    let (status, sshape) = npy::read_u8(&dir.join("status.npy"))?;
    if sshape != [eshape[0]] {
        return Err(Error::file(
            dir.join("status.npy"),
            format!("shape {sshape:?}, expected [{}]", eshape[0]),
        )
        .into());
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
        )
        .into());
    }
    let endpoints: Vec<f32> = endpoints.iter().map(|&v| v as f32).collect();
    let status: Vec<u32> = status.iter().map(|&s| u32::from(s)).collect();
    let t = std::time::Instant::now();
    let report = analyse_and_write(dir, &model, &data, &endpoints, &status, args.quiet, "")
        .context("analysing basins")?;
    // run.json now describes the analysis too, as if the walk had made it.
    let mut record = run.clone();
    record["summary"]["basins"] = summary(&report);
    record["timings"]["basins_s"] = serde_json::json!(t.elapsed().as_secs_f64());
    let text = serde_json::to_string_pretty(&record).context("serialising run.json")?;
    let tmp = dir.join("run.json.tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, &run_json))
        .map_err(|source| Error::Io {
            path: run_json.clone(),
            source,
        })?;
    if !args.quiet {
        print!("{}", report.table());
    }
    Ok(())
}
