//! Walkers on both backends: trajectories against float64, determinism under chunking and
//! threads, every status reachable, traces.

use crate::common::{
    Tol, assert_close, canonical_bits, cpu, gpu, model, random_data, random_points,
};
use landscape::backend::cpu::{CpuBackend, Isa};
use landscape::backend::gpu::{DescendOptions, GpuBackend};
use landscape::backend::{Backend, WalkOutput};
use landscape::reference;
use landscape::spec::data::{DataSource, Dataset};
use landscape::spec::model::{Activation, Model};
use landscape::spec::walk::{Status, WalkSettings};
use std::sync::atomic::{AtomicU64, Ordering};

fn f32s(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}

const SETTINGS: WalkSettings = WalkSettings {
    lr: 0.05,
    momentum: 0.0,
    steps: 300,
    tol: 1e-6,
    diverge: 1e4,
};

fn trajectories_match_reference(backend: &mut dyn Backend) {
    let cases = [
        (
            model("2-3-1", Activation::Tanh, Activation::Linear, true),
            0.0,
        ),
        (
            model("2-2-2", Activation::Sigmoid, Activation::Sigmoid, true),
            0.5,
        ),
        (
            model("3-4-3-1", Activation::Softplus, Activation::Tanh, false),
            0.9,
        ),
        (
            model("2-1", Activation::Tanh, Activation::Linear, true),
            0.0,
        ),
        (
            model("3-5-1", Activation::Relu, Activation::Linear, false),
            0.3,
        ),
    ];
    for (k, (m, momentum)) in cases.iter().enumerate() {
        let data = random_data(m, 13, 40 + k as u64);
        // 37 walkers: neither a multiple of the CPU lanes nor of the workgroup size.
        let starts = f32s(&random_points(m, 37, 0.7, 50 + k as u64));
        let s = WalkSettings {
            momentum: *momentum,
            lr: 0.02,
            ..SETTINGS
        };
        let out = backend
            .walk(m, &data, &starts, &s, None, &|_| {})
            .expect("walk");
        let p = m.parameter_count();
        let mut expected = Vec::new();
        let (mut loss, mut norm) = (Vec::new(), Vec::new());
        for w in 0..37 {
            let start: Vec<f64> = starts[w * p..(w + 1) * p]
                .iter()
                .map(|&v| f64::from(v))
                .collect();
            let end = reference::walk(m, &data, &start, &s);
            assert_eq!(out.status[w], end.status as u32, "{m}, walker {w}: status");
            assert_eq!(out.steps[w], end.steps, "{m}, walker {w}: steps");
            expected.extend(end.theta);
            loss.push(end.loss);
            norm.push(end.grad_norm);
        }
        // 300 float32 steps at lr 0.02: rounding errors of ~1e-7 per step, amplified by at most
        // (1 + lr·|λ|)^300 along negative-curvature directions; 2e-4 bounds that for these
        // well-conditioned problems while a wrong update rule is off by order 1.
        let tol = Tol {
            rel: 2e-4,
            abs: 2e-4,
        };
        let on = format!("on {}, {m}", backend.info());
        assert_close(&format!("endpoints {on}"), &out.endpoints, &expected, tol);
        assert_close(&format!("L at the ends {on}"), &out.loss, &loss, tol);
        assert_close(
            &format!("‖∇L‖ at the ends {on}"),
            &out.grad_norm,
            &norm,
            tol,
        );
    }
}

#[test]
fn cpu_walkers_should_match_reference_backend() {
    // Every instruction set this processor runs: the shape-specialised kernels (2-3-1, 3-5-1)
    // and the general one (the others).
    for isa in crate::common::isas() {
        trajectories_match_reference(&mut CpuBackend::with_options(0, isa));
    }
}

/// Bits of every number a walk returns (NaN-safe, unlike `==` on floats).
fn walk_bits(out: &WalkOutput) -> Vec<u32> {
    let mut bits: Vec<u32> = [&out.endpoints, &out.loss, &out.grad_norm]
        .into_iter()
        .flatten()
        .map(|x| canonical_bits(*x))
        .collect();
    bits.extend(&out.steps);
    bits.extend(&out.status);
    bits
}

