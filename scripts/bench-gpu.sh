#!/usr/bin/env bash
# The GPU figures of BENCHMARKS.md on this machine's adapter, each as JSON into $OUT (default
# runs/bench-gpu):
#   1. `landscape bench` on W1-XL and W2-XL with the default kernels on the GPU;
#   2. the peers on the same GPU, when a Python with PyTorch/JAX on CUDA is at hand: the PyTorch
#      peers through scripts/peers_torch_cuda.py, the JAX peers of PEERS_DIR (they run on the GPU
#      by themselves), all at the -XL sizes, into peers.jsonl;
#   3. every workgroup size, use of workgroup memory and form of the parameter loops on W1-XL
#      and W2-XL (variants.json), and walks with walkers queued (on several lane counts) or one
#      an invocation on W1-XL (queue.json);
#   4. W1 and W2 on the CPU and GPU backends together, for the GPU/CPU ratios (small.json).
#
#   scripts/bench-gpu.sh [STEPS]        STEPS: any of 1234 (default all)
#
# ADAPTER picks the adapter (index or part of its name; `landscape adapters` lists them);
# LANDSCAPE names a built binary (default: cargo build --release); PEERS_DIR the peer scripts
# (default ../shared/peers); PY the Python with torch and jax (default python3).
# LANDSCAPE_GPU_TIMING=1 adds where each GPU run's time goes (set-up, upload, kernels,
# read-back) to the log. A software adapter (lavapipe) runs it too, labelled as such: its
# figures are not GPU results.
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-1234}
OUT=${OUT:-runs/bench-gpu}
PEERS_DIR=${PEERS_DIR:-../shared/peers}
PY=${PY:-python3}
export PEERS_DIR PEERS_NO_QUIET_WAIT=1
mkdir -p "$OUT"
adapter=()
[ -n "${ADAPTER:-}" ] && adapter=(--adapter "$ADAPTER")
if [ -z "${LANDSCAPE:-}" ]; then
  cargo build --release --quiet
  LANDSCAPE=./target/release/landscape
fi
"$LANDSCAPE" adapters | tee "$OUT/adapters.txt" >&2

if [[ $STEPS == *1* ]]; then
  echo "== 1. default kernels on the GPU, W1-XL and W2-XL" >&2
  "$LANDSCAPE" bench "${adapter[@]}" --backend gpu --workload W1-XL,W2-XL --repeats 5 --json \
    > "$OUT/xl.json"
fi

if [[ $STEPS == *2* ]]; then
  : > "$OUT/peers.jsonl"
  peer() {
    echo "== 2. $*" >&2
    if ! "$PY" "$@" --out "$OUT/peers.jsonl" >&2; then
      echo "   (skipped: $1 failed or its framework is not installed)" >&2
    fi
  }
  peer scripts/peers_torch_cuda.py walkers --M 4194304 --variant compile
  peer scripts/peers_torch_cuda.py walkers --M 4194304 --variant compile-unroll --unroll 10
  peer scripts/peers_torch_cuda.py grid --G 8192 --variant compile --chunk 1048576
  peer "$PEERS_DIR/walkers_jax.py" --M 4194304 --variant dot
  peer "$PEERS_DIR/walkers_jax.py" --M 4194304 --variant dot-axis1
  peer "$PEERS_DIR/grid_jax.py" --G 8192 --variant map --chunk 262144
fi

if [[ $STEPS == *3* ]]; then
  echo "== 3. GPU kernel variants, W1-XL and W2-XL" >&2
  "$LANDSCAPE" bench "${adapter[@]}" --backend gpu --workload W1-XL,W2-XL \
    --workgroup-size 32,64,128,256 --staging on,off --row-sharing on,off --unroll on,off --json \
    > "$OUT/variants.json"
  "$LANDSCAPE" bench "${adapter[@]}" --backend gpu --workload W1-XL,W1 --repeats 5 \
    --walker-queue off,on --lanes 16384,65536,262144 --json > "$OUT/queue.json"
fi

if [[ $STEPS == *4* ]]; then
  echo "== 4. CPU and GPU backends, W1 and W2" >&2
  "$LANDSCAPE" bench "${adapter[@]}" --workload W1,W2 --json > "$OUT/small.json"
fi
echo "results in $OUT" >&2
