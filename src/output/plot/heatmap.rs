//! Heatmap of a 2-D lattice field with contours, minima markers and a colour bar.

use super::axes::{self, TICK_FONT};
use super::canvas::{BLACK, Canvas, Color, Rect, WHITE};
use super::colorbar::{self, BAR_W};
use super::colormap::ColorScale;
use super::contour::contour_lines;
use super::lattice::cell_range;
use super::lattice::{heat_len, lattice_ticks};
use super::ticks;
use super::{AxisInfo, check_axis, check_indices, invalid};
use std::io;
use std::path::Path;

/// Longest side of a single heatmap's data area in pixels.
const HEAT_MAX: usize = 720;
/// Number of contour levels, evenly spaced in the displayed scale.
const LEVELS: usize = 10;
/// Colour of minima markers (drawn over a white halo).
const MARK: Color = [225, 25, 25];

/// Notes about missing or degenerate data, shown under the title.
pub fn field_notes(values: &[f64], s: &ColorScale) -> Vec<String> {
    let bad = values.iter().filter(|v| !v.is_finite()).count();
    let mut notes = Vec::new();
    if s.empty {
        notes.push("no finite values".to_string());
    } else {
        if s.min == s.max {
            notes.push(format!(
                "constant field: {}",
                ticks::format_tick(s.min, s.min.abs())
            ));
        }
        if bad > 0 {
            notes.push(format!("{bad} non-finite value(s) shown grey"));
        }
    }
    notes
}

/// Draws a lattice field (row-major nx × ny, first axis rightward, second upward) into `area`:
/// min-downsampled colours, contour lines, and markers at the flat indices in `minima`.
pub fn draw_field(
    c: &mut Canvas,
    area: Rect,
    shape: (usize, usize),
    values: &[f64],
    s: &ColorScale,
    minima: &[usize],
) {
    let (nx, ny) = shape;
    let (w, h) = (area.w() as usize, area.h() as usize);
    if nx == 0 || ny == 0 || w == 0 || h == 0 || values.len() != nx * ny {
        return;
    }
    let cols: Vec<(usize, usize)> = (0..w).map(|p| cell_range(p, nx, w)).collect();
    let rows: Vec<(usize, usize)> = (0..h).map(|p| cell_range(h - 1 - p, ny, h)).collect();
    for (py, &(j0, j1)) in rows.iter().enumerate() {
        for (px, &(i0, i1)) in cols.iter().enumerate() {
            // Min over the block keeps narrow valleys visible when downsampling.
            let mut m = f64::NAN;
            for i in i0..i1 {
                for &v in values.get(i * ny + j0..i * ny + j1).unwrap_or(&[]) {
                    if v.is_finite() && (m.is_nan() || v < m) {
                        m = v;
                    }
                }
            }
            let col = s.color_of_display(s.display(m));
            c.blend(
                area.x0 as i64 + px as i64,
                area.y0 as i64 + py as i64,
                col,
                1.0,
            );
        }
    }
    let (sx, sy) = (area.w() / nx as f32, area.h() / ny as f32);
    let to_px = |fi: f64, fj: f64| {
        (
            area.x0 + (fi as f32 + 0.5) * sx,
            area.y1 - (fj as f32 + 0.5) * sy,
        )
    };
    // Contours across a handful of big blocks mislead more than they help.
    if !s.empty && nx.min(ny) >= 5 {
        let disp: Vec<f64> = values.iter().map(|&v| s.display(v)).collect();
        for level in s.levels(LEVELS) {
            // White reads on the dark end of viridis, black on the bright end.
            let (col, alpha) = if s.unit(level) < 0.6 {
                (WHITE, 0.75)
            } else {
                (BLACK, 0.55)
            };
            for line in contour_lines(&disp, nx, ny, level) {
                let pts: Vec<(f32, f32)> = line.iter().map(|&(i, j)| to_px(i, j)).collect();
                c.polyline(&pts, 1.0, col, alpha);
            }
        }
    }
    // Smaller crosses when there are many, so they don't bury the valley they mark.
    let r = if minima.len() > 40 { 4.0 } else { 5.0 };
    for &k in minima {
        let (x, y) = to_px((k / ny) as f64, (k % ny) as f64);
        marker(c, x, y, r);
    }
}

/// A red cross over a white halo, readable on every viridis colour.
fn marker(c: &mut Canvas, x: f32, y: f32, r: f32) {
    for (w, col) in [(4.5, WHITE), (2.0, MARK)] {
        c.line((x - r, y - r), (x + r, y + r), w, col);
        c.line((x - r, y + r), (x + r, y - r), w, col);
    }
}

