//! Flags shared by every command that computes: model, data, backend and output.

use super::blocks::{CHECKPOINT_JSON, Checkpoint, find_checkpoint};
use crate::backend::{self, Backend, BackendChoice};
use crate::spec::data::{DataSource, Teacher};
use crate::spec::model::{Activation, Model};
use crate::spec::slice::{Slice, build_slice};
use crate::spec::walk::{Status, WalkSettings};
use clap::Args;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The network and its data.
#[derive(Debug, Clone, Args, Serialize, Deserialize)]
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
    /// The validated model and data.
    pub fn resolve(&self) -> crate::Result<(Model, DataSource)> {
        let missing = |flag: &str| crate::Error::spec(flag, "missing; expected a value");
        let widths = self.model.as_deref().ok_or_else(|| missing("--model"))?;
        let model = Model::new(widths, self.act, self.out_act, !self.no_bias)?;
        let data = DataSource::parse(
            self.data.as_deref().ok_or_else(|| missing("--data"))?,
            &model,
        )?;
        Ok((model, data))
    }
}

/// Where and how to compute, and where to write.
#[derive(Debug, Clone, Args, Serialize, Deserialize)]
pub struct RunArgs {
    /// auto: a hardware GPU if there is one, else the CPU; gpu: any wgpu adapter, software included; cpu.
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: BackendChoice,
    /// Pick an adapter by index or by part of its name (see `landscape adapters`).
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
    /// Repeat the run recorded in DIR/run.json (or that file) exactly; only --out, --force and
    /// --quiet may be given with it.
    #[arg(long, value_name = "RUN")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Continue the interrupted run in DIR (walk and map) from its checkpoint.
    #[arg(long, value_name = "DIR")]
    #[serde(skip)]
    pub resume: Option<PathBuf>,
    /// The directory the run was started in, recorded so that `--config` and `--resume` read
    /// relative input paths from there wherever they are run.
    #[arg(skip)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<PathBuf>,
}

impl RunArgs {
    /// Opens the backend, printing which one (and why, when `auto` fell back to the CPU).
    pub fn open_backend(&self) -> crate::Result<Box<dyn Backend>> {
        let (b, note) = backend::open(self.backend, self.adapter.as_deref()).map_err(flagged)?;
        if !self.quiet {
            if self.backend == BackendChoice::Cpu && self.adapter.is_some() {
                eprintln!("note: --adapter ignored: it applies to GPU backends only");
            }
            if let Some(note) = note {
                eprintln!("note: {note}");
            }
            eprintln!("backend: {}", b.info());
        }
        Ok(b)
    }
}

/// A slice through parameter space: `--origin` and `--axis`, or `--plane`.
#[derive(Debug, Clone, Args, Serialize, Deserialize)]
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
    /// The validated slice.
    pub fn resolve(&self, model: &Model, teacher: Option<&Teacher>) -> crate::Result<Slice> {
        build_slice(
            model,
            teacher,
            self.origin.as_deref(),
            &self.axes,
            self.plane.as_deref(),
        )
    }

    /// The origin as recorded in run.json.
    pub fn origin_spec(&self) -> &str {
        self.origin.as_deref().unwrap_or(if self.plane.is_some() {
            "plane"
        } else {
            "zeros"
        })
    }
}

/// Gradient-descent settings shared by `walk` and `map`.
#[derive(Debug, Clone, Args, Serialize, Deserialize)]
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
    /// The validated settings.
    pub fn settings(&self) -> crate::Result<WalkSettings> {
        let s = WalkSettings {
            lr: self.lr,
            momentum: self.momentum,
            steps: self.steps,
            tol: self.tol,
            diverge: self.diverge,
        };
        s.validate()?;
        Ok(s)
    }
}

/// The flag a clap argument id is given with.
fn flag_of(id: &str) -> String {
    match id {
        "axes" => "--axis".into(),
        other => format!("--{}", other.replace('_', "-")),
    }
}

