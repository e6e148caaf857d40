//! The CPU and GPU backends against the float64 reference, on random models, data and points.

use crate::common::{
    Tol, assert_close, canonical_bits, cpu, gpu, model, random_data, random_points,
};
use landscape::backend::cpu::{CpuBackend, Isa};
use landscape::backend::{Backend, Evaluation};
use landscape::reference;
use landscape::spec::data::Dataset;
use landscape::spec::model::{Activation, Model};
use landscape::spec::slice::build_slice;

/// float32 accumulates ~N·P roundings of values of order 1–10; with N ≤ 40 samples the
/// relative error stays near 1e-5, so 1e-4 relative (5e-5 absolute near zero) leaves a margin
/// without hiding a wrong formula, whose errors are of order 1.
const F32_TOL: Tol = Tol {
    rel: 1e-4,
    abs: 5e-5,
};

fn models() -> Vec<Model> {
    let mut out = Vec::new();
    for (widths, bias) in [
        ("2-3-1", true),
        ("1-4-1", false),
        ("2-2-1", false),
        ("3-2-1", true),
        ("4-6-1", true),
        ("3-5-2", false),
        ("2-4-3-1", true),
        ("1-1", true),
        ("4-2", false),
    ] {
        for act in Activation::ALL {
            let out_act = [Activation::Linear, Activation::Sigmoid, Activation::Tanh]
                [act.code() as usize % 3];
            out.push(model(widths, act, out_act, bias));
        }
    }
    out
}

/// f64 loss, gradient norm and gradient at row-major points.
fn reference_at(m: &Model, data: &Dataset, points: &[f64]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let p = m.parameter_count();
    let (mut loss, mut norm, mut grad) = (Vec::new(), Vec::new(), Vec::new());
    for theta in points.chunks(p) {
        // The backends see θ rounded to float32; the reference starts from the same point.
        let theta: Vec<f64> = theta.iter().map(|&v| f64::from(v as f32)).collect();
        let (l, g) = reference::loss_and_gradient(m, data, &theta);
        loss.push(l);
        norm.push(g.iter().map(|v| v * v).sum::<f64>().sqrt());
        grad.extend(g);
    }
    (loss, norm, grad)
}

fn check_points(backend: &mut dyn Backend) {
    for (k, m) in models().iter().enumerate() {
        let data = random_data(m, 37, k as u64);
        // 157 points: not a multiple of the workgroup size.
        let points = random_points(m, 157, 0.8, 100 + k as u64);
        let eval = backend
            .evaluate_points(m, &data, &points, true)
            .expect("evaluate");
        let (loss, norm, grad) = reference_at(m, &data, &points);
        let what = format!("{} on {m}", backend.info());
        assert_close(&format!("loss, {what}"), &eval.loss, &loss, F32_TOL);
        assert_close(
            &format!("grad_norm, {what}"),
            &eval.grad_norm,
            &norm,
            F32_TOL,
        );
        assert_close(
            &format!("grad, {what}"),
            eval.grad.as_deref().expect("grad kept"),
            &grad,
            F32_TOL,
        );
    }
}

fn check_lattice(backend: &mut dyn Backend) {
    let m = model("2-3-1", Activation::Tanh, Activation::Linear, true);
    let data = random_data(&m, 29, 5);
    let axes = [
        "w1[0,0]=-3:3:7".to_string(),
        "random:4=-1:1:11".into(),
        "b2[0]=-2:2:13".into(),
    ];
    let slice = build_slice(&m, None, Some("random:2"), &axes, None).expect("slice");
    // A range that starts inside the lattice, as a shard would.
    let range = 17..slice.len();
    let eval = backend
        .evaluate_lattice(&m, &data, &slice, range.clone(), true)
        .expect("evaluate");
    let points: Vec<f64> = range.flat_map(|g| slice.point(g)).collect();
    let (loss, norm, grad) = reference_at(&m, &data, &points);
    let what = backend.info().to_string();
    // Lattice points are built in float32 on the backends (lo + step·i, origin + t·d), so θ
    // itself differs from the float64 point by a few ulps; 3e-4 covers its effect on L.
    let tol = Tol {
        rel: 3e-4,
        abs: 1e-4,
    };
    assert_close(&format!("lattice loss, {what}"), &eval.loss, &loss, tol);
    assert_close(
        &format!("lattice grad_norm, {what}"),
        &eval.grad_norm,
        &norm,
        tol,
    );
    assert_close(
        &format!("lattice grad, {what}"),
        eval.grad.as_deref().expect("grad"),
        &grad,
        tol,
    );
}

/// The CPU backend on every instruction set this processor runs (shape-specialised kernels for
/// the one-hidden-layer models with one output, the general kernel for the others).
fn cpu_variants() -> Vec<CpuBackend> {
    crate::common::isas()
        .into_iter()
        .map(|isa| CpuBackend::with_options(0, isa))
        .collect()
}

