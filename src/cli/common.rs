//! Flags shared by every command that computes: model, data, backend and output.

use crate::backend::{self, Backend, BackendChoice};
use crate::record::RunRecord;
use crate::run::checkpoint::{Checkpoint, find_checkpoint};
use crate::run::{Command, Finish, ProblemRequest, Request, SliceRequest};
use crate::spec::model::Activation;
use crate::spec::walk::{Status, WalkSettings};
use clap::Args;
use std::path::PathBuf;

/// The network and its data.
#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// Layer widths from input to output, e.g. 2-3-1 (several hidden layers allowed: 2-4-4-1).
    #[arg(long, allow_hyphen_values = true, required_unless_present_any = ["config", "resume"])]
    pub model: Option<String>,
    /// Activation of the hidden layers: tanh, sigmoid, relu, softplus or linear.
    #[arg(long, default_value = "tanh")]
    pub act: Activation,
    /// Activation of the output layer: linear, sigmoid or tanh.
    #[arg(long = "out-act", default_value = "linear")]
    pub out_act: Activation,
    /// Leave out every bias vector.
    #[arg(long = "no-bias")]
    pub no_bias: bool,
    /// Data: xor, xor:pm, teacher:n=N,seed=S[,width=W][,noise=σ], point:x=…,y=… or csv:PATH.
    #[arg(long, required_unless_present_any = ["config", "resume"])]
    pub data: Option<String>,
}

impl ModelArgs {
    /// The network and data asked for.
    pub fn request(&self) -> crate::Result<ProblemRequest> {
        let missing = |flag: &str| crate::Error::spec(flag, "missing; expected a value");
        Ok(ProblemRequest {
            model: self.model.clone().ok_or_else(|| missing("--model"))?,
            act: self.act,
            out_act: self.out_act,
            bias: !self.no_bias,
            data: self.data.clone().ok_or_else(|| missing("--data"))?,
            arrays: None,
        })
    }
}

/// Where and how to compute, and where to write.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// auto: a hardware GPU if there is one, else the CPU; gpu: any wgpu adapter, software included; cpu.
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: BackendChoice,
    /// Pick an adapter by index or by part of its name (see `landscape adapters`), or
    /// local-rank: the GPU of this process's rank on its node (SLURM_LOCALID, else LOCAL_RANK).
    #[arg(long)]
    pub adapter: Option<String>,
    /// Output directory (default runs/<command>-<time>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace an existing run directory (one with a run.json, checkpoint or REPORT.md; other
    /// directories are never replaced).
    #[arg(long)]
    pub force: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
    /// Repeat the run recorded in DIR/run.json (or that file) exactly; only --out, --force,
    /// --quiet, --shard and --adapter may be given with it.
    #[arg(long, value_name = "RUN")]
    pub config: Option<PathBuf>,
    /// Continue the interrupted run in DIR (walk and map) from its checkpoint.
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    /// Compute only block i (from 0) of N of the walkers or lattice points: i/N, auto (from a
    /// Slurm job array) or auto/N (from a Kubernetes indexed job); `landscape merge` joins the
    /// shards into the whole run.
    #[arg(long, value_name = "i/N|auto", allow_hyphen_values = true)]
    pub shard: Option<String>,
}

impl RunArgs {
    /// The shard asked for (`--shard`), the scheduler's variables read for `auto`.
    pub fn shard(&self) -> crate::Result<Option<crate::run::shard::Shard>> {
        self.shard
            .as_deref()
            .map(|s| crate::run::shard::Shard::parse(s, &crate::run::shard::process_env))
            .transpose()
    }

    /// The run directory for a command that computes: `--out` (or the default) with `--force`,
    /// except that a resumed run lands where it was stopped.
    pub fn run_dir(&self, command: Command) -> crate::Result<crate::output::run_dir::RunDir> {
        let (out, force) = match &self.resume {
            Some(dir) => (Some(dir.as_path()), true),
            None => (self.out.as_deref(), self.force),
        };
        crate::output::run_dir::RunDir::create(out, command.name(), force)
    }
}

/// Opens the backend asked for, printing which one (and why, when `auto` fell back to the CPU)
/// unless `quiet`.
pub fn open_backend(
    choice: BackendChoice,
    adapter: Option<&str>,
    quiet: bool,
) -> crate::Result<Box<dyn Backend>> {
    let (b, note) = backend::open(choice, adapter).map_err(flagged)?;
    if !quiet {
        if choice == BackendChoice::Cpu && adapter.is_some() {
            eprintln!("note: --adapter ignored: it applies to GPU backends only");
        }
        if let Some(note) = note {
            eprintln!("note: {note}");
        }
        eprintln!("backend: {}", b.info());
    }
    Ok(b)
}

