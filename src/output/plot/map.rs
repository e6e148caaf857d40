//! Basin maps: a categorical lattice picture (class of each walker's end point) with a legend.

use super::axes::{self, TICK_FONT};
use super::canvas::{BLACK, Canvas, Color, GREY, Rect};
use super::colorbar::{self, BAR_W};
use super::colormap::{ColorScale, MISSING, viridis};
use super::lattice::{cell_range, heat_len, lattice_ticks};
use super::{AxisInfo, check_axis, invalid};
use std::collections::HashMap;
use std::io;
use std::path::Path;

/// Longest side of the map's data area in pixels.
const MAP_MAX: usize = 660;
/// Legend entries shown in full; longer legends show one row fewer, the last a summary line.
const LEGEND_MAX: usize = 16;
/// Height of one legend row.
const ROW_H: f32 = 21.0;
/// Width and height of a legend swatch.
const SWATCH: (f32, f32) = (20.0, 14.0);
/// Widest legend text before it is cut with an ellipsis.
const TEXT_MAX_W: f32 = 420.0;
/// Colour of diverged walkers.
const DIVERGED: Color = [60, 60, 60];
/// Colour of walkers that stopped (converged or non-finite) but belong to no class.
const NO_CLASS: Color = [140, 140, 140];
/// Colour of walkers still moving at the step budget that belong to no class.
const UNCONVERGED: Color = [205, 205, 205];
/// Largest darkening applied by `shade` = 1.
const SHADE_MAX: f32 = 0.45;
/// Colour of the legend's box.
const LEGEND_BOX: Color = [190, 190, 190];

/// Class hues as 0xRRGGBB (Tableau-10 order, its grey dropped so neutral greys stay unambiguous, plus a navy).
const PALETTE: [u32; 10] = [
    0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd, 0x8c564b, 0xe377c2, 0xbcbd22, 0x17becf,
    0x283278,
];

/// What one lattice point of a basin map shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MapPixel {
    /// A walker that ended in class `class` (0-based, lowest loss first), copy `copy` of it (None when copies are not counted), shaded by `shade` in [0, 1] (0 = none; used to darken pixels that took many steps so basin boundaries show).
    Class {
        /// The class's colour slot: its place among the classes (see `class_color`; from `PALE`
        /// on, a pale hue).
        class: usize,
        /// Copy index within the class, or None when copies are not counted.
        copy: Option<usize>,
        /// Darkening in [0, 1].
        shade: f32,
    },
    /// A value on a continuous colour scale (e.g. final loss or steps), already normalised to [0, 1]; NaN for missing.
    Scalar(f32),
    /// A walker in no class, drawn in one of three neutral greys.
    Neutral(Neutral),
}

/// Why a walker has no colour of its own: each reason has its own neutral grey.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Neutral {
    /// The walker diverged (dark grey).
    Diverged,
    /// It stopped, but where it stopped is in no class: no stationary point nearby, or a
    /// non-finite value (mid grey).
    NoClass,
    /// It was still moving when it reached the step budget, and its end is in no class: more
    /// steps may place it (light grey).
    Unconverged,
}

impl Neutral {
    /// The three kinds, in legend order.
    pub const ALL: [Neutral; 3] = [Neutral::Diverged, Neutral::NoClass, Neutral::Unconverged];

    /// The grey this kind is drawn in.
    pub fn color(self) -> Color {
        match self {
            Neutral::Diverged => DIVERGED,
            Neutral::NoClass => NO_CLASS,
            Neutral::Unconverged => UNCONVERGED,
        }
    }
}

/// What a legend row's swatch shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LegendKey {
    /// A class (its base colour, or a strip of copy shades).
    Class(usize),
    /// One of the neutral greys.
    Neutral(Neutral),
}

/// One legend row.
#[derive(Debug, Clone, PartialEq)]
pub struct MapLegendEntry {
    /// What the swatch shows.
    pub key: LegendKey,
    /// Text, e.g. "class 0 · minimum · L = 1.2e-12 · 48 copies · 35.2%".
    pub text: String,
}

/// Mixes `c` toward `to` by fraction `f` in [0, 1].
fn mix(c: Color, to: Color, f: f32) -> Color {
    let mut out = c;
    for (o, t) in out.iter_mut().zip(to) {
        *o = (f32::from(*o) * (1.0 - f) + f32::from(t) * f).round() as u8;
    }
    out
}

/// Colour slots from here on are pale versions of the slots below (`class_color(PALE + k)` is
/// slot k mixed toward white): the classes of a map that are not stationary points (plateaus).
pub const PALE: usize = 1 << 16;

