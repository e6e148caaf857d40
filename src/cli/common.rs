//! Flags shared by every command that computes: model, data, backend and output.

use crate::backend::{self, Backend, BackendChoice};
use crate::spec::data::{DataSource, Teacher};
use crate::spec::model::{Activation, Model};
use crate::spec::slice::{Slice, build_slice};
use crate::spec::walk::WalkSettings;
use clap::Args;
use std::path::PathBuf;

/// The network and its data.
#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// Layer widths from input to output, e.g. 2-3-1 (several hidden layers allowed: 2-4-4-1).
    #[arg(long)]
    pub model: String,
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
    #[arg(long)]
    pub data: String,
}

impl ModelArgs {
    /// The validated model and data.
    pub fn resolve(&self) -> crate::Result<(Model, DataSource)> {
        let model = Model::new(&self.model, self.act, self.out_act, !self.no_bias)?;
        let data = DataSource::parse(&self.data, &model)?;
        Ok((model, data))
    }
}

/// Where and how to compute, and where to write.
#[derive(Debug, Clone, Args)]
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
    /// Replace an existing non-empty output directory.
    #[arg(long)]
    pub force: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

impl RunArgs {
    /// Opens the backend, printing which one (and why, when `auto` fell back to the CPU).
    pub fn open_backend(&self) -> crate::Result<Box<dyn Backend>> {
        let (b, note) = backend::open(self.backend, self.adapter.as_deref())?;
        if !self.quiet {
            if let Some(note) = note {
                eprintln!("note: {note}");
            }
            eprintln!("backend: {}", b.info());
        }
        Ok(b)
    }
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
#[derive(Debug, Clone, Args)]
pub struct DescentArgs {
    /// Learning rate.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.05)]
    pub lr: f64,
    /// Heavy-ball momentum β in [0, 1).
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.0)]
    pub momentum: f64,
    /// Maximum number of steps.
    #[arg(long, allow_negative_numbers = true, default_value_t = 1000)]
    pub steps: u32,
    /// Converged when ‖∇L‖ < tol.
    #[arg(long, allow_negative_numbers = true, default_value_t = 1e-5)]
    pub tol: f64,
    /// Diverged when ‖θ‖∞ > this.
    #[arg(long, allow_negative_numbers = true, default_value_t = 1e4)]
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
