#!/usr/bin/env bash
# Fails when a dev-dependency turns on a feature of a dependency that `cargo build` leaves off.
# Cargo then compiles that dependency, and the landscape crates above it (the CPU kernels among
# them), once for `cargo build --release` and again for `cargo test --release --workspace`.
# The fix is to name the feature in Cargo.toml's [dependencies] (see the comments there).
set -euo pipefail
cd "$(dirname "$0")/.."
# Every package with its features, one line each, for target $1 and dependency kinds $2.
features() {
  cargo tree --locked --workspace -e "$2" -f "{p} {f}" --prefix none --target "$1" | sed 's/ (\*)$//' | sort -u
}
status=0
for target in x86_64-unknown-linux-gnu x86_64-pc-windows-msvc aarch64-apple-darwin; do
  if ! d=$(diff <(features "$target" normal) <(features "$target" normal,dev)); then
    # The dev-dependencies only add lines; a line only in the first listing is a package whose
    # features they changed.
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