#[test]
fn cpu_evaluation_should_match_reference_backend() {
    for mut b in cpu_variants() {
        check_points(&mut b);
    }
}

#[test]
fn fused_instruction_sets_evaluate_bit_for_bit_alike() {
    // AVX-512 and AVX2 run the same operations per lane (see walk.rs): every model, points and
    // lattices, with and without activation reuse, must give the same bits on both.
    let fused: Vec<Isa> = crate::common::isas()
        .into_iter()
        .filter(|i| i.fused())
        .collect();
    let bits = |e: &Evaluation| -> Vec<u32> {
        [&e.loss, &e.grad_norm, e.grad.as_ref().expect("grad")]
            .into_iter()
            .flatten()
            .map(|&x| canonical_bits(x))
            .collect()
    };
    for (k, m) in models().iter().enumerate() {
        let data = random_data(m, 19, 200 + k as u64);
        let points = random_points(m, 53, 2.0, 300 + k as u64);
        let axes = ["w1[0,0]=-2:2:9".to_string(), "random:4=-1:1:11".to_string()];
        let slice = build_slice(m, None, Some("random:5"), &axes, None).expect("slice");
        let mut first: Option<(Isa, Vec<u32>)> = None;
        for &isa in &fused {
            let mut got = Vec::new();
            for reuse in [true, false] {
                let mut b = CpuBackend::with_options(0, isa).with_reuse(reuse);
                got.extend(bits(
                    &b.evaluate_points(m, &data, &points, true).expect("points"),
                ));
                let lattice = b
                    .evaluate_lattice(m, &data, &slice, 0..slice.len(), true)
                    .expect("lattice");
                got.extend(bits(&lattice));
            }
            match &first {
                None => first = Some((isa, got)),
                Some((isa0, want)) => assert!(
                    &got == want,
                    "{m}: {} and {} evaluations differ",
                    isa.name(),
                    isa0.name()
                ),
            }
        }
    }
}

#[test]
fn gpu_evaluation_should_match_reference_backend() {
    if let Some(mut g) = gpu() {
        check_points(&mut g);
    }
}

#[test]
fn cpu_lattice_should_match_reference_backend() {
    for mut b in cpu_variants() {
        check_lattice(&mut b);
    }
}

#[test]
fn gpu_lattice_in_several_chunks_should_match_reference_backend() {
    if let Some(mut g) = gpu() {
        // 1001 − 17 points in chunks of 100: ten dispatches, the last one partial.
        g.eval_options.max_chunk_points = Some(100);
        check_lattice(&mut g);
    }
}

#[test]
fn cpu_results_do_not_depend_on_the_thread_count() {
    let m = model("2-4-3-1", Activation::Softplus, Activation::Sigmoid, true);
    let data = random_data(&m, 23, 9);
    let points = random_points(&m, 1000, 1.0, 3);
    let one = cpu(1)
        .evaluate_points(&m, &data, &points, true)
        .expect("1 thread");
    let two = cpu(2)
        .evaluate_points(&m, &data, &points, true)
        .expect("2 threads");
    let five = cpu(5)
        .evaluate_points(&m, &data, &points, true)
        .expect("5 threads");
    assert_eq!(one, two);
    assert_eq!(one, five);
}

#[test]
fn gpu_results_do_not_depend_on_the_chunk_size() {
    let Some(mut g) = gpu() else { return };
    let m = model("2-3-1", Activation::Tanh, Activation::Linear, true);
    let data = random_data(&m, 16, 2);
    let slice = build_slice(
        &m,
        None,
        Some("random:1"),
        &["w1[0,0]=-3:3:50".into(), "w1[1,1]=-3:3:41".into()],
        None,
    )
    .expect("slice");
    let whole = g
        .evaluate_lattice(&m, &data, &slice, 0..slice.len(), true)
        .expect("one chunk");
    g.eval_options.max_chunk_points = Some(333);
    let chunked = g
        .evaluate_lattice(&m, &data, &slice, 0..slice.len(), true)
        .expect("chunks");
    assert_eq!(whole, chunked);
}

#[test]
fn gpu_and_cpu_agree_on_a_lattice() {
    let Some(mut g) = gpu() else { return };
    let m = model("2-3-1", Activation::Tanh, Activation::Linear, true);
    let data = random_data(&m, 64, 8);
    let slice = build_slice(
        &m,
        None,
        Some("random:5"),
        &["w1[0,0]=-3:3:65".into(), "w2[0,1]=-3:3:63".into()],
        None,
    )
    .expect("slice");
    let a = g
        .evaluate_lattice(&m, &data, &slice, 0..slice.len(), false)
        .expect("gpu");
    let b = cpu(0)
        .evaluate_lattice(&m, &data, &slice, 0..slice.len(), false)
        .expect("cpu");
    let b64: Vec<f64> = b.loss.iter().map(|&v| f64::from(v)).collect();
    assert_close("gpu vs cpu loss", &a.loss, &b64, F32_TOL);
    assert!(a.grad.is_none() && b.grad.is_none());
}

