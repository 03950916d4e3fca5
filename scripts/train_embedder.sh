#!/usr/bin/env bash
# Reproduce the shipped galaxy embedder (src/acie/embedding/data/default.pt), the
# autoencoder baseline of the same budget, and the quality study of docs/embeddings.md.
#
# CPU only, one torch thread each, niced. On the shared 2-core reference machine:
# about 5 CPU-minutes per training (4000 galaxies x 3 views, 600 steps of 128 pairs)
# and a few CPU-minutes for the study (see src/acie/embedding/data/REFERENCE.md).
# The version is the SHA-256 of the file, which also stores wall-clock times, so a
# re-run gives equal weights up to CPU floating-point non-determinism and another SHA-256.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-build/embed}"
ACIE="${ACIE:-.venv/bin/acie}"
export OMP_NUM_THREADS=1
COMMON=(--n-train 4000 --n-views 3 --steps 600 --batch 128 --dim 32 --seed 0 --threads 1)

nice -n 10 "$ACIE" embed train --out "$OUT/default.pt" "${COMMON[@]}"
# the baseline of docs/embeddings.md ran 150 steps (a quarter of the budget, for lack of
# time on the shared machine); AE_STEPS=600 gives it the contrastive budget
nice -n 10 "$ACIE" embed train --objective autoencoder --out "$OUT/autoencoder.pt" "${COMMON[@]}" \
  --steps "${AE_STEPS:-150}"
nice -n 10 "$ACIE" embed study --embedder "$OUT/default.pt" --baseline "$OUT/autoencoder.pt" \
  --out "$OUT/study" --n-reference 4000 --n-query 1000 --n-index 10000 --seed 1000
echo "embedder: $OUT/default.pt   study: $OUT/study/REPORT.md"
echo "to ship it: cp $OUT/default.pt src/acie/embedding/data/default.pt and update REFERENCE.md"
