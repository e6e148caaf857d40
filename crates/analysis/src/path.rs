//! Between two minima: the minimum-energy path by the string method, its local maxima refined to stationary points with the exact float64 Hessian, and each
//! transition state confirmed by pushing off along its negative eigenvector and following the
//! gradient flow down to the minima it joins.
//!
//! The band only finds candidates; a transition state is claimed only for a refined point with
//! exactly one negative Hessian eigenvalue whose two push-offs both reach minima.

use super::flow::{FlowEnd, FlowSettings, flow_traced};
use super::stationary::{Kind, Stationary, analyse};
use super::symmetry::{GroupElement, align, elements, group_order, has_flips, normalise};
use landscape_core::reference;
use landscape_core::rng::{Stream, normal};
use landscape_core::spec::data::Dataset;
use landscape_core::spec::model::Model;
use nalgebra::{DMatrix, SymmetricEigen};
use rayon::prelude::*;

/// How the string is built and relaxed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BandSettings {
    /// Images, the two fixed ends included.
    pub images: usize,
    /// Gradient-descent step of the images (each also moves at most a tenth of the spacing).
    pub step: f64,
    /// Most iterations.
    pub max_steps: usize,
    /// Stop when no image moved more than this fraction of the spacing in an iteration.
    pub tol: f64,
    /// The initial straight band is moved off the line by this much (relative to
    /// max(1, ‖θ‖∞)), with a fixed seed: a band through points fixed by a symmetry g stays on
    /// them otherwise.
    pub perturbation: f64,
    /// Seed of that perturbation.
    pub seed: u64,
}

impl Default for BandSettings {
    fn default() -> BandSettings {
        BandSettings {
            images: 33,
            step: 0.1,
            max_steps: 20_000,
            tol: 1e-6,
            perturbation: 1e-2,
            seed: 0,
        }
    }
}

/// A relaxed string of images.
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    /// Images × P, from the first end to the second.
    pub images: Vec<Vec<f64>>,
    /// L at each image.
    pub loss: Vec<f64>,
    /// Iterations taken.
    pub steps: usize,
    /// The largest move of an image in the last iteration.
    pub force: f64,
}

/// Where a push-off from a transition state went.
#[derive(Debug, Clone, PartialEq)]
pub struct PushOff {
    /// The stationary point the flow and polish reached.
    pub end: Stationary,
    /// Which of the two given ends it is itself (0: the first, 1: the second): within 1e-4 of
    /// max(1, ‖θ‖∞), with no symmetry applied.
    pub reached: Option<usize>,
    /// Which of them it is a copy of, up to the symmetry group (the nearest), when it is not
    /// one of them itself.
    pub copy_of: Option<usize>,
    /// The steepest-descent path from the transition state down to `end`: the start of the
    /// push-off, then the flow's steps, then the polished end.
    pub path: Vec<Vec<f64>>,
}

/// A candidate along the band, refined.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The band image it started from.
    pub image: usize,
    /// The refined point and its spectrum.
    pub point: Stationary,
    /// Whether it is a transition state: index 1, and both push-offs reached minima.
    pub transition_state: bool,
    /// The push-offs along minus and plus the negative eigenvector (index-1 points only).
    pub push_offs: Vec<PushOff>,
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

fn scale(t: &[f64]) -> f64 {
    t.iter().fold(1.0f64, |m, v| m.max(v.abs()))
}

/// Gradients at a batch of points: points × P in, points × P out. The string's images are
/// evaluated through this, so that every image of every band in a batch is one call (on a
/// backend, one kernel launch).
pub type Gradients<'a> = dyn FnMut(&[f64]) -> Vec<f64> + 'a;

/// The float64 reference as a `Gradients`, threaded over the points.
pub fn reference_gradients<'a>(
    model: &'a Model,
    data: &'a Dataset,
) -> impl FnMut(&[f64]) -> Vec<f64> + 'a {
    move |points: &[f64]| {
        let p = model.parameter_count().max(1);
        points
            .par_chunks(p)
            .flat_map_iter(|t| reference::loss_and_gradient(model, data, t).1)
            .collect()
    }
}

/// Relaxes a string from `a` to `b` with the float64 reference (see `relax`).
pub fn band(model: &Model, data: &Dataset, a: &[f64], b: &[f64], s: &BandSettings) -> Band {
    let mut grads = reference_gradients(model, data);
    relax(model, data, &[(a.to_vec(), b.to_vec())], s, &mut grads)
        .pop()
        .expect("one band")
}

