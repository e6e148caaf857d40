//! `landscape demo`: the main job. It answers "how can MSE, a parabola, have many minima?" with
//! its own runs — a curve, a parabola, linear regression's single basin, a teacher–student net's
//! minimum in all its copies, and a basin map — and writes REPORT.md and report.html.
//!
//! Each run is made through the library ([`crate::run`]) and written as a complete run directory
//! by the same functions as the commands `grid`, `walk` and `map`; the report is built from the
//! typed results.

use super::common::open_backend;
use crate::analysis::basins::{Class, Report};
use crate::analysis::stationary::Kind;
use crate::analysis::symmetry::GroupElement;
use crate::backend::{Backend, BackendChoice};
use crate::error::Error;
use crate::output::boundary::BoundarySummary;
use crate::output::report::{self, Block};
use crate::output::run_dir::RunDir;
use crate::run::{
    self, ColorBy, Finish, GridRequest, MapRequest, ProblemRequest, SliceRequest, WalkRequest,
};
use crate::spec::model::Activation;
use crate::spec::walk::WalkSettings;
use anyhow::Context;
use clap::Args;
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
    teacher_walkers: u64,
    map_side: u32,
    regression_walkers: u64,
}

/// The least-squares solution [w; b] of a linear model's data, and its ∞-distance to `point`.
fn least_squares_gap(data: &crate::spec::data::Dataset, point: &[f64]) -> anyhow::Result<f64> {
    let (rows, cols) = (data.len(), data.inputs());
    let x = data.x();
    let a =
        nalgebra::DMatrix::from_fn(
            rows,
            cols + 1,
            |r, c| if c < cols { x[r * cols + c] } else { 1.0 },
        );
    let b = nalgebra::DVector::from_column_slice(data.y());
    let beta = (a.transpose() * &a)
        .cholesky()
        .ok_or_else(|| anyhow::anyhow!("the regression data are rank-deficient"))?
        .solve(&(a.transpose() * b));
    Ok(beta
        .iter()
        .zip(point)
        .fold(0.0f64, |m, (s, p)| m.max((s - p).abs())))
}

/// A count held as a float (|G|, copies), printed as an integer.
fn n(v: Option<f64>) -> String {
    v.map_or("?".into(), |x| format!("{x:.0}"))
}

fn class_rows(report: &Report, limit: usize) -> Vec<Vec<String>> {
    report
        .classes
        .iter()
        .take(limit)
        .map(|c| {
            let copies = match c.copies_expected {
                Some(e) => format!("{} / {e:.0}", c.copies_found),
                None => "manifold".into(),
            };
            vec![
                c.id.to_string(),
                c.kind.to_string(),
                format!("{:.3e}", c.loss),
                c.index.to_string(),
                c.nullity.to_string(),
                c.walkers.to_string(),
                copies,
                c.uniformity_p.map_or("—".into(), |p| format!("{p:.3}")),
            ]
        })
        .collect()
}

