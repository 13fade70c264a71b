#!/usr/bin/env bash
# Every test: unit, property, moto integration, multi-process and emulator end to end.
# Sets up its own venv and moto; extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
bash scripts/chromium.sh
source scripts/moto.sh
cargo test --workspace "$@"
