//! `landscape grid`: L and ∇L at every point of a lattice, with pictures.

use super::common::{ModelArgs, RunArgs, SliceArgs, open_backend, replay, wrong_command};
use crate::analysis::lattice::local_extrema;
use crate::backend::BackendInfo;
use crate::error::Result;
use crate::npy;
use crate::output::plot::{self, AxisInfo};
use crate::output::run_dir::RunDir;
use crate::record::{
    self, ArgminRecord, ArrayRecord, AxisRecord, CurvatureSummary, FORMAT, GridRecord, GridSummary,
    GridTimings, MergedRecord, RunRecord, ShardTimings,
};
use crate::run::{self, Command, GridRequest, GridSpec, Request};
use crate::spec::model::Model;
use crate::spec::slice::{AxisKind, Slice};
use anyhow::Context;
use clap::Args;
use std::collections::BTreeMap;
use std::time::Instant;

/// Most lattice-local minima marked in a picture (the lowest ones).
const MARKED_MINIMA: usize = 12;

/// Flags of `landscape grid`.
#[derive(Debug, Clone, Args)]
pub struct GridArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    slice: SliceArgs,
    /// Also write the full gradient, grad.npy (N₁ × … × N_k × P).
    #[arg(long = "save-grad")]
    save_grad: bool,
    /// Also map the exact float64 Hessian: its smallest and largest eigenvalues
    /// (hessian_min.npy, hessian_max.npy), its index (index.npy, index.png) and |λmin/λmax|
    /// (curvature_ratio.png).
    #[arg(long)]
    hessian: bool,
    /// Logarithmic colour (or y) scale in the pictures.
    #[arg(long)]
    log: bool,
    #[command(flatten)]
    run: RunArgs,
}

impl GridArgs {
    /// The request the flags make.
    pub fn request(&self) -> Result<Request> {
        Ok(Request::Grid(GridRequest {
            problem: self.model.request()?,
            slice: self.slice.request(),
            save_grad: self.save_grad,
            hessian: self.hessian,
            log: self.log,
            backend: self.run.backend,
            adapter: self.run.adapter.clone(),
            cwd: std::env::current_dir().ok(),
            shard: self.run.shard()?,
        }))
    }
}

/// The user-facing label of axis j.
pub fn axis_label(slice: &Slice, j: usize) -> String {
    let a = &slice.axes[j];
    match a.kind {
        AxisKind::Offset(_) => format!("t along {}", a.label),
        AxisKind::Set(_) | AxisKind::Rate(_) | AxisKind::Scale => a.label.clone(),
    }
}

/// The axes of a slice as run.json records them.
pub fn axis_records(model: &Model, slice: &Slice) -> Vec<AxisRecord> {
    slice
        .axes
        .iter()
        .enumerate()
        .map(|(j, a)| {
            let (kind, parameter, direction) = match &a.kind {
                AxisKind::Set(q) => ("set", Some(model.parameter_name(*q)), None),
                AxisKind::Offset(d) => ("offset", None, Some(d.clone())),
                AxisKind::Rate(_) => ("rate", None, None),
                AxisKind::Scale => ("scale", None, None),
            };
            AxisRecord {
                spec: a.spec.clone(),
                label: axis_label(slice, j),
                kind: kind.to_string(),
                layer: match a.kind {
                    AxisKind::Rate(Some(l)) => Some(l + 1),
                    _ => None,
                },
                spacing: a.log.then(|| "log".to_string()),
                parameter,
                direction,
                lo: a.lo,
                hi: a.hi,
                n: a.n,
                values: a.values(),
            }
        })
        .collect()
}

/// The data's arrays, written into `out`, as run.json records them.
pub fn write_data(
    out: &RunDir,
    data: &crate::spec::data::Dataset,
) -> Result<[(String, ArrayRecord); 2]> {
    let (n, i, o) = (data.len(), data.inputs(), data.outputs());
    npy::write(&out.file("data_x.npy"), &[n, i], data.x())?;
    npy::write(&out.file("data_y.npy"), &[n, o], data.y())?;
    Ok([
        (
            "data_x".into(),
            ArrayRecord::new("data_x.npy", &[n, i], "float64"),
        ),
        (
            "data_y".into(),
            ArrayRecord::new("data_y.npy", &[n, o], "float64"),
        ),
    ])
}