/// A heatmap of a 2-D field: `values` is row-major with shape (x.values.len(), y.values.len()), i.e. values[i * ny + j] is at (x.values[i], y.values[j]).
///
/// The first axis is horizontal, the second vertical (upward). Colours use viridis; with `log` the
/// colour scale is log10(v) when every finite value is positive (values below max·1e-10 clamp),
/// else log10(v − min + ε) with ε = 10⁻³·(max − min); colour-bar ticks are labelled in raw units.
/// Ten contour lines are evenly spaced in the displayed scale; non-finite cells are grey. Lattices
/// larger than the ~720 px area are downsampled by block minimum, smaller ones upscaled in blocks.
#[expect(
    clippy::too_many_arguments,
    reason = "one flat call per picture keeps call sites readable"
)] // The signature is fixed by the public API.
pub fn heatmap_png(
    path: &Path,
    x: &AxisInfo,
    y: &AxisInfo,
    values: &[f64],
    value_label: &str,
    title: &str,
    log: bool,
    minima: &[usize],
) -> io::Result<()> {
    heatmap_overlay_png(path, x, y, values, value_label, title, log, minima, None)
}

/// A curve and marked points drawn over a heatmap, in the axes' own coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct Overlay {
    /// The curve (a path), as (x, y) pairs.
    pub curve: Vec<(f64, f64)>,
    /// Points marked with filled discs (minima).
    pub discs: Vec<(f64, f64)>,
    /// Points marked with rings (transition states).
    pub rings: Vec<(f64, f64)>,
}

