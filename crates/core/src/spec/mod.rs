//! Specifications: what the user asked for, validated. Model, data, slice.

pub mod data;
pub mod model;
pub mod slice;
pub mod walk;

use std::path::{Path, PathBuf};
use std::sync::RwLock;

/// The directory that relative input paths (`csv:FILE`, `FILE.npy` origins, axes and planes) are
/// read from, when it is not the current one: a repeated or resumed run reads the files of the
/// run it repeats, from where that run was started.
static INPUT_BASE: RwLock<Option<PathBuf>> = RwLock::new(None);

/// Reads relative input paths from `base` from now on (`None`: the current directory).
pub fn set_input_base(base: Option<PathBuf>) {
    if let Ok(mut b) = INPUT_BASE.write() {
        *b = base;
    }
}

/// The path an input file named `name` on the command line is read from.
pub fn input_path(name: &str) -> PathBuf {
    let path = Path::new(name);
    match INPUT_BASE.read().ok().and_then(|b| b.clone()) {
        Some(base) if path.is_relative() => base.join(path),
        _ => path.to_path_buf(),
    }
}
