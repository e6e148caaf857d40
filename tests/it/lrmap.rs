//! Maps over training hyper-parameters: walkers with learning rates of their own per weight
//! layer on every backend (against float64, and bit for bit against one shared rate), and maps
//! over learning rates and the start's scale through the command line.

use crate::common::{
    Tol, assert_close, canonical_bits, cpu, gpu, landscape, model, ok, random_data, random_points,
    run_json, scratch,
};
use landscape::backend::cpu::CpuBackend;
use landscape::backend::{Backend, WalkOutput};
use landscape::reference;
use landscape::rng::{Stream, normal};
use landscape::spec::model::{Activation, Model};
use landscape::spec::slice::build_slice;
use landscape::spec::walk::{Status, WalkSettings};
use std::path::Path;

const SETTINGS: WalkSettings = WalkSettings {
    lr: 0.02,
    momentum: 0.0,
    steps: 200,
    tol: 1e-6,
    diverge: 1e4,
};

/// The shape-specialised 2-3-1 kernel (which leaves its own loop for rates of each walker's
/// own), the general kernel on three layers with momentum, and a network of one layer.
fn cases() -> Vec<(Model, f64)> {
    vec![
        (
            model("2-3-1", Activation::Tanh, Activation::Linear, true),
            0.0,
        ),
        (
            model("3-4-3-1", Activation::Softplus, Activation::Tanh, false),
            0.5,
        ),
        (
            model("2-1", Activation::Tanh, Activation::Linear, true),
            0.0,
        ),
    ]
}

/// A learning rate per walker and layer, from 0.005 to about 0.05.
fn random_rates(walkers: usize, layers: usize, seed: u64) -> Vec<f32> {
    (0..walkers * layers)
        .map(|i| (0.005 + 0.015 * normal(seed, Stream::Start, i as u64).abs()) as f32)
        .collect()
}

fn rated_walks_match_reference(backend: &mut dyn Backend) {
    for (k, (m, momentum)) in cases().iter().enumerate() {
        let data = random_data(m, 13, 70 + k as u64);
        // 37 walkers: neither a multiple of the CPU lanes nor of the workgroup size.
        let starts: Vec<f32> = random_points(m, 37, 0.7, 80 + k as u64)
            .iter()
            .map(|&v| v as f32)
            .collect();
        let layers = m.layers();
        let rates = random_rates(37, layers, 90 + k as u64);
        let s = WalkSettings {
            momentum: *momentum,
            ..SETTINGS
        };
        let out = backend
            .walk_rated(m, &data, &starts, Some(&rates), &s, None, &|_| {})
            .expect("walk");
        let p = m.parameter_count();
        let (mut expected, mut loss) = (Vec::new(), Vec::new());
        for w in 0..37 {
            let start: Vec<f64> = starts[w * p..(w + 1) * p]
                .iter()
                .map(|&v| f64::from(v))
                .collect();
            let r: Vec<f64> = rates[w * layers..(w + 1) * layers]
                .iter()
                .map(|&v| f64::from(v))
                .collect();
            let end = reference::walk_rated(m, &data, &start, &r, &s);
            assert_eq!(out.status[w], end.status as u32, "{m}, walker {w}: status");
            assert_eq!(out.steps[w], end.steps, "{m}, walker {w}: steps");
            expected.extend(end.theta);
            loss.push(end.loss);
        }
        // As for one shared rate (walk.rs): 200 float32 steps at rates below 0.05.
        let tol = Tol {
            rel: 2e-4,
            abs: 2e-4,
        };
        let on = format!("on {}, {m}", backend.info());
        assert_close(&format!("endpoints {on}"), &out.endpoints, &expected, tol);
        assert_close(&format!("L at the ends {on}"), &out.loss, &loss, tol);
    }
}

#[test]
fn cpu_walkers_with_rates_of_their_own_match_the_reference() {
    for isa in crate::common::isas() {
        rated_walks_match_reference(&mut CpuBackend::with_options(0, isa));
    }
}

#[test]
fn gpu_walkers_with_rates_of_their_own_match_the_reference() {
    if let Some(mut g) = gpu() {
        rated_walks_match_reference(&mut g);
    }
}

fn bits(out: &WalkOutput) -> Vec<u32> {
    let mut b: Vec<u32> = [&out.endpoints, &out.loss, &out.grad_norm]
        .into_iter()
        .flatten()
        .map(|x| canonical_bits(*x))
        .collect();
    b.extend(&out.steps);
    b.extend(&out.status);
    b
}

