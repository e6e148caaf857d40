//! All integration tests, in one binary: backend parity, the truths of SPEC, shader validation
//! and the command line.

mod basins;
mod cli;
mod cli_walk;
mod common;
mod parity;
mod readme;
mod report;
mod shaders;
mod truths;
mod walk;
