#!/usr/bin/env bash
# Fails when git tracks build output or any file over 1 MB: binaries belong in releases,
# never in the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
while IFS= read -r -d '' f; do
  case "$f" in
    .aws-sam/*|target/*|*/target/*|drill-output/*|.venv/*)
      echo "tracked build output: $f" >&2; status=1; continue ;;
  esac
  [ -f "$f" ] || continue
  size=$(stat -c %s -- "$f")
  if [ "$size" -gt 1048576 ]; then
    echo "tracked file over 1 MB: $f ($size bytes)" >&2; status=1
  fi
done < <(git ls-files -z)
exit $status
