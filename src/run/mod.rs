//! The library's entry points: a request (what a user asks for, as run.json records it) is
//! validated into a specification, and [`grid`], [`walk`], [`map`] and [`basins`] turn
//! specifications into typed results. The command line is a thin layer over this module: it
//! parses flags into requests, calls these functions, then writes and prints the results.
//!
//! The crate's documentation opens with an example: a walk and its basin analysis in ten lines.

pub mod checkpoint;
pub mod memory;
pub mod shard;

use crate::analysis::basins::{Options, Report, Stage, analyse_walk_observed};
use crate::analysis::flow::FlowSettings;
use crate::backend::{Backend, BackendChoice, Evaluation, WalkOutput};
use crate::error::{Error, Result};
use crate::interrupt;
use crate::spec::data::{DataSource, Dataset};
use crate::spec::model::{Activation, Model};
use crate::spec::slice::{AxisKind, Slice, build_slice};
use crate::spec::walk::{Init, Status, WalkSettings};
use checkpoint::{Checkpoint, write_checkpoint};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use shard::Shard;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The commands that compute and write a run directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Command {
    /// L and ∇L over a lattice.
    Grid,
    /// Many gradient-descent walkers.
    Walk,
    /// A basin map: one walker per pixel of a 2-D slice.
    Map,
}

impl Command {
    /// The command's name, as typed.
    pub fn name(self) -> &'static str {
        match self {
            Command::Grid => "grid",
            Command::Walk => "walk",
            Command::Map => "map",
        }
    }
}

impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A network and its data, named as on the command line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProblemRequest {
    /// Layer widths from input to output, e.g. `2-3-1`.
    pub model: String,
    /// Activation of the hidden layers.
    pub act: Activation,
    /// Activation of the output layer.
    pub out_act: Activation,
    /// Whether every layer has a bias vector.
    pub bias: bool,
    /// The data: `xor`, `teacher:n=N,seed=S`, `point:x=…,y=…`, `csv:PATH`, …, or a name for
    /// `arrays`.
    pub data: String,
    /// Samples given as arrays (from Python), in place of parsing `data`; not in run.json, whose
    /// data_x.npy and data_y.npy hold them.
    #[serde(skip)]
    pub arrays: Option<Dataset>,
}

impl ProblemRequest {
    /// `model` with tanh hidden units, a linear output and biases, on `data`.
    pub fn new(model: &str, data: &str) -> ProblemRequest {
        ProblemRequest {
            model: model.to_string(),
            act: Activation::Tanh,
            out_act: Activation::Linear,
            bias: true,
            data: data.to_string(),
            arrays: None,
        }
    }

    /// The validated model and data.
    pub fn validate(&self) -> Result<Problem> {
        let model = Model::new(&self.model, self.act, self.out_act, self.bias)?;
        let data = match &self.arrays {
            Some(d) => {
                if (d.inputs(), d.outputs()) != (model.inputs(), model.outputs()) {
                    return Err(Error::spec(
                        "x",
                        format!(
                            "the arrays hold {} inputs and {} outputs a sample, but the model {} takes {} and gives {}",
                            d.inputs(),
                            d.outputs(),
                            self.model,
                            model.inputs(),
                            model.outputs()
                        ),
                    ));
                }
                DataSource {
                    spec: self.data.clone(),
                    data: d.clone(),
                    teacher: None,
                }
            }
            None => DataSource::parse(&self.data, &model)?,
        };
        Ok(Problem { model, data })
    }
}

/// A validated network and its data.
#[derive(Debug, Clone)]
pub struct Problem {
    /// The network.
    pub model: Model,
    /// Its data, with where they came from (and the teacher, for teacher data).
    pub data: DataSource,
}

impl Problem {
    /// The samples.
    pub fn dataset(&self) -> &Dataset {
        &self.data.data
    }
}

/// A slice through parameter space, named as on the command line: an origin and axes, or a
/// plane through three points.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SliceRequest {
    /// `zeros` (the default), `teacher`, `random:SEED` or a .npy file.
    pub origin: Option<String>,
    /// `NAME=LO:HI:N`, `random:SEED=LO:HI:N`, `toward:FILE.npy=LO:HI:N` or `dir:V=LO:HI:N`.
    pub axes: Vec<String>,
    /// `A.npy,B.npy,C.npy`: origin A, axes toward B and C.
    pub plane: Option<String>,
}

impl SliceRequest {
    /// The validated slice through `problem`'s parameter space.
    pub fn validate(&self, problem: &Problem) -> Result<Slice> {
        build_slice(
            &problem.model,
            problem.data.teacher.as_ref(),
            self.origin.as_deref(),
            &self.axes,
            self.plane.as_deref(),
        )
    }
}

/// What the pixels of a basin map show.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
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
    /// Trained (converged, or still moving at the budget) or diverged.
    Diverged,
    /// The convergence score in [−1, 1]: how soon a walker converged, how much loss it shed,
    /// or how soon it diverged (README, "Maps over learning rates").
    Score,
}

/// Everything a `grid` run was asked for: enough to repeat it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridRequest {
    /// The network and data.
    pub problem: ProblemRequest,
    /// The lattice.
    pub slice: SliceRequest,
    /// Whether ∇L itself is kept (grad.npy), not only its norm.
    pub save_grad: bool,
    /// Whether the exact Hessian's index and extreme eigenvalues are mapped too.
    #[serde(default)]
    pub hessian: bool,
    /// Logarithmic colour (or y) scale in the pictures.
    pub log: bool,
    /// The backend asked for.
    pub backend: BackendChoice,
    /// The GPU adapter asked for.
    pub adapter: Option<String>,
    /// The directory relative input paths are read from.
    pub cwd: Option<PathBuf>,
    /// Compute only this block of the run (`--shard`); `landscape merge` joins the blocks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
}

