//! Line plot y(x) with optional minima/maxima markers and a legend.

use super::axes;
use super::canvas::{BLACK, Canvas, Color, Rect, WHITE};
use super::ticks;
use super::{AxisInfo, check_axis, check_indices, invalid};
use std::io;
use std::path::Path;

/// Image size in pixels.
const SIZE: (u32, u32) = (900, 600);
/// Curve colour (matplotlib's default blue).
const CURVE: Color = [31, 119, 180];
/// Colour of filled minimum markers.
const MIN_C: Color = [214, 39, 40];
/// Colour of hollow maximum markers.
const MAX_C: Color = [255, 127, 14];
/// Marker radius in pixels.
const MARK_R: f32 = 5.0;

/// A data → pixel map for one axis, optionally log10.
struct Map {
    lo: f64,
    hi: f64,
    p0: f32,
    p1: f32,
    log: bool,
}

impl Map {
    /// Displayed coordinate of a raw value.
    fn t(&self, v: f64) -> f64 {
        if self.log { v.log10() } else { v }
    }

    /// Pixel position of a raw value.
    fn px(&self, v: f64) -> f32 {
        let f = (self.t(v) - self.t(self.lo)) / (self.t(self.hi) - self.t(self.lo));
        self.p0 + f as f32 * (self.p1 - self.p0)
    }
}

/// Padded displayed-scale range of the finite values, returned in raw units.
fn range(vals: impl Iterator<Item = f64>, log: bool, pad: f64) -> (f64, f64) {
    let t = |v: f64| if log { v.log10() } else { v };
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in vals.filter(|v| v.is_finite()).map(t) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        (lo, hi) = (0.0, 1.0);
    }
    if hi <= lo {
        // Flat data still gets a window around its value.
        let w = if log {
            0.5
        } else if lo != 0.0 {
            lo.abs() * 0.1
        } else {
            1.0
        };
        (lo, hi) = (lo - w, hi + w);
    }
    let w = (hi - lo) * pad;
    let back = |v: f64| if log { 10f64.powf(v) } else { v };
    (back(lo - w), back(hi + w))
}

/// Values to plot, with non-positive ones clamped for a log axis; returns them, whether log applies, and notes.
fn prepare(y: &[f64], log_y: bool) -> (Vec<f64>, bool, Vec<String>) {
    let mut notes = Vec::new();
    if !y.iter().any(|v| v.is_finite()) {
        notes.push("no finite values".to_string());
    }
    if !log_y {
        return (y.to_vec(), false, notes);
    }
    let min_pos = y
        .iter()
        .copied()
        .filter(|&v| v.is_finite() && v > 0.0)
        .fold(f64::INFINITY, f64::min);
    if !min_pos.is_finite() {
        notes.push("log scale unavailable: no positive values".to_string());
        return (y.to_vec(), false, notes);
    }
    let bad = y.iter().filter(|&&v| v.is_finite() && v <= 0.0).count();
    if bad > 0 {
        let shown = ticks::format_tick(min_pos, min_pos / 100.0);
        notes.push(format!("{bad} value(s) ≤ 0 clamped to {shown}"));
    }
    let clamped = y
        .iter()
        .map(|&v| if v.is_finite() { v.max(min_pos) } else { v })
        .collect();
    (clamped, true, notes)
}

