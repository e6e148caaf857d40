#!/usr/bin/env bash
# Fails when the release binary holds x86 intrinsics as functions of their own: a kernel's
# vector operations must be inlined into it, with its instruction set. An intrinsic left as a
# call means that some code between a `#[target_feature]` kernel and the intrinsic was compiled
# without that instruction set: most often a closure (it does not inherit the kernel's
# features), and a walker loop that calls its intrinsics runs several times slower
# (docs/bench/HISTORY.md has a case). `_xgetbv` and `__cpuid` are the run-time feature
# detection's, called on purpose.
#
#   scripts/check-inlined.sh [BINARY]     (default target/release/landscape)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release/landscape}
if ! command -v nm >/dev/null 2>&1; then
  echo "check-inlined: nm (binutils) is not installed; skipped" >&2
  exit 0
fi
[ -f "$BIN" ] || { echo "check-inlined: $BIN not found (build it first)" >&2; exit 1; }
calls=$(nm -C "$BIN" | awk '{ $1 = ""; $2 = ""; sub(/^  /, ""); print }' \
  | grep -E '^core::core_arch::x86(_64)?::' | grep -vE '::(_xgetbv|__cpuid|__cpuid_count)$' \
  | sort -u || true)
if [ -n "$calls" ]; then
  echo "check-inlined: $BIN calls these intrinsics instead of inlining them:" >&2
  echo "$calls" | sed 's/^/  /' >&2
  exit 1
fi
echo "check-inlined: every x86 intrinsic in $BIN is inlined"
