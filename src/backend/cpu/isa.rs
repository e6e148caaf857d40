//! Instruction-set variants of the CPU kernels, chosen at run time: the widest the processor
//! supports (AVX-512, AVX2 with FMA, or the baseline of the target), so one binary runs
//! everywhere and at full width where it can.
//!
//! Each variant compiles the same generic kernels (`descend::walk_lanes`, `eval::eval_block`)
//! inside a function with `#[target_feature]`, and picks a kernel specialised to the network's
//! shape when there is one (`net::OneHidden`). Calling such a function is `unsafe` only because
//! the processor must support the features: `Kernels::new` hands out a variant only after
//! `is_x86_feature_detected!` confirmed them. This is the crate's only unsafe code.

#![allow(unsafe_code)]

use super::descend::{self, Ends, Feed};
use super::eval::{self, Block};
use super::net::{General, Net, OneHidden};
use super::simd::Arr;
#[cfg(target_arch = "x86_64")]
use super::simd::{Avx2, Avx512, Multi};
use crate::backend::KernelModel;

/// An instruction-set variant of the CPU kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// AVX-512 (F, VL, DQ, BW) with FMA: 16 lanes of float32.
    Avx512,
    /// AVX2 with FMA: 8 lanes.
    Avx2,
    /// What the target guarantees (SSE2 on x86-64): 8 lanes, products not fused.
    Baseline,
}

impl Isa {
    /// Every variant this processor runs, widest first.
    pub fn available() -> Vec<Isa> {
        let mut out = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512vl")
                && std::arch::is_x86_feature_detected!("avx512dq")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                out.push(Isa::Avx512);
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                out.push(Isa::Avx2);
            }
        }
        out.push(Isa::Baseline);
        out
    }

    /// The widest variant this processor runs.
    pub fn best() -> Isa {
        Isa::available()[0]
    }

    /// Its name, as printed.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Avx512 => "avx512",
            Isa::Avx2 => "avx2",
            Isa::Baseline => "baseline",
        }
    }

    /// Whether its kernels fuse products and sums (one rounding). The fused variants run the
    /// same IEEE operations in the same order on every lane, so they give the same bits; the
    /// baseline rounds products separately.
    pub fn fused(self) -> bool {
        !matches!(self, Isa::Baseline)
    }

    /// Lanes (points or walkers) per kernel call.
    pub fn lanes(self) -> usize {
        match self {
            Isa::Avx512 => 16,
            Isa::Avx2 => 16,
            Isa::Baseline => 8,
        }
    }
}

/// Walks walkers from a feed until it runs out.
pub type WalkFn = fn(&descend::Problem<'_>, &Feed<'_>) -> Ends;
/// Evaluates one block of points.
pub type EvalFn = fn(&eval::Problem<'_>, Block<'_>);

/// The kernels of one model on one instruction-set variant.
#[derive(Clone, Copy)]
pub struct Kernels {
    /// Lanes per call.
    pub lanes: usize,
    /// Whether the kernels are specialised to the model's shape.
    pub specialised: bool,
    /// Gradient descent.
    pub walk: WalkFn,
    /// Loss and gradient at points.
    pub eval: EvalFn,
}

/// Picks `$make::<N>()` for the network type matching `$km`'s shape: a specialised kernel for
/// one-hidden-layer networks with up to 4 inputs, up to 6 hidden units and one output, else the
/// general one. (Each shape compiled costs build time; these cover the common small problems.)
/// The shapes with up to 2 inputs and 4 hidden units are also compiled in the fast form of
/// `OneHidden` (about a minute of build time each).
///
/// The library's own unit tests (`cfg(test)`) are built with only the 2-3-1 kernel: the
/// library is compiled a second time for them, and these kernels are most of its build time.
/// The kernels of every shape are tested as shipped, through the integration tests
/// (`tests/it/parity.rs`); a unit test that gets the general kernel gets the same bits.
macro_rules! by_shape {
    ($km:expr, $make:ident) => {{
        #[cfg(not(test))]
        let kernels = by_shape!(@arms $km, $make;
            (1,1,1,true) (1,2,1,true) (1,3,1,true) (1,4,1,true) (1,5,1,false) (1,6,1,false)
            (2,1,1,true) (2,2,1,true) (2,3,1,true) (2,4,1,true) (2,5,1,false) (2,6,1,false)
            (3,1,1,false) (3,2,1,false) (3,3,1,false) (3,4,1,false) (3,5,1,false) (3,6,1,false)
            (4,1,1,false) (4,2,1,false) (4,3,1,false) (4,4,1,false) (4,5,1,false) (4,6,1,false));
        #[cfg(test)]
        let kernels = by_shape!(@arms $km, $make; (2,3,1,true));
        kernels
    }};
    (@arms $km:expr, $make:ident; $(($i:literal, $h:literal, $o:literal, $f:literal))*) => {
        match $km.widths.as_slice() {
            $([$i, $h, $o] => $make::<OneHidden<$i, $h, $o, $f>>(true),)*
            _ => $make::<General>(false),
        }
    };
}

/// Defines `$name::<N>(specialised)`, the kernels of network type `N` compiled for `$features`
/// with `$lanes` lanes of vector type `$simd`.
macro_rules! variant {
    ($name:ident, $lanes:literal, $simd:ty, $($features:literal)?) => {
        #[allow(unused_unsafe)]
        pub(super) fn $name<N: Net<$lanes>>(specialised: bool) -> Kernels {
            $(#[target_feature(enable = $features)])?
            fn walk<N: Net<$lanes>>(p: &descend::Problem<'_>, f: &Feed<'_>) -> Ends {
                descend::walk_lanes::<$lanes, $simd, N>(p, f)
            }
            $(#[target_feature(enable = $features)])?
            fn eval<N: Net<$lanes>>(p: &eval::Problem<'_>, b: Block<'_>) {
                eval::eval_block::<$lanes, $simd, N>(p, b)
            }
            Kernels {
                lanes: $lanes,
                specialised,
                // SAFETY: `Kernels::new` calls this only for a variant in `Isa::available()`,
                // so the processor supports `$features`.
                walk: |p, f| unsafe { walk::<N>(p, f) },
                eval: |p, b| unsafe { eval::<N>(p, b) },
            }
        }
    };
}

// One module per variant, so that the compiler builds them in parallel (codegen units follow
// modules).
#[cfg(target_arch = "x86_64")]
mod avx512_kernels {
    use super::*;
    variant!(
        avx512,
        16,
        Avx512,
        "avx512f,avx512vl,avx512dq,avx512bw,avx2,fma"
    );
}
#[cfg(target_arch = "x86_64")]
mod avx2_kernels {
    use super::*;
    variant!(avx2, 16, Multi<Avx2, 2>, "avx2,fma");
}
mod baseline_kernels {
    use super::*;
    variant!(baseline, 8, Arr<8, false>,);
}
use baseline_kernels::baseline;
#[cfg(target_arch = "x86_64")]
use {avx2_kernels::avx2, avx512_kernels::avx512};

impl Kernels {
    /// The kernels of `km` on `isa`, which must be one of `Isa::available()` (else the
    /// baseline variant is used).
    pub fn new(km: &KernelModel, isa: Isa) -> Kernels {
        let isa = if Isa::available().contains(&isa) {
            isa
        } else {
            Isa::Baseline
        };
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => by_shape!(km, avx512),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => by_shape!(km, avx2),
            _ => by_shape!(km, baseline),
        }
    }
}