#[test]
fn fused_instruction_sets_walk_bit_for_bit_alike() {
    // AVX-512 and AVX2 (16 lanes per call either way, written with each set's intrinsics) run
    // the same operations per lane: where the processor has both, every bit must agree, on the
    // shape-specialised kernels (2-3-1, 3-5-1) and the general one.
    let fused: Vec<Isa> = crate::common::isas()
        .into_iter()
        .filter(|i| i.fused())
        .collect();
    let cases = [
        ("2-3-1", Activation::Tanh, Activation::Linear, true, 0.0),
        (
            "3-5-1",
            Activation::Softplus,
            Activation::Linear,
            false,
            0.5,
        ),
        ("3-4-3-1", Activation::Sigmoid, Activation::Tanh, true, 0.9),
        ("2-6-2", Activation::Relu, Activation::Linear, true, 0.0),
    ];
    for (k, (widths, act, out_act, bias, momentum)) in cases.into_iter().enumerate() {
        let m = model(widths, act, out_act, bias);
        let data = random_data(&m, 11, 70 + k as u64);
        // 45 walkers, some of them far out so that a few diverge or stall.
        let mut starts = f32s(&random_points(&m, 45, 1.5, 80 + k as u64));
        starts[..m.parameter_count()].fill(40.0);
        let s = WalkSettings {
            momentum,
            lr: 0.1,
            steps: 400,
            tol: 1e-4,
            ..SETTINGS
        };
        let runs: Vec<(Isa, Vec<u32>)> = fused
            .iter()
            .map(|&isa| {
                let out = CpuBackend::with_options(0, isa)
                    .walk(&m, &data, &starts, &s, Some(100), &|_| {})
                    .expect("walk");
                let mut bits = walk_bits(&out);
                bits.extend(out.trace.expect("trace").iter().map(|&x| canonical_bits(x)));
                (isa, bits)
            })
            .collect();
        for (isa, bits) in &runs[1..] {
            assert!(
                bits == &runs[0].1,
                "{m}: {} and {} walks differ",
                isa.name(),
                runs[0].0.name()
            );
        }
    }
}

#[test]
fn cpu_walks_take_the_same_steps_with_and_without_a_trace() {
    // Without a trace, the tanh–linear networks' walkers on the fused instruction sets step in
    // the network's own loop (θ in registers, samples in blocks of four) until one of them
    // would stop; with a trace, every step goes through the general loop. Both must give the
    // same bits: walkers that converge, stall, diverge or start non-finite at different steps
    // (45 walkers, not a multiple of the 16 lanes; 11 samples, not a multiple of the block),
    // plain descent and momentum, with and without biases.
    // The register loop skips ‖∇L‖ while bounds on ‖θ‖∞ and the gradient's largest part show
    // that no walker stops; near the tolerance it forms ‖∇L‖ and tests it; with tol 0 (W1's
    // setting) and four samples (one block) only the bounds run until θ leaves them. The 2-3-1
    // network with biases and plain descent takes the AVX-512 assembly (`asm231`) where the
    // processor has it, with one, four, five and eleven samples.
    let cases = [
        ("2-3-1", true, 0.0, 11, 1e-3),
        ("2-3-1", true, 0.9, 11, 1e-3),
        ("2-3-1", false, 0.5, 11, 1e-3),
        ("1-2-1", false, 0.0, 11, 1e-3),
        ("1-4-1", true, 0.0, 11, 1e-3),
        ("4-2-1", true, 0.0, 11, 1e-3),
        ("3-5-1", false, 0.5, 11, 1e-3),
        ("2-3-1", true, 0.0, 4, 0.0),
        ("2-3-1", false, 0.0, 4, 2e-2),
        ("2-3-1", true, 0.0, 1, 1e-3),
        ("2-3-1", true, 0.0, 5, 0.0),
    ];
    for (k, (widths, bias, momentum, samples, tol)) in cases.into_iter().enumerate() {
        let m = model(widths, Activation::Tanh, Activation::Linear, bias);
        let p = m.parameter_count();
        let data = random_data(&m, samples, 90 + k as u64);
        let mut starts = f32s(&random_points(&m, 45, 1.5, 95 + k as u64));
        starts[..p].fill(40.0);
        starts[p] = f32::NAN;
        starts[2 * p + 1] = f32::INFINITY;
        let s = WalkSettings {
            momentum,
            lr: 0.2,
            steps: 400,
            tol,
            diverge: 60.0,
        };
        for isa in crate::common::isas() {
            let mut b = CpuBackend::with_options(0, isa);
            let plain = b.walk(&m, &data, &starts, &s, None, &|_| {}).expect("walk");
            let traced = b
                .walk(&m, &data, &starts, &s, Some(7), &|_| {})
                .expect("walk");
            assert!(
                walk_bits(&plain) == walk_bits(&traced),
                "{m}, momentum {momentum}, {}: walks with and without a trace differ",
                isa.name()
            );
            let statuses: std::collections::BTreeSet<u32> = plain.status.iter().copied().collect();
            // Non-finite at step 0 and at least one other: lanes stop at different steps.
            assert!(statuses.len() >= 2, "{m}: statuses {statuses:?}");
        }
    }
}

