//! Between two minima: the minimum-energy path by the string method, its local maxima refined to stationary points with the exact float64 Hessian, and each
//! transition state confirmed by pushing off along its negative eigenvector and following the
//! gradient flow down to the minima it joins.
//!
//! The band only finds candidates; a transition state is claimed only for a refined point with
//! exactly one negative Hessian eigenvalue whose two push-offs both reach minima.

use super::flow::{FlowEnd, FlowSettings, flow};
use super::stationary::{Kind, Stationary, analyse};
use super::symmetry::{align, normalise};
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

/// Relaxes a string from `a` to `b` (the simplified string method of E, Ren and
/// Vanden-Eijnden, 2007): every interior image takes a step of gradient descent, no longer than
/// a tenth of the images' spacing, then the images are put back at equal arc length along the
/// polyline through them. The string settles on a minimum-energy path; its highest images are
/// the candidates `transition_states` refines.
pub fn band(model: &Model, data: &Dataset, a: &[f64], b: &[f64], s: &BandSettings) -> Band {
    let n = s.images.max(3);
    let p = a.len();
    let amp = s.perturbation * scale(a).max(scale(b));
    let mut x: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            let t = i as f64 / (n - 1) as f64;
            let bump = (std::f64::consts::PI * t).sin();
            (0..p)
                .map(|q| {
                    let line = (1.0 - t) * a[q] + t * b[q];
                    let noise = normal(s.seed, Stream::Direction, (i * p + q) as u64);
                    line + amp * bump * noise
                })
                .collect()
        })
        .collect();
    let mut steps = 0;
    let mut moved = f64::INFINITY;
    for step in 0..s.max_steps {
        let spacing = arc_lengths(&x).last().copied().unwrap_or(0.0) / (n - 1) as f64;
        let max_move = 0.1 * spacing.max(1e-6);
        let grads: Vec<Vec<f64>> = x[1..n - 1]
            .par_iter()
            .map(|t| reference::loss_and_gradient(model, data, t).1)
            .collect();
        let before = x.clone();
        for (xi, g) in x[1..n - 1].iter_mut().zip(&grads) {
            let gn = norm(g);
            let h = s.step.min(max_move / gn.max(1e-300));
            for (t, gq) in xi.iter_mut().zip(g) {
                *t -= h * gq;
            }
        }
        x = reparametrise(&x);
        moved = x
            .iter()
            .zip(&before)
            .map(|(u, w)| super::symmetry::distance(u, w))
            .fold(0.0, f64::max);
        steps = step + 1;
        if moved < s.tol * spacing.max(1e-6) {
            break;
        }
    }
    let loss = x.iter().map(|t| reference::loss(model, data, t)).collect();
    Band {
        images: x,
        loss,
        steps,
        force: moved,
    }
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
            let point = analyse(model, data, &band.images[i]);
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
                    let f = flow(model, data, &start, &settings);
                    let end = analyse(model, data, &f.theta);
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

/// A transition state and the two minima it joins (indices into `Connection::minima`).
#[derive(Debug, Clone, PartialEq)]
pub struct Joined {
    /// The transition state.
    pub point: Stationary,
    /// The minima its push-offs reach.
    pub joins: (usize, usize),
    /// Images of the string around it, from the first minimum's side to the second's, the
    /// transition state among them.
    pub images: Vec<Vec<f64>>,
}

/// A double-ended connection.
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    /// The minima met: 0 and 1 the two given ends (polished), then those push-offs reached.
    pub minima: Vec<Stationary>,
    /// Every transition state found, with the minima it joins.
    pub transition_states: Vec<Joined>,
    /// The chain of transition states from minimum 0 to minimum 1, when one was found.
    pub chain: Option<Vec<usize>>,
    /// Strings relaxed.
    pub strings: usize,
}

impl Connection {
    /// The path along the chain: images × P, from the first end to the second.
    pub fn path(&self) -> Vec<Vec<f64>> {
        let mut out: Vec<Vec<f64>> = vec![self.minima[0].theta.clone()];
        let Some(chain) = &self.chain else {
            return out;
        };
        let mut at = 0;
        for &k in chain {
            let t = &self.transition_states[k];
            let mut images = t.images.clone();
            let next = if t.joins.0 == at {
                t.joins.1
            } else {
                images.reverse();
                t.joins.0
            };
            out.extend(images);
            out.push(self.minima[next].theta.clone());
            at = next;
        }
        out
    }
}