/// How walkers still moving at the step budget are finished, and how many ends the analysis
/// takes. Both continuations end where gradient descent with the run's learning rate and
/// tolerance ends; neither decides a basin by seeking a stationary point.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finish {
    /// Continue them by gradient descent itself, on the backend, in rounds (each as long as all
    /// the steps before it) up to this many steps in all.
    #[serde(default)]
    pub extend: Option<u32>,
    /// Then continue those still moving by gradient flow with adaptive steps (linearly implicit
    /// Euler with the exact Hessian): one representative per group of nearby ends, in the
    /// analysis, the others placed by it.
    #[serde(default)]
    pub flow: bool,
    /// Most ends analysed (continued, polished, classified); the other walkers are placed by
    /// them. None: `cluster_cap(P)`.
    #[serde(default)]
    pub cap: Option<u32>,
}

impl Finish {
    /// Refuses continuations the descent settings make meaningless.
    pub fn check(&self, descent: &WalkSettings) -> Result<()> {
        if self.cap == Some(0) {
            return Err(Error::spec(
                "--cap",
                "0; expected at least 1 end to analyse",
            ));
        }
        let flag = if self.flow { "--finish" } else { "--extend" };
        if let Some(e) = self.extend
            && e <= descent.steps
        {
            return Err(Error::spec(
                "--extend",
                format!(
                    "{e} steps; expected more than --steps ({}): the steps in all, walk and continuation together",
                    descent.steps
                ),
            ));
        }
        if (self.flow || self.extend.is_some()) && descent.momentum != 0.0 {
            return Err(Error::spec(
                flag,
                format!(
                    "continues plain gradient descent, but --momentum is {}: a walk does not keep the velocity a heavy-ball walker would continue with",
                    descent.momentum
                ),
            ));
        }
        if self.flow && descent.tol == 0.0 {
            return Err(Error::spec(
                "--finish",
                "flow stops where gradient descent stops, at ‖∇L‖ < --tol; with --tol 0 it would never stop",
            ));
        }
        Ok(())
    }

    /// The analysis's options for a model of `p` parameters and these descent settings.
    pub fn analysis(&self, p: usize, descent: &WalkSettings) -> Options {
        let defaults = Options::new(p);
        Options {
            flow: self
                .flow
                .then(|| FlowSettings::new(descent.lr, descent.tol, descent.diverge)),
            cap: self.cap.map_or(defaults.cap, |c| c as usize),
            ..defaults
        }
    }
}

/// Everything a `walk` run was asked for: enough to repeat it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WalkRequest {
    /// The network and data.
    pub problem: ProblemRequest,
    /// Number of walkers M.
    pub walkers: u64,
    /// The start distribution, as typed (`normal:1`, `uniform:3`, `xavier`).
    pub init: String,
    /// Seed of the starts.
    pub seed: u64,
    /// Optimiser and stopping settings.
    pub descent: WalkSettings,
    /// Record θ every that many steps.
    pub trace: Option<u32>,
    /// How walkers still moving at the step budget are finished.
    #[serde(default)]
    pub finish: Finish,
    /// Whether the basin analysis follows the walk.
    pub basins: bool,
    /// The backend asked for.
    pub backend: BackendChoice,
    /// The GPU adapter asked for.
    pub adapter: Option<String>,
    /// The directory relative input paths are read from.
    pub cwd: Option<PathBuf>,
    /// Compute only this block of the run (`--shard`); `landscape merge` joins the blocks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
}

/// Everything a `map` run was asked for: enough to repeat it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapRequest {
    /// The network and data.
    pub problem: ProblemRequest,
    /// The plane of starts (two axes).
    pub slice: SliceRequest,
    /// Optimiser and stopping settings.
    pub descent: WalkSettings,
    /// How walkers still moving at the step budget are finished.
    #[serde(default)]
    pub finish: Finish,
    /// What the pixels show.
    pub color: ColorBy,
    /// Whether class colours darken with the steps taken.
    pub shade: bool,
    /// Whether the walkers' ends are analysed into basins (`--no-basins` skips it: the map
    /// then shows how each walker ended, not where).
    #[serde(default = "yes", skip_serializing_if = "is_yes")]
    pub basins: bool,
    /// `F` or `F@X,Y`: the plane's window narrowed F times about its centre (or about the
    /// point with axis values X, Y), at the same number of pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zoom: Option<String>,
    /// The backend asked for.
    pub backend: BackendChoice,
    /// The GPU adapter asked for.
    pub adapter: Option<String>,
    /// The directory relative input paths are read from.
    pub cwd: Option<PathBuf>,
    /// Compute only this block of the run (`--shard`); `landscape merge` joins the blocks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
}

fn yes() -> bool {
    true
}

fn is_yes(b: &bool) -> bool {
    *b
}

/// The report of a map whose ends were not analysed (`--no-basins`): every walker in no class.
pub fn unanalysed(walkers: usize) -> Report {
    Report {
        walkers: walkers as u64,
        labels: vec![-1; 2 * walkers],
        ..Report::default()
    }
}

/// A request of any command.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Request {
    /// `grid`.
    Grid(GridRequest),
    /// `walk`.
    Walk(WalkRequest),
    /// `map`.
    Map(MapRequest),
}

impl Request {
    /// The command it asks for.
    pub fn command(&self) -> Command {
        match self {
            Request::Grid(_) => Command::Grid,
            Request::Walk(_) => Command::Walk,
            Request::Map(_) => Command::Map,
        }
    }

    /// The block this request computes, when it is a shard.
    pub fn shard(&self) -> Option<Shard> {
        match self {
            Request::Grid(r) => r.shard,
            Request::Walk(r) => r.shard,
            Request::Map(r) => r.shard,
        }
    }