#[test]
fn cpu_walkers_at_a_fixed_point_retire_without_changing_a_bit() {
    // A walker whose last step left θ (and its velocity) bit for bit where it was repeats that
    // step to the end of its budget, so the CPU retires it and gives its lane to the next
    // walker; the results must be those of taking every step, on every instruction set and
    // thread count, for W1's network (the assembly on AVX-512, its own loop on the fused sets,
    // the general step elsewhere) and others, among them networks of the general kernel (two
    // hidden layers; a sigmoid), with walkers that stop for every reason at different steps and
    // budgets that are not whole segments. On XOR (no samples drawn) walkers reach fixed points.
    let (_, xor, w1_starts) = w1_like();
    let cases = [
        ("2-3-1", Activation::Tanh, true, 0.0, 0, 0.0, 997),
        ("2-3-1", Activation::Tanh, true, 0.0, 11, 1e-5, 1200),
        ("2-3-1", Activation::Tanh, true, 0.9, 11, 0.0, 1500),
        ("2-3-1", Activation::Tanh, false, 0.0, 5, 0.0, 1000),
        ("1-4-1", Activation::Tanh, true, 0.0, 11, 0.0, 801),
        ("3-5-1", Activation::Tanh, false, 0.0, 7, 0.0, 700),
        ("2-3-3-1", Activation::Tanh, true, 0.0, 0, 0.0, 611),
        ("2-3-1", Activation::Sigmoid, true, 0.0, 0, 0.0, 2503),
    ];
    for (k, (widths, act, bias, momentum, samples, tol, steps)) in cases.into_iter().enumerate() {
        let m = model(widths, act, Activation::Linear, bias);
        let p = m.parameter_count();
        let (data, mut starts) = if samples == 0 && widths == "2-3-1" && act == Activation::Tanh {
            (xor.clone(), w1_starts.clone())
        } else if samples == 0 {
            let xor = DataSource::parse("xor:pm", &m).expect("xor").data;
            (xor, f32s(&random_points(&m, 301, 1.0, 140 + k as u64)))
        } else {
            let data = random_data(&m, samples, 130 + k as u64);
            (data, f32s(&random_points(&m, 301, 1.0, 140 + k as u64)))
        };
        starts[..p].fill(40.0);
        starts[p] = f32::NAN;
        let s = WalkSettings {
            momentum,
            lr: 0.1,
            steps,
            tol,
            diverge: 60.0,
        };
        for isa in crate::common::isas() {
            let every = CpuBackend::with_options(2, isa)
                .with_retire(false)
                .walk(&m, &data, &starts, &s, None, &|_| {})
                .expect("walk");
            let total: u64 = every.steps.iter().map(|&x| u64::from(x)).sum();
            for threads in [1, 3] {
                let mut b = CpuBackend::with_options(threads, isa);
                let done = AtomicU64::new(0);
                let out = b
                    .walk(&m, &data, &starts, &s, None, &|w| {
                        done.fetch_add(w, Ordering::Relaxed);
                    })
                    .expect("walk");
                assert!(
                    walk_bits(&out) == walk_bits(&every),
                    "{m}, momentum {momentum}, {}, {threads} threads: retiring changed the walk",
                    isa.name()
                );
                assert_eq!(
                    done.load(Ordering::Relaxed),
                    301 * u64::from(steps),
                    "{m}: progress"
                );
                assert!(b.computed_steps() <= total);
                // On XOR walkers retire, in the network's own loop and in the general step:
                // about half of W1's steps at lr 0.1 are steps at a fixed point.
                if samples == 0 {
                    assert!(
                        (b.computed_steps() as f64) < 0.9 * total as f64,
                        "{m}, {}: {} of {total} steps computed: no walker retired",
                        isa.name(),
                        b.computed_steps()
                    );
                }
            }
        }
    }
}

