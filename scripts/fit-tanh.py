#!/usr/bin/env python3
"""Coefficients of the CPU kernels' tanh (crates/cpu/src/common.rs): tanh(x) ≈ x·P(x²)/Q(x²).

A minimax fit of the relative error of g(s) = tanh(x)/x, s = (x/X)² on [0, 1] (X = 9, where
tanh is 1 in float32), with P of degree M and Q of degree K in s, by the differential-correction
method: each round solves a linear programme for the best P − g·Q weighted by the previous Q.
Bases are Chebyshev polynomials in 2s − 1 for conditioning; the result is converted to powers of
x² with Q(0) = 1. It then prints the float32 coefficients and the worst error of a float32
evaluation (Horner, fused and not) against float64 tanh, and the smallest argument from which
that evaluation reaches 1 (the clamp).

    python3 scripts/fit-tanh.py [M K]      (default 4 4; needs numpy, scipy and mpmath)
"""
import sys

import mpmath
import numpy as np
from numpy.polynomial import chebyshev as C
from numpy.polynomial import polynomial as Pm
from scipy.optimize import linprog

mpmath.mp.dps = 40
M, K = (int(sys.argv[1]), int(sys.argv[2])) if len(sys.argv) > 2 else (4, 4)
X = 9.0

s = (1 - np.cos(np.linspace(0, np.pi, 3000))) / 2
x = X * np.sqrt(s)
g = np.array([float(mpmath.tanh(mpmath.mpf(v)) / v) if v > 0 else 1.0 for v in x])
TP = C.chebvander(2 * s - 1, M)
TQ = C.chebvander(2 * s - 1, K)
q_prev, best = np.ones_like(s), None
for _ in range(20):
    w = q_prev * g
    # |P − g·Q| ≤ d·w, the T0 coefficient of Q fixed at 1; minimise d.
    a = np.hstack([TP, -g[:, None] * TQ[:, 1:], -w[:, None]])
    rhs = g * TQ[:, 0]
    scale = 1e6  # keeps the solver's absolute tolerances far below the error sought
    res = linprog(
        np.r_[np.zeros(M + K + 1), 1.0],
        A_ub=np.vstack([a, np.hstack([-a[:, :-1], a[:, -1:]])]) * scale,
        b_ub=np.r_[rhs, -rhs] * scale,
        bounds=[(None, None)] * (M + K + 1) + [(0, None)],
        method="highs",
        options=dict(primal_feasibility_tolerance=1e-10, dual_feasibility_tolerance=1e-10),
    )
    if res.x is None:
        break
    pc, qc = res.x[: M + 1], np.r_[1.0, res.x[M + 1 : M + K + 1]]
    q = TQ @ qc
    if np.any(q <= 0):
        break
    rel = np.max(np.abs(TP @ pc / q - g) / g)
    if best is None or rel < best[0]:
        best = (rel, pc, qc)
    q_prev = q
rel, pc, qc = best


def in_powers_of_x2(cheb):
    """Chebyshev coefficients in u = 2s − 1 to coefficients of (x²)^i."""
    in_u = C.cheb2poly(cheb)
    in_s = np.zeros(len(cheb))
    for i, c in enumerate(in_u):
        in_s[: i + 1] += c * Pm.polypow([-1.0, 2.0], i)
    return in_s / (X * X) ** np.arange(len(cheb))


p, q = in_powers_of_x2(pc), in_powers_of_x2(qc)
p, q = p / q[0], q / q[0]
p32, q32 = p.astype(np.float32), q.astype(np.float32)
print(f"relative error of the fit in exact arithmetic: {rel:.3g}")
print("P:", ", ".join(repr(float(c)) for c in p32))
print("Q:", ", ".join(repr(float(c)) for c in q32))


def tanh32(z, fused):
    z = z.astype(np.float32)
    t = z * z

    def horner(cs):
        r = np.full_like(z, cs[-1])
        for c in cs[-2::-1]:
            r = (r.astype(np.float64) * t + np.float64(c)).astype(np.float32) if fused else r * t + c
        return r

    return (z * horner(p32)) / horner(q32)


zs = np.concatenate(
    [
        np.arange(1, 900_001, dtype=np.float64).astype(np.float32) * np.float32(1e-5),
        (1e-8 * 1.0001 ** np.arange(200_000)).astype(np.float32),
    ]
)
zs = zs[zs <= X]
exact = np.tanh(zs.astype(np.float64))
ulp = np.spacing(np.abs(exact.astype(np.float32))).astype(np.float64)
tail = np.linspace(8, 9, 1_000_001).astype(np.float32)
reaches_one = np.ones_like(tail, dtype=bool)
for fused in (True, False):
    err = np.abs(tanh32(zs, fused).astype(np.float64) - exact) / ulp
    print(f"{'fused' if fused else 'not fused'}: worst {err.max():.2f} ulp at {zs[err.argmax()]}")
    reaches_one &= tanh32(tail, fused) >= 1
print("clamp (first argument in [8, 9] where both evaluations reach 1):", repr(tail[reaches_one][0]))