/// Interior lattice-local minima (or maxima) of a curve.
fn extrema(loss: &[f32], maxima: bool) -> Vec<usize> {
    crate::analysis::lattice::local_extrema(loss, &[loss.len()], maxima)
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

/// Section 5 of the report: the two connections and the graph.
fn between_blocks(
    between: Option<&(
        super::connect::TransitionStatesFile,
        crate::analysis::graph::Graph,
    )>,
) -> Vec<Block> {
    let mut blocks = vec![Block::Heading("5. Between the copies".into())];
    let Some((file, graph)) = between else {
        blocks.push(Block::Text(
            "The walk of section 4 found no minimum to connect, so no path was drawn.".into(),
        ));
        return blocks;
    };
    let mut rows = Vec::new();
    let mut sentences = Vec::new();
    let names = ["units 0 and 1 exchanged", "unit 0's sign flipped"];
    for (name, c) in names.iter().zip(&file.connections) {
        if !c.connected {
            sentences.push(format!("The copy with {name} was not reached by the search ({} strings): no chain of confirmed transition states joins it yet.", file.strings));
            continue;
        }
        let mut nullities: Vec<usize> = Vec::new();
        for (k, x) in c.crossings.iter().enumerate() {
            let t = &file.transition_states[x.transition_state];
            let (la, lb) = (c.minima_loss[k], c.minima_loss[k + 1]);
            nullities.push(t.nullity);
            rows.push(vec![
                (*name).to_string(),
                (k + 1).to_string(),
                format!("{:.6e}", t.loss),
                t.index.to_string(),
                t.nullity.to_string(),
                format!("{la:.3e} → {lb:.3e}"),
                format!("{:.4e}", t.loss - la),
            ]);
        }
        nullities.sort_unstable();
        nullities.dedup();
        let nullities: Vec<String> = nullities.iter().map(usize::to_string).collect();
        let inner: Vec<String> = c.minima_loss[1..c.minima_loss.len().saturating_sub(1)]
            .iter()
            .map(|l| format!("{l:.3e}"))
            .collect();
        sentences.push(format!(
            "To its copy with {name}, the path crosses **{} transition state{}**, each with exactly one negative Hessian eigenvalue (nullity {}), and climbs at most **{:.4e}** above θ*{}.",
            c.crossings.len(),
            if c.crossings.len() == 1 { "" } else { "s" },
            nullities.join(" or "),
            c.barrier.unwrap_or(f64::NAN),
            if inner.is_empty() {
                String::new()
            } else {
                format!(", passing minima at L = {} on the way", inner.join(", "))
            }
        ));
    }
    blocks.push(Block::Text(format!(
        "Two copies of the zero-loss minimum θ* of section 4 are joined by a minimum-energy path: a string of images relaxed between them, its local maxima refined to stationary points with the exact float64 Hessian, each confirmed as a transition state by pushing off along its negative eigenvector and following the gradient flow down to the two minima it joins (`landscape connect`). {}",
        sentences.join(" ")
    )));
    blocks.push(Block::Picture("between/profile.png".into(), "L along the path from θ* to its copy with units 0 and 1 exchanged: minima (filled) and transition states (rings).".into()));
    blocks.push(Block::Picture("between/plane.png".into(), "The same path over L in the plane through the two copies and the highest transition state (the path projected onto it).".into()));
    blocks.push(Block::Picture(
        "between/paths/profile_1.png".into(),
        "L along the path from θ* to its copy with unit 0's sign flipped.".into(),
    ));
    blocks.push(Block::Table(
        [
            "copy",
            "step",
            "transition state L",
            "index",
            "nullity",
            "from → to (L)",
            "barrier",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        rows,
    ));
    blocks.push(Block::Text(format!(
        "The disconnectivity graph (Becker & Karplus 1997) of the walk's {} classes of minima and the paths' {} transition states: each leaf is a class of minima at its loss, labelled with its number of copies; branches merge at the lowest transition state that joins them. The copies of one minimum are joined to each other through the same transition states — no copy is reached without climbing over one.",
        graph.leaves.len(),
        graph.edges.len()
    )));
    blocks.push(Block::Picture(
        "graph/graph.png".into(),
        "Disconnectivity graph: loss upward, the global minimum's branch in red.".into(),
    ));
    blocks
}

/// Where the demo's runs go and what they run on.
struct Steps<'a> {
    dir: &'a Path,
    backend: Box<dyn Backend>,
    choice: (BackendChoice, Option<String>),
    quiet: bool,
}

impl Steps<'_> {
    fn announce(&self, name: &str, what: &str) {
        if !self.quiet {
            eprintln!("demo: {name}/ — {what}");
        }
    }

    /// A linear network on one sample (x = 1, y = 1).
    fn point_problem(model: &str) -> ProblemRequest {
        ProblemRequest {
            model: model.to_string(),
            act: Activation::Linear,
            out_act: Activation::Linear,
            bias: false,
            data: "point:x=1,y=1".to_string(),
            arrays: None,
        }
    }

    /// A grid, written into `name/`: its lattice values and losses.
    fn grid(
        &mut self,
        name: &str,
        what: &str,
        problem: ProblemRequest,
        slice: SliceRequest,
        log: bool,
    ) -> anyhow::Result<(Vec<f64>, Vec<f32>)> {
        self.announce(name, what);
        let request = GridRequest {
            problem,
            slice,
            save_grad: false,
            hessian: false,
            log,
            backend: self.choice.0,
            adapter: self.choice.1.clone(),
            cwd: None,
            shard: None,
        };
        let spec = request.validate()?;
        let grid =
            run::grid(self.backend.as_mut(), &spec).with_context(|| format!("demo step {name}"))?;
        let out = RunDir::create(Some(&self.dir.join(name)), "grid", false)?;
        super::grid::write(&out, &request, &spec, &grid, self.backend.info(), None)?;
        out.finish()?;
        Ok((spec.slice.axes[0].values(), grid.evaluation.loss))
    }

    /// A walk and its basin analysis, written into `name/`.
    fn walk(
        &mut self,
        name: &str,
        what: &str,
        request: WalkRequest,
    ) -> anyhow::Result<(run::Problem, Report)> {
        self.announce(name, what);
        let spec = request.validate()?;
        let walk =
            run::walk(self.backend.as_mut(), &spec).with_context(|| format!("demo step {name}"))?;
        let t = Instant::now();
        let report = run::basins(&spec.problem, &walk.output);
        let basins_s = t.elapsed().as_secs_f64();
        let out = RunDir::create(Some(&self.dir.join(name)), "walk", false)?;
        super::walk::write(
            &out,
            &request,
            &spec,
            &walk,
            Some((&report, basins_s)),
            self.backend.info(),
        )?;
        out.finish()?;
        Ok((spec.problem, report))
    }

    /// A basin map, written into `name/`, with its boundary statistics.
    fn map(
        &mut self,
        name: &str,
        what: &str,
        request: MapRequest,
    ) -> anyhow::Result<(run::Map, Option<BoundarySummary>)> {
        self.announce(name, what);
        let spec = request.validate()?;
        let map =
            run::map(self.backend.as_mut(), &spec).with_context(|| format!("demo step {name}"))?;
        let out = RunDir::create(Some(&self.dir.join(name)), "map", false)?;
        let record = super::map::write(&out, &request, &spec, &map, self.backend.info(), None)?;
        out.finish()?;
        Ok((map, record.summary.boundary))
    }
}

