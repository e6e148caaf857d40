//! `landscape grid`: L and ∇L at every point of a lattice, with pictures.

use super::common::{ModelArgs, RunArgs, SliceArgs, replay};
use crate::analysis::lattice::local_extrema;
use crate::error::Error;
use crate::npy;
use crate::output::plot::{self, AxisInfo};
use crate::output::run_dir::RunDir;
use crate::spec::slice::{AxisKind, Slice};
use anyhow::Context;
use clap::Args;
use serde_json::json;
use std::time::Instant;

/// Most lattice-local minima marked in a picture (the lowest ones).
const MARKED_MINIMA: usize = 12;

/// Largest `grad.npy` kept in memory and written, in bytes (as walk's largest trace).
const MAX_GRAD_BYTES: u64 = 4 << 30;

/// Flags of `landscape grid`.
#[derive(Debug, Clone, Args, serde::Serialize, serde::Deserialize)]
pub struct GridArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    slice: SliceArgs,
    /// Also write the full gradient, grad.npy (N₁ × … × N_k × P).
    #[arg(long = "save-grad")]
    save_grad: bool,
    /// Logarithmic colour (or y) scale in the pictures.
    #[arg(long)]
    log: bool,
    #[command(flatten)]
    run: RunArgs,
}

/// The user-facing label of axis j.
fn axis_label(slice: &Slice, j: usize) -> String {
    let a = &slice.axes[j];
    match a.kind {
        AxisKind::Set(_) => a.label.clone(),
        AxisKind::Offset(_) => format!("t along {}", a.label),
    }
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
    let (args, _) = replay(args, |a| &mut a.run, explicit, "grid")?;
    let (model, source) = args.model.resolve()?;
    let slice = args.slice.resolve(&model, source.teacher.as_ref())?;
    let p = model.parameter_count();
    let points = slice.len();
    let shape = slice.shape();
    let grad_bytes = points.saturating_mul(p as u64 * 4);
    if args.save_grad && grad_bytes > MAX_GRAD_BYTES {
        return Err(Error::spec(
            "--save-grad",
            format!(
                "grad.npy would take {:.1} GiB for {points} points × P = {p} (at most {} GiB); use fewer points per axis",
                grad_bytes as f64 / (1u64 << 30) as f64,
                MAX_GRAD_BYTES >> 30
            ),
        )
        .into());
    }
    // Loss and ‖∇L‖ per point (and ∇L), as computed and as read back from a GPU.
    let per_point = 2 * (8 + if args.save_grad { 4 * p as u64 } else { 0 });
    super::memory::check(
        "--axis",
        &format!("a lattice of {points} points"),
        points.saturating_mul(per_point),
        "use fewer points per axis",
    )?;
    let out = RunDir::create(args.run.out.as_deref(), "grid", args.run.force)?;
    let mut backend = args.run.open_backend()?;
    let quiet = args.run.quiet;
    if !quiet {
        eprintln!(
            "grid: {model}, {}, lattice {shape:?} = {points} points, P = {p}",
            crate::output::count(source.data.len() as u64, "sample", "samples")
        );
    }

    let t0 = Instant::now();
    let eval = backend
        .evaluate_lattice(&model, &source.data, &slice, 0..points, args.save_grad)
        .context("evaluating the lattice")?;
    let eval_s = t0.elapsed().as_secs_f64();

    let t1 = Instant::now();
    npy::write(&out.file("loss.npy"), &shape, &eval.loss)?;
    npy::write(&out.file("grad_norm.npy"), &shape, &eval.grad_norm)?;
    let mut arrays = json!({
        "loss": {"file": "loss.npy", "shape": shape, "dtype": "float32"},
        "grad_norm": {"file": "grad_norm.npy", "shape": shape, "dtype": "float32"},
        "data_x": {"file": "data_x.npy", "shape": [source.data.len(), model.inputs()], "dtype": "float64"},
        "data_y": {"file": "data_y.npy", "shape": [source.data.len(), model.outputs()], "dtype": "float64"},
        "origin": {"file": "origin.npy", "shape": [p], "dtype": "float64"},
    });
    if let Some(g) = &eval.grad {
        let mut gshape = shape.clone();
        gshape.push(p);
        npy::write(&out.file("grad.npy"), &gshape, g)?;
        arrays["grad"] = json!({"file": "grad.npy", "shape": gshape, "dtype": "float32"});
    }
    let d = &source.data;
    npy::write(&out.file("data_x.npy"), &[d.len(), d.inputs()], d.x())?;
    npy::write(&out.file("data_y.npy"), &[d.len(), d.outputs()], d.y())?;
    npy::write(&out.file("origin.npy"), &[p], &slice.origin)?;

    let minima = local_extrema(&eval.loss, &shape, false);
    // A valley of minima sampled on a lattice gives hundreds of ties; mark only the lowest few.
    let mut marked = minima.clone();
    marked.sort_by(|&a, &b| eval.loss[a].total_cmp(&eval.loss[b]));
    marked.truncate(MARKED_MINIMA);
    let title = format!("L(θ), model {model}, data {}", source.spec);
    let infos: Vec<AxisInfo> = (0..slice.axes.len())
        .map(|j| AxisInfo {
            label: axis_label(&slice, j),
            values: slice.axes[j].values(),
        })
        .collect();
    let loss64: Vec<f64> = eval.loss.iter().map(|&v| f64::from(v)).collect();
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
                args.log,
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
                args.log,
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
                args.log,
            )?;
            "projections.png"
        }
    }
    .to_string();
    let write_s = t1.elapsed().as_secs_f64();

    let (argmin, min) = eval
        .loss
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .min_by(|a, b| a.1.total_cmp(b.1))
        .map_or((None, None), |(i, v)| (Some(i), Some(*v)));
    let non_finite = eval.loss.iter().filter(|v| !v.is_finite()).count();
    let axes_json: Vec<_> = slice
        .axes
        .iter()
        .enumerate()
        .map(|(j, a)| {
            let (kind, parameter) = match &a.kind {
                AxisKind::Set(q) => ("set", Some(model.parameter_name(*q))),
                AxisKind::Offset(_) => ("offset", None),
            };
            json!({
                "spec": a.spec, "label": axis_label(&slice, j), "kind": kind, "parameter": parameter,
                "direction": if let AxisKind::Offset(d) = &a.kind { Some(d.clone()) } else { None },
                "lo": a.lo, "hi": a.hi, "n": a.n, "values": a.values(),
            })
        })
        .collect();
    let run_json = json!({
        "landscape_version": env!("CARGO_PKG_VERSION"),
        "command": "grid",
        "complete": true,
        "spec": {
            "model": model.widths_string(), "act": model.act, "out_act": model.out_act, "bias": model.bias,
            "data": source.spec, "origin": args.slice.origin_spec(),
            "axes": args.slice.axes, "plane": args.slice.plane, "save_grad": args.save_grad, "log": args.log,
            "backend": args.run.backend, "adapter": args.run.adapter,
        },
        "args": serde_json::to_value(&args).context("recording the arguments")?,
        "loss_definition": "L(θ) = (1/N) Σ_i ‖f(x_i; θ) − y_i‖²",
        "parameters": model.parameter_names(),
        "backend": backend.info(),
        "seed": null,
        "timings": {"evaluate_s": eval_s, "write_s": write_s},
        "axes": axes_json,
        "arrays": arrays,
        "pictures": [picture],
        "summary": {
            "points": points,
            "loss_min": min,
            "argmin": argmin.map(|g| json!({"index": slice.multi_index(g as u64), "theta": slice.point(g as u64)})),
            "loss_max": eval.loss.iter().copied().filter(|v| v.is_finite()).fold(None, |m: Option<f32>, v| Some(m.map_or(v, |m| m.max(v)))),
            "lattice_local_minima": minima.len(),
            "marked_minima": if slice.axes.len() <= 2 { marked.len() } else { 0 },
            "non_finite_points": non_finite,
        },
    });
    let text = serde_json::to_string_pretty(&run_json).context("serialising run.json")?;
    std::fs::write(out.file("run.json"), text)
        .with_context(|| format!("writing run.json into {}", out.target().display()))?;
    let dir = out.finish()?;
    if !quiet {
        let marked_note = if marked.len() < minima.len() && slice.axes.len() <= 2 {
            format!(" (the {} lowest marked in {picture})", marked.len())
        } else {
            String::new()
        };
        let non_finite_note = if non_finite > 0 {
            format!(
                "; L is not finite (beyond float32's range) at {non_finite} of the {points} points"
            )
        } else {
            String::new()
        };
        eprintln!(
            "evaluated {points} points in {eval_s:.3} s ({:.3e} points/s); min L = {}; {} lattice-local {}{marked_note}{non_finite_note}",
            points as f64 / eval_s.max(1e-9),
            min.map_or("n/a".to_string(), |m| format!("{m:.6e}")),
            minima.len(),
            if minima.len() == 1 {
                "minimum"
            } else {
                "minima"
            },
        );
        println!("{}", dir.display());
    }
    Ok(())
}
