#!/usr/bin/env bash
# Reproduce the shipped retrieval refiner (src/acie/deepscm/data/refiner.pt) and its ablation.
#
# CPU only, one torch thread, niced. Seeded: bank seed 10000, training pairs 20000+,
# torch/numpy seed 0; the ablation uses held-out seed 12345 (not used in training).
# See src/acie/deepscm/data/REFINER.md for the numbers. The checkpoint also stores wall-clock
# times, so a re-run gives equal weights only up to CPU floating-point non-determinism and a
# different SHA-256. EMBEDDER=galaxy-embedder trains one for an index of acie.embedding vectors.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-build/refiner}"
PY="${PY:-.venv/bin/python}"
export OMP_NUM_THREADS=1

nice -n 10 "$PY" -m acie.deepscm.retrieval_training --out "$OUT" --seed 0 \
    --n-per-node 400 --bank 2000 --k-max 16 --epochs 8 --width 32 \
    --embedder "${EMBEDDER:-deepscm-encoder}"
nice -n 10 "$PY" -m acie.deepscm.retrieval_ablation --refiner "$OUT/refiner.pt" \
    --out "$OUT/ablation.json" --n-per-node 200 --seed 12345 --bank 2000 --bank-seed 10000
echo "refiner: $OUT/refiner.pt   ablation: $OUT/ablation.json"
echo "to ship it: cp $OUT/refiner.pt $OUT/ablation.json src/acie/deepscm/data/ (as refiner.pt,"
echo "refiner_ablation.json) and update REFINER.md and docs/deepscm.md"
