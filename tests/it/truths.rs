//! The truths SPEC says the tool must reproduce.

use crate::common::{cpu, gpu, model, random_data, random_points};
use landscape::analysis::lattice::local_extrema;
use landscape::analysis::symmetry::{GroupElement, group_order};
use landscape::backend::Backend;
use landscape::reference;
use landscape::rng::{Stream, word};
use landscape::spec::data::DataSource;
use landscape::spec::model::Activation;
use landscape::spec::slice::build_slice;

fn seed_example(backend: &mut dyn Backend) {
    let m = model("1-1-1", Activation::Linear, Activation::Linear, false);
    let data = DataSource::parse("point:x=1,y=1", &m).expect("data").data;
    let slice = build_slice(
        &m,
        None,
        Some("zeros"),
        &["dir:1,1=-1.5:1.5:301".into()],
        None,
    )
    .expect("slice");
    let eval = backend
        .evaluate_lattice(&m, &data, &slice, 0..slice.len(), false)
        .expect("evaluate");
    for (i, &l) in eval.loss.iter().enumerate() {
        // The lattice coordinate as float32 holds it (the nearest float32 to the exact value).
        let t = f64::from(slice.axes[0].value(i) as f32);
        let expected = (1.0 - t * t).powi(2);
        // A few float32 roundings of values up to (1 − 2.25)² ≈ 1.6.
        assert!(
            (f64::from(l) - expected).abs() <= 3e-7 * (1.0 + expected),
            "t = {t}: L = {l}, expected {expected}"
        );
    }
    assert_eq!(
        local_extrema(&eval.loss, &[301], false),
        vec![50, 250],
        "minima at t = ±1"
    );
    let maxima: Vec<usize> = local_extrema(&eval.loss, &[301], true)
        .into_iter()
        .filter(|&i| i > 0 && i < 300)
        .collect();
    assert_eq!(maxima, vec![150], "the maximum at t = 0");
    assert_eq!(
        (
            slice.axes[0].value(50),
            slice.axes[0].value(150),
            slice.axes[0].value(250)
        ),
        (-1.0, 0.0, 1.0)
    );
}

#[test]
fn seed_example_has_minima_at_plus_minus_one_and_a_maximum_at_zero_on_cpu() {
    seed_example(&mut cpu(0));
}

#[test]
fn seed_example_has_minima_at_plus_minus_one_and_a_maximum_at_zero_on_gpu() {
    if let Some(mut g) = gpu() {
        seed_example(&mut g);
    }
}

#[test]
fn permuted_and_flipped_hidden_units_leave_the_loss_unchanged() {
    let mut checked = 0;
    for (widths, act, bias) in [
        ("2-3-1", Activation::Tanh, true),
        ("2-3-1", Activation::Tanh, false),
        ("2-4-1", Activation::Linear, true),
        ("2-3-2", Activation::Sigmoid, true),
        ("3-3-3-1", Activation::Sigmoid, true),
        ("2-3-1", Activation::Sigmoid, false),
        ("2-4-3-1", Activation::Tanh, true),
        ("2-3-1", Activation::Relu, true),
        ("2-3-1", Activation::Softplus, true),
    ] {
        for out_act in [Activation::Linear, Activation::Sigmoid] {
            let m = model(widths, act, out_act, bias);
            let data = random_data(&m, 20, 1);
            let theta = random_points(&m, 1, 1.0, 2);
            let l0 = reference::loss(&m, &data, &theta);
            let mut k = 0u64;
            for trial in 0..20 {
                let g = GroupElement::random(&m, || {
                    k += 1;
                    word(trial, Stream::Start, k)
                });
                let moved = g.apply(&m, &theta);
                let l1 = reference::loss(&m, &data, &moved);
                assert!(
                    (l1 - l0).abs() <= 1e-12 * (1.0 + l0),
                    "{m}: L(g·θ) = {l1} ≠ L(θ) = {l0} for {g:?}"
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 9 * 2 * 20);
}

#[test]
fn a_sigmoid_flip_without_the_bias_compensation_changes_the_loss() {
    // The affine part of the sigmoid flip is needed: flipping (w, b, v) alone is not a symmetry.
    let m = model("2-3-1", Activation::Sigmoid, Activation::Linear, true);
    let data = random_data(&m, 20, 1);
    let theta = random_points(&m, 1, 1.0, 2);
    let mut naive = theta.clone();
    let lay = m.layout();
    for j in 0..2 {
        naive[lay[0].w + j] = -naive[lay[0].w + j];
    }
    naive[lay[0].b.expect("bias")] *= -1.0;
    naive[lay[1].w] *= -1.0;
    let (l0, l1) = (
        reference::loss(&m, &data, &theta),
        reference::loss(&m, &data, &naive),
    );
    assert!((l1 - l0).abs() > 1e-3, "{l0} vs {l1}");
    assert_eq!(group_order(&m), 48.0);
}
