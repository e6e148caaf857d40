//! Every pixel placed: a capped analysis draws the uncapped one's picture up to the placement
//! distance, in any walker order; `--extend` takes exactly the steps of one long walk; and the
//! command line records how each walker was placed and continued.

use crate::common::{cpu, landscape, ok, run_json, scratch};
use landscape::analysis::basins::{Options, Placement, Report, analyse_walk_observed};
use landscape::analysis::symmetry::{distance, normalise};
use landscape::backend::{Backend, WalkOutput};
use landscape::npy;
use landscape::run::{self, Finish, MapRequest, MapSpec, ProblemRequest, SliceRequest, WalkSpec};
use landscape::spec::walk::WalkSettings;
use std::collections::HashMap;

/// A 48 × 48 map of a 2-3-1 student around its teacher, stopped after 1000 steps: minima in
/// several copies, saddles, and many walkers still moving; about 1600 distinct ends.
fn map_spec() -> MapSpec {
    MapRequest {
        problem: ProblemRequest::new("2-3-1", "teacher:n=64,seed=1"),
        slice: SliceRequest {
            origin: Some("teacher".into()),
            axes: vec!["w1[0,0]=-3:3:48".into(), "w1[1,1]=-3:3:48".into()],
            plane: None,
        },
        descent: WalkSettings {
            steps: 1000,
            ..WalkSettings::default()
        },
        finish: Finish::default(),
        color: run::ColorBy::Copy,
        shade: false,
        basins: true,
        zoom: None,
        backend: landscape::backend::BackendChoice::Cpu,
        adapter: None,
        cwd: None,
        shard: None,
    }
    .validate()
    .expect("map")
}

fn walk(spec: &MapSpec) -> WalkOutput {
    cpu(0)
        .walk(
            &spec.problem.model,
            spec.problem.dataset(),
            &spec.starts(),
            &spec.descent,
            None,
            &|_| {},
        )
        .expect("walk")
}

fn analyse(spec: &MapSpec, endpoints: &[f32], status: &[u32], cap: usize) -> Report {
    let options = Options {
        cap,
        ..Options::new(spec.problem.model.parameter_count())
    };
    analyse_walk_observed(
        &spec.problem.model,
        spec.problem.dataset(),
        endpoints,
        status,
        &options,
        &|_| {},
    )
}

fn label(r: &Report, w: usize) -> (i32, i32) {
    (r.labels[2 * w], r.labels[2 * w + 1])
}

/// A walker's label as a name that does not depend on the numbering of classes: the class's
/// kind and loss (to six digits), and its copy.
fn named(r: &Report, w: usize) -> (String, i32) {
    let (class, copy) = (r.labels[2 * w], r.labels[2 * w + 1]);
    match r.classes.get(class.max(0) as usize).filter(|_| class >= 0) {
        Some(c) => (format!("{} {:.5e}", c.kind, c.loss), copy),
        None => ("none".to_string(), -1),
    }
}

#[test]
fn a_capped_analysis_draws_the_uncapped_picture_up_to_the_placement_distance() {
    let spec = map_spec();
    let out = walk(&spec);
    let (m, p) = (out.status.len(), spec.problem.model.parameter_count());
    let full = analyse(&spec, &out.endpoints, &out.status, m);
    let capped = analyse(&spec, &out.endpoints, &out.status, 1024);
    assert_eq!(full.placement.analysed + full.placement.placed, m as u64);
    assert!(
        full.placement.analysed > 1000
            && capped.placement.analysed <= 1024
            && capped.placement.placed > 1200
            && capped.placement.refined > 0,
        "{}",
        capped.table()
    );
    // A coarser cover, every walker still placed.
    assert!(capped.place_tol > full.place_tol, "{}", capped.table());
    assert_eq!(capped.placement.unplaced, 0, "{}", capped.table());
    // Copies are numbered in the order they were found: each capped copy stands for the
    // uncapped copy of the same class most of its walkers are in.
    let mut votes: HashMap<(String, i32), HashMap<i32, usize>> = HashMap::new();
    for w in 0..m {
        let (c, f) = (named(&capped, w), named(&full, w));
        if c.0 == f.0 {
            *votes.entry(c).or_default().entry(f.1).or_default() += 1;
        }
    }
    let copy_of: HashMap<(String, i32), i32> = votes
        .iter()
        .map(|(c, v)| {
            (
                c.clone(),
                *v.iter().max_by_key(|(_, n)| **n).expect("votes").0,
            )
        })
        .collect();
    let in_full = |w: usize| {
        let (class, copy) = named(&capped, w);
        let copy = copy_of.get(&(class.clone(), copy)).copied().unwrap_or(-2);
        (class, copy)
    };
    let end = |w: usize| {
        let t: Vec<f64> = out.endpoints[w * p..(w + 1) * p]
            .iter()
            .map(|&v| f64::from(v))
            .collect();
        normalise(&spec.problem.model, &t)
    };
    // Only pixels on boundaries may differ: at most 2 % of them on this map of small basins.
    let differing: Vec<usize> = (0..m).filter(|&w| in_full(w) != named(&full, w)).collect();
    assert!(
        differing.len() * 50 <= m,
        "{} of {m} pixels differ\n{}\n{}",
        differing.len(),
        full.table(),
        capped.table()
    );
    // A pixel that differs lies, in the space of ends, within the capped placement distance of
    // a walker that has its capped label in the uncapped picture: on a boundary between areas,
    // never inside one.
    for &w in &differing {
        let want = in_full(w);
        let e = end(w);
        let scale = e.iter().fold(1.0f64, |a, v| a.max(v.abs()));
        let near = (0..m)
            .any(|v| named(&full, v) == want && distance(&end(v), &e) <= capped.place_tol * scale);
        assert!(near, "walker {w} placed far from its uncapped class");
    }
}

