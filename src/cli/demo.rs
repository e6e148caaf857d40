//! `landscape demo`: the main job. It answers "how can MSE, a parabola, have many minima?" with
//! its own runs — a curve, a parabola, linear regression's single basin, a teacher–student net's
//! minimum in all its copies, and a basin map — and writes REPORT.md and report.html.

use super::Cli;
use crate::backend::BackendChoice;
use crate::error::Error;
use crate::output::report::{self, Block};
use crate::output::run_dir::RunDir;
use anyhow::Context;
use clap::{Args, Parser};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Instant;

/// Flags of `landscape demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// auto: a hardware GPU if there is one, else the CPU; gpu: any wgpu adapter; cpu.
    #[arg(long, value_enum, default_value = "auto")]
    backend: BackendChoice,
    /// Pick an adapter by index or by part of its name (see `landscape adapters`).
    #[arg(long)]
    adapter: Option<String>,
    /// Output directory (default runs/demo-<time>).
    #[arg(long)]
    out: Option<std::path::PathBuf>,
    /// Replace an existing run directory (one with a run.json, checkpoint or REPORT.md; other
    /// directories are never replaced).
    #[arg(long)]
    force: bool,
    /// A reduced run (fewer walkers and pixels) that finishes in seconds, for tests.
    #[arg(long)]
    quick: bool,
    /// Print nothing but errors and the report's path.
    #[arg(long, short)]
    quiet: bool,
}

/// Sizes of the demo's runs.
struct Sizes {
    teacher_walkers: u32,
    map_side: u32,
    regression_walkers: u32,
}

