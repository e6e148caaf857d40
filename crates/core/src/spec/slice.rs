//! Slices: lattices of 1 to 4 dimensions through parameter space, an origin plus axes.
//!
//! A lattice point is built in a fixed order: start at the origin, set every named-parameter
//! axis's parameter to its value (absolute), then add t·d for every direction axis (offset, so
//! t = 0 is the origin). Point g of the lattice has multi-index (i₁, …, i_k) in row-major order,
//! the last axis running fastest, and axis j's value is LO + (HI − LO)·i_j/(N_j − 1).

use crate::error::{Error, Result};
use crate::npy;
use crate::rng::{Stream, normal};
use crate::spec::data::Teacher;
use crate::spec::model::Model;

/// Largest number of axes of a slice.
pub const MAX_AXES: usize = 4;

/// Largest number of points on one axis (2²⁴): the kernels read axis values from a table, and
/// float32 counts exactly up to here.
pub const MAX_AXIS_POINTS: usize = 1 << 24;

/// How an axis moves through parameter space, or which training hyper-parameter it sets.
#[derive(Debug, Clone, PartialEq)]
pub enum AxisKind {
    /// Sets parameter `θ[p]` to the axis value.
    Set(usize),
    /// Adds t·d to the point, for a direction d of length P.
    Offset(Vec<f64>),
    /// Sets the learning rate of the walker starting at the point: of weight layer `l`
    /// (0-based; written `lr{l+1}`), or of every layer (`lr`). Only maps take it.
    Rate(Option<usize>),
    /// Multiplies the start (the origin moved along the parameter axes) by the value. Only
    /// maps take it.
    Scale,
}

impl AxisKind {
    /// Whether the axis sets a training hyper-parameter rather than a point's coordinates.
    pub fn is_hyper(&self) -> bool {
        matches!(self, AxisKind::Rate(_) | AxisKind::Scale)
    }
}

/// One resolved axis of a slice.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// The axis as the user wrote it.
    pub spec: String,
    /// A short label for pictures and tables: the parameter name, or the direction's source.
    pub label: String,
    /// What the axis does.
    pub kind: AxisKind,
    /// First value.
    pub lo: f64,
    /// Last value.
    pub hi: f64,
    /// Number of values, at least 2.
    pub n: usize,
    /// Values spaced evenly in log(value) instead of in value (`log:LO:HI:N`; hyper-parameter
    /// axes only, LO > 0).
    pub log: bool,
}

impl Axis {
    /// The i-th value along the axis: LO + (HI − LO)·i/(N − 1), or with `log`
    /// exp(ln LO + (ln HI − ln LO)·i/(N − 1)), LO and HI exact at the ends.
    pub fn value(&self, i: usize) -> f64 {
        let f = i as f64 / (self.n - 1) as f64;
        if !self.log {
            return self.lo + (self.hi - self.lo) * f;
        }
        if i == 0 {
            return self.lo;
        }
        if i + 1 == self.n {
            return self.hi;
        }
        (self.lo.ln() + (self.hi.ln() - self.lo.ln()) * f).exp()
    }

    /// All values along the axis.
    pub fn values(&self) -> Vec<f64> {
        (0..self.n).map(|i| self.value(i)).collect()
    }

    /// How many of the axis's values stay distinct once rounded to float32, as the kernels
    /// take them (they ascend, so equal values are neighbours).
    pub fn distinct_f32_values(&self) -> usize {
        1 + (1..self.n)
            .filter(|&i| self.value(i) as f32 != self.value(i - 1) as f32)
            .count()
    }
}

/// An origin and 1 to 4 axes.
#[derive(Debug, Clone, PartialEq)]
pub struct Slice {
    /// The origin θ₀ (length P).
    pub origin: Vec<f64>,
    /// The axes, in the order of the output arrays' dimensions.
    pub axes: Vec<Axis>,
}

impl Slice {
    /// The lattice shape (N₁, …, N_k).
    pub fn shape(&self) -> Vec<usize> {
        self.axes.iter().map(|a| a.n).collect()
    }

    /// Number of lattice points.
    pub fn len(&self) -> u64 {
        self.axes.iter().map(|a| a.n as u64).product()
    }

