//! The standard workloads of the specification (W1 walkers, W2 grid, W3 basin map, and the -XL
//! sizes), run on a backend and timed, with the operation counts that turn their throughput into
//! effective GFLOP/s and a check that two backends computed the same thing.
//!
//! Operation counts are those of the reference scripts the performance goals are measured
//! against, for a 2-H-1 tanh network with tanh counted as one operation:
//! - per W1 walker-step (XOR, 4 samples): 76·H + 13 (241 at H = 3), of which 4·H tanh;
//! - per W2 lattice point (N samples, loss and full gradient): N·(18·H + 5) (15 104 at N = 256);
//! - per W3 walker-step: as a W2 point (one loss and gradient over the N samples) plus the
//!   update, 2·P.

use crate::analysis::basins::analyse_walk;
use crate::backend::{Backend, BackendInfo};
use crate::error::Result;
use crate::spec::data::{DataSource, Dataset};
use crate::spec::model::{Activation, Model};
use crate::spec::slice::{Slice, build_slice};
use crate::spec::walk::{Init, Status, WalkSettings};
use serde::Serialize;
use std::time::Instant;

/// A standard workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
pub enum Workload {
    /// 2-3-1 tanh on XOR (±1), 65 536 walkers × 1 000 steps of GD, lr 0.05, starts N(0, 1).
    #[value(name = "W1")]
    W1,
    /// 2-3-1 tanh teacher–student (n = 256, seed 0), 1024² lattice of w1[0,0] × w1[1,1] on
    /// [−3, 3] through the teacher: loss and full gradient.
    #[value(name = "W2")]
    W2,
    /// W2's plane at 512², one walker per point, up to 2 000 steps, then the basin analysis.
    #[value(name = "W3")]
    W3,
    /// W1 with 4 194 304 walkers (sized for a GPU).
    #[value(name = "W1-XL")]
    W1Xl,
    /// W2 with 8192² points (sized for a GPU).
    #[value(name = "W2-XL")]
    W2Xl,
}

impl Workload {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Workload::W1 => "W1",
            Workload::W2 => "W2",
            Workload::W3 => "W3",
            Workload::W1Xl => "W1-XL",
            Workload::W2Xl => "W2-XL",
        }
    }
}

/// Hidden units of the standard workloads' network.
const H: u64 = 3;
/// Samples of the W2 and W3 teacher.
const N: u64 = 256;
/// Parameters of 2-3-1 with biases.
const P: u64 = 4 * H + 1;

/// Operations per W1 walker-step.
pub const FLOPS_W1_STEP: u64 = 76 * H + 13;
/// Operations per W2 lattice point.
pub const FLOPS_W2_POINT: u64 = N * (18 * H + 5);
/// Operations per W3 walker-step.
pub const FLOPS_W3_STEP: u64 = FLOPS_W2_POINT + 2 * P;

/// A workload's inputs, built once and run on any backend.
pub struct Prepared {
    /// Which workload.
    pub workload: Workload,
    model: Model,
    data: Dataset,
    job: Job,
}

enum Job {
    Walk {
        starts: Vec<f32>,
        settings: WalkSettings,
        basins: bool,
    },
    Grid {
        slice: Slice,
    },
}

/// What one run of a workload computed, kept to compare backends.
pub enum Output {
    /// Walker ends (and statuses).
    Walk(crate::backend::WalkOutput),
    /// Loss at every lattice point.
    Grid(Vec<f32>),
}

fn standard_model() -> Result<Model> {
    Model::new("2-3-1", Activation::Tanh, Activation::Linear, true)
}

fn teacher_plane(model: &Model, n: usize) -> Result<(Dataset, Slice)> {
    let source = DataSource::parse("teacher:n=256,seed=0", model)?;
    let axes = [format!("w1[0,0]=-3:3:{n}"), format!("w1[1,1]=-3:3:{n}")];
    let slice = build_slice(model, source.teacher.as_ref(), Some("teacher"), &axes, None)?;
    Ok((source.data, slice))
}

