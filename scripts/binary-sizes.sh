#!/usr/bin/env bash
# Each function's stripped x86_64 release binary, in bytes and MiB, as `sam build` would
# ship it (same profile). Extra arguments go to `cargo build` (e.g. --config for a lever).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-$HOME/.cache/failsoft/release-target}"
functions=(crm-lookup token-cache health-probe queue-metrics outage-actions crm-writeback)
args=()
for f in "${functions[@]}"; do args+=(-p "$f"); done
CARGO_TARGET_DIR="$target" cargo build -q --release "${args[@]}" "$@"
for f in "${functions[@]}"; do
  bytes=$(stat -c %s "$target/release/$f")
  awk -v f="$f" -v b="$bytes" 'BEGIN { printf "%-14s %10d bytes  %6.2f MiB\n", f, b, b / 1048576 }'
done
