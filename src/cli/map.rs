//! `landscape map`: a basin map. The starts are the points of a 2-D slice, one walker per pixel,
//! every other parameter at the origin; each pixel is coloured by where its walker ended.

use super::blocks::{self, BlockWalk, Walked, finish_replay, interrupted, take_resume};
use super::common::{
    DescentArgs, ModelArgs, RunArgs, SliceArgs, counts_json, print_counts, replay, status_counts,
};
use super::memory;
use crate::analysis::basins::Report;
use crate::backend::WalkOutput;
use crate::error::Error;
use crate::npy;
use crate::output;
use crate::output::plot::{self, AxisInfo, LegendKey, MapLegendEntry, MapPixel, Neutral};
use crate::output::progress::Progress;
use crate::output::run_dir::RunDir;
use crate::spec::slice::{AxisKind, Slice};
use crate::spec::walk::Status;
use anyhow::Context;
use clap::{Args, ValueEnum};
use rayon::prelude::*;
use serde_json::json;
use std::time::Instant;

/// What the pixels of map.png show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColorBy {
    /// The class (stationary point up to symmetry) each walker reached.
    Class,
    /// The class, with its copies in related shades.
    Copy,
    /// The final loss (log scale).
    Loss,
    /// The steps taken.
    Steps,
    /// How each walker ended.
    Status,
}

/// Flags of `landscape map`.
#[derive(Debug, Clone, Args, serde::Serialize, serde::Deserialize)]
pub struct MapArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    slice: SliceArgs,
    #[command(flatten)]
    descent: DescentArgs,
    /// Colour pixels by class, copy, loss, steps or status.
    #[arg(long = "color", value_enum, default_value = "copy")]
    color: ColorBy,
    /// Darken class colours by the steps taken, so that basin boundaries show.
    #[arg(long)]
    shade: bool,
    #[command(flatten)]
    run: RunArgs,
}

/// The label of axis `j` for pictures.
pub fn axis_label(slice: &Slice, j: usize) -> String {
    let a = &slice.axes[j];
    match a.kind {
        AxisKind::Set(_) => a.label.clone(),
        AxisKind::Offset(_) => format!("t along {}", a.label),
    }
}