#[test]
fn gpu_walkers_should_match_reference_backend() {
    if let Some(mut g) = gpu() {
        trajectories_match_reference(&mut g);
    }
}

fn w1_like() -> (Model, Dataset, Vec<f32>) {
    let m = model("2-3-1", Activation::Tanh, Activation::Linear, true);
    let data = DataSource::parse("xor:pm", &m).expect("xor").data;
    let starts = f32s(&random_points(&m, 301, 1.0, 9));
    (m, data, starts)
}

#[test]
fn cpu_walks_do_not_depend_on_the_thread_count() {
    let (m, data, starts) = w1_like();
    let s = WalkSettings {
        steps: 500,
        tol: 1e-4,
        ..SETTINGS
    };
    let one = cpu(1)
        .walk(&m, &data, &starts, &s, Some(50), &|_| {})
        .expect("1 thread");
    let two = cpu(2)
        .walk(&m, &data, &starts, &s, Some(50), &|_| {})
        .expect("2 threads");
    let three = cpu(3)
        .walk(&m, &data, &starts, &s, Some(50), &|_| {})
        .expect("3 threads");
    assert_eq!(one, two);
    assert_eq!(one, three);
}

/// A GPU walk of `starts`, checking that its progress adds up to every walker-step.
fn gpu_walk(
    g: &mut GpuBackend,
    (m, data, starts): &(Model, Dataset, Vec<f32>),
    s: &WalkSettings,
    trace: Option<u32>,
) -> WalkOutput {
    let done = AtomicU64::new(0);
    let out = g
        .walk(m, data, starts, s, trace, &|w| {
            done.fetch_add(w, Ordering::Relaxed);
        })
        .expect("walk");
    let walkers = (starts.len() / m.parameter_count()) as u64;
    assert_eq!(
        done.into_inner(),
        walkers * u64::from(s.steps),
        "progress counts every walker-step once"
    );
    out
}

#[test]
fn gpu_walks_do_not_depend_on_chunks_or_dispatch_length() {
    let Some(mut g) = gpu() else { return };
    let problem = w1_like();
    let s = WalkSettings {
        steps: 500,
        tol: 1e-4,
        ..SETTINGS
    };
    let whole = gpu_walk(&mut g, &problem, &s, None);
    let traced = gpu_walk(&mut g, &problem, &s, Some(50));
    assert!(traced.trace.is_some());
    assert_eq!(
        WalkOutput {
            trace: None,
            ..traced.clone()
        },
        whole,
        "a trace changes no step"
    );
    // 301 walkers in chunks of 50 (at most 100, halved for the two buffer sets): seven chunks,
    // each read back while the next runs.
    g.descend_options.max_chunk_walkers = Some(100);
    g.descend_options.max_dispatch_steps = Some(7);
    assert_eq!(gpu_walk(&mut g, &problem, &s, None), whole);
    assert_eq!(gpu_walk(&mut g, &problem, &s, Some(50)), traced);
    // One chunk of 301 with dispatches of one step.
    g.descend_options.max_chunk_walkers = None;
    g.descend_options.max_dispatch_steps = Some(1);
    assert_eq!(gpu_walk(&mut g, &problem, &s, None), whole);
}

