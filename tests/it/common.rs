//! Shared test helpers: backends, random problems, tolerances.

use landscape::backend::cpu::{CpuBackend, Isa};
use landscape::backend::gpu::{GpuBackend, GpuContext};
use landscape::rng::{Stream, normal};
use landscape::spec::data::Dataset;
use landscape::spec::model::{Activation, Model};
use std::sync::Once;

/// The GPU backend on any adapter, with outputs poisoned before every dispatch (evaluation) or
/// chunk (walks). Without an adapter the test is skipped, unless LANDSCAPE_REQUIRE_GPU=1 (as in
/// CI) makes that a failure.
pub fn gpu() -> Option<GpuBackend> {
    match GpuContext::new(None, false) {
        Ok(ctx) => {
            static ONCE: Once = Once::new();
            ONCE.call_once(|| {
                eprintln!(
                    "GPU tests run on: {} ({:?})",
                    ctx.info.name, ctx.info.device_type
                )
            });
            let mut b = GpuBackend::new(ctx);
            b.eval_options.poison = true;
            b.descend_options.poison = true;
            Some(b)
        }
        Err(e) => {
            if std::env::var("LANDSCAPE_REQUIRE_GPU").is_ok_and(|v| v == "1") {
                panic!("LANDSCAPE_REQUIRE_GPU=1 but no GPU backend: {e}");
            }
            eprintln!("skipping GPU test: {e}");
            None
        }
    }
}

/// The instruction sets the CPU tests run: every one this processor has, after checking that
/// it has each one LANDSCAPE_REQUIRE_ISA names (`avx512`, `avx2`, comma-separated; CI sets it
/// where the processor has AVX-512), so that a run meant to cover one fails rather than skips it.
pub fn isas() -> Vec<Isa> {
    let available = Isa::available();
    for name in std::env::var("LANDSCAPE_REQUIRE_ISA")
        .unwrap_or_default()
        .split(',')
    {
        let name = name.trim();
        assert!(
            name.is_empty() || available.iter().any(|i| i.name() == name),
            "LANDSCAPE_REQUIRE_ISA names {name}, which this processor lacks (it runs {:?})",
            available.iter().map(|i| i.name()).collect::<Vec<_>>()
        );
    }
    available
}

/// The CPU backend on `threads` threads (0: all).
pub fn cpu(threads: usize) -> CpuBackend {
    CpuBackend::with_threads(threads)
}

/// The bits of `x`, every NaN as one (instruction sets may keep either operand's NaN payload
/// where an operation has two NaN inputs; the kernels give no meaning to payloads).
pub fn canonical_bits(x: f32) -> u32 {
    if x.is_nan() {
        f32::NAN.to_bits()
    } else {
        x.to_bits()
    }
}

/// A model from its flags.
pub fn model(widths: &str, act: Activation, out_act: Activation, bias: bool) -> Model {
    Model::new(widths, act, out_act, bias).expect("valid model")
}

/// Random data: inputs N(0, 1), targets in (−0.9, 0.9) so that every output activation reaches them.
pub fn random_data(model: &Model, n: usize, seed: u64) -> Dataset {
    let x = (0..n * model.inputs())
        .map(|i| normal(seed, Stream::DataInputs, i as u64))
        .collect();
    let y = (0..n * model.outputs())
        .map(|i| 0.9 * normal(seed, Stream::Noise, i as u64).tanh())
        .collect();
    Dataset::new(model.inputs(), model.outputs(), x, y).expect("consistent data")
}

/// `count` random points θ ~ N(0, σ²), row-major.
pub fn random_points(model: &Model, count: usize, sigma: f64, seed: u64) -> Vec<f64> {
    (0..count * model.parameter_count())
        .map(|i| sigma * normal(seed, Stream::Start, i as u64))
        .collect()
}

/// A named tolerance: |x − y| ≤ max(rel·(|x| + |y|), abs).
#[derive(Debug, Clone, Copy)]
pub struct Tol {
    pub rel: f64,
    pub abs: f64,
}

/// Asserts `actual` ≈ `expected` elementwise, printing index, values, difference and tolerance.
#[track_caller]
pub fn assert_close(what: &str, actual: &[f32], expected: &[f64], tol: Tol) {
    assert_eq!(actual.len(), expected.len(), "{what}: lengths differ");
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let a = f64::from(a);
        let bound = (tol.rel * (a.abs() + e.abs())).max(tol.abs);
        assert!(
            (a - e).abs() <= bound,
            "{what}[{i}]: actual {a:e}, expected {e:e}, difference {:e}, tolerance {bound:e}",
            (a - e).abs()
        );
    }
}

/// Runs the real binary with `args`.
pub fn landscape(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_landscape"))
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .expect("the binary runs")
}

/// A fresh, not yet existing directory for one test, under the target's temporary folder.
pub fn scratch(group: &str, name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(group)
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.parent().expect("parent")).expect("scratch parent");
    dir
}

/// Asserts that a run of the binary succeeded, showing its output if not.
#[track_caller]
pub fn ok(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A run directory's run.json.
pub fn run_json(dir: &std::path::Path) -> serde_json::Value {
    let path = dir.join("run.json");
    // Every record a test reads is first read as the typed record the library reads.
    if let Err(e) = landscape::record::RunRecord::read(&path) {
        panic!("{e}");
    }
    serde_json::from_str(&std::fs::read_to_string(&path).expect("run.json")).expect("valid JSON")
}
