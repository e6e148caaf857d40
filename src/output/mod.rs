//! Outputs: the run directory, arrays, run.json and pictures.

pub mod plot;
pub mod run_dir;
