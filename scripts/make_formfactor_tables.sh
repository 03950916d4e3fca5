#!/usr/bin/env bash
# The exact commands that produced the shipped form-factor tables in
# src/acie/darkmatter/data/formfactors/ (see REFERENCE.md there for settings and limits).
# Laptop settings: 2x2x2 Γ-centred k-mesh, GTH-PBE pseudopotentials, DZVP-MOLOPT-SR basis,
# PBE, all valence and all conduction bands of the basis, q < 4 α mₑ (14.9 keV) in 0.02 α mₑ
# bins, E < 50 eV in 0.1 eV bins, scissor to the experimental gap.
# Run from the repository root; resumable (each material keeps a checkpoint folder until it
# finishes). Two lanes run side by side at nice 10 on a shared 2-core machine.
set -euo pipefail
OUT=src/acie/darkmatter/data/formfactors
ACIE=${ACIE:-.venv/bin/acie}
one() {
  nice -n 10 "$ACIE" dm formfactor "$1" --kmesh 2x2x2 --basis gth-dzvp-molopt-sr --pseudo gth-pbe \
    --xc pbe --dq 0.02 --n-q 200 --de 0.1 --ne 500 --workers 1 --no-progress \
    --workdir "/tmp/acie-ff-$1.work" --output "$OUT/$1.h5"
}
( one Ge; one GaAs; one CsI ) &
( one Si; one NaI ) &
wait
