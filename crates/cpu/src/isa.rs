//! Instruction-set variants of the CPU kernels, chosen at run time: the widest the processor
//! supports (AVX-512, AVX2 with FMA, or the baseline of the target), so one binary runs
//! everywhere and at full width where it can.
//!
//! Each variant compiles the same generic kernels (`descend::walk_lanes`, `eval::eval_block`)
//! inside a function with `#[target_feature]`, and picks a kernel specialised to the network's
//! size when there is one (`net::OneHidden`, `by_shape`). Calling such a function is `unsafe`
//! only because the processor must support the features: `Kernels::new` hands out a variant only
//! after `is_x86_feature_detected!` confirmed them. (The crate's other unsafe code is in
//! `simd.rs`, the intrinsics, and `asm231.rs`, the assembly.)

#![expect(
    unsafe_code,
    reason = "the kernels compiled for an instruction set are called only after it was detected"
)]

use super::descend::{self, Ends, Feed};
use super::eval::{self, Block};
use super::net::{General, Net, OneHidden};
use super::simd::Arr;
#[cfg(target_arch = "x86_64")]
use super::simd::{Avx2, Avx512, Multi};
use landscape_core::backend::KernelModel;
use landscape_core::spec::model::Activation;

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

    /// The variants the tests run: `available()`, after checking that it holds every one that
    /// LANDSCAPE_REQUIRE_ISA names (`avx512`, `avx2`, comma-separated), so that a test run
    /// that should cover an instruction set fails rather than skips it where it is missing.
    #[cfg(test)]
    pub(crate) fn tested() -> Vec<Isa> {
        let available = Isa::available();
        for name in std::env::var("LANDSCAPE_REQUIRE_ISA")
            .unwrap_or_default()
            .split(',')
        {
            let name = name.trim();
            assert!(
                name.is_empty() || available.iter().any(|i| i.name() == name),
                "LANDSCAPE_REQUIRE_ISA names {name}, which this processor lacks (it runs {:?})",
                available.iter().map(|i| i.name()).collect::<Vec<_>>()
            );
        }
        available
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
    /// Gradient descent.
    pub walk: WalkFn,
    /// Loss and gradient at points.
    pub eval: EvalFn,
}

/// Picks `$make::<N>()` for the network type matching `$km`'s shape. Tanh–linear networks with
/// one hidden layer of up to `MAX_HIDDEN` units, up to `MAX_INPUTS` inputs and one output get a
/// kernel specialised to the smallest of four sizes that holds them (2-2-1, 2-4-1, 4-2-1,
/// 4-6-1), the widths read at run time (`OneHidden<I, H, 1, true>`), and W1's and W2's 2-3-1
/// network one specialised to its exact shape; with other activations, the 2-2-1 and 4-6-1
/// kernels take them (`OneHidden`'s `A`); every other network runs the general kernel. Each
/// kernel compiled costs build time, on the build's critical path, so a few kernels that read
/// their widths serve every shape rather than one kernel per shape; there are four sizes, not
/// one, because a kernel much larger than its network spills what a fitting one keeps in
/// registers (rates per shape and build seconds per kernel: `docs/bench/HISTORY.md`).
macro_rules! by_shape {
    ($km:expr, $make:ident) => {{
        let tanh_linear =
            $km.act == Activation::Tanh.code() && $km.out_act == Activation::Linear.code();
        match ($km.widths.as_slice(), tanh_linear) {
            ([2, 3, 1], true) => $make::<OneHidden<2, 3, 1>>(),
            (&[i, h, 1], _) if i <= 2 && h <= 2 => $make::<OneHidden<2, 2, 1, true, true>>(),
            (&[i, h, 1], true) if i <= 2 && h <= 4 => $make::<OneHidden<2, 4, 1, true>>(),
            (&[i, h, 1], true) if i <= MAX_INPUTS && h <= 2 => $make::<OneHidden<4, 2, 1, true>>(),
            (&[i, h, 1], _) if i <= MAX_INPUTS && h <= MAX_HIDDEN => {
                $make::<OneHidden<MAX_INPUTS, MAX_HIDDEN, 1, true, true>>()
            }
            _ => $make::<General>(),
        }
    }};
}

/// Most inputs of the networks with a specialised kernel.
const MAX_INPUTS: usize = 4;
/// Most hidden units of the networks with a specialised kernel.
const MAX_HIDDEN: usize = 6;

/// Defines `$name::<N>()`, the kernels of network type `N` with `$lanes` lanes of vector type
/// `$simd`, compiled for `$features` (or for what the target guarantees, without).
macro_rules! variant {
    ($name:ident, $lanes:literal, $simd:ty, $features:literal) => {
        pub(super) fn $name<N: Net<$lanes>>() -> Kernels {
            #[target_feature(enable = $features)]
            fn walk<N: Net<$lanes>>(p: &descend::Problem<'_>, f: &Feed<'_>) -> Ends {
                descend::walk_lanes::<$lanes, $simd, N>(p, f)
            }
            #[target_feature(enable = $features)]
            fn eval<N: Net<$lanes>>(p: &eval::Problem<'_>, b: Block<'_>) {
                eval::eval_block::<$lanes, $simd, N>(p, b)
            }
            Kernels {
                lanes: $lanes,
                // SAFETY: `Kernels::new` calls this only for a variant in `Isa::available()`,
                // so the processor supports `$features`.
                walk: |p, f| unsafe { walk::<N>(p, f) },
                eval: |p, b| unsafe { eval::<N>(p, b) },
            }
        }
    };
    ($name:ident, $lanes:literal, $simd:ty) => {
        pub(super) fn $name<N: Net<$lanes>>() -> Kernels {
            Kernels {
                lanes: $lanes,
                walk: descend::walk_lanes::<$lanes, $simd, N>,
                eval: eval::eval_block::<$lanes, $simd, N>,
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
    variant!(baseline, 8, Arr<8, false>);
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
            // On x86-64 the baseline (SSE2) runs only on processors without AVX2 and FMA, made
            // before 2013–2015: the general kernel serves them, and the build time that kernels
            // specialised to them would cost is saved. Elsewhere it is the only variant.
            #[cfg(target_arch = "x86_64")]
            _ => baseline::<General>(),
            #[cfg(not(target_arch = "x86_64"))]
            _ => by_shape!(km, baseline),
        }
    }
}
