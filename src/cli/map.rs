//! `landscape map`: a basin map. The starts are the points of a 2-D slice, one walker per pixel,
//! every other parameter at the origin; each pixel is coloured by where its walker ended.

use super::common::{
    DescentArgs, FinishArgs, ModelArgs, RunArgs, SliceArgs, counts_json, open_backend,
    print_counts, replay, wrong_command,
};
use super::grid::{axis_label, axis_records, write_data};
use super::stopped::{extend, finish_replay, take_resume, timings, walk_with_checkpoints};
use crate::backend::BackendInfo;
use crate::error::Result;
use crate::npy;
use crate::output::basin_map::picture;
use crate::output::plot::{self, AxisInfo};
use crate::output::run_dir::RunDir;
use crate::record::{
    self, ArrayRecord, BasinsSummary, FORMAT, MapRecord, MapSummary, MapTimings, MergedRecord,
    RunRecord,
};
use crate::run::checkpoint::remove_checkpoint;
use crate::run::{self, ColorBy, Command, Map, MapRequest, MapSpec, Request};
use clap::Args;
use std::collections::BTreeMap;
use std::time::Instant;

/// Flags of `landscape map`.
#[derive(Debug, Clone, Args)]
pub struct MapArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    slice: SliceArgs,
    #[command(flatten)]
    descent: DescentArgs,
    #[command(flatten)]
    finish: FinishArgs,
    /// Colour pixels by class, copy, loss, steps, status, diverged (trained or diverged) or
    /// score (a convergence score in [−1, 1], also written to score.npy).
    #[arg(long = "color", value_enum, default_value = "copy")]
    color: ColorBy,
    /// Darken class colours by the steps taken, so that basin boundaries show.
    #[arg(long)]
    shade: bool,
    /// Skip the basin analysis: pixels show how each walker ended (status, diverged, score,
    /// loss or steps), as maps over learning rates need.
    #[arg(long = "no-basins")]
    no_basins: bool,
    /// Map a window F times narrower at the same resolution, about the plane's centre or about
    /// the point X,Y (axis values): F or F@X,Y. boundary.json follows the statistics across zooms.
    #[arg(long, value_name = "F[@X,Y]", allow_hyphen_values = true)]
    zoom: Option<String>,
    #[command(flatten)]
    run: RunArgs,
}

impl MapArgs {
    /// The request the flags make.
    pub fn request(&self) -> Result<Request> {
        Ok(Request::Map(MapRequest {
            problem: self.model.request()?,
            slice: self.slice.request(),
            descent: self.descent.settings(),
            finish: self.finish.request(&self.descent.settings(), true),
            color: self.color,
            shade: self.shade,
            basins: !self.no_basins,
            zoom: self.zoom.clone(),
            backend: self.run.backend,
            adapter: self.run.adapter.clone(),
            cwd: std::env::current_dir().ok(),
            shard: self.run.shard()?,
        }))
    }
}

