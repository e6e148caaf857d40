//! How basins meet and how L curves: boundary.json of a real basin map, and `grid --hessian`'s
//! index and extreme eigenvalues against the float64 reference.

use crate::common::{landscape, ok, run_json, scratch};
use landscape::npy;
use landscape::run::GridRequest;

#[test]
fn a_maps_boundary_json_holds_the_statistics_of_its_labels() {
    // README's map of a 2-2-1 student around its teacher, at 64²: several basins and copies.
    let dir = scratch("curvature", "teacher-map");
    ok(&landscape(&[
        "map",
        "--model",
        "2-2-1",
        "--data",
        "teacher:n=32,seed=3",
        "--origin",
        "teacher",
        "--axis",
        "w1[0,0]=-4:4:64",
        "--axis",
        "w1[1,1]=-4:4:64",
        "--lr",
        "0.1",
        "--momentum",
        "0.9",
        "--steps",
        "3000",
        "--tol",
        "1e-6",
        "--backend",
        "cpu",
        "--quiet",
        "--out",
        dir.to_str().expect("utf-8"),
    ]));
    let (labels, _) = npy::read_exact::<i32>(&dir.join("labels.npy")).expect("labels");
    let (status, _) = npy::read_exact::<u8>(&dir.join("status.npy")).expect("status");
    let status: Vec<u32> = status.into_iter().map(u32::from).collect();
    let outcomes = landscape::output::boundary::outcomes(&labels, &status);
    let st = landscape::analysis::boundary::statistics(&outcomes, 64, 64, 5);
    let b: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("boundary.json")).expect("json"))
            .expect("boundary.json");
    assert!(st.outcomes > 1 && b["outcomes"] == st.outcomes);
    let d = st.dimension.expect("a boundary");
    assert_eq!(b["box_counting_dimension"]["value"].as_f64(), Some(d.slope));
    assert!(d.slope > 0.5 && d.slope < 2.0, "D = {}", d.slope);
    assert_eq!(b["entropy"]["basin_entropy"].as_f64(), st.basin_entropy);
    let summary = &run_json(&dir)["summary"]["boundary"];
    assert_eq!(summary["dimension"].as_f64(), Some(d.slope));
    // --zoom 4@-1,1: the window a quarter as wide about (−1, 1), as many pixels.
    let zoomed = scratch("curvature", "teacher-map-zoom");
    ok(&landscape(&[
        "map",
        "--model",
        "2-2-1",
        "--data",
        "teacher:n=32,seed=3",
        "--origin",
        "teacher",
        "--axis",
        "w1[0,0]=-4:4:64",
        "--axis",
        "w1[1,1]=-4:4:64",
        "--steps",
        "100",
        "--zoom",
        "4@-1,1",
        "--backend",
        "cpu",
        "--quiet",
        "--out",
        zoomed.to_str().expect("utf-8"),
    ]));
    let axes = &run_json(&zoomed)["axes"];
    for (j, c) in [(0, -1.0), (1, 1.0)] {
        assert_eq!(axes[j]["lo"].as_f64(), Some(c - 1.0));
        assert_eq!(axes[j]["hi"].as_f64(), Some(c + 1.0));
        assert_eq!(axes[j]["n"].as_u64(), Some(64));
    }
    assert!(zoomed.join("boundary.json").is_file());
    // `landscape boundary` recomputes them, here with boxes of 8 pixels; bad input is refused.
    let before = std::fs::read(dir.join("boundary.json")).expect("boundary.json");
    ok(&landscape(&[
        "boundary",
        dir.to_str().expect("utf-8"),
        "--quiet",
    ]));
    assert_eq!(std::fs::read(dir.join("boundary.json")).ok(), Some(before));
    ok(&landscape(&[
        "boundary",
        dir.to_str().expect("utf-8"),
        "--box",
        "8",
        "--quiet",
    ]));
    let b8 = run_json(&dir)["summary"]["boundary"]["basin_entropy"].as_f64();
    assert_ne!(b8, st.basin_entropy, "other boxes, another S_b");
    let d = dir.to_str().expect("utf-8").to_string();
    let walk = scratch("curvature", "a-walk");
    ok(&landscape(&[
        "walk",
        "--model",
        "2-2-1",
        "--data",
        "xor",
        "--walkers",
        "4",
        "--steps",
        "5",
        "--no-basins",
        "--backend",
        "cpu",
        "--quiet",
        "--out",
        walk.to_str().expect("utf-8"),
    ]));
    let w = walk.to_str().expect("utf-8").to_string();
    for (args, names) in [
        (
            vec![
                "boundary".to_string(),
                d.clone(),
                "--box".into(),
                "0".into(),
            ],
            "--box",
        ),
        (
            vec!["boundary".into(), d.clone(), "--box".into(), "65".into()],
            "--box",
        ),
        (vec!["boundary".into(), w, "--quiet".into()], "run.json"),
        (vec!["boundary".into(), format!("{d}-nowhere")], "run.json"),
    ] {
        if let Some(wrong) = crate::bad_input::check(&args, names, None) {
            panic!("{wrong}");
        }
    }
}

