#!/usr/bin/env bash
# The outage drill: moto, fake dependencies and the real functions under the Lambda
# runtime emulator, brought up locally. Arguments go to `failsoft-drill`
# (e.g. --scenario crm-down --json). The report lands in drill-output/report.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
source scripts/moto.sh
cargo run -q -p failsoft-drill -- "$@"
