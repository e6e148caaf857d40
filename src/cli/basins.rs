//! `landscape basins DIR`: (re)analyse a walk.

use crate::analysis::basins::{Report, analyse_walk};
use crate::error::Error;
use crate::npy;
use crate::output;
use crate::spec::data::Dataset;
use crate::spec::model::{Activation, Model};
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

/// Runs the analysis on a walk's arrays and writes basins.json, basins.csv and basin.npy into `dir`.
pub fn analyse_and_write(
    dir: &Path,
    model: &Model,
    data: &Dataset,
    endpoints: &[f32],
    status: &[u32],
) -> anyhow::Result<Report> {
    let report = analyse_walk(model, data, endpoints, status);
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
    let model = Model::new(field("model")?, act, out_act, bias)?;
    let (x, xs) = npy::read_f64(&dir.join("data_x.npy"))?;
    let (y, _) = npy::read_f64(&dir.join("data_y.npy"))?;
    let data = Dataset::new(xs.get(1).copied().unwrap_or(1), model.outputs(), x, y)?;
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
    let endpoints: Vec<f32> = endpoints.iter().map(|&v| v as f32).collect();
    let status: Vec<u32> = status.iter().map(|&s| u32::from(s)).collect();
    let report =
        analyse_and_write(dir, &model, &data, &endpoints, &status).context("analysing basins")?;
    if !args.quiet {
        print!("{}", report.table());
    }
    Ok(())
}
