#!/usr/bin/env bash
# The project's main local job (until the outage drill lands): moto with the state table
# made from the template, the four functions under the Lambda runtime emulator, an
# operator forcing the CRM breaker open and releasing it, and each function's answer.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
source scripts/moto.sh
export AWS_ENDPOINT_URL="$FAILSOFT_MOTO_URL" AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local
export STATE_TABLE=failsoft-local RUST_LOG=warn
# Secret ids the functions need to start; the secrets themselves are not created, so
# token-cache reports them as a degraded, typed error, as it would in production.
export CRM_SECRET_ID=failsoft-local-crm GENESYS_SECRET_ID=failsoft-local-genesys
cargo build -q --workspace --bins
failsoft=${CARGO_TARGET_DIR:-target}/debug/failsoft
"$failsoft" table create
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
setsid cargo lambda watch --ignore-changes --invoke-address 127.0.0.1 --invoke-port "$port" >/tmp/failsoft-watch.log 2>&1 &
watch_pid=$!
trap 'kill -s KILL -- -$watch_pid 2>/dev/null; kill $FAILSOFT_MOTO_PID 2>/dev/null' EXIT
until (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; do sleep 0.2; done
invoke() { curl -sf -X POST "http://127.0.0.1:$port/2015-03-31/functions/$1/invocations" -d "${2:-{\}}"; echo; }
echo "== crm-lookup, a withheld number"; invoke crm-lookup '{"ani":"anonymous"}'
echo "== crm-lookup, a payload that breaks the contract"; invoke crm-lookup '[1,2]'
echo "== token-cache"; invoke token-cache
echo "== health-probe"; invoke health-probe
echo "== queue-metrics board data"; curl -sf "http://127.0.0.1:$port/lambda-url/queue-metrics/board.json"; echo
echo "== operator: failsoft breaker force-open crm"
"$failsoft" breaker force-open crm --by local-run --yes
echo "== crm-lookup sees it"; invoke crm-lookup '{"ani":"tel:+13175550123"}'
echo "== operator: failsoft breaker release crm"
"$failsoft" breaker release crm --by local-run --yes
"$failsoft" breaker list