/// Rates that all equal `--lr` take the very steps of a walk without rates, on the CPU (where
/// the 2-3-1 kernel then leaves its own loop) and on the GPU; and a walk's rates are checked.
fn rates_equal_to_lr_change_no_bit(backend: &mut dyn Backend) {
    for (k, (m, momentum)) in cases().iter().enumerate() {
        let data = random_data(m, 11, 30 + k as u64);
        let starts: Vec<f32> = random_points(m, 45, 0.8, 40 + k as u64)
            .iter()
            .map(|&v| v as f32)
            .collect();
        let s = WalkSettings {
            momentum: *momentum,
            ..SETTINGS
        };
        let rates = vec![s.lr as f32; 45 * m.layers()];
        let plain = backend
            .walk(m, &data, &starts, &s, None, &|_| {})
            .expect("plain");
        let rated = backend
            .walk_rated(m, &data, &starts, Some(&rates), &s, None, &|_| {})
            .expect("rated");
        assert!(
            bits(&plain) == bits(&rated),
            "{m} on {}: rates equal to lr changed bits",
            backend.info()
        );
        for bad in [vec![0.01f32; 44 * m.layers()], {
            let mut r = rates.clone();
            r[3] = f32::NAN;
            r
        }] {
            let err = backend
                .walk_rated(m, &data, &starts, Some(&bad), &s, None, &|_| {})
                .expect_err("bad rates");
            assert!(err.to_string().contains("rates"), "{err}");
        }
    }
}

#[test]
fn cpu_rates_equal_to_lr_change_no_bit() {
    rates_equal_to_lr_change_no_bit(&mut cpu(0));
}

#[test]
fn gpu_rates_equal_to_lr_change_no_bit() {
    if let Some(mut g) = gpu() {
        rates_equal_to_lr_change_no_bit(&mut g);
    }
}

#[test]
fn slices_with_hyper_parameter_axes_set_rates_and_scale_starts() {
    let m = model("2-3-1", Activation::Tanh, Activation::Linear, true);
    let axes = [
        "lr2=log:1e-3:1e1:5".to_string(),
        "scale=0.5:2:4".to_string(),
    ];
    let s = build_slice(&m, None, Some("random:4"), &axes, None).expect("slice");
    let (first, last) = (s.axes[0].value(0), s.axes[0].value(4));
    assert_eq!((first, last), (1e-3, 10.0), "exact at the ends");
    for (i, v) in s.axes[0].values().iter().enumerate() {
        let want = 10f64.powi(i as i32 - 3);
        assert!((v / want - 1.0).abs() < 1e-12, "{v} vs {want}");
    }
    // Point (2, 3): layer 2's rate 0.1, layer 1's the base; the start is 2 × the origin.
    let g = 2 * 4 + 3;
    let rates = s.rates(g, 0.05, 2);
    assert_eq!(rates[0], 0.05);
    assert!((rates[1] - 0.1).abs() < 1e-15);
    let scaled = s.point(g);
    for (a, o) in scaled.iter().zip(&s.origin) {
        assert_eq!(*a, 2.0 * o);
    }
    let all = build_slice(&m, None, None, &["lr=0.1:0.2:3".into()], None).expect("lr");
    assert_eq!(all.rates(2, 0.05, 2), vec![0.2, 0.2]);
    assert!(all.point(2).iter().all(|&v| v == 0.0));
}

/// Writes `x1,x2,y` rows of a noisy linear target; returns the largest eigenvalue of the MSE's
/// Hessian (2/n)·Σ aaᵀ, a = (x1, x2, 1), in the order `Model::layout` gives w and b.
fn linear_data(path: &Path, n: usize) -> f64 {
    let mut text = String::from("x1,x2,y\n");
    let mut h = nalgebra::Matrix3::<f64>::zeros();
    for i in 0..n {
        let x1 = normal(5, Stream::DataInputs, 2 * i as u64);
        let x2 = 0.5 * normal(5, Stream::DataInputs, 2 * i as u64 + 1) + 0.3 * x1;
        let y = 1.5 * x1 - 0.7 * x2 + 0.2 + 0.1 * normal(6, Stream::DataInputs, i as u64);
        // Exactly the numbers the CSV holds.
        let (x1, x2, y) = (
            format!("{x1:.9}").parse::<f64>().expect("x1"),
            format!("{x2:.9}").parse::<f64>().expect("x2"),
            format!("{y:.9}").parse::<f64>().expect("y"),
        );
        text.push_str(&format!("{x1:.9},{x2:.9},{y:.9}\n"));
        let a = nalgebra::Vector3::new(x1, x2, 1.0);
        h += a * a.transpose() * (2.0 / n as f64);
    }
    std::fs::write(path, text).expect("csv");
    h.symmetric_eigen().eigenvalues.max()
}