/// Thousands of samples in one invocation: software adapters cap an invocation's loop
/// iterations (llvmpipe stops every loop after 65 535 in total), which once truncated the sum
/// over samples silently.
#[test]
fn gpu_evaluation_over_thousands_of_samples_should_match_reference_backend() {
    let Some(mut g) = gpu() else { return };
    let m = model("2-30-1", Activation::Tanh, Activation::Linear, true);
    let data = random_data(&m, 3000, 77);
    let points = random_points(&m, 70, 0.5, 78);
    let eval = g
        .evaluate_points(&m, &data, &points, true)
        .expect("evaluate");
    let (loss, norm, grad) = reference_at(&m, &data, &points);
    // 3000 float32 terms per sum: relative rounding error up to ~1e-4 in the worst case.
    let tol = Tol {
        rel: 3e-4,
        abs: 1e-4,
    };
    assert_close("loss, 3000 samples", &eval.loss, &loss, tol);
    assert_close("grad_norm, 3000 samples", &eval.grad_norm, &norm, tol);
    assert_close(
        "grad, 3000 samples",
        eval.grad.as_deref().expect("grad"),
        &grad,
        tol,
    );
}

/// Lattice evaluation with hidden activations reused along rows and columns (`eval::Reuse`)
/// gives the results of computing everything at every point, bit for bit: on planes that fix
/// some units, move one with the fastest axis only, or move it with two axes; with row lengths
/// that are not multiples of the lane count, ranges that start at a row's start (blocks of
/// lanes aligned with the tables of `Column` units) or inside a row (not aligned), every
/// activation and every instruction set.
#[test]
fn cpu_lattice_reuse_changes_no_bit() {
    let lattices: [&[&str]; 6] = [
        // SPEC's W2 plane: unit 0 per row, unit 1 per column, unit 2 fixed.
        &["w1[0,0]=-3:3:9", "w1[1,1]=-3:3:45"],
        // Both axes on unit 0: computed at every point; the others fixed.
        &["w1[0,0]=-2:2:7", "b1[0]=-1:1:40"],
        // Output weights only: every hidden unit fixed.
        &["w2[0,1]=-2:2:6", "b2[0]=-1:1:35"],
        // A random direction moves every unit, with the last axis on unit 1.
        &["w1[2,1]=-1:1:3", "random:3=-1:1:4", "w1[1,0]=-2:2:33"],
        // One axis: a curve.
        &["w1[1,0]=-2:2:50"],
        // A direction along the last axis.
        &["w1[0,1]=-1:1:5", "random:7=-1:1:37"],
    ];
    let models = [
        model("2-3-1", Activation::Tanh, Activation::Linear, true),
        model("2-3-1", Activation::Sigmoid, Activation::Tanh, false),
        model("2-3-1", Activation::Softplus, Activation::Sigmoid, true),
        model("2-3-1", Activation::Relu, Activation::Linear, true),
    ];
    for isa in crate::common::isas() {
        for (k, m) in models.iter().enumerate() {
            let data = random_data(m, 41, 7 + k as u64);
            for (j, axes) in lattices.iter().enumerate() {
                if !m.bias && axes.iter().any(|a| a.starts_with('b')) {
                    continue;
                }
                let axes: Vec<String> = axes.iter().map(|a| a.to_string()).collect();
                let slice = build_slice(m, None, Some("random:5"), &axes, None).expect("slice");
                for start in [0, 3 + j as u64] {
                    let range = start..slice.len();
                    let with = CpuBackend::with_options(0, isa)
                        .evaluate_lattice(m, &data, &slice, range.clone(), true)
                        .expect("with reuse");
                    let without = CpuBackend::with_options(0, isa)
                        .with_reuse(false)
                        .evaluate_lattice(m, &data, &slice, range, true)
                        .expect("without reuse");
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    let what = format!("{m}, {axes:?}, from {start}, {}", isa.name());
                    assert_eq!(bits(&with.loss), bits(&without.loss), "loss, {what}");
                    assert_eq!(
                        bits(&with.grad_norm),
                        bits(&without.grad_norm),
                        "grad_norm, {what}"
                    );
                    assert_eq!(
                        bits(with.grad.as_deref().expect("grad")),
                        bits(without.grad.as_deref().expect("grad")),
                        "grad, {what}"
                    );
                }
            }
        }
    }
}

