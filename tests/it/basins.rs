//! Basins and symmetry on teacher–student problems: every copy of the global minimum found and
//! visited evenly, the affine sigmoid flip, ReLU's zero eigenvalues, linear regression's single
//! basin, and stabilizers of points with coinciding units.

use crate::common::{cpu, model};
use landscape::analysis::basins::{Report, Stage, analyse_walk, analyse_walk_observed};
use landscape::analysis::stationary::Kind;
use landscape::analysis::symmetry::{group_order, group_order_log10, stabilizer_order};
use landscape::backend::{Backend, WalkOutput};
use landscape::spec::data::{DataSource, Dataset};
use landscape::spec::model::{Activation, Model};
use landscape::spec::walk::{Init, Status, WalkSettings};
use nalgebra::{DMatrix, DVector};

/// `walkers` walkers from `init` (starts seeded by `seed`), walked on the CPU backend.
fn walk(
    m: &Model,
    data: &Dataset,
    init: Init,
    seed: u64,
    walkers: u64,
    s: &WalkSettings,
) -> WalkOutput {
    let starts: Vec<f32> = (0..walkers)
        .flat_map(|w| init.start(m, seed, w))
        .map(|v| v as f32)
        .collect();
    cpu(0)
        .walk(m, data, &starts, s, None, &|_| {})
        .expect("walk")
}

/// Walkers that converged.
fn converged(out: &WalkOutput) -> u64 {
    out.status
        .iter()
        .filter(|&&c| c == Status::Converged as u32)
        .count() as u64
}

fn walk_and_analyse(m: &Model, data_spec: &str, walkers: u64, init: Init) -> Report {
    let data = DataSource::parse(data_spec, m).expect("data").data;
    let s = WalkSettings {
        lr: 0.1,
        momentum: 0.9,
        steps: 4000,
        tol: 1e-6,
        diverge: 1e4,
    };
    let out = walk(m, &data, init, 11, walkers, &s);
    analyse_walk(m, &data, &out.endpoints, &out.status)
}

/// A fixed seed makes these deterministic; p > 0.001 rejects a class whose walkers favour some
/// copies (a broken alignment puts them all in one or two copies, with p below 1e-20).
const UNIFORM: f64 = 1e-3;

#[track_caller]
fn global_minimum_in_every_copy(r: &Report, copies: f64) {
    let c = &r.classes[0];
    assert_eq!(c.kind, Kind::Minimum, "{}", r.table());
    assert!(
        c.loss < 1e-12,
        "zero loss at the teacher's orbit: {}",
        r.table()
    );
    assert_eq!(r.group_order, copies);
    assert_eq!((c.stabilizer_order, c.copies_expected), (1.0, Some(copies)));
    assert_eq!(c.copies_found as f64, copies, "{}", r.table());
    assert!(c.uniformity_p.expect("tested") > UNIFORM, "{}", r.table());
    // Every walker of the class is labelled with a copy.
    let labelled = r.labels.chunks(2).filter(|l| l[0] == 0).count() as u64;
    assert_eq!(labelled, c.walkers);
}

#[test]
fn tanh_2_2_1_student_finds_all_8_copies_of_its_teacher() {
    let m = model("2-2-1", Activation::Tanh, Activation::Linear, true);
    // Teacher seeds are chosen for a well-conditioned minimum (smallest Hessian eigenvalue over
    // 1e-3), so that 4 000 steps converge; ill-conditioned ones need far longer walks.
    let r = walk_and_analyse(&m, "teacher:n=64,seed=3", 600, Init::Normal { sigma: 1.0 });
    global_minimum_in_every_copy(&r, 8.0);
}

#[test]
fn tanh_2_3_1_student_finds_all_48_copies_of_its_teacher() {
    let m = model("2-3-1", Activation::Tanh, Activation::Linear, true);
    let r = walk_and_analyse(&m, "teacher:n=64,seed=1", 3000, Init::Normal { sigma: 1.0 });
    global_minimum_in_every_copy(&r, 48.0);
}

#[test]
fn sigmoid_students_find_every_copy_through_the_affine_flip() {
    let m = model("2-2-1", Activation::Sigmoid, Activation::Linear, true);
    let r = walk_and_analyse(&m, "teacher:n=64,seed=3", 800, Init::Normal { sigma: 2.0 });
    global_minimum_in_every_copy(&r, 8.0);
}

