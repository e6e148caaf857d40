//! The real binary: outputs exist, load and have the documented shapes; bad input gives a
//! one-line error, exit code 2 and no output directory.

use crate::common::{Tol, assert_close, landscape, ok, run_json};
use landscape::npy;
use landscape::reference;
use landscape::spec::data::DataSource;
use landscape::spec::model::{Activation, Model};
use std::path::{Path, PathBuf};

fn scratch(name: &str) -> PathBuf {
    crate::common::scratch("cli", name)
}

fn png_size(path: &Path) -> (u32, u32) {
    let img = image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (img.width(), img.height())
}

#[test]
fn grid_of_the_seed_example_writes_the_curve_and_its_arrays() {
    let dir = scratch("seed");
    let d = dir.to_str().expect("utf-8 path");
    let out = landscape(&[
        "grid",
        "--model",
        "1-1-1",
        "--act",
        "linear",
        "--no-bias",
        "--data",
        "point:x=1,y=1",
        "--origin",
        "zeros",
        "--axis",
        "dir:1,1=-1.5:1.5:301",
        "--backend",
        "cpu",
        "--out",
        d,
    ]);
    ok(&out);
    let (loss, shape) = npy::read_f64(&dir.join("loss.npy")).expect("loss.npy");
    assert_eq!(shape, vec![301]);
    let json = run_json(&dir);
    let values = json["axes"][0]["values"].as_array().expect("axis values");
    for (l, t) in loss.iter().zip(values) {
        let t = f64::from(t.as_f64().expect("number") as f32);
        assert!(
            (l - (1.0 - t * t).powi(2)).abs() < 3e-7 * (1.0 + l),
            "t = {t}: {l}"
        );
    }
    assert_eq!(
        npy::read_f64(&dir.join("grad_norm.npy"))
            .expect("grad_norm")
            .1,
        vec![301]
    );
    assert_eq!(
        npy::read_f64(&dir.join("data_x.npy")).expect("data_x").1,
        vec![1, 1]
    );
    assert_eq!(
        npy::read_f64(&dir.join("data_y.npy")).expect("data_y").1,
        vec![1, 1]
    );
    assert!(!dir.join("grad.npy").exists());
    assert!(png_size(&dir.join("curve.png")).0 > 300);
    assert_eq!(json["command"], "grid");
    assert_eq!(json["complete"], true);
    assert_eq!(json["backend"]["backend"], "cpu");
    assert_eq!(json["summary"]["lattice_local_minima"], 2);
    assert_eq!(
        json["parameters"],
        serde_json::json!(["w1[0,0]", "w2[0,0]"])
    );
    // Only the run directory's path goes to stdout, so scripts can capture it.
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), d);
}

#[test]
fn grid_with_two_axes_and_saved_gradient_matches_float64_at_every_point() {
    let dir = scratch("heatmap");
    let d = dir.to_str().expect("utf-8 path");
    let out = landscape(&[
        "grid",
        "--model",
        "2-3-1",
        "--data",
        "teacher:n=40,seed=3",
        "--origin",
        "teacher",
        "--axis",
        "w1[0,0]=-3:3:33",
        "--axis",
        "w1[1,1]=-2:2:17",
        "--save-grad",
        "--log",
        "--backend",
        "cpu",
        "--out",
        d,
        "--quiet",
    ]);
    ok(&out);
    assert!(
        out.stderr.is_empty() && out.stdout.is_empty(),
        "--quiet prints nothing"
    );
    let (loss, shape) = npy::read_f64(&dir.join("loss.npy")).expect("loss");
    assert_eq!(shape, vec![33, 17]);
    let (grad, gshape) = npy::read_f64(&dir.join("grad.npy")).expect("grad");
    assert_eq!(gshape, vec![33, 17, 13]);
    assert!(png_size(&dir.join("heatmap.png")).0 > 300);
    let model = Model::new("2-3-1", Activation::Tanh, Activation::Linear, true).expect("model");
    let src = DataSource::parse("teacher:n=40,seed=3", &model).expect("data");
    let teacher = src.teacher.expect("teacher").theta;
    // loss[i, j] is at the i-th value of the first axis and the j-th of the second.
    for (i, j) in [(0, 0), (16, 8), (32, 16), (5, 11), (20, 3)] {
        let mut theta: Vec<f64> = teacher.iter().map(|&v| f64::from(v as f32)).collect();
        theta[0] = f64::from((-3.0 + 6.0 * i as f64 / 32.0) as f32);
        theta[3] = f64::from((-2.0 + 4.0 * j as f64 / 16.0) as f32); // w1[1,1]
        let (l, g) = reference::loss_and_gradient(&model, &src.data, &theta);
        let k = i * 17 + j;
        let tol = Tol {
            rel: 1e-4,
            abs: 1e-5,
        };
        assert_close("loss", &[loss[k] as f32], &[l], tol);
        let got: Vec<f32> = grad[k * 13..(k + 1) * 13]
            .iter()
            .map(|&v| v as f32)
            .collect();
        assert_close("grad", &got, &g, tol);
    }
    let json = run_json(&dir);
    assert_eq!(
        json["arrays"]["grad"]["shape"],
        serde_json::json!([33, 17, 13])
    );
    assert_eq!(json["axes"][1]["parameter"], "w1[1,1]");
}

