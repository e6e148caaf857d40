//! boundary.json: how the basins of a map meet (see [`crate::analysis::boundary`] for the
//! definitions, which README repeats).

use crate::analysis::boundary::{ENTROPY_BOX, LogFit, Statistics, statistics};
use crate::error::Result;
use crate::record::{self, FORMAT};
use crate::spec::walk::Status;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// What a pixel's outcome is, in words.
pub const OUTCOME_DEFINITION: &str = "the basin its walker ended in: its class and copy where it has one (labels.npy), else how it ended (status.npy: diverged, non-finite, still moving, …), each a basin of its own";

/// The outcome of each pixel: (class, copy) where the walker has a class, else its status.
pub fn outcomes(labels: &[i32], status: &[u32]) -> Vec<i64> {
    status
        .iter()
        .enumerate()
        .map(|(w, &s)| {
            let (class, copy) = (labels[2 * w], labels[2 * w + 1]);
            if class >= 0 {
                (i64::from(class) << 32) + i64::from(copy) + 1
            } else {
                -1 - i64::from(s)
            }
        })
        .collect()
}

/// A fit of boundary.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FitRecord {
    /// The statistic (D or α).
    pub value: f64,
    /// The standard error of the fit's slope.
    pub error: f64,
    /// The smallest and largest scale fitted, in pixels.
    pub fit_range: [f64; 2],
    /// The points fitted: (scale in pixels, N(s) or f(ε)).
    pub points: Vec<[f64; 2]>,
}

impl FitRecord {
    fn of(f: &LogFit) -> FitRecord {
        let first = f.points.first().map_or(0.0, |p| p.0);
        let last = f.points.last().map_or(0.0, |p| p.0);
        FitRecord {
            value: f.slope,
            error: f.error,
            fit_range: [first, last],
            points: f.points.iter().map(|&(x, y)| [x, y]).collect(),
        }
    }
}

/// The basin entropy of boundary.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntropyRecord {
    /// The boxes' side, in pixels.
    pub box_pixels: usize,
    /// Whole boxes in the map.
    pub boxes: usize,
    /// Of them, those holding more than one outcome.
    pub boundary_boxes: usize,
    /// S_b (none where no whole box fits).
    pub basin_entropy: Option<f64>,
    /// S_bb (none without boundary boxes).
    pub boundary_basin_entropy: Option<f64>,
    /// ln 2.
    pub ln2: f64,
    /// "fractal" where S_bb > ln 2 (a sufficient condition), else "undecided".
    pub ln2_criterion: String,
}

/// boundary.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoundaryRecord {
    /// [`FORMAT`].
    pub format: u32,
    /// The map's pixels along its first and second axes.
    pub shape: [usize; 2],
    /// What a pixel's outcome is.
    pub outcome: String,
    /// Distinct outcomes.
    pub outcomes: usize,
    /// Pixels whose right or lower neighbour has another outcome.
    pub boundary_pixels: usize,
    /// The box-counting dimension D of the boundary (none with fewer than two box sizes holding
    /// it).
    pub box_counting_dimension: Option<FitRecord>,
    /// The uncertainty exponent α (none where no pixel is uncertain).
    pub uncertainty_exponent: Option<FitRecord>,
    /// 2 − α: the boundary's dimension by the uncertainty exponent.
    pub dimension_from_alpha: Option<f64>,
    /// The basin entropy and the boundary basin entropy.
    pub entropy: EntropyRecord,
    /// The definitions, in words.
    pub definitions: Vec<String>,
}

/// The definitions, as boundary.json and README state them.
pub const DEFINITIONS: [&str; 4] = [
    "boundary pixel: a pixel whose right or lower neighbour has another outcome",
    "D: minus the least-squares slope of ln N(s) on ln s, N(s) the boxes of s × s pixels (tiling from the first pixel, the last ones partial) holding a boundary pixel, s = 2, 4, 8, … while the shorter side holds at least 4 boxes",
    "α: the least-squares slope of ln f(ε) on ln ε, f(ε) the fraction of pixels with another outcome within Chebyshev distance ε, among the pixels at least the largest ε from every edge, ε = 1, 2, 4, … while 2ε + 1 is at most a quarter of the shorter side",
    "S_b: the mean over whole boxes of b × b pixels of −Σ_j p_j ln p_j, p_j the share of the box's pixels with outcome j; S_bb: the same mean over the boxes holding more than one outcome; S_bb > ln 2 suffices for a fractal boundary",
];

