#!/usr/bin/env bash
# The concurrency tests, N times in a row (default 20); stops at the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
source scripts/moto.sh
runs="${1:-20}"
cargo test -p failsoft-testkit --test integration --no-run -q
for i in $(seq 1 "$runs"); do
  cargo test -q -p failsoft-testkit --test integration -- breaker_dynamo:: breaker_processes:: >/tmp/failsoft-concurrency.log 2>&1 \
    || { echo "run $i FAILED"; tail -40 /tmp/failsoft-concurrency.log; exit 1; }
  echo "run $i/$runs passed"
done
