#!/usr/bin/env bash
# The merge's cost, measured: one walk run whole and as N shards (for each N given), then
# `landscape merge` timed with its peak memory (GNU time's maximum resident set size), with and
# without the basin analysis that follows the join. Prints a table; BENCHMARKS.md records it.
#
#   scripts/bench-merge.sh [WALKERS] [STEPS] [SHARDS...]      (defaults: 4194304 100 4 64)
#
# WALKERS defaults to W1-XL's 4 194 304 (2-3-1 tanh on xor:pm); the steps are few, since the walk
# is not what is measured. Needs GNU time (/usr/bin/time) and about 2 GB of disk per shard count.
set -euo pipefail
cd "$(dirname "$0")/.."
walkers=${1:-4194304}
steps=${2:-100}
shift $(($# > 2 ? 2 : $#))
counts=(4 64)
[ $# -gt 0 ] && counts=("$@")
bin=target/release/landscape
[ -x "$bin" ] || cargo build --release --locked --quiet
work=$(mktemp -d "${TMPDIR:-/tmp}/landscape-bench-merge.XXXXXX")
trap 'rm -rf "$work"' EXIT
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}

grep -m1 'model name' /proc/cpuinfo || true
grep -m1 'cpu family' /proc/cpuinfo || true
echo "walk: $walkers walkers of 2-3-1 on xor:pm, $steps steps, CPU backend; $(git rev-parse --short HEAD)"

# peak KiB and seconds of a command, from GNU time
timed() {
  /usr/bin/time -f '%e %M' -o "$work/time" "$@" >/dev/null
  read -r secs kib <"$work/time"
  echo "$secs $kib"
}

for basins in yes no; do
  flags=(--model 2-3-1 --data xor:pm --walkers "$walkers" --steps "$steps" --backend cpu --quiet)
  [ "$basins" = no ] && flags+=(--no-basins)
  read -r s k < <(timed "$bin" walk "${flags[@]}" --out "$work/whole")
  bytes=$(du -sb "$work/whole" | cut -f1)
  printf 'analysis %-3s  whole run: %7.2f s, peak %6.0f MiB, %6.0f MiB written\n' \
    "$basins" "$s" "$((k / 1024))" "$((bytes / 1048576))"
  for n in "${counts[@]}"; do
    dirs=()
    for ((i = 0; i < n; i++)); do
      "$bin" walk "${flags[@]}" --shard "$i/$n" --out "$work/s$n-$i"
      dirs+=("$work/s$n-$i")
    done
    read -r s k < <(timed "$bin" merge "${dirs[@]}" --out "$work/merged" --quiet)
    for f in "$work"/whole/*.npy; do
      cmp -s "$f" "$work/merged/$(basename "$f")" || { echo "MISMATCH $(basename "$f")"; exit 1; }
    done
    printf 'analysis %-3s  merge of %3d shards: %7.2f s, peak %6.0f MiB (arrays equal the whole run'"'"'s)\n' \
      "$basins" "$n" "$s" "$((k / 1024))"
    rm -rf "$work/merged" "${dirs[@]}"
  done
  rm -rf "$work/whole"
done
