# Sourced: make sure the tools venv (moto, cargo-lambda, cfn-lint) exists and is on PATH.
FAILSOFT_VENV="${FAILSOFT_VENV:-$HOME/.cache/failsoft/venv}"
if ! "$FAILSOFT_VENV/bin/python" -c "import moto.moto_server.werkzeug_app, cfnlint" 2>/dev/null \
    || [ ! -x "$FAILSOFT_VENV/bin/cargo-lambda" ]; then
  echo "setting up $FAILSOFT_VENV (moto[server], cargo-lambda, cfn-lint)" >&2
  python3 -m venv "$FAILSOFT_VENV"
  "$FAILSOFT_VENV/bin/python" -m pip install -q --upgrade pip
  "$FAILSOFT_VENV/bin/python" -m pip install -q "moto[server]>=5,<6" cargo-lambda cfn-lint
fi
export FAILSOFT_VENV
export PATH="$FAILSOFT_VENV/bin:$PATH"