/// The base colour of class `class` and the shade used for its copy `copy` (public so other pictures and reports use the same colours).
///
/// Classes take a qualitative palette of ten well-separated hues; past its end the palette repeats
/// darker, then lighter, alternating ever further from the base. Copy 0 (and `None`) is the base
/// colour; further copies mix it toward black or white (lightness) and toward its own grey
/// (saturation) along a 2-D low-discrepancy sequence, so the hue stays while many copies differ.
pub fn class_color(class: usize, copy: Option<usize>) -> [u8; 3] {
    if class >= PALE {
        // Pale slots: the palette's hues mixed toward white, for classes that are not
        // stationary points, so that they never pass for one.
        return mix(class_color(class - PALE, None), [255; 3], 0.55);
    }
    let base = PALETTE[class % PALETTE.len()].to_be_bytes();
    let base = [base[1], base[2], base[3]];
    // Later cycles alternate darker and lighter, each pair further from the base.
    let base = match class / PALETTE.len() {
        0 => base,
        k => {
            let f = (0.25 + 0.15 * ((k - 1) / 2) as f32).min(0.8);
            mix(base, if k % 2 == 1 { BLACK } else { [255; 3] }, f)
        }
    };
    let k = match copy {
        None | Some(0) => return base,
        Some(k) => k as f64,
    };
    // R2 sequence: u sets lightness (centred so small k stay near the base), v the desaturation.
    let u = ((0.5 + k * 0.754_877_666_2).fract() - 0.5) as f32;
    let v = (k * 0.569_840_291_0).fract() as f32;
    let luma = base.iter().map(|&ch| f32::from(ch)).sum::<f32>() / 3.0;
    let c = mix(base, [luma.round() as u8; 3], 0.3 * v);
    if u < 0.0 {
        mix(c, BLACK, -u)
    } else {
        mix(c, [255; 3], u)
    }
}

/// A 1-px outline along the inside of `r`.
fn outline(c: &mut Canvas, r: Rect, col: Color) {
    let (x0, y0, x1, y1) = (r.x0 + 0.5, r.y0 + 0.5, r.x1 - 0.5, r.y1 - 0.5);
    c.polyline(
        &[(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)],
        1.0,
        col,
        1.0,
    );
}

/// Colour of one pixel; `shade` darkens class pixels by up to 45 %.
fn pixel_color(p: MapPixel) -> Color {
    match p {
        MapPixel::Class { class, copy, shade } => {
            let f = if shade > 0.0 { shade.min(1.0) } else { 0.0 };
            mix(class_color(class, copy), BLACK, SHADE_MAX * f)
        }
        MapPixel::Scalar(v) if v.is_nan() => MISSING,
        MapPixel::Scalar(v) => viridis(f64::from(v)),
        MapPixel::Neutral(n) => n.color(),
    }
}

/// Cuts `s` with an ellipsis so it fits `max_w` pixels at the tick font size.
fn fit_text(c: &Canvas, s: &str, max_w: f32) -> String {
    if c.text_size(s, TICK_FONT).0 <= max_w {
        return s.to_string();
    }
    let chars: Vec<char> = s.chars().collect();
    (0..chars.len())
        .rev()
        .map(|n| chars[..n].iter().collect::<String>() + "…")
        .find(|t| c.text_size(t, TICK_FONT).0 <= max_w)
        .unwrap_or_else(|| "…".to_string())
}

/// The legend rows drawn: (swatch colours, text). Scalar maps keep only neutral rows. Long
/// legends keep their leading class rows, a "… N more classes" line, then the neutral rows.
fn legend_rows(
    legend: &[MapLegendEntry],
    scalar: bool,
    copies: &HashMap<usize, usize>,
) -> Vec<(Vec<Color>, String)> {
    let swatch = |e: &MapLegendEntry| match e.key {
        // A class with copies shows a strip of its first few copy shades.
        LegendKey::Class(k) => (0..copies.get(&k).copied().unwrap_or(0).clamp(1, 5))
            .map(|j| class_color(k, Some(j)))
            .collect(),
        LegendKey::Neutral(n) => vec![n.color()],
    };
    let (cls, neutral): (Vec<_>, Vec<_>) = legend
        .iter()
        .partition(|e| matches!(e.key, LegendKey::Class(_)));
    let cls = if scalar { Vec::new() } else { cls };
    let mut rows: Vec<(Vec<Color>, String)> = Vec::new();
    let keep = if cls.len() + neutral.len() > LEGEND_MAX {
        (LEGEND_MAX - 1).saturating_sub(neutral.len()).max(1)
    } else {
        cls.len()
    };
    rows.extend(cls.iter().take(keep).map(|e| (swatch(e), e.text.clone())));
    if cls.len() > keep {
        rows.push((Vec::new(), format!("… {} more classes", cls.len() - keep)));
    }
    rows.extend(neutral.iter().map(|e| (swatch(e), e.text.clone())));
    rows
}

