#!/usr/bin/env bash
# Reproduce the shipped deep SCM (src/acie/deepscm/data/default.pt) and its evaluation.
#
# CPU only, one torch thread, niced: about 7 min of CPU (8000 galaxies x 20 epochs, ~2.7 ms per galaxy-epoch) on
# the reference machine (see src/acie/deepscm/data/REFERENCE.md for the numbers).
# The model version is the SHA-256 of the checkpoint; the file also stores the training
# history (including wall-clock seconds), so a re-run gives equal weights only up to
# floating-point non-determinism of the CPU kernels, and a different SHA-256.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-build/deepscm-default}"
ACIE="${ACIE:-.venv/bin/acie}"

nice -n 10 "$ACIE" model train --n-train 8000 --epochs 20 --seed 0 --out "$OUT"
nice -n 10 "$ACIE" model evaluate --model "$OUT/model.pt" --n 200 --seed 12345 --report "$OUT/report"
echo "checkpoint: $OUT/model.pt   report: $OUT/report/REPORT.md"
echo "to ship it: cp $OUT/model.pt src/acie/deepscm/data/default.pt and update REFERENCE.md"