    /// The same request for another block (`None`: the whole run).
    pub fn with_shard(mut self, shard: Option<Shard>) -> Request {
        match &mut self {
            Request::Grid(r) => r.shard = shard,
            Request::Walk(r) => r.shard = shard,
            Request::Map(r) => r.shard = shard,
        }
        self
    }

    /// Reads a request of `command` from JSON.
    pub fn from_json(command: Command, value: serde_json::Value) -> serde_json::Result<Request> {
        Ok(match command {
            Command::Grid => Request::Grid(serde_json::from_value(value)?),
            Command::Walk => Request::Walk(serde_json::from_value(value)?),
            Command::Map => Request::Map(serde_json::from_value(value)?),
        })
    }
}

/// Largest `grad.npy` kept in memory and written, in bytes.
const MAX_GRAD_BYTES: u64 = 4 << 30;

/// Largest trace kept in memory and written, in bytes.
const MAX_TRACE_BYTES: u64 = 4 << 30;

/// A validated grid: L and ∇L at every point of a lattice.
#[derive(Debug, Clone)]
pub struct GridSpec {
    /// The network and data.
    pub problem: Problem,
    /// The lattice.
    pub slice: Slice,
    /// Whether ∇L itself is returned, not only its norm.
    pub save_grad: bool,
    /// Whether the exact Hessian's index and extreme eigenvalues are computed too.
    pub hessian: bool,
    /// The block of lattice points computed, when a shard.
    pub shard: Option<Shard>,
}

impl GridRequest {
    /// The validated grid, refused when its arrays would not fit in memory.
    pub fn validate(&self) -> Result<GridSpec> {
        let spec = self.resolve()?;
        spec.check()?;
        Ok(spec)
    }

    /// The specification the request names, its size not checked against memory.
    pub fn resolve(&self) -> Result<GridSpec> {
        let problem = self.problem.validate()?;
        let slice = self.slice.validate(&problem)?;
        slice.parameters_only("grid")?;
        Ok(GridSpec {
            problem,
            slice,
            save_grad: self.save_grad,
            hessian: self.hessian,
            shard: self.shard,
        })
    }
}

impl GridSpec {
    /// Refuses a lattice whose results would not fit in memory.
    pub fn check(&self) -> Result<()> {
        let p = self.problem.model.parameter_count() as u64;
        if let Some(s) = self.shard {
            s.check(self.slice.len(), "lattice points")?;
        }
        let block = self.block();
        let points = block.end - block.start;
        let grad_bytes = points.saturating_mul(p * 4);
        if self.save_grad && grad_bytes > MAX_GRAD_BYTES {
            return Err(Error::spec(
                "--save-grad",
                format!(
                    "grad.npy would take {:.1} GiB for {points} points × P = {p} (at most {} GiB); use fewer points per axis",
                    grad_bytes as f64 / (1u64 << 30) as f64,
                    MAX_GRAD_BYTES >> 30
                ),
            ));
        }
        // Loss and ‖∇L‖ per point (and ∇L), as computed and as read back from a GPU; the
        // Hessian's extremes and index.
        let per_point =
            2 * (8 + if self.save_grad { 4 * p } else { 0 }) + if self.hessian { 20 } else { 0 };
        // Each thread computing Hessians holds one P × P matrix and its working copy.
        let hessians = if self.hessian {
            (rayon::current_num_threads() as u64).saturating_mul(16 * p * p)
        } else {
            0
        };
        memory::check(
            if self.hessian && hessians > points.saturating_mul(per_point) {
                "--hessian"
            } else {
                "--axis"
            },
            &format!("a lattice of {points} points"),
            points.saturating_mul(per_point).saturating_add(hessians),
            "use fewer points per axis",
        )
    }
}

impl GridSpec {
    /// The lattice points computed: all of them, or the shard's block.
    pub fn block(&self) -> Range<u64> {
        let all = self.slice.len();
        self.shard.map_or(0..all, |s| s.block(all))
    }
}

/// A grid's result.
#[derive(Debug, Clone)]
pub struct Grid {
    /// L, ‖∇L‖ (and ∇L) at every lattice point, in the slice's order.
    pub evaluation: Evaluation,
    /// Seconds the evaluation took.
    pub evaluate_s: f64,
    /// The exact Hessian's extremes and index at every point, when asked for.
    pub curvature: Option<Curvature>,
}

/// The exact float64 Hessian ∇²L at every lattice point, by its extreme eigenvalues and index
/// (`grid --hessian`), computed on the host: cheap for the small networks mapped.
#[derive(Debug, Clone, PartialEq)]
pub struct Curvature {
    /// The smallest eigenvalue λmin (NaN where the Hessian is not finite).
    pub min: Vec<f64>,
    /// The largest eigenvalue λmax.
    pub max: Vec<f64>,
    /// The number of negative eigenvalues: those below −10⁻⁸·max(1, max |λ|), the rule the
    /// analysis classifies stationary points by ([`NON_FINITE_INDEX`] where not finite).
    pub index: Vec<u32>,
    /// Seconds it took.
    pub seconds: f64,
}

/// The index of a point whose Hessian is not finite.
pub const NON_FINITE_INDEX: u32 = u32::MAX;

/// The rule by which an eigenvalue counts as negative, in words.
pub const NEGATIVE_EIGENVALUE: &str = "λ < −1e-8·max(1, max |λ|)";