/// Relaxes strings between the given pairs of ends, all at once (the simplified string method of
/// E, Ren and Vanden-Eijnden, 2007): every interior image takes a step of gradient descent, no
/// longer than a tenth of the images' spacing, then the images are put back at equal arc length
/// along the polyline through them. A string settles on a minimum-energy path; its highest images
/// are the candidates `transition_states` refines. The images of all strings still moving are
/// evaluated in one call of `grads` per iteration; L at the final images in float64.
pub fn relax(
    model: &Model,
    data: &Dataset,
    ends: &[(Vec<f64>, Vec<f64>)],
    s: &BandSettings,
    grads: &mut Gradients<'_>,
) -> Vec<Band> {
    let n = s.images.max(3);
    let mut bands: Vec<Band> = ends
        .iter()
        .enumerate()
        .map(|(k, (a, b))| {
            let p = a.len();
            let amp = s.perturbation * scale(a).max(scale(b));
            let images = (0..n)
                .map(|i| {
                    let t = i as f64 / (n - 1) as f64;
                    let bump = (std::f64::consts::PI * t).sin();
                    (0..p)
                        .map(|q| {
                            let line = (1.0 - t) * a[q] + t * b[q];
                            let index = ((k * n + i) * p + q) as u64;
                            let noise = normal(s.seed, Stream::Direction, index);
                            line + amp * bump * noise
                        })
                        .collect()
                })
                .collect();
            Band {
                images,
                loss: Vec::new(),
                steps: 0,
                force: f64::INFINITY,
            }
        })
        .collect();
    let mut moving: Vec<usize> = (0..bands.len()).collect();
    for step in 0..s.max_steps {
        if moving.is_empty() {
            break;
        }
        let points: Vec<f64> = moving
            .iter()
            .flat_map(|&k| bands[k].images[1..n - 1].iter().flatten().copied())
            .collect();
        let g = grads(&points);
        let p = model.parameter_count();
        for (slot, &k) in moving.iter().enumerate() {
            let band = &mut bands[k];
            let x = &mut band.images;
            let spacing = arc_lengths(x).last().copied().unwrap_or(0.0) / (n - 1) as f64;
            let max_move = 0.1 * spacing.max(1e-6);
            let before = x.clone();
            for (i, xi) in x[1..n - 1].iter_mut().enumerate() {
                let at = (slot * (n - 2) + i) * p;
                let gi = &g[at..at + p];
                let h = s.step.min(max_move / norm(gi).max(1e-300));
                for (t, gq) in xi.iter_mut().zip(gi) {
                    *t -= h * gq;
                }
            }
            *x = reparametrise(x);
            band.force = x
                .iter()
                .zip(&before)
                .map(|(u, w)| super::symmetry::distance(u, w))
                .fold(0.0, f64::max);
            band.steps = step + 1;
        }
        moving.retain(|&k| {
            let b = &bands[k];
            let spacing = arc_lengths(&b.images).last().copied().unwrap_or(0.0) / (n - 1) as f64;
            b.force >= s.tol * spacing.max(1e-6)
        });
    }
    bands.par_iter_mut().for_each(|b| {
        b.loss = b
            .images
            .iter()
            .map(|t| reference::loss(model, data, t))
            .collect();
    });
    bands
}

/// Cumulative arc length along the polyline through `x`.
fn arc_lengths(x: &[Vec<f64>]) -> Vec<f64> {
    let mut s = vec![0.0];
    for w in x.windows(2) {
        let d = w[0]
            .iter()
            .zip(&w[1])
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            .sqrt();
        s.push(s[s.len() - 1] + d);
    }
    s
}

/// The same number of points at equal arc length along the polyline through `x` (ends kept).
fn reparametrise(x: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let n = x.len();
    let s = arc_lengths(x);
    let total = s[n - 1];
    if total <= 0.0 {
        return x.to_vec();
    }
    let mut out = Vec::with_capacity(n);
    let mut seg = 0;
    for i in 0..n {
        let target = total * i as f64 / (n - 1) as f64;
        while seg + 1 < n - 1 && s[seg + 1] < target {
            seg += 1;
        }
        let len = (s[seg + 1] - s[seg]).max(1e-300);
        let t = ((target - s[seg]) / len).clamp(0.0, 1.0);
        out.push(
            x[seg]
                .iter()
                .zip(&x[seg + 1])
                .map(|(a, b)| a + t * (b - a))
                .collect(),
        );
    }
    out[0] = x[0].clone();
    out[n - 1] = x[n - 1].clone();
    out
}

/// The eigenvector of the Hessian at `theta` for its lowest eigenvalue.
fn lowest_mode(model: &Model, data: &Dataset, theta: &[f64]) -> Vec<f64> {
    let p = theta.len();
    let h = DMatrix::from_row_slice(p, p, &reference::hessian(model, data, theta));
    let e = SymmetricEigen::new(h);
    let k = (0..p)
        .min_by(|&i, &j| e.eigenvalues[i].total_cmp(&e.eigenvalues[j]))
        .unwrap_or(0);
    e.eigenvectors.column(k).iter().copied().collect()
}