/// A slice through parameter space: `--origin` and `--axis`, or `--plane`.
#[derive(Debug, Clone, Args)]
pub struct SliceArgs {
    /// Origin of the slice: zeros, teacher, random:SEED or FILE.npy (float32/64, length P).
    #[arg(long)]
    pub origin: Option<String>,
    /// An axis: NAME=LO:HI:N (e.g. w1[0,1]=-3:3:512), random:SEED=LO:HI:N,
    /// toward:FILE.npy=LO:HI:N or dir:V=LO:HI:N (V a .npy file or a comma list of P numbers).
    #[arg(long = "axis")]
    pub axes: Vec<String>,
    /// Shorthand for origin A and axes toward B and C: A.npy,B.npy,C.npy (t from −0.5 to 1.5, 201 points).
    #[arg(long)]
    pub plane: Option<String>,
}

impl SliceArgs {
    /// The slice asked for.
    pub fn request(&self) -> SliceRequest {
        SliceRequest {
            origin: self.origin.clone(),
            axes: self.axes.clone(),
            plane: self.plane.clone(),
        }
    }
}

/// Gradient-descent settings shared by `walk` and `map`.
#[derive(Debug, Clone, Args)]
pub struct DescentArgs {
    /// Learning rate.
    #[arg(long, allow_hyphen_values = true, default_value_t = 0.05)]
    pub lr: f64,
    /// Heavy-ball momentum β in [0, 1).
    #[arg(long, allow_hyphen_values = true, default_value_t = 0.0)]
    pub momentum: f64,
    /// Maximum number of steps.
    #[arg(long, allow_negative_numbers = true, default_value_t = 1000)]
    pub steps: u32,
    /// Converged when ‖∇L‖ < tol (0: never; every walker takes all its steps).
    #[arg(long, allow_hyphen_values = true, default_value_t = 1e-5)]
    pub tol: f64,
    /// Diverged when ‖θ‖∞ > this.
    #[arg(long, allow_hyphen_values = true, default_value_t = 1e4)]
    pub diverge: f64,
}

impl DescentArgs {
    /// The settings asked for (validated with the rest of the request).
    pub fn settings(&self) -> WalkSettings {
        WalkSettings {
            lr: self.lr,
            momentum: self.momentum,
            steps: self.steps,
            tol: self.tol,
            diverge: self.diverge,
        }
    }
}

/// How walkers still moving at `--steps` are finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FinishBy {
    /// Analyse them where they stopped.
    None,
    /// Continue them by gradient flow with adaptive steps until ‖∇L‖ < --tol, as gradient
    /// descent would (one per group of nearby ends; the others placed by it).
    Flow,
}

/// Flags that finish walkers still moving at `--steps`.
#[derive(Debug, Clone, Args)]
pub struct FinishArgs {
    /// Continue walkers still moving at --steps by gradient descent on the backend, in rounds,
    /// up to this many steps in all.
    #[arg(long, value_name = "STEPS", allow_negative_numbers = true)]
    pub extend: Option<u32>,
    /// Then finish those still moving by gradient flow (`flow`), or analyse them where they
    /// stopped (`none`). Default: `flow` for `map` when descent is plain (--momentum 0, --tol
    /// above 0), else `none`.
    #[arg(long, value_enum)]
    pub finish: Option<FinishBy>,
    /// Most ends the analysis takes (continues, polishes, classifies); the other walkers are
    /// placed by the nearest of them. Default: 4096 up to 200 parameters, fewer above.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub cap: Option<u32>,
}

impl FinishArgs {
    /// The continuation asked for; `map` finishes by the flow unless told otherwise or the
    /// descent is not plain.
    pub fn request(&self, descent: &WalkSettings, map: bool) -> Finish {
        let flow = match self.finish {
            Some(by) => by == FinishBy::Flow,
            None => map && descent.momentum == 0.0 && descent.tol > 0.0,
        };
        Finish {
            extend: self.extend,
            flow,
            cap: self.cap,
        }
    }
}

/// The flag a clap argument id is given with.
fn flag_of(id: &str) -> String {
    match id {
        "axes" => "--axis".into(),
        other => format!("--{}", other.replace('_', "-")),
    }
}

/// Where a command's request came from.
pub enum Replay {
    /// The command line.
    Fresh,
    /// `--config`: a recorded run, repeated.
    Config,
    /// `--resume`: an interrupted run, continued from its checkpoint.
    Resume(Box<Checkpoint>),
}

