//! Flags shared by every command that computes: model, data, backend and output.

use crate::backend::{self, Backend, BackendChoice};
use crate::spec::data::DataSource;
use crate::spec::model::{Activation, Model};
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
