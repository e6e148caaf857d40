//! Basins and classes: where walkers end, grouped into stationary points (basins), and basins
//! grouped into orbits under the symmetry group (classes), with the count of copies found
//! against |G|/|Stab| and a test that walkers spread evenly over the copies.

use super::flow::{FlowEnd, FlowSettings, Flowed, flow, toward_infinity};
use super::stationary::{Kind, Stationary, analyse, describe, symmetry_nullity};
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

/// The finest cover of the ends: walkers within this ∞-distance (relative to max(1, ‖θ‖∞)) of a
/// representative take its class. Converged walkers sit within ‖∇L‖/λ_min of their point: 1e-2
/// covers tol = 1e-5 down to λ_min = 1e-3, and distinct stationary points are much farther
/// apart. Continued ends this close share one polish.
pub const CLUSTER_TOL: f64 = 1e-2;

/// Polished points closer than this (relative) are the same stationary point; Newton's
/// quadratic convergence puts them within ~1e-12 of it.
pub const SAME_POINT_TOL: f64 = 1e-6;

/// Most representatives analysed; the others are placed by them (so that a run whose walkers
/// end on a continuum of points cannot make the analysis quadratic in the walkers).
pub const MAX_CLUSTERS: usize = 4096;

/// Parameter count up to which `MAX_CLUSTERS` clusters are polished (a few milliseconds each).
pub const FULL_CAP_PARAMETERS: usize = 200;

/// The fewest clusters polished at any parameter count.
pub const MIN_CLUSTERS: usize = 64;

/// Most representatives analysed for a network of `p` parameters: `MAX_CLUSTERS` up to
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

/// Plateau points whose losses differ by at most this fraction are one plateau class.
pub const PLATEAU_LEVEL: f64 = 0.05;

/// Most copies for which the chi-square test is run (it needs several walkers per copy).
const MAX_TESTED_COPIES: f64 = 1e5;

/// One class: a stationary point up to symmetry, with its copies.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Class {
    /// Position in the list, lowest loss first.
    pub id: usize,
    /// Kind of point (`minimum`, `degenerate-minimum`, `higher-order-saddle`, `saturated`,
    /// `saddle`, `maximum`, `plateau`).
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
    /// Hidden units of the representative saturated on every sample (kind `saturated`).
    #[serde(default)]
    pub saturated: usize,
}

/// Walkers not in any class, by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unassigned {
    /// At infinity: walkers that diverged, and ends that are not stationary on a slope where the
    /// loss keeps falling while ‖θ‖ grows (saturating units).
    pub at_infinity: u64,
    /// Walkers whose θ, L or ∇L became non-finite.
    pub non_finite: u64,
    /// Walkers whose end polishes to no stationary point (plateaus, gradient-flat regions).
    pub not_stationary: u64,
    /// Walkers with no analysed end of their status within the placement distance (the cap
    /// left their region without a representative) that joined no class by their loss.
    pub too_many_clusters: u64,
    /// Walkers whose representative, continued by gradient flow, was still moving at the
    /// flow's horizon.
    #[serde(default)]
    pub still_moving: u64,
    /// Of the not-stationary and unplaced walkers, those that were still moving when they
    /// reached the step budget (status max-steps) and were not continued: more steps, or
    /// `--finish flow`, may place them.
    pub unconverged: u64,
}

/// The whole analysis of a walk.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// |G| (infinite beyond float64's range, about 170 hidden units).
    pub group_order: f64,
    /// log₁₀ |G|, finite at every size.
    pub group_order_log10: f64,
    /// Most representatives analysed (`cluster_cap` of P unless set).
    pub cluster_cap: usize,
    /// The cover radius used: every placed walker is within it of its representative
    /// (relative ∞-distance).
    pub place_tol: f64,
    /// Walkers analysed.
    pub walkers: u64,
    /// Classes, lowest loss first.
    pub classes: Vec<Class>,
    /// Walkers in no class.
    pub unassigned: Unassigned,
    /// How the walkers got their classes.
    pub placement: PlacementCounts,
    /// What continuing the still-moving representatives by gradient flow did (none when not
    /// asked for).
    pub flow: Option<FlowSummary>,
    /// Class and copy of each walker (−1 for none), walker-major: [class₀, copy₀, class₁, …].
    #[serde(skip)]
    pub labels: Vec<i32>,
    /// How each walker got its class: codes of `Placement`.
    #[serde(skip)]
    pub placements: Vec<u8>,
    /// How each walker's end was continued: codes of `Continued`.
    #[serde(skip)]
    pub continued: Vec<u8>,
    /// Why each walker is in no class: codes of `Reason`.
    #[serde(skip)]
    pub reasons: Vec<u8>,
}