/// The request to run: the one the command line makes (`fresh`), the one recorded in a run's
/// run.json (`--config`), or an interrupted run's (`--resume`). `explicit` are the ids of the
/// arguments given on the command line: with `--config` only the output flags (`--out`,
/// `--force`, `--quiet`) may be given, with `--resume` only `--quiet`; any other is refused, so
/// that nothing the user typed is silently ignored.
pub fn replay(
    command: Command,
    run: &RunArgs,
    explicit: &[String],
    fresh: impl FnOnce() -> crate::Result<Request>,
) -> crate::Result<(Request, Replay)> {
    let refuse = |flag: &str, allowed: &[&str]| -> crate::Result<()> {
        match explicit.iter().find(|id| !allowed.contains(&id.as_str())) {
            Some(id) => Err(crate::Error::spec(
                flag,
                format!(
                    "cannot be combined with {}: the run's settings come from its record (only {} may be given)",
                    flag_of(id),
                    allowed
                        .iter()
                        .filter(|a| **a != flag.trim_start_matches('-'))
                        .map(|a| flag_of(a))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
            None => Ok(()),
        }
    };
    let (request, replay) = if let Some(dir) = &run.resume {
        refuse("--resume", &["resume", "quiet"])?;
        if run.config.is_some() {
            return Err(crate::Error::spec(
                "--resume",
                "cannot be combined with --config",
            ));
        }
        let checkpoint = find_checkpoint(dir, command)?;
        (
            checkpoint.request.clone(),
            Replay::Resume(Box::new(checkpoint)),
        )
    } else if let Some(path) = &run.config {
        refuse(
            "--config",
            &["config", "out", "force", "quiet", "shard", "adapter"],
        )?;
        let file = if path.is_dir() {
            path.join("run.json")
        } else {
            path.clone()
        };
        let record = RunRecord::read(&file)?;
        if record.command() != command {
            return Err(crate::Error::file(
                &file,
                format!(
                    "records a `{}` run; expected one of `{command}`",
                    record.command()
                ),
            ));
        }
        let mut request = record.request();
        // The backend that ran, not `auto`'s choice on this machine.
        if let Some(info) = record.backend() {
            let (backend, adapter) = match &mut request {
                Request::Grid(r) => (&mut r.backend, &mut r.adapter),
                Request::Walk(r) => (&mut r.backend, &mut r.adapter),
                Request::Map(r) => (&mut r.backend, &mut r.adapter),
            };
            if *backend == BackendChoice::Auto {
                if info.backend == "cpu" {
                    *backend = BackendChoice::Cpu;
                } else if info.backend == "gpu" {
                    *backend = BackendChoice::Gpu;
                    adapter.get_or_insert_with(|| info.adapter.clone());
                }
            }
        }
        // A recorded run may be repeated as one shard of it (a cluster's job array repeats one
        // specification with --config and --shard auto), on the adapter given (which GPU of a
        // node runs it changes no number the fingerprint covers).
        let mut request = match run.shard()? {
            Some(shard) => request.with_shard(Some(shard)),
            None => request,
        };
        if let Some(a) = &run.adapter {
            match &mut request {
                Request::Grid(r) => r.adapter = Some(a.clone()),
                Request::Walk(r) => r.adapter = Some(a.clone()),
                Request::Map(r) => r.adapter = Some(a.clone()),
            }
        }
        (request, Replay::Config)
    } else {
        (fresh()?, Replay::Fresh)
    };
    let cwd = match &request {
        Request::Grid(r) => r.cwd.clone(),
        Request::Walk(r) => r.cwd.clone(),
        Request::Map(r) => r.cwd.clone(),
    };
    if !matches!(replay, Replay::Fresh) {
        crate::spec::set_input_base(cwd);
    }
    Ok((request, replay))
}

/// A request of another command than the one running: never made by `replay`, which checks the
/// command of every record it reads.
pub fn wrong_command(request: &Request, command: Command) -> crate::Error {
    crate::Error::spec(
        "--config",
        format!(
            "holds a `{}` run; expected one of `{command}`",
            request.command()
        ),
    )
}

/// The counts as run.json's `summary.counts`: status name → walkers.
pub fn counts_json(counts: &[(Status, usize)]) -> std::collections::BTreeMap<String, usize> {
    counts
        .iter()
        .map(|(s, c)| (s.name().to_string(), *c))
        .collect()
}

/// The counts as summary lines on stderr, with each status's share of all walkers.
pub fn print_counts(counts: &[(Status, usize)]) {
    let m: usize = counts.iter().map(|(_, c)| c).sum();
    for (s, c) in counts {
        eprintln!(
            "  {:<11} {c:>10}  ({:5.1}%)",
            s.name(),
            100.0 * *c as f64 / m.max(1) as f64
        );
    }
}

/// A backend's error about one of its settings told as an error of the flag that set it.
pub fn flagged(e: crate::Error) -> crate::Error {
    e.for_flag("adapter", "--adapter")
        .for_flag("workgroup size", "--workgroup-size")
}
