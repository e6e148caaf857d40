#!/usr/bin/env python3
"""Writes crates/cpu/src/asm231.rs: the walkers' step loop of the 2-3-1 tanh–linear network
with biases (W1's network) in AVX-512 assembly, every register chosen by hand.

    python3 scripts/asm231.py > crates/cpu/src/asm231.rs && cargo fmt

The loop computes what `OneHidden::advance_with` computes for that network, operation for
operation (the same bits); see the module's documentation for the registers and the order.
"""

K = {}  # constant name -> index in the constants array


def const(name):
    K.setdefault(name, len(K))
    return K[name]


for name in ["clamp", "neg_clamp", "p0", "p1", "p2", "p3", "p4", "q0", "q1", "q2", "q3", "q4",
             "one", "neg_one", "rate", "theta", "total", "grad_lo", "grad_hi", "abs"]:
    const(name)

lines = []


def e(ins, comment=None):
    lines.append((ins, comment))


def note(comment):
    lines.append((None, comment))


def theta(q):
    return f"zmmword ptr [{{theta}} + {q * 64}]"


def bc(name):
    return f"dword ptr [{{c}} + {4 * K[name]}]{{{{1to16}}}}"


def scalar(name):
    return f"dword ptr [{{c}} + {4 * K[name]}]"


def xb(off):
    return f"dword ptr [{{x}} + {off}]{{{{1to16}}}}"


def hm(i):
    return f"zmmword ptr [{{h}} + {64 * i}]"


# θ in the layout's order: w1 (unit i, input j) = zmm(2i + j), b1 = zmm6..8, w2 = zmm9..11,
# b2 = zmm12; the summed gradient alike in zmm13..25; the summed squared error in zmm26.
def w1(i, j): return f"zmm{2 * i + j}"
def b1(i): return f"zmm{6 + i}"
def w2(i): return f"zmm{9 + i}"
B2 = "zmm12"
def g(q): return f"zmm{13 + q}"
def gw1(i, j): return g(2 * i + j)
def gb1(i): return g(6 + i)
def gw2(i): return g(9 + i)
GB2, TOTAL = g(12), "zmm26"

note("θ into zmm0..12.")
for q in range(13):
    e(f"vmovups zmm{q}, {theta(q)}")
e("2:", "A step.")
e("cmp {step:e}, {steps:e}")
e("jae 9f")
note("Phase 1: every sample's hidden activations into the buffer, three units at a")
note("time. The gradient's registers are free until phase 2: seven hold constants.")
KREG = {"clamp": "zmm13", "neg_clamp": "zmm14", "one": "zmm15", "neg_one": "zmm16",
        "p4": "zmm17", "q4": "zmm18", "p3": "zmm19"}


def kc(name):
    return KREG.get(name, bc(name))


for name, r in KREG.items():
    e(f"vbroadcastss {r}, {scalar(name)}")
e("mov {x}, {inputs}")
e("mov {h}, {hidden}")
e("mov {k}, {n}")
e("3:", "A sample.")
Z = ["zmm20", "zmm21", "zmm22"]
T = ["zmm23", "zmm24", "zmm25"]
P = ["zmm26", "zmm27", "zmm28"]
Q = ["zmm29", "zmm30", "zmm31"]


def each(f):
    for i in range(3):
        e(f(i))


note("z = b1 + w1·x, clamped to ±clamp.")
each(lambda i: f"vmovaps {Z[i]}, {b1(i)}")
each(lambda i: f"vfmadd231ps {Z[i]}, {w1(i, 0)}, {xb(0)}")
each(lambda i: f"vfmadd231ps {Z[i]}, {w1(i, 1)}, {xb(4)}")
each(lambda i: f"vminps {Z[i]}, {Z[i]}, {kc('clamp')}")
each(lambda i: f"vmaxps {Z[i]}, {Z[i]}, {kc('neg_clamp')}")
note("tanh(z) = z·P(z²)/Q(z²), clamped to ±1.")
each(lambda i: f"vmulps {T[i]}, {Z[i]}, {Z[i]}")
each(lambda i: f"vmovaps {P[i]}, {kc('p4')}")
each(lambda i: f"vmovaps {Q[i]}, {kc('q4')}")
for k in (3, 2, 1, 0):
    each(lambda i: f"vfmadd213ps {P[i]}, {T[i]}, {kc(f'p{k}')}")
    each(lambda i: f"vfmadd213ps {Q[i]}, {T[i]}, {kc(f'q{k}')}")
each(lambda i: f"vmulps {P[i]}, {Z[i]}, {P[i]}")
each(lambda i: f"vdivps {Z[i]}, {P[i]}, {Q[i]}")
each(lambda i: f"vminps {Z[i]}, {Z[i]}, {kc('one')}")
each(lambda i: f"vmaxps {Z[i]}, {Z[i]}, {kc('neg_one')}")
each(lambda i: f"vmovups {hm(i)}, {Z[i]}")
e("add {x}, 8")
e("add {h}, 192")
e("dec {k}")
e("jnz 3b")
note("Phase 2: the output, the error and the backward pass, sample by sample.")
for q in range(13):
    e(f"vpxord {g(q)}, {g(q)}, {g(q)}")