/// Where a command's arguments came from.
pub enum Replay {
    /// The command line.
    Fresh,
    /// `--config`: a recorded run, repeated.
    Config,
    /// `--resume`: an interrupted run, continued from its checkpoint.
    Resume(Box<Checkpoint>),
}

/// Applies `--config` and `--resume`: the arguments recorded for `command` replace those on the
/// command line, except the output flags (`--out`, `--force`, `--quiet` for `--config`;
/// `--quiet` for `--resume`, whose output is the interrupted run's directory). `explicit` are the
/// ids of the arguments given on the command line; any other is refused, so that nothing the
/// user typed is silently ignored.
pub fn replay<T: Serialize + DeserializeOwned>(
    args: T,
    run: fn(&mut T) -> &mut RunArgs,
    explicit: &[String],
    command: &str,
) -> crate::Result<(T, Replay)> {
    let mut args = args;
    let given = run(&mut args).clone();
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
    if let Some(dir) = &given.resume {
        refuse("--resume", &["resume", "quiet"])?;
        if given.config.is_some() {
            return Err(crate::Error::spec(
                "--resume",
                "cannot be combined with --config",
            ));
        }
        let checkpoint = find_checkpoint(dir, command)?;
        let mut replayed: T = serde_json::from_value(checkpoint.description["args"].clone())
            .map_err(|e| {
                crate::Error::file(
                    checkpoint.dir.join(CHECKPOINT_JSON),
                    format!("does not hold the arguments of `{command}` ({e})"),
                )
            })?;
        let r = run(&mut replayed);
        r.out = Some(dir.clone());
        r.force = true;
        r.quiet = given.quiet;
        crate::spec::set_input_base(r.cwd.clone());
        return Ok((replayed, Replay::Resume(Box::new(checkpoint))));
    }
    if let Some(path) = &given.config {
        refuse("--config", &["config", "out", "force", "quiet"])?;
        let file = if path.is_dir() {
            path.join("run.json")
        } else {
            path.clone()
        };
        let text = std::fs::read_to_string(&file).map_err(|e| {
            crate::Error::file(&file, format!("cannot be read ({e}); expected a run.json"))
        })?;
        let record: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| crate::Error::file(&file, format!("is not valid JSON ({e})")))?;
        if record["command"] != command {
            return Err(crate::Error::file(
                &file,
                format!(
                    "records a `{}` run; expected one of `{command}`",
                    record["command"].as_str().unwrap_or("unknown")
                ),
            ));
        }
        let mut replayed: T = serde_json::from_value(record["args"].clone()).map_err(|e| {
            crate::Error::file(
                &file,
                format!("does not hold the arguments of `{command}` ({e}); expected the run.json of a `{command}` run"),
            )
        })?;
        let r = run(&mut replayed);
        r.out = given.out.clone();
        r.force = given.force;
        r.quiet = given.quiet;
        // The backend that ran, not `auto`'s choice on this machine.
        if r.backend == BackendChoice::Auto {
            match record["backend"]["backend"].as_str() {
                Some("cpu") => r.backend = BackendChoice::Cpu,
                Some("gpu") => {
                    r.backend = BackendChoice::Gpu;
                    if r.adapter.is_none() {
                        r.adapter = record["backend"]["adapter"].as_str().map(str::to_string);
                    }
                }
                _ => {}
            }
        }
        crate::spec::set_input_base(r.cwd.clone());
        return Ok((replayed, Replay::Config));
    }
    run(&mut args).cwd = std::env::current_dir().ok();
    Ok((args, Replay::Fresh))
}

/// How many walkers ended with each status, in `Status::ALL`'s order.
pub fn status_counts(status: &[u32]) -> Vec<(Status, usize)> {
    Status::ALL
        .iter()
        .map(|&s| (s, status.iter().filter(|&&c| c == s as u32).count()))
        .collect()
}

/// The counts as run.json's `summary.counts`: status name → walkers.
pub fn counts_json(counts: &[(Status, usize)]) -> std::collections::BTreeMap<&'static str, usize> {
    counts.iter().map(|(s, c)| (s.name(), *c)).collect()
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