/// Draws the legend rows in `r` inside a light box.
fn draw_legend(c: &mut Canvas, rows: &[(Vec<Color>, String)], r: Rect) {
    if !rows.is_empty() {
        outline(
            c,
            Rect::new(r.x0 - 8.0, r.y0 - 4.0, r.w() + 16.0, r.h() + 8.0),
            LEGEND_BOX,
        );
    }
    let (x, y) = (r.x0, r.y0);
    for (k, (cols, text)) in rows.iter().enumerate() {
        let cy = y + k as f32 * ROW_H + ROW_H / 2.0;
        let sw = Rect::new(x, (cy - SWATCH.1 / 2.0).round(), SWATCH.0, SWATCH.1);
        let n = cols.len();
        for (j, &col) in cols.iter().enumerate() {
            let x0 = (sw.x0 + sw.w() * j as f32 / n as f32).round();
            let x1 = (sw.x0 + sw.w() * (j + 1) as f32 / n as f32).round();
            c.fill_rect(Rect::new(x0, sw.y0, x1 - x0, sw.h()), col);
        }
        if n > 0 {
            outline(
                c,
                Rect::new(sw.x0 - 1.0, sw.y0 - 1.0, sw.w() + 2.0, sw.h() + 2.0),
                BLACK,
            );
        }
        let tc = if n > 0 { BLACK } else { GREY };
        c.text(text, sw.x1 + 7.0, cy, TICK_FONT, tc, (0.0, 0.5));
    }
}

/// The colour bar of a map of scalar pixels: its label and the values that 0 and 1 stand for.
#[derive(Debug, Clone, Copy)]
pub struct ScalarBar<'a> {
    /// The quantity and its units.
    pub label: &'a str,
    /// The value drawn as 0.
    pub lo: f64,
    /// The value drawn as 1.
    pub hi: f64,
}

