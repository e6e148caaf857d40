//! Scratch timing of the flow on a map's still-moving ends (not part of the build).
use landscape_analysis::flow::{FlowSettings, flow};
use landscape_analysis::stationary::analyse;
use landscape_core::npy;
use landscape_core::spec::data::DataSource;
use landscape_core::spec::model::{Activation, Model};
use std::path::Path;
use std::time::Instant;

fn main() {
    let dir = std::env::args().nth(1).unwrap();
    let count: usize = std::env::args().nth(2).map_or(200, |s| s.parse().unwrap());
    let m = Model::new("2-3-1", Activation::Tanh, Activation::Linear, true).unwrap();
    let data = DataSource::parse("teacher:n=256,seed=0", &m).unwrap().data;
    let (e, _) = npy::read_f64(&Path::new(&dir).join("endpoints.npy")).unwrap();
    let p = 13;
    let mw = e.len() / p;
    let t = Instant::now();
    for _ in 0..100 {
        std::hint::black_box(landscape_core::reference::hessian(&m, &data, &e[0..p]));
    }
    println!("hessian {:.1} us", t.elapsed().as_secs_f64() * 1e4);
    let t = Instant::now();
    for _ in 0..100 {
        std::hint::black_box(landscape_core::reference::loss_and_gradient(
            &m,
            &data,
            &e[0..p],
        ));
    }
    println!("grad {:.1} us", t.elapsed().as_secs_f64() * 1e4);
    let tol: f64 = std::env::var("TOL").map_or(1e-5, |s| s.parse().unwrap());
    let mut s = FlowSettings::new(0.05, tol, 1e4);
    s.max_time_steps = 1e20;
    let mut stats = std::collections::BTreeMap::new();
    let t = Instant::now();
    let (mut steps, mut hs) = (0, 0);
    let mut tp = 0.0;
    for k in 0..count {
        let w = (k * 7919) % mw;
        let f = flow(&m, &data, &e[w * p..(w + 1) * p], &s);
        steps += f.steps;
        hs += f.hessians;
        let t2 = Instant::now();
        let a = analyse(&m, &data, &f.theta);
        tp += t2.elapsed().as_secs_f64();
        *stats
            .entry(format!(
                "{:?} {} {:.3e} i{} n{}",
                f.end, a.kind, a.loss, a.index, a.nullity
            ))
            .or_insert(0) += 1;
        if a.kind.name() == "not-stationary" && k < 40 {
            let (pt, pg) = landscape_analysis::stationary::polish(&m, &data, &f.theta);
            println!(
                "NS start g {:.2e} -> polish g {:.2e}, moved {:.2e}, eig {:?}",
                f.grad_norm,
                pg,
                pt.iter()
                    .zip(&f.theta)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max),
                a.eigenvalues
                    .iter()
                    .map(|v| format!("{v:.1e}"))
                    .collect::<Vec<_>>()
            );
            println!(
                "   theta {:?}",
                f.theta
                    .iter()
                    .map(|v| format!("{v:.3}"))
                    .collect::<Vec<_>>()
            );
        }
        if k < 5 {
            println!(
                "{:?} steps {} hess {} t {:.3e} loss {:.3e} g {:.2e}",
                f.end, f.steps, f.hessians, f.time_steps, f.loss, f.grad_norm
            );
        }
    }
    let el = t.elapsed().as_secs_f64();
    println!(
        "{count} flows: {:.2} ms each (polish {:.2} ms), steps {:.1}, hessians {:.1}",
        1e3 * el / count as f64,
        1e3 * tp / count as f64,
        steps as f64 / count as f64,
        hs as f64 / count as f64
    );
    for (k, v) in stats {
        println!("{v:6} {k}");
    }
}
