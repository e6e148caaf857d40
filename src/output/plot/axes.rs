//! Frames, tick marks, axis labels, titles and notes around a data area.

use super::canvas::{BLACK, Canvas, Color, GREY, Rect};
use super::ticks::PxTick;

/// Pixel size of tick labels.
pub const TICK_FONT: f32 = 13.0;
/// Pixel size of axis labels.
pub const LABEL_FONT: f32 = 15.0;
/// Pixel size of titles.
pub const TITLE_FONT: f32 = 17.0;
/// Pixel size of notes (warnings about clamped or missing data).
pub const NOTE_FONT: f32 = 12.0;
/// Length of tick marks, drawn outside the frame.
pub const TICK_LEN: f32 = 5.0;
/// Gap between a tick mark and its label.
const TICK_PAD: f32 = 3.0;
/// Gap between tick labels and the axis label.
const LABEL_PAD: f32 = 7.0;
/// Colour of light grid lines.
pub const GRID: Color = [232, 232, 232];

/// Draws a 1-px frame just outside the data area `r`.
pub fn frame(c: &mut Canvas, r: Rect) {
    let (x0, y0, x1, y1) = (r.x0 - 0.5, r.y0 - 0.5, r.x1 + 0.5, r.y1 + 0.5);
    for (a, b) in [
        ((x0, y0), (x1, y0)),
        ((x1, y0), (x1, y1)),
        ((x1, y1), (x0, y1)),
        ((x0, y1), (x0, y0)),
    ] {
        c.line(a, b, 1.0, BLACK);
    }
}

/// Draws light grid lines inside `r` at the given x and y ticks.
pub fn grid(c: &mut Canvas, r: Rect, xt: &[PxTick], yt: &[PxTick]) {
    for t in xt {
        let x = t.pos.floor() + 0.5;
        c.line((x, r.y0), (x, r.y1), 1.0, GRID);
    }
    for t in yt {
        let y = t.pos.floor() + 0.5;
        c.line((r.x0, y), (r.x1, y), 1.0, GRID);
    }
}

/// Height needed below a data area for x ticks, their labels and the axis label.
pub fn x_axis_height(c: &Canvas) -> f32 {
    1.0 + TICK_LEN
        + TICK_PAD
        + c.text_size("0", TICK_FONT).1
        + LABEL_PAD
        + c.text_size("x", LABEL_FONT).1
}

/// Width needed left of a data area for y ticks, their labels and the rotated axis label.
pub fn y_axis_width(c: &Canvas, ticks: &[PxTick]) -> f32 {
    1.0 + TICK_LEN + TICK_PAD + max_label_w(c, ticks) + LABEL_PAD + c.text_size("x", LABEL_FONT).1
}

/// Widest tick label.
pub fn max_label_w(c: &Canvas, ticks: &[PxTick]) -> f32 {
    ticks
        .iter()
        .map(|t| c.text_size(&t.label, TICK_FONT).0)
        .fold(0.0, f32::max)
}

/// Draws x ticks below `r`, their labels, and the axis label centred under `r`.
pub fn x_axis(c: &mut Canvas, r: Rect, ticks: &[PxTick], label: &str) {
    let y = r.y1 + 0.5;
    for t in ticks {
        let x = t.pos.floor() + 0.5;
        c.line((x, y), (x, y + TICK_LEN), 1.0, BLACK);
        c.text(
            &t.label,
            x,
            y + TICK_LEN + TICK_PAD,
            TICK_FONT,
            BLACK,
            (0.5, 0.0),
        );
    }
    let ly = y + TICK_LEN + TICK_PAD + c.text_size("0", TICK_FONT).1 + LABEL_PAD;
    c.text(
        label,
        (r.x0 + r.x1) / 2.0,
        ly,
        LABEL_FONT,
        BLACK,
        (0.5, 0.0),
    );
}

/// Draws y ticks left of `r`, right-aligned labels, and the rotated axis label.
pub fn y_axis(c: &mut Canvas, r: Rect, ticks: &[PxTick], label: &str) {
    let x = r.x0 - 0.5;
    for t in ticks {
        let y = t.pos.floor() + 0.5;
        c.line((x - TICK_LEN, y), (x, y), 1.0, BLACK);
        c.text(
            &t.label,
            x - TICK_LEN - TICK_PAD,
            y,
            TICK_FONT,
            BLACK,
            (1.0, 0.5),
        );
    }
    let lh = c.text_size("x", LABEL_FONT).1;
    let lx = x - TICK_LEN - TICK_PAD - max_label_w(c, ticks) - LABEL_PAD - lh / 2.0;
    c.text_up(label, lx, (r.y0 + r.y1) / 2.0, LABEL_FONT, BLACK);
}

/// Draws a title centred on `cx` with its top at `y`, shrinking it if wider than the canvas.
pub fn title(c: &mut Canvas, s: &str, cx: f32, y: f32) {
    let avail = c.size().0 as f32 - 16.0;
    let w = c.text_size(s, TITLE_FONT).0;
    let size = if w > avail {
        (TITLE_FONT * avail / w).max(9.0)
    } else {
        TITLE_FONT
    };
    let half = c.text_size(s, size).0 / 2.0;
    // Keep the centred title inside the canvas when the axes sit off-centre.
    let cx = cx.clamp(8.0 + half, (avail + 8.0 - half).max(8.0 + half));
    c.text(s, cx, y, size, BLACK, (0.5, 0.0));
}

/// Draws grey note lines right-aligned at `x`, stacked downward from `y`.
pub fn notes(c: &mut Canvas, lines: &[String], x: f32, y: f32) {
    for (k, s) in lines.iter().enumerate() {
        c.text(
            s,
            x,
            y + k as f32 * (NOTE_FONT + 3.0),
            NOTE_FONT,
            GREY,
            (1.0, 0.0),
        );
    }
}