#[test]
fn shuffling_the_walkers_changes_no_pixel_of_a_capped_analysis() {
    let spec = map_spec();
    let out = walk(&spec);
    let (m, p) = (out.status.len(), spec.problem.model.parameter_count());
    let r = analyse(&spec, &out.endpoints, &out.status, 200);
    // A fixed shuffle (multiplication by a unit modulo m): walker i of the new order is
    // perm[i] of the old.
    let perm: Vec<usize> = (0..m).map(|i| (i * 1031 + 17) % m).collect();
    let mut seen = perm.clone();
    seen.sort_unstable();
    assert_eq!(seen, (0..m).collect::<Vec<_>>());
    let endpoints: Vec<f32> = perm
        .iter()
        .flat_map(|&w| out.endpoints[w * p..(w + 1) * p].to_vec())
        .collect();
    let status: Vec<u32> = perm.iter().map(|&w| out.status[w]).collect();
    let q = analyse(&spec, &endpoints, &status, 200);
    for (i, &w) in perm.iter().enumerate() {
        assert_eq!(label(&q, i), label(&r, w), "walker {w}");
        assert_eq!(q.placements[i], r.placements[w], "walker {w}");
    }
    assert_eq!(q.table(), r.table());
    assert!(
        r.placements.contains(&(Placement::Placed as u8)),
        "{}",
        r.table()
    );
}

#[test]
fn extend_takes_the_very_steps_of_one_long_walk() {
    let problem = ProblemRequest::new("2-2-1", "teacher:n=32,seed=3")
        .validate()
        .expect("problem");
    let mut spec = WalkSpec::new(problem, 500);
    spec.descent.steps = 300;
    spec.descent.lr = 0.3;
    spec.descent.tol = 1e-4;
    spec.finish.extend = Some(2000);
    let mut backend = cpu(0);
    let extended = run::walk(&mut backend, &spec).expect("extended");
    spec.descent.steps = 2000;
    spec.finish.extend = None;
    let long = run::walk(&mut backend, &spec).expect("long");
    let e = extended.extension.as_ref().expect("extension");
    // 300 → 600 → 1200 → 2000.
    assert_eq!((e.steps, e.rounds), (2000, 3));
    assert!(
        e.walkers > 0 && e.still_moving > 0 && e.still_moving < e.walkers,
        "{} continued, {} still moving",
        e.walkers,
        e.still_moving
    );
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<u32>>();
    assert_eq!(
        bits(&extended.output.endpoints),
        bits(&long.output.endpoints)
    );
    assert_eq!(bits(&extended.output.loss), bits(&long.output.loss));
    assert_eq!(extended.output.steps, long.output.steps);
    assert_eq!(extended.output.status, long.output.status);
    for w in 0..500 {
        assert_eq!(e.continued[w], long.output.steps[w] > 300, "walker {w}");
    }
}

#[test]
fn a_finished_map_records_how_each_pixel_was_placed_and_continued() {
    let dir = scratch("placement", "map");
    let out = landscape(&[
        "map",
        "--model",
        "2-2-1",
        "--data",
        "teacher:n=32,seed=3",
        "--origin",
        "teacher",
        "--axis",
        "w1[0,0]=-4:4:24",
        "--axis",
        "w1[1,1]=-4:4:24",
        "--steps",
        "100",
        "--extend",
        "400",
        "--finish",
        "flow",
        "--tol",
        "1e-6",
        "--backend",
        "cpu",
        "--quiet",
        "--out",
        dir.to_str().expect("path"),
    ]);
    ok(&out);
    let (placement, shape) = npy::read_u8(&dir.join("placement.npy")).expect("placement.npy");
    assert_eq!(shape, [24, 24]);
    let (continued, _) = npy::read_u8(&dir.join("continued.npy")).expect("continued.npy");
    let steps = read_u32(&dir.join("steps.npy"));
    assert_eq!(steps.len(), 24 * 24);
    let run = run_json(&dir);
    let basins: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("basins.json")).expect("basins.json"))
            .expect("json");
    assert!(placement.iter().all(|&c| c <= 4));
    assert!(continued.iter().all(|&c| c <= 3));
    let flow = &basins["flow"];
    let continued_by_flow = flow["continued"].as_u64().expect("flow.continued");
    assert_eq!(
        continued.iter().filter(|&&c| c == 2).count() as u64,
        continued_by_flow,
        "{flow}"
    );
    assert_eq!(
        continued.iter().filter(|&&c| c == 3).count() as u64,
        flow["placed"].as_u64().expect("flow.placed")
    );
    // Every walker that took more than --steps was continued by gradient descent first.
    for (w, s) in steps.iter().enumerate() {
        if *s > 100 {
            assert_ne!(continued[w], 0, "walker {w}");
        }
    }
    assert!(run["timings"]["extend_s"].is_f64() && run["timings"]["flow_s"].is_f64());
    assert_eq!(run["spec"]["finish"]["extend"], 400);
    assert_eq!(run["spec"]["finish"]["flow"], true);
    assert!(basins["place_tol"].is_f64());
}

/// The values of a little-endian uint32 .npy file (version 1 header).
fn read_u32(path: &std::path::Path) -> Vec<u32> {
    let bytes = std::fs::read(path).expect("npy");
    assert_eq!(&bytes[..6], b"\x93NUMPY");
    let header = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert!(String::from_utf8_lossy(&bytes[10..10 + header]).contains("<u4"));
    bytes[10 + header..]
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}
