#!/usr/bin/env python3
"""Measures what AVX-512 operations cost beside multiply–adds on this processor: the facts behind
the cost model of W1's assembly loop (`scripts/asm231.py`; docs/bench/HISTORY.md).

    python3 scripts/pipes.py          # needs gcc and an AVX-512 processor; about ten seconds

Each test is a loop of 48 independent 16-lane FMAs (24 accumulators, two rounds) with the listed
operations spread among them, on registers the FMAs do not touch; memory operands are in a 64-byte aligned buffer (or 16
bytes off, across cache lines). Cycles are TSC ticks scaled by the ratio of the core clock to
the TSC, found from a chain of dependent FMAs on the assumption of a 4-cycle latency (Zen 4,
Zen 5 and recent Intel cores); the first line gives that clock and how many 16-lane FMAs the
core then issues a cycle (two on Zen 5 and Intel's two-port cores, one on Zen 4, which splits a
512-bit operation in two). What matters is the difference a test makes to the FMA-only loop.
"""

import os
import subprocess
import sys
import tempfile

# name: (operation with {m} the register and {off} a stack offset, how many)
TESTS = {
    "48 fma": ("", 0),
    "+12 add": ("vaddps zmm{m}, zmm{m}, zmm31", 12),
    "+24 add": ("vaddps zmm{m}, zmm{m}, zmm31", 24),
    "+48 add": ("vaddps zmm{m}, zmm{m}, zmm31\\n\\tvaddps zmm{m}, zmm{m}, zmm30", 24),
    "+24 max": ("vmaxps zmm{m}, zmm{m}, zmm31", 24),
    "+24 and": ("vpandd zmm{m}, zmm{m}, zmm31", 24),
    "+24 xor": ("vpxord zmm{m}, zmm{m}, zmm31", 24),
    "+24 range": ("vrangeps zmm{m}, zmm{m}, zmm31, 11", 24),
    "+24 add +24 xor": ("vaddps zmm{m}, zmm{m}, zmm31\\n\\tvpxord zmm{m}, zmm{m}, zmm31", 24),
    "+24 add +24 xor +24 max": (
        "vaddps zmm{m}, zmm{m}, zmm31\\n\\tvpxord zmm{m}, zmm{m}, zmm31\\n\\tvmaxps zmm{m}, zmm{m}, zmm30",
        24,
    ),
    "+12 mul": ("vmulps zmm{m}, zmm{m}, zmm31", 12),
    "+12 div": ("vdivps zmm{m}, zmm31, zmm{m}", 12),
    "+12 fma, broadcast operand": ("vfmadd231ps zmm{m}, zmm31, dword ptr [rax+4]%{{1to16%}}", 12),
    "+48 broadcast loads": ("vbroadcastss zmm{m}, dword ptr [rax+{off}]", 48),
    "+96 broadcast loads": (
        "vbroadcastss zmm{m}, dword ptr [rax+{off}]\\n\\tvbroadcastss zmm{m}, dword ptr [rax+{off}+4]",
        48,
    ),
    "+48 zmm loads, aligned": ("vmovups zmm{m}, [rax+{off}]", 48),
    "+96 zmm loads, aligned": ("vmovups zmm{m}, [rax+{off}]\\n\\tvmovups zmm{m}, [rax+{off}+1024]", 48),
    "+48 zmm loads, 16 B off": ("vmovups zmm{m}, [rax+{off}+16]", 48),
    "+12 zmm stores, aligned": ("vmovups [rax+{off}], zmm{m}", 12),
    "+12 zmm stores, 16 B off": ("vmovups [rax+{off}+16], zmm{m}", 12),
    "+24 ymm stores, aligned": ("vmovups [rax+{off}], ymm{m}", 24),
}


def source():
    out = [
        "#include <stdio.h>",
        "#include <time.h>",
        "#include <x86intrin.h>",
        "#define N 20000000L",
        "static float buf[2048] __attribute__((aligned(64)));",
    ]
    names = list(TESTS)
    for t, name in enumerate(names):
        extra, count = TESTS[name]
        body = [f"vfmadd231ps zmm{i % 24}, zmm30, zmm31" for i in range(48)]
        for j in range(count):
            body.insert((j * 48) // count + j, extra.format(m=24 + j % 6, off=64 * (j % 12)))
        asm = "\\n\\t".join(body)
        out.append(
            f"static double t{t}(void) {{ unsigned long t0 = __rdtsc();"
            f' for (long i = 0; i < N; i++) __asm__ volatile("{asm}" :: "a"(buf) : "memory");'
            f" return (double)(__rdtsc() - t0) / N; }}"
        )
    # 48 dependent FMAs: ticks per FMA = latency (4 cycles) / (core clock / TSC).
    chain = "\\n\\t".join(["vfmadd231ps zmm0, zmm30, zmm31"] * 48)
    out.append(
        "static double dep(void) { unsigned long t0 = __rdtsc();"
        f' for (long i = 0; i < N / 4; i++) __asm__ volatile("{chain}" ::: "xmm0");'
        " return (double)(__rdtsc() - t0) / (N / 4) / 48; }"
    )
    out.append(
        "static double tsc_ghz(void) { struct timespec a, b; clock_gettime(CLOCK_MONOTONIC, &a);"
        " unsigned long t0 = __rdtsc(); do clock_gettime(CLOCK_MONOTONIC, &b);"
        " while ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec) < 2e8);"
        " return (__rdtsc() - t0) / ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)); }"
    )
    out.append("int main(void) {")
    out.append("  double base = 1e300, chain = 1e300;")
    out.append("  for (int r = 0; r < 3; r++) { double b = t0(); if (b < base) base = b; }")
    out.append("  for (int r = 0; r < 3; r++) { double c = dep(); if (c < chain) chain = c; }")
    out.append("  double scale = 4.0 / chain, ghz = tsc_ghz(); /* core cycles per TSC tick */")
    out.append(
        '  printf("core clock %.2f GHz (TSC %.3f GHz); %.2f 16-lane FMAs a cycle\\n",'
        " ghz * scale, ghz, 48.0 / (base * scale));"
    )
    out.append('  printf("%-28s %8s\\n", "test", "cycles");')
    for t, name in enumerate(names):
        out.append(
            f"  {{ double best = 1e300; for (int r = 0; r < 3; r++) {{ double v = t{t}();"
            f" if (v < best) best = v; }}"
            f' printf("%-28s %8.1f\\n", "{name}", best * scale); }}'
        )
    out.append("  return 0;\n}")
    return "\n".join(out) + "\n"


def main():
    with tempfile.TemporaryDirectory() as d:
        c, exe = os.path.join(d, "pipes.c"), os.path.join(d, "pipes")
        with open(c, "w") as f:
            f.write(source())
        subprocess.run(
            ["gcc", "-O2", "-masm=intel", "-mavx512f", "-mavx512dq", "-o", exe, c], check=True
        )
        sys.exit(subprocess.run([exe]).returncode)


main()
