#!/usr/bin/env bash
# Fails when a dev-dependency turns on a feature of a dependency that `cargo build` leaves off.
# Cargo then compiles that dependency, and the landscape library above it, once for
# `cargo build --release` and again for `cargo test --release`: ~30 more minutes on 2 cores,
# most of them the CPU kernels. The fix is to name the feature in Cargo.toml's [dependencies]
# (see the comments there).
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for target in x86_64-unknown-linux-gnu x86_64-pc-windows-msvc aarch64-apple-darwin; do
  features() {
    cargo tree --locked -e "$1" -f "{p} {f}" --prefix none --target "$target" | sed 's/ (\*)$//' | sort -u
  }
  if ! d=$(diff <(features normal) <(features normal,dev)); then
    # Lines only in the second listing with a package of the first are changed features.
    changed=$(grep '^<' <<<"$d" || true)
    if [ -n "$changed" ]; then
      echo "check-features: on $target, the dev-dependencies change these dependencies' features:" >&2
      grep '^[<>]' <<<"$d" | grep -F -f <(sed 's/^< \([^ ]*\) .*/\1 /' <<<"$changed") >&2
      status=1
    fi
  fi
done
[ "$status" -eq 0 ] && echo "check-features: cargo build and cargo test resolve the same features"
exit "$status"
