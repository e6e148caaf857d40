//! Outputs: the run directory, arrays, run.json and pictures.

pub mod basins;
pub mod plot;
pub mod progress;
pub mod report;
pub mod run_dir;

pub use landscape_core::count;