    /// Whether the lattice is empty (never, for a validated slice).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The multi-index of lattice point `g`.
    pub fn multi_index(&self, mut g: u64) -> Vec<usize> {
        let mut idx = vec![0; self.axes.len()];
        for (j, a) in self.axes.iter().enumerate().rev() {
            idx[j] = (g % a.n as u64) as usize;
            g /= a.n as u64;
        }
        idx
    }

    /// Whether an axis sets a training hyper-parameter (`lr`, `lrK`, `scale`).
    pub fn has_hyper(&self) -> bool {
        self.axes.iter().any(|a| a.kind.is_hyper())
    }

    /// Whether an axis sets learning rates.
    pub fn has_rates(&self) -> bool {
        self.axes
            .iter()
            .any(|a| matches!(a.kind, AxisKind::Rate(_)))
    }

    /// Refuses hyper-parameter axes, for `command`, which maps parameter space only.
    pub fn parameters_only(&self, command: &str) -> Result<()> {
        match self.axes.iter().find(|a| a.kind.is_hyper()) {
            Some(a) => Err(Error::spec(
                "--axis",
                format!(
                    "'{}' sets a training hyper-parameter; `landscape {command}` takes axes through parameter space only (`landscape map` takes lr, lrK and scale axes)",
                    a.spec
                ),
            )),
            None => Ok(()),
        }
    }

    /// The learning rate of each of the `layers` weight layers for the walker starting at
    /// lattice point `g`: `base` where no axis sets it; an `lr` axis sets every layer's, an
    /// `lrK` axis layer K's.
    pub fn rates(&self, g: u64, base: f64, layers: usize) -> Vec<f64> {
        let idx = self.multi_index(g);
        let mut rates = vec![base; layers];
        for (a, &i) in self.axes.iter().zip(&idx) {
            match a.kind {
                AxisKind::Rate(None) => rates.fill(a.value(i)),
                AxisKind::Rate(Some(l)) => rates[l] = a.value(i),
                _ => {}
            }
        }
        rates
    }

    /// θ at lattice point `g`, in float64: the parameter axes as the module describes, then
    /// times a `scale` axis's value.
    pub fn point(&self, g: u64) -> Vec<f64> {
        let idx = self.multi_index(g);
        let mut theta = self.origin.clone();
        for (a, &i) in self.axes.iter().zip(&idx) {
            if let AxisKind::Set(p) = a.kind {
                theta[p] = a.value(i);
            }
        }
        for (a, &i) in self.axes.iter().zip(&idx) {
            if let AxisKind::Offset(d) = &a.kind {
                let t = a.value(i);
                for (th, dv) in theta.iter_mut().zip(d) {
                    *th += t * dv;
                }
            }
        }
        for (a, &i) in self.axes.iter().zip(&idx) {
            if a.kind == AxisKind::Scale {
                let s = a.value(i);
                for th in &mut theta {
                    *th *= s;
                }
            }
        }
        theta
    }
}

/// Resolves `--origin zeros|teacher|random:SEED|FILE.npy`.
pub fn parse_origin(spec: &str, model: &Model, teacher: Option<&Teacher>) -> Result<Vec<f64>> {
    let flag = "--origin";
    let p = model.parameter_count();
    if spec == "zeros" {
        return Ok(vec![0.0; p]);
    }
    if spec == "teacher" {
        return match teacher {
            Some(t) if t.model == *model => Ok(t.theta.clone()),
            Some(t) => Err(Error::spec(
                flag,
                format!(
                    "teacher has model {}, not --model {}; the teacher origin needs the same architecture",
                    t.model.widths_string(),
                    model.widths_string()
                ),
            )),
            None => Err(Error::spec(flag, "teacher needs --data teacher:…")),
        };
    }
    if let Some(seed) = spec.strip_prefix("random:") {
        let seed: u64 = seed.parse().map_err(|_| {
            Error::spec(
                flag,
                format!("random:{seed} needs a non-negative integer seed"),
            )
        })?;
        return Ok((0..p)
            .map(|i| normal(seed, Stream::Origin, i as u64))
            .collect());
    }
    if spec.ends_with(".npy") {
        return npy::read_vector(&super::input_path(spec), p, "--origin");
    }
    Err(Error::spec(
        flag,
        format!("'{spec}' is not an origin; expected zeros, teacher, random:SEED or FILE.npy"),
    ))
}