impl BoundaryRecord {
    /// The record of `s`.
    pub fn of(s: &Statistics) -> BoundaryRecord {
        let ln2 = std::f64::consts::LN_2;
        BoundaryRecord {
            format: FORMAT,
            shape: s.shape,
            outcome: OUTCOME_DEFINITION.to_string(),
            outcomes: s.outcomes,
            boundary_pixels: s.boundary_pixels,
            box_counting_dimension: s.dimension.as_ref().map(FitRecord::of),
            uncertainty_exponent: s.alpha.as_ref().map(FitRecord::of),
            dimension_from_alpha: s.alpha.as_ref().map(|a| 2.0 - a.slope),
            entropy: EntropyRecord {
                box_pixels: s.entropy_box,
                boxes: s.boxes.0,
                boundary_boxes: s.boxes.1,
                basin_entropy: s.basin_entropy,
                boundary_basin_entropy: s.boundary_basin_entropy,
                ln2,
                ln2_criterion: if s.boundary_basin_entropy.is_some_and(|v| v > ln2) {
                    "fractal".into()
                } else {
                    "undecided".into()
                },
            },
            definitions: DEFINITIONS.iter().map(|d| d.to_string()).collect(),
        }
    }
}

/// The boundary as run.json's summary records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoundarySummary {
    /// boundary.json.
    pub file: String,
    /// D.
    pub dimension: Option<f64>,
    /// α.
    pub uncertainty_exponent: Option<f64>,
    /// S_b.
    pub basin_entropy: Option<f64>,
    /// S_bb.
    pub boundary_basin_entropy: Option<f64>,
}

/// The boundary statistics of a map of `shape` pixels, written to `dir`/boundary.json.
pub fn write(
    dir: &Path,
    shape: [usize; 2],
    labels: &[i32],
    status: &[u32],
) -> Result<(Statistics, BoundarySummary)> {
    write_with_box(dir, shape, labels, status, ENTROPY_BOX)
}

/// [`write`] with the basin entropy's boxes of `b` × `b` pixels.
pub fn write_with_box(
    dir: &Path,
    shape: [usize; 2],
    labels: &[i32],
    status: &[u32],
    b: usize,
) -> Result<(Statistics, BoundarySummary)> {
    let stats = statistics(&outcomes(labels, status), shape[0], shape[1], b);
    record::write_json(&dir.join("boundary.json"), &BoundaryRecord::of(&stats))?;
    let summary = BoundarySummary {
        file: "boundary.json".into(),
        dimension: stats.dimension.as_ref().map(|f| f.slope),
        uncertainty_exponent: stats.alpha.as_ref().map(|f| f.slope),
        basin_entropy: stats.basin_entropy,
        boundary_basin_entropy: stats.boundary_basin_entropy,
    };
    Ok((stats, summary))
}

/// The statistics in one line, for the summary.
pub fn line(s: &BoundarySummary) -> String {
    let v = |x: Option<f64>| x.map_or("n/a".to_string(), |x| format!("{x:.3}"));
    let sbb = s.boundary_basin_entropy.map_or("n/a".to_string(), |x| {
        let verdict = if x > std::f64::consts::LN_2 {
            " > ln 2: fractal"
        } else {
            " ≤ ln 2: undecided"
        };
        format!("{x:.3}{verdict}")
    });
    format!(
        "boundary ({}): box-counting dimension {}, uncertainty exponent α {}, basin entropy S_b {}, boundary basin entropy S_bb {sbb}",
        s.file,
        v(s.dimension),
        v(s.uncertainty_exponent),
        v(s.basin_entropy)
    )
}

/// Status codes count as outcomes apart from classes: checked against the code range.
const _: () = assert!(Status::ALL.len() < 64);