/// Why a walker is in no class (`Report::reasons`), as `Unassigned` counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Reason {
    /// It is in a class.
    InClass = 0,
    /// It diverged, or its end continued by the flow did.
    AtInfinity = 1,
    /// A non-finite value, in the walk or in the flow.
    NonFinite = 2,
    /// Its end polishes to no stationary point, and it had not stopped by `--tol`.
    NotStationary = 3,
    /// No analysed end of its status within the placement distance, and no class at its level.
    Unplaced = 4,
    /// Its end, continued by the flow, was still moving at the flow's horizon.
    StillMoving = 5,
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
    /// This many more representatives were drawn; they are continued or polished next. Once
    /// before any `Polished`, then once per round of representatives drawn near boundaries
    /// between outcomes: the `Polished` that follow add up to their sum.
    Clusters(usize),
    /// One more representative was continued by the flow, or polished and classified (in any
    /// order, from any thread).
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

/// How the analysis of a walk bounds its work and finishes walkers still moving.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// Most representatives analysed (`cluster_cap(P)` by default).
    pub cap: usize,
    /// The largest cover radius (∞-distance relative to max(1, ‖θ‖∞)): a walker not analysed
    /// itself is placed by its nearest representative of the same status within the radius the
    /// cap allows, from `CLUSTER_TOL` doubling up to this.
    pub place_tol: f64,
    /// Continue representatives that reached the step budget still moving by gradient flow
    /// with adaptive steps (`None`: analyse them where they stopped).
    pub flow: Option<FlowSettings>,
}

impl Options {
    /// The defaults for a model of `p` parameters: `cluster_cap(p)`, `PLACE_TOL`, no flow.
    pub fn new(p: usize) -> Options {
        Options {
            cap: cluster_cap(p),
            place_tol: PLACE_TOL,
            flow: None,
        }
    }
}

/// The largest cover radius: a walker whose end lies within this ∞-distance (relative to
/// max(1, ‖θ‖∞)) of an analysed representative's, with the same status, takes its class and
/// copy. Five times `CLUSTER_TOL`: wide enough that the 4096 representatives of the cap cover the
/// two-dimensional sheet of ends a map's walkers leave after a few thousand steps, narrow against
/// the distance between the points they end at.
pub const PLACE_TOL: f64 = 5e-2;

/// How a walker got its class (`Report::placement`, `placement.npy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Placement {
    /// Its own end was analysed (continued, polished and classified).
    Analysed = 0,
    /// Placed by the nearest analysed end of the same status, within `place_tol`.
    Placed = 1,
    /// Converged, with no analysed end within `place_tol`: joined the class at its loss level.
    ByLoss = 2,
    /// No analysed end within `place_tol` and no class at its loss level: in no class.
    Unplaced = 3,
    /// Diverged or non-finite: nothing to analyse.
    NotAnalysed = 4,
}

/// How a walker's end was continued past the walk (`Report::continued`, `continued.npy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Continued {
    /// Not continued.
    No = 0,
    /// Continued by gradient descent on the backend before the analysis (`--extend`; the
    /// analysis itself never sets it).
    Descent = 1,
    /// Continued by gradient flow with adaptive steps (a representative still moving).
    Flow = 2,
    /// Placed by a representative that was continued by gradient flow.
    PlacedByFlow = 3,
}

