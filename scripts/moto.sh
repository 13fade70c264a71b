# Sourced: start moto (requests serialised) on a free port, export FAILSOFT_MOTO_URL and
# stop it when the calling shell exits.
_moto_out=$(mktemp)
"$FAILSOFT_VENV/bin/python" "$(dirname "${BASH_SOURCE[0]}")/../tests/moto/serialised_moto.py" 0 --parent-pid $$ >"$_moto_out" 2>/dev/null &
FAILSOFT_MOTO_PID=$!
for _ in $(seq 1 100); do
  grep -q '^ready' "$_moto_out" && break
  sleep 0.1
done
FAILSOFT_MOTO_URL="http://127.0.0.1:$(awk '/^ready/{print $2}' "$_moto_out")"
export FAILSOFT_MOTO_URL FAILSOFT_MOTO_PID
trap 'kill $FAILSOFT_MOTO_PID 2>/dev/null' EXIT