/// Writes a map's arrays, basin analysis, picture and run.json into `out`, and returns the
/// record.
pub fn write(
    out: &RunDir,
    request: &MapRequest,
    spec: &MapSpec,
    map: &Map,
    backend: BackendInfo,
    merged: Option<MergedRecord>,
) -> anyhow::Result<MapRecord> {
    let (model, slice) = (&spec.problem.model, &spec.slice);
    let (walked, report) = (&map.walk.output, &map.report);
    let shape = slice.shape();
    let p = model.parameter_count();
    let m = walked.status.len();
    let extended = map.walk.extension.as_ref().map(|e| e.continued.as_slice());
    if spec.basins {
        crate::output::basins::write(out.staging(), model, report, "labels.npy", &shape, extended)?;
    }
    npy::write(&out.file("steps.npy"), &shape, &walked.steps)?;
    let status: Vec<u8> = walked.status.iter().map(|&s| s as u8).collect();
    npy::write(&out.file("status.npy"), &shape, &status)?;
    npy::write(&out.file("loss.npy"), &shape, &walked.loss)?;
    let eshape = [shape[0], shape[1], p];
    npy::write(&out.file("endpoints.npy"), &eshape, &walked.endpoints)?;
    let mut labels = ArrayRecord::new("labels.npy", &[shape[0], shape[1], 2], "int32");
    labels.meaning = Some("class id, copy id (-1: none)".to_string());
    let mut placement = ArrayRecord::new("placement.npy", &shape, "uint8");
    placement.meaning = Some(record::PLACEMENT_MEANING.to_string());
    let mut continued = ArrayRecord::new("continued.npy", &shape, "uint8");
    continued.meaning = Some(record::CONTINUED_MEANING.to_string());
    let mut arrays: BTreeMap<String, ArrayRecord> = BTreeMap::from([
        (
            "steps".into(),
            ArrayRecord::new("steps.npy", &shape, "uint32"),
        ),
        (
            "status".into(),
            ArrayRecord::new("status.npy", &shape, "uint8"),
        ),
        (
            "loss".into(),
            ArrayRecord::new("loss.npy", &shape, "float32"),
        ),
        (
            "endpoints".into(),
            ArrayRecord::new("endpoints.npy", &eshape, "float32"),
        ),
    ]);
    if spec.basins {
        arrays.extend([
            ("labels".into(), labels),
            ("placement".into(), placement),
            ("continued".into(), continued),
        ]);
    }
    arrays.extend(write_data(out, spec.problem.dataset())?);
    let infos: Vec<AxisInfo> = (0..2)
        .map(|j| AxisInfo {
            label: axis_label(slice, j),
            values: slice.axes[j].values(),
        })
        .collect();
    let (_, boundary) = crate::output::boundary::write(
        out.staging(),
        [shape[0], shape[1]],
        &report.labels,
        &walked.status,
    )?;
    let score =
        (request.color == ColorBy::Score).then(|| crate::output::score::map_scores(spec, walked));
    if let Some(s) = &score {
        npy::write(&out.file("score.npy"), &shape, s)?;
        let mut record = ArrayRecord::new("score.npy", &shape, "float32");
        record.meaning = Some(
            "convergence score in [-1, 1]: converged 1 - k/2S, still moving (1 - L/L0)/2, diverged -(1 - k/S)"
                .to_string(),
        );
        arrays.insert("score".into(), record);
    }
    let (pixels, legend, scalar) = picture(
        request.color,
        request.shade,
        walked,
        report,
        score.as_deref(),
    );
    let title = format!(
        "{} of {model}, data {} ({m} walkers)",
        if spec.basins { "Basins" } else { "Outcomes" },
        spec.problem.data.spec
    );
    plot::map_png(
        &out.file("map.png"),
        &infos[0],
        &infos[1],
        &pixels,
        &legend,
        scalar,
        &title,
    )?;
    let record = MapRecord {
        format: FORMAT,
        landscape_version: record::version(),
        command: Command::Map,
        complete: true,
        spec: request.clone(),
        loss_definition: record::LOSS_DEFINITION.to_string(),
        parameters: model.parameter_names(),
        backend,
        timings: MapTimings {
            walk_s: map.walk.walk_s,
            extend_s: map.walk.extension.as_ref().map(|e| e.seconds),
            flow_s: report.flow.as_ref().map(|f| f.seconds),
            basins_s: map.basins_s,
        },
        axes: axis_records(model, slice),
        status_legend: super::walk::status_legend(),
        arrays,
        pictures: vec!["map.png".to_string()],
        summary: MapSummary {
            walkers: m as u64,
            counts: counts_json(&map.walk.counts()),
            basins: spec
                .basins
                .then(|| BasinsSummary::of(report, "basins.json")),
            boundary: Some(boundary),
        },
        merged,
    };
    RunRecord::Map(record.clone()).write(&out.file("run.json"))?;
    Ok(record)
}

