#!/usr/bin/env bash
# The CPU comparison of BENCHMARKS.md, end to end, on this machine: `landscape bench` on the CPU
# backend, then the best variant of each peer script (numpy, PyTorch, JAX) on W1 and W2, and
# the machine's float32 matmul ceiling, each printing one JSON line into $OUT.
#
#   scripts/bench-cpu.sh [PEERS_DIR]     (default ../shared/peers; see its README for set-up)
#
# PEERS_VENV names the virtualenv with numpy, torch, jax and threadpoolctl (default
# /tmp/peers-venv; blas_ceiling.py needs threadpoolctl).
# A peer that is not installed is reported and skipped. Results: $OUT (default runs/bench-cpu).
set -euo pipefail
cd "$(dirname "$0")/.."
PEERS=${1:-../shared/peers}
export PEERS_VENV=${PEERS_VENV:-/tmp/peers-venv}
OUT=${OUT:-runs/bench-cpu}
PY="$PEERS_VENV/bin/python"
[ -x "$PY" ] || PY=python3
mkdir -p "$OUT"
: > "$OUT/peers.jsonl"

# The machine, so that a figure is never attributed to the wrong one: one cloud instance type
# can be a different processor from one day to the next.
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  grep -m1 '^model name' /proc/cpuinfo || true
  grep -m1 '^cpu family' /proc/cpuinfo || true
  grep -m1 '^model[[:space:]]' /proc/cpuinfo || true
  grep -m1 '^stepping' /proc/cpuinfo || true
  echo "cpus: $(nproc)"
  echo "avx512f: $(grep -qw avx512f /proc/cpuinfo && echo yes || echo no)"
  "$PY" -c 'import sys; print("python:", sys.version.split()[0])' 2>/dev/null || true
} > "$OUT/machine.txt"

cargo build --release --quiet
echo "== landscape bench (CPU backend), W1 and W2, median of 3" >&2
./target/release/landscape bench --backend cpu --workload W1,W2 --repeats 3 --json > "$OUT/landscape.json"

peer() {
  local script=$1; shift
  echo "== $script $*" >&2
  if ! "$PY" "$PEERS/$script" "$@" --out "$OUT/peers.jsonl" >&2; then
    echo "   (skipped: $script failed or is not installed)" >&2
  fi
}
peer walkers_numpy.py --layout batch-last
peer walkers_torch.py --variant compile-analytic
peer walkers_jax.py --variant dot
peer grid_numpy.py --chunk 256
peer grid_torch.py --variant compile-analytic --chunk 1024
peer grid_jax.py --variant map --chunk 256
echo "== blas_ceiling.py" >&2
"$PY" "$PEERS/blas_ceiling.py" > "$OUT/ceiling.txt" 2>&1 || echo "   (ceiling not measured)" >&2

"$PY" - "$OUT" <<'PYEOF'
import json, re, sys
out = sys.argv[1]
ours = json.load(open(f"{out}/landscape.json"))
peers = []
for line in open(f"{out}/peers.jsonl"):
    line = line.strip()
    if line.startswith("RESULT"):
        line = line[len("RESULT"):].strip()
    if line:
        peers.append(json.loads(line))
ceiling = None
try:
    nums = re.findall(r"([0-9.]+)\s*GFLOP/s", open(f"{out}/ceiling.txt").read())
    ceiling = max(float(x) for x in nums) if nums else None
except OSError:
    pass
print(f"{'workload':8} {'who':34} {'rate':>12}  unit")
for w, key, unit in (("W1", "walker_steps_per_s", "walker-steps/s"), ("W2", "points_per_s", "points/s")):
    mine = next(m for m in ours if m["workload"] == w)
    # The CPU computing everything (no activation reuse, no retired walkers), as the peers do.
    plain = next((m for m in ours if m["workload"] == w
                  and m["adapter"].endswith("no activation reuse or retirement")), None)
    for m in (mine, plain) if plain else (mine,):
        print(f"{w:8} {'landscape cpu (' + m['adapter'] + ')':34} {m['rate']:12.3e}  {unit}"
              f"  {m['gflops']:.1f} GFLOP/s" + (f" = {100 * m['gflops'] / ceiling:.1f} % of the fp32 ceiling" if ceiling else ""))
    best = None
    for p in peers:
        if key in p:
            name = f"{p.get('impl', '?')} {p.get('variant') or p.get('layout') or ''}".strip()
            print(f"{w:8} {name:34} {p[key]:12.3e}  {unit}")
            if best is None or p[key] > best[1]:
                best = (name, p[key])
    if best:
        print(f"{w:8} landscape / best peer ({best[0]}) = {mine['rate'] / best[1]:.2f}x"
              + (f"; computing everything: {plain['rate'] / best[1]:.2f}x" if plain else ""))
if ceiling:
    print(f"fp32 matmul ceiling: {ceiling:.0f} GFLOP/s")
print("machine: " + "; ".join(" ".join(line.split()) for line in open(f"{out}/machine.txt") if line.strip()))
PYEOF
