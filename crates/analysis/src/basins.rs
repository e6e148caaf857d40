//! Basins and classes: where walkers end, grouped into stationary points (basins), and basins
//! grouped into orbits under the symmetry group (classes), with the count of copies found
//! against |G|/|Stab| and a test that walkers spread evenly over the copies.

use super::stationary::{Kind, Stationary, analyse, symmetry_nullity};
use super::stats::uniformity_p;
use super::symmetry::{
    align, distance, group_order, group_order_log10, normalise, stabilizer_order,
};
use landscape_core::spec::data::Dataset;
use landscape_core::spec::model::Model;
use landscape_core::spec::walk::Status;
use rayon::prelude::*;
use serde::{Deserialize, Deserializer, Serialize};

/// A float that JSON holds as null when it is infinite (as serde_json writes it).
fn infinite_if_null<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::INFINITY))
}

/// Endpoints within this ∞-distance (relative to max(1, ‖θ‖∞)) are polished once, together.
/// Converged walkers sit within ‖∇L‖/λ_min of their point: 1e-2 covers tol = 1e-5 down to
/// λ_min = 1e-3, and distinct stationary points are much farther apart.
pub const CLUSTER_TOL: f64 = 1e-2;

/// Polished points closer than this (relative) are the same stationary point; Newton's
/// quadratic convergence puts them within ~1e-12 of it.
pub const SAME_POINT_TOL: f64 = 1e-6;

/// Most raw clusters polished; walkers beyond are left unassigned (so that a run whose walkers
/// end on a continuum of points cannot make the analysis quadratic in the walkers).
pub const MAX_CLUSTERS: usize = 4096;

/// Parameter count up to which `MAX_CLUSTERS` clusters are polished (a few milliseconds each).
pub const FULL_CAP_PARAMETERS: usize = 200;

/// The fewest clusters polished at any parameter count.
pub const MIN_CLUSTERS: usize = 64;

/// Most raw clusters polished for a network of `p` parameters: `MAX_CLUSTERS` up to
/// `FULL_CAP_PARAMETERS`, then falling as 1/P³, the cost of polishing each, down to
/// `MIN_CLUSTERS`. Over-parameterised networks are where this matters: their walkers end on
/// manifolds of minima, each at its own point, and polishing 4096 of them at P = 4000 would take
/// days; beyond the cap, converged walkers still join the class at their loss level.
pub fn cluster_cap(p: usize) -> usize {
    if p <= FULL_CAP_PARAMETERS {
        return MAX_CLUSTERS;
    }
    let r = FULL_CAP_PARAMETERS as f64 / p as f64;
    ((MAX_CLUSTERS as f64 * r * r * r) as usize).max(MIN_CLUSTERS)
}

/// Slack on top of the quadratic model when a converged walker beyond the cluster cap joins a
/// class by its loss (relative to 1 + L).
pub const MANIFOLD_LOSS_TOL: f64 = 1e-6;

/// Most copies for which the chi-square test is run (it needs several walkers per copy).
const MAX_TESTED_COPIES: f64 = 1e5;

/// One class: a stationary point up to symmetry, with its copies.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Class {
    /// Position in the list, lowest loss first.
    pub id: usize,
    /// Kind of point (`minimum`, `degenerate-minimum`, `saddle`, `maximum`).
    pub kind: Kind,
    /// L at the polished representative.
    pub loss: f64,
    /// ‖∇L‖ at the polished representative.
    pub grad_norm: f64,
    /// Morse index: negative Hessian eigenvalues.
    pub index: usize,
    /// Zero Hessian eigenvalues.
    pub nullity: usize,
    /// Hessian eigenvalues, ascending.
    pub eigenvalues: Vec<f64>,
    /// The polished representative θ.
    pub point: Vec<f64>,
    /// Walkers that ended in the class.
    pub walkers: u64,
    /// walkers / M.
    pub fraction: f64,
    /// |Stab| of the representative (written as null when beyond float64's range).
    #[serde(deserialize_with = "infinite_if_null")]
    pub stabilizer_order: f64,
    /// |G| / |Stab|, or none for points on manifolds (their copies are not counted).
    pub copies_expected: Option<f64>,
    /// Distinct copies the walkers found.
    pub copies_found: usize,
    /// Walkers per copy found.
    pub walkers_per_copy: Vec<u64>,
    /// p-value of the chi-square test that walkers spread evenly over all expected copies.
    pub uniformity_p: Option<f64>,
}

