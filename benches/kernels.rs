//! Criterion benches of the kernels on the standard workloads of SPEC, so that regressions show:
//! W1 (walkers) and W2 (grid), on the CPU backend for every instruction set this processor
//! runs and, when an adapter exists, the GPU backend (on a GPU both with and without workgroup
//! memory). `landscape bench` reports the same
//! workloads with agreement checks and effective GFLOP/s; the inputs are built by the same code
//! (`landscape::bench::Prepared`).

use criterion::{Criterion, criterion_group, criterion_main};
use landscape::backend::Backend;
use landscape::backend::cpu::{CpuBackend, Isa};
use landscape::backend::gpu::{GpuBackend, GpuContext};
use landscape::bench::{Prepared, Workload};
use std::hint::black_box;

fn backends() -> Vec<(String, Box<dyn Backend>)> {
    let mut out: Vec<(String, Box<dyn Backend>)> = Isa::available()
        .into_iter()
        .map(|isa| {
            (
                format!("cpu {}", isa.name()),
                Box::new(CpuBackend::with_options(0, isa)) as Box<dyn Backend>,
            )
        })
        .collect();
    match GpuContext::new(None, false) {
        Ok(ctx) => {
            let hardware = !landscape::backend::gpu::is_software(&ctx.info);
            let b = GpuBackend::new(ctx);
            out.push((format!("gpu ({})", b.info().adapter), Box::new(b)));
            // On a GPU, the kernels without workgroup memory and walks with one walker an
            // invocation too, so that a regression of either form shows (software adapters
            // use no workgroup memory by default).
            if hardware && let Ok(ctx) = GpuContext::new(None, false) {
                let mut b = GpuBackend::new(ctx);
                b.context_mut().stage_data = false;
                b.context_mut().share_rows = false;
                b.descend_options.queued = Some(false);
                b.name_variant = true;
                out.push((format!("gpu ({})", b.info().adapter), Box::new(b)));
            }
        }
        Err(e) => eprintln!("no GPU backend: {e}"),
    }
    out
}

fn workload(c: &mut Criterion, w: Workload) {
    let prepared = Prepared::new(w).expect("standard workload");
    let mut group = c.benchmark_group(w.name());
    group.sample_size(10);
    let mut backends = backends();
    for (name, b) in backends.iter_mut() {
        prepared.warm_up(b.as_mut()).expect("warm-up");
        let (_, _, work) = prepared.run(b.as_mut()).expect("run");
        group.throughput(criterion::Throughput::Elements(work));
        group.bench_function(name.as_str(), |bench| {
            bench.iter(|| black_box(prepared.run(b.as_mut()).expect("run")))
        });
    }
    group.finish();
}

/// W1: 2-3-1 tanh on XOR (±1), 65 536 walkers, 1 000 steps of GD, lr 0.05, starts N(0, 1).
fn w1(c: &mut Criterion) {
    workload(c, Workload::W1);
}

/// W2: 2-3-1 tanh teacher–student (n = 256, seed 0), plane of w1[0,0] and w1[1,1] on [−3, 3]
/// through the teacher, 1024 × 1024 points, loss and full gradient.
fn w2(c: &mut Criterion) {
    workload(c, Workload::W2);
}

criterion_group!(kernels, w1, w2);
criterion_main!(kernels);
