//! RGB raster canvas: anti-aliased lines, discs, rings, rectangles and text.

use ab_glyph::{Font, FontRef, OutlinedGlyph, PxScale, ScaleFont, point};
use image::{ImageError, ImageFormat, Rgb, RgbImage};
use std::io;
use std::path::Path;

/// An RGB colour.
pub type Color = [u8; 3];

/// Plain black, for frames, ticks and text.
pub const BLACK: Color = [0, 0, 0];
/// Plain white, for backgrounds and halos.
pub const WHITE: Color = [255, 255, 255];
/// Mid grey, for notes and secondary text.
pub const GREY: Color = [110, 110, 110];

/// Embedded so rendering never depends on fonts installed on the host.
static FONT_BYTES: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/DejaVuSans.ttf"
));

/// An axis-aligned pixel rectangle with `x0 <= x1` and `y0 <= y1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    /// Left edge.
    pub x0: f32,
    /// Top edge.
    pub y0: f32,
    /// Right edge.
    pub x1: f32,
    /// Bottom edge.
    pub y1: f32,
}

impl Rect {
    /// Builds a rectangle from its top-left corner and size.
    pub fn new(x: f32, y: f32, w: f32, h: f32) -> Self {
        Self {
            x0: x,
            y0: y,
            x1: x + w,
            y1: y + h,
        }
    }

    /// Width in pixels.
    pub fn w(&self) -> f32 {
        self.x1 - self.x0
    }

    /// Height in pixels.
    pub fn h(&self) -> f32 {
        self.y1 - self.y0
    }
}

/// Text anchor as fractions of the text box: (0, 0) top-left, (0.5, 0.5) centre, (1, 1) bottom-right.
pub type Anchor = (f32, f32);

/// An RGB image with a clip rectangle and an embedded font.
pub struct Canvas {
    img: RgbImage,
    font: FontRef<'static>,
    /// Half-open integer clip bounds (x0, y0, x1, y1).
    clip: (i64, i64, i64, i64),
}

impl Canvas {
    /// Creates a white canvas of `w` × `h` pixels.
    pub fn new(w: u32, h: u32) -> io::Result<Self> {
        let font = FontRef::try_from_slice(FONT_BYTES)
            .map_err(|e| io::Error::other(format!("embedded font is invalid: {e}")))?;
        Ok(Self {
            img: RgbImage::from_pixel(w, h, Rgb(WHITE)),
            font,
            clip: (0, 0, i64::from(w), i64::from(h)),
        })
    }

    /// Replaces the image with a white one of the new size (measuring can happen before sizing).
    pub fn resize(&mut self, w: u32, h: u32) {
        self.img = RgbImage::from_pixel(w, h, Rgb(WHITE));
        self.clip = (0, 0, i64::from(w), i64::from(h));
    }

    /// Image size in pixels.
    pub fn size(&self) -> (u32, u32) {
        self.img.dimensions()
    }

    /// Restricts drawing to `r` (whole pixels), or to the whole image with `None`.
    pub fn set_clip(&mut self, r: Option<Rect>) {
        let (w, h) = self.img.dimensions();
        let full = (0, 0, i64::from(w), i64::from(h));
        self.clip = match r {
            None => full,
            Some(r) => (
                (r.x0.floor() as i64).max(0),
                (r.y0.floor() as i64).max(0),
                (r.x1.ceil() as i64).min(full.2),
                (r.y1.ceil() as i64).min(full.3),
            ),
        };
    }