impl Prepared {
    /// Builds the inputs of `workload`.
    pub fn new(workload: Workload) -> Result<Prepared> {
        let model = standard_model()?;
        let (data, job) = match workload {
            Workload::W1 | Workload::W1Xl => {
                let walkers: u64 = if workload == Workload::W1 {
                    65_536
                } else {
                    4_194_304
                };
                let data = DataSource::parse("xor:pm", &model)?.data;
                let init = Init::Normal { sigma: 1.0 };
                let starts = (0..walkers)
                    .flat_map(|w| init.start(&model, 0, w))
                    .map(|v| v as f32)
                    .collect();
                // tol 0 never converges: every walker takes all 1 000 steps, as counted.
                let settings = WalkSettings {
                    lr: 0.05,
                    momentum: 0.0,
                    steps: 1000,
                    tol: 0.0,
                    diverge: 1e30,
                };
                (
                    data,
                    Job::Walk {
                        starts,
                        settings,
                        basins: false,
                    },
                )
            }
            Workload::W2 | Workload::W2Xl => {
                let n = if workload == Workload::W2 { 1024 } else { 8192 };
                let (data, slice) = teacher_plane(&model, n)?;
                (data, Job::Grid { slice })
            }
            Workload::W3 => {
                let (data, slice) = teacher_plane(&model, 512)?;
                let starts = (0..slice.len())
                    .flat_map(|g| slice.point(g))
                    .map(|v| v as f32)
                    .collect();
                // `landscape map`'s defaults, with W3's step budget.
                let settings = WalkSettings {
                    lr: 0.05,
                    momentum: 0.0,
                    steps: 2000,
                    tol: 1e-5,
                    diverge: 1e4,
                };
                (
                    data,
                    Job::Walk {
                        starts,
                        settings,
                        basins: true,
                    },
                )
            }
        };
        Ok(Prepared {
            workload,
            model,
            data,
            job,
        })
    }

    /// Runs the workload once on `backend`: its output, the seconds it took, and the work done
    /// (walker-steps or lattice points).
    pub fn run(&self, backend: &mut dyn Backend) -> Result<(Output, f64, u64)> {
        let t0 = Instant::now();
        match &self.job {
            Job::Walk {
                starts,
                settings,
                basins,
            } => {
                let out = backend.walk(&self.model, &self.data, starts, settings, None, &|_| {})?;
                if *basins {
                    analyse_walk(&self.model, &self.data, &out.endpoints, &out.status);
                }
                let seconds = t0.elapsed().as_secs_f64();
                // Steps evaluated: a walker that stops at step s evaluated s + 1 points and
                // stepped s times; count the steps, as the progress bars do.
                let work = out.steps.iter().map(|&s| u64::from(s)).sum();
                Ok((Output::Walk(out), seconds, work))
            }
            Job::Grid { slice } => {
                let eval = backend.evaluate_lattice(
                    &self.model,
                    &self.data,
                    slice,
                    0..slice.len(),
                    false,
                )?;
                let seconds = t0.elapsed().as_secs_f64();
                Ok((Output::Grid(eval.loss), seconds, slice.len()))
            }
        }
    }

    /// A small run of the same kernels, so that one-time costs (shader compilation, thread
    /// start-up) stay out of the timings.
    pub fn warm_up(&self, backend: &mut dyn Backend) -> Result<()> {
        match &self.job {
            Job::Walk {
                starts, settings, ..
            } => {
                let p = self.model.parameter_count();
                let few = &starts[..starts.len().min(4096 * p)];
                let s = WalkSettings {
                    steps: settings.steps.min(20),
                    ..*settings
                };
                backend.walk(&self.model, &self.data, few, &s, None, &|_| {})?;
            }
            Job::Grid { slice } => {
                backend.evaluate_lattice(
                    &self.model,
                    &self.data,
                    slice,
                    0..slice.len().min(65_536),
                    false,
                )?;
            }
        }
        Ok(())
    }

    /// The unit of `rate`.
    pub fn unit(&self) -> &'static str {
        match self.job {
            Job::Walk { .. } => "walker-steps/s",
            Job::Grid { .. } => "points/s",
        }
    }

    /// Operations per unit of work.
    pub fn flops_per_unit(&self) -> u64 {
        match self.workload {
            Workload::W1 | Workload::W1Xl => FLOPS_W1_STEP,
            Workload::W2 | Workload::W2Xl => FLOPS_W2_POINT,
            Workload::W3 => FLOPS_W3_STEP,
        }
    }
}

/// How far two backends' outputs of one workload agree.
#[derive(Debug, Clone, Serialize)]
pub struct Agreement {
    /// Whether they agree within the workload's tolerance.
    pub agrees: bool,
    /// Fraction of walkers or points that agree.
    pub fraction: f64,
    /// What was compared, in words.
    pub detail: String,
}