/// The Hessian's extremes and index at the points of `block` of `slice`.
pub fn curvature(problem: &Problem, slice: &Slice, block: Range<u64>) -> Curvature {
    use crate::analysis::eigen::symmetric_eigenvalues;
    use crate::analysis::stationary::ZERO_EIGENVALUE;
    let t = Instant::now();
    let (model, data) = (&problem.model, problem.dataset());
    let p = model.parameter_count();
    let rows: Vec<(f64, f64, u32)> = block
        .into_par_iter()
        .map(|g| {
            let theta = slice.point(g);
            let h = crate::reference::hessian(model, data, &theta);
            match symmetric_eigenvalues(&h, p) {
                Some(e) if !e.is_empty() => {
                    let top = e.iter().fold(1.0f64, |m, v| m.max(v.abs()));
                    let zero = ZERO_EIGENVALUE * top;
                    let index = e.iter().filter(|&&v| v < -zero).count() as u32;
                    (e[0], e[p - 1], index)
                }
                _ => (f64::NAN, f64::NAN, NON_FINITE_INDEX),
            }
        })
        .collect();
    Curvature {
        min: rows.iter().map(|r| r.0).collect(),
        max: rows.iter().map(|r| r.1).collect(),
        index: rows.iter().map(|r| r.2).collect(),
        seconds: t.elapsed().as_secs_f64(),
    }
}

/// Evaluates L and ∇L at every point of the spec's lattice (of its block, for a shard).
pub fn grid(backend: &mut dyn Backend, spec: &GridSpec) -> Result<Grid> {
    spec.check()?;
    let t = Instant::now();
    let evaluation = backend.evaluate_lattice(
        &spec.problem.model,
        spec.problem.dataset(),
        &spec.slice,
        spec.block(),
        spec.save_grad,
    )?;
    let evaluate_s = t.elapsed().as_secs_f64();
    Ok(Grid {
        evaluation,
        evaluate_s,
        curvature: spec
            .hessian
            .then(|| curvature(&spec.problem, &spec.slice, spec.block())),
    })
}

/// A validated walk: many gradient-descent walkers from random starts.
#[derive(Debug, Clone)]
pub struct WalkSpec {
    /// The network and data.
    pub problem: Problem,
    /// Number of walkers M (1 to 2³² − 1).
    pub walkers: u64,
    /// The start distribution.
    pub init: Init,
    /// Walker w starts at a pure function of (seed, w).
    pub seed: u64,
    /// Optimiser and stopping settings.
    pub descent: WalkSettings,
    /// Record θ every that many steps (kept whole in memory).
    pub trace: Option<u32>,
    /// How walkers still moving at the step budget are finished.
    pub finish: Finish,
    /// The block of walkers walked, when a shard.
    pub shard: Option<Shard>,
}

impl WalkSpec {
    /// `walkers` walkers from N(0, 1), seed 0, with the command line's default descent.
    pub fn new(problem: Problem, walkers: u64) -> WalkSpec {
        WalkSpec {
            problem,
            walkers,
            init: Init::Normal { sigma: 1.0 },
            seed: 0,
            descent: WalkSettings::default(),
            trace: None,
            finish: Finish::default(),
            shard: None,
        }
    }

    /// The walkers walked: all of them, or the shard's block.
    pub fn block(&self) -> Range<u64> {
        self.shard
            .map_or(0..self.walkers, |s| s.block(self.walkers))
    }

    /// How many walkers this process walks (the block's length).
    pub fn walkers_here(&self) -> u64 {
        let b = self.block();
        b.end - b.start
    }

    /// Refuses settings out of range and walks that would not fit in memory (`basins`: with
    /// the basin analysis's copy of the endpoints).
    pub fn check(&self, basins: bool) -> Result<()> {
        self.descent.validate()?;
        self.finish.check(&self.descent)?;
        if self.trace.is_some() && self.finish.extend.is_some() {
            return Err(Error::spec(
                "--extend",
                "a traced walk is not continued: the trace would stop at --steps",
            ));
        }
        let m = self.walkers;
        if m == 0 || m > u64::from(u32::MAX) {
            return Err(Error::spec(
                "--walkers",
                format!("{m} walkers; expected 1 to {}", u32::MAX),
            ));
        }
        if let Some(s) = self.shard {
            s.check(m, "walkers")?;
        }
        let m = self.walkers_here();
        if self.trace == Some(0) {
            return Err(Error::spec(
                "--trace",
                "0; expected a positive number of steps between records",
            ));
        }
        let trace_bytes = self.trace_bytes();
        if trace_bytes > MAX_TRACE_BYTES {
            return Err(Error::spec(
                "--trace",
                format!(
                    "the trace would take {:.1} GiB (at most {} GiB); record less often or use fewer walkers",
                    trace_bytes as f64 / (1u64 << 30) as f64,
                    MAX_TRACE_BYTES >> 30
                ),
            ));
        }
        memory::check(
            "--walkers",
            &format!("a walk of {m} walkers"),
            memory::walk_bytes(
                m,
                self.problem.model.parameter_count() as u64,
                trace_bytes,
                basins,
            ),
            "use fewer walkers (several runs with different --seed cover more starts)",
        )
    }

    /// The rows of the trace: θ at step 0 and every `trace` steps.
    pub fn trace_rows(&self) -> Option<usize> {
        self.trace
            .filter(|&k| k > 0)
            .map(|k| (self.descent.steps / k) as usize + 1)
    }

    fn trace_bytes(&self) -> u64 {
        self.trace_rows().map_or(0, |rows| {
            (rows as u64)
                .saturating_mul(self.walkers_here())
                .saturating_mul(self.problem.model.parameter_count() as u64 * 4)
        })
    }

    /// Every walker's start (M × P, float32; the block's, for a shard), a pure function of
    /// (seed, walker).
    pub fn starts(&self) -> Vec<f32> {
        self.block()
            .into_par_iter()
            .flat_map_iter(|w| {
                self.init
                    .start(&self.problem.model, self.seed, w)
                    .into_iter()
                    .map(|v| v as f32)
            })
            .collect()
    }
}

impl WalkRequest {
    /// The validated walk.
    pub fn validate(&self) -> Result<WalkSpec> {
        let spec = self.resolve()?;
        // A shard leaves the analysis to the merge.
        spec.check(self.basins && self.shard.is_none())?;
        Ok(spec)
    }