/// Refines a point near a transition state by eigenvector following (partitioned
/// rational-function optimisation, Baker 1986) with the exact float64 Hessian: uphill along the
/// Hessian mode that best follows `tangent` (then the mode nearest the last one followed),
/// downhill along all others, each step within a trust radius. The point reached is then
/// polished and classified like any other; it is a transition state only if that classification
/// says index 1.
pub fn refine(model: &Model, data: &Dataset, start: &[f64], tangent: &[f64]) -> Stationary {
    let p = start.len();
    let mut theta = start.to_vec();
    let mut followed: Vec<f64> = {
        let n = norm(tangent);
        if n > 0.0 {
            tangent.iter().map(|v| v / n).collect()
        } else {
            vec![0.0; p]
        }
    };
    let mut radius = 0.1 * scale(start);
    let (mut loss, mut g) = reference::loss_and_gradient(model, data, &theta);
    for _ in 0..200 {
        if norm(&g) < 1e-11 || !loss.is_finite() {
            break;
        }
        let h = DMatrix::from_row_slice(p, p, &reference::hessian(model, data, &theta));
        let e = SymmetricEigen::new(h);
        // The mode to climb: the one overlapping most with the direction followed.
        let k = (0..p)
            .max_by(|&i, &j| {
                let o = |c: usize| {
                    e.eigenvectors
                        .column(c)
                        .iter()
                        .zip(&followed)
                        .map(|(a, b)| a * b)
                        .sum::<f64>()
                        .abs()
                };
                o(i).total_cmp(&o(j))
            })
            .unwrap_or(0);
        let f: Vec<f64> = (0..p)
            .map(|i| {
                e.eigenvectors
                    .column(i)
                    .iter()
                    .zip(&g)
                    .map(|(a, b)| a * b)
                    .sum()
            })
            .collect();
        let lk = e.eigenvalues[k];
        let up = 0.5 * lk + 0.5 * (lk * lk + 4.0 * f[k] * f[k]).sqrt();
        // The shift for the other modes: the root of λ = Σ F_i²/(λ − λ_i) below all of them.
        let others: Vec<usize> = (0..p).filter(|&i| i != k).collect();
        let low = others
            .iter()
            .map(|&i| e.eigenvalues[i])
            .fold(f64::INFINITY, f64::min);
        let rhs = |l: f64| -> f64 {
            others
                .iter()
                .map(|&i| f[i] * f[i] / (l - e.eigenvalues[i]))
                .sum::<f64>()
                - l
        };
        // Below `low`, rhs falls from +∞ to −∞: one root, found by bisection below
        // min(low, 0).
        let top = low.min(0.0) - 1e-14 * (1.0 + low.abs());
        let mut a = top - 1.0 - low.abs();
        while rhs(a) < 0.0 {
            a = top - 2.0 * (top - a);
            if !a.is_finite() {
                break;
            }
        }
        let mut b = top;
        for _ in 0..200 {
            let m = 0.5 * (a + b);
            if rhs(m) > 0.0 {
                a = m;
            } else {
                b = m;
            }
        }
        let down = 0.5 * (a + b);
        let mut step = vec![0.0; p];
        for i in 0..p {
            let shift = if i == k { up } else { down };
            let denom = e.eigenvalues[i] - shift;
            let c = if denom.abs() > 1e-300 {
                -f[i] / denom
            } else {
                0.0
            };
            for (s, v) in step.iter_mut().zip(e.eigenvectors.column(i).iter()) {
                *s += c * v;
            }
        }
        let len = norm(&step);
        if len > radius {
            for s in &mut step {
                *s *= radius / len;
            }
        }
        let trial: Vec<f64> = theta.iter().zip(&step).map(|(t, s)| t + s).collect();
        let (tl, tg) = reference::loss_and_gradient(model, data, &trial);
        if !tl.is_finite() {
            radius *= 0.25;
            continue;
        }
        // Trust: the gradient must not grow much; grow the radius on good steps.
        if norm(&tg) < norm(&g) {
            radius = (radius * 1.5).min(0.5 * scale(&theta));
        } else {
            radius *= 0.5;
        }
        followed = e.eigenvectors.column(k).iter().copied().collect();
        theta = trial;
        (loss, g) = (tl, tg);
        if radius < 1e-12 * scale(&theta) {
            break;
        }
    }
    analyse(model, data, &theta)
}

/// Refines the band's interior local maxima to stationary points and confirms the index-1 ones:
/// a push-off of 1e-3·max(1, ‖θ‖∞) to each side along the negative eigenvector, the gradient flow
/// down (to ‖∇L‖ < 1e-10), a polish, and the minimum reached compared with `a` and `b` up to the
/// symmetry group.
pub fn transition_states(
    model: &Model,
    data: &Dataset,
    band: &Band,
    a: &[f64],
    b: &[f64],
) -> Vec<Candidate> {
    let n = band.images.len();
    let peaks: Vec<usize> = (1..n.saturating_sub(1))
        .filter(|&i| band.loss[i] >= band.loss[i - 1] && band.loss[i] > band.loss[i + 1])
        .collect();
    let ends = [normalise(model, a), normalise(model, b)];
    let mut found: Vec<Candidate> = peaks
        .par_iter()
        .map(|&i| {
            let tangent: Vec<f64> = band.images[i + 1]
                .iter()
                .zip(&band.images[i - 1])
                .map(|(u, v)| u - v)
                .collect();
            let point = refine(model, data, &band.images[i], &tangent);
            let mut push_offs = Vec::new();
            if point.kind == Kind::Saddle && point.index == 1 {
                let mode = lowest_mode(model, data, &point.theta);
                let eps = 1e-3 * scale(&point.theta);
                for sign in [-1.0, 1.0] {
                    let start: Vec<f64> = point
                        .theta
                        .iter()
                        .zip(&mode)
                        .map(|(t, m)| t + sign * eps * m)
                        .collect();
                    let settings = FlowSettings {
                        max_steps: 5000,
                        ..FlowSettings::new(0.01, 1e-10, 1e4)
                    };
                    let (f, mut path) = flow_traced(model, data, &start, &settings);
                    let end = analyse(model, data, &f.theta);
                    path.insert(0, point.theta.clone());
                    path.push(end.theta.clone());
                    let at = normalise(model, &end.theta);
                    let tol = 1e-4 * scale(&at);
                    let settled = f.end == FlowEnd::Converged || end.grad_norm < 1e-8;
                    let nearest = |d: &dyn Fn(&[f64]) -> f64| {
                        ends.iter()
                            .enumerate()
                            .map(|(k, e)| (k, d(e)))
                            .filter(|(_, d)| *d <= tol)
                            .min_by(|x, y| x.1.total_cmp(&y.1))
                            .map(|(k, _)| k)
                    };
                    let reached =
                        nearest(&|e| super::symmetry::distance(&at, e)).filter(|_| settled);
                    let copy_of = reached
                        .is_none()
                        .then(|| nearest(&|e| align(model, &at, e).1))
                        .flatten()
                        .filter(|_| settled);
                    push_offs.push(PushOff {
                        end,
                        reached,
                        copy_of,
                        path,
                    });
                }
            }
            let transition_state = point.kind == Kind::Saddle
                && point.index == 1
                && push_offs.len() == 2
                && push_offs
                    .iter()
                    .all(|o| matches!(o.end.kind, Kind::Minimum | Kind::DegenerateMinimum));
            Candidate {
                image: i,
                point,
                transition_state,
                push_offs,
            }
        })
        .collect();
    // The same point reached from two peaks counts once.
    found.dedup_by(|x, y| {
        super::symmetry::distance(&x.point.theta, &y.point.theta) <= 1e-6 * scale(&y.point.theta)
    });
    found
}