/// The float64 reference's Hessian eigenvalues at lattice point `g` of a grid's request.
fn reference_eigenvalues(request: &GridRequest, g: u64) -> (Vec<f64>, Vec<f64>) {
    let spec = request.resolve().expect("resolves");
    let theta = spec.slice.point(g);
    let (model, data) = (&spec.problem.model, spec.problem.dataset());
    let p = model.parameter_count();
    let h = landscape::reference::hessian(model, data, &theta);
    // The Hessian itself against central differences of the reference gradient.
    let step = 1e-5;
    for q in 0..p {
        let mut up = theta.clone();
        let mut down = theta.clone();
        up[q] += step;
        down[q] -= step;
        let (_, gu) = landscape::reference::loss_and_gradient(model, data, &up);
        let (_, gd) = landscape::reference::loss_and_gradient(model, data, &down);
        for r in 0..p {
            let fd = (gu[r] - gd[r]) / (2.0 * step);
            let exact = h[r * p + q];
            assert!(
                (fd - exact).abs() <= 1e-5 * (1.0 + exact.abs()),
                "H[{r},{q}] = {exact}, central difference {fd}"
            );
        }
    }
    let e = landscape::analysis::eigen::symmetric_eigenvalues(&h, p).expect("finite");
    (h, e)
}

#[test]
fn grid_hessian_agrees_with_the_float64_reference_at_random_lattice_points() {
    let dir = scratch("curvature", "teacher-grid");
    ok(&landscape(&[
        "grid",
        "--model",
        "2-3-1",
        "--data",
        "teacher:n=32,seed=4",
        "--origin",
        "teacher",
        "--axis",
        "random:1=-2:2:23",
        "--axis",
        "random:2=-2:2:17",
        "--hessian",
        "--backend",
        "cpu",
        "--quiet",
        "--out",
        dir.to_str().expect("utf-8"),
    ]));
    let record = run_json(&dir);
    let request: GridRequest = serde_json::from_value(record["spec"].clone()).expect("spec");
    let (lo, shape) = npy::read_f64(&dir.join("hessian_min.npy")).expect("min");
    let (hi, _) = npy::read_f64(&dir.join("hessian_max.npy")).expect("max");
    let (index, ishape) = npy::read_exact::<u32>(&dir.join("index.npy")).expect("index");
    assert_eq!((shape.clone(), ishape), (vec![23, 17], vec![23, 17]));
    let mut x: u64 = 7;
    for _ in 0..12 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let g = (x >> 33) % (23 * 17);
        let (_, e) = reference_eigenvalues(&request, g);
        let k = g as usize;
        let top = e.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        assert!((lo[k] - e[0]).abs() <= 1e-12 * top, "λmin at {g}");
        assert!((hi[k] - e[e.len() - 1]).abs() <= 1e-12 * top, "λmax at {g}");
        let negative = e.iter().filter(|&&v| v < -1e-8 * top).count() as u32;
        assert_eq!(index[k], negative, "index at {g}");
    }
    assert!(dir.join("index.png").is_file() && dir.join("curvature_ratio.png").is_file());
    let curvature = &record["summary"]["curvature"];
    assert!(curvature["convex_points"].as_u64().is_some());
}

#[test]
fn the_seed_examples_hessian_is_a_saddle_where_its_determinant_is_negative() {
    // L = (1 − ab)²: ∇²L = [[2b², 4ab − 2], [4ab − 2, 2a²]], index 1 exactly where
    // 4a²b² < (4ab − 2)², with eigenvalues ±2 at the origin.
    let dir = scratch("curvature", "seed-grid");
    ok(&landscape(&[
        "grid",
        "--model",
        "1-1-1",
        "--act",
        "linear",
        "--no-bias",
        "--data",
        "point:x=1,y=1",
        "--axis",
        "w1[0,0]=-2:2:41",
        "--axis",
        "w2[0,0]=-2:2:41",
        "--hessian",
        "--backend",
        "cpu",
        "--quiet",
        "--out",
        dir.to_str().expect("utf-8"),
    ]));
    let (index, _) = npy::read_exact::<u32>(&dir.join("index.npy")).expect("index");
    let (lo, _) = npy::read_f64(&dir.join("hessian_min.npy")).expect("min");
    let (hi, _) = npy::read_f64(&dir.join("hessian_max.npy")).expect("max");
    let value = |i: usize| -2.0 + 4.0 * i as f64 / 40.0;
    let mut checked = 0;
    for i in 0..41 {
        for j in 0..41 {
            let (a, b) = (value(i), value(j));
            let det = 4.0 * a * a * b * b - (4.0 * a * b - 2.0).powi(2);
            if det.abs() > 1e-6 {
                assert_eq!(
                    index[i * 41 + j],
                    u32::from(det < 0.0),
                    "index at ({a}, {b})"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 1500);
    assert!((lo[20 * 41 + 20] + 2.0).abs() < 1e-12 && (hi[20 * 41 + 20] - 2.0).abs() < 1e-12);
}