    /// The specification the request names, its settings and size not checked.
    pub fn resolve(&self) -> Result<WalkSpec> {
        Ok(WalkSpec {
            problem: self.problem.validate()?,
            walkers: self.walkers,
            init: Init::parse(&self.init)?,
            seed: self.seed,
            descent: self.descent,
            trace: self.trace,
            finish: self.finish,
            shard: self.shard,
        })
    }
}

/// Where a set of walkers ended.
#[derive(Debug, Clone)]
pub struct Walk {
    /// Every walker's start (M × P, float32).
    pub starts: Vec<f32>,
    /// Every walker's learning rate of each weight layer (M × layers), where a map's axes set
    /// them; else every walker steps by the settings' rate.
    pub rates: Option<Vec<f32>>,
    /// Endpoints, losses, steps and statuses (and the trace, when asked for).
    pub output: WalkOutput,
    /// Seconds spent walking (over every process, for a resumed run).
    pub walk_s: f64,
    /// What `--extend` did, when asked for.
    pub extension: Option<Box<Extension>>,
}

/// Walkers continued by gradient descent past `--steps` (`--extend`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extension {
    /// The steps in all each walker may take.
    pub steps: u32,
    /// Rounds on the backend.
    pub rounds: u32,
    /// Walkers continued (still moving at `--steps`).
    pub walkers: u64,
    /// Of them, those still moving at `steps`.
    pub still_moving: u64,
    /// Walker-steps of the continuation.
    pub walker_steps: u64,
    /// Seconds it took.
    pub seconds: f64,
    /// Per walker: whether it was continued (M).
    #[serde(skip)]
    pub continued: Vec<bool>,
}

/// Continues the walkers of `walk` still moving at the step budget by gradient descent on the
/// backend, in rounds each as long as all the steps before it, until they stop or have taken
/// `total` steps in all (`--extend`; nothing when `total` is none). A walker's steps depend on nothing but its own θ, so a walker continued
/// in rounds takes the very steps one long walk would have taken.
pub fn extend(
    backend: &mut dyn Backend,
    problem: &Problem,
    walk: &mut Walk,
    descent: &WalkSettings,
    total: Option<u32>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<()> {
    let Some(total) = total else {
        return Ok(());
    };
    let t = Instant::now();
    let out = &mut walk.output;
    let p = problem.model.parameter_count();
    let m = out.status.len();
    let moving = |out: &WalkOutput, w: usize| {
        out.status[w] == Status::MaxSteps as u32 && out.steps[w] < total
    };
    let mut continued = vec![false; m];
    let (mut rounds, mut walker_steps) = (0u32, 0u64);
    loop {
        let idx: Vec<usize> = (0..m).filter(|&w| moving(out, w)).collect();
        let Some(&first) = idx.first() else { break };
        let done = out.steps[first];
        let round = done.max(1).min(total - done);
        let starts: Vec<f32> = idx
            .iter()
            .flat_map(|&w| out.endpoints[w * p..(w + 1) * p].iter().copied())
            .collect();
        let layers = problem.model.layers();
        let rates: Option<Vec<f32>> = walk.rates.as_ref().map(|r| {
            idx.iter()
                .flat_map(|&w| r[w * layers..(w + 1) * layers].iter().copied())
                .collect()
        });
        let settings = WalkSettings {
            steps: round,
            ..*descent
        };
        let part = backend.walk_rated(
            &problem.model,
            problem.dataset(),
            &starts,
            rates.as_deref(),
            &settings,
            None,
            progress,
        )?;
        for (i, &w) in idx.iter().enumerate() {
            out.endpoints[w * p..(w + 1) * p].copy_from_slice(&part.endpoints[i * p..(i + 1) * p]);
            out.loss[w] = part.loss[i];
            out.grad_norm[w] = part.grad_norm[i];
            out.status[w] = part.status[i];
            out.steps[w] += part.steps[i];
            walker_steps += u64::from(part.steps[i]);
            continued[w] = true;
        }
        rounds += 1;
    }
    walk.extension = Some(Box::new(Extension {
        steps: total,
        rounds,
        walkers: continued.iter().filter(|&&c| c).count() as u64,
        still_moving: (0..m)
            .filter(|&w| out.status[w] == Status::MaxSteps as u32)
            .count() as u64,
        walker_steps,
        seconds: t.elapsed().as_secs_f64(),
        continued,
    }));
    Ok(())
}

impl Walk {
    /// How many walkers ended with each status, in `Status::ALL`'s order.
    pub fn counts(&self) -> Vec<(Status, usize)> {
        status_counts(&self.output.status)
    }

    /// Steps taken, summed over the walkers.
    pub fn walker_steps(&self) -> u64 {
        self.output.steps.iter().map(|&s| u64::from(s)).sum()
    }

    /// The losses at the endpoints that are finite, ascending.
    pub fn finite_losses(&self) -> Vec<f32> {
        let mut finite: Vec<f32> = self
            .output
            .loss
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        finite.sort_by(f32::total_cmp);
        finite
    }
}

/// How many walkers ended with each status, in `Status::ALL`'s order.
pub fn status_counts(status: &[u32]) -> Vec<(Status, usize)> {
    Status::ALL
        .iter()
        .map(|&s| (s, status.iter().filter(|&&c| c == s as u32).count()))
        .collect()
}

/// Runs every walker of `spec` to its end.
pub fn walk(backend: &mut dyn Backend, spec: &WalkSpec) -> Result<Walk> {
    spec.check(false)?;
    let mut walk = walk_plain(
        backend,
        &spec.problem,
        (spec.starts(), None),
        &spec.descent,
        spec.trace,
        &|_| {},
    )?;
    extend(
        backend,
        &spec.problem,
        &mut walk,
        &spec.descent,
        spec.finish.extend,
        &|_| {},
    )?;
    Ok(walk)
}

/// Walks every start in one call of the backend.
fn walk_plain(
    backend: &mut dyn Backend,
    problem: &Problem,
    (starts, rates): (Vec<f32>, Option<Vec<f32>>),
    descent: &WalkSettings,
    trace: Option<u32>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Walk> {
    let t = Instant::now();
    let output = backend.walk_rated(
        &problem.model,
        problem.dataset(),
        &starts,
        rates.as_deref(),
        descent,
        trace,
        progress,
    )?;
    Ok(Walk {
        starts,
        rates,
        output,
        walk_s: t.elapsed().as_secs_f64(),
        extension: None,
    })
}

/// Progress and checkpoints of a long walk.
#[derive(Default)]
pub struct Control<'a> {
    /// Told the walker-steps done since its last call.
    pub progress: Option<&'a (dyn Fn(u64) + Sync)>,
    /// Walk in blocks with a checkpoint after each, and stop after the current block on Ctrl-C
    /// (see [`crate::interrupt`]). A walk with a trace is never cut into blocks.
    pub checkpoint: Option<Checkpointing<'a>>,
    /// Without checkpoints: walk in blocks all the same, and stop after the current block once
    /// [`crate::interrupt::requested`] (the Python module's Ctrl-C).
    pub stoppable: bool,
}

/// Where a walk in blocks saves its checkpoints, and what it resumes from.
pub struct Checkpointing<'a> {
    /// The directory checkpoint.json and checkpoint.bin are written into.
    pub dir: &'a Path,
    /// The run's request, recorded in the checkpoint so that `--resume` can repeat it.
    pub request: &'a Request,
    /// The walkers an interrupted run had done, and its seconds spent walking them.
    pub resumed: Option<Checkpoint>,
}

