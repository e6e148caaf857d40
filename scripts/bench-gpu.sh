#!/usr/bin/env bash
# The GPU figures of BENCHMARKS.md on this machine's adapter: `landscape bench` on W1, W2 and the
# GPU-sized W1-XL and W2-XL, first with the default kernels (and the CPU backend alongside, for
# the GPU/CPU ratios), then once per workgroup size and use of workgroup memory, each as JSON
# into $OUT (default runs/bench-gpu). Pick the adapter with ADAPTER (index or part of its name;
# `landscape adapters` lists them).
#
#   scripts/bench-gpu.sh
#
# A software adapter (lavapipe) runs it too, labelled as such: its figures are not GPU results.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/bench-gpu}
mkdir -p "$OUT"
adapter=()
[ -n "${ADAPTER:-}" ] && adapter=(--adapter "$ADAPTER")

cargo build --release --quiet
./target/release/landscape adapters | tee "$OUT/adapters.txt" >&2
echo "== default kernels, CPU and GPU, W1, W2, W1-XL, W2-XL" >&2
./target/release/landscape bench "${adapter[@]}" --workload W1,W2 --xl --json > "$OUT/default.json"
echo "== GPU kernel variants, W1-XL and W2-XL" >&2
./target/release/landscape bench "${adapter[@]}" --backend gpu --workload W1-XL,W2-XL \
  --workgroup-size 64,128,256 --staging on,off --row-sharing on,off --json > "$OUT/variants.json"
echo "results in $OUT" >&2