fn read_json(path: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

/// A count held as a float (|G|, copies): printed as an integer.
fn n(v: &Value) -> String {
    v.as_f64().map_or("?".into(), |x| format!("{x:.0}"))
}

/// The least-squares solution [w; b] of the regression run's data, and its ∞-distance to `point`.
fn least_squares_gap(dir: &Path, point: &[f64]) -> anyhow::Result<f64> {
    let (x, xs) = crate::npy::read_f64(&dir.join("data_x.npy"))?;
    let (y, _) = crate::npy::read_f64(&dir.join("data_y.npy"))?;
    let (rows, cols) = (xs[0], xs[1]);
    let a =
        nalgebra::DMatrix::from_fn(
            rows,
            cols + 1,
            |r, c| if c < cols { x[r * cols + c] } else { 1.0 },
        );
    let b = nalgebra::DVector::from_column_slice(&y);
    let beta = (a.transpose() * &a)
        .cholesky()
        .ok_or_else(|| anyhow::anyhow!("the regression data are rank-deficient"))?
        .solve(&(a.transpose() * b));
    Ok(beta
        .iter()
        .zip(point)
        .fold(0.0f64, |m, (s, p)| m.max((s - p).abs())))
}

/// Runs one `landscape` command line inside the demo.
fn sub(
    args: &[&str],
    (backend, adapter): (BackendChoice, Option<&str>),
    quiet: bool,
    dir: &Path,
    name: &str,
) -> anyhow::Result<()> {
    let backend = match backend {
        BackendChoice::Auto => "auto",
        BackendChoice::Gpu => "gpu",
        BackendChoice::Cpu => "cpu",
    };
    let out = dir.join(name);
    let out_s = out.to_string_lossy().into_owned();
    if !quiet {
        eprintln!("demo: landscape {}", args.join(" "));
    }
    let mut full = vec!["landscape"];
    full.extend_from_slice(args);
    full.extend(["--backend", backend, "--out", &out_s, "--quiet"]);
    if let Some(a) = adapter {
        full.extend(["--adapter", a]);
    }
    let cli = Cli::try_parse_from(&full).map_err(|e| anyhow::anyhow!("demo step {name}: {e}"))?;
    super::run(cli, &[]).with_context(|| format!("demo step {name}"))
}

fn class_rows(basins: &Value, limit: usize) -> Vec<Vec<String>> {
    basins["classes"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .take(limit)
                .map(|c| {
                    let copies = match c["copies_expected"].as_f64() {
                        Some(e) => format!("{} / {e:.0}", c["copies_found"]),
                        None => "manifold".into(),
                    };
                    vec![
                        c["id"].to_string(),
                        c["kind"].as_str().unwrap_or("").to_string(),
                        format!("{:.3e}", f(&c["loss"])),
                        c["index"].to_string(),
                        c["nullity"].to_string(),
                        c["walkers"].to_string(),
                        copies,
                        c["uniformity_p"]
                            .as_f64()
                            .map_or("—".into(), |p| format!("{p:.3}")),
                    ]
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The coordinates and loss of a one-axis grid run.
fn curve(run: &Path) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let json = read_json(&run.join("run.json"))?;
    let coords = json["axes"][0]["values"]
        .as_array()
        .map(|v| v.iter().map(f).collect())
        .unwrap_or_default();
    Ok((coords, crate::npy::read_f64(&run.join("loss.npy"))?.0))
}

/// Interior lattice-local minima (or maxima) of a curve.
fn extrema(loss: &[f64], maxima: bool) -> Vec<usize> {
    let l32: Vec<f32> = loss.iter().map(|&v| v as f32).collect();
    crate::analysis::lattice::local_extrema(&l32, &[l32.len()], maxima)
        .into_iter()
        .filter(|&i| !maxima || (i > 0 && i + 1 < loss.len()))
        .collect()
}

const CLASS_HEAD: [&str; 8] = [
    "class",
    "kind",
    "loss",
    "index",
    "nullity",
    "walkers",
    "copies found / expected",
    "uniform p",
];

/// Runs `landscape demo`.
pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let sizes = if args.quick {
        Sizes {
            teacher_walkers: 300,
            map_side: 20,
            regression_walkers: 32,
        }
    } else {
        Sizes {
            teacher_walkers: 2000,
            map_side: 64,
            regression_walkers: 256,
        }
    };
    let out = RunDir::create(args.out.as_deref(), "demo", args.force)?;
    let dir = out.staging().to_path_buf();
    let t0 = Instant::now();
    let (b, q) = ((args.backend, args.adapter.as_deref()), args.quiet);

    // 1. The seed example and the parabola in the prediction.
    let seed = [
        "--model",
        "1-1-1",
        "--act",
        "linear",
        "--no-bias",
        "--data",
        "point:x=1,y=1",
    ];
    sub(
        &[
            &["grid"][..],
            &seed,
            &["--origin", "zeros", "--axis", "dir:1,1=-1.5:1.5:301"],
        ]
        .concat(),
        b,
        q,
        &dir,
        "seed",
    )?;
    sub(
        &[
            &["grid"][..],
            &seed,
            &[
                "--axis",
                "w1[0,0]=-2:2:201",
                "--axis",
                "w2[0,0]=-2:2:201",
                "--log",
            ],
        ]
        .concat(),
        b,
        q,
        &dir,
        "seed-plane",
    )?;
    sub(
        &[
            "grid",
            "--model",
            "1-1",
            "--act",
            "linear",
            "--no-bias",
            "--data",
            "point:x=1,y=1",
            "--axis",
            "w1[0,0]=-1.5:3.5:301",
        ],
        b,
        q,
        &dir,
        "prediction",
    )?;
    // 2. Linear regression: one basin.
    let rw = sizes.regression_walkers.to_string();
    let regression = [
        "--model",
        "3-1",
        "--data",
        "teacher:n=64,seed=9,noise=0.3",
        "--walkers",
        &rw,
        "--init",
        "uniform:3",
    ];
    let descent = [
        "--lr",
        "0.1",
        "--momentum",
        "0.9",
        "--steps",
        "3000",
        "--tol",
        "1e-7",
    ];
    sub(
        &[&["walk"][..], &regression, &descent].concat(),
        b,
        q,
        &dir,
        "regression",
    )?;
    // 3. A 2-3-1 tanh student of a 2-3-1 teacher: the minimum in all 48 copies, and saddles.
    let tw = sizes.teacher_walkers.to_string();
    let teacher = [
        "--model",
        "2-3-1",
        "--data",
        "teacher:n=64,seed=1",
        "--walkers",
        &tw,
        "--seed",
        "12",
    ];
    let descent = [
        "--lr",
        "0.1",
        "--momentum",
        "0.9",
        "--steps",
        "4000",
        "--tol",
        "1e-6",
    ];
    sub(
        &[&["walk"][..], &teacher, &descent].concat(),
        b,
        q,
        &dir,
        "teacher",
    )?;
    // 4. A basin map of a 2-2-1 student around its teacher.
    let side = sizes.map_side.to_string();
    let ax0 = format!("w1[0,0]=-4:4:{side}");
    let ax1 = format!("w1[1,1]=-4:4:{side}");
    sub(
        &[
            "map",
            "--model",
            "2-2-1",
            "--data",
            "teacher:n=32,seed=3",
            "--origin",
            "teacher",
            "--axis",
            &ax0,
            "--axis",
            &ax1,
            "--lr",
            "0.1",
            "--momentum",
            "0.9",
            "--steps",
            "3000",
            "--tol",
            "1e-6",
            "--color",
            "copy",
            "--shade",
        ],
        b,
        q,
        &dir,
        "map",
    )?;

    // The report, from the runs' own outputs.
    let (ts, seed_loss) = curve(&dir.join("seed"))?;
    let minima: Vec<String> = extrema(&seed_loss, false)
        .into_iter()
        .map(|i| format!("t = {:+.2} (L = {:.1e})", ts[i], seed_loss[i]))
        .collect();
    let maxima: Vec<String> = extrema(&seed_loss, true)
        .into_iter()
        .map(|i| format!("t = {:+.2} (L = {:.3})", ts[i], seed_loss[i]))
        .collect();
    let (fs, pred) = curve(&dir.join("prediction"))?;
    let pred_min: Vec<String> = extrema(&pred, false)
        .into_iter()
        .map(|i| format!("f = {:.2}", fs[i]))
        .collect();
    let reg = read_json(&dir.join("regression/basins.json"))?;
    let reg_classes = reg["classes"].as_array().map_or(0, Vec::len);
    let reg_point: Vec<f64> = reg["classes"][0]["point"]
        .as_array()
        .map(|v| v.iter().map(f).collect())
        .unwrap_or_default();
    let lsq_gap = least_squares_gap(&dir.join("regression"), &reg_point)?;
    let tb = read_json(&dir.join("teacher/basins.json"))?;
    let tr = read_json(&dir.join("teacher/run.json"))?;
    let classes = tb["classes"].as_array().cloned().unwrap_or_default();
    let global = classes.first().cloned().unwrap_or(Value::Null);
    let count = |kind: &str| classes.iter().filter(|c| c["kind"] == kind).count();
    let saddle_walkers: u64 = classes
        .iter()
        .filter(|c| c["kind"] == "saddle")
        .filter_map(|c| c["walkers"].as_u64())
        .sum();
    let mb = read_json(&dir.join("map/basins.json"))?;
    let mr = read_json(&dir.join("map/run.json"))?;
    let backend = tr["backend"].clone();
    let elapsed = t0.elapsed().as_secs_f64();

    let blocks = vec![
        Block::Text(format!(
            "Every number below was produced by this run ({} backend: {}{}), in {elapsed:.0} s. Each step is a complete run directory beside this report, with its run.json and arrays.",
            backend["backend"].as_str().unwrap_or("?"),
            backend["adapter"].as_str().unwrap_or("?"),
            if backend["software_adapter"] == true { ", a software adapter" } else { "" }
        )),
        Block::Heading("1. A parabola in the prediction".into()),
        Block::Text(format!(
            "For one sample (x = 1, y = 1) the loss of a prediction f is L = (f − 1)², a parabola with one minimum: the lattice minimum of `prediction/` is at {}. A model that is linear in its parameters (f = w·x) inherits that single minimum.",
            pred_min.join(", ")
        )),
        Block::Picture("prediction/curve.png".into(), "L as a function of the prediction f = w: one parabola, one minimum.".into()),
        Block::Heading("2. Many minima in the weights".into()),
        Block::Text(format!(
            "Put one hidden unit in between: f = w₂·w₁·x. The loss is the same parabola, but in the product w₁·w₂. Along the tied direction w₁ = w₂ = t it is L(t) = (1 − t²)²: the run finds lattice minima at {} and a maximum at {} — **two minima, at t = ±1, and a maximum at t = 0** (not \"0 and 1\"). In the plane (w₁, w₂) the minima form the hyperbola w₁·w₂ = 1, two branches exchanged by the sign flip (w₁, w₂) → (−w₁, −w₂), with a saddle at the origin.",
            minima.join(" and "),
            maxima.join(", ")
        )),
        Block::Picture("seed/curve.png".into(), "L(t) = (1 − t²)² along w₁ = w₂ = t.".into()),
        Block::Picture("seed-plane/heatmap.png".into(), "L over (w₁, w₂), log colour scale: two valleys along w₁·w₂ = 1.".into()),
        Block::Heading("3. Linear regression has one basin".into()),
        Block::Text(format!(
            "{} walkers on a 3-1 linear model (linear regression, teacher data with noise) from starts spread over [−3, 3]: the basin analysis finds **{reg_classes} class**, a {} at L = {:.4e} holding {} of the walkers. It is the least-squares solution of the normal equations to within {lsq_gap:.1e} in every coefficient.",
            reg["walkers"], reg["classes"][0]["kind"].as_str().unwrap_or("?"), f(&reg["classes"][0]["loss"]), reg["classes"][0]["walkers"]
        )),
        Block::Table(CLASS_HEAD.iter().map(|s| s.to_string()).collect(), class_rows(&reg, 5)),
        Block::Heading("4. A hidden layer: every minimum in |G| copies".into()),
        Block::Text(format!(
            "A 2-3-1 tanh student of a 2-3-1 tanh teacher (64 samples), {} walkers from N(0, 1). Permuting the 3 hidden units and flipping their signs leaves the network unchanged: |G| = 3!·2³ = {}. The zero-loss minimum (L = {:.1e}) was found in **{} of {} copies**, by {} walkers, spread evenly over the copies (chi-square p = {}). Besides it the walkers found {} other classes of minima, {} of degenerate minima (manifolds) and {} classes of saddles ({} walkers stopped at a saddle); {} walkers ended where polishing finds no stationary point, {} of them still travelling along flat valleys when their steps ran out.",
            tb["walkers"],
            n(&tb["group_order"]),
            f(&global["loss"]),
            global["copies_found"],
            n(&global["copies_expected"]),
            global["walkers"],
            global["uniformity_p"].as_f64().map_or("—".into(), |p| format!("{p:.3}")),
            count("minimum").saturating_sub(1),
            count("degenerate-minimum"),
            count("saddle"),
            saddle_walkers,
            tb["unassigned"]["not_stationary"],
            tb["unassigned"]["unconverged"]
        )),
        Block::Table(CLASS_HEAD.iter().map(|s| s.to_string()).collect(), class_rows(&tb, 12)),
        Block::Heading("5. A basin map".into()),
        Block::Text(format!(
            "A 2-2-1 tanh student (|G| = {}) started from every point of the plane of w1[0,0] and w1[1,1] through its teacher ({} walkers, one per pixel). Each colour family is one class; shades within a family are its copies; darker pixels took more steps, so basin boundaries show. The map found {} classes. (A plane through one copy is not a symmetric sample of starts, so here the copies are not visited evenly, unlike section 4.)",
            n(&mb["group_order"]), mr["summary"]["walkers"], mb["classes"].as_array().map_or(0, Vec::len)
        )),
        Block::Picture("map/map.png".into(), "Where each start ends: classes and their copies.".into()),
        Block::Table(CLASS_HEAD.iter().map(|s| s.to_string()).collect(), class_rows(&mb, 8)),
        Block::Heading("Why".into()),
        Block::Text("MSE is convex in the predictions. The map from weights to predictions is not linear once a hidden layer sits between them, and it is many-to-one: every permutation and sign flip of hidden units gives the same predictions. So every minimum of the loss in the weights comes with its |G| − 1 mirror images, and between two copies of a minimum the loss must rise again — through the saddles the walkers above also found.".into()),
    ];
    report::write(&dir, "How can MSE have many minima?", &blocks)?;
    // Each step's run.json names where it ends up, not the staging directory it was written in,
    // so that `--config` on a step writes beside it.
    for name in [
        "seed",
        "seed-plane",
        "prediction",
        "regression",
        "teacher",
        "map",
    ] {
        let path = dir.join(name).join("run.json");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        if let Ok(mut record) = serde_json::from_str::<Value>(&text) {
            record["args"]["run"]["out"] = json!(out.target().join(name));
            let text = serde_json::to_string_pretty(&record).context("serialising run.json")?;
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        }
    }
    let dir = out.finish()?;
    if !args.quiet {
        eprintln!("demo finished in {elapsed:.1} s");
    }
    println!("{}", dir.join("REPORT.md").display());
    if !dir.join("report.html").exists() {
        return Err(Error::file(dir.join("report.html"), "was not written").into());
    }
    Ok(())
}