/// A line plot y(x): writes a PNG (about 900×600) with ticks, tick labels, axis labels, title, the curve, and optional marked points (e.g. local minima as filled circles, local maxima as hollow circles) with a small legend when markers exist. `log_y` uses a log10 y axis (non-positive values are clamped to the smallest positive value present, or drawn with a note).
#[expect(
    clippy::too_many_arguments,
    reason = "one flat call per picture keeps call sites readable"
)] // The signature is fixed by the public API.
pub fn curve_png(
    path: &Path,
    x: &AxisInfo,
    y: &[f64],
    y_label: &str,
    title: &str,
    log_y: bool,
    minima: &[usize],
    maxima: &[usize],
) -> io::Result<()> {
    check_axis(x, "x")?;
    if y.len() != x.values.len() {
        return Err(invalid(format!(
            "curve has {} y values for {} x values",
            y.len(),
            x.values.len()
        )));
    }
    check_indices(minima, y.len(), "minima")?;
    check_indices(maxima, y.len(), "maxima")?;
    let (ys, log, notes) = prepare(y, log_y);
    let mut c = Canvas::new(SIZE.0, SIZE.1)?;
    let (w, h) = (SIZE.0 as f32, SIZE.1 as f32);
    let top = 50.0 + 15.0 * notes.len() as f32;
    let bottom = h - 12.0 - axes::x_axis_height(&c);
    let (ylo, yhi) = range(ys.iter().copied(), log, 0.06);
    let ym = Map {
        lo: ylo,
        hi: yhi,
        p0: bottom,
        p1: top,
        log,
    };
    let yt = ticks::choose_ticks(&c, ylo, yhi, log, false, &|v| ym.px(v));
    let left = (16.0 + axes::y_axis_width(&c, &yt)).round();
    let (xlo, xhi) = range(x.values.iter().copied(), false, 0.02);
    let xm = Map {
        lo: xlo,
        hi: xhi,
        p0: left,
        p1: w - 30.0,
        log: false,
    };
    let xt = ticks::choose_ticks(&c, xlo, xhi, false, true, &|v| xm.px(v));
    let area = Rect {
        x0: left,
        y0: top,
        x1: xm.p1,
        y1: bottom,
    };
    axes::grid(&mut c, area, &xt, &yt);
    let pts: Vec<Option<(f32, f32)>> = x
        .values
        .iter()
        .zip(&ys)
        .map(|(&a, &b)| b.is_finite().then(|| (xm.px(a), ym.px(b))))
        .collect();
    c.set_clip(Some(area));
    // Non-finite values break the curve into separate runs.
    for run in pts.split(Option::is_none) {
        let run: Vec<(f32, f32)> = run.iter().flatten().copied().collect();
        match run.as_slice() {
            [p] => c.disc(p.0, p.1, 1.5, CURVE),
            _ => c.polyline(&run, 2.0, CURVE, 1.0),
        }
    }
    c.set_clip(None);
    axes::frame(&mut c, area);
    axes::x_axis(&mut c, area, &xt, &x.label);
    axes::y_axis(&mut c, area, &yt, y_label);
    let at = |k: &usize| pts.get(*k).copied().flatten();
    for (px, py) in minima.iter().filter_map(at) {
        c.disc(px, py, MARK_R + 1.0, WHITE);
        c.disc(px, py, MARK_R, MIN_C);
    }
    for (px, py) in maxima.iter().filter_map(at) {
        c.disc(px, py, MARK_R + 1.0, WHITE);
        c.ring(px, py, MARK_R - 1.0, 2.0, MAX_C);
    }
    let mut entries = Vec::new();
    if !minima.is_empty() {
        entries.push(("local minimum", true));
    }
    if !maxima.is_empty() {
        entries.push(("local maximum", false));
    }
    let occupied: Vec<(f32, f32)> = pts.iter().flatten().copied().collect();
    legend(&mut c, area, &entries, &occupied);
    axes::title(&mut c, title, (area.x0 + area.x1) / 2.0, 12.0);
    axes::notes(&mut c, &notes, area.x1, 38.0);
    c.save(path)
}