/// A transition state and the two minima it joins (indices into `Search::minima`).
#[derive(Debug, Clone, PartialEq)]
pub struct Joined {
    /// The transition state.
    pub point: Stationary,
    /// The minima its push-offs reach.
    pub joins: (usize, usize),
    /// Images of the string around it, from the first minimum's side to the second's.
    pub images: Vec<Vec<f64>>,
    /// Which of `images` is the transition state itself.
    pub at: usize,
    /// |Stab|: how many elements of G leave it in place (2 or more: a point fixed by a symmetry,
    /// such as a transposition's midpoint).
    pub stabilizer_order: f64,
}

/// One step of a chain: transition state `ts` of the search moved by `element` of G, crossed
/// from (the image of) its first minimum to its second (`forward`) or back.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    /// Index into `Search::transition_states`.
    pub ts: usize,
    /// The element of G applied to it.
    pub element: GroupElement,
    /// From `joins.0` to `joins.1`.
    pub forward: bool,
}

/// A chain of transition states from the search's start to one target.
#[derive(Debug, Clone, PartialEq)]
pub struct Chain {
    /// The transition states crossed, in order.
    pub links: Vec<Link>,
    /// The minima along it, the start and the target included (one more than `links`), as
    /// concrete points.
    pub minima: Vec<Vec<f64>>,
    /// L at each of those minima.
    pub loss: Vec<f64>,
}

/// What a double-ended search found.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    /// The minima met: 0 the start, 1, 2, … the targets in order (polished), then those the
    /// push-offs reached.
    pub minima: Vec<Stationary>,
    /// The transition states found, distinct up to the symmetry group, with the minima their
    /// push-offs reached.
    pub transition_states: Vec<Joined>,
    /// Per target, the chain from the start to it, when one was found.
    pub chains: Vec<Option<Chain>>,
    /// Strings relaxed.
    pub strings: usize,
    /// Rounds of strings (each round relaxes its strings at once).
    pub rounds: usize,
}

/// Largest |G| for which a search joins a minimum to all its copies (beyond, to those under
/// the generators).
pub const ORBIT_STRINGS: usize = 384;

/// Most strings relaxed in one round.
pub const MAX_STRINGS: usize = 64;

/// How a search goes on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchSettings {
    /// The strings.
    pub band: BandSettings,
    /// Most rounds of strings.
    pub max_rounds: usize,
}

impl Default for SearchSettings {
    fn default() -> SearchSettings {
        SearchSettings {
            band: BandSettings::default(),
            max_rounds: 4,
        }
    }
}

/// A path through parameter space with its landmarks.
#[derive(Debug, Clone, PartialEq)]
pub struct PathPoints {
    /// Images × P.
    pub images: Vec<Vec<f64>>,
    /// Which images are transition states.
    pub transition_states: Vec<usize>,
    /// Which images are minima (the first, the last, and those between).
    pub minima: Vec<usize>,
}

impl Search {
    /// The path to target `j` (0-based among the targets) along its chain: images × P from the
    /// start to the target, the positions of the transition states in it and those of the
    /// minima.
    pub fn path(&self, model: &Model, j: usize) -> Option<PathPoints> {
        let chain = self.chains.get(j)?.as_ref()?;
        let mut out = vec![chain.minima[0].clone()];
        let mut marks = Vec::new();
        let mut lows = vec![0];
        for (i, link) in chain.links.iter().enumerate() {
            let t = &self.transition_states[link.ts];
            let mut images: Vec<Vec<f64>> = t
                .images
                .iter()
                .map(|x| link.element.apply(model, x))
                .collect();
            let mut at = t.at;
            if !link.forward {
                images.reverse();
                at = images.len() - 1 - at;
            }
            // The ends of the steepest-descent paths are the minima themselves.
            marks.push(out.len() + at - 1);
            out.extend(images[1..images.len() - 1].iter().cloned());
            out.push(chain.minima[i + 1].clone());
            lows.push(out.len() - 1);
        }
        Some(PathPoints {
            images: out,
            transition_states: marks,
            minima: lows,
        })
    }
}