/// Lanes that take walkers from a queue, and walkers at a fixed point that retire, change no
/// bit of a walk: against one walker an invocation, with any number of lanes (one, a count no
/// workgroup divides, more than walkers), in chunks and short dispatches, with momentum, with
/// walkers that stop for every reason, and with a trace (which turns retirement off).
#[test]
fn gpu_walkers_from_a_queue_and_at_a_fixed_point_change_no_bit() {
    let Some(mut g) = gpu() else { return };
    let problem = w1_like();
    for (s, fixed_points) in [
        // W1's settings: many walkers reach a fixed point of the float32 step.
        (
            WalkSettings {
                steps: 700,
                tol: 0.0,
                diverge: 1e30,
                ..SETTINGS
            },
            true,
        ),
        (
            WalkSettings {
                steps: 500,
                tol: 1e-3,
                lr: 0.4,
                diverge: 3.0,
                ..SETTINGS
            },
            false,
        ),
        (
            WalkSettings {
                steps: 600,
                tol: 0.0,
                momentum: 0.5,
                diverge: 1e30,
                ..SETTINGS
            },
            true,
        ),
    ] {
        g.descend_options = DescendOptions {
            queued: Some(false),
            poison: true,
            ..DescendOptions::default()
        };
        let one = gpu_walk(&mut g, &problem, &s, None);
        let traced = gpu_walk(&mut g, &problem, &s, Some(100));
        assert_eq!(g.retired_walkers(), 0);
        let statuses: std::collections::BTreeSet<u32> = one.status.iter().copied().collect();
        assert!(
            fixed_points || statuses.len() >= 3,
            "walkers end in several ways: {statuses:?}"
        );
        for (lanes, chunk, dispatch, retire) in [
            (None, None, None, false),
            (None, None, None, true),
            (Some(1), None, None, true),
            (Some(37), None, None, true),
            (Some(37), Some(120), Some(45), true),
            (Some(1000), None, Some(64), true),
        ] {
            g.descend_options = DescendOptions {
                queued: Some(true),
                no_retire: !retire,
                max_lanes: lanes,
                max_chunk_walkers: chunk,
                max_dispatch_steps: dispatch,
                poison: true,
            };
            let what = format!(
                "{s:?}, lanes {lanes:?}, chunks {chunk:?}, dispatch {dispatch:?}, retire {retire}"
            );
            assert_eq!(gpu_walk(&mut g, &problem, &s, None), one, "{what}");
            let retired = g.retired_walkers();
            if retire && fixed_points {
                assert!(retired > 30, "{what}: {retired} walkers retired");
            } else if !retire {
                assert_eq!(retired, 0, "{what}");
            }
            assert_eq!(
                gpu_walk(&mut g, &problem, &s, Some(100)),
                traced,
                "{what}, traced"
            );
            assert_eq!(g.retired_walkers(), 0, "a trace takes every step");
        }
    }
}

#[test]
fn gpu_runs_of_one_size_reuse_their_buffers_and_give_the_same_results() {
    let Some(mut g) = gpu() else { return };
    let problem = w1_like();
    let s = WalkSettings {
        steps: 300,
        tol: 1e-4,
        ..SETTINGS
    };
    g.descend_options.max_chunk_walkers = Some(200);
    let first = gpu_walk(&mut g, &problem, &s, None);
    let (kept, allocated) = g.context().buffer_counts();
    // The unused binding, the parameters, and two sets of state, values, counters and staging.
    assert_eq!(kept, 10);
    assert_eq!(gpu_walk(&mut g, &problem, &s, None), first);
    assert_eq!(
        g.context().buffer_counts(),
        (kept, allocated),
        "a run of the same sizes allocates nothing"
    );
    // Runs of other sizes in between: an evaluation, a walk of fewer walkers (one chunk).
    let (m, data, starts) = &problem;
    let points = &starts[..7 * m.parameter_count()];
    let wide: Vec<f64> = points.iter().map(|&v| f64::from(v)).collect();
    let evaluated = g.evaluate_points(m, data, &wide, true).expect("evaluation");
    assert!(evaluated.loss.iter().all(|l| l.is_finite()));
    let few = (m.clone(), data.clone(), points.to_vec());
    let short = gpu_walk(&mut g, &few, &s, None);
    let p = m.parameter_count();
    assert_eq!(short.endpoints, first.endpoints[..7 * p]);
    assert_eq!(short.status, first.status[..7]);
    let (_, before) = g.context().buffer_counts();
    assert_eq!(gpu_walk(&mut g, &problem, &s, None), first);
    assert!(
        g.context().buffer_counts().1 > before,
        "the smaller run's buffers were let go and new ones allocated"
    );
}