#[test]
fn grid_with_three_axes_draws_projections() {
    let dir = scratch("projections");
    let d = dir.to_str().expect("utf-8 path");
    ok(&landscape(&[
        "grid",
        "--model",
        "2-2-1",
        "--data",
        "xor:pm",
        "--origin",
        "random:1",
        "--axis",
        "w1[0,0]=-3:3:9",
        "--axis",
        "random:2=-1:1:8",
        "--axis",
        "b2[0]=-1:1:7",
        "--backend",
        "cpu",
        "--out",
        d,
        "--quiet",
    ]));
    assert_eq!(
        npy::read_f64(&dir.join("loss.npy")).expect("loss").1,
        vec![9, 8, 7]
    );
    assert!(png_size(&dir.join("projections.png")).0 > 300);
}

#[test]
fn gpu_and_cpu_grids_agree() {
    if crate::common::gpu().is_none() {
        return;
    }
    let run = |backend: &str| {
        let dir = scratch(&format!("agree-{backend}"));
        let out = landscape(&[
            "grid",
            "--model",
            "2-3-1",
            "--data",
            "xor:pm",
            "--origin",
            "random:4",
            "--axis",
            "w1[0,0]=-3:3:70",
            "--axis",
            "w2[0,2]=-3:3:45",
            "--save-grad",
            "--backend",
            backend,
            "--out",
            dir.to_str().expect("utf-8"),
        ]);
        ok(&out);
        (dir, String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (gdir, gerr) = run("gpu");
    assert!(
        gerr.contains("backend: gpu"),
        "the adapter is printed: {gerr}"
    );
    let (cdir, _) = run("cpu");
    let gjson = run_json(&gdir);
    assert!(
        gjson["backend"]["adapter"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    assert!(gjson["backend"]["software_adapter"].is_boolean());
    for name in ["loss.npy", "grad_norm.npy", "grad.npy"] {
        let (g, gs) = npy::read_f64(&gdir.join(name)).expect("gpu array");
        let (c, cs) = npy::read_f64(&cdir.join(name)).expect("cpu array");
        assert_eq!(gs, cs);
        let g32: Vec<f32> = g.iter().map(|&v| v as f32).collect();
        assert_close(
            name,
            &g32,
            &c,
            Tol {
                rel: 1e-4,
                abs: 1e-5,
            },
        );
    }
}

#[test]
fn bad_input_gives_a_one_line_error_exit_code_2_and_no_output() {
    let dir = scratch("bad");
    std::fs::create_dir_all(&dir).expect("dir");
    let csv = dir.join("ragged.csv");
    std::fs::write(&csv, "1,2,3\n4,5\n").expect("csv");
    let short = dir.join("short.npy");
    npy::write(&short, &[3], &[1.0f32, 2.0, 3.0]).expect("npy");
    let csv_arg = format!("csv:{}", csv.display());
    let short_arg = short.display().to_string();
    let seed = ["--model", "1-1-1", "--no-bias", "--data", "point:x=1,y=1"];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "grid",
                "--model",
                "2-0-1",
                "--data",
                "xor",
                "--axis",
                "w1[0,0]=-1:1:5",
            ],
            "--model",
        ),
        (
            vec![
                "grid",
                "--model",
                "2-3-1",
                "--data",
                "moons",
                "--axis",
                "w1[0,0]=-1:1:5",
            ],
            "--data",
        ),
        (
            vec![
                "grid",
                "--model",
                "2-3-1",
                "--data",
                "xor",
                "--axis",
                "w7[0,0]=-1:1:5",
            ],
            "--axis",
        ),
        (
            vec![
                "grid",
                "--model",
                "2-3-1",
                "--data",
                "xor",
                "--axis",
                "w1[0,0]=1:-1:5",
            ],
            "--axis",
        ),
        (
            vec![
                "grid",
                "--model",
                "2-3-1",
                "--data",
                "xor",
                "--axis",
                "w1[0,0]=-1:1:0",
            ],
            "--axis",
        ),
        (vec!["grid", "--model", "2-3-1", "--data", "xor"], "--axis"),
        (
            vec![
                "grid",
                "--model",
                "2-3-1",
                "--data",
                "xor",
                "--act",
                "swish",
                "--axis",
                "w1[0,0]=-1:1:5",
            ],
            "--act",
        ),
        (
            vec![
                "grid",
                "--model",
                "2-3-1",
                "--data",
                &csv_arg,
                "--axis",
                "w1[0,0]=-1:1:5",
            ],
            "ragged.csv",
        ),
        (
            vec![
                "grid",
                "--model",
                "2-3-1",
                "--data",
                "xor",
                "--origin",
                &short_arg,
                "--axis",
                "w1[0,0]=-1:1:5",
            ],
            "short.npy",
        ),
        (
            vec![
                "grid",
                "--model",
                "2-3-1",
                "--data",
                "xor",
                "--origin",
                "teacher",
                "--axis",
                "w1[0,0]=-1:1:5",
            ],
            "--origin",
        ),
        (
            [&["grid"][..], &seed, &["--axis", "dir:1,1,1=-1:1:5"]].concat(),
            "--axis",
        ),
        (vec!["grid", "--frobnicate"], "--frobnicate"),
        (
            vec![
                "grid",
                "--model",
                "2-3-1",
                "--data",
                "xor",
                "--axis",
                "w1[0,0]=-1:1:5",
                "--backend",
                "tpu",
            ],
            "--backend",
        ),
    ];
    for (i, (args, names)) in cases.iter().enumerate() {
        let out_dir = dir.join(format!("out-{i}"));
        let mut args = args.clone();
        let out_str = out_dir.to_str().expect("utf-8").to_string();
        args.extend(["--out", &out_str]);
        let out = landscape(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "{args:?} gives one line: {stderr}"
        );
        assert!(stderr.contains(names), "{args:?} names {names}: {stderr}");
        assert!(!out_dir.exists(), "{args:?} left {}", out_dir.display());
    }
    assert_eq!(
        std::fs::read_dir(&dir).expect("dir").count(),
        2,
        "no staging directories left behind"
    );
}

/// A grid of five points on the CPU, for the tests of output directories and notes.
const TINY_GRID: [&str; 9] = [
    "grid",
    "--model",
    "1-1",
    "--data",
    "point:x=1,y=1",
    "--axis",
    "w1[0,0]=-1:1:5",
    "--backend",
    "cpu",
];

#[test]
fn an_existing_non_empty_output_directory_is_refused_without_force() {
    let dir = scratch("existing");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("keep.txt"), "precious").expect("file");
    let d = dir.to_str().expect("utf-8");
    let args = [&TINY_GRID[..], &["--out", d]].concat();
    let out = landscape(&args);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    assert!(dir.join("keep.txt").exists());
    // --force replaces runs only: a directory of other files stays as it is.
    let out = landscape(&[&args[..], &["--force", "--quiet"]].concat());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no run"));
    assert!(dir.join("keep.txt").exists());
    std::fs::remove_file(dir.join("keep.txt")).expect("remove");
    ok(&landscape(&[&args[..], &["--quiet"]].concat()));
    std::fs::write(dir.join("notes.txt"), "beside a run").expect("file");
    ok(&landscape(&[&args[..], &["--force", "--quiet"]].concat()));
    assert!(!dir.join("notes.txt").exists() && dir.join("run.json").exists());
}

