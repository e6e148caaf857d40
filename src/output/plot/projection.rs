//! Min-projections of a 3- or 4-D field onto every pair of axes, drawn as a grid of heatmap panels.

use super::axes;
use super::canvas::{Canvas, Rect};
use super::colorbar::{self, BAR_W};
use super::colormap::ColorScale;
use super::heatmap::{draw_field, field_notes};
use super::lattice::{heat_len, lattice_ticks};
use super::ticks::PxTick;
use super::{AxisInfo, check_axis, invalid};
use std::io;
use std::path::Path;

/// Longest side of one panel's data area in pixels.
const PANEL: usize = 250;

/// Min over all axes except `keep` (NaN-ignoring), row-major over (keep.0, keep.1); empty when the inputs are inconsistent.
pub fn min_project(values: &[f64], shape: &[usize], keep: (usize, usize)) -> Vec<f64> {
    let (a, b) = keep;
    let total = shape.iter().try_fold(1usize, |p, &n| p.checked_mul(n));
    if a == b
        || a >= shape.len()
        || b >= shape.len()
        || total != Some(values.len())
        || values.is_empty()
    {
        return Vec::new();
    }
    // Row-major strides: the last axis is fastest.
    let stride = |k: usize| shape[k + 1..].iter().product::<usize>();
    let (sa, sb, na, nb) = (stride(a), stride(b), shape[a], shape[b]);
    let mut out = vec![f64::NAN; na * nb];
    for (n, &v) in values.iter().enumerate() {
        if v.is_nan() {
            continue;
        }
        let o = (n / sa % na) * nb + n / sb % nb;
        if let Some(slot) = out.get_mut(o)
            && (slot.is_nan() || v < *slot)
        {
            *slot = v;
        }
    }
    out
}

