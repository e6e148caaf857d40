//! Walkers: gradient-descent runs from many starts. Starts are drawn on the host as a pure
//! function of (seed, walker index), so every backend, chunking and thread count starts from the
//! same points.

use crate::error::{Error, Result};
use crate::rng::{Stream, normal, uniform};
use crate::spec::model::Model;
use serde::{Deserialize, Serialize};

/// `--init`: the distribution of starting points.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Init {
    /// Every parameter ~ N(0, σ²).
    Normal {
        /// Standard deviation σ.
        sigma: f64,
    },
    /// Every parameter ~ U(−a, a).
    Uniform {
        /// Half-width a.
        a: f64,
    },
    /// Glorot (Xavier) uniform weights, U(−√(6/(in+out)), √(6/(in+out))) per layer; biases 0.
    Xavier,
}

impl Init {
    /// Parses `normal:S`, `uniform:A` or `xavier`.
    pub fn parse(s: &str) -> Result<Init> {
        let bad = |why: &str| {
            Error::spec(
                "--init",
                format!("'{s}' {why}; expected normal:S, uniform:A or xavier"),
            )
        };
        // Starts are float32 on every backend, so a scale beyond its range would start every
        // walker at infinity.
        let positive = |v: &str| {
            v.parse::<f64>()
                .ok()
                .filter(|x| *x > 0.0 && *x <= f64::from(f32::MAX))
        };
        match s.split_once(':') {
            None if s == "xavier" => Ok(Init::Xavier),
            Some(("normal", v)) => Ok(Init::Normal {
                sigma: positive(v).ok_or_else(|| {
                    bad("needs a positive σ within float32's range (at most 3.4e38)")
                })?,
            }),
            Some(("uniform", v)) => Ok(Init::Uniform {
                a: positive(v).ok_or_else(|| {
                    bad("needs a positive half-width within float32's range (at most 3.4e38)")
                })?,
            }),
            _ => Err(bad("is not a start distribution")),
        }
    }

    /// The start of walker `w` (length P).
    pub fn start(&self, model: &Model, seed: u64, w: u64) -> Vec<f64> {
        let p = model.parameter_count();
        let base = w * p as u64;
        match *self {
            Init::Normal { sigma } => (0..p)
                .map(|i| sigma * normal(seed, Stream::Start, base + i as u64))
                .collect(),
            Init::Uniform { a } => (0..p)
                .map(|i| a * (2.0 * uniform(seed, Stream::Start, base + i as u64) - 1.0))
                .collect(),
            Init::Xavier => {
                let mut theta = vec![0.0; p];
                for lay in model.layout() {
                    let limit = (6.0 / (lay.inputs + lay.outputs) as f64).sqrt();
                    for i in lay.w..lay.w + lay.inputs * lay.outputs {
                        theta[i] =
                            limit * (2.0 * uniform(seed, Stream::Start, base + i as u64) - 1.0);
                    }
                }
                theta
            }
        }
    }
}

/// Optimiser and stopping settings of a walk.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WalkSettings {
    /// Learning rate.
    pub lr: f64,
    /// Heavy-ball momentum β ∈ [0, 1): v ← β·v − lr·∇L, θ ← θ + v.
    pub momentum: f64,
    /// Maximum number of steps.
    pub steps: u32,
    /// Converged when ‖∇L‖₂ < tol (0: never).
    pub tol: f64,
    /// Diverged when ‖θ‖∞ > diverge.
    pub diverge: f64,
}

impl Default for WalkSettings {
    /// The command line's defaults: lr 0.05, no momentum, 1000 steps, tol 1e-5, diverge 1e4.
    fn default() -> WalkSettings {
        WalkSettings {
            lr: 0.05,
            momentum: 0.0,
            steps: 1000,
            tol: 1e-5,
            diverge: 1e4,
        }
    }
}