/// Pixels and legend of a basin map.
pub fn picture(
    color: ColorBy,
    shade: bool,
    walked: &WalkOutput,
    report: &Report,
) -> (
    Vec<MapPixel>,
    Vec<MapLegendEntry>,
    Option<plot::ScalarBar<'static>>,
) {
    let m = walked.status.len();
    let max_steps = walked.steps.iter().copied().max().unwrap_or(1).max(1) as f32;
    let mut loss_range = (0.0f32, 1.0f32);
    // A walker in no class: why, from its status.
    let neutral = |w: usize| {
        MapPixel::Neutral(match Status::from_code(walked.status[w]) {
            Some(Status::Diverged) => Neutral::Diverged,
            Some(Status::MaxSteps) => Neutral::Unconverged,
            _ => Neutral::NoClass,
        })
    };
    let mut legend = Vec::new();
    let pixels: Vec<MapPixel> = match color {
        ColorBy::Class | ColorBy::Copy => {
            for c in report.classes.iter().take(15) {
                let copies = match c.copies_expected {
                    Some(e) => format!("{} of {e} copies", c.copies_found),
                    None => "a manifold".to_string(),
                };
                legend.push(MapLegendEntry {
                    key: LegendKey::Class(c.id),
                    text: format!(
                        "class {} · {} · L = {:.3e} · {copies} · {:.1}%",
                        c.id,
                        c.kind,
                        c.loss,
                        100.0 * c.fraction
                    ),
                });
            }
            (0..m)
                .map(|w| {
                    let (class, copy) = (report.labels[2 * w], report.labels[2 * w + 1]);
                    if class < 0 {
                        return neutral(w);
                    }
                    MapPixel::Class {
                        class: class as usize,
                        copy: (color == ColorBy::Copy && copy >= 0).then_some(copy as usize),
                        shade: if shade {
                            0.8 * walked.steps[w] as f32 / max_steps
                        } else {
                            0.0
                        },
                    }
                })
                .collect()
        }
        ColorBy::Status => {
            // Only the statuses that occur, with their counts, as the neutral rows below.
            for (class, status) in [(0, Status::Converged), (1, Status::MaxSteps)] {
                let n = walked
                    .status
                    .iter()
                    .filter(|&&s| Status::from_code(s) == Some(status))
                    .count();
                if n > 0 {
                    legend.push(MapLegendEntry {
                        key: LegendKey::Class(class),
                        text: format!(
                            "{} · {n} ({:.1}%)",
                            status.name(),
                            100.0 * n as f64 / m.max(1) as f64
                        ),
                    });
                }
            }
            (0..m)
                .map(|w| match Status::from_code(walked.status[w]) {
                    Some(Status::Converged) => MapPixel::Class {
                        class: 0,
                        copy: None,
                        shade: 0.0,
                    },
                    Some(Status::MaxSteps) => MapPixel::Class {
                        class: 1,
                        copy: None,
                        shade: 0.0,
                    },
                    _ => neutral(w),
                })
                .collect()
        }
        ColorBy::Loss => {
            let logs: Vec<f32> = walked.loss.iter().map(|l| l.max(1e-30).log10()).collect();
            let (lo, hi) = logs
                .iter()
                .filter(|v| v.is_finite())
                .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
            let span = (hi - lo).max(1e-6);
            loss_range = (lo, lo + span);
            (0..m)
                .map(|w| {
                    if walked.loss[w].is_finite() {
                        MapPixel::Scalar((logs[w] - lo) / span)
                    } else {
                        neutral(w)
                    }
                })
                .collect()
        }
        ColorBy::Steps => (0..m)
            .map(|w| MapPixel::Scalar(walked.steps[w] as f32 / max_steps))
            .collect(),
    };
    // Neutral rows, counted from the pixels drawn: only the kinds that occur.
    let mut counts = [0u64; 3];
    for px in &pixels {
        if let MapPixel::Neutral(n) = px {
            counts[Neutral::ALL.iter().position(|k| k == n).unwrap_or(0)] += 1;
        }
    }
    for (n, count) in Neutral::ALL.into_iter().zip(counts) {
        if count == 0 {
            continue;
        }
        let what = match (n, color) {
            (Neutral::Diverged, _) => "diverged",
            (Neutral::NoClass, ColorBy::Class | ColorBy::Copy) => {
                "no class (stopped where nothing is stationary, or non-finite)"
            }
            (Neutral::NoClass, _) => "non-finite",
            (Neutral::Unconverged, _) => "no class, still moving at the step budget",
        };
        legend.push(MapLegendEntry {
            key: LegendKey::Neutral(n),
            text: format!(
                "{what} · {count} ({:.1}%)",
                100.0 * count as f64 / m.max(1) as f64
            ),
        });
    }
    // The colour bar in the quantity's own units: log10 L from its lowest to its highest, or steps.
    let scalar = match color {
        ColorBy::Loss => Some(plot::ScalarBar {
            label: "log10 L",
            lo: f64::from(loss_range.0),
            hi: f64::from(loss_range.1),
        }),
        ColorBy::Steps => Some(plot::ScalarBar {
            label: "steps",
            lo: 0.0,
            hi: f64::from(max_steps),
        }),
        _ => None,
    };
    (pixels, legend, scalar)
}

