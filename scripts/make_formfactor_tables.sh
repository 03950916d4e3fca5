#!/usr/bin/env bash
# The exact commands that produced the shipped form-factor tables in
# src/acie/darkmatter/data/formfactors/ (see REFERENCE.md there for settings and limits).
# Laptop settings: 2x2x2 k-mesh, GTH-PBE pseudopotentials, DZVP-MOLOPT-SR basis, PBE,
# q < 6 alpha m_e (22.4 keV), E < 50 eV. Run from the repository root; resumable
# (each material keeps a checkpoint folder until it finishes).
set -euo pipefail
OUT=src/acie/darkmatter/data/formfactors
ACIE=${ACIE:-.venv/bin/acie}
for MAT in Ge Si GaAs NaI CsI; do
  nice -n 10 "$ACIE" dm formfactor "$MAT" --kmesh 2x2x2 --basis gth-dzvp-molopt-sr --pseudo gth-pbe \
    --xc pbe --dq 0.02 --n-q 300 --de 0.1 --ne 500 --workers 1 --no-progress \
    --workdir "/tmp/acie-ff-$MAT.work" --output "$OUT/$MAT.h5"
done