/// Parses `LO:HI:N`.
fn parse_range(range: &str, flag: &str, whole: &str) -> Result<(f64, f64, usize)> {
    let bad = |why: String| {
        Error::spec(
            flag,
            format!("'{whole}': {why}; expected LO:HI:N, e.g. -3:3:512"),
        )
    };
    let parts: Vec<&str> = range.split(':').collect();
    let [lo, hi, n] = parts.as_slice() else {
        return Err(bad(format!("range '{range}' does not have three parts")));
    };
    // Axis values are rounded to float32, so both ends must lie within its range.
    let num = |s: &str| {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.abs() <= f64::from(f32::MAX))
    };
    let lo = num(lo).ok_or_else(|| {
        bad(format!(
            "LO '{lo}' is not a finite number within float32's range (±3.4e38)"
        ))
    })?;
    let hi = num(hi).ok_or_else(|| {
        bad(format!(
            "HI '{hi}' is not a finite number within float32's range (±3.4e38)"
        ))
    })?;
    let n: usize = n
        .trim()
        .parse()
        .ok()
        .filter(|&n| (2..=MAX_AXIS_POINTS).contains(&n))
        .ok_or_else(|| {
            bad(format!(
                "N '{n}' is not an integer from 2 to {MAX_AXIS_POINTS}"
            ))
        })?;
    if lo >= hi {
        return Err(bad(format!("LO = {lo} is not below HI = {hi}")));
    }
    Ok((lo, hi, n))
}

/// A random direction, filter-normalised as in Li et al. (2018): each unit's incoming weights
/// are scaled to the norm of the same unit's weights at the origin, and biases are left out
/// (zero), as in that paper's default. A unit whose weights are zero at the origin gets a row of
/// norm 1, so that the direction never vanishes.
pub fn random_direction(model: &Model, origin: &[f64], seed: u64) -> Vec<f64> {
    let mut d: Vec<f64> = (0..origin.len())
        .map(|i| normal(seed, Stream::Direction, i as u64))
        .collect();
    for lay in model.layout() {
        for i in 0..lay.outputs {
            let row = lay.w + i * lay.inputs..lay.w + (i + 1) * lay.inputs;
            let target = origin[row.clone()]
                .iter()
                .map(|v| v * v)
                .sum::<f64>()
                .sqrt();
            let target = if target > 0.0 { target } else { 1.0 };
            let norm = d[row.clone()].iter().map(|v| v * v).sum::<f64>().sqrt();
            for v in &mut d[row] {
                *v *= target / norm;
            }
        }
        if let Some(b) = lay.b {
            d[b..b + lay.outputs].fill(0.0);
        }
    }
    d
}

