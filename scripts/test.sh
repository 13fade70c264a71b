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
# The outage actions' models (docs/reliability.md): about 25 s and 7 s here.
export FAILSOFT_CAMPAIGN_MODEL_DEPTH="${FAILSOFT_CAMPAIGN_MODEL_DEPTH:-12}"
export FAILSOFT_OVERFLOW_MODEL_DEPTH="${FAILSOFT_OVERFLOW_MODEL_DEPTH:-14}"
# Every request our clients send to a vendor fake, and every answer a fake gives, is
# judged against the record of the vendors' definitions and logged here; the last step
# judges the whole suite's log (tests/tests/conformance.rs).
FAILSOFT_CONFORMANCE_DIR="$(mktemp -d)"
export FAILSOFT_CONFORMANCE_DIR
# --no-fail-fast: one failing test binary never hides the rest.
cargo test --workspace --no-fail-fast "$@"
# Over the whole suite only: a filtered run exercises part of the record.
if [ $# -eq 0 ]; then
  cargo test -p failsoft-testkit --test integration -- --ignored conformance::every_request_and_answer_of_the_suite_conforms
fi
