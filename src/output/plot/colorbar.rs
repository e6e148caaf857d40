//! Vertical colour bar with ticks labelled in original value units.

use super::axes::{self, LABEL_FONT, TICK_FONT, TICK_LEN};
use super::canvas::{BLACK, Canvas, Rect};
use super::colormap::{ColorScale, Mode};
use super::ticks::{self, PxTick};

/// Width of the colour bar itself.
pub const BAR_W: f32 = 18.0;
/// Gap between a tick mark and its label.
const PAD: f32 = 3.0;

/// Ticks for a colour bar spanning `top..top + h` pixels, labelled in raw value units.
pub fn ticks(c: &Canvas, s: &ColorScale, top: f32, h: f32) -> Vec<PxTick> {
    let y = |d: f64| top + h - s.unit(d) as f32 * h;
    match s.mode {
        Mode::Linear => ticks::choose_ticks(c, s.lo, s.hi, false, false, &y),
        Mode::Log { .. } => {
            let (lo, hi) = (10f64.powf(s.lo), 10f64.powf(s.hi));
            ticks::choose_ticks(c, lo, hi, true, false, &|v| y(v.log10()))
        }
        Mode::ShiftedLog { shift } => {
            // Tick the offset u = v − min on a log axis, then relabel as v (exact when min is 0).
            let eps = s.min - shift;
            let (ulo, uhi) = ((10f64.powf(s.lo) - eps).max(eps), 10f64.powf(s.hi) - eps);
            let step = ticks::nice_step((s.max - s.min).abs().max(s.min.abs()) / 10.0);
            let label = ticks::format_tick(s.min, step);
            let mut out = vec![PxTick {
                value: s.min,
                pos: y(s.lo),
                label,
            }];
            for t in ticks::choose_ticks(c, ulo, uhi, true, false, &|u| y((u + eps).log10())) {
                let value = s.min + t.value;
                out.push(PxTick {
                    value,
                    pos: t.pos,
                    label: ticks::format_tick(value, t.value),
                });
            }
            // The maximum closes the scale, since decade ticks rarely land on it.
            let top_label = ticks::format_tick(s.max, step);
            if out.last().is_some_and(|t| t.label != top_label) {
                out.push(PxTick {
                    value: s.max,
                    pos: y(s.display(s.max)),
                    label: top_label,
                });
            }
            ticks::thin(c, out, false)
        }
    }
}

/// Width taken by the bar plus its ticks, labels and rotated value label.
pub fn extent(c: &Canvas, ticks: &[PxTick]) -> f32 {
    BAR_W
        + 1.0
        + TICK_LEN
        + PAD
        + axes::max_label_w(c, ticks)
        + 8.0
        + c.text_size("x", LABEL_FONT).1
}

/// Draws the bar in `r` with its ticks on the right and the rotated `label` beyond them.
pub fn draw(c: &mut Canvas, r: Rect, s: &ColorScale, ticks: &[PxTick], label: &str) {
    let (y0, y1) = (r.y0.round() as i64, r.y1.round() as i64);
    for y in y0..y1 {
        let f = (y as f32 + 0.5 - r.y0) / r.h();
        let d = s.hi - f64::from(f) * (s.hi - s.lo);
        c.fill_rect(Rect::new(r.x0, y as f32, r.w(), 1.0), s.color_of_display(d));
    }
    axes::frame(c, r);
    let x = r.x1 + 0.5;
    for t in ticks {
        let ty = t.pos.floor() + 0.5;
        c.line((x, ty), (x + TICK_LEN, ty), 1.0, BLACK);
        c.text(
            &t.label,
            x + TICK_LEN + PAD,
            ty,
            TICK_FONT,
            BLACK,
            (0.0, 0.5),
        );
    }
    let lh = c.text_size("x", LABEL_FONT).1;
    let lx = x + TICK_LEN + PAD + axes::max_label_w(c, ticks) + 8.0 + lh / 2.0;
    c.text_up(label, lx, (r.y0 + r.y1) / 2.0, LABEL_FONT, BLACK);
}
