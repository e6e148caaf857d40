#!/usr/bin/env bash
# Fails when crates/cpu/src/asm231.rs is not what scripts/asm231.py generates (formatted as
# cargo fmt formats it): the assembly is edited in its generator only.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 scripts/asm231.py >"$tmp/asm231.rs"
rustfmt --edition 2024 "$tmp/asm231.rs"
if ! diff -u crates/cpu/src/asm231.rs "$tmp/asm231.rs" >"$tmp/diff"; then
  echo "check-asm231: crates/cpu/src/asm231.rs differs from scripts/asm231.py's output:" >&2
  head -n 40 "$tmp/diff" >&2
  echo "regenerate it: python3 scripts/asm231.py > crates/cpu/src/asm231.rs && cargo fmt" >&2
  exit 1
fi
echo "check-asm231: crates/cpu/src/asm231.rs is its generator's output"