/// Compares `b` against `a`. Loss values agree within 1e-4 relative (+1e-6 absolute), which
/// float32 sums over 256 samples meet; walker ends within 1e-3 with the same status, which
/// float32 trajectories on two instruction sets meet unless they pass close to a ridge, where
/// rounding differences can send them to different basins: at least 99 % must agree (99.9 % for
/// W1, whose walkers all take the full step budget).
pub fn agreement(workload: Workload, a: &Output, b: &Output) -> Agreement {
    match (a, b) {
        (Output::Grid(x), Output::Grid(y)) => {
            let same = x
                .iter()
                .zip(y)
                .filter(|(u, v)| {
                    let (u, v) = (f64::from(**u), f64::from(**v));
                    (u - v).abs() <= 1e-4 * u.abs().max(v.abs()) + 1e-6
                })
                .count();
            let fraction = same as f64 / x.len().max(1) as f64;
            Agreement {
                agrees: same == x.len() && x.len() == y.len(),
                fraction,
                detail: format!("{same} of {} losses within 1e-4 relative + 1e-6", x.len()),
            }
        }
        (Output::Walk(x), Output::Walk(y)) => {
            let m = x.status.len();
            let p = x.endpoints.len().checked_div(m).unwrap_or(0);
            let same = (0..m)
                .filter(|&w| {
                    x.status[w] == y.status[w]
                        && (0..p).all(|q| {
                            let (u, v) = (x.endpoints[w * p + q], y.endpoints[w * p + q]);
                            (u - v).abs() <= 1e-3 * (1.0 + u.abs().max(v.abs()))
                        })
                })
                .count();
            let fraction = same as f64 / m.max(1) as f64;
            let needed = match workload {
                Workload::W1 | Workload::W1Xl => 0.999,
                _ => 0.99,
            };
            let diverged = |o: &crate::backend::WalkOutput| {
                o.status
                    .iter()
                    .filter(|&&s| s == Status::Diverged as u32)
                    .count()
            };
            Agreement {
                agrees: fraction >= needed && y.status.len() == m,
                fraction,
                detail: format!(
                    "{same} of {m} walkers end within 1e-3 with the same status (need {:.1} %; \
                     diverged {} and {})",
                    100.0 * needed,
                    diverged(x),
                    diverged(y)
                ),
            }
        }
        _ => Agreement {
            agrees: false,
            fraction: 0.0,
            detail: "different kinds of output".into(),
        },
    }
}

/// One workload on one backend.
#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    /// The workload's name.
    pub workload: String,
    /// `cpu` or `gpu`.
    pub backend: String,
    /// The adapter (or CPU threads and instruction set).
    pub adapter: String,
    /// Whether this is a software GPU adapter (never reported as a GPU result).
    pub software_adapter: bool,
    /// What the backend is, in words.
    pub info: BackendInfo,
    /// Median seconds over the repeats.
    pub seconds: f64,
    /// Every repeat's seconds.
    pub repeats: Vec<f64>,
    /// Work per run (walker-steps or points).
    pub work: u64,
    /// Work per second at the median.
    pub rate: f64,
    /// Unit of `rate`.
    pub unit: String,
    /// Effective GFLOP/s from the documented operation count.
    pub gflops: f64,
    /// Agreement with the first backend measured (None for that backend itself).
    pub agrees: Option<bool>,
    /// Details of the agreement.
    pub agreement: Option<Agreement>,
}

/// Median of non-empty `v`.
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    }
}

/// Runs `prepared` `repeats` times on `backend` after a warm-up; the output of the last run is
/// returned for comparisons.
pub fn measure(
    prepared: &Prepared,
    backend: &mut dyn Backend,
    repeats: u32,
) -> Result<(Measurement, Output)> {
    prepared.warm_up(backend)?;
    let (mut last, first, work) = prepared.run(backend)?;
    let mut times = vec![first];
    for _ in 1..repeats.max(1) {
        let (out, seconds, _) = prepared.run(backend)?;
        times.push(seconds);
        last = out;
    }
    let seconds = median(&times);
    let rate = work as f64 / seconds;
    let info = backend.info();
    let m = Measurement {
        workload: prepared.workload.name().into(),
        backend: info.backend.clone(),
        adapter: info.adapter.clone(),
        software_adapter: info.software_adapter,
        info,
        seconds,
        repeats: times,
        work,
        rate,
        unit: prepared.unit().into(),
        gflops: rate * prepared.flops_per_unit() as f64 / 1e9,
        agrees: None,
        agreement: None,
    };
    Ok((m, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_counts_are_those_of_the_reference_scripts() {
        assert_eq!(FLOPS_W1_STEP, 241);
        assert_eq!(FLOPS_W2_POINT, 15_104);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn grids_agree_within_tolerance_and_disagree_beyond() {
        let a = Output::Grid(vec![1.0, 2.0, 0.0]);
        let b = Output::Grid(vec![1.000_05, 2.0, 5e-7]);
        assert!(agreement(Workload::W2, &a, &b).agrees);
        let c = Output::Grid(vec![1.01, 2.0, 0.0]);
        let r = agreement(Workload::W2, &a, &c);
        assert!(!r.agrees && (r.fraction - 2.0 / 3.0).abs() < 1e-12);
    }
}
