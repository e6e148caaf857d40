//! A disconnectivity graph: a tree drawn with loss on the vertical axis.

use super::axes::{self, TICK_FONT};
use super::canvas::{Canvas, Color, GREY, Rect};
use super::ticks;
use std::io;
use std::path::Path;

/// One node of a drawn tree: a leaf (a minimum) or a junction (where branches merge).
#[derive(Debug, Clone, PartialEq)]
pub struct TreeNode {
    /// Its loss: where a leaf ends below, or where a junction's branches meet.
    pub level: f64,
    /// Its horizontal position, in leaf slots (0, 1, …).
    pub x: f64,
    /// The level of the junction above it; none for a root, drawn up to the top.
    pub parent_level: Option<f64>,
    /// For a junction, the horizontal span of its children.
    pub span: Option<(f64, f64)>,
    /// Text under a leaf.
    pub label: Option<String>,
    /// Drawn in the highlight colour (the global minimum's branch).
    pub highlight: bool,
}

const SIZE: (u32, u32) = (900, 620);
const LINE: Color = [40, 40, 40];
const HIGHLIGHT: Color = [214, 39, 40];

/// Draws `nodes` with loss upward; `top` is the level the roots reach.
pub fn tree_png(
    path: &Path,
    nodes: &[TreeNode],
    top: f64,
    y_label: &str,
    title: &str,
    notes: &[String],
) -> io::Result<()> {
    if nodes.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a tree needs at least one node",
        ));
    }
    let mut c = Canvas::new(SIZE.0, SIZE.1)?;
    let (w, h) = (SIZE.0 as f32, SIZE.1 as f32);
    let lo = nodes.iter().map(|n| n.level).fold(f64::INFINITY, f64::min);
    let hi = top.max(lo + 1e-300);
    let pad = 0.04 * (hi - lo).max(hi.abs() * 1e-6).max(1e-300);
    let (ylo, yhi) = (lo - pad, hi);
    let area_top = 50.0 + 15.0 * notes.len() as f32;
    let label_h = 2.0 * c.text_size("x", TICK_FONT).1 + 10.0;
    let bottom = h - 14.0 - label_h;
    let ym = |v: f64| bottom - ((v - ylo) / (yhi - ylo)) as f32 * (bottom - area_top);
    let yt = ticks::choose_ticks(&c, ylo, yhi, false, false, &ym);
    let left = (16.0 + axes::y_axis_width(&c, &yt)).round();
    let area = Rect::new(left, area_top, w - left - 20.0, bottom - area_top);
    let slots = nodes.iter().map(|n| n.x).fold(0.0f64, f64::max) + 1.0;
    let xm = |x: f64| area.x0 + ((x + 0.5) / slots) as f32 * area.w();
    axes::grid(&mut c, area, &[], &yt);
    for n in nodes {
        let col = if n.highlight { HIGHLIGHT } else { LINE };
        let x = xm(n.x);
        let up = n.parent_level.unwrap_or(hi);
        c.line((x, ym(n.level)), (x, ym(up)), 1.6, col);
        if let Some((a, b)) = n.span {
            c.line((xm(a), ym(n.level)), (xm(b), ym(n.level)), 1.6, col);
        }
        if n.span.is_none() {
            c.disc(x, ym(n.level), 3.0, col);
        }
        if let Some(label) = &n.label {
            let mut y = ym(n.level) + 6.0;
            for line in label.lines() {
                c.text(
                    line,
                    x,
                    y,
                    TICK_FONT - 1.0,
                    if n.highlight { HIGHLIGHT } else { GREY },
                    (0.5, 0.0),
                );
                y += c.text_size("x", TICK_FONT).1 + 2.0;
            }
        }
    }
    axes::frame(&mut c, area);
    axes::y_axis(&mut c, area, &yt, y_label);
    axes::title(&mut c, title, (area.x0 + area.x1) / 2.0, 12.0);
    axes::notes(&mut c, notes, area.x1, 36.0);
    c.save(path)
}