/// Parses one `--axis` value against the model and the resolved origin.
pub fn parse_axis(spec: &str, model: &Model, origin: &[f64]) -> Result<Axis> {
    let flag = "--axis";
    let (what, range) = spec.rsplit_once('=').ok_or_else(|| {
        Error::spec(
            flag,
            format!(
                "'{spec}' has no '=LO:HI:N'; expected e.g. w1[0,1]=-3:3:512 or random:7=-1:1:256"
            ),
        )
    })?;
    let (log, range) = match range.strip_prefix("log:") {
        Some(rest) => (true, rest),
        None => (false, range),
    };
    let (lo, hi, n) = parse_range(range, flag, spec)?;
    let p = model.parameter_count();
    let layer = what
        .strip_prefix("lr")
        .filter(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()));
    let (label, kind) = if what == "lr" {
        ("learning rate".to_string(), AxisKind::Rate(None))
    } else if let Some(k) = layer {
        let layers = model.layers();
        let l = k
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=layers).contains(l))
            .ok_or_else(|| {
                Error::spec(
                    flag,
                    format!(
                        "'{spec}': the model has weight layers 1 to {layers}; expected lr1 to lr{layers} (or lr for all)"
                    ),
                )
            })?;
        (
            format!("learning rate of layer {l}"),
            AxisKind::Rate(Some(l - 1)),
        )
    } else if what == "scale" {
        if origin.iter().all(|&v| v == 0.0) {
            return Err(Error::spec(
                flag,
                format!(
                    "'{spec}' scales the start, but the origin is zero; give --origin (e.g. random:1)"
                ),
            ));
        }
        ("scale of the start".to_string(), AxisKind::Scale)
    } else if let Some(seed) = what.strip_prefix("random:") {
        let seed: u64 = seed.parse().map_err(|_| {
            Error::spec(
                flag,
                format!("'{spec}': random:{seed} needs a non-negative integer seed"),
            )
        })?;
        (
            format!("random:{seed}"),
            AxisKind::Offset(random_direction(model, origin, seed)),
        )
    } else if let Some(file) = what.strip_prefix("toward:") {
        if file.is_empty() {
            return Err(Error::spec(
                flag,
                format!("'{spec}' names no file; expected toward:FILE.npy=LO:HI:N"),
            ));
        }
        let target = npy::read_vector(&super::input_path(file), p, "toward point")?;
        let d: Vec<f64> = target.iter().zip(origin).map(|(t, o)| t - o).collect();
        if d.iter().all(|&x| x == 0.0) {
            return Err(Error::spec(
                flag,
                format!(
                    "'{spec}': the point in {file} is the origin itself, so the direction is zero"
                ),
            ));
        }
        (format!("toward {file}"), AxisKind::Offset(d))
    } else if let Some(v) = what.strip_prefix("dir:") {
        let d = if v.ends_with(".npy") {
            npy::read_vector(&super::input_path(v), p, "direction")?
        } else {
            let d: Vec<f64> = v
                .split(',')
                .map(|s| s.trim().parse::<f64>().ok().filter(|x| x.is_finite()))
                .collect::<Option<_>>()
                .ok_or_else(|| {
                    Error::spec(
                        flag,
                        format!("'{spec}': direction '{v}' is not a comma list of finite numbers"),
                    )
                })?;
            if d.len() != p {
                return Err(Error::spec(
                    flag,
                    format!(
                        "'{spec}': direction has {} values, but the model has P = {p} parameters",
                        d.len()
                    ),
                ));
            }
            d
        };
        if d.iter().all(|&x| x == 0.0) {
            return Err(Error::spec(
                flag,
                format!("'{spec}': the direction is zero"),
            ));
        }
        (format!("dir:{v}"), AxisKind::Offset(d))
    } else {
        let idx = model.parameter_index(what, flag)?;
        (model.parameter_name(idx), AxisKind::Set(idx))
    };
    if log && !kind.is_hyper() {
        return Err(Error::spec(
            flag,
            format!(
                "'{spec}': log spacing is for lr, lrK and scale axes; expected LO:HI:N for a parameter axis"
            ),
        ));
    }
    if log && lo <= 0.0 {
        return Err(Error::spec(
            flag,
            format!("'{spec}': log spacing needs LO above 0; got {lo}"),
        ));
    }
    if matches!(kind, AxisKind::Rate(_)) && lo <= 0.0 {
        return Err(Error::spec(
            flag,
            format!("'{spec}': learning rates must be above 0; got LO = {lo}"),
        ));
    }
    let axis = Axis {
        spec: spec.to_string(),
        label,
        kind,
        lo,
        hi,
        n,
        log,
    };
    // Values closer than float32 resolves would repeat rows of the lattice.
    let distinct = axis.distinct_f32_values();
    if distinct < n {
        return Err(Error::spec(
            flag,
            format!(
                "'{spec}': only {distinct} of its {n} values are distinct in float32, the precision of the kernels; expected a wider LO:HI or a smaller N"
            ),
        ));
    }
    Ok(axis)
}

/// The range of both axes of `--plane A,B,C`: B and C sit at t = 1, with a margin around.
pub const PLANE_RANGE: (f64, f64, usize) = (-0.5, 1.5, 201);