/// How the map's basins meet, in words (map/boundary.json).
fn boundary_text(b: Option<&BoundarySummary>) -> String {
    let Some(b) = b else {
        return "The map's boundary statistics were not computed.".into();
    };
    let v = |x: Option<f64>| x.map_or("n/a".to_string(), |x| format!("{x:.2}"));
    let verdict = match b.boundary_basin_entropy {
        Some(s) if s > std::f64::consts::LN_2 => "above ln 2, which proves the boundary fractal",
        Some(_) => "below ln 2, where that criterion decides nothing",
        None => "not defined: no box of the map holds two outcomes",
    };
    format!(
        "Where the basins meet (map/boundary.json): the boundary's box-counting dimension is {}, the uncertainty exponent α = {} (1 for a smooth boundary, near 0 for a riddled one), the basin entropy S_b = {} and the boundary basin entropy S_bb = {}, {verdict}.",
        v(b.dimension),
        v(b.uncertainty_exponent),
        v(b.basin_entropy),
        v(b.boundary_basin_entropy)
    )
}

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
    let backend = open_backend(args.backend, args.adapter.as_deref(), args.quiet)?;
    let info = backend.info();
    let mut steps = Steps {
        dir: &dir,
        backend,
        choice: (args.backend, args.adapter.clone()),
        quiet: args.quiet,
    };
    let descent = |steps: u32, tol: f64| WalkSettings {
        lr: 0.1,
        momentum: 0.9,
        steps,
        tol,
        ..WalkSettings::default()
    };

    // 1. The seed example and the parabola in the prediction.
    let (ts, seed_loss) = steps.grid(
        "seed",
        "L along w1 = w2 = t of a 1-1-1 linear net on one sample",
        Steps::point_problem("1-1-1"),
        SliceRequest {
            origin: Some("zeros".into()),
            axes: vec!["dir:1,1=-1.5:1.5:301".into()],
            plane: None,
        },
        false,
    )?;
    steps.grid(
        "seed-plane",
        "L over the plane (w1, w2)",
        Steps::point_problem("1-1-1"),
        SliceRequest {
            axes: vec!["w1[0,0]=-2:2:201".into(), "w2[0,0]=-2:2:201".into()],
            ..SliceRequest::default()
        },
        true,
    )?;
    let (fs, pred) = steps.grid(
        "prediction",
        "L as a function of the prediction f = w",
        Steps::point_problem("1-1"),
        SliceRequest {
            axes: vec!["w1[0,0]=-1.5:3.5:301".into()],
            ..SliceRequest::default()
        },
        false,
    )?;
    // 2. Linear regression: one basin.
    let (regression, reg) = steps.walk(
        "regression",
        "linear regression from spread starts",
        WalkRequest {
            problem: ProblemRequest::new("3-1", "teacher:n=64,seed=9,noise=0.3"),
            walkers: sizes.regression_walkers,
            init: "uniform:3".into(),
            seed: 0,
            descent: descent(3000, 1e-7),
            trace: None,
            finish: Finish::default(),
            basins: true,
            backend: args.backend,
            adapter: args.adapter.clone(),
            cwd: None,
            shard: None,
        },
    )?;
    // 3. A 2-3-1 tanh student of a 2-3-1 teacher: the minimum in all 48 copies, and saddles.
    let (_, tb) = steps.walk(
        "teacher",
        "a 2-3-1 tanh student of its teacher",
        WalkRequest {
            problem: ProblemRequest::new("2-3-1", "teacher:n=64,seed=1"),
            walkers: sizes.teacher_walkers,
            init: "normal:1".into(),
            seed: 12,
            descent: descent(4000, 1e-6),
            trace: None,
            finish: Finish::default(),
            basins: true,
            backend: args.backend,
            adapter: args.adapter.clone(),
            cwd: None,
            shard: None,
        },
    )?;
    // 5. Between the copies: the global minimum joined to its copy under a transposition and
    // under a sign flip, and the disconnectivity graph of what the walk and the paths found.
    let between = match tb.classes.first().filter(|c| c.kind == Kind::Minimum) {
        Some(global) => {
            let request = ProblemRequest::new("2-3-1", "teacher:n=64,seed=1");
            let problem = request.validate()?;
            let mut swap = GroupElement::identity(&problem.model);
            swap.perms[0].swap(0, 1);
            let mut flip = GroupElement::identity(&problem.model);
            flip.flips[0][0] = true;
            steps.announce(
                "between",
                "the global minimum to its copies with hidden units 0 and 1 exchanged and with unit 0's sign flipped",
            );
            let targets = [
                swap.apply(&problem.model, &global.point),
                flip.apply(&problem.model, &global.point),
            ];
            let (_, file) = super::connect::connect_into(
                &dir.join("between"),
                steps.backend.as_mut(),
                args.backend,
                request.clone(),
                &problem,
                &global.point,
                &targets,
            )
            .context("demo step between")?;
            steps.announce(
                "graph",
                "the disconnectivity graph of the walk's minima and the paths' transition states",
            );
            let graph = super::graph::graph_into(
                &dir.join("graph"),
                &[dir.join("teacher"), dir.join("between")],
            )?;
            Some((file, graph))
        }
        None => None,
    };
    // 4. A basin map of a 2-2-1 student around its teacher.
    let side = sizes.map_side;
    let (map, boundary) = steps.map(
        "map",
        "a basin map of a 2-2-1 student around its teacher",
        MapRequest {
            problem: ProblemRequest::new("2-2-1", "teacher:n=32,seed=3"),
            slice: SliceRequest {
                origin: Some("teacher".into()),
                axes: vec![
                    format!("w1[0,0]=-4:4:{side}"),
                    format!("w1[1,1]=-4:4:{side}"),
                ],
                plane: None,
            },
            descent: descent(3000, 1e-6),
            finish: Finish::default(),
            color: ColorBy::Copy,
            shade: true,
            basins: true,
            zoom: None,
            backend: args.backend,
            adapter: args.adapter.clone(),
            cwd: None,
            shard: None,
        },
    )?;

    // The report, from the runs' results.
    let minima: Vec<String> = extrema(&seed_loss, false)
        .into_iter()
        .map(|i| format!("t = {:+.2} (L = {:.1e})", ts[i], seed_loss[i]))
        .collect();
    let maxima: Vec<String> = extrema(&seed_loss, true)
        .into_iter()
        .map(|i| format!("t = {:+.2} (L = {:.3})", ts[i], seed_loss[i]))
        .collect();
    let pred_min: Vec<String> = extrema(&pred, false)
        .into_iter()
        .map(|i| format!("f = {:.2}", fs[i]))
        .collect();
    let reg_first = reg.classes.first();
    let lsq_gap = least_squares_gap(
        regression.dataset(),
        reg_first.map_or(&[][..], |c| &c.point),
    )?;
    let global: Option<&Class> = tb.classes.first();
    let count = |kind: Kind| tb.classes.iter().filter(|c| c.kind == kind).count();
    let saddle_walkers: u64 = tb
        .classes
        .iter()
        .filter(|c| c.kind == Kind::Saddle)
        .map(|c| c.walkers)
        .sum();
    let mb = &map.report;
    let elapsed = t0.elapsed().as_secs_f64();
    let field = |f: fn(&Class) -> String, c: Option<&Class>| c.map_or("?".to_string(), f);

    let blocks = vec![
        Block::Text(format!(
            "Every number below was produced by this run ({} backend: {}{}), in {elapsed:.0} s. Each step is a complete run directory beside this report, with its run.json and arrays.",
            info.backend,
            info.adapter,
            if info.software_adapter {
                ", a software adapter"
            } else {
                ""
            }
        )),
        Block::Heading("1. A parabola in the prediction".into()),
        Block::Text(format!(
            "For one sample (x = 1, y = 1) the loss of a prediction f is L = (f − 1)², a parabola with one minimum: the lattice minimum of `prediction/` is at {}. A model that is linear in its parameters (f = w·x) inherits that single minimum.",
            pred_min.join(", ")
        )),
        Block::Picture(
            "prediction/curve.png".into(),
            "L as a function of the prediction f = w: one parabola, one minimum.".into(),
        ),
        Block::Heading("2. Many minima in the weights".into()),
        Block::Text(format!(
            "Put one hidden unit in between: f = w₂·w₁·x. The loss is the same parabola, but in the product w₁·w₂. Along the tied direction w₁ = w₂ = t it is L(t) = (1 − t²)²: the run finds lattice minima at {} and a maximum at {} — **two minima, at t = ±1, and a maximum at t = 0** (not \"0 and 1\"). In the plane (w₁, w₂) the minima form the hyperbola w₁·w₂ = 1, two branches exchanged by the sign flip (w₁, w₂) → (−w₁, −w₂), with a saddle at the origin.",
            minima.join(" and "),
            maxima.join(", ")
        )),
        Block::Picture(
            "seed/curve.png".into(),
            "L(t) = (1 − t²)² along w₁ = w₂ = t.".into(),
        ),
        Block::Picture(
            "seed-plane/heatmap.png".into(),
            "L over (w₁, w₂), log colour scale: two valleys along w₁·w₂ = 1.".into(),
        ),
        Block::Heading("3. Linear regression has one basin".into()),
        Block::Text(format!(
            "{} walkers on a 3-1 linear model (linear regression, teacher data with noise) from starts spread over [−3, 3]: the basin analysis finds **{} class**, a {} at L = {} holding {} of the walkers. It is the least-squares solution of the normal equations to within {lsq_gap:.1e} in every coefficient.",
            reg.walkers,
            reg.classes.len(),
            field(|c| c.kind.to_string(), reg_first),
            field(|c| format!("{:.4e}", c.loss), reg_first),
            field(|c| c.walkers.to_string(), reg_first)
        )),
        Block::Table(
            CLASS_HEAD.iter().map(|s| s.to_string()).collect(),
            class_rows(&reg, 5),
        ),
        Block::Heading("4. A hidden layer: every minimum in |G| copies".into()),
        Block::Text(format!(
            "A 2-3-1 tanh student of a 2-3-1 tanh teacher (64 samples), {} walkers from N(0, 1). Permuting the 3 hidden units and flipping their signs leaves the network unchanged: |G| = 3!·2³ = {}. The zero-loss minimum (L = {}) was found in **{} of {} copies**, by {} walkers, spread evenly over the copies (chi-square p = {}). Besides it the walkers found {} other classes of minima, {} of degenerate minima (manifolds) and {} classes of saddles ({} walkers stopped at a saddle); {} walkers ended where polishing finds no stationary point, {} of them still travelling along flat valleys when their steps ran out.",
            tb.walkers,
            n(Some(tb.group_order)),
            field(|c| format!("{:.1e}", c.loss), global),
            field(|c| c.copies_found.to_string(), global),
            n(global.and_then(|c| c.copies_expected)),
            field(|c| c.walkers.to_string(), global),
            global
                .and_then(|c| c.uniformity_p)
                .map_or("—".into(), |p| format!("{p:.3}")),
            count(Kind::Minimum).saturating_sub(1),
            count(Kind::DegenerateMinimum),
            count(Kind::Saddle),
            saddle_walkers,
            tb.unassigned.not_stationary,
            tb.unassigned.unconverged
        )),
        Block::Table(
            CLASS_HEAD.iter().map(|s| s.to_string()).collect(),
            class_rows(&tb, 12),
        ),
    ];
    let mut blocks = blocks;
    blocks.extend(between_blocks(between.as_ref()));
    blocks.extend(vec![
        Block::Heading("6. A basin map".into()),
        Block::Text(format!(
            "A 2-2-1 tanh student (|G| = {}) started from every point of the plane of w1[0,0] and w1[1,1] through its teacher ({} walkers, one per pixel). Each colour family is one class; shades within a family are its copies; darker pixels took more steps, so basin boundaries show. The map found {} classes. (A plane through one copy is not a symmetric sample of starts, so here the copies are not visited evenly, unlike section 4.)",
            n(Some(mb.group_order)), map.walk.output.status.len(), mb.classes.len()
        )),
        Block::Picture("map/map.png".into(), "Where each start ends: classes and their copies.".into()),
        Block::Text(boundary_text(boundary.as_ref())),
        Block::Table(CLASS_HEAD.iter().map(|s| s.to_string()).collect(), class_rows(mb, 8)),
        Block::Heading("Why".into()),
        Block::Text("MSE is convex in the predictions. The map from weights to predictions is not linear once a hidden layer sits between them, and it is many-to-one: every permutation and sign flip of hidden units gives the same predictions. So every minimum of the loss in the weights comes with its |G| − 1 mirror images, and between two copies of a minimum the loss must rise again: any path from one copy to another climbs over a transition state, a saddle with one downhill direction on either side (section 5 shows them).".into()),
    ]);
    report::write(&dir, "How can MSE have many minima?", &blocks)?;
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