/// How a walk with checkpoints ended.
#[derive(Debug)]
pub enum Walked {
    /// Every walker is done.
    Complete(Walk),
    /// Ctrl-C: the first `done` walkers are done and saved in the checkpoint.
    Interrupted {
        /// Walkers done.
        done: usize,
        /// Walkers in the run.
        walkers: usize,
    },
}

/// `walk`, with progress reports and, when asked for, checkpoints (and a stop on Ctrl-C).
pub fn walk_with(
    backend: &mut dyn Backend,
    spec: &WalkSpec,
    control: Control<'_>,
) -> Result<Walked> {
    spec.check(false)?;
    let starts = spec.starts();
    walk_starts(
        backend,
        &spec.problem,
        (starts, None),
        &spec.descent,
        spec.trace,
        control,
    )
}

/// Aim for blocks of about this long, so that Ctrl-C is answered soon and checkpoints are fresh.
const BLOCK_TIME: Duration = Duration::from_secs(5);

fn walk_starts(
    backend: &mut dyn Backend,
    problem: &Problem,
    (starts, rates): (Vec<f32>, Option<Vec<f32>>),
    descent: &WalkSettings,
    trace: Option<u32>,
    control: Control<'_>,
) -> Result<Walked> {
    let progress = |n: u64| {
        if let Some(p) = control.progress {
            p(n);
        }
    };
    let checkpointing = control.checkpoint.filter(|_| trace.is_none());
    if checkpointing.is_none() && !(control.stoppable && trace.is_none()) {
        return walk_plain(backend, problem, (starts, rates), descent, trace, &progress)
            .map(Walked::Complete);
    }
    let (model, data) = (&problem.model, problem.dataset());
    let started = Instant::now();
    // Every walker's start and trajectory depend on nothing but its own index, so the blocks a
    // run is cut into do not change any result.
    let _polling = interrupt::Polling::start();
    let p = model.parameter_count();
    let m = starts.len() / p.max(1);
    let (saving, resumed) = match checkpointing {
        Some(c) => (Some((c.dir, c.request)), c.resumed),
        None => (None, None),
    };
    let (mut all, before_s) = match resumed {
        Some(c) => (c.done, c.walk_s),
        None => (empty_output(), 0.0),
    };
    let walk_s = || before_s + started.elapsed().as_secs_f64();
    let save = |all: &WalkOutput, walk_s: f64| match saving {
        Some((dir, request)) => write_checkpoint(dir, request, m, all, walk_s),
        None => Ok(()),
    };
    let mut block = 2048usize;
    progress(all.status.len() as u64 * u64::from(descent.steps));
    while all.status.len() < m {
        if interrupt::requested() {
            save(&all, walk_s())?;
            return Ok(Walked::Interrupted {
                done: all.status.len(),
                walkers: m,
            });
        }
        let first = all.status.len();
        let count = block.min(m - first);
        let t = Instant::now();
        let layers = model.layers();
        let part = backend.walk_rated(
            model,
            data,
            &starts[first * p..(first + count) * p],
            rates
                .as_ref()
                .map(|r| &r[first * layers..(first + count) * layers]),
            descent,
            None,
            &progress,
        )?;
        append(&mut all, part);
        // The next block takes about BLOCK_TIME at this block's pace.
        let per = t.elapsed().as_secs_f64() / count as f64;
        let target = (BLOCK_TIME.as_secs_f64() / per.max(1e-12)) as usize;
        block = target.clamp(1024, 1 << 22).next_multiple_of(1024);
        if all.status.len() < m {
            save(&all, walk_s())?;
        }
    }
    if interrupt::requested() {
        // Ctrl-C during the last block: the walk is complete, but the user asked to stop.
        save(&all, walk_s())?;
        return Ok(Walked::Interrupted {
            done: m,
            walkers: m,
        });
    }
    Ok(Walked::Complete(Walk {
        starts,
        rates,
        output: all,
        walk_s: walk_s(),
        extension: None,
    }))
}

fn empty_output() -> WalkOutput {
    WalkOutput {
        endpoints: Vec::new(),
        loss: Vec::new(),
        grad_norm: Vec::new(),
        steps: Vec::new(),
        status: Vec::new(),
        trace: None,
    }
}