/// The pixels' arrays of a map's shard, by pixel of the block (the map's arrays flattened to
/// their pixels), with the data and the `--extend` flags; returns their records.
fn write_shard_arrays(
    out: &RunDir,
    spec: &MapSpec,
    walk: &crate::run::Walk,
) -> Result<BTreeMap<String, ArrayRecord>> {
    let walked = &walk.output;
    let (m, p) = (walked.status.len(), spec.problem.model.parameter_count());
    npy::write(&out.file("steps.npy"), &[m], &walked.steps)?;
    let status: Vec<u8> = walked.status.iter().map(|&s| s as u8).collect();
    npy::write(&out.file("status.npy"), &[m], &status)?;
    npy::write(&out.file("loss.npy"), &[m], &walked.loss)?;
    npy::write(&out.file("endpoints.npy"), &[m, p], &walked.endpoints)?;
    let mut arrays: BTreeMap<String, ArrayRecord> = BTreeMap::from([
        (
            "steps".into(),
            ArrayRecord::new("steps.npy", &[m], "uint32"),
        ),
        (
            "status".into(),
            ArrayRecord::new("status.npy", &[m], "uint8"),
        ),
        ("loss".into(), ArrayRecord::new("loss.npy", &[m], "float32")),
        (
            "endpoints".into(),
            ArrayRecord::new("endpoints.npy", &[m, p], "float32"),
        ),
    ]);
    arrays.extend(write_data(out, spec.problem.dataset())?);
    arrays.extend(super::shard::write_extended(out, walk, &[m])?);
    Ok(arrays)
}

/// Runs `landscape map`.
pub fn run(args: MapArgs, explicit: &[String]) -> anyhow::Result<()> {
    let (request, replayed) = replay(Command::Map, &args.run, explicit, || args.request())?;
    let Request::Map(map_request) = &request else {
        return Err(wrong_command(&request, Command::Map).into());
    };
    let spec = map_request.validate()?;
    let model = &spec.problem.model;
    let m = spec.slice.len();
    let resumed = take_resume(replayed, model.parameter_count(), spec.walkers_here())?;
    let checkpoint_dir = resumed.as_ref().map(|c| c.dir.clone());
    let out = args.run.run_dir(Command::Map)?;
    let quiet = args.run.quiet;
    let mut backend = open_backend(map_request.backend, map_request.adapter.as_deref(), quiet)?;
    let settings = &spec.descent;
    if !quiet {
        eprintln!(
            "map: {model}, data {}, {:?} = {m} walkers, up to {} steps, lr {:?}, momentum {:?}",
            spec.problem.data.spec,
            spec.slice.shape(),
            settings.steps,
            settings.lr,
            settings.momentum
        );
    }
    if !quiet && let Some(s) = spec.shard {
        let b = spec.block();
        eprintln!("shard {s}: pixels {}..{} of {m}", b.start, b.end);
    }
    let walker_steps = spec.walkers_here() * u64::from(settings.steps);
    let Some((out, mut walk)) = walk_with_checkpoints(
        out,
        &request,
        resumed,
        (walker_steps, quiet, true),
        |control| run::map_walk_with(backend.as_mut(), &spec, control),
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
        let fingerprint =
            super::shard::fingerprint_of(&request, spec.problem.dataset(), Some(&spec.slice));
        let place = super::shard::place(shard, m, "pixels", fingerprint);
        let arrays = write_shard_arrays(&out, &spec, &walk)?;
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
    let t = Instant::now();
    let options = spec.finish.analysis(model.parameter_count(), settings);
    let report = if spec.basins {
        super::basins::analyse(&spec.problem, &walk.output, &options, quiet, "")
    } else {
        run::unanalysed(walk.output.status.len())
    };
    let map = Map {
        walk,
        report,
        basins_s: t.elapsed().as_secs_f64(),
    };
    let record = write(&out, map_request, &spec, &map, backend.info(), None)?;
    remove_checkpoint(out.staging())?;
    let dir = out.finish()?;
    crate::interrupt::clear_landing();
    finish_replay(checkpoint_dir.as_deref(), &dir);
    if !quiet {
        print_counts(&map.walk.counts());
        if spec.basins {
            eprint!("{}", map.report.table());
        }
        if let Some(b) = &record.summary.boundary {
            eprintln!("  {}", crate::output::boundary::line(b));
        }
        eprintln!("  {}", timings(&map.walk, &map.report, map.basins_s));
        println!("{}", dir.display());
    }
    Ok(())
}