/// How the GPU kernels are compiled — workgroup size (including sizes that are not powers of
/// two and a single invocation), data read from storage or staged in workgroup memory, hidden
/// units shared along lattice rows or computed per point — changes no bit of the lattice or
/// point evaluations: on several models and activations, lattices whose rows are not multiples
/// of the workgroup sizes, ranges and chunks that start and end inside rows. Writing the loops
/// over the parameters out changes no bit on llvmpipe; a driver may contract multiplies and
/// adds differently in the two forms (NVIDIA's does), so between them the values agree to float32
/// rounding.
#[test]
fn gpu_kernel_variants_change_no_bit_of_evaluations() {
    let Some(mut g) = gpu() else { return };
    // (workgroup size, staging, row sharing, unrolled); the first is the portable reference.
    let variants = [
        (64, false, false, false),
        (64, false, false, true),
        (64, false, true, false),
        (64, true, true, true),
        (32, true, true, false),
        (100, false, true, true),
        (256, true, false, true),
        (1, true, true, true),
    ];
    // Rows of 250 points: sharing applies at every size above (at most a quarter idle).
    let tanh = model("2-3-1", Activation::Tanh, Activation::Linear, true);
    let sigmoid = model("3-4-1", Activation::Sigmoid, Activation::Linear, true);
    let lattices = [
        // W2's plane: units 0 and 2 shared along rows, unit 1 per point.
        (
            tanh.clone(),
            build_slice(
                &tanh,
                None,
                Some("random:2"),
                &["w1[0,0]=-3:3:9".into(), "w1[1,1]=-3:3:250".into()],
                None,
            )
            .expect("slice"),
        ),
        // Three axes, one a random direction: units 0, 1 and 3 shared, unit 2 per point.
        (
            sigmoid.clone(),
            build_slice(
                &sigmoid,
                None,
                Some("random:3"),
                &[
                    "b1[0]=-1:1:3".into(),
                    "random:1=-1:1:4".into(),
                    "w1[2,0]=-2:2:250".into(),
                ],
                None,
            )
            .expect("slice"),
        ),
    ];
    let cases: Vec<(Model, Dataset, Vec<f64>)> = models()
        .into_iter()
        .step_by(3)
        .enumerate()
        .map(|(k, m)| {
            let data = random_data(&m, 37, 40 + k as u64);
            let points = random_points(&m, 157, 0.8, 60 + k as u64);
            (m, data, points)
        })
        .collect();
    // The first result of each form of the loops: later ones must match it bit for bit.
    let mut first: [Option<(Vec<Evaluation>, Vec<Evaluation>)>; 2] = [None, None];
    for (size, stage, share, unroll) in variants {
        for chunk in [None, Some(333)] {
            let ctx = g.context_mut();
            ctx.workgroup_size = size;
            ctx.stage_data = stage;
            ctx.share_rows = share;
            ctx.unroll_loops = unroll;
            // The data sets here are small enough to be staged whenever staging is on.
            assert_eq!(ctx.variant(29 * 4).staged > 0, stage);
            g.eval_options.max_chunk_points = chunk;
            let lattice: Vec<_> = lattices
                .iter()
                .enumerate()
                .map(|(k, (m, slice))| {
                    let data = random_data(m, 29, 5 + k as u64);
                    g.evaluate_lattice(m, &data, slice, 5..slice.len() - 7, true)
                        .expect("lattice")
                })
                .collect();
            let points: Vec<_> = cases
                .iter()
                .map(|(m, data, points)| g.evaluate_points(m, data, points, true).expect("points"))
                .collect();
            let what = format!(
                "workgroup {size}, staged {stage}, shared rows {share}, unrolled {unroll}, \
                 chunk {chunk:?}"
            );
            match &first[usize::from(unroll)] {
                None => first[usize::from(unroll)] = Some((lattice, points)),
                Some((l0, p0)) => {
                    assert_eq!(&lattice, l0, "lattices, {what}");
                    assert_eq!(&points, p0, "points, {what}");
                }
            }
        }
    }
    let [Some((l_loops, p_loops)), Some((l_unrolled, p_unrolled))] = &first else {
        panic!("both forms of the loops ran");
    };
    for (a, b) in l_loops
        .iter()
        .chain(p_loops)
        .zip(l_unrolled.iter().chain(p_unrolled))
    {
        let close = |x: &[f32], y: &[f32], what: &str| {
            let scale = x.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
            for (k, (u, v)) in x.iter().zip(y).enumerate() {
                assert!(
                    (u - v).abs() <= 1e-5 * scale,
                    "{what} {k}: {u} with loops, {v} unrolled"
                );
            }
        };
        close(&a.loss, &b.loss, "L");
        close(&a.grad_norm, &b.grad_norm, "‖∇L‖");
        if let (Some(x), Some(y)) = (&a.grad, &b.grad) {
            close(x, y, "∇L");
        }
    }
}