    /// Writes the image as PNG.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        self.img
            .save_with_format(path, ImageFormat::Png)
            .map_err(|e| match e {
                ImageError::IoError(e) => e,
                other => io::Error::other(other),
            })
    }

    /// Blends colour `c` into pixel (x, y) with coverage `a` in [0, 1], respecting the clip.
    pub fn blend(&mut self, x: i64, y: i64, c: Color, a: f32) {
        let (cx0, cy0, cx1, cy1) = self.clip;
        if a <= 0.0 || x < cx0 || y < cy0 || x >= cx1 || y >= cy1 {
            return;
        }
        let a = a.min(1.0);
        if let Some(p) = self.img.get_pixel_mut_checked(x as u32, y as u32) {
            for (dst, src) in p.0.iter_mut().zip(c) {
                *dst = (f32::from(*dst) * (1.0 - a) + f32::from(src) * a).round() as u8;
            }
        }
    }

    /// Fills a rectangle, rounding its edges to whole pixels.
    pub fn fill_rect(&mut self, r: Rect, c: Color) {
        let (x0, x1) = (r.x0.round() as i64, r.x1.round() as i64);
        let (y0, y1) = (r.y0.round() as i64, r.y1.round() as i64);
        for y in y0.max(self.clip.1)..y1.min(self.clip.3) {
            for x in x0.max(self.clip.0)..x1.min(self.clip.2) {
                self.blend(x, y, c, 1.0);
            }
        }
    }

    /// Anti-aliased straight line of width `w`.
    pub fn line(&mut self, a: (f32, f32), b: (f32, f32), w: f32, c: Color) {
        self.polyline(&[a, b], w, c, 1.0);
    }

    /// Anti-aliased polyline of width `w` and opacity `alpha`; joints are not blended twice.
    pub fn polyline(&mut self, pts: &[(f32, f32)], w: f32, c: Color, alpha: f32) {
        if pts.len() < 2 || pts.iter().any(|p| !(p.0.is_finite() && p.1.is_finite())) {
            return;
        }
        let pad = w / 2.0 + 1.0;
        let fold = |f: fn(f32, f32) -> f32, init: f32, k: usize| {
            pts.iter()
                .map(|p| if k == 0 { p.0 } else { p.1 })
                .fold(init, f)
        };
        let bx0 = ((fold(f32::min, f32::MAX, 0) - pad).floor() as i64).max(self.clip.0);
        let by0 = ((fold(f32::min, f32::MAX, 1) - pad).floor() as i64).max(self.clip.1);
        let bx1 = ((fold(f32::max, f32::MIN, 0) + pad).ceil() as i64).min(self.clip.2);
        let by1 = ((fold(f32::max, f32::MIN, 1) + pad).ceil() as i64).min(self.clip.3);
        if bx1 <= bx0 || by1 <= by0 {
            return;
        }
        let bw = (bx1 - bx0) as usize;
        // Max coverage over segments, so overlapping joints don't darken.
        let mut cov = vec![0f32; bw * (by1 - by0) as usize];
        for s in pts.windows(2) {
            let (p, q) = (s[0], s[1]);
            let x0 = ((p.0.min(q.0) - pad).floor() as i64).max(bx0);
            let x1 = ((p.0.max(q.0) + pad).ceil() as i64).min(bx1);
            let y0 = ((p.1.min(q.1) - pad).floor() as i64).max(by0);
            let y1 = ((p.1.max(q.1) + pad).ceil() as i64).min(by1);
            for y in y0..y1 {
                for x in x0..x1 {
                    let d = seg_dist((x as f32 + 0.5, y as f32 + 0.5), p, q);
                    let k = (y - by0) as usize * bw + (x - bx0) as usize;
                    if let Some(v) = cov.get_mut(k) {
                        *v = v.max((w / 2.0 + 0.5 - d).clamp(0.0, 1.0));
                    }
                }
            }
        }
        for (k, v) in cov.into_iter().enumerate() {
            let (x, y) = (bx0 + (k % bw) as i64, by0 + (k / bw) as i64);
            self.blend(x, y, c, v * alpha);
        }
    }

    /// Anti-aliased filled disc of radius `r`.
    pub fn disc(&mut self, cx: f32, cy: f32, r: f32, c: Color) {
        self.radial(cx, cy, r + 1.0, c, |d| r + 0.5 - d);
    }

    /// Anti-aliased circle outline of radius `r` and stroke width `w`.
    pub fn ring(&mut self, cx: f32, cy: f32, r: f32, w: f32, c: Color) {
        self.radial(cx, cy, r + w, c, |d| w / 2.0 + 0.5 - (d - r).abs());
    }

    /// Blends `c` around (cx, cy) within `reach`, with coverage given as a function of distance.
    fn radial(&mut self, cx: f32, cy: f32, reach: f32, c: Color, cov: impl Fn(f32) -> f32) {
        if !(cx.is_finite() && cy.is_finite() && reach.is_finite()) {
            return;
        }
        let (x0, x1) = ((cx - reach).floor() as i64, (cx + reach).ceil() as i64);
        let (y0, y1) = ((cy - reach).floor() as i64, (cy + reach).ceil() as i64);
        for y in y0..=y1 {
            for x in x0..=x1 {
                let d = (x as f32 + 0.5 - cx).hypot(y as f32 + 0.5 - cy);
                self.blend(x, y, c, cov(d).clamp(0.0, 1.0));
            }
        }
    }

    /// Lays out `s` at pixel size `size` with the box's top-left at the origin; returns glyphs, width and height.
    fn layout(&self, s: &str, size: f32) -> (Vec<OutlinedGlyph>, f32, f32) {
        let scale = PxScale::from(size);
        let sf = self.font.as_scaled(scale);
        let (mut caret, mut prev, mut out) = (0.0f32, None, Vec::new());
        for ch in s.chars() {
            let id = sf.glyph_id(ch);
            if let Some(p) = prev {
                caret += sf.kern(p, id);
            }
            let g = id.with_scale_and_position(scale, point(caret, sf.ascent()));
            caret += sf.h_advance(id);
            prev = Some(id);
            out.extend(self.font.outline_glyph(g));
        }
        (out, caret, sf.ascent() - sf.descent())
    }

    /// Width and height of `s` at pixel size `size`.
    pub fn text_size(&self, s: &str, size: f32) -> (f32, f32) {
        let (_, w, h) = self.layout(s, size);
        (w, h)
    }

    /// Draws horizontal text anchored at (x, y) by the fractions in `anchor`.
    pub fn text(&mut self, s: &str, x: f32, y: f32, size: f32, c: Color, anchor: Anchor) {
        let (glyphs, w, h) = self.layout(s, size);
        let ox = (x - anchor.0 * w).round() as i64;
        let oy = (y - anchor.1 * h).round() as i64;
        for g in glyphs {
            let b = g.px_bounds();
            let (gx0, gy0) = (ox + b.min.x as i64, oy + b.min.y as i64);
            g.draw(|gx, gy, a| self.blend(gx0 + i64::from(gx), gy0 + i64::from(gy), c, a));
        }
    }

    /// Draws text rotated 90° counter-clockwise (reading upward), centred at (cx, cy).
    pub fn text_up(&mut self, s: &str, cx: f32, cy: f32, size: f32, c: Color) {
        let (glyphs, w, h) = self.layout(s, size);
        // Text-space pixel (tx, ty) lands at (left + ty, bottom - tx - 1).
        let left = (cx - h / 2.0).round() as i64;
        let bottom = (cy + w / 2.0).round() as i64;
        for g in glyphs {
            let b = g.px_bounds();
            let (tx0, ty0) = (b.min.x as i64, b.min.y as i64);
            g.draw(|gx, gy, a| {
                let (tx, ty) = (tx0 + i64::from(gx), ty0 + i64::from(gy));
                self.blend(left + ty, bottom - tx - 1, c, a);
            });
        }
    }
}

/// Distance from point `p` to segment `a`–`b`.
fn seg_dist(p: (f32, f32), a: (f32, f32), b: (f32, f32)) -> f32 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    (p.0 - a.0 - t * dx).hypot(p.1 - a.1 - t * dy)
}