/// What the continuation of still-moving representatives did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowSummary {
    /// Representatives continued.
    pub continued: u64,
    /// Of them, those that reached ‖∇L‖ < tol (where gradient descent stops).
    pub converged: u64,
    /// Those that passed ‖θ‖∞ > diverge.
    pub diverged: u64,
    /// Those that became non-finite.
    pub non_finite: u64,
    /// Those still moving at the flow's horizon (`max_time_steps` gradient-descent steps).
    pub still_moving: u64,
    /// Those where no step lowered L at float64's resolution (polished where they stopped).
    pub stalled: u64,
    /// Flow steps taken, all representatives together.
    pub steps: u64,
    /// The longest flow, in gradient-descent steps of lr.
    pub longest_steps: f64,
    /// Walkers placed by a continued representative.
    pub placed: u64,
    /// Seconds the flows took (wall time; run.json's timings, not basins.json, which stays the
    /// same from run to run).
    #[serde(skip)]
    pub seconds: f64,
}

/// Per-walker counts of how walkers got their class.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlacementCounts {
    /// Walkers whose own end was analysed.
    pub analysed: u64,
    /// Walkers placed by the nearest analysed end of their status.
    pub placed: u64,
    /// Converged walkers that joined a class by their loss level.
    pub by_loss: u64,
    /// Walkers with no analysed end near and no class at their level.
    pub unplaced: u64,
    /// Of the analysed ends, those drawn near boundaries between outcomes, at finer radii.
    #[serde(default)]
    pub refined: u64,
}

/// Per representative: the point to polish, or why there is none.
enum Fate {
    Polish(Vec<f64>),
    Infinity,
    NonFinite,
    StillMoving,
}

/// Where a representative ended up, to compare neighbours.
enum Outcome {
    /// A stationary point (normalised θ).
    Point(Vec<f64>),
    /// A plateau at this loss.
    Plateau(f64),
    /// No class, for a reason (its code).
    Other(u8),
}

impl Outcome {
    fn same(&self, other: &Outcome) -> bool {
        match (self, other) {
            (Outcome::Point(a), Outcome::Point(b)) => {
                let scale = a.iter().fold(1.0f64, |m, v| m.max(v.abs()));
                distance(a, b) <= SAME_POINT_TOL * scale
            }
            (Outcome::Plateau(a), Outcome::Plateau(b)) => {
                (a - b).abs() <= PLATEAU_LEVEL * a.abs().max(1e-30)
            }
            (Outcome::Other(a), Outcome::Other(b)) => a == b,
            _ => false,
        }
    }
}

/// Most rounds of drawing representatives near boundaries between outcomes.
pub const MAX_REFINEMENTS: usize = 4;

/// Nearest-neighbour queries among the analysed ends, in ∞-distance: ends sorted along the
/// coordinate where they spread most, and only those within the query's radius along it compared.
struct Index {
    axis: usize,
    /// (coordinate along `axis`, status, representative number, normalised end).
    items: Vec<(f64, u32, usize, Vec<f64>)>,
}

impl Index {
    fn new(axis: usize) -> Index {
        Index {
            axis,
            items: Vec::new(),
        }
    }

    fn insert(&mut self, status: u32, rep: usize, theta: Vec<f64>) {
        let x = theta[self.axis];
        let at = self.items.partition_point(|it| it.0 < x);
        self.items.insert(at, (x, status, rep, theta));
    }

    /// The items of `status` within `radius` of `theta`.
    fn within(&self, status: u32, theta: &[f64], radius: f64) -> Vec<usize> {
        let x = theta[self.axis];
        let lo = self.items.partition_point(|it| it.0 < x - radius);
        self.items[lo..]
            .iter()
            .take_while(|it| it.0 <= x + radius)
            .filter(|it| it.1 == status && distance(&it.3, theta) <= radius)
            .map(|it| it.2)
            .collect()
    }

