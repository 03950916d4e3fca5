#!/usr/bin/env bash
# Regenerate the committed Python stubs of proto/acie/v1/*.proto into src/acie/wire/_proto/.
# Needs grpcio-tools (in the `serve` extra). Imports are rewritten to be package-relative so
# the stubs work wherever acie is installed. The stubs record the grpcio-tools version that
# made them and refuse an older grpcio at run time: keep pyproject's grpcio floor at least that.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
OUT=src/acie/wire/_proto
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$PY" -m grpc_tools.protoc -Iproto --python_out="$tmp" --pyi_out="$tmp" --grpc_python_out="$tmp" \
    proto/acie/v1/inference.proto
mkdir -p "$OUT"
for f in "$tmp"/acie/v1/*.py "$tmp"/acie/v1/*.pyi; do
    sed -e 's/^from acie\.v1 import \(.*\)$/from . import \1/' "$f" > "$OUT/$(basename "$f")"
done
cat > "$OUT/__init__.py" <<'PY'
"""Generated protobuf and gRPC stubs of proto/acie/v1 (regenerate with scripts/gen_proto.sh)."""
PY
echo "regenerated $(ls "$OUT" | wc -l) files in $OUT"
