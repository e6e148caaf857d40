//! Vectors of float32 lanes for the specialised kernels: a portable implementation on arrays,
//! which the compiler vectorises for whatever instruction set the calling function enables, and
//! one on AVX2 + FMA registers written with intrinsics, because the compiler's vectoriser does
//! not reliably turn the activation functions into full-width code on arrays of eight lanes.
//!
//! The AVX2 type's operations are safe functions around `unsafe` intrinsic calls. They are
//! sound only on a processor with AVX2 and FMA, so the type is private to the CPU backend and is
//! used only inside the `#[target_feature(enable = "avx2,fma")]` kernels that `isa::Kernels`
//! hands out after `is_x86_feature_detected!` confirmed both.

#![allow(unsafe_code)]

use super::common::Lanes;

/// A vector of `L` float32 lanes with the operations the kernels use.
pub trait Simd<const L: usize>: Copy {
    /// Whether `fma` rounds once.
    const FUSED: bool;
    /// Every lane `v`.
    fn splat(v: f32) -> Self;
    /// From an array.
    fn load(a: &Lanes<L>) -> Self;
    /// To an array.
    fn store(self) -> Lanes<L>;
    /// From the first `L` values of a slice (which must hold that many).
    #[inline(always)]
    fn load_slice(a: &[f32]) -> Self {
        let mut lanes = [0.0f32; L];
        lanes.copy_from_slice(&a[..L]);
        Self::load(&lanes)
    }
    /// a + b.
    fn add(self, b: Self) -> Self;
    /// a − b.
    fn sub(self, b: Self) -> Self;
    /// a · b.
    fn mul(self, b: Self) -> Self;
    /// a / b.
    fn div(self, b: Self) -> Self;
    /// a · b + c (fused when `FUSED`).
    fn fma(self, b: Self, c: Self) -> Self;
    /// c − a · b (fused when `FUSED`; the same as `(0 − a).fma(b, c)`, as negation is exact).
    fn fnma(self, b: Self, c: Self) -> Self;
    /// min(a, b) as `f32::min` for non-NaN b.
    fn min(self, b: Self) -> Self;
    /// max(a, b) as `f32::max` for non-NaN b.
    fn max(self, b: Self) -> Self;
    /// |a|.
    fn abs(self) -> Self;
    /// |a| with the sign of `sign`.
    fn copysign(self, sign: Self) -> Self;
    /// 1 where a > 0, else 0.
    fn positive(self) -> Self;
    /// √a.
    fn sqrt(self) -> Self;
    /// All bits set in the lanes where a ≤ b, none elsewhere (none where either is NaN).
    fn le(self, b: Self) -> Self;
    /// Bitwise a AND b.
    fn and(self, b: Self) -> Self;
    /// Bitwise (NOT a) AND b.
    fn andnot(self, b: Self) -> Self;
    /// Whether any lane has its sign bit set (any lane of a mask from `le`).
    fn any(self) -> bool;
    /// 2ⁿ from t = n + 1.5·2²³ for an integer n in [−126, 127] (the bits of t hold n).
    fn pow2_from_rounded(self) -> Self;
    /// Lane-wise scalar function (for activations without a vector form).
    #[inline(always)]
    fn map(self, f: impl Fn(f32) -> f32) -> Self {
        Self::load(&self.store().map(f))
    }
}

/// Portable vector: an array of `L` lanes, products fused when `F`.
#[derive(Clone, Copy)]
pub struct Arr<const L: usize, const F: bool>(Lanes<L>);

macro_rules! lanewise {
    ($a:expr, $b:expr, |$x:ident, $y:ident| $e:expr) => {{
        let mut out = [0.0f32; L];
        for k in 0..L {
            let ($x, $y) = ($a.0[k], $b.0[k]);
            out[k] = $e;
        }
        Arr(out)
    }};
}

