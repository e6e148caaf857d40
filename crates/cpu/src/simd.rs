//! Vectors of float32 lanes for the specialised kernels: a portable implementation on arrays,
//! which the compiler vectorises for whatever instruction set the calling function enables, and
//! ones on AVX2 + FMA and AVX-512 registers written with intrinsics, because the compiler's
//! vectoriser does not reliably turn the kernels into full-width code on arrays (on 16 lanes with
//! AVX-512 enabled it can make gathers, scatters and scalar FMAs of the walker kernels).
//!
//! The intrinsic types' operations are safe functions around `unsafe` intrinsic calls. They are
//! sound only on a processor with the instruction set, so the types are private to the CPU
//! backend and are used only inside the `#[target_feature]` kernels that `isa::Kernels` hands
//! out after `is_x86_feature_detected!` confirmed it. Each operation gives the bits of the
//! portable fused type's (tested on every type the processor runs).

#![expect(
    unsafe_code,
    reason = "the vector operations call intrinsics; the types are private, used only inside kernels for a detected instruction set"
)]

use super::common::Lanes;

/// A vector of `L` float32 lanes with the operations the kernels use.
pub trait Simd<const L: usize>: Copy {
    /// Whether `fma` rounds once.
    const FUSED: bool;
    /// Whether this is `Avx512`, whose kernels may use AVX-512 assembly (`asm231`).
    const AVX512: bool = false;
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
    /// Bitwise a OR b.
    fn or(self, b: Self) -> Self;
    /// Bitwise a XOR b: zero exactly in the lanes where a and b have the same bits.
    fn xor(self, b: Self) -> Self;
    /// `a` in the lanes where `mask` (from `le`) is set, `b` in the others.
    fn select(mask: Self, a: Self, b: Self) -> Self;
    /// Whether any lane has its sign bit set (any lane of a mask from `le`).
    fn any(self) -> bool;
    /// 2ⁿ from t = n + 1.5·2²³ for an integer n in [−126, 127] (the bits of t hold n).
    fn pow2_from_rounded(self) -> Self;
    /// max(|self|, acc) for acc ≥ 0 (or NaN), a NaN giving way to the other operand (NaN only
    /// when both are): one step of a running ‖·‖∞ that passes over NaN, as IEEE maxNum does.
    /// (One instruction on AVX-512, `vrangeps`.)
    fn max_abs(self, acc: Self) -> Self;
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
    fn or(self, b: Self) -> Self {
        lanewise!(self, b, |x, y| f32::from_bits(x.to_bits() | y.to_bits()))
    }
    #[inline(always)]
    fn xor(self, b: Self) -> Self {
        lanewise!(self, b, |x, y| f32::from_bits(x.to_bits() ^ y.to_bits()))
    }
    #[inline(always)]
    fn select(mask: Self, a: Self, b: Self) -> Self {
        let mut out = [0.0f32; L];
        for k in 0..L {
            out[k] = if mask.0[k].is_sign_negative() {
                a.0[k]
            } else {
                b.0[k]
            };
        }
        Arr(out)
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
    #[inline(always)]
    fn max_abs(self, acc: Self) -> Self {
        lanewise!(self, acc, |x, m| {
            let a = x.abs();
            if a.is_nan() {
                m
            } else if m.is_nan() || a > m {
                a
            } else {
                m
            }
        })
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
        fn or(self, b: Self) -> Self {
            Avx2(unsafe { _mm256_or_ps(self.0, b.0) })
        }
        #[inline(always)]
        fn xor(self, b: Self) -> Self {
            Avx2(unsafe { _mm256_xor_ps(self.0, b.0) })
        }
        #[inline(always)]
        fn select(mask: Self, a: Self, b: Self) -> Self {
            // Takes the second operand where the mask's sign bit is set.
            Avx2(unsafe { _mm256_blendv_ps(b.0, a.0, mask.0) })
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
        #[inline(always)]
        fn max_abs(self, acc: Self) -> Self {
            unsafe {
                // vmaxps gives its second operand, |self|, when either is NaN: right for a NaN
                // acc; where |self| is NaN, acc is taken instead.
                let a = _mm256_andnot_ps(_mm256_set1_ps(-0.0), self.0);
                let m = _mm256_max_ps(acc.0, a);
                Avx2(_mm256_blendv_ps(
                    m,
                    acc.0,
                    _mm256_cmp_ps::<_CMP_UNORD_Q>(a, a),
                ))
            }
        }
    }
}

/// Sixteen lanes in one AVX-512 register, products fused. Each operation is the AVX-512 form of
/// the `Avx2` one (the same IEEE operations, the same treatment of NaN in `min` and `max`), so
/// the two types give the same bits lane for lane (`agree_bitwise` below tests it where the
/// processor has both).
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub struct Avx512(std::arch::x86_64::__m512);

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{Avx512, Lanes, Simd};
    use std::arch::x86_64::*;

    // SAFETY (every block below): `Avx512` values exist only inside kernels compiled with
    // AVX-512 F, VL, DQ and BW enabled, which run only on processors that have them (module
    // documentation; `isa::Isa::available`).
    impl Simd<16> for Avx512 {
        const FUSED: bool = true;
        const AVX512: bool = true;
        #[inline(always)]
        fn splat(v: f32) -> Self {
            Avx512(unsafe { _mm512_set1_ps(v) })
        }
        #[inline(always)]
        fn load(a: &Lanes<16>) -> Self {
            Avx512(unsafe { _mm512_loadu_ps(a.as_ptr()) })
        }
        #[inline(always)]
        fn store(self) -> Lanes<16> {
            let mut out = [0.0f32; 16];
            unsafe { _mm512_storeu_ps(out.as_mut_ptr(), self.0) };
            out
        }
        #[inline(always)]
        fn add(self, b: Self) -> Self {
            Avx512(unsafe { _mm512_add_ps(self.0, b.0) })
        }
        #[inline(always)]
        fn sub(self, b: Self) -> Self {
            Avx512(unsafe { _mm512_sub_ps(self.0, b.0) })
        }
        #[inline(always)]
        fn mul(self, b: Self) -> Self {
            Avx512(unsafe { _mm512_mul_ps(self.0, b.0) })
        }
        #[inline(always)]
        fn div(self, b: Self) -> Self {
            Avx512(unsafe { _mm512_div_ps(self.0, b.0) })
        }
        #[inline(always)]
        fn fma(self, b: Self, c: Self) -> Self {
            Avx512(unsafe { _mm512_fmadd_ps(self.0, b.0, c.0) })
        }
        #[inline(always)]
        fn fnma(self, b: Self, c: Self) -> Self {
            Avx512(unsafe { _mm512_fnmadd_ps(self.0, b.0, c.0) })
        }
        #[inline(always)]
        fn min(self, b: Self) -> Self {
            // As vminps on 256 bits: the second operand when either is NaN.
            Avx512(unsafe { _mm512_min_ps(self.0, b.0) })
        }
        #[inline(always)]
        fn max(self, b: Self) -> Self {
            Avx512(unsafe { _mm512_max_ps(self.0, b.0) })
        }
        #[inline(always)]
        fn abs(self) -> Self {
            Avx512(unsafe { _mm512_andnot_ps(_mm512_set1_ps(-0.0), self.0) })
        }
        #[inline(always)]
        fn positive(self) -> Self {
            unsafe {
                let gt = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(self.0, _mm512_setzero_ps());
                Avx512(_mm512_maskz_mov_ps(gt, _mm512_set1_ps(1.0)))
            }
        }
        #[inline(always)]
        fn sqrt(self) -> Self {
            Avx512(unsafe { _mm512_sqrt_ps(self.0) })
        }
        #[inline(always)]
        fn le(self, b: Self) -> Self {
            unsafe {
                let le = _mm512_cmp_ps_mask::<_CMP_LE_OQ>(self.0, b.0);
                Avx512(_mm512_castsi512_ps(_mm512_movm_epi32(le)))
            }
        }
        #[inline(always)]
        fn and(self, b: Self) -> Self {
            Avx512(unsafe { _mm512_and_ps(self.0, b.0) })
        }
        #[inline(always)]
        fn andnot(self, b: Self) -> Self {
            Avx512(unsafe { _mm512_andnot_ps(self.0, b.0) })
        }
        #[inline(always)]
        fn or(self, b: Self) -> Self {
            Avx512(unsafe { _mm512_or_ps(self.0, b.0) })
        }
        #[inline(always)]
        fn xor(self, b: Self) -> Self {
            Avx512(unsafe { _mm512_xor_ps(self.0, b.0) })
        }
        #[inline(always)]
        fn select(mask: Self, a: Self, b: Self) -> Self {
            unsafe {
                let k = _mm512_movepi32_mask(_mm512_castps_si512(mask.0));
                // Takes the second operand where k is set.
                Avx512(_mm512_mask_blend_ps(k, b.0, a.0))
            }
        }
        #[inline(always)]
        fn any(self) -> bool {
            unsafe { _mm512_movepi32_mask(_mm512_castps_si512(self.0)) != 0 }
        }
        #[inline(always)]
        fn pow2_from_rounded(self) -> Self {
            unsafe {
                let bits = _mm512_castps_si512(self.0);
                let n = _mm512_sub_epi32(bits, _mm512_set1_epi32(0x4B40_0000 - 127));
                Avx512(_mm512_castsi512_ps(_mm512_slli_epi32::<23>(n)))
            }
        }
        #[inline(always)]
        fn max_abs(self, acc: Self) -> Self {
            // vrangeps, absolute maximum with the sign cleared (imm8 0b1011); a quiet NaN in
            // one operand gives the other.
            Avx512(unsafe { _mm512_range_ps::<0b1011>(self.0, acc.0) })
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
            fn or(self, b: Self) -> Self {
                multi!(@zip self, b, or)
            }
            #[inline(always)]
            fn xor(self, b: Self) -> Self {
                multi!(@zip self, b, xor)
            }
            #[inline(always)]
            fn select(mask: Self, a: Self, b: Self) -> Self {
                let mut out = b.0;
                for i in 0..$k {
                    out[i] = <$inner>::select(mask.0[i], a.0[i], b.0[i]);
                }
                Multi(out)
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
            #[inline(always)]
            fn max_abs(self, acc: Self) -> Self {
                multi!(@zip self, acc, max_abs)
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
#[cfg(target_arch = "x86_64")]
multi!(Avx512, 16, 2, 32);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::{activate, expm1};

    /// Arguments for the operations: signed zeros, infinities, NaN, subnormals, ones, the ends of
    /// tanh's clamp, and values spread over every binade (a fixed pseudo-random sequence).
    fn arguments() -> Vec<f32> {
        let mut out = vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            f32::MIN_POSITIVE,
            -1e-40,
            1e-45,
            8.139_846,
            -8.139_846,
            f32::MAX,
            -f32::MAX,
            0.5,
            3.0,
        ];
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        while out.len() < 16 * 64 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let word = (state >> 32) as u32;
            // Half of them of order one, half anywhere in the float32 range.
            let x = if word & 1 == 0 {
                (word >> 8) as f32 / (1u32 << 22) as f32 - 2.0
            } else {
                f32::from_bits(word)
            };
            out.push(x);
        }
        out
    }

    fn same(a: f32, b: f32) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    /// Every operation of `S` against the portable fused type, lane for lane and bit for bit.
    fn agree_bitwise<S: Simd<16>>(name: &str) {
        type P = Arr<16, true>;
        let xs = arguments();
        let chunks: Vec<Lanes<16>> = xs
            .chunks_exact(16)
            .map(|c| c.try_into().expect("16"))
            .collect();
        let check = |what: &str, got: Lanes<16>, want: Lanes<16>| {
            for k in 0..16 {
                assert!(
                    same(got[k], want[k]),
                    "{name} {what}, lane {k}: {} against {}",
                    got[k],
                    want[k]
                );
            }
        };
        for (i, a) in chunks.iter().enumerate() {
            let b = &chunks[(i * 7 + 3) % chunks.len()];
            let c = &chunks[(i * 13 + 5) % chunks.len()];
            let (sa, sb, sc) = (S::load(a), S::load(b), S::load(c));
            let (pa, pb, pc) = (P::load(a), P::load(b), P::load(c));
            check("load/store", sa.store(), *a);
            check("splat", S::splat(a[3]).store(), P::splat(a[3]).store());
            check("add", sa.add(sb).store(), pa.add(pb).store());
            check("sub", sa.sub(sb).store(), pa.sub(pb).store());
            check("mul", sa.mul(sb).store(), pa.mul(pb).store());
            check("div", sa.div(sb).store(), pa.div(pb).store());
            check("fma", sa.fma(sb, sc).store(), pa.fma(pb, pc).store());
            check("fnma", sa.fnma(sb, sc).store(), pa.fnma(pb, pc).store());
            // NaN is never the second operand of min and max in the kernels.
            let nb = if b.iter().any(|x| x.is_nan()) {
                S::splat(0.25)
            } else {
                sb
            };
            let npb = if b.iter().any(|x| x.is_nan()) {
                P::splat(0.25)
            } else {
                pb
            };
            check("min", sa.min(nb).store(), pa.min(npb).store());
            check("max", sa.max(nb).store(), pa.max(npb).store());
            check("abs", sa.abs().store(), pa.abs().store());
            // A running maximum: acc ≥ 0 or NaN (c's magnitudes, NaN kept).
            let acc = pc.abs();
            check(
                "max_abs",
                sa.max_abs(S::load(&acc.store())).store(),
                pa.max_abs(acc).store(),
            );
            check("positive", sa.positive().store(), pa.positive().store());
            check("sqrt", sa.sqrt().store(), pa.sqrt().store());
            let (sl, pl) = (sa.le(sb), pa.le(pb));
            check("le", sl.store(), pl.store());
            assert_eq!(sl.any(), pl.any(), "{name} any");
            check("and", sl.and(sc).store(), pl.and(pc).store());
            check("andnot", sl.andnot(sc).store(), pl.andnot(pc).store());
            // Bit patterns, NaN ones included, compared as bits.
            for (what, got, want) in [
                ("or", sa.or(sb).store(), pa.or(pb).store()),
                ("xor", sa.xor(sb).store(), pa.xor(pb).store()),
            ] {
                let bits = |v: Lanes<16>| v.map(f32::to_bits);
                assert_eq!(bits(got), bits(want), "{name} {what}");
            }
            let same = sa.xor(sa).store().map(f32::to_bits);
            assert_eq!(same, [0; 16], "{name} xor with itself");
            check(
                "select",
                S::select(sl, sb, sc).store(),
                P::select(pl, pb, pc).store(),
            );
            // 2ⁿ and e^y − 1 on their documented domains.
            let y = pa.max(P::splat(-87.0)).min(P::splat(88.0)).store();
            check(
                "expm1",
                expm1::<16, S>(S::load(&y)).store(),
                expm1::<16, P>(P::load(&y)).store(),
            );
            let n: Lanes<16> = std::array::from_fn(|k| (y[k] * 1.4).round() + 12_582_912.0);
            check(
                "pow2",
                S::load(&n).pow2_from_rounded().store(),
                P::load(&n).pow2_from_rounded().store(),
            );
            for code in 0..5 {
                let (sv, sd) = activate::<16, S>(code, sa);
                let (pv, pd) = activate::<16, P>(code, pa);
                check(&format!("activation {code}"), sv.store(), pv.store());
                check(&format!("derivative {code}"), sd.store(), pd.store());
            }
        }
    }

    #[test]
    fn max_abs_is_a_running_maximum_that_passes_over_nan() {
        let x = [
            f32::NAN,
            1.0,
            -3.0,
            f32::NEG_INFINITY,
            -0.0,
            2.0,
            -2.0,
            f32::NAN,
        ];
        let acc = [0.5, f32::NAN, 2.0, 0.0, 0.0, f32::INFINITY, 2.0, f32::NAN];
        let got = Arr::<8, true>::load(&x).max_abs(Arr::load(&acc)).store();
        assert_eq!(
            &got[..7],
            &[0.5, 1.0, 3.0, f32::INFINITY, 0.0, f32::INFINITY, 2.0]
        );
        assert!(got[4].is_sign_positive() && got[7].is_nan());
    }

    #[test]
    fn intrinsic_types_agree_bitwise_with_the_portable_fused_type() {
        #[cfg(target_arch = "x86_64")]
        {
            use super::super::isa::Isa;
            let available = Isa::tested();
            if available.contains(&Isa::Avx2) {
                agree_bitwise::<Multi<Avx2, 2>>("avx2");
            }
            if available.contains(&Isa::Avx512) {
                agree_bitwise::<Avx512>("avx512");
            }
        }
    }
}