fn append(all: &mut WalkOutput, part: WalkOutput) {
    all.endpoints.extend(part.endpoints);
    all.loss.extend(part.loss);
    all.grad_norm.extend(part.grad_norm);
    all.steps.extend(part.steps);
    all.status.extend(part.status);
}

/// The basin analysis of a walk: its endpoints polished to stationary points, classified by
/// their exact Hessians and grouped into classes under the network's symmetries (with the
/// default options: no continuation; see [`Finish::analysis`]).
pub fn basins(problem: &Problem, output: &WalkOutput) -> Report {
    let options = Options::new(problem.model.parameter_count());
    basins_observed(problem, output, &options, &|_| {})
}

/// `basins` with `options`, telling `observe` how far it got.
pub fn basins_observed(
    problem: &Problem,
    output: &WalkOutput,
    options: &Options,
    observe: &(dyn Fn(Stage) + Sync),
) -> Report {
    analyse_walk_observed(
        &problem.model,
        problem.dataset(),
        &output.endpoints,
        &output.status,
        options,
        observe,
    )
}

/// A validated basin map: one walker per point of a 2-D slice.
#[derive(Debug, Clone)]
pub struct MapSpec {
    /// The network and data.
    pub problem: Problem,
    /// The plane of starts (exactly two axes).
    pub slice: Slice,
    /// Optimiser and stopping settings.
    pub descent: WalkSettings,
    /// How walkers still moving at the step budget are finished.
    pub finish: Finish,
    /// The block of pixels walked, when a shard.
    pub shard: Option<Shard>,
    /// Whether the ends are analysed into basins.
    pub basins: bool,
    /// What the pixels show.
    pub color: ColorBy,
    /// Whether class colours darken with the steps taken.
    pub shade: bool,
}

impl MapRequest {
    /// The validated map.
    pub fn validate(&self) -> Result<MapSpec> {
        let spec = self.resolve()?;
        spec.check()?;
        Ok(spec)
    }

    /// The specification the request names, its size not checked against memory.
    pub fn resolve(&self) -> Result<MapSpec> {
        let problem = self.problem.validate()?;
        // Counted before the slice is built, whose own check allows 1 to 4 axes.
        if self.slice.plane.is_none() && self.slice.axes.len() != 2 {
            return Err(two_axes(self.slice.axes.len()));
        }
        let mut slice = self.slice.validate(&problem)?;
        if let Some(z) = &self.zoom {
            zoom(&mut slice, z)?;
        }
        Ok(MapSpec {
            problem,
            slice,
            descent: self.descent,
            finish: self.finish,
            shard: self.shard,
            basins: self.basins,
            color: self.color,
            shade: self.shade,
        })
    }
}

/// Narrows the first two axes of `slice` by `--zoom F[@X,Y]`: each axis's range F times
/// shorter, about its middle or about X (first axis) and Y (second), its points as many.
pub fn zoom(slice: &mut Slice, text: &str) -> Result<()> {
    let bad = |why: &str| {
        Error::spec(
            "--zoom",
            format!(
                "'{text}': {why}; expected F or F@X,Y (F > 0 the factor, X and Y the axis values to zoom about)"
            ),
        )
    };
    let (factor, about) = match text.split_once('@') {
        Some((f, at)) => (f, Some(at)),
        None => (text, None),
    };
    let f: f64 = factor
        .trim()
        .parse()
        .map_err(|_| bad("the factor is not a number"))?;
    if !(f.is_finite() && f > 0.0) {
        return Err(bad("the factor must be a finite number above 0"));
    }
    let centres: Option<Vec<f64>> = match about {
        Some(at) => {
            let v: Vec<f64> = at
                .split(',')
                .map(|x| x.trim().parse::<f64>())
                .collect::<std::result::Result<_, _>>()
                .map_err(|_| bad("the point is not two numbers"))?;
            if v.len() != 2 || v.iter().any(|x| !x.is_finite()) {
                return Err(bad("the point is not two finite numbers"));
            }
            Some(v)
        }
        None => None,
    };
    if slice.axes.len() < 2 {
        return Err(two_axes(slice.axes.len()));
    }
    for (j, a) in slice.axes.iter_mut().take(2).enumerate() {
        if a.log {
            // A log axis narrows in ln(value), about its geometric middle or about X.
            let c = match centres.as_ref() {
                Some(c) if c[j] <= 0.0 => {
                    return Err(bad(&format!(
                        "axis {} is log-spaced, so its point must be above 0",
                        j + 1
                    )));
                }
                Some(c) => c[j].ln(),
                None => 0.5 * (a.lo.ln() + a.hi.ln()),
            };
            let half = 0.5 * (a.hi.ln() - a.lo.ln()) / f;
            (a.lo, a.hi) = ((c - half).exp(), (c + half).exp());
        } else {
            let c = centres.as_ref().map_or(0.5 * (a.lo + a.hi), |c| c[j]);
            let half = 0.5 * (a.hi - a.lo) / f;
            (a.lo, a.hi) = (c - half, c + half);
        }
        if matches!(a.kind, AxisKind::Rate(_)) && a.lo <= 0.0 {
            return Err(bad(&format!(
                "axis {} sets learning rates, and the window reaches {} (rates must stay above 0)",
                j + 1,
                a.lo
            )));
        }
        if !(a.lo.is_finite() && a.hi.is_finite()) || a.lo == a.hi {
            return Err(bad(
                "the window leaves float64's range or shrinks to a point",
            ));
        }
        let distinct = a.distinct_f32_values();
        if distinct < a.n {
            return Err(bad(&format!(
                "axis {} would have only {distinct} of its {} values distinct in float32, in which the walkers start; zoom less",
                j + 1,
                a.n
            )));
        }
    }
    // Along a direction, the starts θ = origin + t·d may round to the same float32 point even
    // where the values t do not: neighbouring pixels at the window's middle must start apart.
    let shape = slice.shape();
    let middle: Vec<usize> = shape.iter().map(|n| n / 2).collect();
    let flat = |idx: &[usize]| {
        idx.iter()
            .zip(&shape)
            .fold(0u64, |g, (&i, &n)| g * n as u64 + i as u64)
    };
    for j in 0..2 {
        if slice.axes[j].kind.is_hyper() {
            // Along a hyper-parameter axis the walkers may share their start; their values are
            // distinct, as checked above.
            continue;
        }
        let mut next = middle.clone();
        next[j] = (middle[j] + 1).min(shape[j] - 1);
        let start = |g: u64| -> Vec<f32> { slice.point(g).iter().map(|&v| v as f32).collect() };
        if next[j] != middle[j] && start(flat(&middle)) == start(flat(&next)) {
            return Err(bad(&format!(
                "neighbouring pixels along axis {} would start at the same float32 point; zoom less",
                j + 1
            )));
        }
    }
    Ok(())
}