#[test]
fn linear_regression_trains_below_two_over_lambda_max_and_diverges_above() {
    let dir = scratch("lrmap", "linear-regression");
    std::fs::create_dir_all(&dir).expect("dir");
    let csv = dir.join("data.csv");
    let lmax = linear_data(&csv, 64);
    let critical = 2.0 / lmax;
    // 41 learning rates from half to one and a half times 2/λmax: a pixel is 2.5 % of it.
    let (lo, hi, n) = (0.5 * critical, 1.5 * critical, 41);
    let pixel = (hi - lo) / (n - 1) as f64;
    let lr_axis = format!("lr={lo:.12e}:{hi:.12e}:{n}");
    let mut backends = vec!["cpu"];
    if gpu().is_some() {
        backends.push("gpu");
    }
    for backend in backends {
        let out = dir.join(backend);
        ok(&landscape(&[
            "map",
            "--model",
            "2-1",
            "--data",
            &format!("csv:{}", csv.display()),
            "--axis",
            &lr_axis,
            "--axis",
            "w1[0,0]=-2:2:5",
            "--steps",
            "3000",
            "--tol",
            "1e-5",
            "--no-basins",
            "--color",
            "diverged",
            "--backend",
            backend,
            "--quiet",
            "--out",
            out.to_str().expect("utf-8"),
        ]));
        let (status, shape) =
            landscape::npy::read_exact::<u8>(&out.join("status.npy")).expect("status");
        assert_eq!(shape, vec![n, 5]);
        let diverged: Vec<bool> = (0..n)
            .map(|i| {
                let row = &status[i * 5..(i + 1) * 5];
                let d = row.iter().filter(|&&s| s == Status::Diverged as u8).count();
                assert!(
                    d == 0 || d == 5,
                    "{backend}: row {i} (lr {}) is split: {row:?}",
                    lo + pixel * i as f64
                );
                let lr = lo + pixel * i as f64;
                if d == 0 && lr < critical - pixel {
                    // Below the boundary, by more than a pixel: every walker converges. (At
                    // 2/λmax itself the stiffest direction neither shrinks nor grows.)
                    assert!(
                        row.iter().all(|&s| s == Status::Converged as u8),
                        "{backend}: row {i} neither converged nor diverged: {row:?}"
                    );
                }
                d == 5
            })
            .collect();
        let first = diverged.iter().position(|&d| d).expect("some rows diverge");
        assert!(
            diverged[first..].iter().all(|&d| d),
            "{backend}: trained again above the boundary: {diverged:?}"
        );
        assert!(first > 0, "{backend}: every row diverged");
        let found = lo + pixel * (first as f64 - 0.5);
        assert!(
            (found - critical).abs() <= pixel,
            "{backend}: boundary at lr {found}, 2/λmax = {critical} (a pixel is {pixel})"
        );
        let record = run_json(&out);
        assert_eq!(record["axes"][0]["kind"], "rate");
        assert!(record["summary"]["basins"].is_null());
        assert!(out.join("map.png").is_file() && out.join("boundary.json").is_file());
        assert!(!out.join("labels.npy").exists());
    }
}

#[test]
fn per_layer_log_rate_maps_score_and_merge_from_shards() {
    let dir = scratch("lrmap", "per-layer");
    let args = "map --model 2-2-1 --data xor:pm --origin random:2 --axis lr1=log:1e-2:3e1:12 --axis lr2=log:1e-2:3e1:10 --steps 400 --tol 1e-4 --no-basins --color score --backend cpu";
    let (merged, _) = crate::shard::whole_and_merged(&dir, args, 3);
    let (score, shape) =
        landscape::npy::read_exact::<f32>(&merged.join("score.npy")).expect("score");
    assert_eq!(shape, vec![12, 10]);
    let (status, _) = landscape::npy::read_exact::<u8>(&merged.join("status.npy")).expect("s");
    for (s, st) in score.iter().zip(&status) {
        assert!((-1.0..=1.0).contains(s), "score {s}");
        let diverged = *st == Status::Diverged as u8 || *st == Status::NonFinite as u8;
        assert_eq!(
            diverged,
            *s <= 0.0 && *st != Status::MaxSteps as u8,
            "{s} {st}"
        );
    }
    // The smallest rates train, the largest diverge.
    assert!(score[0] > 0.0 && score[score.len() - 1] < 0.0, "{score:?}");
    let record = run_json(&merged);
    assert_eq!(record["axes"][1]["layer"], 2);
    assert_eq!(record["axes"][1]["spacing"], "log");
    assert_eq!(record["arrays"]["score"]["file"], "score.npy");
}

#[test]
fn a_scale_axis_maps_the_start_times_each_value() {
    let dir = scratch("lrmap", "scale");
    ok(&landscape(&[
        "map",
        "--model",
        "2-2-1",
        "--data",
        "xor:pm",
        "--origin",
        "random:3",
        "--axis",
        "scale=0.25:4:6",
        "--axis",
        "lr=log:1e-2:1:5",
        "--steps",
        "300",
        "--no-basins",
        "--color",
        "status",
        "--backend",
        "cpu",
        "--zoom",
        "2",
        "--quiet",
        "--out",
        dir.to_str().expect("utf-8"),
    ]));
    let record = run_json(&dir);
    assert_eq!(record["axes"][0]["kind"], "scale");
    // Zoomed 2× about the middle: the log axis about its geometric middle (0.1).
    let lo = record["axes"][1]["lo"].as_f64().expect("lo");
    let hi = record["axes"][1]["hi"].as_f64().expect("hi");
    assert!((lo / 10f64.powf(-1.5) - 1.0).abs() < 1e-9, "{lo}");
    assert!((hi / 10f64.powf(-0.5) - 1.0).abs() < 1e-9, "{hi}");
}