#[test]
fn relu_stationary_points_have_a_zero_eigenvalue_per_hidden_unit() {
    let m = model("2-3-1", Activation::Relu, Activation::Linear, true);
    let r = walk_and_analyse(&m, "teacher:n=64,seed=4", 400, Init::Normal { sigma: 1.0 });
    assert!(!r.classes.is_empty());
    for c in &r.classes {
        assert!(
            c.nullity >= 3,
            "class {} ({}) has nullity {}: {}",
            c.id,
            c.kind,
            c.nullity,
            r.table()
        );
    }
}

#[test]
fn linear_regression_has_one_basin_at_the_least_squares_solution() {
    let m = model("3-1", Activation::Tanh, Activation::Linear, true);
    let spec = "teacher:n=50,seed=9,noise=0.5";
    let r = walk_and_analyse(&m, spec, 200, Init::Uniform { a: 3.0 });
    assert_eq!(r.classes.len(), 1, "{}", r.table());
    let c = &r.classes[0];
    assert_eq!((c.kind, c.copies_found, c.walkers), (Kind::Minimum, 1, 200));
    let data = DataSource::parse(spec, &m).expect("data").data;
    let x = DMatrix::from_fn(
        data.len(),
        4,
        |r, c| if c < 3 { data.input(r)[c] } else { 1.0 },
    );
    let y = DVector::from_fn(data.len(), |r, _| data.target(r)[0]);
    let beta = (x.transpose() * &x)
        .cholesky()
        .expect("full rank")
        .solve(&(x.transpose() * y));
    for (a, b) in c.point.iter().zip(beta.iter()) {
        assert!((a - b).abs() < 1e-9, "{a} vs least squares {b}");
    }
}

#[test]
fn coinciding_hidden_units_mean_fewer_distinct_copies() {
    let m = model("2-3-1", Activation::Tanh, Activation::Linear, true);
    let mut theta: Vec<f64> = Init::Normal { sigma: 1.0 }.start(&m, 1, 0);
    assert_eq!(group_order(&m) / stabilizer_order(&m, &theta, 1e-9), 48.0);
    // Units 0 and 1 identical: incoming weights, bias, outgoing weight.
    (theta[2], theta[3], theta[7], theta[10]) = (theta[0], theta[1], theta[6], theta[9]);
    let stab = stabilizer_order(&m, &theta, 1e-9);
    assert!(stab >= 2.0);
    assert_eq!(group_order(&m) / stab, 24.0);
}

#[test]
fn diverged_and_non_finite_walkers_are_counted_apart() {
    let m = model("1-1", Activation::Linear, Activation::Linear, true);
    let data = DataSource::parse("point:x=1,y=2", &m).expect("data").data;
    let endpoints = [1.0f32, 1.0, 1e5, 0.0, f32::NAN, 0.0];
    let status = [
        Status::Converged as u32,
        Status::Diverged as u32,
        Status::NonFinite as u32,
    ];
    let r = analyse_walk(&m, &data, &endpoints, &status);
    assert_eq!((r.unassigned.at_infinity, r.unassigned.non_finite), (1, 1));
    assert_eq!(r.labels[2..], [-1, -1, -1, -1]);
}

#[test]
fn a_walker_on_a_slope_to_infinity_is_at_infinity_not_stationary() {
    // A sigmoid output can never reach the target 2: L keeps falling as w grows, so polishing
    // finds no point where ∇L vanishes, and the flow from there runs outward while L falls.
    let m = model("1-1", Activation::Linear, Activation::Sigmoid, true);
    let data = DataSource::parse("point:x=1,y=2", &m).expect("data").data;
    let r = analyse_walk(&m, &data, &[3.0, 1.0], &[Status::MaxSteps as u32]);
    assert_eq!(
        (r.unassigned.at_infinity, r.unassigned.not_stationary),
        (1, 0),
        "{}",
        r.table()
    );
    assert!(r.classes.is_empty());
    assert!(r.table().contains("1 at infinity"), "{}", r.table());
    // Stopped by --tol there instead, it ended on a plateau: a class of its own kind, never a
    // stationary point.
    let r = analyse_walk(&m, &data, &[3.0, 1.0], &[Status::Converged as u32]);
    assert_eq!(
        (r.unassigned.not_stationary, r.unassigned.unconverged),
        (0, 0)
    );
    assert_eq!(r.classes.len(), 1, "{}", r.table());
    assert_eq!(r.classes[0].kind, Kind::Plateau);
    assert_eq!(
        (r.classes[0].walkers, r.classes[0].copies_expected),
        (1, None)
    );
}