impl<const L: usize, const F: bool> Simd<L> for Arr<L, F> {
    const FUSED: bool = F;
    #[inline(always)]
    fn splat(v: f32) -> Self {
        Arr([v; L])
    }
    #[inline(always)]
    fn load(a: &Lanes<L>) -> Self {
        Arr(*a)
    }
    #[inline(always)]
    fn store(self) -> Lanes<L> {
        self.0
    }
    #[inline(always)]
    fn add(self, b: Self) -> Self {
        lanewise!(self, b, |x, y| x + y)
    }
    #[inline(always)]
    fn sub(self, b: Self) -> Self {
        lanewise!(self, b, |x, y| x - y)
    }
    #[inline(always)]
    fn mul(self, b: Self) -> Self {
        lanewise!(self, b, |x, y| x * y)
    }
    #[inline(always)]
    fn div(self, b: Self) -> Self {
        lanewise!(self, b, |x, y| x / y)
    }
    #[inline(always)]
    fn fma(self, b: Self, c: Self) -> Self {
        let mut out = [0.0f32; L];
        for k in 0..L {
            out[k] = super::common::fma::<F>(self.0[k], b.0[k], c.0[k]);
        }
        Arr(out)
    }
    #[inline(always)]
    fn fnma(self, b: Self, c: Self) -> Self {
        let mut out = [0.0f32; L];
        for k in 0..L {
            out[k] = super::common::fma::<F>(-self.0[k], b.0[k], c.0[k]);
        }
        Arr(out)
    }
    #[inline(always)]
    fn min(self, b: Self) -> Self {
        lanewise!(self, b, |x, y| if x < y { x } else { y })
    }
    #[inline(always)]
    fn max(self, b: Self) -> Self {
        lanewise!(self, b, |x, y| if x > y { x } else { y })
    }
    #[inline(always)]
    fn abs(self) -> Self {
        Arr(self.0.map(f32::abs))
    }
    #[inline(always)]
    fn copysign(self, sign: Self) -> Self {
        lanewise!(self, sign, |x, s| x.copysign(s))
    }
    #[inline(always)]
    fn positive(self) -> Self {
        Arr(self.0.map(|x| if x > 0.0 { 1.0 } else { 0.0 }))
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        Arr(self.0.map(f32::sqrt))
    }
    #[inline(always)]
    fn le(self, b: Self) -> Self {
        lanewise!(self, b, |x, y| f32::from_bits(if x <= y { !0 } else { 0 }))
    }
    #[inline(always)]
    fn and(self, b: Self) -> Self {
        lanewise!(self, b, |x, y| f32::from_bits(x.to_bits() & y.to_bits()))
    }
    #[inline(always)]
    fn andnot(self, b: Self) -> Self {
        lanewise!(self, b, |x, y| f32::from_bits(!x.to_bits() & y.to_bits()))
    }
    #[inline(always)]
    fn any(self) -> bool {
        self.0.iter().any(|x| x.is_sign_negative())
    }
    #[inline(always)]
    fn pow2_from_rounded(self) -> Self {
        const ROUND: f32 = 12_582_912.0;
        Arr(self.0.map(|t| {
            f32::from_bits(t.to_bits().wrapping_sub(ROUND.to_bits()).wrapping_add(127) << 23)
        }))
    }
}

