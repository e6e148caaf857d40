//! Criterion benches of the kernels on the standard workloads of SPEC, so that regressions show:
//! W1 (walkers) and W2 (grid), on the CPU backend and, when an adapter exists, the GPU backend.
//! `landscape bench` reports the same workloads with peers and agreement checks.

use criterion::{Criterion, criterion_group, criterion_main};
use landscape::backend::Backend;
use landscape::backend::cpu::CpuBackend;
use landscape::backend::gpu::{GpuBackend, GpuContext};
use landscape::spec::data::DataSource;
use landscape::spec::model::{Activation, Model};
use landscape::spec::slice::build_slice;
use landscape::spec::walk::{Init, WalkSettings};
use std::hint::black_box;

fn backends() -> Vec<(String, Box<dyn Backend>)> {
    let mut out: Vec<(String, Box<dyn Backend>)> =
        vec![("cpu".into(), Box::new(CpuBackend::new()))];
    match GpuContext::new(None, false) {
        Ok(ctx) => {
            let b = GpuBackend::new(ctx);
            out.push((format!("gpu ({})", b.info().adapter), Box::new(b)));
        }
        Err(e) => eprintln!("no GPU backend: {e}"),
    }
    out
}

/// W1: 2-3-1 tanh on XOR (±1), 65 536 walkers, 1 000 steps of GD, lr 0.05, starts N(0, 1).
fn w1(c: &mut Criterion) {
    let model = Model::new("2-3-1", Activation::Tanh, Activation::Linear, true).expect("model");
    let data = DataSource::parse("xor:pm", &model).expect("data").data;
    let walkers = 65_536u64;
    let starts: Vec<f32> = (0..walkers)
        .flat_map(|w| Init::Normal { sigma: 1.0 }.start(&model, 0, w))
        .map(|v| v as f32)
        .collect();
    // tol 0 never converges: every walker runs all 1 000 steps, as the workload counts them.
    let settings = WalkSettings {
        lr: 0.05,
        momentum: 0.0,
        steps: 1000,
        tol: 0.0,
        diverge: 1e30,
    };
    let mut group = c.benchmark_group("W1 walkers");
    group.sample_size(10);
    group.throughput(criterion::Throughput::Elements(walkers * 1000));
    for (name, mut b) in backends() {
        group.bench_function(&name, |bench| {
            bench.iter(|| {
                black_box(
                    b.walk(&model, &data, &starts, &settings, None, &|_| {})
                        .expect("walk"),
                )
            })
        });
    }
    group.finish();
}

/// W2: 2-3-1 tanh teacher–student (n = 256, seed 0), plane of w1[0,0] and w1[1,1] on [−3, 3]
/// through the teacher, 1024 × 1024 points, loss and full gradient.
fn w2(c: &mut Criterion) {
    let model = Model::new("2-3-1", Activation::Tanh, Activation::Linear, true).expect("model");
    let src = DataSource::parse("teacher:n=256,seed=0", &model).expect("data");
    let axes = [
        "w1[0,0]=-3:3:1024".to_string(),
        "w1[1,1]=-3:3:1024".to_string(),
    ];
    let slice =
        build_slice(&model, src.teacher.as_ref(), Some("teacher"), &axes, None).expect("slice");
    let mut group = c.benchmark_group("W2 grid");
    group.sample_size(10);
    group.throughput(criterion::Throughput::Elements(slice.len()));
    for (name, mut b) in backends() {
        group.bench_function(&name, |bench| {
            bench.iter(|| {
                black_box(
                    b.evaluate_lattice(&model, &src.data, &slice, 0..slice.len(), false)
                        .expect("grid"),
                )
            })
        });
    }
    group.finish();
}

criterion_group!(kernels, w1, w2);
criterion_main!(kernels);