#[test]
fn near_tied_units_never_split_a_basin() {
    // Two hidden units that differ by 1e-7: a sort by any one coordinate may order them either
    // way in two copies; the assignment matches the units as wholes.
    let m = model("2-3-1", Activation::Tanh, Activation::Linear, true);
    let mut theta = Init::Normal { sigma: 1.0 }.start(&m, 3, 0);
    (theta[2], theta[3], theta[7], theta[10]) =
        (theta[0] + 1e-7, theta[1] - 1e-7, theta[6], theta[9] + 1e-7);
    let mut k = 0u64;
    for trial in 0..50 {
        let g = landscape::analysis::symmetry::GroupElement::random(&m, || {
            k += 1;
            landscape::rng::word(trial, landscape::rng::Stream::Start, k)
        });
        let copy = g.apply(&m, &theta);
        let (_, d) = landscape::analysis::symmetry::align(&m, &copy, &theta);
        assert!(d <= 2e-7, "aligned distance {d}");
    }
}

#[test]
fn walkers_on_a_manifold_of_minima_beyond_the_cluster_cap_join_its_class() {
    // The seed example's minima form the hyperbola w1·w2 = 1: every walker ends at its own point,
    // more distinct ends than MAX_CLUSTERS.
    let m = model("1-1-1", Activation::Linear, Activation::Linear, false);
    let data = DataSource::parse("point:x=1,y=1", &m).expect("data").data;
    let walkers = landscape::analysis::basins::MAX_CLUSTERS as u64 + 1500;
    let s = WalkSettings {
        lr: 0.05,
        momentum: 0.0,
        steps: 5000,
        tol: 1e-6,
        diverge: 1e4,
    };
    let out = walk(&m, &data, Init::Uniform { a: 2.0 }, 1, walkers, &s);
    let converged = converged(&out);
    let r = analyse_walk(&m, &data, &out.endpoints, &out.status);
    let manifold = r
        .classes
        .iter()
        .find(|c| c.kind == Kind::DegenerateMinimum)
        .expect("the hyperbola");
    assert_eq!((manifold.nullity, manifold.copies_expected), (1, None));
    assert!(manifold.loss < 1e-20);
    assert!(
        manifold.walkers + 10 >= converged,
        "{} of {converged} converged walkers: {}",
        manifold.walkers,
        r.table()
    );
}

#[test]
fn the_observed_analysis_reports_each_polished_cluster_once_and_changes_nothing() {
    let m = model("2-2-1", Activation::Tanh, Activation::Linear, true);
    let data = DataSource::parse("teacher:n=16,seed=3", &m)
        .expect("data")
        .data;
    let s = WalkSettings {
        lr: 0.1,
        momentum: 0.9,
        steps: 2000,
        tol: 1e-6,
        diverge: 1e4,
    };
    let out = walk(&m, &data, Init::Normal { sigma: 1.0 }, 5, 40, &s);
    let stages = std::sync::Mutex::new(Vec::new());
    let options = landscape::analysis::basins::Options::new(m.parameter_count());
    let observed = analyse_walk_observed(&m, &data, &out.endpoints, &out.status, &options, &|s| {
        stages.lock().expect("lock").push(s)
    });
    let stages = stages.into_inner().expect("lock");
    let Some((&Stage::Clusters(n), rest)) = stages.split_first() else {
        panic!("the cluster count comes first: {stages:?}")
    };
    assert!(n > 0);
    assert_eq!(rest, vec![Stage::Polished; n].as_slice());
    let plain = analyse_walk(&m, &data, &out.endpoints, &out.status);
    assert_eq!(observed.labels, plain.labels);
    assert_eq!(observed.table(), plain.table());
}

#[test]
fn group_orders_beyond_float64_are_kept_as_logarithms_and_printed_as_powers_of_ten() {
    // 2-3-1 tanh: 3!·2³ = 48.
    let small = model("2-3-1", Activation::Tanh, Activation::Linear, true);
    assert!((group_order_log10(&small) - 48f64.log10()).abs() < 1e-12);
    // 2-200-1 tanh: 200!·2²⁰⁰, about 10^435.1, beyond float64 (10^308).
    let big = model("2-200-1", Activation::Tanh, Activation::Linear, true);
    assert_eq!(group_order(&big), f64::INFINITY);
    let log10: f64 = (1..=200).map(|k| (k as f64).log10()).sum::<f64>() + 200.0 * 2f64.log10();
    assert!((group_order_log10(&big) - log10).abs() < 1e-9 && (log10 - 435.10).abs() < 0.01);
    let data = DataSource::parse("xor", &big).expect("data").data;
    let p = big.parameter_count();
    let r = analyse_walk(&big, &data, &vec![0.0; p], &[Status::Diverged as u32]);
    assert!((r.group_order_log10 - log10).abs() < 1e-9);
    assert!(
        r.table().contains(&format!("|G| = 10^{log10:.2};")),
        "{}",
        r.table()
    );
    // 2-20-1 ReLU: 20! ≈ 2.4329e18, printed with five significant digits.
    let relu = model("2-20-1", Activation::Relu, Activation::Linear, true);
    let data = DataSource::parse("xor", &relu).expect("data").data;
    let p = relu.parameter_count();
    let r = analyse_walk(&relu, &data, &vec![0.0; p], &[Status::Diverged as u32]);
    assert!(r.table().contains("|G| = 2.4329e18;"), "{}", r.table());
}

