//! All integration tests, in one binary: backend parity, the truths of SPEC, shader validation
//! and the command line.

mod bad_input;
mod basins;
mod cli;
mod cli_walk;
mod common;
mod connect;
mod curvature;
mod interop;
mod lrmap;
mod parity;
mod parsers_never_panic;
mod placement;
mod python;
mod readme;
mod report;
mod resume;
mod shaders;
mod shard;
mod slurm;
mod truths;
mod walk;
