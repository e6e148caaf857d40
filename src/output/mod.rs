//! Outputs: the run directory, arrays, run.json and pictures.

pub mod basin_map;
pub mod basins;
pub mod boundary;
pub mod plot;
pub mod progress;
pub mod report;
pub mod run_dir;
pub mod score;

pub use landscape_core::count;

use crate::error::{Error, Result};
use std::path::Path;

/// Writes a file through a temporary name beside it, so that a reader never sees half of it.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|source| Error::Io {
        path: tmp.clone(),
        source,
    })?;
    std::fs::rename(&tmp, path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}