/// A basin map: `pixels` row-major with shape (x.values.len(), y.values.len()), pixels[i * ny + j] at (x.values[i], y.values[j]); first axis horizontal, second vertical increasing upward.
///
/// Legend on the right (one row per entry, coloured swatch then text; classes whose pixels carry
/// copies show a strip of copy shades). When `scalar` is Some, pixels are MapPixel::Scalar
/// values in [0, 1] drawn with viridis and a colour bar in the units `scalar` gives them (0 is
/// `lo`, 1 is `hi`); class rows are then omitted
/// and neutral rows still shown. Lattices larger than the ~660 px area pick the lattice point at
/// each pixel's block centre; smaller ones are upscaled in whole-pixel blocks.
pub fn map_png(
    path: &Path,
    x: &AxisInfo,
    y: &AxisInfo,
    pixels: &[MapPixel],
    legend: &[MapLegendEntry],
    scalar: Option<ScalarBar<'_>>,
    title: &str,
) -> io::Result<()> {
    check_axis(x, "x")?;
    check_axis(y, "y")?;
    let (nx, ny) = (x.values.len(), y.values.len());
    if nx.checked_mul(ny) != Some(pixels.len()) {
        let n = pixels.len();
        return Err(invalid(format!("map has {n} pixels, expected {nx} × {ny}")));
    }
    // Copies seen per class, for the legend's strips of copy shades.
    let mut copies = HashMap::new();
    for p in pixels {
        if let MapPixel::Class {
            class,
            copy: Some(j),
            ..
        } = *p
        {
            let n = copies.entry(class).or_insert(0);
            *n = j.saturating_add(1).max(*n);
        }
    }
    let mut c = Canvas::new(1, 1)?;
    let rows: Vec<_> = legend_rows(legend, scalar.is_some(), &copies)
        .into_iter()
        .map(|(cols, t)| (cols, fit_text(&c, &t, TEXT_MAX_W)))
        .collect();
    let (w, h) = (heat_len(nx, MAP_MAX) as f32, heat_len(ny, MAP_MAX) as f32);
    let top = 48.0;
    let yt = lattice_ticks(&c, &y.values, top, h, true);
    let left = (16.0 + axes::y_axis_width(&c, &yt)).round();
    let xt = lattice_ticks(&c, &x.values, left, w, false);
    let area = Rect::new(left, top, w, h);
    let overhang = xt.last().map_or(0.0, |t| {
        c.text_size(&t.label, TICK_FONT).0 / 2.0 - (area.x1 - t.pos)
    });
    let mut lx = area.x1 + 22.0 + overhang.max(0.0).round();
    let scale = ColorScale::new(
        scalar.map_or([0.0, 1.0], |s| [s.lo, s.hi]).into_iter(),
        false,
    );
    let bar = scalar.map(|ScalarBar { label, .. }| {
        let ct = colorbar::ticks(&c, &scale, top, h);
        let r = Rect::new(lx, top, BAR_W, h);
        lx += colorbar::extent(&c, &ct) + 24.0;
        (r, ct, label)
    });
    let row_w = |r: &(Vec<Color>, String)| SWATCH.0 + 7.0 + c.text_size(&r.1, TICK_FONT).0;
    let legend_w = rows.iter().map(row_w).fold(0.0, f32::max);
    let width = lx + legend_w + 20.0;
    let legend_bottom = top + rows.len() as f32 * ROW_H;
    let height = area.y1.max(legend_bottom) + axes::x_axis_height(&c) + 12.0;
    c.resize(width.ceil() as u32, height.ceil() as u32);
    // Categories cannot be averaged: each pixel shows the lattice point at its block centre.
    let pick = |p: usize, n: usize, len: usize| {
        let (a, b) = cell_range(p, n, len);
        ((a + b) / 2).min(n - 1)
    };
    let cols: Vec<usize> = (0..w as usize).map(|p| pick(p, nx, w as usize)).collect();
    let (ox, oy) = (area.x0 as i64, area.y0 as i64);
    for py in 0..h as usize {
        let j = pick(h as usize - 1 - py, ny, h as usize);
        for (px, &i) in cols.iter().enumerate() {
            let col = pixels.get(i * ny + j).map_or(MISSING, |&p| pixel_color(p));
            c.blend(ox + px as i64, oy + py as i64, col, 1.0);
        }
    }
    axes::frame(&mut c, area);
    axes::x_axis(&mut c, area, &xt, &x.label);
    axes::y_axis(&mut c, area, &yt, &y.label);
    if let Some((r, ct, label)) = &bar {
        colorbar::draw(&mut c, *r, &scale, ct, label);
    }
    draw_legend(
        &mut c,
        &rows,
        Rect::new(lx, top, legend_w, legend_bottom - top),
    );
    axes::title(&mut c, title, (area.x0 + area.x1) / 2.0, 12.0);
    c.save(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn axis(n: usize) -> AxisInfo {
        let values = (0..n).map(|k| k as f64 * 4.0 / n.max(2) as f64 - 2.0);
        let label = format!("w1[0,{}]", 1 - n % 2);
        AxisInfo {
            label,
            values: values.collect(),
        }
    }

    /// Legend rows: classes for the first `n`, then the neutral rows in order.
    fn legend(texts: &[&str], n: usize) -> Vec<MapLegendEntry> {
        let row = |(k, t): (usize, &&str)| MapLegendEntry {
            key: if k < n {
                LegendKey::Class(k)
            } else {
                LegendKey::Neutral(Neutral::ALL[(k - n).min(2)])
            },
            text: t.to_string(),
        };
        texts.iter().enumerate().map(row).collect()
    }

    /// Three angular basins (class 0 with 12 copies), darker near their edges; a diverged rim;
    /// a seam of walkers in no class and one of walkers still moving.
    fn pixel(a: f64, b: f64) -> MapPixel {
        let f = (b.atan2(a) / std::f64::consts::TAU + 0.5) * 3.0;
        let (class, shade) = (f as usize % 3, 0.8 - 8.0 * (f - f.round()).abs());
        let copy = (class == 0).then_some((a.hypot(b) * 3.0 + f * 9.0) as usize % 12);
        match (a.hypot(b) > 2.3, (a - b).abs() < 0.06, (a + b).abs() < 0.06) {
            (true, _, _) => MapPixel::Neutral(Neutral::Diverged),
            (_, true, _) => MapPixel::Neutral(Neutral::NoClass),
            (_, _, true) => MapPixel::Neutral(Neutral::Unconverged),
            _ => MapPixel::Class {
                class,
                copy,
                shade: shade.max(0.0) as f32,
            },
        }
    }

    #[test]
    fn class_map_renders() -> io::Result<()> {
        let p = super::super::test_dir("map")?.join("map.png");
        let (x, y) = (axis(201), axis(200));
        let px = x
            .values
            .iter()
            .flat_map(|&a| y.values.iter().map(move |&b| pixel(a, b)));
        let texts = [
            "class 0 · minimum · L = 1.2e-12 · 12 copies · 35.2%",
            "class 1 · saddle (index 1) · L = 0.083 · 28.0%",
            "class 2 · minimum · L = 0.25 · 22.9%",
            "diverged · 11.6%",
            "no class · 2.3%",
            "still moving at the step budget · 2.2%",
        ];
        map_png(
            &p,
            &x,
            &y,
            &px.collect::<Vec<_>>(),
            &legend(&texts, 3),
            None,
            "basins",
        )?;
        if std::env::var_os("MAP_EXAMPLE").is_some() {
            std::fs::copy(&p, "/tmp/map-example.png")?;
        }
        let img = image::open(&p).map_err(io::Error::other)?.to_rgb8();
        assert!((900..1300).contains(&img.width()) && (650..850).contains(&img.height()));
        let seen: HashSet<[u8; 3]> = img.pixels().map(|p| p.0).collect();
        let (c1, c2) = (class_color(1, None), class_color(2, None));
        assert!(
            [DIVERGED, NO_CLASS, UNCONVERGED, c1, c2]
                .iter()
                .all(|c| seen.contains(c))
        );
        let copies = (0..12).filter(|&j| seen.contains(&class_color(0, Some(j))));
        assert!(copies.count() >= 6, "too few copy shades");
        Ok(())
    }

    #[test]
    fn class_colours_are_distinct_and_copies_related() {
        let bases: HashSet<Color> = (0..=30).map(|k| class_color(k, None)).collect();
        assert_eq!(bases.len(), 31);
        assert_eq!(class_color(3, Some(0)), class_color(3, None));
        // Mixing with black, white and grey keeps the hue, so the channel order stays.
        let order = |c: Color| {
            let mut idx = [0, 1, 2];
            idx.sort_by_key(|&k| c[k]);
            idx
        };
        for k in 0..10 {
            let copies: Vec<Color> = (0..48).map(|j| class_color(k, Some(j))).collect();
            assert!(
                copies.iter().collect::<HashSet<_>>().len() >= 46,
                "class {k}"
            );
            let related = copies.iter().filter(|&&c| order(c) == order(copies[0]));
            assert!(related.count() >= 44, "class {k}: copies drift in hue");
        }
    }

    #[test]
    fn scalar_maps_long_legends_and_bad_inputs() -> io::Result<()> {
        let p = super::super::test_dir("map-more")?.join("scalar.png");
        let (x, y, one) = (axis(40), axis(30), axis(1));
        let mut px: Vec<_> = (0..1200)
            .map(|k| MapPixel::Scalar(k as f32 / 1199.0))
            .collect();
        (px[3], px[4]) = (
            MapPixel::Scalar(f32::NAN),
            MapPixel::Neutral(Neutral::Diverged),
        );
        let texts: Vec<String> = (0..41).map(|k| format!("row {k}")).collect();
        let lg = legend(&texts.iter().map(String::as_str).collect::<Vec<_>>(), 40);
        map_png(
            &p,
            &x,
            &y,
            &px,
            &lg,
            Some(ScalarBar {
                label: "log10 L",
                lo: -3.0,
                hi: 1.5,
            }),
            "loss",
        )?;
        map_png(&p, &x, &y, &px, &lg, None, "")?;
        assert_eq!(legend_rows(&lg, true, &HashMap::new()).len(), 1);
        let rows = legend_rows(&lg, false, &HashMap::new());
        assert_eq!((rows.len(), rows[14].1.as_str()), (16, "… 26 more classes"));
        let odd = [MapPixel::Class {
            class: 99,
            copy: Some(1000),
            shade: f32::NAN,
        }];
        map_png(&p, &one, &one, &odd, &[], None, "single")?;
        map_png(
            &p,
            &x,
            &one,
            &[MapPixel::Scalar(-4.0); 40],
            &[],
            Some(ScalarBar {
                label: "v",
                lo: 0.0,
                hi: 1.0,
            }),
            "",
        )?;
        let mut down = axis(2);
        down.values.reverse();
        for (a, b, n) in [(&axis(0), &one, 0), (&x, &one, 39), (&x, &down, 80)] {
            let r = map_png(&p, a, b, &vec![odd[0]; n], &[], None, "");
            assert_eq!(r.map_err(|e| e.kind()), Err(io::ErrorKind::InvalidInput));
        }
        let nowhere = p.join("no").join("x.png");
        assert!(map_png(&nowhere, &one, &one, &odd, &[], None, "").is_err());
        Ok(())
    }
}