/// Resolves a whole slice: `--origin` and `--axis` values, or `--plane A,B,C`.
pub fn build_slice(
    model: &Model,
    teacher: Option<&Teacher>,
    origin: Option<&str>,
    axes: &[String],
    plane: Option<&str>,
) -> Result<Slice> {
    let (origin, axes) = match plane {
        Some(plane) => {
            if origin.is_some() || !axes.is_empty() {
                return Err(Error::spec(
                    "--plane",
                    "cannot be combined with --origin or --axis",
                ));
            }
            let files: Vec<&str> = plane.split(',').map(str::trim).collect();
            let [a, b, c] = files.as_slice() else {
                return Err(Error::spec(
                    "--plane",
                    format!("'{plane}' is not three files A.npy,B.npy,C.npy"),
                ));
            };
            if files.iter().any(|f| f.is_empty()) {
                return Err(Error::spec(
                    "--plane",
                    format!("'{plane}' has an empty file name; expected A.npy,B.npy,C.npy"),
                ));
            }
            let origin = npy::read_vector(
                &super::input_path(a),
                model.parameter_count(),
                "plane origin",
            )?;
            let (lo, hi, n) = PLANE_RANGE;
            let axes = [b, c]
                .iter()
                .map(|f| {
                    parse_axis(&format!("toward:{f}={lo}:{hi}:{n}"), model, &origin).map_err(|e| {
                        match e {
                            Error::Spec { message, .. } => Error::spec("--plane", message),
                            other => other,
                        }
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            (origin, axes)
        }
        None => {
            let origin = parse_origin(origin.unwrap_or("zeros"), model, teacher)?;
            let axes = axes
                .iter()
                .map(|a| parse_axis(a, model, &origin))
                .collect::<Result<Vec<_>>>()?;
            (origin, axes)
        }
    };
    // Two directions along one line span a line, not a plane: the lattice would repeat itself.
    for (i, a) in axes.iter().enumerate() {
        for b in &axes[i + 1..] {
            if let (AxisKind::Offset(u), AxisKind::Offset(v)) = (&a.kind, &b.kind) {
                let dot: f64 = u.iter().zip(v).map(|(x, y)| x * y).sum();
                let norm = |w: &[f64]| w.iter().map(|x| x * x).sum::<f64>().sqrt();
                if dot.abs() >= (1.0 - 1e-9) * norm(u) * norm(v) {
                    let flag = if plane.is_some() { "--plane" } else { "--axis" };
                    return Err(Error::spec(
                        flag,
                        format!(
                            "the directions of '{}' and '{}' lie along one line; expected directions that span a plane",
                            a.spec, b.spec
                        ),
                    ));
                }
            }
        }
    }
    if axes.is_empty() || axes.len() > MAX_AXES {
        return Err(Error::spec(
            "--axis",
            format!(
                "{} axes given; expected 1 to {MAX_AXES} (or --plane A,B,C)",
                axes.len()
            ),
        ));
    }
    // Two axes setting one learning rate, or two scales, would leave one of them unused.
    for (i, a) in axes.iter().enumerate() {
        for b in &axes[i + 1..] {
            let clash = match (&a.kind, &b.kind) {
                (AxisKind::Rate(x), AxisKind::Rate(y)) => x.is_none() || y.is_none() || x == y,
                (AxisKind::Scale, AxisKind::Scale) => true,
                _ => false,
            };
            if clash {
                return Err(Error::spec(
                    "--axis",
                    format!(
                        "'{}' and '{}' set the same hyper-parameter; expected each on one axis",
                        a.spec, b.spec
                    ),
                ));
            }
        }
    }
    let sets: Vec<usize> = axes
        .iter()
        .filter_map(|a| {
            if let AxisKind::Set(p) = a.kind {
                Some(p)
            } else {
                None
            }
        })
        .collect();
    if let Some(dup) = sets
        .iter()
        .enumerate()
        .find(|(i, p)| sets[..*i].contains(p))
    {
        return Err(Error::spec(
            "--axis",
            format!("parameter {} is on two axes", model.parameter_name(*dup.1)),
        ));
    }
    let slice = Slice { origin, axes };
    if slice
        .axes
        .iter()
        .try_fold(1u64, |acc, a| acc.checked_mul(a.n as u64))
        .is_none_or(|n| n > u32::MAX as u64)
    {
        return Err(Error::spec(
            "--axis",
            format!(
                "the lattice {:?} has more than 2³² − 1 points; use fewer points per axis",
                slice.shape()
            ),
        ));
    }
    Ok(slice)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::model::Activation;

    fn model() -> Model {
        Model::new("2-3-1", Activation::Tanh, Activation::Linear, true).expect("valid")
    }

    #[test]
    fn lattice_points_follow_the_documented_order() {
        let m = model();
        let s = build_slice(
            &m,
            None,
            Some("zeros"),
            &["w1[0,0]=-1:1:3".into(), "b2[0]=0:4:5".into()],
            None,
        )
        .expect("slice");
        assert_eq!(s.shape(), vec![3, 5]);
        let th = s.point(7); // (1, 2)
        assert_eq!(s.multi_index(7), vec![1, 2]);
        assert_eq!((th[0], th[12]), (0.0, 2.0));
        assert_eq!(s.point(0)[0], -1.0);
    }

    #[test]
    fn direction_axes_offset_the_origin() {
        let m = Model::new("1-1-1", Activation::Linear, Activation::Linear, false).expect("valid");
        let s = build_slice(
            &m,
            None,
            Some("zeros"),
            &["dir:1,1=-1.5:1.5:301".into()],
            None,
        )
        .expect("slice");
        assert_eq!(s.point(250), vec![1.0, 1.0]);
        assert!(s.point(150).iter().all(|v| v.abs() < 1e-15));
    }

    #[test]
    fn random_directions_are_filter_normalised() {
        let m = model();
        let origin = parse_origin("random:3", &m, None).expect("origin");
        let d = random_direction(&m, &origin, 9);
        for lay in m.layout() {
            for i in 0..lay.outputs {
                let row = lay.w + i * lay.inputs..lay.w + (i + 1) * lay.inputs;
                let n = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
                assert!((n(&d[row.clone()]) - n(&origin[row])).abs() < 1e-12);
            }
            if let Some(b) = lay.b {
                assert!(d[b..b + lay.outputs].iter().all(|&v| v == 0.0));
            }
        }
    }

    #[test]
    fn bad_axes_are_rejected_with_the_flag() {
        let m = model();
        let origin = vec![0.0; 13];
        for bad in [
            "w1[0,0]",
            "w1[0,0]=1:1:5",
            "w1[0,0]=2:1:5",
            "w1[0,0]=0:1:1",
            "w1[0,0]=0:1:0",
            "w1[0,0]=0:1:-3",
            "w1[0,0]=0:1",
            "w1[0,0]=a:1:5",
            "w1[0,0]=0:inf:5",
            "w1[0,0]=-1e308:1e308:5",
            "w1[0,0]=0:1e39:5",
            "w1[0,0]=1:1.0000001:5",
            "toward:=0:1:5",
            "w9[0,0]=0:1:5",
            "random:x=0:1:5",
            "dir:1,2=0:1:5",
            "dir:0,0,0,0,0,0,0,0,0,0,0,0,0=0:1:5",
            "dir:a=0:1:5",
        ] {
            let err = parse_axis(bad, &m, &origin).expect_err(bad);
            assert!(err.to_string().starts_with("--axis:"), "{bad}: {err}");
        }
        let two = ["w1[0,0]=0:1:5".to_string(), "w1[0,0]=0:1:5".to_string()];
        assert!(build_slice(&m, None, None, &two, None).is_err());
        assert!(build_slice(&m, None, None, &[], None).is_err());
        let huge = [
            "w1[0,0]=0:1:100000".to_string(),
            "w1[0,1]=0:1:100000".to_string(),
        ];
        assert!(build_slice(&m, None, None, &huge, None).is_err());
        assert!(parse_origin("teacher", &m, None).is_err());
        assert!(parse_origin("ones", &m, None).is_err());
    }

    #[test]
    fn axes_count_their_distinct_float32_values() {
        let m = model();
        let origin = vec![0.0; 13];
        let axis = |spec: &str| parse_axis(spec, &m, &origin);
        // float32 has 2²³ values in [1, 2): 2²³ + 1 points from 1 to 2 are all distinct, and
        // one more point is one too many.
        let fine = axis("w1[0,0]=1:2:8388609").expect("distinct");
        assert_eq!(fine.distinct_f32_values(), 8_388_609);
        let err = axis("w1[0,0]=1:2:8388610").expect_err("collapses");
        assert!(
            err.to_string()
                .contains("only 8388609 of its 8388610 values"),
            "{err}"
        );
        let err = axis("w1[0,0]=1:1.0000001:5").expect_err("collapses");
        assert!(err.to_string().contains("only 2 of its 5 values"), "{err}");
    }
}
