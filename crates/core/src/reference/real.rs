//! Scalars the float64 reference computes with: plain f64, and dual numbers a + b·ε (ε² = 0)
//! whose ε part carries an exact directional derivative. Running the reference gradient on dual
//! numbers gives one column of the exact Hessian per direction (forward over reverse mode);
//! `Duals` carries several directions through one pass.

use std::ops::{Add, Div, Mul, Neg, Sub};

/// The operations the reference needs from its scalar type.
pub trait Real:
    Copy
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    /// A constant.
    fn from_f64(v: f64) -> Self;
    /// The value part (the number itself for f64).
    fn value(self) -> f64;
    /// tanh.
    fn tanh(self) -> Self;
    /// e^x.
    fn exp(self) -> Self;
    /// ln(1 + x).
    fn ln_1p(self) -> Self;
}

impl Real for f64 {
    fn from_f64(v: f64) -> Self {
        v
    }
    fn value(self) -> f64 {
        self
    }
    fn tanh(self) -> Self {
        f64::tanh(self)
    }
    fn exp(self) -> Self {
        f64::exp(self)
    }
    fn ln_1p(self) -> Self {
        f64::ln_1p(self)
    }
}

/// A dual number v + d·ε.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dual {
    /// Value.
    pub v: f64,
    /// Derivative along the seeded direction.
    pub d: f64,
}

impl Add for Dual {
    type Output = Dual;
    fn add(self, o: Dual) -> Dual {
        Dual {
            v: self.v + o.v,
            d: self.d + o.d,
        }
    }
}
impl Sub for Dual {
    type Output = Dual;
    fn sub(self, o: Dual) -> Dual {
        Dual {
            v: self.v - o.v,
            d: self.d - o.d,
        }
    }
}
impl Mul for Dual {
    type Output = Dual;
    fn mul(self, o: Dual) -> Dual {
        Dual {
            v: self.v * o.v,
            d: self.d * o.v + self.v * o.d,
        }
    }
}
impl Div for Dual {
    type Output = Dual;
    fn div(self, o: Dual) -> Dual {
        Dual {
            v: self.v / o.v,
            d: (self.d * o.v - self.v * o.d) / (o.v * o.v),
        }
    }
}
impl Neg for Dual {
    type Output = Dual;
    fn neg(self) -> Dual {
        Dual {
            v: -self.v,
            d: -self.d,
        }
    }
}

impl Real for Dual {
    fn from_f64(v: f64) -> Self {
        Dual { v, d: 0.0 }
    }
    fn value(self) -> f64 {
        self.v
    }
    fn tanh(self) -> Self {
        let t = self.v.tanh();
        Dual {
            v: t,
            d: self.d * (1.0 - t * t),
        }
    }
    fn exp(self) -> Self {
        let e = self.v.exp();
        Dual {
            v: e,
            d: self.d * e,
        }
    }
    fn ln_1p(self) -> Self {
        Dual {
            v: self.v.ln_1p(),
            d: self.d / (1.0 + self.v),
        }
    }
}

/// A dual number with `K` directions at once, v + Σₖ dₖ·εₖ (εⱼεₖ = 0): the value is computed
/// once for all of them, and each direction's part with exactly the operations of `Dual`, so
/// every directional derivative equals the one `Dual` gives, bit for bit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Duals<const K: usize> {
    /// Value.
    pub v: f64,
    /// Derivatives along the K seeded directions.
    pub d: [f64; K],
}

impl<const K: usize> Duals<K> {
    /// Applies `f(dₖ)` to every direction's part.
    #[inline(always)]
    fn map(self, v: f64, f: impl Fn(f64) -> f64) -> Self {
        Duals {
            v,
            d: self.d.map(f),
        }
    }

    /// Combines the direction parts of `self` and `o` with `f(dₖ, oₖ)`.
    #[inline(always)]
    fn zip(self, o: Self, v: f64, f: impl Fn(f64, f64) -> f64) -> Self {
        let mut d = self.d;
        for (x, &y) in d.iter_mut().zip(&o.d) {
            *x = f(*x, y);
        }
        Duals { v, d }
    }
}

impl<const K: usize> Add for Duals<K> {
    type Output = Self;
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        self.zip(o, self.v + o.v, |a, b| a + b)
    }
}
impl<const K: usize> Sub for Duals<K> {
    type Output = Self;
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        self.zip(o, self.v - o.v, |a, b| a - b)
    }
}
impl<const K: usize> Mul for Duals<K> {
    type Output = Self;
    #[inline(always)]
    #[expect(clippy::suspicious_arithmetic_impl, reason = "the product rule")]
    fn mul(self, o: Self) -> Self {
        let (sv, ov) = (self.v, o.v);
        self.zip(o, sv * ov, |a, b| a * ov + sv * b)
    }
}
impl<const K: usize> Div for Duals<K> {
    type Output = Self;
    #[inline(always)]
    #[expect(clippy::suspicious_arithmetic_impl, reason = "the quotient rule")]
    fn div(self, o: Self) -> Self {
        let (sv, ov) = (self.v, o.v);
        self.zip(o, sv / ov, |a, b| (a * ov - sv * b) / (ov * ov))
    }
}
impl<const K: usize> Neg for Duals<K> {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        self.map(-self.v, |a| -a)
    }
}

impl<const K: usize> Real for Duals<K> {
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        Duals { v, d: [0.0; K] }
    }
    #[inline(always)]
    fn value(self) -> f64 {
        self.v
    }
    #[inline(always)]
    fn tanh(self) -> Self {
        let t = self.v.tanh();
        self.map(t, |a| a * (1.0 - t * t))
    }
    #[inline(always)]
    fn exp(self) -> Self {
        let e = self.v.exp();
        self.map(e, |a| a * e)
    }
    #[inline(always)]
    fn ln_1p(self) -> Self {
        let v = self.v;
        self.map(v.ln_1p(), |a| a / (1.0 + v))
    }
}
