#!/usr/bin/env bash
# Learning-rate maps against their peer: ../shared/peers/lrmap_jax.py (Sohl-Dickstein's setup: a
# 16-16-1 tanh network without biases, 272 samples, one full-batch gradient-descent run per pixel
# over the learning rates of its two layers, log-spaced from 1e-2 to 1e1, batched with jax.vmap)
# and `landscape map` on the same data, start and pixels, one after the other on this machine.
# Prints both rates in pixel-steps per second (pixels × steps / seconds: the map's work, whether
# or not a diverged run keeps stepping), their ratio, and how many pixels both call diverged.
#
#   scripts/bench-lrmap.sh [G] [STEPS] [BACKEND] [PEERS]   (defaults: 256 500 cpu ../shared/peers)
#
# The peer calls a run diverged when its loss leaves 1e6 × the starting loss or turns
# non-finite; landscape when ‖θ‖∞ passes --diverge (1e3 here) or a value turns non-finite.
# Needs python3 with numpy and jax (`pip install "jax[cpu]"`).
set -euo pipefail
cd "$(dirname "$0")/.."
g=${1:-256}
steps=${2:-500}
backend=${3:-cpu}
peers=${4:-../shared/peers}
bin=target/release/landscape
[ -x "$bin" ] || cargo build --release --locked --quiet
work=$(mktemp -d "${TMPDIR:-/tmp}/landscape-bench-lrmap.XXXXXX")
trap 'rm -rf "$work"' EXIT
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}

grep -m1 'model name' /proc/cpuinfo || true
grep -m1 'cpu family' /proc/cpuinfo || true
echo "lr map: 16-16-1 tanh, no bias, ${g}² pixels, $steps steps; landscape $(git rev-parse --short HEAD) on $backend"

python3 "$peers/lrmap_jax.py" --G "$g" --S "$steps" --save "$work/peer" --out "$work/peer.json"
start=$(date +%s.%N)
"$bin" map --model 16-16-1 --no-bias --data "csv:$work/peer/data.csv" \
  --origin "$work/peer/theta0.npy" --axis "lr1=log:1e-2:1e1:$g" --axis "lr2=log:1e-2:1e1:$g" \
  --steps "$steps" --tol 0 --diverge 1e3 --no-basins --color score --backend "$backend" \
  --out "$work/map"
end=$(date +%s.%N)
python3 - "$work" "$g" "$steps" "$start" "$end" <<'PY'
import json, sys
import numpy as np
work, g, steps, start, end = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
peer = json.loads(open(f"{work}/peer.json").read().split("RESULT ", 1)[1])
record = json.load(open(f"{work}/map/run.json"))
walk_s = record["timings"]["walk_s"]
ours = g * g * steps / walk_s
whole = g * g * steps / (end - start)
status = np.load(f"{work}/map/status.npy")
diverged = status >= 2
theirs = np.load(f"{work}/peer/diverged.npy")
steps_taken = np.load(f"{work}/map/steps.npy").astype(np.int64).sum()
print(f"peer: {peer['seconds']:.1f} s, {peer['pixel_steps_per_s']:.3e} pixel-steps/s, {100 * peer['diverged_fraction']:.1f} % diverged")
print(f"landscape: walk {walk_s:.1f} s ({end - start:.1f} s in all), {ours:.3e} pixel-steps/s "
      f"({whole:.3e} with start-up and writing); {steps_taken / walk_s:.3e} walker-steps/s taken; "
      f"{100 * diverged.mean():.1f} % diverged")
print(f"ratio: {ours / peer['pixel_steps_per_s']:.2f}x (walk), {whole / peer['pixel_steps_per_s']:.2f}x (whole command)")
agree = (diverged == theirs).mean()
print(f"diverged in both or neither: {100 * agree:.2f} % of pixels ({int((diverged != theirs).sum())} differ)")
PY