#[test]
fn gpu_and_cpu_walkers_end_at_the_same_points() {
    let Some(mut g) = gpu() else { return };
    let (m, data, starts) = w1_like();
    let s = WalkSettings {
        steps: 1000,
        tol: 1e-3,
        ..SETTINGS
    };
    let a = g.walk(&m, &data, &starts, &s, None, &|_| {}).expect("gpu");
    let b = cpu(0)
        .walk(&m, &data, &starts, &s, None, &|_| {})
        .expect("cpu");
    // The two float32 implementations differ only in rounding (tanh, fused multiply-adds);
    // walkers near a saddle can amplify that, so compare where both converged to a minimum
    // with the same step count, and require that to be nearly all of them.
    let p = m.parameter_count();
    let mut same = 0;
    for w in 0..a.status.len() {
        if a.status[w] == b.status[w] && a.steps[w] == b.steps[w] {
            same += 1;
            let ea: Vec<f32> = a.endpoints[w * p..(w + 1) * p].to_vec();
            let eb: Vec<f64> = b.endpoints[w * p..(w + 1) * p]
                .iter()
                .map(|&v| f64::from(v))
                .collect();
            assert_close(
                &format!("walker {w}"),
                &ea,
                &eb,
                Tol {
                    rel: 1e-3,
                    abs: 1e-3,
                },
            );
        }
    }
    assert!(
        same * 100 >= a.status.len() * 95,
        "only {same} of {} walkers agree on status and steps",
        a.status.len()
    );
}

fn every_status_is_reached(backend: &mut dyn Backend) {
    // Linear regression on one sample: L = (w·1 + b − 2)², a valley; GD converges for small lr.
    let m = model("1-1", Activation::Linear, Activation::Linear, true);
    every_status_is_reached_on(backend, &m, &[0.5, -0.5]);
    // The same through a hidden linear unit (a shape with a specialised CPU kernel).
    let m = model("1-1-1", Activation::Linear, Activation::Linear, true);
    every_status_is_reached_on(backend, &m, &[0.5, -0.5, 1.0, 0.0]);
}

fn every_status_is_reached_on(backend: &mut dyn Backend, m: &Model, start: &[f32]) {
    let data = DataSource::parse("point:x=1,y=2", m).expect("point").data;
    let run = |b: &mut dyn Backend, data: &Dataset, s: WalkSettings| {
        let out = b.walk(m, data, start, &s, None, &|_| {}).expect("walk");
        (
            Status::from_code(out.status[0]).expect("a status"),
            out.steps[0],
            out.loss[0],
        )
    };
    let (status, steps, loss) = run(
        backend,
        &data,
        WalkSettings {
            lr: 0.1,
            steps: 1000,
            tol: 1e-4,
            ..SETTINGS
        },
    );
    assert_eq!(status, Status::Converged);
    assert!(
        steps > 0 && steps < 1000 && loss < 1e-8,
        "{steps} steps, L = {loss}"
    );
    let (status, steps, _) = run(
        backend,
        &data,
        WalkSettings {
            lr: 0.01,
            steps: 3,
            tol: 1e-4,
            ..SETTINGS
        },
    );
    assert_eq!((status, steps), (Status::MaxSteps, 3));
    // lr = 2 on curvature 4 multiplies the error by −7 per step.
    let (status, _, _) = run(
        backend,
        &data,
        WalkSettings {
            lr: 2.0,
            steps: 1000,
            ..SETTINGS
        },
    );
    assert_eq!(status, Status::Diverged);
    // An input of 1e30 overflows float32 in the first prediction's square.
    let huge = DataSource::parse("point:x=1e30,y=0", m)
        .expect("point")
        .data;
    let (status, steps, _) = run(
        backend,
        &huge,
        WalkSettings {
            lr: 0.1,
            steps: 1000,
            ..SETTINGS
        },
    );
    assert_eq!((status, steps), (Status::NonFinite, 0));
}

#[test]
fn every_walker_status_is_reached_on_cpu() {
    for isa in crate::common::isas() {
        every_status_is_reached(&mut CpuBackend::with_options(0, isa));
    }
}

#[test]
fn every_walker_status_is_reached_on_gpu() {
    if let Some(mut g) = gpu() {
        for queued in [false, true] {
            g.descend_options.queued = Some(queued);
            every_status_is_reached(&mut g);
        }
    }
}

