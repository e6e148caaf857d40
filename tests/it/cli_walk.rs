//! The real binary's `walk` and `basins`: arrays, statuses against float64, identical starts on
//! both backends, bad settings, and the basin files.

use crate::common::{landscape, ok, run_json};
use landscape::npy;
use landscape::reference;
use landscape::spec::data::DataSource;
use landscape::spec::model::{Activation, Model};
use std::path::PathBuf;

fn scratch(name: &str) -> PathBuf {
    crate::common::scratch("cli-walk", name)
}

#[test]
fn walk_writes_every_array_and_statuses_match_a_float64_rerun() {
    let dir = scratch("walk");
    let d = dir.to_str().expect("utf-8");
    let out = landscape(&[
        "walk",
        "--model",
        "2-3-1",
        "--data",
        "xor:pm",
        "--walkers",
        "300",
        "--steps",
        "400",
        "--lr",
        "0.05",
        "--tol",
        "1e-3",
        "--seed",
        "3",
        "--trace",
        "100",
        "--backend",
        "cpu",
        "--out",
        d,
    ]);
    ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for word in ["converged", "max-steps", "diverged", "non-finite", "median"] {
        assert!(
            stderr.contains(word),
            "the summary mentions {word}: {stderr}"
        );
    }
    assert!(!stderr.contains('\r'), "no progress bar in a pipe");
    let (starts, s_shape) = npy::read_f64(&dir.join("starts.npy")).expect("starts");
    assert_eq!(s_shape, vec![300, 13]);
    assert_eq!(
        npy::read_f64(&dir.join("endpoints.npy"))
            .expect("endpoints")
            .1,
        vec![300, 13]
    );
    assert_eq!(
        npy::read_f64(&dir.join("loss.npy")).expect("loss").1,
        vec![300]
    );
    assert_eq!(
        npy::read_f64(&dir.join("grad_norm.npy"))
            .expect("grad_norm")
            .1,
        vec![300]
    );
    assert_eq!(
        npy::read_f64(&dir.join("trace.npy")).expect("trace").1,
        vec![5, 300, 13]
    );
    let status = std::fs::read(dir.join("status.npy")).expect("status");
    let status = &status[status.len() - 300..];
    let steps = std::fs::read(dir.join("steps.npy")).expect("steps");
    let steps: Vec<u32> = steps[steps.len() - 1200..]
        .chunks(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let json = run_json(&dir);
    assert_eq!(json["status_legend"]["converged"], 0);
    assert_eq!(json["status_legend"]["non-finite"], 3);
    let counted: u64 = json["summary"]["counts"]
        .as_object()
        .expect("counts")
        .values()
        .filter_map(|v| v.as_u64())
        .sum();
    assert_eq!(counted, 300);
    // Every 30th walker re-run in float64 from its float32 start: same status, same step count
    // unless it stopped within a few steps of the tolerance (float32 vs float64 rounding).
    let model = Model::new("2-3-1", Activation::Tanh, Activation::Linear, true).expect("model");
    let data = DataSource::parse("xor:pm", &model).expect("data").data;
    let s = landscape::spec::walk::WalkSettings {
        lr: 0.05,
        momentum: 0.0,
        steps: 400,
        tol: 1e-3,
        diverge: 1e4,
    };
    let mut agree = 0;
    for w in (0..300).step_by(30) {
        let end = reference::walk(&model, &data, &starts[w * 13..(w + 1) * 13], &s);
        assert_eq!(u32::from(status[w]), end.status as u32, "walker {w}");
        if steps[w].abs_diff(end.steps) <= 2 {
            agree += 1;
        }
    }
    assert!(
        agree >= 9,
        "{agree} of 10 walkers stop within 2 steps of the float64 re-run"
    );
}

#[test]
fn walk_starts_are_identical_on_both_backends() {
    if crate::common::gpu().is_none() {
        return;
    }
    let run = |backend: &str| {
        let dir = scratch(&format!("walk-{backend}"));
        ok(&landscape(&[
            "walk",
            "--model",
            "2-2-1",
            "--data",
            "xor",
            "--walkers",
            "130",
            "--steps",
            "200",
            "--init",
            "uniform:2",
            "--backend",
            backend,
            "--out",
            dir.to_str().expect("utf-8"),
            "--quiet",
        ]));
        dir
    };
    let (g, c) = (run("gpu"), run("cpu"));
    assert_eq!(
        std::fs::read(g.join("starts.npy")).expect("gpu"),
        std::fs::read(c.join("starts.npy")).expect("cpu")
    );
    assert_eq!(
        std::fs::read(g.join("status.npy")).expect("gpu"),
        std::fs::read(c.join("status.npy")).expect("cpu")
    );
}

#[test]
fn bad_walk_settings_give_a_one_line_error_naming_the_flag() {
    let dir = scratch("bad-walk");
    let base = [
        "walk",
        "--model",
        "2-3-1",
        "--data",
        "xor:pm",
        "--backend",
        "cpu",
    ];
    for (extra, flag) in [
        (&["--lr", "nan"][..], "--lr"),
        (&["--lr", "-0.1"], "--lr"),
        (&["--momentum", "1"], "--momentum"),
        (&["--walkers", "0"], "--walkers"),
        (&["--walkers", "-5"], "--walkers"),
        (&["--steps", "0"], "--steps"),
        (&["--init", "cauchy:1"], "--init"),
        (&["--tol", "-1"], "--tol"),
        (&["--trace", "0"], "--trace"),
        (&["--walkers", "100000000", "--trace", "1"], "--trace"),
    ] {
        let out_dir = dir.join(flag.trim_start_matches('-'));
        let args = [
            &base[..],
            extra,
            &["--out", out_dir.to_str().expect("utf-8")],
        ]
        .concat();
        let out = landscape(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{extra:?}: {stderr}");
        assert!(stderr.contains(flag), "{extra:?} names {flag}: {stderr}");
        assert!(!out_dir.exists());
    }
}

#[test]
fn walk_writes_basins_and_landscape_basins_reproduces_them() {
    let dir = scratch("walk-basins");
    let d = dir.to_str().expect("utf-8");
    let out = landscape(&[
        "walk",
        "--model",
        "2-2-1",
        "--data",
        "teacher:n=64,seed=3",
        "--walkers",
        "200",
        "--steps",
        "3000",
        "--lr",
        "0.1",
        "--momentum",
        "0.9",
        "--tol",
        "1e-6",
        "--backend",
        "cpu",
        "--out",
        d,
    ]);
    ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("copies found") && stderr.contains("|G| = 8"),
        "the table is printed: {stderr}"
    );
    let first = std::fs::read_to_string(dir.join("basins.json")).expect("basins.json");
    let json: serde_json::Value = serde_json::from_str(&first).expect("valid JSON");
    assert_eq!(json["group_order"], 8.0);
    let class = &json["classes"][0];
    for key in [
        "id",
        "kind",
        "loss",
        "grad_norm",
        "index",
        "nullity",
        "eigenvalues",
        "point",
        "walkers",
        "fraction",
        "stabilizer_order",
        "copies_expected",
        "copies_found",
        "uniformity_p",
    ] {
        assert!(
            !class[key].is_null(),
            "classes[0].{key} is present: {class}"
        );
    }
    assert_eq!(class["point"].as_array().expect("point").len(), 9);
    assert_eq!(
        npy::read_f64(&dir.join("basin.npy")).map(|r| r.1).ok(),
        None,
        "basin.npy holds int32, not floats"
    );
    let bytes = std::fs::read(dir.join("basin.npy")).expect("basin.npy");
    assert!(String::from_utf8_lossy(&bytes[..128]).contains("'shape': (200, 2)"));
    let csv = std::fs::read_to_string(dir.join("basins.csv")).expect("basins.csv");
    assert!(csv.starts_with("id,kind,loss"));
    assert_eq!(
        csv.lines().count(),
        json["classes"].as_array().expect("classes").len() + 1
    );
    assert_eq!(run_json(&dir)["summary"]["basins"]["group_order"], 8.0);
    // Re-analysis gives the same file.
    let again = landscape(&["basins", d]);
    ok(&again);
    assert!(String::from_utf8_lossy(&again.stdout).contains("copies found"));
    assert_eq!(
        std::fs::read_to_string(dir.join("basins.json")).expect("again"),
        first
    );
    // --no-basins skips the analysis; a missing directory is a one-line error.
    let skip = scratch("walk-no-basins");
    ok(&landscape(&[
        "walk",
        "--model",
        "2-2-1",
        "--data",
        "xor",
        "--walkers",
        "10",
        "--steps",
        "10",
        "--no-basins",
        "--backend",
        "cpu",
        "--out",
        skip.to_str().expect("utf-8"),
        "--quiet",
    ]));
    assert!(!skip.join("basins.json").exists());
    assert!(run_json(&skip)["summary"]["basins"].is_null());
    // The analysis made afterwards lands in run.json's summary too.
    ok(&landscape(&[
        "basins",
        skip.to_str().expect("utf-8"),
        "--quiet",
    ]));
    let record = run_json(&skip);
    assert_eq!(record["summary"]["basins"]["file"], "basins.json");
    assert_eq!(record["summary"]["basins"]["group_order"], 8.0);
    assert!(record["timings"]["basins_s"].as_f64().is_some());
    let missing = landscape(&["basins", "/nonexistent/run"]);
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&missing.stderr)
            .trim_end()
            .lines()
            .count(),
        1
    );
}