/// Draws a boxed legend of marker entries (filled = minimum style) in the emptiest corner of `area`.
fn legend(c: &mut Canvas, area: Rect, entries: &[(&str, bool)], occupied: &[(f32, f32)]) {
    if entries.is_empty() {
        return;
    }
    let tw = entries
        .iter()
        .map(|e| c.text_size(e.0, axes::TICK_FONT).0)
        .fold(0.0, f32::max);
    let (bw, row) = ((tw + 40.0).round(), 20.0);
    let bh = row * entries.len() as f32 + 10.0;
    let (m, cx) = (10.0, ((area.x0 + area.x1 - bw) / 2.0).round());
    let (l, r, t, b) = (area.x0 + m, area.x1 - m - bw, area.y0 + m, area.y1 - m - bh);
    // Preference order when several corners are equally empty.
    let spots = [(r, t), (l, t), (cx, t), (r, b), (l, b), (cx, b)];
    let crowd = |&(x, y): &(f32, f32)| {
        let inside = |p: &&(f32, f32)| {
            p.0 >= x - 4.0 && p.0 <= x + bw + 4.0 && p.1 >= y - 4.0 && p.1 <= y + bh + 4.0
        };
        occupied.iter().filter(inside).count()
    };
    let (x, y) = spots
        .iter()
        .copied()
        .min_by_key(|s| crowd(s))
        .unwrap_or((r, t));
    c.fill_rect(Rect::new(x, y, bw, bh), WHITE);
    axes::frame(c, Rect::new(x + 1.0, y + 1.0, bw - 2.0, bh - 2.0));
    for (k, &(label, filled)) in entries.iter().enumerate() {
        let (mx, my) = (x + 16.0, y + 5.0 + row * (k as f32 + 0.5));
        if filled {
            c.disc(mx, my, MARK_R, MIN_C);
        } else {
            c.ring(mx, my, MARK_R - 1.0, 2.0, MAX_C);
        }
        c.text(label, x + 30.0, my, axes::TICK_FONT, BLACK, (0.0, 0.5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axis(n: usize, lo: f64, hi: f64) -> AxisInfo {
        let step = if n > 1 {
            (hi - lo) / (n - 1) as f64
        } else {
            0.0
        };
        AxisInfo {
            label: "t".into(),
            values: (0..n).map(|k| lo + step * k as f64).collect(),
        }
    }

    #[test]
    fn curve_with_markers_and_edge_cases() -> io::Result<()> {
        let dir = super::super::test_dir("curve")?;
        let x = axis(301, -1.5, 1.5);
        let y: Vec<f64> = x.values.iter().map(|t| (1.0 - t * t).powi(2)).collect();
        let p = dir.join("curve.png");
        curve_png(&p, &x, &y, "L", "markers", true, &[50, 250], &[150])?;
        let img = image::open(&p).map_err(io::Error::other)?.to_rgb8();
        assert_eq!(img.dimensions(), SIZE);
        let has = |c: Color| img.pixels().any(|p| p.0 == c);
        assert!(has(MIN_C) && has(CURVE));
        let one = axis(1, 2.0, 2.0);
        curve_png(&p, &one, &[3.0], "L", "one point", false, &[0], &[])?;
        let flat = vec![1.0; 301];
        curve_png(&p, &x, &flat, "L", "flat", true, &[], &[])?;
        let nan = vec![f64::NAN; 301];
        curve_png(&p, &x, &nan, "L", "nan", true, &[], &[])?;
        let neg: Vec<f64> = x.values.iter().map(|t| t * 1e7).collect();
        curve_png(&p, &x, &neg, "L", "negative log", true, &[], &[])?;
        let bad = curve_png(&p, &x, &y[1..], "L", "bad", false, &[], &[]);
        assert_eq!(bad.map_err(|e| e.kind()), Err(io::ErrorKind::InvalidInput));
        let empty = curve_png(&p, &axis(0, 0.0, 0.0), &[], "L", "empty", false, &[], &[]);
        assert_eq!(
            empty.map_err(|e| e.kind()),
            Err(io::ErrorKind::InvalidInput)
        );
        let oob = curve_png(&p, &x, &y, "L", "oob", false, &[301], &[]);
        assert_eq!(oob.map_err(|e| e.kind()), Err(io::ErrorKind::InvalidInput));
        Ok(())
    }
}