/// Walkers not in any class, by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unassigned {
    /// Diverged walkers: the point at infinity.
    pub at_infinity: u64,
    /// Walkers whose θ, L or ∇L became non-finite.
    pub non_finite: u64,
    /// Walkers whose end polishes to no stationary point (plateaus, gradient-flat regions).
    pub not_stationary: u64,
    /// Walkers beyond the `cluster_cap` distinct ends that joined no class.
    pub too_many_clusters: u64,
    /// Of the not-stationary and beyond-the-cap walkers, those that were still moving when they
    /// reached the step budget (status max-steps): more steps, not a flat region, may place them.
    pub unconverged: u64,
}

/// The whole analysis of a walk.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// |G| (infinite beyond float64's range, about 170 hidden units).
    pub group_order: f64,
    /// log₁₀ |G|, finite at every size.
    pub group_order_log10: f64,
    /// Most raw clusters polished (`cluster_cap` of P).
    pub cluster_cap: usize,
    /// Walkers analysed.
    pub walkers: u64,
    /// Classes, lowest loss first.
    pub classes: Vec<Class>,
    /// Walkers in no class.
    pub unassigned: Unassigned,
    /// Class and copy of each walker (−1 for none), walker-major: [class₀, copy₀, class₁, …].
    #[serde(skip)]
    pub labels: Vec<i32>,
}

/// The chi-square p-value over all expected copies, unfound ones counting zero walkers.
fn uniformity(expected: Option<f64>, per_copy: &[u64]) -> Option<f64> {
    expected
        .filter(|&e| e <= MAX_TESTED_COPIES && e >= per_copy.len() as f64)
        .and_then(|e| {
            let mut counts = per_copy.to_vec();
            counts.resize(e.round() as usize, 0);
            uniformity_p(&counts)
        })
}

struct Basin {
    point: Stationary,
    walkers: Vec<usize>,
}

/// What `analyse_walk_observed` reports as it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The endpoints fell into this many raw clusters, whose representatives are polished next
    /// (once, before any `Polished`).
    Clusters(usize),
    /// One more representative was polished and classified (in any order, from any thread).
    Polished,
}

/// The walkers ordered by a hash of their status and endpoint bits (ties, identical ends, by the
/// bits and then the index): an order that depends on where walkers ended, not on their indices.
fn content_order(endpoints: &[f32], status: &[u32], p: usize) -> Vec<usize> {
    let end = |w: usize| &endpoints[w * p..(w + 1) * p];
    let key = |w: usize| {
        // FNV-1a over the bits, then a final avalanche (splitmix64's).
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ u64::from(status[w]);
        for v in end(w) {
            h = (h ^ u64::from(v.to_bits())).wrapping_mul(0x0000_0100_0000_01b3);
        }
        h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        h ^ (h >> 31)
    };
    let keys: Vec<u64> = (0..status.len()).into_par_iter().map(key).collect();
    let mut order: Vec<usize> = (0..status.len()).collect();
    order.par_sort_unstable_by(|&a, &b| {
        keys[a]
            .cmp(&keys[b])
            .then_with(|| status[a].cmp(&status[b]))
            .then_with(|| {
                let bits = |w: usize| end(w).iter().map(|v| v.to_bits()).collect::<Vec<u32>>();
                bits(a).cmp(&bits(b))
            })
            .then(a.cmp(&b))
    });
    order
}

