//! Headless PNG plots for loss landscapes: curves, heatmaps and min-projections, with an embedded font.

mod axes;
mod canvas;
mod colorbar;
mod colormap;
mod contour;
mod curve;
mod heatmap;
mod lattice;
mod map;
mod projection;
mod ticks;
mod tree;

use std::io;

pub use curve::curve_png;
pub use heatmap::{Overlay, heatmap_overlay_png, heatmap_png};
pub use map::{LegendKey, MapLegendEntry, MapPixel, Neutral, PALE, ScalarBar, map_png};
pub use projection::{min_project, projections_png};
pub use tree::{TreeNode, tree_png};

/// A labelled axis of a plot: name shown to the user (e.g. `w1[0,1]` or "t along dir"), and its coordinate values (monotone increasing, length ≥ 1).
#[derive(Debug, Clone, PartialEq)]
pub struct AxisInfo {
    /// Name shown next to the axis.
    pub label: String,
    /// Coordinate values, monotone increasing, length ≥ 1.
    pub values: Vec<f64>,
}

/// An `InvalidInput` error carrying `msg`.
fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// Rejects empty, non-finite or decreasing axes.
fn check_axis(a: &AxisInfo, what: &str) -> io::Result<()> {
    if a.values.is_empty() {
        return Err(invalid(format!("{what} axis '{}' has no values", a.label)));
    }
    if a.values.iter().any(|v| !v.is_finite()) {
        return Err(invalid(format!(
            "{what} axis '{}' has non-finite values",
            a.label
        )));
    }
    if a.values.windows(2).any(|w| w[1] < w[0]) {
        return Err(invalid(format!(
            "{what} axis '{}' is not increasing",
            a.label
        )));
    }
    Ok(())
}

/// Rejects marker indices outside `0..len`.
fn check_indices(idx: &[usize], len: usize, what: &str) -> io::Result<()> {
    match idx.iter().find(|&&k| k >= len) {
        Some(k) => Err(invalid(format!(
            "{what} index {k} is out of range for {len} values"
        ))),
        None => Ok(()),
    }
}

/// A fresh per-test output directory under the system temp dir.
#[cfg(test)]
fn test_dir(name: &str) -> io::Result<std::path::PathBuf> {
    let d = std::env::temp_dir()
        .join(format!("plotdev-test-{}", std::process::id()))
        .join(name);
    std::fs::create_dir_all(&d)?;
    Ok(d)
}