/// Min-projections of a 3- or 4-D field onto every pair of axes, as a grid of small heatmap panels in one PNG (3 panels for 3 axes, 6 for 4), each panel labelled with its two axes, one shared colour bar. `values` is row-major with shape given by the axes' lengths in order (last axis fastest).
pub fn projections_png(
    path: &Path,
    axes: &[AxisInfo],
    values: &[f64],
    value_label: &str,
    title: &str,
    log: bool,
) -> io::Result<()> {
    let n = axes.len();
    if !(2..=4).contains(&n) {
        return Err(invalid(format!(
            "projections need 2 to 4 axes (3 or 4 in normal use), got {n}"
        )));
    }
    for (k, a) in axes.iter().enumerate() {
        check_axis(a, &format!("axis {k}"))?;
    }
    let shape: Vec<usize> = axes.iter().map(|a| a.values.len()).collect();
    let total = shape.iter().try_fold(1usize, |p, &k| p.checked_mul(k));
    if total != Some(values.len()) {
        return Err(invalid(format!(
            "projection field has {} values for shape {shape:?}",
            values.len()
        )));
    }
    let pairs: Vec<(usize, usize)> = (0..n)
        .flat_map(|a| (a + 1..n).map(move |b| (a, b)))
        .collect();
    let fields: Vec<Vec<f64>> = pairs
        .iter()
        .map(|&k| min_project(values, &shape, k))
        .collect();
    let s = ColorScale::new(fields.iter().flatten().copied(), log);
    let mut notes = field_notes(values, &s);
    notes.push("each panel: minimum over the other axes".to_string());
    let mut c = Canvas::new(1, 1)?;
    let sizes: Vec<(f32, f32)> = pairs
        .iter()
        .map(|&(a, b)| {
            (
                heat_len(shape[a], PANEL) as f32,
                heat_len(shape[b], PANEL) as f32,
            )
        })
        .collect();
    let ph = sizes.iter().map(|s| s.1).fold(0.0, f32::max);
    let pw = sizes.iter().map(|s| s.0).fold(0.0, f32::max);
    // Y ticks relative to each panel's top; the widest sets a common left margin.
    let yts: Vec<Vec<PxTick>> = pairs
        .iter()
        .zip(&sizes)
        .map(|(&(_, b), &(_, h))| lattice_ticks(&c, &axes[b].values, 0.0, h, true))
        .collect();
    let left = (14.0
        + yts
            .iter()
            .map(|t| axes::y_axis_width(&c, t))
            .fold(0.0, f32::max))
    .round();
    let (cell_w, cell_h) = (
        left + pw + 26.0,
        (ph + axes::x_axis_height(&c) + 22.0).round(),
    );
    let cols = pairs.len().min(3);
    let rows = pairs.len().div_ceil(cols);
    let top = 48.0 + 15.0 * notes.len() as f32;
    let bar_h = (rows - 1) as f32 * cell_h + ph;
    let bar = Rect::new(cols as f32 * cell_w + 4.0, top, BAR_W, bar_h);
    let ct = colorbar::ticks(&c, &s, top, bar_h);
    let width = bar.x0 + colorbar::extent(&c, &ct) + 14.0;
    c.resize(
        width.ceil() as u32,
        (top + rows as f32 * cell_h).ceil() as u32,
    );
    for (k, (&(a, b), field)) in pairs.iter().zip(&fields).enumerate() {
        let (w, h) = sizes[k];
        let (col, row) = ((k % cols) as f32, (k / cols) as f32);
        let area = Rect::new(col * cell_w + left, top + row * cell_h, w, h);
        draw_field(&mut c, area, (shape[a], shape[b]), field, &s, &[]);
        axes::frame(&mut c, area);
        let xt = lattice_ticks(&c, &axes[a].values, area.x0, w, false);
        let yt: Vec<PxTick> = yts[k]
            .iter()
            .map(|t| PxTick {
                pos: t.pos + area.y0,
                ..t.clone()
            })
            .collect();
        axes::x_axis(&mut c, area, &xt, &axes[a].label);
        axes::y_axis(&mut c, area, &yt, &axes[b].label);
    }
    colorbar::draw(&mut c, bar, &s, &ct, value_label);
    let right = cols as f32 * cell_w;
    axes::title(&mut c, title, right / 2.0, 12.0);
    axes::notes(&mut c, &notes, right - 26.0, 38.0);
    c.save(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_project_small_3d() {
        // Shape (2, 3, 2): v = 100·i + 10·j + k, with one NaN that must be ignored.
        let mut v: Vec<f64> = (0..12)
            .map(|n| (100 * (n / 6) + 10 * (n / 2 % 3) + n % 2) as f64)
            .collect();
        v[0] = f64::NAN;
        let p = min_project(&v, &[2, 3, 2], (0, 1));
        assert_eq!(p[0], 1.0);
        assert_eq!(&p[1..], &[10.0, 20.0, 100.0, 110.0, 120.0]);
        let q = min_project(&v, &[2, 3, 2], (2, 0));
        assert_eq!(q, vec![10.0, 100.0, 1.0, 101.0]);
        assert!(min_project(&v, &[2, 3, 3], (0, 1)).is_empty());
        assert!(min_project(&v, &[2, 3, 2], (1, 1)).is_empty());
        assert!(
            min_project(&[f64::NAN; 4], &[2, 2], (0, 1))
                .iter()
                .all(|x| x.is_nan())
        );
    }

    #[test]
    fn projections_render_and_validate() -> io::Result<()> {
        let dir = super::super::test_dir("proj")?;
        let ax = |n: usize, name: &str| AxisInfo {
            label: name.into(),
            values: (0..n).map(|k| k as f64 / n.max(2) as f64 - 0.5).collect(),
        };
        let axes4 = [ax(7, "a"), ax(5, "b"), ax(1, "c"), ax(9, "d")];
        let v: Vec<f64> = (0..7 * 5 * 9)
            .map(|n| (n as f64 * 0.37).sin() + 1.0)
            .collect();
        let p = dir.join("proj4.png");
        projections_png(&p, &axes4, &v, "loss", "four axes", true)?;
        let flat = vec![f64::NAN; v.len()];
        projections_png(&p, &axes4, &flat, "loss", "all nan", true)?;
        let bad = projections_png(&p, &axes4[..1], &v, "loss", "one axis", false);
        assert_eq!(bad.map_err(|e| e.kind()), Err(io::ErrorKind::InvalidInput));
        let bad = projections_png(&p, &axes4, &v[1..], "loss", "short", false);
        assert_eq!(bad.map_err(|e| e.kind()), Err(io::ErrorKind::InvalidInput));
        Ok(())
    }
}