/// Analyses a walk: endpoints (M × P) and statuses (codes of `Status`).
pub fn analyse_walk(model: &Model, data: &Dataset, endpoints: &[f32], status: &[u32]) -> Report {
    analyse_walk_observed(model, data, endpoints, status, &|_| {})
}

/// `analyse_walk`, telling `observe` how far it got. Polishing is most of the time: each
/// representative costs a few P × P Hessians, their factorisations and eigenvalues (O(P³)),
/// seconds apiece from P ≈ 1000.
pub fn analyse_walk_observed(
    model: &Model,
    data: &Dataset,
    endpoints: &[f32],
    status: &[u32],
    observe: &(dyn Fn(Stage) + Sync),
) -> Report {
    let p = model.parameter_count();
    let m = status.len();
    let cap = cluster_cap(p);
    let mut unassigned = Unassigned::default();
    let mut labels = vec![-1i32; 2 * m];

    // 1. Raw clusters of endpoints (ReLU units normalised first). The walkers are taken in an
    // order set by their ends alone (a hash of status and endpoint), not by their index: when
    // the cluster cap runs out, the clusters polished are then a uniform sample of the ends,
    // never those of one region of a map's lattice, and permuting the walkers changes no
    // walker's class or copy.
    let mut clusters: Vec<(Vec<f64>, Vec<usize>)> = Vec::new();
    let mut overflow: Vec<usize> = Vec::new();
    for w in content_order(endpoints, status, p) {
        match Status::from_code(status[w]) {
            Some(Status::Diverged) => unassigned.at_infinity += 1,
            Some(Status::NonFinite) | None => unassigned.non_finite += 1,
            Some(Status::Converged | Status::MaxSteps) => {
                let theta: Vec<f64> = endpoints[w * p..(w + 1) * p]
                    .iter()
                    .map(|&v| f64::from(v))
                    .collect();
                let theta = normalise(model, &theta);
                let scale = theta.iter().fold(1.0f64, |a, v| a.max(v.abs()));
                match clusters
                    .iter()
                    .position(|(rep, _)| distance(rep, &theta) <= CLUSTER_TOL * scale)
                {
                    Some(c) => clusters[c].1.push(w),
                    None if clusters.len() < cap => clusters.push((theta, vec![w])),
                    None => overflow.push(w),
                }
            }
        }
    }

    // 2. Polish each cluster's first member.
    observe(Stage::Clusters(clusters.len()));
    let polished: Vec<Stationary> = clusters
        .par_iter()
        .map(|(rep, _)| {
            let s = analyse(model, data, rep);
            observe(Stage::Polished);
            s
        })
        .collect();

    // 3. Basins: clusters that polish to the same point.
    let mut basins: Vec<Basin> = Vec::new();
    for ((_, members), point) in clusters.into_iter().zip(polished) {
        if point.kind == Kind::NotStationary {
            unassigned.not_stationary += members.len() as u64;
            unassigned.unconverged += members
                .iter()
                .filter(|&&w| Status::from_code(status[w]) == Some(Status::MaxSteps))
                .count() as u64;
            continue;
        }
        let theta = normalise(model, &point.theta);
        let scale = theta.iter().fold(1.0f64, |a, v| a.max(v.abs()));
        match basins
            .iter_mut()
            .find(|b| distance(&normalise(model, &b.point.theta), &theta) <= SAME_POINT_TOL * scale)
        {
            Some(b) => b.walkers.extend(members),
            None => basins.push(Basin {
                point,
                walkers: members,
            }),
        }
    }

    // 4. Classes: basins that are copies of each other under G. Points on manifolds (zero
    // eigenvalues beyond the continuous symmetries) are grouped by kind, index and loss level
    // instead: every walker ends at a different point of the manifold, and copies are not counted.
    let order = group_order(model);
    let degenerate = |s: &Stationary| s.nullity > symmetry_nullity(model, &s.theta);
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (bi, b) in basins.iter().enumerate() {
        let theta = normalise(model, &b.point.theta);
        let scale = theta.iter().fold(1.0f64, |a, v| a.max(v.abs()));
        let found = groups.iter_mut().find(|g| {
            let rep = &basins[g[0]].point;
            if rep.kind != b.point.kind
                || rep.index != b.point.index
                || degenerate(rep) != degenerate(&b.point)
            {
                return false;
            }
            if degenerate(rep) {
                // Polishing on a manifold converges linearly: compare losses to 1e-6.
                return (rep.loss - b.point.loss).abs() <= 1e-6 * (1.0 + rep.loss.abs());
            }
            (rep.loss - b.point.loss).abs() <= 1e-9 * (1.0 + rep.loss.abs())
                && align(model, &theta, &normalise(model, &rep.theta)).1 <= SAME_POINT_TOL * scale
        });
        match found {
            Some(g) => g.push(bi),
            None => groups.push(vec![bi]),
        }
    }
    groups.sort_by(|a, b| basins[a[0]].point.loss.total_cmp(&basins[b[0]].point.loss));

    let mut classes = Vec::with_capacity(groups.len());
    for (id, g) in groups.iter().enumerate() {
        let rep = &basins[g[0]].point;
        let degenerate = degenerate(rep);
        let stab = stabilizer_order(model, &normalise(model, &rep.theta), SAME_POINT_TOL);
        let expected = (!degenerate).then(|| order / stab);
        let per_copy: Vec<u64> = g
            .iter()
            .map(|&bi| basins[bi].walkers.len() as u64)
            .collect();
        let walkers: u64 = per_copy.iter().sum();
        for (copy, &bi) in g.iter().enumerate() {
            for &w in &basins[bi].walkers {
                labels[2 * w] = id as i32;
                labels[2 * w + 1] = if degenerate { -1 } else { copy as i32 };
            }
        }
        let uniformity = uniformity(expected, &per_copy);
        classes.push(Class {
            id,
            kind: rep.kind,
            loss: rep.loss,
            grad_norm: rep.grad_norm,
            index: rep.index,
            nullity: rep.nullity,
            eigenvalues: rep.eigenvalues.clone(),
            point: rep.theta.clone(),
            walkers,
            fraction: walkers as f64 / m.max(1) as f64,
            stabilizer_order: stab,
            copies_expected: expected,
            copies_found: if degenerate { 0 } else { g.len() },
            walkers_per_copy: if degenerate { Vec::new() } else { per_copy },
            uniformity_p: uniformity,
        });
    }
    // 5. Walkers beyond the cluster cap that converged join the class whose loss level they
    // reached: by the quadratic model, a walker with gradient g sits above its stationary point
    // by at most ‖g‖²/(2λ⁺), λ⁺ the smallest positive curvature there. Within a counted class it
    // joins the copy nearest to it; on a manifold, the class. Ill-conditioned minima and manifolds
    // are what fill the cap: their converged walkers stay far apart. The rest stay unassigned.
    struct Target {
        class: usize,
        copy: Option<usize>,
        point: Vec<f64>,
        loss: f64,
        curvature: f64,
    }
    let mut targets = Vec::new();
    for (id, g) in groups.iter().enumerate() {
        let rep = &basins[g[0]].point;
        let scale = rep.eigenvalues.iter().fold(1.0f64, |a, v| a.max(v.abs()));
        let curvature = rep
            .eigenvalues
            .iter()
            .copied()
            .filter(|&v| v > super::stationary::ZERO_EIGENVALUE * scale)
            .fold(f64::INFINITY, f64::min);
        for (copy, &bi) in g.iter().enumerate() {
            targets.push(Target {
                class: id,
                copy: (classes[id].copies_expected.is_some()).then_some(copy),
                point: normalise(model, &basins[bi].point.theta),
                loss: basins[bi].point.loss,
                curvature,
            });
        }
    }
    let joined: Vec<Option<(usize, Option<usize>)>> = overflow
        .par_iter()
        .map(|&w| {
            if Status::from_code(status[w]) != Some(Status::Converged) {
                return None;
            }
            let theta: Vec<f64> = endpoints[w * p..(w + 1) * p]
                .iter()
                .map(|&v| f64::from(v))
                .collect();
            let (loss, grad) = landscape_core::reference::loss_and_gradient(model, data, &theta);
            let g2: f64 = grad.iter().map(|v| v * v).sum();
            let theta = normalise(model, &theta);
            let fits = |t: &Target| {
                (loss - t.loss).abs()
                    <= g2 / t.curvature + MANIFOLD_LOSS_TOL * 1e-3 * (1.0 + t.loss.abs())
            };
            targets
                .iter()
                .filter(|t| fits(t))
                .min_by(|a, b| {
                    let key = |t: &Target| ((loss - t.loss).abs(), distance(&t.point, &theta));
                    key(a)
                        .partial_cmp(&key(b))
                        .unwrap_or(std::cmp::Ordering::Equal)
                })
                .map(|t| (t.class, t.copy))
        })
        .collect();
    for (&w, j) in overflow.iter().zip(joined) {
        match j {
            Some((id, copy)) => {
                labels[2 * w] = id as i32;
                labels[2 * w + 1] = copy.map_or(-1, |c| c as i32);
                classes[id].walkers += 1;
                if let Some(c) = copy {
                    classes[id].walkers_per_copy[c] += 1;
                }
            }
            None => {
                unassigned.too_many_clusters += 1;
                if Status::from_code(status[w]) == Some(Status::MaxSteps) {
                    unassigned.unconverged += 1;
                }
            }
        }
    }
    for c in &mut classes {
        c.fraction = c.walkers as f64 / m.max(1) as f64;
        c.uniformity_p = uniformity(c.copies_expected, &c.walkers_per_copy);
    }
    Report {
        group_order: order,
        group_order_log10: group_order_log10(model),
        cluster_cap: cap,
        walkers: m as u64,
        classes,
        unassigned,
        labels,
    }
}