/// Writes a grid's arrays, picture and run.json into `out`, and returns the record.
pub fn write(
    out: &RunDir,
    request: &GridRequest,
    spec: &GridSpec,
    grid: &run::Grid,
    backend: BackendInfo,
    merged: Option<MergedRecord>,
) -> anyhow::Result<GridRecord> {
    let t = Instant::now();
    let (model, source, slice) = (&spec.problem.model, &spec.problem.data, &spec.slice);
    let eval = &grid.evaluation;
    let p = model.parameter_count();
    let shape = slice.shape();
    npy::write(&out.file("loss.npy"), &shape, &eval.loss)?;
    npy::write(&out.file("grad_norm.npy"), &shape, &eval.grad_norm)?;
    npy::write(&out.file("origin.npy"), &[p], &slice.origin)?;
    let mut arrays: BTreeMap<String, ArrayRecord> = BTreeMap::from([
        (
            "loss".into(),
            ArrayRecord::new("loss.npy", &shape, "float32"),
        ),
        (
            "grad_norm".into(),
            ArrayRecord::new("grad_norm.npy", &shape, "float32"),
        ),
        (
            "origin".into(),
            ArrayRecord::new("origin.npy", &[p], "float64"),
        ),
    ]);
    arrays.extend(write_data(out, &source.data)?);
    if spec.save_grad {
        let mut gshape = shape.clone();
        gshape.push(p);
        // A merge joins grad.npy from the shards' blocks before this.
        if let Some(g) = &eval.grad {
            npy::write(&out.file("grad.npy"), &gshape, g)?;
        }
        arrays.insert(
            "grad".into(),
            ArrayRecord::new("grad.npy", &gshape, "float32"),
        );
    }

    let minima = local_extrema(&eval.loss, &shape, false);
    // A valley of minima sampled on a lattice gives hundreds of ties; mark only the lowest few.
    let mut marked = minima.clone();
    marked.sort_by(|&a, &b| eval.loss[a].total_cmp(&eval.loss[b]));
    marked.truncate(MARKED_MINIMA);
    let title = format!("L(θ), model {model}, data {}", source.spec);
    let infos: Vec<AxisInfo> = (0..slice.axes.len())
        .map(|j| AxisInfo {
            label: axis_label(slice, j),
            values: slice.axes[j].values(),
        })
        .collect();
    let loss64: Vec<f64> = eval.loss.iter().map(|&v| f64::from(v)).collect();
    let log = request.log;
    let picture = match slice.axes.len() {
        1 => {
            let maxima = local_extrema(&eval.loss, &shape, true);
            // The ends of a curve are not interior maxima; only mark those inside.
            let maxima: Vec<usize> = maxima
                .into_iter()
                .filter(|&i| i > 0 && i + 1 < shape[0])
                .collect();
            plot::curve_png(
                &out.file("curve.png"),
                &infos[0],
                &loss64,
                "L",
                &title,
                log,
                &marked,
                &maxima,
            )?;
            "curve.png"
        }
        2 => {
            plot::heatmap_png(
                &out.file("heatmap.png"),
                &infos[0],
                &infos[1],
                &loss64,
                "L",
                &title,
                log,
                &marked,
            )?;
            "heatmap.png"
        }
        _ => {
            plot::projections_png(
                &out.file("projections.png"),
                &infos,
                &loss64,
                "min L",
                &title,
                log,
            )?;
            "projections.png"
        }
    };

    let mut pictures = vec![picture.to_string()];
    let curvature = match &grid.curvature {
        Some(c) => {
            let (summary, drawn) = write_curvature(out, c, &shape, &infos, &title, &mut arrays)?;
            pictures.extend(drawn);
            Some(summary)
        }
        None => None,
    };
    let finite = || eval.loss.iter().copied().filter(|v| v.is_finite());
    let argmin = eval
        .loss
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .min_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i);
    let record = GridRecord {
        format: FORMAT,
        landscape_version: record::version(),
        command: Command::Grid,
        complete: true,
        spec: request.clone(),
        loss_definition: record::LOSS_DEFINITION.to_string(),
        parameters: model.parameter_names(),
        backend,
        timings: GridTimings {
            evaluate_s: grid.evaluate_s,
            write_s: t.elapsed().as_secs_f64(),
            hessian_s: grid.curvature.as_ref().map(|c| c.seconds),
        },
        axes: axis_records(model, slice),
        arrays,
        pictures,
        summary: GridSummary {
            points: slice.len(),
            loss_min: finite().reduce(f32::min),
            argmin: argmin.map(|g| ArgminRecord {
                index: slice.multi_index(g as u64),
                theta: slice.point(g as u64),
            }),
            loss_max: finite().reduce(f32::max),
            lattice_local_minima: minima.len(),
            marked_minima: if slice.axes.len() <= 2 {
                marked.len()
            } else {
                0
            },
            non_finite_points: eval.loss.iter().filter(|v| !v.is_finite()).count(),
            curvature,
        },
        merged,
    };
    RunRecord::Grid(record.clone()).write(&out.file("run.json"))?;
    Ok(record)
}