fn traces_hold_starts_and_ends(backend: &mut dyn Backend) -> Vec<f32> {
    let (m, data, starts) = w1_like();
    let s = WalkSettings {
        steps: 95,
        tol: 1e-3,
        ..SETTINGS
    };
    let out = backend
        .walk(&m, &data, &starts, &s, Some(10), &|_| {})
        .expect("walk");
    let trace = out.trace.expect("trace kept");
    let (walkers, p) = (301, m.parameter_count());
    assert_eq!(trace.len(), 10 * walkers * p, "rows at steps 0, 10, …, 90");
    assert_eq!(&trace[..walkers * p], &starts[..]);
    for w in 0..walkers {
        if out.steps[w] <= 90 {
            let last = &trace[(9 * walkers + w) * p..(9 * walkers + w + 1) * p];
            assert_eq!(
                last,
                &out.endpoints[w * p..(w + 1) * p],
                "walker {w} stopped; its end repeats"
            );
        }
    }
    trace
}

#[test]
fn traces_start_at_the_starts_and_repeat_the_ends_on_both_backends() {
    let c = traces_hold_starts_and_ends(&mut cpu(0));
    if let Some(mut g) = gpu() {
        let t = traces_hold_starts_and_ends(&mut g);
        let c64: Vec<f64> = c.iter().map(|&v| f64::from(v)).collect();
        // Early steps of the same walkers: rounding differences only.
        assert_close(
            "trace gpu vs cpu",
            &t[..301 * 13 * 3],
            &c64[..301 * 13 * 3],
            Tol {
                rel: 1e-4,
                abs: 1e-5,
            },
        );
    }
}

#[test]
fn float64_reference_walk_converges_on_linear_regression() {
    let m = model("2-1", Activation::Linear, Activation::Linear, true);
    let data = random_data(&m, 30, 3);
    let end = reference::walk(
        &m,
        &data,
        &[0.0; 3],
        &WalkSettings {
            lr: 0.1,
            steps: 100_000,
            tol: 1e-10,
            ..SETTINGS
        },
    );
    assert_eq!(end.status, Status::Converged);
    assert!(end.grad_norm < 1e-10);
}

/// How the GPU kernels are compiled (workgroup size, data staged in workgroup memory or not)
/// changes no bit of the walks: 301 walkers, a count no workgroup size divides. Writing the
/// loops over the parameters out changes no bit on llvmpipe; a driver may contract multiplies
/// and adds differently in the two forms (NVIDIA's does), and rounding differences grow along
/// a walk, so between them nearly every walker ends the same way, close by.
#[test]
fn gpu_kernel_variants_change_no_bit_of_walks() {
    let Some(mut g) = gpu() else { return };
    let (m, data, starts) = w1_like();
    let s = WalkSettings {
        steps: 400,
        tol: 1e-4,
        ..SETTINGS
    };
    let mut first: [Option<WalkOutput>; 2] = [None, None];
    for (size, stage, unroll) in [
        (64, false, false),
        (64, false, true),
        (64, true, false),
        (96, true, true),
        (7, true, true),
        (128, false, true),
    ] {
        g.context_mut().workgroup_size = size;
        g.context_mut().stage_data = stage;
        g.context_mut().unroll_loops = unroll;
        g.descend_options.max_dispatch_steps = Some(150);
        let out = g
            .walk(&m, &data, &starts, &s, Some(100), &|_| {})
            .expect("walk");
        match &first[usize::from(unroll)] {
            None => first[usize::from(unroll)] = Some(out),
            Some(f) => assert_eq!(
                &out, f,
                "workgroup {size}, staged {stage}, unrolled {unroll}"
            ),
        }
    }
    let [Some(a), Some(b)] = &first else {
        panic!("both forms of the loops ran");
    };
    let p = m.parameter_count();
    let same: Vec<usize> = (0..a.status.len())
        .filter(|&w| a.status[w] == b.status[w])
        .collect();
    assert!(
        same.len() * 100 >= a.status.len() * 95,
        "{} of {} walkers end alike with and without the loops written out",
        same.len(),
        a.status.len()
    );
    for &w in &same {
        for q in w * p..(w + 1) * p {
            let (u, v) = (a.endpoints[q], b.endpoints[q]);
            assert!(
                (u - v).abs() <= 1e-2 * (1.0 + u.abs()),
                "walker {w}: θ {u} with loops, {v} unrolled"
            );
        }
    }
}