e(f"vpxord {TOTAL}, {TOTAL}, {TOTAL}")
e("mov {x}, {inputs}")
e("mov {y}, {targets}")
e("mov {h}, {hidden}")
e("mov {k}, {n}")
e("4:", "A sample.")
D, HV = "zmm27", "zmm31"
BACK = ["zmm28", "zmm29", "zmm30"]
note("e = b2 + w2·h − y; the squared error summed; δ = 2e (the output's a' is 1).")
e(f"vmovaps {D}, {B2}")
for i in range(3):
    e(f"vfmadd231ps {D}, {w2(i)}, {hm(i)}")
e(f"vsubps {D}, {D}, dword ptr [{{y}}]{{{{1to16}}}}")
e(f"vfmadd231ps {TOTAL}, {D}, {D}")
e(f"vaddps {D}, {D}, {D}")
for i in range(3):
    e(f"vfmadd231ps {gw2(i)}, {D}, {hm(i)}")
e(f"vaddps {GB2}, {GB2}, {D}")
note("Each unit: back = w2·δ + 0, d = (1 − h²)·back, then d·x and d summed.")
for i in range(3):
    b = BACK[i]
    e(f"vpxord {b}, {b}, {b}")
    e(f"vfmadd231ps {b}, {w2(i)}, {D}")
    e(f"vmovups {HV}, {hm(i)}")
    e(f"vfnmadd213ps {HV}, {HV}, {bc('one')}")
    e(f"vmulps {HV}, {HV}, {b}")
    e(f"vfmadd231ps {gw1(i, 0)}, {HV}, {xb(0)}")
    e(f"vfmadd231ps {gw1(i, 1)}, {HV}, {xb(4)}")
    e(f"vaddps {gb1(i)}, {gb1(i)}, {HV}")
e("add {x}, 8")
e("add {y}, 4")
e("add {h}, 192")
e("dec {k}")
e("jnz 4b")
note("The screen (`Screen`): ‖θ‖∞ and the gradient's largest part, as maxima of |x|.")
TM, GM, TA = "zmm27", "zmm28", "zmm29"
e(f"vpxord {TM}, {TM}, {TM}")
e(f"vpxord {GM}, {GM}, {GM}")
for q in range(13):
    e(f"vrangeps {TM}, zmm{q}, {TM}, 11")
for q in range(13):
    e(f"vrangeps {GM}, {g(q)}, {GM}, 11")
e(f"vcmpps k1, {TM}, {bc('theta')}, 2", "‖θ‖∞ ≤ theta")
e(f"vpandd {TA}, {TOTAL}, {bc('abs')}")
e(f"vcmpps k1{{{{k1}}}}, {TA}, {bc('total')}, 2", "|Σe²| ≤ total")
e(f"vcmpps k1{{{{k1}}}}, {GM}, {bc('grad_lo')}, 29", "G ≥ grad_lo")
e(f"vcmpps k1{{{{k1}}}}, {GM}, {bc('grad_hi')}, 2", "G ≤ grad_hi")
e("kortestw k1, k1")
e("jnc 9f", "a lane failed: leave before the step")
note("θ ← θ − rate·(n·∇L).")
for q in range(13):
    e(f"vfnmadd231ps zmm{q}, {g(q)}, {bc('rate')}")
e("inc {step:e}")
e("jmp 2b")
e("9:")
for q in range(13):
    e(f"vmovups {theta(q)}, zmm{q}")

HEADER = '''\
// Generated by scripts/asm231.py; edit that and run it again.
//! The walkers' step loop of the 2-3-1 tanh–linear network with biases (W1's network) for 16
//! walkers, in AVX-512 assembly with every register chosen by hand: the compiled form of
//! `OneHidden::advance_with` keeps 26 to 40 values a step in memory, as θ, the gradient, twelve
//! activations and the activation's constants outgrow the 32 registers.
//!
//! Registers: θ in zmm0..12 and the summed gradient n·∇L in zmm13..25 (both in the layout's
//! order: w1 by unit then input, b1, w2, b2), the summed squared error in zmm26. A step has two
//! phases. Phase 1 computes every sample's three hidden activations (the three units' chains
//! interleaved, seven constants in the then unused gradient registers) into a buffer; phase 2
//! takes the samples again in order for the output, the error and the backward pass. Then the
//! bounds of `Screen` decide whether every walker surely keeps running: if so, θ steps and the
//! loop goes on; if not, or at the last step, it stores θ and returns the step, and the caller
//! evaluates that step again on its own path and makes the exact tests.
//!
//! Every operation is the one `OneHidden::block` (with `common::tanh`) makes, on the same
//! operands in the same order, and each sum takes the samples in index order: the results are
//! the bits of the compiled loop (`cpu_walks_take_the_same_steps_with_and_without_a_trace`
//! checks them against the general kernel).
#![expect(unsafe_code, reason = "the loop is inline assembly, run only after AVX-512 was detected")]

use super::common::Lanes;

/// Indices of the constants the loop reads (`steps`' `c`).
pub mod at {
'''