/// Connects minima `a` and `b` as a double-ended search does: a string between them, its
/// transition states confirmed by push-offs; while no chain of transition states joins the two
/// ends, a string between the nearest two minima of the parts still apart, up to `max_strings`
/// strings in all.
pub fn connect(
    model: &Model,
    data: &Dataset,
    a: &[f64],
    b: &[f64],
    s: &BandSettings,
    max_strings: usize,
) -> Connection {
    let mut minima = vec![analyse(model, data, a), analyse(model, data, b)];
    let mut joined: Vec<Joined> = Vec::new();
    let mut strings = 0;
    let mut tried: Vec<(usize, usize)> = Vec::new();
    let (mut from, mut to) = (0usize, 1usize);
    let node = |minima: &mut Vec<Stationary>, end: &Stationary| -> usize {
        let at = &end.theta;
        match minima
            .iter()
            .position(|m| super::symmetry::distance(&m.theta, at) <= 1e-5 * scale(at))
        {
            Some(k) => k,
            None => {
                minima.push(end.clone());
                minima.len() - 1
            }
        }
    };
    loop {
        strings += 1;
        tried.push((from, to));
        let (ta, tb) = (minima[from].theta.clone(), minima[to].theta.clone());
        let string = band(model, data, &ta, &tb, s);
        for c in transition_states(model, data, &string, &ta, &tb) {
            if !c.transition_state {
                continue;
            }
            let u = node(&mut minima, &c.push_offs[0].end);
            let v = node(&mut minima, &c.push_offs[1].end);
            // The string's images from the minimum on each side of the peak.
            let (lo, hi) = around(&string.loss, c.image);
            let mut images: Vec<Vec<f64>> = string.images[lo..=hi].to_vec();
            images[c.image - lo] = c.point.theta.clone();
            // Orient them from u's side: u is the push-off along −mode; decide by distance.
            let d = |x: &[f64], y: &[f64]| super::symmetry::distance(x, y);
            if d(&images[0], &minima[u].theta) > d(&images[images.len() - 1], &minima[u].theta) {
                images.reverse();
            }
            if !joined
                .iter()
                .any(|j| d(&j.point.theta, &c.point.theta) <= 1e-6 * scale(&c.point.theta))
            {
                joined.push(Joined {
                    point: c.point,
                    joins: (u, v),
                    images,
                });
            }
        }
        let chain = shortest_chain(minima.len(), &joined, 0, 1);
        if chain.is_some() || strings >= max_strings {
            return Connection {
                minima,
                transition_states: joined,
                chain,
                strings,
            };
        }
        // The nearest pair of minima, one joined to the first end and one to the second, not
        // tried yet.
        let reach = |start: usize| -> Vec<bool> {
            let mut r = vec![false; minima.len()];
            r[start] = true;
            for _ in 0..minima.len() {
                for j in &joined {
                    if r[j.joins.0] || r[j.joins.1] {
                        r[j.joins.0] = true;
                        r[j.joins.1] = true;
                    }
                }
            }
            r
        };
        let (ra, rb) = (reach(0), reach(1));
        let mut best: Option<(f64, usize, usize)> = None;
        for i in (0..minima.len()).filter(|&i| ra[i]) {
            for j in (0..minima.len()).filter(|&j| rb[j]) {
                if tried.contains(&(i, j)) {
                    continue;
                }
                let dist = super::symmetry::distance(&minima[i].theta, &minima[j].theta);
                if best.is_none_or(|b| dist < b.0) {
                    best = Some((dist, i, j));
                }
            }
        }
        let Some((_, i, j)) = best else {
            return Connection {
                minima,
                transition_states: joined,
                chain: None,
                strings,
            };
        };
        (from, to) = (i, j);
    }
}

/// The band images from the nearest local minimum of `loss` (or end) before `peak` to the
/// nearest after it.
fn around(loss: &[f64], peak: usize) -> (usize, usize) {
    let mut lo = peak;
    while lo > 0 && loss[lo - 1] <= loss[lo] {
        lo -= 1;
    }
    let mut hi = peak;
    while hi + 1 < loss.len() && loss[hi + 1] <= loss[hi] {
        hi += 1;
    }
    (lo, hi)
}

/// The fewest transition states leading from minimum `from` to `to` (breadth first).
fn shortest_chain(nodes: usize, joined: &[Joined], from: usize, to: usize) -> Option<Vec<usize>> {
    let mut via: Vec<Option<(usize, usize)>> = vec![None; nodes];
    let mut seen = vec![false; nodes];
    seen[from] = true;
    let mut queue = std::collections::VecDeque::from([from]);
    while let Some(u) = queue.pop_front() {
        if u == to {
            let mut chain = Vec::new();
            let mut at = to;
            while let Some((prev, k)) = via[at] {
                chain.push(k);
                at = prev;
            }
            chain.reverse();
            return Some(chain);
        }
        for (k, j) in joined.iter().enumerate() {
            let v = if j.joins.0 == u {
                j.joins.1
            } else if j.joins.1 == u {
                j.joins.0
            } else {
                continue;
            };
            if !seen[v] {
                seen[v] = true;
                via[v] = Some((u, k));
                queue.push_back(v);
            }
        }
    }
    None
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
        // The double-ended search: every transition state it keeps has index 1 and lies above
        // both minima it joins, and each end is joined to one. (Three strings do not yet chain
        // θ* to g·θ*: each string between copies of the local minima met on the way is itself
        // a copy-connection; see ARCHITECTURE.)
        let c = connect(&m, &src.data, &a, &b, &settings, 3);
        assert!(c.strings <= 3);
        for t in &c.transition_states {
            assert_eq!(t.point.index, 1);
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
        if let Some(chain) = &c.chain {
            let path = c.path();
            assert!(!chain.is_empty());
            assert!(crate::symmetry::distance(&path[path.len() - 1], &b) < 1e-6);
        }
    }
}