#[test]
fn runs_started_in_the_same_second_get_their_own_default_directories() {
    let dir = scratch("default-names");
    std::fs::create_dir_all(&dir).expect("dir");
    let args = [&TINY_GRID[..], &["--quiet"]].concat();
    for _ in 0..3 {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_landscape"))
            .args(&args)
            .current_dir(&dir)
            .env("XDG_RUNTIME_DIR", std::env::temp_dir())
            .output()
            .expect("the binary runs");
        ok(&out);
    }
    let runs: Vec<_> = std::fs::read_dir(dir.join("runs"))
        .expect("runs/")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(runs.len(), 3, "{runs:?}");
    assert!(runs.iter().all(|r| r.join("run.json").exists()), "{runs:?}");
}

#[test]
fn adapters_are_listed_and_picked_by_index_or_name() {
    let list = landscape(&["adapters"]);
    ok(&list);
    if crate::common::gpu().is_none() {
        return;
    }
    let dir = scratch("adapter");
    let args = |adapter: &str, out: &Path| -> Vec<String> {
        [
            "grid",
            "--model",
            "1-1",
            "--data",
            "point:x=1,y=1",
            "--axis",
            "w1[0,0]=-1:1:9",
            "--backend",
            "gpu",
            "--adapter",
            adapter,
            "--out",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([out.to_string_lossy().into_owned()])
        .collect()
    };
    let by_index: Vec<String> = args("0", &dir.join("index"));
    ok(&landscape(
        &by_index.iter().map(String::as_str).collect::<Vec<_>>(),
    ));
    let name = String::from_utf8_lossy(&list.stdout)
        .lines()
        .next()
        .and_then(|l| l.split(": ").nth(1))
        .and_then(|n| n.split_whitespace().next())
        .expect("an adapter name")
        .to_string();
    let by_name = args(&name, &dir.join("name"));
    ok(&landscape(
        &by_name.iter().map(String::as_str).collect::<Vec<_>>(),
    ));
    let missing = args("no-such-adapter", &dir.join("missing"));
    let out = landscape(&missing.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--adapter") && stderr.trim_end().lines().count() == 1,
        "{stderr}"
    );
}

#[test]
fn bench_notes_the_flags_its_backend_ignores() {
    let out = landscape(&[
        "bench",
        "--backend",
        "cpu",
        "--workload",
        "W2",
        "--repeats",
        "1",
        "--workgroup-size",
        "64",
        "--lanes",
        "128",
    ]);
    ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("note: --workgroup-size, --lanes ignored: they apply to GPU backends only"),
        "{err}"
    );
}