    /// The nearest item of `status` within `radius` of `theta`, with its distance.
    fn nearest(&self, status: u32, theta: &[f64], radius: f64) -> Option<(usize, f64)> {
        let x = theta[self.axis];
        let lo = self.items.partition_point(|it| it.0 < x - radius);
        let mut best: Option<(usize, f64)> = None;
        for it in &self.items[lo..] {
            if it.0 > x + radius {
                break;
            }
            if it.1 != status {
                continue;
            }
            let d = distance(&it.3, theta);
            if d <= radius && best.is_none_or(|(_, b)| d < b) {
                best = Some((it.2, d));
            }
        }
        best
    }
}

/// Analyses a walk: endpoints (M × P) and statuses (codes of `Status`), with the default
/// options (no continuation).
pub fn analyse_walk(model: &Model, data: &Dataset, endpoints: &[f32], status: &[u32]) -> Report {
    let options = Options::new(model.parameter_count());
    analyse_walk_observed(model, data, endpoints, status, &options, &|_| {})
}

/// `analyse_walk` with `options`, telling `observe` how far it got.
///
/// 1. A uniform sample of distinct ends: the walkers in an order set by their ends alone (a hash
///    of status and endpoint, never their index or place in a lattice), each one that is not
///    within `CLUSTER_TOL` of an earlier representative of its status becoming one, up to the
///    cap. Permuting the walkers changes nothing, and a cap never draws a shape on a map.
/// 2. Each representative still moving at the step budget is continued by gradient flow when
///    asked; each is then polished (nearby ends polished once: a continued end within
///    `CLUSTER_TOL` of one already taken shares its polish) and classified by its Hessian.
/// 3. Every other walker takes the class and copy of its nearest representative of the same
///    status within `place_tol`, and is recorded as placed.
pub fn analyse_walk_observed(
    model: &Model,
    data: &Dataset,
    endpoints: &[f32],
    status: &[u32],
    options: &Options,
    observe: &(dyn Fn(Stage) + Sync),
) -> Report {
    let p = model.parameter_count();
    let m = status.len();
    let cap = options.cap.max(1);
    let mut unassigned = Unassigned::default();
    let mut labels = vec![-1i32; 2 * m];
    let mut placement = vec![Placement::NotAnalysed as u8; m];
    let mut continued = vec![Continued::No as u8; m];
    let raw = |w: usize| -> Vec<f64> {
        endpoints[w * p..(w + 1) * p]
            .iter()
            .map(|&v| f64::from(v))
            .collect()
    };
    let end = |w: usize| normalise(model, &raw(w));
    let scale = |t: &[f64]| t.iter().fold(1.0f64, |a, v| a.max(v.abs()));
    let analysable = |w: usize| {
        matches!(
            Status::from_code(status[w]),
            Some(Status::Converged | Status::MaxSteps)
        )
    };
    let mut reasons = vec![Reason::InClass as u8; m];
    for w in 0..m {
        match Status::from_code(status[w]) {
            Some(Status::Diverged) => {
                unassigned.at_infinity += 1;
                reasons[w] = Reason::AtInfinity as u8;
            }
            Some(Status::NonFinite) | None => {
                unassigned.non_finite += 1;
                reasons[w] = Reason::NonFinite as u8;
            }
            _ => {}
        }
    }

    // 1. Representatives: a uniform sample of distinct ends, in content order.
    let order: Vec<usize> = content_order(endpoints, status, p)
        .into_iter()
        .filter(|&w| analysable(w))
        .collect();
    // Sort along the coordinate where the first ends spread most.
    let axis = {
        let sample: Vec<Vec<f64>> = order.iter().take(1024).map(|&w| end(w)).collect();
        (0..p)
            .max_by(|&a, &b| {
                let spread = |j: usize| {
                    let (lo, hi) = sample.iter().fold((f64::MAX, f64::MIN), |(lo, hi), t| {
                        (lo.min(t[j]), hi.max(t[j]))
                    });
                    hi - lo
                };
                spread(a).total_cmp(&spread(b))
            })
            .unwrap_or(0)
    };
    // The finest radius, from CLUSTER_TOL doubling up to place_tol, whose cover of the ends
    // (every analysable walker within it of a representative of its status) the cap allows.
    // At place_tol itself the cap's first representatives are kept, and walkers farther than
    // place_tol from all of them are unplaced.
    let axis = axis.min(p.saturating_sub(1));
    let largest = options.place_tol.max(CLUSTER_TOL);
    let mut radius = CLUSTER_TOL;
    // The finest cover may take the whole cap; a coarser one takes half, the other half going to
    // the walkers near boundaries between outcomes (step 3).
    let mut budget = cap;
    let (mut index, mut reps) = loop {
        let last = radius >= largest;
        let mut index = Index::new(axis);
        let mut reps: Vec<usize> = Vec::new();
        let mut complete = true;
        if p > 0 {
            for &w in &order {
                let theta = end(w);
                if index
                    .nearest(status[w], &theta, radius * scale(&theta))
                    .is_some()
                {
                    continue;
                }
                if reps.len() >= budget {
                    complete = false;
                    break;
                }
                index.insert(status[w], reps.len(), theta);
                reps.push(w);
            }
        }
        if complete || last {
            break (index, reps);
        }
        radius = (2.0 * radius).min(largest);
        budget = (cap / 2).max(1);
    };

    // 2. Continue the representatives still moving, then polish; 3. where representatives
    // within twice the cover radius of a walker reached different outcomes, draw more
    // representatives among such walkers at half the radius, up to the cap, and analyse them
    // too. Ends that come within CLUSTER_TOL of one taken earlier share its polish.
    let moving = |w: usize| Status::from_code(status[w]) == Some(Status::MaxSteps);
    let mut flow_seconds = 0.0;
    let mut flows: Vec<Option<Flowed>> = Vec::new();
    let mut fates: Vec<Fate> = Vec::new();
    let mut stationary_of: Vec<Option<usize>> = Vec::new();
    let mut polished: Vec<Stationary> = Vec::new();
    let mut polished_from: Vec<usize> = Vec::new();
    let mut taken = Index::new(axis);
    let mut flow_summary = FlowSummary::default();
    let mut fine = radius;
    let mut refined = 0u64;
    for round in 0.. {
        let first = flows.len();
        observe(Stage::Clusters(reps.len() - first));
        let started = std::time::Instant::now();
        let new_flows: Vec<Option<Flowed>> = reps[first..]
            .par_iter()
            .map(|&w| {
                let f = options
                    .flow
                    .filter(|_| moving(w))
                    .map(|s| flow(model, data, &raw(w), &s));
                if f.is_some() {
                    observe(Stage::Polished);
                }
                f
            })
            .collect();
        if options.flow.is_some() {
            flow_seconds += started.elapsed().as_secs_f64();
        }
        for (&w, f) in reps[first..].iter().zip(new_flows) {
            fates.push(match &f {
                None => Fate::Polish(raw(w)),
                Some(f) => {
                    flow_summary.continued += 1;
                    flow_summary.steps += f.steps as u64;
                    flow_summary.longest_steps = flow_summary.longest_steps.max(f.time_steps);
                    match f.end {
                        FlowEnd::Converged => {
                            flow_summary.converged += 1;
                            Fate::Polish(f.theta.clone())
                        }
                        FlowEnd::Stalled => {
                            flow_summary.stalled += 1;
                            Fate::Polish(f.theta.clone())
                        }
                        FlowEnd::Diverged => {
                            flow_summary.diverged += 1;
                            Fate::Infinity
                        }
                        FlowEnd::NonFinite => {
                            flow_summary.non_finite += 1;
                            Fate::NonFinite
                        }
                        FlowEnd::Budget => {
                            flow_summary.still_moving += 1;
                            Fate::StillMoving
                        }
                    }
                }
            });
            flows.push(f);
        }
        // Heads: the first of each group of points within CLUSTER_TOL (normalised).
        stationary_of.resize(reps.len(), None);
        let mut head_of: Vec<(usize, usize)> = Vec::new();
        let mut heads: Vec<usize> = Vec::new();
        for r in first..reps.len() {
            if let Fate::Polish(t) = &fates[r] {
                let t = normalise(model, t);
                match taken.nearest(0, &t, CLUSTER_TOL * scale(&t)) {
                    Some((h, _)) => head_of.push((r, h)),
                    None => {
                        heads.push(r);
                        taken.insert(0, r, t);
                    }
                }
            } else if flows[r].is_none() {
                observe(Stage::Polished);
            }
        }
        let points: Vec<Stationary> = heads
            .par_iter()
            .map(|&r| {
                let Fate::Polish(t) = &fates[r] else {
                    unreachable!("heads are points to polish")
                };
                let s = analyse(model, data, t);
                if flows[r].is_none() {
                    observe(Stage::Polished);
                }
                s
            })
            .collect();
        for (&r, point) in heads.iter().zip(points) {
            stationary_of[r] = Some(polished.len());
            polished.push(point);
            polished_from.push(r);
        }
        for (r, h) in head_of {
            stationary_of[r] = stationary_of[h];
            if flows[r].is_none() {
                observe(Stage::Polished);
            }
        }
        if radius <= CLUSTER_TOL || reps.len() >= cap || round >= MAX_REFINEMENTS || p == 0 {
            break;
        }
        // Walkers near a boundary: the representatives of their status within twice the
        // radius reached different outcomes.
        let ended = |r: usize| match &flows[r] {
            Some(f) => f.end == FlowEnd::Converged,
            None => Status::from_code(status[reps[r]]) == Some(Status::Converged),
        };
        let outcome = |r: usize| -> Outcome {
            match (&fates[r], stationary_of[r]) {
                (Fate::Infinity, _) => Outcome::Other(1),
                (Fate::NonFinite, _) => Outcome::Other(2),
                (Fate::StillMoving, _) => Outcome::Other(3),
                (Fate::Polish(_), None) => Outcome::Other(4),
                (Fate::Polish(_), Some(k)) => {
                    let s = &polished[k];
                    if s.kind != Kind::NotStationary {
                        Outcome::Point(normalise(model, &s.theta))
                    } else if ended(r) {
                        Outcome::Plateau(s.loss)
                    } else {
                        Outcome::Other(4)
                    }
                }
            }
        };
        let outcomes: Vec<Outcome> = (0..reps.len()).map(outcome).collect();
        let rep_set: std::collections::HashSet<usize> = reps.iter().copied().collect();
        let boundary: Vec<bool> = order
            .par_iter()
            .map(|&w| {
                if rep_set.contains(&w) {
                    return false;
                }
                let theta = end(w);
                let near = index.within(status[w], &theta, 2.0 * fine * scale(&theta));
                near.first()
                    .is_some_and(|&a| near.iter().any(|&b| !outcomes[a].same(&outcomes[b])))
            })
            .collect();
        fine *= 0.5;
        let before = reps.len();
        for (&w, _) in order.iter().zip(&boundary).filter(|(_, b)| **b) {
            if reps.len() >= cap {
                break;
            }
            let theta = end(w);
            if index
                .nearest(status[w], &theta, fine * scale(&theta))
                .is_none()
            {
                index.insert(status[w], reps.len(), theta);
                reps.push(w);
            }
        }
        if reps.len() == before {
            break;
        }
        refined += (reps.len() - before) as u64;
    }
    flow_summary.seconds = if options.flow.is_some() {
        flow_seconds
    } else {
        0.0
    };

    // 4. Basins: representatives whose points polish to the same stationary point. A point
    // gradient descent stopped at (‖∇L‖ < tol: a converged walker, or a flow that converged)
    // that polishes to no stationary point is a plateau, a basin of its own.
    let ended: Vec<bool> = polished_from
        .iter()
        .map(|&r| match &flows[r] {
            Some(f) => f.end == FlowEnd::Converged,
            None => Status::from_code(status[reps[r]]) == Some(Status::Converged),
        })
        .collect();
    let mut basins: Vec<Basin> = Vec::new();
    let mut basin_of: Vec<Option<usize>> = vec![None; reps.len()];
    let mut kept: Vec<Option<usize>> = vec![None; polished.len()];
    for (k, point) in polished.iter().enumerate() {
        if point.kind == Kind::NotStationary {
            if ended[k] {
                // Described where gradient descent stopped, not where the polish gave up.
                let Fate::Polish(at) = &fates[polished_from[k]] else {
                    unreachable!("heads are points to polish")
                };
                basins.push(Basin {
                    point: Stationary {
                        kind: Kind::Plateau,
                        ..describe(model, data, at)
                    },
                    walkers: Vec::new(),
                });
                kept[k] = Some(basins.len() - 1);
            }
            continue;
        }
        let theta = normalise(model, &point.theta);
        let sc = scale(&theta);
        let found = basins.iter().position(|b| {
            b.point.kind != Kind::Plateau
                && distance(&normalise(model, &b.point.theta), &theta) <= SAME_POINT_TOL * sc
        });
        kept[k] = Some(match found {
            Some(b) => b,
            None => {
                basins.push(Basin {
                    point: point.clone(),
                    walkers: Vec::new(),
                });
                basins.len() - 1
            }
        });
    }
    for r in 0..reps.len() {
        basin_of[r] = stationary_of[r].and_then(|k| kept[k]);
    }
    // Ends that are not stationary and had not stopped: those on a slope to infinity (the loss
    // still falling while ‖θ‖ grows) are "at infinity", not "not stationary".
    let toward: Vec<bool> = (0..polished.len())
        .into_par_iter()
        .map(|k| {
            polished[k].kind == Kind::NotStationary
                && !ended[k]
                && matches!(&fates[polished_from[k]], Fate::Polish(at) if toward_infinity(model, data, at))
        })
        .collect();

    // 5. Place every other walker by its nearest representative of the same status.
    let place_tol = radius;
    let rep_number: std::collections::HashMap<usize, usize> =
        reps.iter().enumerate().map(|(r, &w)| (w, r)).collect();
    let nearest: Vec<Option<(usize, f64)>> = (0..m)
        .into_par_iter()
        .map(|w| {
            if !analysable(w) || p == 0 {
                return None;
            }
            if let Some(&r) = rep_number.get(&w) {
                return Some((r, 0.0));
            }
            let theta = end(w);
            index.nearest(status[w], &theta, place_tol * scale(&theta))
        })
        .collect();
    let mut rep_walkers: Vec<Vec<usize>> = vec![Vec::new(); reps.len()];
    let mut unplaced: Vec<usize> = Vec::new();
    for w in 0..m {
        if !analysable(w) {
            continue;
        }
        match nearest[w] {
            Some((r, _)) => rep_walkers[r].push(w),
            None => unplaced.push(w),
        }
    }
    for (r, walkers) in rep_walkers.iter().enumerate() {
        let rep = reps[r];
        for &w in walkers {
            placement[w] = if w == rep {
                Placement::Analysed
            } else {
                Placement::Placed
            } as u8;
            if flows[r].is_some() {
                continued[w] = if w == rep {
                    Continued::Flow
                } else {
                    flow_summary.placed += 1;
                    Continued::PlacedByFlow
                } as u8;
            }
        }
        let moving_count = walkers.iter().filter(|&&w| moving(w)).count() as u64;
        let reason = match (&fates[r], basin_of[r]) {
            (Fate::Infinity, _) => {
                unassigned.at_infinity += walkers.len() as u64;
                Reason::AtInfinity
            }
            (Fate::NonFinite, _) => {
                unassigned.non_finite += walkers.len() as u64;
                Reason::NonFinite
            }
            (Fate::StillMoving, _) => {
                unassigned.still_moving += walkers.len() as u64;
                Reason::StillMoving
            }
            (Fate::Polish(_), Some(b)) => {
                basins[b].walkers.extend(walkers);
                Reason::InClass
            }
            (Fate::Polish(_), None) if stationary_of[r].is_some_and(|k| toward[k]) => {
                unassigned.at_infinity += walkers.len() as u64;
                Reason::AtInfinity
            }
            (Fate::Polish(_), None) => {
                unassigned.not_stationary += walkers.len() as u64;
                if flows[r].is_none() {
                    unassigned.unconverged += moving_count;
                }
                Reason::NotStationary
            }
        };
        for &w in walkers {
            reasons[w] = reason as u8;
        }
    }
    let overflow = unplaced;
    // 6. Classes: basins that are copies of each other under G. Points on manifolds (zero
    // eigenvalues beyond the continuous symmetries) are grouped by kind, index and loss level
    // instead: every walker ends at a different point of the manifold, and copies are not counted.
    let order = group_order(model);
    let degenerate =
        |s: &Stationary| s.kind == Kind::Plateau || s.nullity > symmetry_nullity(model, &s.theta);
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (bi, b) in basins.iter().enumerate() {
        let theta = normalise(model, &b.point.theta);
        let scale = scale(&theta);
        let found = groups.iter_mut().find(|g| {
            let rep = &basins[g[0]].point;
            if rep.kind == Kind::Plateau || b.point.kind == Kind::Plateau {
                // Plateaus by loss level alone.
                return rep.kind == b.point.kind
                    && (rep.loss - b.point.loss).abs()
                        <= PLATEAU_LEVEL * rep.loss.abs().max(1e-30);
            }
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
            saturated: rep.saturated,
        });
    }
    // 7. Walkers with no representative near that converged join the class whose loss level they
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
                placement[w] = Placement::ByLoss as u8;
                labels[2 * w] = id as i32;
                labels[2 * w + 1] = copy.map_or(-1, |c| c as i32);
                classes[id].walkers += 1;
                if let Some(c) = copy {
                    classes[id].walkers_per_copy[c] += 1;
                }
            }
            None => {
                unassigned.too_many_clusters += 1;
                placement[w] = Placement::Unplaced as u8;
                reasons[w] = Reason::Unplaced as u8;
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
    let count = |code: Placement| placement.iter().filter(|&&c| c == code as u8).count() as u64;
    let placed = PlacementCounts {
        analysed: count(Placement::Analysed),
        placed: count(Placement::Placed),
        by_loss: count(Placement::ByLoss),
        unplaced: count(Placement::Unplaced),
        refined,
    };
    Report {
        group_order: order,
        group_order_log10: group_order_log10(model),
        cluster_cap: cap,
        place_tol,
        walkers: m as u64,
        classes,
        unassigned,
        placement: placed,
        flow: options.flow.map(|_| flow_summary),
        labels,
        placements: placement,
        continued,
        reasons,
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
                None if c.kind == Kind::Plateau => "—".to_string(),
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
            "|G| = {}; not in a class: {} at infinity (diverged, or the loss falling as ‖θ‖ grows), {} non-finite, {} not stationary, {} unplaced (no analysed end within {}){}",
            if self.group_order.is_finite() {
                count(self.group_order)
            } else {
                format!("10^{:.2}", self.group_order_log10)
            },
            u.at_infinity,
            u.non_finite,
            u.not_stationary,
            u.too_many_clusters,
            self.place_tol,
            if u.still_moving > 0 {
                format!(", {} still moving at the flow's horizon", u.still_moving)
            } else {
                String::new()
            }
        );
        let pl = &self.placement;
        let _ = writeln!(
            s,
            "  {} ends analysed (at most {}; {} of them near boundaries between outcomes), {} walkers placed by the nearest within {}, {} by their loss level",
            pl.analysed, self.cluster_cap, pl.refined, pl.placed, self.place_tol, pl.by_loss
        );
        if let Some(f) = &self.flow {
            let _ = writeln!(
                s,
                "  continued by gradient flow: {} ends still moving ({} walkers placed by them): {} converged, {} diverged, {} non-finite, {} stalled, {} still moving; {} flow steps, the longest {:.3e} steps of lr",
                f.continued,
                f.placed,
                f.converged,
                f.diverged,
                f.non_finite,
                f.stalled,
                f.still_moving,
                f.steps,
                f.longest_steps
            );
        }
        if u.unconverged > 0 {
            let _ = writeln!(
                s,
                "  of these, {} were still moving at the step budget (max-steps): more --steps, --extend or --finish flow may place them",
                u.unconverged
            );
        }
        s
    }
}