/// Whether two minima (θ, L) are the same point: within 1e-4 of max(1, ‖θ‖∞) (after removing
/// ReLU's rescaling) at the same loss.
pub fn same(model: &Model, x: (&[f64], f64), y: (&[f64], f64)) -> bool {
    let (lx, ly) = (x.1, y.1);
    if (lx - ly).abs() > 1e-10 + 1e-7 * lx.abs().max(ly.abs()) {
        return false;
    }
    let (nx, ny) = (normalise(model, x.0), normalise(model, y.0));
    super::symmetry::distance(&nx, &ny) <= 1e-4 * scale(&nx)
}

/// The symmetry group, listed when it is small enough to search element by element.
pub struct Group<'a> {
    model: &'a Model,
    elements: Option<Vec<GroupElement>>,
}

/// Largest |G| that the search lists; beyond, one element per match (the best alignment).
pub const LISTED_ORDER: f64 = 5040.0;

impl<'a> Group<'a> {
    /// G of `model`.
    pub fn new(model: &'a Model) -> Group<'a> {
        let elements = (group_order(model) <= LISTED_ORDER).then(|| elements(model));
        Group { model, elements }
    }

    /// The elements g with g·u = x (u and x at the same loss).
    pub fn maps(&self, u: &[f64], x: &[f64]) -> Vec<GroupElement> {
        let (nu, nx) = (normalise(self.model, u), normalise(self.model, x));
        let tol = 1e-4 * scale(&nx);
        match &self.elements {
            Some(all) => all
                .iter()
                .filter(|g| super::symmetry::distance(&g.apply(self.model, &nu), &nx) <= tol)
                .cloned()
                .collect(),
            None => {
                let (g, d) = align(self.model, &nu, &nx);
                if d <= tol { vec![g] } else { Vec::new() }
            }
        }
    }
}

/// One transposition of two units per pair in each hidden layer, and one flip per unit where
/// units flip: elements that generate G.
pub fn generators(model: &Model) -> Vec<GroupElement> {
    let mut out = Vec::new();
    for (h, &n) in model.hidden().iter().enumerate() {
        for i in 0..n {
            for j in i + 1..n {
                let mut g = GroupElement::identity(model);
                g.perms[h].swap(i, j);
                out.push(g);
            }
        }
        if has_flips(model) {
            for i in 0..n {
                let mut g = GroupElement::identity(model);
                g.flips[h][i] = true;
                out.push(g);
            }
        }
    }
    out
}

/// A node of the search's graph of copies: a concrete minimum, reached from the root by a link.
struct Node {
    theta: Vec<f64>,
    loss: f64,
    via: Option<(usize, Link)>,
    /// The highest transition state on the way here, and the links taken.
    key: (f64, usize),
    done: bool,
}

/// Most concrete minima one closure lists.
const MAX_NODES: usize = 5000;

/// Every minimum reachable from `root` through the transition states found and their images
/// under G (a path moved by g is a path). Each is reached by the chain whose highest transition
/// state is lowest (the minimax path the disconnectivity graph is drawn from), and among those
/// by the fewest transition states: Dijkstra's order on (highest loss crossed, links).
fn closure(
    group: &Group<'_>,
    minima: &[Stationary],
    joined: &[Joined],
    root: (&[f64], f64),
    limit: f64,
) -> Vec<Node> {
    let model = group.model;
    let mut nodes = vec![Node {
        theta: root.0.to_vec(),
        loss: root.1,
        via: None,
        key: (f64::NEG_INFINITY, 0),
        done: false,
    }];
    let less = |a: (f64, usize), b: (f64, usize)| a.0 < b.0 || (a.0 == b.0 && a.1 < b.1);
    while let Some(i) = (0..nodes.len())
        .filter(|&i| !nodes[i].done)
        .min_by(|&i, &j| {
            let (a, b) = (nodes[i].key, nodes[j].key);
            a.0.total_cmp(&b.0).then(a.1.cmp(&b.1))
        })
    {
        nodes[i].done = true;
        for (k, t) in joined.iter().enumerate() {
            if t.point.loss >= limit {
                continue;
            }
            for forward in [true, false] {
                let (u, v) = if forward {
                    (t.joins.0, t.joins.1)
                } else {
                    (t.joins.1, t.joins.0)
                };
                let (lu, lx) = (minima[u].loss, nodes[i].loss);
                if (lu - lx).abs() > 1e-10 + 1e-7 * lu.abs().max(lx.abs()) {
                    continue;
                }
                for g in group.maps(&minima[u].theta, &nodes[i].theta) {
                    let y = g.apply(model, &minima[v].theta);
                    let ly = minima[v].loss;
                    let key = (nodes[i].key.0.max(t.point.loss), nodes[i].key.1 + 1);
                    let link = Link {
                        ts: k,
                        element: g,
                        forward,
                    };
                    match nodes
                        .iter()
                        .position(|n| same(model, (&n.theta, n.loss), (&y, ly)))
                    {
                        Some(j) if !nodes[j].done && less(key, nodes[j].key) => {
                            nodes[j].key = key;
                            nodes[j].via = Some((i, link));
                        }
                        Some(_) => {}
                        None if nodes.len() < MAX_NODES => nodes.push(Node {
                            theta: y,
                            loss: ly,
                            via: Some((i, link)),
                            key,
                            done: false,
                        }),
                        None => {}
                    }
                }
            }
        }
    }
    nodes
}

/// The chain to node `j` of a closure.
fn chain_to(nodes: &[Node], j: usize) -> Chain {
    let mut links = Vec::new();
    let mut minima = vec![nodes[j].theta.clone()];
    let mut loss = vec![nodes[j].loss];
    let mut at = j;
    while let Some((prev, link)) = &nodes[at].via {
        links.push(link.clone());
        minima.push(nodes[*prev].theta.clone());
        loss.push(nodes[*prev].loss);
        at = *prev;
    }
    links.reverse();
    minima.reverse();
    loss.reverse();
    Chain {
        links,
        minima,
        loss,
    }
}

/// Connects minima `a` and `b` (see `search`), with the float64 reference evaluating the strings.
pub fn connect(model: &Model, data: &Dataset, a: &[f64], b: &[f64], s: &SearchSettings) -> Search {
    let mut grads = reference_gradients(model, data);
    search(model, data, a, &[b.to_vec()], s, &mut grads)
}

/// Connects the minimum `start` to every minimum of `targets` as a double-ended search does.
/// Each round relaxes one string per target not yet reached, all at once: at first between the
/// start and the target; later between the nearest two minima, one reachable from the start and
/// one from the target, not yet joined by a string (up to symmetry). The local maxima of each
/// string are refined and confirmed (`transition_states`); every confirmed transition state and
/// its images under G join the graph of minima. A target is reached when a chain of transition
/// states leads to it; the chain may cross images of transition states found between other
/// minima, since g moves a path between θ and θ′ to one between g·θ and g·θ′.
pub fn search(
    model: &Model,
    data: &Dataset,
    start: &[f64],
    targets: &[Vec<f64>],
    s: &SearchSettings,
    grads: &mut Gradients<'_>,
) -> Search {
    let group = Group::new(model);
    let mut minima: Vec<Stationary> = std::iter::once(start)
        .chain(targets.iter().map(Vec::as_slice))
        .collect::<Vec<_>>()
        .par_iter()
        .map(|t| analyse(model, data, t))
        .collect();
    let mut joined: Vec<Joined> = Vec::new();
    let mut tried: Vec<(Vec<f64>, f64, Vec<f64>, f64)> = Vec::new();
    let (mut strings, mut rounds) = (0, 0);
    let root = |m: &[Stationary]| (m[0].theta.clone(), m[0].loss);
    let find = |nodes: &[Node], m: &Stationary| {
        nodes
            .iter()
            .position(|n| same(model, (&n.theta, n.loss), (&m.theta, m.loss)))
    };
    let from_start = loop {
        let (r, rl) = root(&minima);
        let from_start = closure(&group, &minima, &joined, (&r, rl), f64::INFINITY);
        // Each target's best barrier so far: the highest transition state of its minimax chain.
        let barriers: Vec<Option<f64>> = (0..targets.len())
            .map(|j| find(&from_start, &minima[j + 1]).map(|k| from_start[k].key.0))
            .collect();
        if rounds >= s.max_rounds {
            break from_start;
        }
        // One string per target: between the nearest two minima not yet joined by a string, one
        // reachable from the start and one from the target through transition states below the
        // target's barrier so far (all of them while it is not reached). A reached target so
        // gets a chance of a lower barrier; where no such pair is left, it has none.
        let mut pairs: Vec<(Vec<f64>, f64, Vec<f64>, f64)> = Vec::new();
        let equivalent = |pair: &(Vec<f64>, f64, Vec<f64>, f64), x: &Node, y: &Node| {
            let fits = |u: (&[f64], f64), v: (&[f64], f64), x: &Node, y: &Node| {
                (u.1 - x.loss).abs() <= 1e-10 + 1e-7 * u.1.abs().max(x.loss.abs())
                    && (v.1 - y.loss).abs() <= 1e-10 + 1e-7 * v.1.abs().max(y.loss.abs())
                    && group
                        .maps(u.0, &x.theta)
                        .iter()
                        .any(|g| same(model, (&g.apply(model, v.0), v.1), (&y.theta, y.loss)))
            };
            fits((&pair.0, pair.1), (&pair.2, pair.3), x, y)
                || fits((&pair.2, pair.3), (&pair.0, pair.1), x, y)
        };
        // A lower barrier counts when it is lower by more than 1e-6 of it: transition states on
        // one degenerate manifold differ in L by far less.
        let below = |b: Option<f64>| b.map_or(f64::INFINITY, |b| b - 1e-6 * b.abs().max(1e-300));
        let mut start_below: Vec<(f64, Vec<Node>)> = Vec::new();
        for j in 0..targets.len() {
            let limit = below(barriers[j]);
            if !start_below.iter().any(|(l, _)| *l == limit) {
                let nodes = closure(&group, &minima, &joined, (&r, rl), limit);
                start_below.push((limit, nodes));
            }
            let from = &start_below
                .iter()
                .find(|(l, _)| *l == limit)
                .expect("computed above")
                .1;
            let t = &minima[j + 1];
            let from_target = closure(&group, &minima, &joined, (&t.theta, t.loss), limit);
            let mut options: Vec<(f64, usize, usize)> = Vec::new();
            for (x, nx) in from.iter().enumerate() {
                for (y, ny) in from_target.iter().enumerate() {
                    let d: f64 = nx
                        .theta
                        .iter()
                        .zip(&ny.theta)
                        .map(|(u, v)| (u - v) * (u - v))
                        .sum();
                    options.push((d, x, y));
                }
            }
            options.sort_by(|p, q| p.0.total_cmp(&q.0));
            let choice = options.iter().find(|&&(_, x, y)| {
                let (nx, ny) = (&from[x], &from_target[y]);
                !tried
                    .iter()
                    .chain(&pairs)
                    .any(|pair| equivalent(pair, nx, ny))
            });
            if let Some(&(_, x, y)) = choice {
                let (nx, ny) = (&from[x], &from_target[y]);
                pairs.push((nx.theta.clone(), nx.loss, ny.theta.clone(), ny.loss));
            }
        }
        // A target that is a copy of the start is reached through the transition states that
        // join the start to its own copies: strings to its copies (all of them for groups of up
        // to `ORBIT_STRINGS` elements, else those under each generator of G: each transposition
        // of two units, each sign flip) not reached yet below its barrier.
        if let Some(all) = &group.elements {
            // Every copy for small groups; one per generator beyond.
            let copies: Vec<GroupElement> = if all.len() <= ORBIT_STRINGS {
                all.clone()
            } else {
                generators(model)
            };
            let mut limits: Vec<f64> = (0..targets.len())
                .filter(|&j| {
                    !group
                        .maps(&minima[0].theta, &minima[j + 1].theta)
                        .is_empty()
                })
                .map(|j| below(barriers[j]))
                .collect();
            limits.sort_by(|a, b| b.total_cmp(a));
            limits.dedup();
            for limit in limits {
                let from = &start_below
                    .iter()
                    .find(|(l, _)| *l == limit)
                    .expect("computed above")
                    .1;
                for g in &copies {
                    let y = g.apply(model, &r);
                    let node = Node {
                        theta: y.clone(),
                        loss: rl,
                        via: None,
                        key: (0.0, 0),
                        done: true,
                    };
                    let reached = from
                        .iter()
                        .any(|n| same(model, (&n.theta, n.loss), (&y, rl)));
                    if !reached
                        && !tried
                            .iter()
                            .chain(&pairs)
                            .any(|pair| equivalent(pair, &from[0], &node))
                    {
                        pairs.push((r.clone(), rl, y, rl));
                    }
                }
            }
        }
        pairs.truncate(MAX_STRINGS);
        if pairs.is_empty() {
            // Nothing left to try: the chains are as low as these strings make them.
            break from_start;
        }
        rounds += 1;
        strings += pairs.len();
        let ends: Vec<(Vec<f64>, Vec<f64>)> =
            pairs.iter().map(|p| (p.0.clone(), p.2.clone())).collect();
        let bands = relax(model, data, &ends, &s.band, grads);
        let found: Vec<(usize, Vec<Candidate>)> = bands
            .par_iter()
            .zip(&ends)
            .enumerate()
            .map(|(k, (band, (a, b)))| (k, transition_states(model, data, band, a, b)))
            .collect();
        tried.extend(pairs);
        for (_, candidates) in found {
            for c in candidates.into_iter().filter(|c| c.transition_state) {
                let mut node = |end: &Stationary| -> usize {
                    match minima
                        .iter()
                        .position(|m| same(model, (&m.theta, m.loss), (&end.theta, end.loss)))
                    {
                        Some(k) => k,
                        None => {
                            minima.push(end.clone());
                            minima.len() - 1
                        }
                    }
                };
                let u = node(&c.push_offs[0].end);
                let v = node(&c.push_offs[1].end);
                // Distinct up to G: an image of a transition state known adds no path.
                let known = joined.iter().any(|j| {
                    (j.point.loss - c.point.loss).abs() <= 1e-10 + 1e-7 * c.point.loss.abs()
                        && !group.maps(&j.point.theta, &c.point.theta).is_empty()
                });
                if known {
                    continue;
                }
                // The path: down from the transition state to u, reversed, then down to v.
                let mut images: Vec<Vec<f64>> = c.push_offs[0].path.iter().rev().cloned().collect();
                let at = images.len() - 1;
                images.extend(c.push_offs[1].path.iter().skip(1).cloned());
                let stabilizer_order =
                    group.maps(&c.point.theta, &c.point.theta).len().max(1) as f64;
                joined.push(Joined {
                    point: c.point,
                    joins: (u, v),
                    images,
                    at,
                    stabilizer_order,
                });
            }
        }
    };
    let chains = (0..targets.len())
        .map(|j| find(&from_start, &minima[j + 1]).map(|k| chain_to(&from_start, k)))
        .collect();
    Search {
        minima,
        transition_states: joined,
        chains,
        strings,
        rounds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use landscape_core::spec::data::DataSource;
    use landscape_core::spec::model::Activation;

    /// The seed example: the path from (1, 1) to (−1, −1) crosses the saddle at the origin,
    /// L = 1, index 1, and its push-offs reach the two minima.
    #[test]
    fn the_seed_examples_path_crosses_the_saddle_at_the_origin() {
        let m = Model::new("1-1-1", Activation::Linear, Activation::Linear, false).expect("model");
        let data = DataSource::parse("point:x=1,y=1", &m).expect("data").data;
        let (a, b) = ([1.0, 1.0], [-1.0, -1.0]);
        let band = band(&m, &data, &a, &b, &BandSettings::default());
        assert!(
            band.force < 1e-3,
            "{} after {} steps",
            band.force,
            band.steps
        );
        let ts = transition_states(&m, &data, &band, &a, &b);
        let t: Vec<&Candidate> = ts.iter().filter(|c| c.transition_state).collect();
        assert_eq!(t.len(), 1, "{ts:?}");
        let t = t[0];
        assert!((t.point.loss - 1.0).abs() < 1e-12, "{t:?}");
        assert!(t.point.theta.iter().all(|v| v.abs() < 1e-9));
        assert_eq!(t.point.index, 1);
        // The minima form the hyperbola w₁w₂ = 1: the push-offs reach a point of each branch.
        let mut branches: Vec<f64> = t
            .push_offs
            .iter()
            .map(|o| {
                let e = &o.end.theta;
                assert!((e[0] * e[1] - 1.0).abs() < 1e-8, "{o:?}");
                e[0].signum()
            })
            .collect();
        branches.sort_by(f64::total_cmp);
        assert_eq!(branches, [-1.0, 1.0], "{t:?}");
    }
}

#[cfg(test)]
mod teacher_tests {
    use super::*;
    use crate::symmetry::GroupElement;
    use landscape_core::spec::data::DataSource;
    use landscape_core::spec::model::Activation;

    /// The 2-3-1 teacher's global minimum and its copy with hidden units 0 and 1 swapped: the
    /// string finds transition states with one negative eigenvalue whose push-offs, followed by
    /// the gradient flow, reach θ* and g·θ* themselves.
    #[test]
    fn a_minimum_connects_to_its_copy_under_a_transposition() {
        let m = Model::new("2-3-1", Activation::Tanh, Activation::Linear, true).expect("model");
        let src = DataSource::parse("teacher:n=64,seed=1", &m).expect("data");
        let a = src.teacher.as_ref().expect("teacher").theta.clone();
        let mut g = GroupElement::identity(&m);
        g.perms[0].swap(0, 1);
        let b = g.apply(&m, &a);
        let settings = BandSettings {
            max_steps: 4000,
            ..BandSettings::default()
        };
        let band = band(&m, &src.data, &a, &b, &settings);
        let found = transition_states(&m, &src.data, &band, &a, &b);
        let ts: Vec<&Candidate> = found.iter().filter(|c| c.transition_state).collect();
        assert!(
            !ts.is_empty(),
            "force {} after {} steps: {found:?}",
            band.force,
            band.steps
        );
        for t in &ts {
            assert_eq!(t.point.index, 1);
            assert!(t.point.loss > 0.0 && t.point.eigenvalues[0] < 0.0);
        }
        // Each lies above both minima its push-offs reach; those push-offs reach θ* itself and
        // g·θ* itself (not θ* twice). Between them the path passes local minima that the
        // transition states found so far do not yet chain together (a double-ended search
        // would recurse on those segments).
        for t in &ts {
            for o in &t.push_offs {
                assert!(o.end.loss < t.point.loss, "{t:?}");
            }
        }
        let reached: Vec<usize> = ts
            .iter()
            .flat_map(|t| t.push_offs.iter().filter_map(|o| o.reached))
            .collect();
        assert!(reached.contains(&0) && reached.contains(&1), "{ts:?}");
        // The double-ended search: every transition state it keeps has index 1 in an
        // independent Hessian and lies above both minima it joins, and the chain it closes
        // (through images of transition states under G) ends at g·θ*, not at θ*.
        let search = SearchSettings {
            band: BandSettings {
                max_steps: 500,
                ..BandSettings::default()
            },
            ..SearchSettings::default()
        };
        let c = connect(&m, &src.data, &a, &b, &search);
        for t in &c.transition_states {
            assert_eq!(t.point.index, 1);
            let h = reference::hessian(&m, &src.data, &t.point.theta);
            let e = SymmetricEigen::new(DMatrix::from_row_slice(a.len(), a.len(), &h));
            assert_eq!(e.eigenvalues.iter().filter(|&&v| v < -1e-9).count(), 1);
            let (u, v) = t.joins;
            assert!(t.point.loss > c.minima[u].loss && t.point.loss > c.minima[v].loss);
            for w in [u, v] {
                assert!(matches!(
                    c.minima[w].kind,
                    Kind::Minimum | Kind::DegenerateMinimum
                ));
            }
        }
        for end in [0, 1] {
            assert!(
                c.transition_states
                    .iter()
                    .any(|t| t.joins.0 == end || t.joins.1 == end),
                "end {end}"
            );
        }
        let chain = c.chains[0].as_ref().expect("θ* and g·θ* connected");
        assert!(!chain.links.is_empty());
        let PathPoints {
            images: path,
            transition_states: marks,
            minima: lows,
        } = c.path(&m, 0).expect("a path");
        assert!(crate::symmetry::distance(&path[path.len() - 1], &b) < 1e-6);
        assert!(crate::symmetry::distance(&path[0], &a) < 1e-6);
        assert_eq!(
            (marks.len(), lows.len()),
            (chain.links.len(), chain.links.len() + 1)
        );
        // Each crossing is a transition state moved by an element of G: still stationary.
        for (link, &k) in chain.links.iter().zip(&marks) {
            let moved = link
                .element
                .apply(&m, &c.transition_states[link.ts].point.theta);
            assert!(crate::symmetry::distance(&moved, &path[k]) < 1e-12);
            let (_, g) = reference::loss_and_gradient(&m, &src.data, &moved);
            assert!(norm(&g) < 1e-8);
        }
    }
}
