#!/usr/bin/env bash
# Debian's Chromium for the status board's browser test, installed if it is missing.
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
  echo "installing chromium (Debian's package) for the browser test" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