def main():
    out = [HEADER]
    docs = {"clamp": "`common::TANH_CLAMP`", "neg_clamp": "−`common::TANH_CLAMP`",
            "one": "1", "neg_one": "−1", "rate": "The step size, `descend::step_size`",
            "theta": "`Screen::theta`", "total": "`Screen::total`",
            "grad_lo": "`Screen::grad_lo`", "grad_hi": "`Screen::grad_hi`",
            "abs": "The bits 0x7fffffff (|x| by a logical and)"}
    for k in range(5):
        docs[f"p{k}"] = f"`common::TANH_P[{k}]`"
        docs[f"q{k}"] = f"`common::TANH_Q[{k}]`"
    for name, i in K.items():
        out.append(f"    /// {docs[name]}.\n    pub const {name.upper()}: usize = {i};\n")
    out.append("}\n\n")
    out.append(f"/// How many constants the loop reads.\npub const CONSTANTS: usize = {len(K)};\n\n")
    out.append('''\
/// Runs steps `step`, `step` + 1, … of plain gradient descent for the 16 walkers in `theta`
/// (13 parameters × 16 lanes, parameter-major in the layout's order) on `n` samples (`data`:
/// n × 2 inputs, then n targets) until the last step (`steps`) or until the screen fails for
/// some walker; writes θ back and returns the step it stopped before. `c` holds the constants
/// at the indices of `at`; `hidden` is working memory for 3n activations. Returns `None`,
/// touching nothing, where the processor lacks AVX-512 or the sizes do not fit.
pub fn steps(
    theta: &mut [f32],
    data: &[f32],
    n: usize,
    c: &[f32; CONSTANTS],
    hidden: &mut Vec<Lanes<16>>,
    step: u32,
    steps: u32,
) -> Option<u32> {
    if theta.len() != 13 * 16
        || n == 0
        || data.len() != 3 * n
        || !std::arch::is_x86_feature_detected!("avx512f")
        || !std::arch::is_x86_feature_detected!("avx512dq")
    {
        return None;
    }
    hidden.resize(3 * n, [0.0; 16]);
    // SAFETY: the processor has the features `run` is compiled for (checked above).
    Some(unsafe { run(theta, data, n, c, hidden, step, steps) })
}

/// `steps` after its checks.
///
/// # Safety
/// The processor must support AVX-512 F and DQ; `theta` must hold 13 × 16 values, `data` 3n
/// values (n ≥ 1) and `hidden` 3n rows.
#[target_feature(enable = "avx512f,avx512dq")]
unsafe fn run(
    theta: &mut [f32],
    data: &[f32],
    n: usize,
    c: &[f32; CONSTANTS],
    hidden: &mut [Lanes<16>],
    mut step: u32,
    steps: u32,
) -> u32 {
    let (inputs, targets) = data.split_at(2 * n);
    // SAFETY: the loop reads the 13 rows of θ and writes them back, reads the n × 2 inputs, the
    // n targets and the constants at their indices, and writes and reads 3n rows of `hidden`;
    // all unaligned. It keeps no stack and changes only the registers declared.
    unsafe {
        core::arch::asm!(
''')
    for ins, comment in lines:
        if ins is None:
            out.append(f"            // {comment}\n")
        else:
            out.append(f'            "{ins}",' + (f" // {comment}" if comment else "") + "\n")
    out.append('''\
            theta = in(reg) theta.as_mut_ptr(),
            c = in(reg) c.as_ptr(),
            inputs = in(reg) inputs.as_ptr(),
            targets = in(reg) targets.as_ptr(),
            hidden = in(reg) hidden.as_mut_ptr(),
            n = in(reg) n,
            steps = in(reg) steps,
            step = inout(reg) step,
            x = out(reg) _,
            y = out(reg) _,
            h = out(reg) _,
            k = out(reg) _,
            out("zmm0") _, out("zmm1") _, out("zmm2") _, out("zmm3") _,
            out("zmm4") _, out("zmm5") _, out("zmm6") _, out("zmm7") _,
            out("zmm8") _, out("zmm9") _, out("zmm10") _, out("zmm11") _,
            out("zmm12") _, out("zmm13") _, out("zmm14") _, out("zmm15") _,
            out("zmm16") _, out("zmm17") _, out("zmm18") _, out("zmm19") _,
            out("zmm20") _, out("zmm21") _, out("zmm22") _, out("zmm23") _,
            out("zmm24") _, out("zmm25") _, out("zmm26") _, out("zmm27") _,
            out("zmm28") _, out("zmm29") _, out("zmm30") _, out("zmm31") _,
            out("k1") _,
            options(nostack),
        );
    }
    step
}
''')
    print("".join(out), end="")


main()