/// `heatmap_png` with an optional `overlay` drawn over the field (white curve, red marks).
#[expect(
    clippy::too_many_arguments,
    reason = "one flat call per picture keeps call sites readable"
)]
pub fn heatmap_overlay_png(
    path: &Path,
    x: &AxisInfo,
    y: &AxisInfo,
    values: &[f64],
    value_label: &str,
    title: &str,
    log: bool,
    minima: &[usize],
    overlay: Option<&Overlay>,
) -> io::Result<()> {
    check_axis(x, "x")?;
    check_axis(y, "y")?;
    let (nx, ny) = (x.values.len(), y.values.len());
    if values.len() != nx * ny {
        let n = values.len();
        return Err(invalid(format!(
            "heatmap has {n} values, expected {nx} × {ny} = {}",
            nx * ny
        )));
    }
    check_indices(minima, values.len(), "minima")?;
    let s = ColorScale::new(values.iter().copied(), log);
    let notes = field_notes(values, &s);
    let mut c = Canvas::new(1, 1)?;
    let (w, h) = (heat_len(nx, HEAT_MAX) as f32, heat_len(ny, HEAT_MAX) as f32);
    let top = 48.0 + 15.0 * notes.len() as f32;
    let yt = lattice_ticks(&c, &y.values, top, h, true);
    let left = 16.0 + axes::y_axis_width(&c, &yt);
    let xt = lattice_ticks(&c, &x.values, left, w, false);
    let area = Rect::new(left, top, w, h);
    // Leave room for the last x label's overhang before the colour bar.
    let overhang = xt.last().map_or(0.0, |t| {
        c.text_size(&t.label, TICK_FONT).0 / 2.0 - (area.x1 - t.pos)
    });
    let bar = Rect::new(area.x1 + 22.0 + overhang.max(0.0).round(), top, BAR_W, h);
    let ct = colorbar::ticks(&c, &s, top, h);
    let width = bar.x0 + colorbar::extent(&c, &ct) + 14.0;
    let height = area.y1 + axes::x_axis_height(&c) + 12.0;
    c.resize(width.ceil() as u32, height.ceil() as u32);
    draw_field(&mut c, area, (nx, ny), values, &s, minima);
    if let Some(o) = overlay {
        // Lattice values sit at cell centres: value k of n at (k + 0.5)/n of the side.
        let along = |vals: &[f64], v: f64| {
            let n = vals.len() as f64;
            let (lo, hi) = (vals[0], vals[vals.len() - 1]);
            let f = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
            ((f * (n - 1.0) + 0.5) / n) as f32
        };
        let px = |(u, v): (f64, f64)| {
            (
                area.x0 + along(&x.values, u) * area.w(),
                area.y1 - along(&y.values, v) * area.h(),
            )
        };
        c.set_clip(Some(area));
        let pts: Vec<(f32, f32)> = o.curve.iter().map(|&q| px(q)).collect();
        c.polyline(&pts, 3.5, [20, 20, 20], 0.6);
        c.polyline(&pts, 1.8, [255, 255, 255], 1.0);
        for &q in &o.discs {
            let (a, b) = px(q);
            c.disc(a, b, 5.0, [255, 255, 255]);
            c.disc(a, b, 3.5, MARK);
        }
        for &q in &o.rings {
            let (a, b) = px(q);
            c.ring(a, b, 6.0, 2.5, [255, 255, 255]);
            c.ring(a, b, 6.0, 1.2, MARK);
        }
        c.set_clip(None);
    }
    axes::frame(&mut c, area);
    axes::x_axis(&mut c, area, &xt, &x.label);
    axes::y_axis(&mut c, area, &yt, &y.label);
    colorbar::draw(&mut c, bar, &s, &ct, value_label);
    axes::title(&mut c, title, (area.x0 + area.x1) / 2.0, 12.0);
    axes::notes(&mut c, &notes, area.x1, 38.0);
    c.save(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn axis(n: usize, lo: f64, hi: f64, name: &str) -> AxisInfo {
        let step = if n > 1 {
            (hi - lo) / (n - 1) as f64
        } else {
            0.0
        };
        AxisInfo {
            label: name.into(),
            values: (0..n).map(|k| lo + step * k as f64).collect(),
        }
    }

    #[test]
    fn known_field_is_colourful() -> io::Result<()> {
        let dir = super::super::test_dir("heat")?;
        let (x, y) = (axis(60, -2.0, 2.0, "a"), axis(40, -1.0, 1.0, "b"));
        let v: Vec<f64> = (0..60 * 40)
            .map(|k| x.values[k / 40].powi(2) + 3.0 * y.values[k % 40].powi(2))
            .collect();
        let p = dir.join("heat.png");
        heatmap_png(&p, &x, &y, &v, "loss", "bowl", false, &[29 * 40 + 19])?;
        let img = image::open(&p).map_err(io::Error::other)?.to_rgb8();
        let mut c = Canvas::new(1, 1)?;
        let yt = lattice_ticks(&c, &y.values, 0.0, 720.0, true);
        let ct = colorbar::ticks(&c, &ColorScale::new(v.iter().copied(), false), 0.0, 720.0);
        c.resize(1, 1);
        let left = (16.0 + axes::y_axis_width(&c, &yt)).round() as u32;
        assert!(img.width() > left + 720 + colorbar::extent(&c, &ct) as u32);
        assert!(img.height() > 720 && img.height() < 900);
        let colours: HashSet<[u8; 3]> = img.pixels().map(|p| p.0).collect();
        assert!(colours.len() > 200, "only {} colours", colours.len());
        Ok(())
    }

    #[test]
    fn edge_cases_do_not_panic() -> io::Result<()> {
        let dir = super::super::test_dir("heat-edge")?;
        let p = dir.join("edge.png");
        let (x, y) = (axis(5, 0.0, 1.0, "x"), axis(4, 1e6, 4e6, "y"));
        let one = axis(1, 3.0, 3.0, "one");
        heatmap_png(&p, &one, &one, &[1.0], "v", "single cell", true, &[0])?;
        heatmap_png(
            &p,
            &x,
            &one,
            &[0.0, -1.0, 2.0, 5.0, 1e-9],
            "v",
            "one row",
            true,
            &[1],
        )?;
        heatmap_png(&p, &x, &y, &[7.0; 20], "v", "flat", true, &[])?;
        heatmap_png(&p, &x, &y, &[7.0; 20], "v", "flat linear", false, &[])?;
        heatmap_png(&p, &x, &y, &[f64::NAN; 20], "v", "all nan", true, &[])?;
        let tiny: Vec<f64> = (0..20).map(|k| k as f64 * 1e-9).collect();
        heatmap_png(&p, &x, &y, &tiny, "v", "tiny", false, &[])?;
        let mut huge: Vec<f64> = (0..20).map(|k| k as f64 * 1e12 - 3e12).collect();
        huge[3] = f64::INFINITY;
        heatmap_png(&p, &x, &y, &huge, "v", "huge", true, &[])?;
        let kind = |r: io::Result<()>| r.map_err(|e| e.kind());
        let empty = axis(0, 0.0, 0.0, "empty");
        assert_eq!(
            kind(heatmap_png(&p, &empty, &y, &[], "v", "", false, &[])),
            Err(io::ErrorKind::InvalidInput)
        );
        assert_eq!(
            kind(heatmap_png(&p, &x, &y, &[1.0; 19], "v", "", false, &[])),
            Err(io::ErrorKind::InvalidInput)
        );
        assert_eq!(
            kind(heatmap_png(&p, &x, &y, &[1.0; 20], "v", "", false, &[20])),
            Err(io::ErrorKind::InvalidInput)
        );
        let bad_dir = dir.join("missing-dir").join("x.png");
        assert!(heatmap_png(&bad_dir, &x, &y, &[1.0; 20], "v", "", false, &[]).is_err());
        Ok(())
    }
}
