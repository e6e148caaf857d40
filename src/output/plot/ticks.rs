//! Tick choice: 1/2/5 × 10^k steps, log-axis decades, compact labels, and overlap checks.

use super::axes::TICK_FONT;
use super::canvas::Canvas;

/// A tick: its data value, pixel position along its axis, and label.
#[derive(Debug, Clone, PartialEq)]
pub struct PxTick {
    /// Data value of the tick.
    pub value: f64,
    /// Pixel coordinate along the axis (x for horizontal axes, y for vertical).
    pub pos: f32,
    /// Text shown next to the tick.
    pub label: String,
}

/// Rounds a positive raw step up to 1, 2 or 5 × 10^k.
pub fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let base = 10f64.powf(raw.log10().floor());
    let f = raw / base;
    let m = [1.0, 2.0, 5.0].into_iter().find(|&m| f <= m * (1.0 + 1e-9));
    m.unwrap_or(10.0) * base
}

/// The 1, 2 or 5 × 10^k closest to `raw` in ratio, so the tick count stays near its target.
fn nearest_nice(raw: f64) -> f64 {
    let up = nice_step(raw);
    let mantissa = up / 10f64.powf((up.log10() + 1e-9).floor());
    // The next nice step below: 5 → 2 is a factor 0.4, the others halve.
    let down = up
        * if (mantissa - 5.0).abs() < 1e-6 {
            0.4
        } else {
            0.5
        };
    // Round down only when it stays under ~1.45× the target count, else ticks crowd.
    if raw / down < up / raw && raw / down < 1.45 {
        down
    } else {
        up
    }
}

/// Nice ticks inside [lo, hi] with about `target` intervals; returns the ticks and their step.
pub fn nice_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, f64) {
    let (lo, hi) = (lo.min(hi), lo.max(hi));
    if !(lo.is_finite() && hi.is_finite() && hi > lo) {
        return (Vec::new(), 1.0);
    }
    let step = nearest_nice((hi - lo) / target.max(1) as f64);
    let (k0, k1) = ((lo / step - 1e-9).ceil(), (hi / step + 1e-9).floor());
    if !(k1 >= k0 && k1 - k0 < 1000.0) {
        return (Vec::new(), step);
    }
    let ticks = (0..=(k1 - k0) as usize)
        .map(|i| (k0 + i as f64) * step)
        // Snap float noise near zero so "0" is printed rather than "1e-17".
        .map(|v| if v.abs() < step * 1e-9 { 0.0 } else { v })
        .collect();
    (ticks, step)
}

/// Formats a tick compactly: decimals just fine enough for `step`, or `1.5e−4` style when |v| < 1e-3 or ≥ 1e5.
pub fn format_tick(v: f64, step: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    let exp10 = |x: f64| (x.log10() + 1e-9).floor() as i32;
    let step_exp = if step.is_finite() && step > 0.0 {
        exp10(step)
    } else {
        exp10(a)
    };
    let s = if (1e-3..1e5).contains(&a) {
        let dec = (-step_exp).clamp(0, 12) as usize;
        format!("{v:.dec$}")
    } else {
        let dec = (exp10(a) - step_exp).clamp(0, 6) as usize;
        trim_mantissa(&format!("{v:.dec$e}"))
    };
    // A true minus sign reads better than a hyphen.
    s.replace('-', "\u{2212}")
}

/// Drops trailing zeros of a `1.50e3`-style mantissa.
fn trim_mantissa(s: &str) -> String {
    match s.split_once('e') {
        Some((m, e)) if m.contains('.') => {
            format!("{}e{e}", m.trim_end_matches('0').trim_end_matches('.'))
        }
        _ => s.to_string(),
    }
}

/// Candidate (value, step) tick sets for a log10 axis over [lo, hi] (both > 0), densest first.
fn log_tick_sets(lo: f64, hi: f64) -> Vec<Vec<(f64, f64)>> {
    let (e0, e1) = (lo.log10(), hi.log10());
    let (k0, k1) = ((e0 - 1e-9).ceil() as i32, (e1 + 1e-9).floor() as i32);
    let inside = |v: f64| v >= lo * (1.0 - 1e-9) && v <= hi * (1.0 + 1e-9);
    let mut sets = Vec::new();
    if e1 - e0 < 3.0 {
        let mut s = Vec::new();
        for k in (k0 - 1)..=k1 {
            let p = 10f64.powi(k);
            s.extend(
                [1.0, 2.0, 5.0]
                    .map(|m| (m * p, m * p))
                    .into_iter()
                    .filter(|t| inside(t.0)),
            );
        }
        sets.push(s);
    }
    for stride in [1, 2, 3, 5, 10, 20, 50, 100] {
        let s: Vec<(f64, f64)> = (k0..=k1)
            .filter(|k| k.rem_euclid(stride) == 0)
            .map(|k| (10f64.powi(k), 10f64.powi(k)))
            .collect();
        if s.len() >= 2 {
            sets.push(s);
        }
    }
    // Under about a decade, powers of ten are too sparse: fall back to linear ticks.
    for target in (2..=8).rev() {
        let (t, step) = nice_ticks(lo, hi, target);
        sets.push(
            t.into_iter()
                .filter(|&v| v > 0.0)
                .map(|v| (v, step))
                .collect(),
        );
    }
    sets
}