/// Writes the curvature's arrays (hessian_min.npy, hessian_max.npy, index.npy) and, for one or
/// two axes, its pictures (index.png, curvature_ratio.png); returns its summary and pictures.
fn write_curvature(
    out: &RunDir,
    c: &run::Curvature,
    shape: &[usize],
    infos: &[AxisInfo],
    title: &str,
    arrays: &mut BTreeMap<String, ArrayRecord>,
) -> anyhow::Result<(CurvatureSummary, Vec<String>)> {
    npy::write(&out.file("hessian_min.npy"), shape, &c.min)?;
    npy::write(&out.file("hessian_max.npy"), shape, &c.max)?;
    npy::write(&out.file("index.npy"), shape, &c.index)?;
    let mut min = ArrayRecord::new("hessian_min.npy", shape, "float64");
    min.meaning = Some("the exact Hessian's smallest eigenvalue λmin (NaN: not finite)".into());
    let mut max = ArrayRecord::new("hessian_max.npy", shape, "float64");
    max.meaning = Some("the exact Hessian's largest eigenvalue λmax".into());
    let mut index = ArrayRecord::new("index.npy", shape, "uint32");
    index.meaning = Some(format!(
        "negative eigenvalues of the exact Hessian, {}; {} where it is not finite",
        run::NEGATIVE_EIGENVALUE,
        run::NON_FINITE_INDEX
    ));
    arrays.insert("hessian_min".into(), min);
    arrays.insert("hessian_max".into(), max);
    arrays.insert("index".into(), index);
    let finite = |i: &&u32| **i != run::NON_FINITE_INDEX;
    let summary = CurvatureSummary {
        convex_points: c.index.iter().filter(|&&i| i == 0).count(),
        max_index: c.index.iter().filter(finite).copied().max().unwrap_or(0),
        non_finite_points: c.index.len() - c.index.iter().filter(finite).count(),
        negative: run::NEGATIVE_EIGENVALUE.to_string(),
    };
    let index: Vec<f64> = c
        .index
        .iter()
        .map(|&i| {
            if i == run::NON_FINITE_INDEX {
                f64::NAN
            } else {
                f64::from(i)
            }
        })
        .collect();
    // Li et al. (2018) map |λmin/λmax|: near 0 where L is convex or nearly so along the slice's
    // neighbourhood, large where negative curvature dominates.
    let ratio: Vec<f64> = c
        .min
        .iter()
        .zip(&c.max)
        .map(|(lo, hi)| (lo / hi).abs())
        .map(|r| if r.is_finite() { r } else { f64::NAN })
        .collect();
    let mut drawn = Vec::new();
    let index_title = format!("Index of ∇²L (negative eigenvalues), {title}");
    let ratio_title = format!("|λmin/λmax| of ∇²L, {title}");
    match infos.len() {
        1 => {
            plot::curve_png(
                &out.file("index.png"),
                &infos[0],
                &index,
                "index",
                &index_title,
                false,
                &[],
                &[],
            )?;
            plot::curve_png(
                &out.file("curvature_ratio.png"),
                &infos[0],
                &ratio,
                "|λmin/λmax|",
                &ratio_title,
                true,
                &[],
                &[],
            )?;
            drawn = vec!["index.png".to_string(), "curvature_ratio.png".to_string()];
        }
        2 => {
            plot::heatmap_png(
                &out.file("index.png"),
                &infos[0],
                &infos[1],
                &index,
                "index",
                &index_title,
                false,
                &[],
            )?;
            plot::heatmap_png(
                &out.file("curvature_ratio.png"),
                &infos[0],
                &infos[1],
                &ratio,
                "|λmin/λmax|",
                &ratio_title,
                true,
                &[],
            )?;
            drawn = vec!["index.png".to_string(), "curvature_ratio.png".to_string()];
        }
        _ => {}
    }
    Ok((summary, drawn))
}

