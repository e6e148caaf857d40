//! Outputs: the run directory, arrays, run.json and pictures.

pub mod basins;
pub mod plot;
pub mod progress;
pub mod report;
pub mod run_dir;

/// `n` and the noun in the number it takes: "1 sample", "3 samples".
pub fn count(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}
