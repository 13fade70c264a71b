# Sourced: make sure the tools venv (moto, cargo-lambda, cfn-lint, SAM CLI) exists and is on PATH.
FAILSOFT_VENV="${FAILSOFT_VENV:-$HOME/.cache/failsoft/venv}"
if ! "$FAILSOFT_VENV/bin/python" -c "import moto.moto_server.werkzeug_app, cfnlint, samcli" 2>/dev/null \
    || [ ! -x "$FAILSOFT_VENV/bin/cargo-lambda" ]; then
  echo "setting up $FAILSOFT_VENV (moto[server], cargo-lambda, cfn-lint, aws-sam-cli)" >&2
  python3 -m venv "$FAILSOFT_VENV"
  "$FAILSOFT_VENV/bin/python" -m pip install -q --upgrade pip
  "$FAILSOFT_VENV/bin/python" -m pip install -q "moto[server]>=5,<6" cargo-lambda cfn-lint aws-sam-cli
fi
export FAILSOFT_VENV
export PATH="$FAILSOFT_VENV/bin:$PATH"
export SAM_CLI_TELEMETRY=0
