//! The foundation of `landscape`: what the user asks for (model, data, slice, walk settings),
//! the float64 reference that defines what every backend must compute (loss, gradient, Hessian),
//! and the interface the backends implement. Nothing here knows about kernels, files of results
//! or the command line.

pub mod backend;
pub mod error;
mod layout;
pub mod npy;
pub mod reference;
pub mod rng;
pub mod spec;

pub use error::{Error, Result};

/// `n` and the noun in the number it takes: "1 sample", "3 samples".
pub fn count(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}