/// Runs `landscape map`.
pub fn run(args: MapArgs, explicit: &[String]) -> anyhow::Result<()> {
    let (args, replay) = replay(args, |a| &mut a.run, explicit, "map")?;
    let (model, source) = args.model.resolve()?;
    // Counted before the slice is built, whose own check allows 1 to 4 axes.
    if args.slice.plane.is_none() && args.slice.axes.len() != 2 {
        return Err(Error::spec(
            "--axis",
            format!(
                "a map needs exactly 2 axes (or --plane); {} given",
                args.slice.axes.len()
            ),
        )
        .into());
    }
    let slice = args.slice.resolve(&model, source.teacher.as_ref())?;
    if slice.axes.len() != 2 {
        return Err(Error::spec(
            "--axis",
            format!(
                "a map needs exactly 2 axes (or --plane); {} given",
                slice.axes.len()
            ),
        )
        .into());
    }
    let settings = args.descent.settings()?;
    let shape = slice.shape();
    let m = slice.len() as usize;
    let p = model.parameter_count();
    let (done, replay_dir, before_s) = take_resume(replay, p, m as u64)?;
    memory::check(
        "--axis",
        &format!("a map of {m} pixels"),
        // The walk, plus the pixels of the picture and the labels.
        memory::walk_bytes(m as u64, p as u64, 0, true).saturating_add(m as u64 * 16),
        "use fewer points per axis",
    )?;
    let out = RunDir::create(args.run.out.as_deref(), "map", args.run.force)?;
    let mut backend = args.run.open_backend()?;
    let quiet = args.run.quiet;
    if !quiet {
        eprintln!(
            "map: {model}, data {}, {shape:?} = {m} walkers, up to {} steps, lr {:?}, momentum {:?}",
            source.spec, settings.steps, settings.lr, settings.momentum
        );
    }
    // Starts: the lattice points, rounded once to float32 as every backend receives them.
    let starts: Vec<f32> = (0..m as u64)
        .into_par_iter()
        .flat_map_iter(|g| slice.point(g).into_iter().map(|v| v as f32))
        .collect();
    let progress = Progress::new(m as u64 * u64::from(settings.steps), "walker-steps", quiet);
    let t0 = Instant::now();
    let recorded = serde_json::to_value(&args).context("recording the arguments")?;
    let walked = blocks::walk(
        backend.as_mut(),
        &BlockWalk {
            model: &model,
            data: &source.data,
            starts: &starts,
            settings: &settings,
            dir: out.staging(),
            command: "map",
            args: &recorded,
            before_s,
        },
        done,
        &progress,
    )
    .context("walking");
    progress.finish();
    let walked = match walked? {
        Walked::Complete(w) => w,
        Walked::Interrupted { done } => {
            return interrupted(out, "map", &recorded, done, m);
        }
    };
    // A resumed run's time includes its earlier processes', as its walker count does.
    let walk_s = before_s + t0.elapsed().as_secs_f64();
    blocks::remove_checkpoint(out.staging())?;
    blocks::land_walk_on_interrupt(&out, "map", &recorded, &walked, walk_s)?;
    let t1 = Instant::now();
    let report = super::basins::analyse(
        &model,
        &source.data,
        &walked.endpoints,
        &walked.status,
        quiet,
        "",
    );
    let basins_s = t1.elapsed().as_secs_f64();

    output::basins::write(out.staging(), &model, &report, "labels.npy", &shape)?;
    npy::write(&out.file("steps.npy"), &shape, &walked.steps)?;
    let status: Vec<u8> = walked.status.iter().map(|&s| s as u8).collect();
    npy::write(&out.file("status.npy"), &shape, &status)?;
    npy::write(&out.file("loss.npy"), &shape, &walked.loss)?;
    npy::write(
        &out.file("endpoints.npy"),
        &[shape[0], shape[1], p],
        &walked.endpoints,
    )?;
    let d = &source.data;
    npy::write(&out.file("data_x.npy"), &[d.len(), d.inputs()], d.x())?;
    npy::write(&out.file("data_y.npy"), &[d.len(), d.outputs()], d.y())?;
    let infos: Vec<AxisInfo> = (0..2)
        .map(|j| AxisInfo {
            label: axis_label(&slice, j),
            values: slice.axes[j].values(),
        })
        .collect();
    let (pixels, legend, scalar) = picture(args.color, args.shade, &walked, &report);
    let title = format!("Basins of {model}, data {} ({} walkers)", source.spec, m);
    plot::map_png(
        &out.file("map.png"),
        &infos[0],
        &infos[1],
        &pixels,
        &legend,
        scalar,
        &title,
    )?;

    let counts = status_counts(&walked.status);
    let run_json = json!({
        "landscape_version": env!("CARGO_PKG_VERSION"),
        "command": "map",
        "complete": true,
        "spec": {
            "model": model.widths_string(), "act": model.act, "out_act": model.out_act, "bias": model.bias,
            "data": source.spec, "origin": args.slice.origin_spec(), "axes": args.slice.axes, "plane": args.slice.plane,
            "lr": settings.lr, "momentum": settings.momentum, "steps": settings.steps, "tol": settings.tol,
            "diverge": settings.diverge, "color": args.color, "shade": args.shade,
            "backend": args.run.backend, "adapter": args.run.adapter,
        },
        "args": recorded,
        "parameters": model.parameter_names(),
        "backend": backend.info(),
        "seed": null,
        "timings": {"walk_s": walk_s, "basins_s": basins_s},
        "axes": slice.axes.iter().enumerate().map(|(j, a)| json!({"spec": a.spec, "label": axis_label(&slice, j), "values": a.values()})).collect::<Vec<_>>(),
        "status_legend": Status::ALL.iter().map(|s| (s.name(), *s as u32)).collect::<std::collections::BTreeMap<_, _>>(),
        "arrays": {
            "labels": {"file": "labels.npy", "shape": [shape[0], shape[1], 2], "dtype": "int32", "meaning": "class id, copy id (-1: none)"},
            "steps": {"file": "steps.npy", "shape": shape, "dtype": "uint32"},
            "status": {"file": "status.npy", "shape": shape, "dtype": "uint8"},
            "loss": {"file": "loss.npy", "shape": shape, "dtype": "float32"},
            "endpoints": {"file": "endpoints.npy", "shape": [shape[0], shape[1], p], "dtype": "float32"},
        },
        "pictures": ["map.png"],
        "summary": {"walkers": m, "counts": counts_json(&counts), "classes": report.classes.len(), "group_order": report.group_order, "group_order_log10": report.group_order_log10, "basins": "basins.json"},
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
        eprint!("{}", report.table());
        eprintln!("  walk {walk_s:.2} s, basins {basins_s:.2} s");
        println!("{}", dir.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::basins::Unassigned;

    /// A walker in class 0, one diverged, one still moving at the step budget, one non-finite.
    fn walk_and_report() -> (WalkOutput, Report) {
        let status = [
            Status::Converged,
            Status::Diverged,
            Status::MaxSteps,
            Status::NonFinite,
        ];
        let walked = WalkOutput {
            endpoints: vec![0.0; 4],
            loss: vec![0.0, 1.0, 0.5, f32::NAN],
            grad_norm: vec![0.0; 4],
            steps: vec![10, 3, 100, 7],
            status: status.iter().map(|&s| s as u32).collect(),
            trace: None,
        };
        let report = Report {
            group_order: 1.0,
            group_order_log10: 0.0,
            cluster_cap: crate::analysis::basins::MAX_CLUSTERS,
            walkers: 4,
            classes: Vec::new(),
            unassigned: Unassigned {
                at_infinity: 1,
                non_finite: 1,
                not_stationary: 1,
                unconverged: 1,
                ..Unassigned::default()
            },
            labels: vec![0, 0, -1, -1, -1, -1, -1, -1],
        };
        (walked, report)
    }

    #[test]
    fn diverged_unconverged_and_unplaced_walkers_get_distinct_neutral_colours() {
        let (walked, report) = walk_and_report();
        let (px, legend, _) = picture(ColorBy::Class, false, &walked, &report);
        assert!(matches!(px[0], MapPixel::Class { class: 0, .. }));
        let neutral = [Neutral::Diverged, Neutral::Unconverged, Neutral::NoClass];
        assert_eq!(px[1..], neutral.map(MapPixel::Neutral));
        let colours: std::collections::HashSet<_> = neutral.iter().map(|n| n.color()).collect();
        assert_eq!(colours.len(), 3);
        let rows: Vec<_> = legend.iter().map(|e| (e.key, e.text.as_str())).collect();
        assert_eq!(
            rows,
            [
                (
                    LegendKey::Neutral(Neutral::Diverged),
                    "diverged · 1 (25.0%)"
                ),
                (
                    LegendKey::Neutral(Neutral::NoClass),
                    "no class (stopped where nothing is stationary, or non-finite) · 1 (25.0%)"
                ),
                (
                    LegendKey::Neutral(Neutral::Unconverged),
                    "no class, still moving at the step budget · 1 (25.0%)"
                ),
            ]
        );
        // By status, max-steps walkers have a colour of their own; only the non-finite one and
        // the diverged one are neutral.
        let (px, legend, _) = picture(ColorBy::Status, false, &walked, &report);
        assert!(matches!(px[2], MapPixel::Class { class: 1, .. }));
        assert_eq!(px[3], MapPixel::Neutral(Neutral::NoClass));
        assert!(legend.iter().any(|e| e.text == "non-finite · 1 (25.0%)"));
        assert!(!legend.iter().any(|e| e.text.contains("still moving")));
        assert!(legend.iter().any(|e| e.text == "converged · 1 (25.0%)"));
        assert!(legend.iter().any(|e| e.text == "max-steps · 1 (25.0%)"));
        // A status no walker has is not in the legend.
        let mut none_converged = walked.clone();
        none_converged.status[0] = Status::MaxSteps as u32;
        let (_, legend, _) = picture(ColorBy::Status, false, &none_converged, &report);
        assert!(!legend.iter().any(|e| e.text.starts_with("converged")));
        // Scalar maps carry their colour bar in real units.
        let (_, _, bar) = picture(ColorBy::Loss, false, &walked, &report);
        let bar = bar.expect("a colour bar");
        assert_eq!(bar.label, "log10 L");
        // log10 of the finite losses 0 (clamped to 1e-30), 1 and 0.5.
        assert_eq!((bar.lo, bar.hi), (-30.0, 0.0));
        let (_, _, bar) = picture(ColorBy::Steps, false, &walked, &report);
        assert_eq!(bar.map(|b| b.hi), Some(100.0));
    }
}
