//! Lattice geometry: pixel blocks per cell, cell ranges per pixel, and coordinate ↔ index maps.

use super::canvas::Canvas;
use super::ticks::{self, PxTick};

/// Pixels along one heat axis for `n` cells: whole-pixel blocks when upscaling, `max` when downsampling.
pub fn heat_len(n: usize, max: usize) -> usize {
    match n {
        0 => 0,
        n if n <= max => n * (max / n),
        _ => max,
    }
}

/// Cell range [start, end) covered by pixel `p` of `len` pixels spanning `n` cells.
pub fn cell_range(p: usize, n: usize, len: usize) -> (usize, usize) {
    let s = (p * n / len).min(n.saturating_sub(1));
    (s, ((p + 1) * n / len).clamp(s + 1, n.max(s + 1)))
}

/// Assumed spacing around a single-sample axis.
fn lone_spacing(v: f64) -> f64 {
    if v != 0.0 { v.abs() * 0.1 } else { 1.0 }
}

/// Fractional lattice index of coordinate `v`: linear between samples, extrapolated past the ends.
fn frac_index(vals: &[f64], v: f64) -> f64 {
    let n = vals.len();
    match vals {
        [] => 0.0,
        [only] => (v - only) / lone_spacing(*only),
        [first, .., last] => {
            let k = if v <= *first {
                0
            } else if v >= *last {
                n - 2
            } else {
                vals.partition_point(|&a| a <= v)
                    .saturating_sub(1)
                    .min(n - 2)
            };
            let d = vals[k + 1] - vals[k];
            k as f64 + if d > 0.0 { (v - vals[k]) / d } else { 0.0 }
        }
    }
}

/// Coordinate at fractional lattice index `f` (inverse of `frac_index`).
fn value_at(vals: &[f64], f: f64) -> f64 {
    match vals {
        [] => 0.0,
        [only] => only + f * lone_spacing(*only),
        _ => {
            let k = (f.floor().max(0.0) as usize).min(vals.len() - 2);
            vals[k] + (f - k as f64) * (vals[k + 1] - vals[k])
        }
    }
}

/// Ticks for a lattice axis drawn over `len` pixels from `p0`, growing upward when `up`.
/// An axis spaced evenly in log(value) over at least a decade (a learning-rate axis
/// `log:LO:HI:N`) gets decade ticks.
pub fn lattice_ticks(c: &Canvas, vals: &[f64], p0: f32, len: f32, up: bool) -> Vec<PxTick> {
    let n = vals.len() as f64;
    if let Some(ratio) = geometric_ratio(vals) {
        let logs: Vec<f64> = vals.iter().map(|v| v.ln()).collect();
        let map = |v: f64| {
            let f = ((frac_index(&logs, v.ln()) + 0.5) / n) as f32 * len;
            if up { p0 + len - f } else { p0 + f }
        };
        let (lo, hi) = (vals[0] / ratio.sqrt(), vals[vals.len() - 1] * ratio.sqrt());
        return ticks::choose_ticks(c, lo, hi, true, !up, &map);
    }
    let map = |v: f64| {
        let f = ((frac_index(vals, v) + 0.5) / n) as f32 * len;
        if up { p0 + len - f } else { p0 + f }
    };
    let (lo, hi) = (value_at(vals, -0.5), value_at(vals, n - 0.5));
    ticks::choose_ticks(c, lo, hi, false, !up, &map)
}

/// The ratio of neighbouring values where `vals` (at least 3, positive) grow by one ratio and
/// span at least a factor 10.
fn geometric_ratio(vals: &[f64]) -> Option<f64> {
    let (&first, &last) = (vals.first()?, vals.last()?);
    if vals.len() < 3 || first <= 0.0 || last < 10.0 * first {
        return None;
    }
    let ratio = vals[1] / vals[0];
    vals.windows(2)
        .all(|w| ((w[1] / w[0]) / ratio - 1.0).abs() < 1e-6)
        .then_some(ratio)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lattice_geometry() {
        assert_eq!(heat_len(201, 720), 603);
        assert_eq!(heat_len(2000, 720), 720);
        assert_eq!(cell_range(0, 2000, 720), (0, 2));
        assert_eq!(cell_range(719, 2000, 720), (1997, 2000));
        assert_eq!(cell_range(5, 3, 720), (0, 1));
        let v = [0.0, 1.0, 3.0];
        assert!((frac_index(&v, 2.0) - 1.5).abs() < 1e-12);
        assert!((value_at(&v, frac_index(&v, -0.4)) + 0.4).abs() < 1e-12);
        assert!((value_at(&[5.0], 0.5) - 5.25).abs() < 1e-12);
        let log: Vec<f64> = (0..9)
            .map(|i| 10f64.powf(-3.0 + 0.5 * f64::from(i)))
            .collect();
        assert!((geometric_ratio(&log).expect("geometric") - 10f64.sqrt()).abs() < 1e-9);
        assert_eq!(geometric_ratio(&[1.0, 2.0, 3.0, 40.0]), None);
        assert_eq!(geometric_ratio(&[1.0, 1.1, 1.21]), None);
    }
}
