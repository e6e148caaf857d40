#!/usr/bin/env bash
# Walk and grid rates of the CPU backend for every small one-hidden-layer shape (I-H-1, I = 1..4,
# H = 1..6), for one or more `landscape` binaries run alternately, so that a change to which
# kernels are specialised can be checked shape by shape against the build time it saves
# (docs/bench/HISTORY.md).
#
#   scripts/bench-shapes.sh [--rounds R] [--act A] BINARY...   (prints TSV on stdout)
#
# walk: 16384 walkers × 400 steps from normal:1 on teacher:n=32,seed=1, --tol 0 (walker-steps/s);
# grid: 384 × 384 points on two random directions through a random origin, teacher:n=256,seed=0,
# every hidden activation computed at every point (points/s). Each figure is the best of R rounds.
set -euo pipefail
rounds=3
act=tanh
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --act) act=$2; shift 2 ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || { echo "usage: $0 [--rounds R] [--act A] BINARY..." >&2; exit 2; }
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
seconds() { python3 -c "import json,sys; t=json.load(open(sys.argv[1]))['timings']; print(t[sys.argv[2]])" "$1" "$2"; }
printf 'shape\tbinary\twalk_steps_per_s\tgrid_points_per_s\n'
for i in 1 2 3 4; do
  for h in 1 2 3 4 5 6; do
    shape="$i-$h-1"
    declare -A walk=() grid=()
    for r in $(seq "$rounds"); do
      for b in "$@"; do
        "$b" walk --model "$shape" --act "$act" --data teacher:n=32,seed=1 --walkers 16384 \
          --steps 400 --tol 0 --no-basins --backend cpu --quiet --force --out "$tmp/w" >/dev/null
        s=$(seconds "$tmp/w/run.json" walk_s)
        rate=$(python3 -c "print(16384*400/$s)")
        walk[$b]=$(python3 -c "print(max(${walk[$b]:-0}, $rate))")
        "$b" grid --model "$shape" --act "$act" --data teacher:n=256,seed=0 --origin random:5 \
          --axis random:1=-1:1:384 --axis random:2=-1:1:384 --backend cpu --quiet --force \
          --out "$tmp/g" >/dev/null
        s=$(python3 -c "import json; t=json.load(open('$tmp/g/run.json'))['timings']; print(t['evaluate_s'])")
        rate=$(python3 -c "print(384*384/$s)")
        grid[$b]=$(python3 -c "print(max(${grid[$b]:-0}, $rate))")
      done
    done
    for b in "$@"; do
      printf '%s\t%s\t%.3e\t%.3e\n' "$shape" "$b" "${walk[$b]}" "${grid[$b]}"
    done
    unset walk grid
  done
done
