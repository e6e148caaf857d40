//! `landscape` maps the loss landscape of small neural networks trained with mean-squared error.
//!
//! MSE is a parabola in the network's *predictions*; as a function of the *weights* of a network
//! with a hidden layer it has many stationary points, because permuting (and, for odd
//! activations, sign-flipping) hidden units leaves the function unchanged. This crate evaluates
//! the loss L(θ) = (1/N) Σ_i ‖f(x_i; θ) − y_i‖² and its gradient over dense parameter lattices, on
//! the GPU (WGSL through wgpu) or on a multi-threaded CPU backend, both checked against a float64
//! reference.
//!
//! The library's entry points are in [`run`]: a request names a network, its data and what to
//! compute as a user would type them; validated, it becomes a specification that [`run::grid`],
//! [`run::walk`], [`run::map`] and [`run::basins`] turn into typed results. The command line
//! (`landscape grid|walk|map|basins|demo`) is a thin layer over these functions, and
//! [`record`] holds the types of the files it writes.
//!
//! Walk 200 gradient-descent walkers on a 2-3-1 tanh student of a 2-3-1 teacher on the CPU and
//! group where they end into classes of stationary points:
//!
//! ```
//! use landscape::backend::cpu::CpuBackend;
//! use landscape::run::{self, ProblemRequest, WalkSpec};
//!
//! let problem = ProblemRequest::new("2-3-1", "teacher:n=64,seed=1").validate()?;
//! let mut spec = WalkSpec::new(problem, 200);
//! (spec.descent.lr, spec.descent.momentum, spec.descent.steps) = (0.1, 0.9, 4000);
//! let walk = run::walk(&mut CpuBackend::new(), &spec)?;
//! let report = run::basins(&spec.problem, &walk.output);
//! let lowest = &report.classes[0]; // the teacher's minimum, in several of its 3!·2³ copies
//! assert!(lowest.loss < 1e-8 && lowest.index == 0 && lowest.copies_found > 1);
//! print!("{}", report.table());
//! # Ok::<(), landscape::Error>(())
//! ```
//!
//! Below the entry points, the backends evaluate the loss on any lattice through parameter
//! space — here the seed example, a 1-1-1 linear net on one sample (x = 1, y = 1), along
//! w1 = w2 = t:
//!
//! ```
//! use landscape::backend::{Backend, cpu::CpuBackend};
//! use landscape::spec::{data::DataSource, model::{Activation, Model}, slice::build_slice};
//!
//! let model = Model::new("1-1-1", Activation::Linear, Activation::Linear, false)?;
//! let data = DataSource::parse("point:x=1,y=1", &model)?.data;
//! let slice = build_slice(&model, None, Some("zeros"), &["dir:1,1=-1.5:1.5:301".into()], None)?;
//! let eval = CpuBackend::new().evaluate_lattice(&model, &data, &slice, 0..slice.len(), false)?;
//! let t = slice.axes[0].value(250); // t = 1
//! assert!((eval.loss[250] as f64 - (1.0 - t * t).powi(2)).abs() < 1e-6);
//! # Ok::<(), landscape::Error>(())
//! ```

// The layers below, re-exported under the names the library has always had.
pub use landscape_analysis as analysis;
pub use landscape_core::{Error, Result, error, npy, reference, rng, spec};

pub mod backend;
pub mod bench;
pub mod cli;
pub mod interrupt;
pub mod output;
pub mod record;
pub mod run;