fn two_axes(given: usize) -> Error {
    Error::spec(
        "--axis",
        format!("a map needs exactly 2 axes (or --plane); {given} given"),
    )
}

impl MapSpec {
    /// Refuses slices that are not planes, bad settings, and maps that would not fit in memory.
    pub fn check(&self) -> Result<()> {
        if self.slice.axes.len() != 2 {
            return Err(two_axes(self.slice.axes.len()));
        }
        if !self.basins && (matches!(self.color, ColorBy::Class | ColorBy::Copy) || self.shade) {
            return Err(Error::spec(
                "--color",
                "classes and copies need the basin analysis, which --no-basins skips; expected --color status, diverged, score, loss or steps (and no --shade)",
            ));
        }
        self.descent.validate()?;
        self.finish.check(&self.descent)?;
        let m = self.slice.len();
        if m > u64::from(u32::MAX) {
            return Err(Error::spec(
                "--axis",
                format!("{m} pixels; expected at most {}", u32::MAX),
            ));
        }
        if let Some(s) = self.shard {
            s.check(m, "pixels")?;
        }
        let m = self.walkers_here();
        let p = self.problem.model.parameter_count() as u64;
        memory::check(
            "--axis",
            &format!("a map of {m} pixels"),
            // The walk, plus the pixels of the picture and the labels, and the boundary
            // statistics' outcome ids, window minima and maxima (about 128 B a pixel).
            // With learning-rate axes, each walker's rates too.
            memory::walk_bytes(m, p, 0, true)
                .saturating_add(m * (16 + 128))
                .saturating_add(if self.slice.has_rates() {
                    m * 4 * self.problem.model.layers() as u64
                } else {
                    0
                }),
            "use fewer points per axis",
        )
    }

    /// The pixels walked: all of them, or the shard's block.
    pub fn block(&self) -> Range<u64> {
        let all = self.slice.len();
        self.shard.map_or(0..all, |s| s.block(all))
    }

    /// How many pixels this process walks (the block's length).
    pub fn walkers_here(&self) -> u64 {
        let b = self.block();
        b.end - b.start
    }

    /// The starts: the lattice points (of the block, for a shard), rounded once to float32 as
    /// every backend receives them.
    pub fn starts(&self) -> Vec<f32> {
        self.block()
            .into_par_iter()
            .flat_map_iter(|g| self.slice.point(g).into_iter().map(|v| v as f32))
            .collect()
    }

    /// Each walker's learning rate of each weight layer (of the block, for a shard; rounded
    /// once to float32), where an axis sets learning rates; else none, and every walker steps
    /// by `--lr`.
    pub fn rates(&self) -> Option<Vec<f32>> {
        if !self.slice.has_rates() {
            return None;
        }
        let layers = self.problem.model.layers();
        Some(
            self.block()
                .into_par_iter()
                .flat_map_iter(|g| {
                    self.slice
                        .rates(g, self.descent.lr, layers)
                        .into_iter()
                        .map(|v| v as f32)
                })
                .collect(),
        )
    }
}

/// A basin map's result.
#[derive(Debug, Clone)]
pub struct Map {
    /// One walker per pixel, in the slice's order (the first axis slowest).
    pub walk: Walk,
    /// Their basin analysis.
    pub report: Report,
    /// Seconds the analysis took.
    pub basins_s: f64,
}

/// Walks from every pixel of the spec's plane, then analyses where the walkers ended.
pub fn map(backend: &mut dyn Backend, spec: &MapSpec) -> Result<Map> {
    spec.check()?;
    let mut walk = walk_plain(
        backend,
        &spec.problem,
        (spec.starts(), spec.rates()),
        &spec.descent,
        None,
        &|_| {},
    )?;
    extend(
        backend,
        &spec.problem,
        &mut walk,
        &spec.descent,
        spec.finish.extend,
        &|_| {},
    )?;
    let t = Instant::now();
    let options = spec
        .finish
        .analysis(spec.problem.model.parameter_count(), &spec.descent);
    let report = if spec.basins {
        basins_observed(&spec.problem, &walk.output, &options, &|_| {})
    } else {
        unanalysed(walk.output.status.len())
    };
    Ok(Map {
        walk,
        report,
        basins_s: t.elapsed().as_secs_f64(),
    })
}

/// The walk of a basin map (its analysis is [`basins`]), with progress reports and checkpoints.
pub fn map_walk_with(
    backend: &mut dyn Backend,
    spec: &MapSpec,
    control: Control<'_>,
) -> Result<Walked> {
    spec.check()?;
    walk_starts(
        backend,
        &spec.problem,
        (spec.starts(), spec.rates()),
        &spec.descent,
        None,
        control,
    )
}