#[test]
fn large_networks_polish_fewer_clusters_and_the_rest_join_by_loss_level() {
    use landscape::analysis::basins::{MAX_CLUSTERS, MIN_CLUSTERS, cluster_cap};
    assert_eq!(cluster_cap(13), MAX_CLUSTERS);
    assert_eq!(cluster_cap(200), MAX_CLUSTERS);
    assert_eq!(cluster_cap(400), MAX_CLUSTERS / 8);
    assert_eq!(cluster_cap(4001), MIN_CLUSTERS);
    // 2-200-1 on XOR (P = 801): every converged walker ends at its own point of a manifold of
    // zero-loss minima. 64 are polished; the other converged walkers join the class by loss.
    let m = model("2-200-1", Activation::Tanh, Activation::Linear, true);
    let data = DataSource::parse("xor", &m).expect("data").data;
    let walkers = MIN_CLUSTERS as u64 + 16;
    let s = WalkSettings {
        lr: 0.002,
        momentum: 0.0,
        steps: 5000,
        tol: 1e-5,
        diverge: 1e4,
    };
    let out = walk(&m, &data, Init::Normal { sigma: 1.0 }, 0, walkers, &s);
    let converged = converged(&out);
    assert!(converged > MIN_CLUSTERS as u64, "{converged} converged");
    let r = analyse_walk(&m, &data, &out.endpoints, &out.status);
    assert_eq!(r.cluster_cap, MIN_CLUSTERS);
    let c = &r.classes[0];
    assert_eq!(
        (c.kind, c.copies_expected),
        (Kind::DegenerateMinimum, None),
        "{}",
        r.table()
    );
    assert!(c.loss < 1e-20, "{}", r.table());
    assert!(
        c.walkers >= converged,
        "{converged} converged: {}",
        r.table()
    );
    assert!(r.placement.analysed <= MIN_CLUSTERS as u64, "{}", r.table());
    assert!(
        r.placement.placed + r.placement.by_loss > 0,
        "{}",
        r.table()
    );
}

#[test]
fn permuting_the_walkers_changes_no_walkers_class_or_copy() {
    // A 2-3-1 student of its teacher: minima in many copies, saddles, walkers still moving.
    let m = model("2-3-1", Activation::Tanh, Activation::Linear, true);
    let data = DataSource::parse("teacher:n=64,seed=1", &m)
        .expect("data")
        .data;
    let s = WalkSettings {
        lr: 0.1,
        momentum: 0.9,
        steps: 1500,
        tol: 1e-6,
        diverge: 1e4,
    };
    let out = walk(&m, &data, Init::Normal { sigma: 1.0 }, 5, 600, &s);
    let p = m.parameter_count();
    let r = analyse_walk(&m, &data, &out.endpoints, &out.status);
    // The walkers reversed and then rotated by a third: walker i of the new order is walker
    // perm[i] of the old.
    let n = out.status.len();
    let perm: Vec<usize> = (0..n).rev().cycle().skip(n / 3).take(n).collect();
    let endpoints: Vec<f32> = perm
        .iter()
        .flat_map(|&w| out.endpoints[w * p..(w + 1) * p].to_vec())
        .collect();
    let status: Vec<u32> = perm.iter().map(|&w| out.status[w]).collect();
    let q = analyse_walk(&m, &data, &endpoints, &status);
    for (i, &w) in perm.iter().enumerate() {
        assert_eq!(
            q.labels[2 * i..2 * i + 2],
            r.labels[2 * w..2 * w + 2],
            "walker {w}: {}\n{}",
            r.table(),
            q.table()
        );
    }
    assert_eq!(r.table(), q.table());
    assert!(r.classes.len() > 2, "{}", r.table());
}