/// Eight lanes in one AVX2 register, products fused.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub struct Avx2(std::arch::x86_64::__m256);

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{Avx2, Lanes, Simd};
    use std::arch::x86_64::*;

    // SAFETY (every block below): `Avx2` values exist only inside kernels compiled with AVX2 and
    // FMA enabled, which run only on processors that have both (module documentation).
    impl Simd<8> for Avx2 {
        const FUSED: bool = true;
        #[inline(always)]
        fn splat(v: f32) -> Self {
            Avx2(unsafe { _mm256_set1_ps(v) })
        }
        #[inline(always)]
        fn load(a: &Lanes<8>) -> Self {
            Avx2(unsafe { _mm256_loadu_ps(a.as_ptr()) })
        }
        #[inline(always)]
        fn store(self) -> Lanes<8> {
            let mut out = [0.0f32; 8];
            unsafe { _mm256_storeu_ps(out.as_mut_ptr(), self.0) };
            out
        }
        #[inline(always)]
        fn add(self, b: Self) -> Self {
            Avx2(unsafe { _mm256_add_ps(self.0, b.0) })
        }
        #[inline(always)]
        fn sub(self, b: Self) -> Self {
            Avx2(unsafe { _mm256_sub_ps(self.0, b.0) })
        }
        #[inline(always)]
        fn mul(self, b: Self) -> Self {
            Avx2(unsafe { _mm256_mul_ps(self.0, b.0) })
        }
        #[inline(always)]
        fn div(self, b: Self) -> Self {
            Avx2(unsafe { _mm256_div_ps(self.0, b.0) })
        }
        #[inline(always)]
        fn fma(self, b: Self, c: Self) -> Self {
            Avx2(unsafe { _mm256_fmadd_ps(self.0, b.0, c.0) })
        }
        #[inline(always)]
        fn fnma(self, b: Self, c: Self) -> Self {
            Avx2(unsafe { _mm256_fnmadd_ps(self.0, b.0, c.0) })
        }
        #[inline(always)]
        fn min(self, b: Self) -> Self {
            // vminps returns the second operand when either is NaN: NaN in a gives b.
            Avx2(unsafe { _mm256_min_ps(self.0, b.0) })
        }
        #[inline(always)]
        fn max(self, b: Self) -> Self {
            Avx2(unsafe { _mm256_max_ps(self.0, b.0) })
        }
        #[inline(always)]
        fn abs(self) -> Self {
            Avx2(unsafe { _mm256_andnot_ps(_mm256_set1_ps(-0.0), self.0) })
        }
        #[inline(always)]
        fn copysign(self, sign: Self) -> Self {
            unsafe {
                let m = _mm256_set1_ps(-0.0);
                Avx2(_mm256_or_ps(
                    _mm256_andnot_ps(m, self.0),
                    _mm256_and_ps(m, sign.0),
                ))
            }
        }
        #[inline(always)]
        fn positive(self) -> Self {
            unsafe {
                let gt = _mm256_cmp_ps::<_CMP_GT_OQ>(self.0, _mm256_setzero_ps());
                Avx2(_mm256_and_ps(gt, _mm256_set1_ps(1.0)))
            }
        }
        #[inline(always)]
        fn sqrt(self) -> Self {
            Avx2(unsafe { _mm256_sqrt_ps(self.0) })
        }
        #[inline(always)]
        fn le(self, b: Self) -> Self {
            Avx2(unsafe { _mm256_cmp_ps::<_CMP_LE_OQ>(self.0, b.0) })
        }
        #[inline(always)]
        fn and(self, b: Self) -> Self {
            Avx2(unsafe { _mm256_and_ps(self.0, b.0) })
        }
        #[inline(always)]
        fn andnot(self, b: Self) -> Self {
            Avx2(unsafe { _mm256_andnot_ps(self.0, b.0) })
        }
        #[inline(always)]
        fn any(self) -> bool {
            unsafe { _mm256_movemask_ps(self.0) != 0 }
        }
        #[inline(always)]
        fn pow2_from_rounded(self) -> Self {
            unsafe {
                let bits = _mm256_castps_si256(self.0);
                let n = _mm256_sub_epi32(bits, _mm256_set1_epi32(0x4B40_0000 - 127));
                Avx2(_mm256_castsi256_ps(_mm256_slli_epi32::<23>(n)))
            }
        }
    }
}

/// Several vectors of `S` treated as one of `L` lanes: each operation is issued on every part,
/// so the processor works on independent dependency chains at once. The kernels are otherwise
/// bound by the latency of one chain (the activation's polynomial, the division).
#[derive(Clone, Copy)]
pub struct Multi<S, const K: usize>([S; K]);

