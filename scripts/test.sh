#!/usr/bin/env bash
# Every test: unit, property, moto integration, multi-process and emulator end to end.
# Sets up its own venv and moto; extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
bash scripts/chromium.sh
source scripts/moto.sh
# The protocol model: exhaustive to depth 7 here (about a minute); 6 when run alone.
export FAILSOFT_MODEL_DEPTH="${FAILSOFT_MODEL_DEPTH:-7}"
cargo test --workspace "$@"