#[test]
fn no_command_prints_the_usage_and_an_ignored_adapter_is_noted() {
    let out = landscape(&[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Usage:") && err.contains("walk"), "{err}");
    let dir = scratch("cpu-adapter");
    let d = dir.to_str().expect("utf-8");
    let out = landscape(&[&TINY_GRID[..], &["--adapter", "0", "--out", d]].concat());
    ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("note: --adapter ignored: it applies to GPU backends only")
            && err.contains("1 sample,"),
        "{err}"
    );
}

#[test]
fn a_large_network_s_analysis_announces_itself_and_prints_its_group_order_as_a_power_of_ten() {
    // P = 1201: one walker, polished with dense 1201 × 1201 Hessians.
    let dir = scratch("large-p");
    let d = dir.to_str().expect("utf-8 path");
    let out = landscape(&[
        "walk",
        "--model",
        "2-300-1",
        "--data",
        "xor",
        "--walkers",
        "1",
        "--lr",
        "0.002",
        "--steps",
        "3000",
        "--backend",
        "cpu",
        "--out",
        d,
    ]);
    ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("basins: polishing 1 point (at most 64 at this size) with dense 1201 × 1201 float64 Hessians")
            && err.contains("--no-basins skips the analysis"),
        "{err}"
    );
    assert!(err.contains("|G| = 10^704.79;"), "{err}");
    let json = run_json(&dir);
    let basins = &json["summary"]["basins"];
    assert!(basins["group_order"].is_null(), "{basins}");
    assert!(basins["group_order_log10"].as_f64().expect("log10 |G|") > 308.0);
}