/// Picks the densest tick set over [lo, hi] whose labels don't overlap; `map` gives each value's pixel position.
pub fn choose_ticks(
    c: &Canvas,
    lo: f64,
    hi: f64,
    log: bool,
    horizontal: bool,
    map: &dyn Fn(f64) -> f32,
) -> Vec<PxTick> {
    let len = (map(hi) - map(lo)).abs();
    let sets: Vec<Vec<(f64, f64)>> = if log && lo > 0.0 {
        log_tick_sets(lo, hi)
    } else {
        let max_t = (len / if horizontal { 90.0 } else { 70.0 }).clamp(3.0, 10.0) as usize;
        (2..=max_t)
            .rev()
            .map(|t| {
                let (v, step) = nice_ticks(lo, hi, t);
                v.into_iter().map(|v| (v, step)).collect()
            })
            .collect()
    };
    let mut fallback = Vec::new();
    for set in sets.into_iter().filter(|s| !s.is_empty()) {
        let ticks: Vec<PxTick> = set
            .into_iter()
            .map(|(value, step)| PxTick {
                value,
                pos: map(value),
                label: format_tick(value, step),
            })
            .collect();
        if ticks.len() >= 2 && fits(c, &ticks, horizontal) {
            return ticks;
        }
        fallback = ticks;
    }
    thin(c, fallback, horizontal)
}

/// Whether neighbouring tick labels keep clear of each other.
fn fits(c: &Canvas, ticks: &[PxTick], horizontal: bool) -> bool {
    ticks
        .windows(2)
        .all(|p| gap_ok(c, &p[0], &p[1], horizontal))
}

/// Whether two tick labels are far enough apart along the axis.
fn gap_ok(c: &Canvas, a: &PxTick, b: &PxTick, horizontal: bool) -> bool {
    let gap = (a.pos - b.pos).abs();
    if horizontal {
        let (wa, wb) = (
            c.text_size(&a.label, TICK_FONT).0,
            c.text_size(&b.label, TICK_FONT).0,
        );
        gap >= (wa + wb) / 2.0 + 12.0
    } else {
        gap >= c.text_size(&a.label, TICK_FONT).1 + 3.0
    }
}

/// Greedily drops ticks whose labels would collide with the previously kept one.
pub fn thin(c: &Canvas, ticks: Vec<PxTick>, horizontal: bool) -> Vec<PxTick> {
    let mut kept: Vec<PxTick> = Vec::new();
    for t in ticks {
        if kept.last().is_none_or(|k| gap_ok(c, k, &t, horizontal)) {
            kept.push(t);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_nice() {
        let (t, step) = nice_ticks(-1.5, 1.5, 6);
        assert_eq!(step, 0.5);
        assert_eq!(t, vec![-1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5]);
        let (t, step) = nice_ticks(0.013, 0.087, 4);
        assert!((step - 0.02).abs() < 1e-12);
        assert_eq!(t.len(), 4);
        assert!(nice_ticks(1.0, 1.0, 5).0.is_empty());
        assert!(nice_ticks(f64::NAN, 1.0, 5).0.is_empty());
        assert_eq!(nice_step(3.0), 5.0);
        assert_eq!(nice_step(0.11), 0.2);
    }

    #[test]
    fn labels_are_compact() {
        assert_eq!(format_tick(0.0, 0.5), "0");
        assert_eq!(format_tick(-1.5, 0.5), "\u{2212}1.5");
        assert_eq!(format_tick(2.0, 1.0), "2");
        assert_eq!(format_tick(0.3 + 1e-16, 0.1), "0.3");
        assert_eq!(format_tick(1e-4, 1e-4), "1e\u{2212}4");
        assert_eq!(format_tick(2.5e-4, 5e-5), "2.5e\u{2212}4");
        assert_eq!(format_tick(2e5, 5e4), "2e5");
        assert_eq!(format_tick(1.5e6, 5e5), "1.5e6");
        assert_eq!(format_tick(0.01, 0.01), "0.01");
    }

    #[test]
    fn log_ticks_span_decades() {
        let sets = log_tick_sets(1e-3, 1e3);
        assert_eq!(sets[0].len(), 7);
        let short = log_tick_sets(2.0, 30.0);
        assert!(short[0].iter().any(|t| t.0 == 5.0));
    }
}
