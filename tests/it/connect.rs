//! `landscape connect` and `landscape graph` through the real binary: the truths of SPEC about
//! paths and transition states, checked against an independent float64 Hessian and flow.

use crate::common::{landscape, ok};
use landscape::analysis::flow::{FlowSettings, flow};
use landscape::analysis::stationary::analyse;
use landscape::analysis::symmetry::{GroupElement, distance};
use landscape::npy;
use landscape::reference;
use landscape::spec::data::{DataSource, Dataset};
use landscape::spec::model::{Activation, Model};
use nalgebra::{DMatrix, SymmetricEigen};
use std::path::{Path, PathBuf};

fn scratch(name: &str) -> PathBuf {
    crate::common::scratch("connect", name)
}

fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("valid JSON")
}

fn vector(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn run(args: &[&str]) -> std::process::Output {
    let out = landscape(args);
    ok(&out);
    out
}

/// Every transition state of a transition_states.json: exactly one negative eigenvalue in an
/// independent float64 Hessian, above both minima it joins, and push-offs along ± its negative
/// eigenvector that the flow carries down to those two minima.
fn check_transition_states(model: &Model, data: &Dataset, file: &serde_json::Value) {
    let minima = file["minima"].as_array().expect("minima");
    let states = file["transition_states"]
        .as_array()
        .expect("transition states");
    assert!(!states.is_empty(), "{file}");
    for t in states {
        let point = vector(&t["point"]);
        let p = point.len();
        let h = reference::hessian(model, data, &point);
        let e = SymmetricEigen::new(DMatrix::from_row_slice(p, p, &h));
        let top = e.eigenvalues.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        let negative: Vec<usize> = (0..p).filter(|&k| e.eigenvalues[k] < -1e-8 * top).collect();
        assert_eq!(negative.len(), 1, "{t}");
        assert_eq!(t["index"], 1);
        let loss = reference::loss(model, data, &point);
        let ends: Vec<Vec<f64>> = t["joins"]
            .as_array()
            .expect("joins")
            .iter()
            .map(|j| {
                let m = &minima[j["minimum"].as_u64().expect("index") as usize];
                assert!(loss > m["loss"].as_f64().expect("loss"), "{t} above {m}");
                vector(&m["point"])
            })
            .collect();
        let mode: Vec<f64> = e.eigenvectors.column(negative[0]).iter().copied().collect();
        let size = point.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        let mut reached = Vec::new();
        for sign in [-1.0, 1.0] {
            let start: Vec<f64> = point
                .iter()
                .zip(&mode)
                .map(|(x, m)| x + sign * 1e-3 * size * m)
                .collect();
            let settings = FlowSettings {
                max_steps: 5000,
                ..FlowSettings::new(0.01, 1e-10, 1e4)
            };
            let end = analyse(model, data, &flow(model, data, &start, &settings).theta);
            // Within 1e-4 of the minimum's own scale (points of a manifold of minima far out
            // are reached only that closely by two different flows).
            let reach = end.theta.iter().fold(1.0f64, |m, v| m.max(v.abs()));
            let near = ends
                .iter()
                .position(|x| distance(x, &end.theta) < 1e-4 * reach);
            reached.push(
                near.unwrap_or_else(|| panic!("push-off to {end:?} reaches neither of {ends:?}")),
            );
        }
        reached.sort_unstable();
        assert_eq!(reached, [0, 1], "{t}");
    }
}

/// The seed example: the path from (1, 1) to (−1, −1) crosses the saddle at the origin, L = 1,
/// index 1.
#[test]
fn the_seed_examples_path_crosses_the_saddle_at_the_origin() {
    let dir = scratch("seed");
    std::fs::create_dir_all(&dir).expect("dir");
    npy::write(&dir.join("a.npy"), &[2], &[1.0f64, 1.0]).expect("a");
    npy::write(&dir.join("b.npy"), &[2], &[-1.0f64, -1.0]).expect("b");
    let out = dir.join("out");
    let (a, b, o) = (
        dir.join("a.npy").display().to_string(),
        dir.join("b.npy").display().to_string(),
        out.display().to_string(),
    );
    run(&[
        "connect",
        "--from",
        &a,
        "--to",
        &b,
        "--model",
        "1-1-1",
        "--act",
        "linear",
        "--no-bias",
        "--data",
        "point:x=1,y=1",
        "--backend",
        "cpu",
        "--quiet",
        "--out",
        &o,
    ]);
    let file = json(&out.join("transition_states.json"));
    let ts = file["transition_states"].as_array().expect("list");
    assert_eq!(ts.len(), 1, "{file}");
    let t = &ts[0];
    assert!(
        (t["loss"].as_f64().expect("loss") - 1.0).abs() < 1e-12,
        "{t}"
    );
    assert_eq!(
        (t["index"].as_u64(), t["nullity"].as_u64()),
        (Some(1), Some(0))
    );
    assert!(vector(&t["point"]).iter().all(|v| v.abs() < 1e-9), "{t}");
    assert_eq!(vector(&t["barrier"]), [1.0, 1.0]);
    let c = &file["connections"][0];
    assert_eq!(c["connected"], true);
    assert!((c["barrier"].as_f64().expect("barrier") - 1.0).abs() < 1e-12);
    let (path, shape) = npy::read_f64(&out.join("path.npy")).expect("path.npy");
    assert_eq!(shape[1], 2);
    let (loss, lshape) = npy::read_f64(&out.join("path_loss.npy")).expect("path_loss.npy");
    assert_eq!(lshape, [shape[0]]);
    assert_eq!(
        (&path[..2], &path[path.len() - 2..]),
        (&[1.0, 1.0][..], &[-1.0, -1.0][..])
    );
    let top = loss.iter().fold(0.0f64, |m, &v| m.max(v));
    assert!((top - 1.0).abs() < 1e-12);
    for png in ["profile.png", "plane.png"] {
        assert!(image::open(out.join(png)).is_ok(), "{png}");
    }
    let m = Model::new("1-1-1", Activation::Linear, Activation::Linear, false).expect("model");
    let data = DataSource::parse("point:x=1,y=1", &m).expect("data").data;
    check_transition_states(&m, &data, &file);
}

/// The 2-3-1 teacher's global minimum θ* and its copy g·θ* with hidden units 0 and 1 swapped:
/// the path ends at g·θ*, not at θ*, and every transition state found is a true one.
#[test]
fn connecting_a_minimum_to_its_copy_under_a_transposition_ends_at_the_copy() {
    let m = Model::new("2-3-1", Activation::Tanh, Activation::Linear, true).expect("model");
    let src = DataSource::parse("teacher:n=64,seed=1", &m).expect("data");
    let a = src.teacher.as_ref().expect("teacher").theta.clone();
    let mut g = GroupElement::identity(&m);
    g.perms[0].swap(0, 1);
    let b = g.apply(&m, &a);
    let dir = scratch("transposition");
    std::fs::create_dir_all(&dir).expect("dir");
    npy::write(&dir.join("a.npy"), &[13], &a).expect("a");
    npy::write(&dir.join("b.npy"), &[13], &b).expect("b");
    let out = dir.join("out");
    let (fa, fb, o) = (
        dir.join("a.npy").display().to_string(),
        dir.join("b.npy").display().to_string(),
        out.display().to_string(),
    );
    run(&[
        "connect",
        "--from",
        &fa,
        "--to",
        &fb,
        "--model",
        "2-3-1",
        "--data",
        "teacher:n=64,seed=1",
        "--backend",
        "cpu",
        "--quiet",
        "--out",
        &o,
    ]);
    let file = json(&out.join("transition_states.json"));
    let c = &file["connections"][0];
    assert_eq!(c["connected"], true, "{c}");
    assert!(
        c["symmetry"]
            .as_str()
            .expect("a copy")
            .contains("perm [1 0 2]"),
        "{c}"
    );
    let (path, shape) = npy::read_f64(&out.join("path.npy")).expect("path.npy");
    assert_eq!(shape[1], 13);
    let last = &path[path.len() - 13..];
    assert!(
        distance(last, &b) < 1e-6,
        "ends at {last:?}, not g·θ* {b:?}"
    );
    assert!(distance(last, &a) > 0.1);
    assert!(distance(&path[..13], &a) < 1e-6);
    // The crossings lie on the path and are stationary, each one L above θ*'s.
    for x in c["crossings"].as_array().expect("crossings") {
        let point = vector(&x["point"]);
        let (_, grad) = reference::loss_and_gradient(&m, &src.data, &point);
        assert!(grad.iter().map(|v| v * v).sum::<f64>().sqrt() < 1e-8);
        assert!(path.chunks(13).any(|row| distance(row, &point) < 1e-12));
    }
    check_transition_states(&m, &src.data, &file);
}

/// A walk, then `connect RUN --from 0 --all-copies`: the global minimum joined to all 47 other
/// copies, each path ending at its copy; then the disconnectivity graph of both runs.
#[test]
fn all_copies_of_the_global_minimum_are_connected_and_graphed() {
    let dir = scratch("all-copies");
    let (w, c, g, g0) = (
        dir.join("walk"),
        dir.join("connect"),
        dir.join("graph"),
        dir.join("graph-minima"),
    );
    let s = |p: &Path| p.display().to_string();
    run(&[
        "walk",
        "--model",
        "2-3-1",
        "--data",
        "teacher:n=64,seed=1",
        "--walkers",
        "512",
        "--steps",
        "4000",
        "--lr",
        "0.1",
        "--backend",
        "cpu",
        "--quiet",
        "--out",
        &s(&w),
    ]);
    let basins = json(&w.join("basins.json"));
    let class0 = &basins["classes"][0];
    assert_eq!(
        (class0["kind"].as_str(), class0["copies_expected"].as_f64()),
        (Some("minimum"), Some(48.0))
    );
    run(&[
        "connect",
        &s(&w),
        "--from",
        "0",
        "--all-copies",
        "--backend",
        "cpu",
        "--quiet",
        "--out",
        &s(&c),
    ]);
    let file = json(&c.join("transition_states.json"));
    let connections = file["connections"].as_array().expect("connections");
    assert_eq!(connections.len(), 47);
    let start = vector(&file["minima"][0]["point"]);
    for (j, x) in connections.iter().enumerate() {
        assert_eq!(x["connected"], true, "{x}");
        assert_eq!(x["to"]["class"], 0);
        let target = vector(&file["minima"][j + 1]["point"]);
        let (path, _) = npy::read_f64(&c.join(format!("paths/path_{j}.npy"))).expect("path");
        assert!(distance(&path[path.len() - 13..], &target) < 1e-6);
        assert!(distance(&path[..13], &start) < 1e-6);
    }
    let record = json(&c.join("run.json"));
    assert_eq!(
        (record["connected"].as_u64(), record["targets"].as_u64()),
        (Some(47), Some(47))
    );
    run(&["graph", &s(&w), &s(&c), "--quiet", "--out", &s(&g)]);
    let graph = json(&g.join("graph.json"));
    let leaves = graph["graph"]["leaves"].as_array().expect("leaves");
    let lowest = leaves
        .iter()
        .min_by(|x, y| {
            x["loss"]
                .as_f64()
                .partial_cmp(&y["loss"].as_f64())
                .expect("finite")
        })
        .expect("a leaf");
    assert_eq!(lowest["copies"].as_f64(), Some(48.0));
    assert!(
        !graph["graph"]["junctions"]
            .as_array()
            .expect("junctions")
            .is_empty()
    );
    assert!(graph["note"].is_null());
    assert!(image::open(g.join("graph.png")).is_ok());
    // Minima without transition states: drawn apart, and said so.
    let out = run(&["graph", &s(&w), "--out", &s(&g0)]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no transition states"));
    assert!(json(&g0.join("graph.json"))["note"].is_string());
}

/// The graph from plain arrays: minima 0, 1, 2 and transition states 0–1 at 5, 1–2 at 3.
#[test]
fn the_graph_of_plain_arrays_merges_at_the_lowest_joining_transition_state() {
    let dir = scratch("arrays");
    std::fs::create_dir_all(&dir).expect("dir");
    npy::write(&dir.join("minima.npy"), &[3], &[0.0f64, 1.0, 2.0]).expect("minima");
    npy::write(&dir.join("copies.npy"), &[3], &[48.0f64, 24.0, 48.0]).expect("copies");
    npy::write(
        &dir.join("ts.npy"),
        &[2, 3],
        &[5.0f64, 0.0, 1.0, 3.0, 1.0, 2.0],
    )
    .expect("ts");
    let f = |n: &str| dir.join(n).display().to_string();
    run(&[
        "graph",
        "--minima",
        &f("minima.npy"),
        "--copies",
        &f("copies.npy"),
        "--transition-states",
        &f("ts.npy"),
        "--quiet",
        "--out",
        &f("out"),
    ]);
    let graph = json(&dir.join("out/graph.json"));
    let levels: Vec<f64> = graph["graph"]["junctions"]
        .as_array()
        .expect("junctions")
        .iter()
        .map(|j| j["level"].as_f64().expect("level"))
        .collect();
    assert_eq!(levels, [3.0, 5.0]);
    assert_eq!(graph["graph"]["roots"].as_array().expect("roots").len(), 1);
}

/// The strings evaluated on the GPU backend (every image of every string one point of one
/// dispatch) find the transition states the CPU backend's strings find: the seed example's
/// saddle, and a chain from θ* to its copy under a transposition, in float64 to the same loss.
#[test]
fn strings_on_the_gpu_reach_the_same_transition_states() {
    let Some(mut gpu) = crate::common::gpu() else {
        return;
    };
    let mut cpu = crate::common::cpu(0);
    // As `connect` runs them, with two rounds: lavapipe's memory grows by ~0.4 MB a call.
    let settings = landscape::analysis::path::SearchSettings {
        band: landscape::analysis::path::BandSettings {
            max_steps: 300,
            tol: 1e-4,
            ..Default::default()
        },
        max_rounds: 2,
    };
    let m = Model::new("1-1-1", Activation::Linear, Activation::Linear, false).expect("model");
    let data = DataSource::parse("point:x=1,y=1", &m).expect("data").data;
    let on =
        |b: &mut dyn landscape::backend::Backend, m: &Model, d: &Dataset, a: &[f64], t: &[f64]| {
            landscape::cli::connect::connect_on(b, m, d, a, &[t.to_vec()], &settings)
                .expect("search")
        };
    let (g, c) = (
        on(&mut gpu, &m, &data, &[1.0, 1.0], &[-1.0, -1.0]),
        on(&mut cpu, &m, &data, &[1.0, 1.0], &[-1.0, -1.0]),
    );
    for s in [&g, &c] {
        assert!(s.chains[0].is_some());
        assert_eq!(s.transition_states.len(), 1);
        let t = &s.transition_states[0];
        assert!((t.point.loss - 1.0).abs() < 1e-12 && t.point.index == 1);
        // The origin is fixed by the sign flip: the symmetric transition state, reported so.
        assert_eq!(t.stabilizer_order, 2.0);
    }
    let m = Model::new("2-3-1", Activation::Tanh, Activation::Linear, true).expect("model");
    let src = DataSource::parse("teacher:n=64,seed=1", &m).expect("data");
    let a = src.teacher.as_ref().expect("teacher").theta.clone();
    let mut swap = GroupElement::identity(&m);
    swap.perms[0].swap(0, 1);
    let b = swap.apply(&m, &a);
    let g = on(&mut gpu, &m, &src.data, &a, &b);
    let chain = g.chains[0].as_ref().expect("connected on the GPU");
    assert!(distance(chain.minima.last().expect("an end"), &b) < 1e-6);
    for t in &g.transition_states {
        assert_eq!(t.point.index, 1);
        let (_, grad) = reference::loss_and_gradient(&m, &src.data, &t.point.theta);
        assert!(grad.iter().map(|v| v * v).sum::<f64>().sqrt() < 1e-8);
    }
}