impl WalkSettings {
    /// Checks every setting, naming the flag at fault.
    pub fn validate(&self) -> Result<()> {
        // The backends compute in float32: a value must survive the conversion.
        let in_float32 = |flag: &str, v: f64| {
            let single = v as f32;
            if !single.is_finite() {
                Err(Error::spec(
                    flag,
                    format!(
                        "{v} is beyond float32's range (±3.4e38), in which the backends compute"
                    ),
                ))
            } else if v != 0.0 && single == 0.0 {
                Err(Error::spec(
                    flag,
                    format!("{v} rounds to 0 in float32, in which the backends compute"),
                ))
            } else {
                Ok(())
            }
        };
        let finite_positive = |flag: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                in_float32(flag, v)
            } else {
                Err(Error::spec(
                    flag,
                    format!("{v} is not a positive finite number"),
                ))
            }
        };
        finite_positive("--lr", self.lr)?;
        // tol = 0 never converges: every walker takes all its steps.
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return Err(Error::spec(
                "--tol",
                format!("{} is not a finite number ≥ 0", self.tol),
            ));
        }
        in_float32("--tol", self.tol)?;
        finite_positive("--diverge", self.diverge)?;
        if !(self.momentum.is_finite() && (0.0..1.0).contains(&self.momentum)) {
            return Err(Error::spec(
                "--momentum",
                format!("{} is not in [0, 1)", self.momentum),
            ));
        }
        if self.momentum as f32 >= 1.0 {
            return Err(Error::spec(
                "--momentum",
                format!(
                    "{} rounds to 1 in float32, in which the backends compute; expected a value in [0, 1)",
                    self.momentum
                ),
            ));
        }
        in_float32("--momentum", self.momentum)?;
        if self.steps == 0 {
            return Err(Error::spec("--steps", "0 steps; expected at least 1"));
        }
        Ok(())
    }
}

/// How a walker ended. The codes are those of `status.npy` (keep in sync with descend.wgsl).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[repr(u32)]
pub enum Status {
    /// ‖∇L‖ fell below `--tol`.
    Converged = 0,
    /// Ran `--steps` steps without converging.
    MaxSteps = 1,
    /// ‖θ‖∞ exceeded `--diverge`.
    Diverged = 2,
    /// θ, L or ∇L became NaN or infinite.
    NonFinite = 3,
}

impl Status {
    /// All statuses in code order.
    pub const ALL: [Status; 4] = [
        Status::Converged,
        Status::MaxSteps,
        Status::Diverged,
        Status::NonFinite,
    ];

    /// The name used in tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Status::Converged => "converged",
            Status::MaxSteps => "max-steps",
            Status::Diverged => "diverged",
            Status::NonFinite => "non-finite",
        }
    }

    /// The status of a code, if it is one.
    pub fn from_code(code: u32) -> Option<Status> {
        Status::ALL.get(code as usize).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::model::Activation;

    #[test]
    fn starts_are_pure_functions_of_seed_and_index() {
        let m = Model::new("2-3-1", Activation::Tanh, Activation::Linear, true).expect("model");
        for init in [
            Init::Normal { sigma: 1.0 },
            Init::Uniform { a: 2.0 },
            Init::Xavier,
        ] {
            assert_eq!(init.start(&m, 7, 5), init.start(&m, 7, 5));
            assert_ne!(init.start(&m, 7, 5), init.start(&m, 7, 6));
            assert_ne!(init.start(&m, 7, 5), init.start(&m, 8, 5));
        }
        let x = Init::Xavier.start(&m, 1, 0);
        assert_eq!(&x[6..9], &[0.0; 3], "biases start at zero");
        assert!(x[..6].iter().all(|v| v.abs() <= (6.0f64 / 5.0).sqrt()));
    }

    #[test]
    fn bad_settings_name_their_flag() {
        for bad in [
            "normal",
            "normal:0",
            "normal:-1",
            "uniform:nan",
            "uniform:inf",
            "uniform:1e39",
            "normal:4e38",
            "gauss:1",
            "xavier:2",
        ] {
            assert!(
                Init::parse(bad)
                    .expect_err(bad)
                    .to_string()
                    .starts_with("--init")
            );
        }
        let ok = WalkSettings {
            lr: 0.05,
            momentum: 0.0,
            steps: 10,
            tol: 1e-5,
            diverge: 1e4,
        };
        assert!(ok.validate().is_ok());
        for (s, flag) in [
            (WalkSettings { lr: f64::NAN, ..ok }, "--lr"),
            (WalkSettings { lr: -1.0, ..ok }, "--lr"),
            (
                WalkSettings {
                    momentum: 1.0,
                    ..ok
                },
                "--momentum",
            ),
            (WalkSettings { steps: 0, ..ok }, "--steps"),
            (WalkSettings { tol: -1e-9, ..ok }, "--tol"),
            (
                WalkSettings {
                    diverge: f64::INFINITY,
                    ..ok
                },
                "--diverge",
            ),
        ] {
            assert!(s.validate().expect_err(flag).to_string().starts_with(flag));
        }
    }
}