/// Writes a grid's shard (its block's L, ‖∇L‖ and ∇L by lattice point, the origin and the data)
/// and lands it.
fn finish_shard(
    out: RunDir,
    request: &GridRequest,
    spec: &GridSpec,
    shard: crate::run::shard::Shard,
    grid: &run::Grid,
    backend: BackendInfo,
    quiet: bool,
) -> anyhow::Result<()> {
    let (model, eval) = (&spec.problem.model, &grid.evaluation);
    let (n, p) = (eval.loss.len(), model.parameter_count());
    npy::write(&out.file("loss.npy"), &[n], &eval.loss)?;
    npy::write(&out.file("grad_norm.npy"), &[n], &eval.grad_norm)?;
    npy::write(&out.file("origin.npy"), &[p], &spec.slice.origin)?;
    let mut arrays: BTreeMap<String, ArrayRecord> = BTreeMap::from([
        ("loss".into(), ArrayRecord::new("loss.npy", &[n], "float32")),
        (
            "grad_norm".into(),
            ArrayRecord::new("grad_norm.npy", &[n], "float32"),
        ),
        (
            "origin".into(),
            ArrayRecord::new("origin.npy", &[p], "float64"),
        ),
    ]);
    if let Some(g) = &eval.grad {
        npy::write(&out.file("grad.npy"), &[n, p], g)?;
        arrays.insert(
            "grad".into(),
            ArrayRecord::new("grad.npy", &[n, p], "float32"),
        );
    }
    if let Some(c) = &grid.curvature {
        npy::write(&out.file("hessian_min.npy"), &[n], &c.min)?;
        npy::write(&out.file("hessian_max.npy"), &[n], &c.max)?;
        npy::write(&out.file("index.npy"), &[n], &c.index)?;
        for (name, dtype) in [
            ("hessian_min", "float64"),
            ("hessian_max", "float64"),
            ("index", "uint32"),
        ] {
            arrays.insert(
                name.into(),
                ArrayRecord::new(&format!("{name}.npy"), &[n], dtype),
            );
        }
    }
    arrays.extend(write_data(&out, spec.problem.dataset())?);
    let request = Request::Grid(request.clone());
    let fingerprint =
        super::shard::fingerprint_of(&request, spec.problem.dataset(), Some(&spec.slice));
    let place = super::shard::place(shard, spec.slice.len(), "lattice points", fingerprint);
    let timings = ShardTimings {
        compute_s: grid.evaluate_s + grid.curvature.as_ref().map_or(0.0, |c| c.seconds),
        extend_s: None,
    };
    super::shard::write_record(
        &out,
        &request,
        place.clone(),
        model,
        backend,
        timings,
        arrays,
    )?;
    let dir = out.finish()?;
    super::shard::announce(&place, &dir, quiet);
    Ok(())
}

/// Runs `landscape grid`.
pub fn run(args: GridArgs, explicit: &[String]) -> anyhow::Result<()> {
    if args.run.resume.is_some() {
        return Err(crate::Error::spec(
            "--resume",
            "a grid is not checkpointed (only walk and map are); run it again, or repeat it with --config",
        )
        .into());
    }
    let (request, _) = replay(Command::Grid, &args.run, explicit, || args.request())?;
    let Request::Grid(request) = request else {
        return Err(wrong_command(&request, Command::Grid).into());
    };
    let spec = request.validate()?;
    let (model, source) = (&spec.problem.model, &spec.problem.data);
    let out = args.run.run_dir(Command::Grid)?;
    let quiet = args.run.quiet;
    let mut backend = open_backend(request.backend, request.adapter.as_deref(), quiet)?;
    let points = spec.slice.len();
    if !quiet {
        eprintln!(
            "grid: {model}, {}, lattice {:?} = {points} points, P = {}",
            crate::output::count(source.data.len() as u64, "sample", "samples"),
            spec.slice.shape(),
            model.parameter_count()
        );
        if let Some(s) = spec.shard {
            let b = spec.block();
            eprintln!(
                "shard {s}: lattice points {}..{} of {points}",
                b.start, b.end
            );
        }
    }
    let grid = run::grid(backend.as_mut(), &spec).context("evaluating the lattice")?;
    if let Some(shard) = spec.shard {
        return finish_shard(out, &request, &spec, shard, &grid, backend.info(), quiet);
    }
    let record = write(&out, &request, &spec, &grid, backend.info(), None)?;
    let dir = out.finish()?;
    if !quiet {
        let s = &record.summary;
        let picture = &record.pictures[0];
        let marked_note = if s.marked_minima < s.lattice_local_minima && s.marked_minima > 0 {
            format!(" (the {} lowest marked in {picture})", s.marked_minima)
        } else {
            String::new()
        };
        let non_finite_note = if s.non_finite_points > 0 {
            format!(
                "; L is not finite (beyond float32's range) at {} of the {points} points",
                s.non_finite_points
            )
        } else {
            String::new()
        };
        let eval_s = grid.evaluate_s;
        eprintln!(
            "evaluated {points} points in {eval_s:.3} s ({:.3e} points/s); min L = {}; {} lattice-local {}{marked_note}{non_finite_note}",
            points as f64 / eval_s.max(1e-9),
            s.loss_min.map_or("n/a".to_string(), |m| format!("{m:.6e}")),
            s.lattice_local_minima,
            if s.lattice_local_minima == 1 {
                "minimum"
            } else {
                "minima"
            },
        );
        println!("{}", dir.display());
    }
    Ok(())
}