macro_rules! multi {
    ($inner:ty, $lanes:literal, $k:literal, $total:literal) => {
        impl Simd<$total> for Multi<$inner, $k> {
            const FUSED: bool = <$inner as Simd<$lanes>>::FUSED;
            #[inline(always)]
            fn splat(v: f32) -> Self {
                Multi([<$inner>::splat(v); $k])
            }
            #[inline(always)]
            fn load(a: &Lanes<$total>) -> Self {
                let mut out = [<$inner>::splat(0.0); $k];
                for (i, o) in out.iter_mut().enumerate() {
                    let mut part = [0.0f32; $lanes];
                    part.copy_from_slice(&a[i * $lanes..(i + 1) * $lanes]);
                    *o = <$inner>::load(&part);
                }
                Multi(out)
            }
            #[inline(always)]
            fn store(self) -> Lanes<$total> {
                let mut out = [0.0f32; $total];
                for i in 0..$k {
                    out[i * $lanes..(i + 1) * $lanes].copy_from_slice(&self.0[i].store());
                }
                out
            }
            #[inline(always)]
            fn add(self, b: Self) -> Self {
                multi!(@zip self, b, add)
            }
            #[inline(always)]
            fn sub(self, b: Self) -> Self {
                multi!(@zip self, b, sub)
            }
            #[inline(always)]
            fn mul(self, b: Self) -> Self {
                multi!(@zip self, b, mul)
            }
            #[inline(always)]
            fn div(self, b: Self) -> Self {
                multi!(@zip self, b, div)
            }
            #[inline(always)]
            fn fma(self, b: Self, c: Self) -> Self {
                let mut out = self.0;
                for i in 0..$k {
                    out[i] = self.0[i].fma(b.0[i], c.0[i]);
                }
                Multi(out)
            }
            #[inline(always)]
            fn fnma(self, b: Self, c: Self) -> Self {
                let mut out = self.0;
                for i in 0..$k {
                    out[i] = self.0[i].fnma(b.0[i], c.0[i]);
                }
                Multi(out)
            }
            #[inline(always)]
            fn min(self, b: Self) -> Self {
                multi!(@zip self, b, min)
            }
            #[inline(always)]
            fn max(self, b: Self) -> Self {
                multi!(@zip self, b, max)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                multi!(@one self, abs)
            }
            #[inline(always)]
            fn copysign(self, sign: Self) -> Self {
                multi!(@zip self, sign, copysign)
            }
            #[inline(always)]
            fn positive(self) -> Self {
                multi!(@one self, positive)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                multi!(@one self, sqrt)
            }
            #[inline(always)]
            fn le(self, b: Self) -> Self {
                multi!(@zip self, b, le)
            }
            #[inline(always)]
            fn and(self, b: Self) -> Self {
                multi!(@zip self, b, and)
            }
            #[inline(always)]
            fn andnot(self, b: Self) -> Self {
                multi!(@zip self, b, andnot)
            }
            #[inline(always)]
            fn any(self) -> bool {
                let mut any = false;
                for part in self.0 {
                    any |= part.any();
                }
                any
            }
            #[inline(always)]
            fn pow2_from_rounded(self) -> Self {
                multi!(@one self, pow2_from_rounded)
            }
        }
    };
    (@zip $a:expr, $b:expr, $op:ident) => {{
        let mut out = $a.0;
        for i in 0..out.len() {
            out[i] = $a.0[i].$op($b.0[i]);
        }
        Multi(out)
    }};
    (@one $a:expr, $op:ident) => {{
        let mut out = $a.0;
        for o in out.iter_mut() {
            *o = o.$op();
        }
        Multi(out)
    }};
}

#[cfg(target_arch = "x86_64")]
multi!(Avx2, 8, 2, 16);
#[cfg(target_arch = "x86_64")]
multi!(Avx2, 8, 4, 32);
