//! Perceptual colour map (viridis) and value → colour scaling with optional log10.

use super::canvas::Color;

/// Colour for missing or non-finite values: a neutral grey that viridis never produces.
pub const MISSING: Color = [150, 150, 150];

/// Degree-6 polynomial fit of matplotlib's viridis per channel, constant term first.
const VIRIDIS: [[f64; 3]; 7] = [
    [
        0.277_727_327_223_417_7,
        0.005_407_344_544_966_578,
        0.334_099_805_335_306_1,
    ],
    [
        0.105_093_043_108_577_4,
        1.404_613_529_898_575,
        1.384_590_162_594_685,
    ],
    [
        -0.330_861_828_725_556_3,
        0.214_847_559_468_213,
        0.095_095_163_028_236_59,
    ],
    [
        -4.634_230_498_983_486,
        -5.799_100_973_351_585,
        -19.332_440_956_279_87,
    ],
    [
        6.228_269_936_347_081,
        14.179_933_366_805_09,
        56.690_552_600_681_05,
    ],
    [
        4.776_384_997_670_288,
        -13.745_145_377_746_01,
        -65.353_032_633_372_34,
    ],
    [
        -5.435_455_855_934_631,
        4.645_852_612_178_535,
        26.312_435_249_583_2,
    ],
];

/// Viridis colour at `t` in [0, 1] (clamped); NaN gives the missing-value grey.
pub fn viridis(t: f64) -> Color {
    if t.is_nan() {
        return MISSING;
    }
    let t = t.clamp(0.0, 1.0);
    let mut rgb = [0u8; 3];
    for (k, ch) in rgb.iter_mut().enumerate() {
        let v = VIRIDIS.iter().rev().fold(0.0, |acc, c| acc * t + c[k]);
        *ch = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    }
    rgb
}

/// How raw values are transformed onto the displayed (colour) scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// The value itself.
    Linear,
    /// `log10(max(v, floor))`, used for log scale when every finite value is positive.
    Log {
        /// Values below this are clamped; at most 10 decades under the maximum.
        floor: f64,
    },
    /// `log10(v − shift)` with `shift = min − ε`, used for log scale when some value is ≤ 0.
    ShiftedLog {
        /// `min − ε` with ε = 10⁻³ × (max − min), so the minimum sits 3 decades under the span.
        shift: f64,
    },
}

/// A value → colour mapping: a transform onto the displayed scale plus that scale's range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColorScale {
    /// The transform.
    pub mode: Mode,
    /// Displayed-scale value drawn with the first colour.
    pub lo: f64,
    /// Displayed-scale value drawn with the last colour.
    pub hi: f64,
    /// Smallest finite raw value (0 when there are none).
    pub min: f64,
    /// Largest finite raw value (1 when there are none).
    pub max: f64,
    /// True when no finite value was seen.
    pub empty: bool,
}

impl ColorScale {
    /// Builds a scale from the finite values; `log` picks plain log10 when all are positive, else log10 shifted by the minimum.
    pub fn new(values: impl Iterator<Item = f64>, log: bool) -> Self {
        let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in values.filter(|v| v.is_finite()) {
            min = min.min(v);
            max = max.max(v);
        }
        if min > max {
            let mode = Mode::Linear;
            return Self {
                mode,
                lo: 0.0,
                hi: 1.0,
                min: 0.0,
                max: 1.0,
                empty: true,
            };
        }
        let span = max - min;
        let mode = if !log {
            Mode::Linear
        } else if min > 0.0 {
            Mode::Log {
                floor: min.max(max * 1e-10),
            }
        } else {
            let eps = if span > 0.0 && span.is_finite() {
                span * 1e-3
            } else {
                1.0
            };
            Mode::ShiftedLog { shift: min - eps }
        };
        let mut s = Self {
            mode,
            lo: 0.0,
            hi: 1.0,
            min,
            max,
            empty: false,
        };
        let (lo, hi) = (s.display(min), s.display(max));
        (s.lo, s.hi) = if hi > lo {
            (lo, hi)
        } else if mode == Mode::Linear {
            // A flat field still gets a valid range, centred on its value.
            let pad = if lo != 0.0 { lo.abs() * 0.1 } else { 1.0 };
            (lo - pad, hi + pad)
        } else {
            (lo - 0.5, hi + 0.5)
        };
        if !(s.lo.is_finite() && s.hi.is_finite() && s.hi > s.lo) {
            (s.lo, s.hi) = (0.0, 1.0);
        }
        s
    }

    /// Maps a raw value onto the displayed scale (NaN for non-finite input).
    pub fn display(&self, v: f64) -> f64 {
        if !v.is_finite() {
            return f64::NAN;
        }
        match self.mode {
            Mode::Linear => v,
            Mode::Log { floor } => v.max(floor).log10(),
            Mode::ShiftedLog { shift } => (v - shift).max(f64::MIN_POSITIVE).log10(),
        }
    }

    /// Position of a displayed value in the range: 0 at `lo`, 1 at `hi`.
    pub fn unit(&self, d: f64) -> f64 {
        (d - self.lo) / (self.hi - self.lo)
    }

    /// Colour of a displayed-scale value (grey when NaN).
    pub fn color_of_display(&self, d: f64) -> Color {
        viridis(self.unit(d))
    }

    /// `n` contour levels evenly spaced strictly inside the displayed range.
    pub fn levels(&self, n: usize) -> Vec<f64> {
        let step = (self.hi - self.lo) / (n + 1) as f64;
        (1..=n).map(|k| self.lo + k as f64 * step).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Color, b: Color) -> bool {
        a.iter()
            .zip(b)
            .all(|(&x, y)| (i32::from(x) - i32::from(y)).abs() <= 6)
    }

    #[test]
    fn viridis_endpoints() {
        assert!(close(viridis(0.0), [68, 1, 84]));
        assert!(close(viridis(0.5), [33, 145, 140]));
        assert!(close(viridis(1.0), [253, 231, 37]));
        assert_eq!(viridis(-3.0), viridis(0.0));
        assert_eq!(viridis(f64::NAN), MISSING);
    }

    #[test]
    fn scales_choose_modes() {
        let s = ColorScale::new([1.0, 10.0, 100.0].into_iter(), true);
        assert!(matches!(s.mode, Mode::Log { .. }));
        assert!((s.unit(s.display(10.0)) - 0.5).abs() < 1e-12);
        let s = ColorScale::new([0.0, 1.0, f64::NAN].into_iter(), true);
        assert!(matches!(s.mode, Mode::ShiftedLog { .. }));
        assert!((s.display(0.0) - s.lo).abs() < 1e-12);
        let flat = ColorScale::new([2.0, 2.0].into_iter(), false);
        assert!(flat.hi > flat.lo && (flat.unit(2.0) - 0.5).abs() < 1e-12);
        let none = ColorScale::new([f64::NAN].into_iter(), true);
        assert!(none.empty && none.color_of_display(none.display(f64::NAN)) == MISSING);
    }
}