/// A count held as a float64 (|G|, copies), in full below 10¹⁵ and with five significant digits
/// above.
fn count(x: f64) -> String {
    if x < 1e15 {
        format!("{x}")
    } else {
        format!("{x:.4e}")
    }
}

impl Report {
    /// The table printed after a walk or by `landscape basins`.
    pub fn table(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:>5}  {:<18} {:>11} {:>9} {:>5} {:>7} {:>9} {:>7} {:>6} {:>15} {:>10}",
            "class",
            "kind",
            "loss",
            "‖∇L‖",
            "index",
            "nullity",
            "walkers",
            "share",
            "|Stab|",
            "copies found",
            "uniform p"
        );
        for c in &self.classes {
            let copies = match c.copies_expected {
                Some(e) => format!("{} / {}", c.copies_found, count(e)),
                None => "manifold".to_string(),
            };
            let p = c
                .uniformity_p
                .map_or("—".to_string(), |p| format!("{p:.3}"));
            let _ = writeln!(
                s,
                "{:>5}  {:<18} {:>11.4e} {:>9.1e} {:>5} {:>7} {:>9} {:>6.2}% {:>6} {:>15} {:>10}",
                c.id,
                c.kind,
                c.loss,
                c.grad_norm,
                c.index,
                c.nullity,
                c.walkers,
                100.0 * c.fraction,
                c.stabilizer_order,
                copies,
                p
            );
        }
        let u = &self.unassigned;
        let _ = writeln!(
            s,
            "|G| = {}; not in a class: {} at infinity (diverged), {} non-finite, {} not stationary, {} beyond {} clusters",
            if self.group_order.is_finite() {
                count(self.group_order)
            } else {
                format!("10^{:.2}", self.group_order_log10)
            },
            u.at_infinity,
            u.non_finite,
            u.not_stationary,
            u.too_many_clusters,
            self.cluster_cap
        );
        if u.unconverged > 0 {
            let _ = writeln!(
                s,
                "  of these, {} were still moving at the step budget (max-steps): more --steps may place them",
                u.unconverged
            );
        }
        s
    }
}
