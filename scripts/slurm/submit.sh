#!/usr/bin/env bash
# Submits a sharded run to Slurm: a job array of N shards (sweep.sbatch), then their merge
# (merge.sbatch), which starts once every shard has succeeded and is cancelled if one fails.
#
#   scripts/slurm/submit.sh --shards N --dir SWEEP_DIR --out MERGED_DIR [--landscape PATH] \
#     [--sbatch OPTION]... -- COMMAND FLAGS...
#   scripts/slurm/submit.sh --shards 8 --dir runs/sweep --out runs/xor \
#     --sbatch --partition=gpu --sbatch --gres=gpu:1 -- walk --model 2-3-1 --data xor --walkers 10000000
#
# COMMAND FLAGS: a landscape command without --out and --shard. SWEEP_DIR receives the shards
# and the jobs' logs (%x-%A_%a.out); MERGED_DIR, which must not exist yet, the merged run.
# --landscape: the binary (default: landscape on the jobs' PATH). --sbatch: one option for both
# sbatch calls (or set SBATCH_* variables). Relative paths are taken from here, and the jobs run
# here too, so that relative paths among the flags mean the same. Prints `array ID merge ID`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
usage() {
  echo "usage: $0 --shards N --dir SWEEP_DIR --out MERGED_DIR [--landscape PATH] [--sbatch OPTION]... -- COMMAND FLAGS..." >&2
  exit 2
}
shards='' dir='' out='' opts=()
while [ $# -gt 0 ]; do
  case $1 in
    --shards) shards=${2:-}; shift 2 || usage ;;
    --dir) dir=${2:-}; shift 2 || usage ;;
    --out) out=${2:-}; shift 2 || usage ;;
    --landscape) LANDSCAPE=${2:-}; shift 2 || usage ;;
    --sbatch) opts+=("${2:-}"); shift 2 || usage ;;
    --) shift; break ;;
    *) usage ;;
  esac
done
if ! [[ $shards =~ ^[1-9][0-9]*$ ]] || [ -z "$dir" ] || [ -z "$out" ] || [ $# -eq 0 ]; then
  usage
fi

export SWEEP_DIR MERGED_DIR
SWEEP_DIR=$(realpath -m -- "$dir")
MERGED_DIR=$(realpath -m -- "$out")
if [ -n "${LANDSCAPE:-}" ]; then
  # A path is made absolute; a bare name stays for the jobs' PATH.
  case $LANDSCAPE in */*) LANDSCAPE=$(realpath -m -- "$LANDSCAPE") ;; esac
  export LANDSCAPE
fi
if [ -e "$MERGED_DIR" ]; then
  echo "$0: $MERGED_DIR exists; give --out a new directory" >&2
  exit 1
fi
# Slurm opens the jobs' logs before they run: a missing directory fails them.
mkdir -p "$SWEEP_DIR"

# --parsable prints ID or ID;CLUSTER. The jobs inherit this environment (sbatch's --export=ALL).
array=$(sbatch --parsable --array="0-$((shards - 1))" --output="$SWEEP_DIR/%x-%A_%a.out" \
  ${opts[@]+"${opts[@]}"} "$here/sweep.sbatch" "$@")
array=${array%%;*}
if ! merge=$(sbatch --parsable --dependency="afterok:$array" --kill-on-invalid-dep=yes \
  --output="$SWEEP_DIR/%x-%j.out" ${opts[@]+"${opts[@]}"} "$here/merge.sbatch"); then
  scancel "$array"
  exit 1
fi
echo "array $array merge ${merge%%;*}"
