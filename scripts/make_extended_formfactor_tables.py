#!/usr/bin/env python
"""Extend valence-only DFT form-factor tables to q = 20 α mₑ with atomic shells (#20).

Reproduces the shipped ``Si.h5`` and ``Ge.h5`` from the shipped valence tables
(``Si_valence.h5``, ``Ge_valence.h5``) with
``acie.darkmatter.formfactor.extended.extend_with_atomic_shells`` (deterministic: no random
numbers; the f2 arrays agree to rounding, rtol 1e-9, on every run). Run from the
repository root:

    .venv/bin/python scripts/make_extended_formfactor_tables.py            # both materials
    .venv/bin/python scripts/make_extended_formfactor_tables.py Ge --output /tmp/Ge.h5 \
        --final-states plane-wave --energy-shift 5                           # a systematic
    .venv/bin/python scripts/make_extended_formfactor_tables.py Ge --output /tmp/Ge_hs.h5 \
        --potential herman-skillman                    # the pre-#20-decomposition potential
    .venv/bin/python scripts/make_extended_formfactor_tables.py --check     # compare only
    .venv/bin/python scripts/make_extended_formfactor_tables.py --figure out.png \
        --reference ../shared/reference/qcdark-ge/Ge_final.hdf5             # figure only
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from acie.darkmatter.formfactor.extended import FINAL_STATES, POTENTIALS, extend_with_atomic_shells
from acie.darkmatter.formfactor.io import read_acie, write_acie

DATA = Path("src/acie/darkmatter/formfactor/data")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("materials", nargs="*", default=["Si", "Ge"])
    ap.add_argument("--output", help="output file (one material only)")
    ap.add_argument(
        "--valence",
        help="valence-only DFT table to extend (one material only; "
        "default: the shipped MATERIAL_valence.h5)",
    )
    ap.add_argument("--basis", default="def2-tzvp")
    ap.add_argument("--n-q", type=int, default=1000)
    ap.add_argument("--final-states", choices=FINAL_STATES, default="distorted-wave")
    ap.add_argument("--potential", choices=tuple(POTENTIALS), default="kohn-sham")
    ap.add_argument("--energy-shift", type=float, default=0.0, help="eV added to bindings")
    ap.add_argument("--check", action="store_true", help="compare with the files, write none")
    ap.add_argument("--figure", help="draw Σ_E f2 vs q of the shipped Ge tables; builds nothing")
    ap.add_argument("--reference", help="QCDark Ge file drawn in --figure")
    args = ap.parse_args(argv)
    if args.figure:
        figure(Path(args.figure), args.reference)
        return 0
    if (args.output or args.valence) and len(args.materials) != 1:
        ap.error("--output and --valence need exactly one material")
    status = 0
    for mat in args.materials:
        valence = read_acie(args.valence or DATA / f"{mat}_valence.h5")
        t0 = time.perf_counter()
        table = extend_with_atomic_shells(
            valence,
            n_q=args.n_q,
            basis=args.basis,
            final_states=args.final_states,
            potential=args.potential,
            energy_shift_ev=args.energy_shift,
        )
        secs = time.perf_counter() - t0
        out = Path(args.output) if args.output else DATA / f"{mat}.h5"
        diag = table.metadata["diagnostics"]["valence_atomic_over_dft"]["ratio_of_sums"]
        print(f"{mat}: {secs:.0f} s, atomic/DFT valence near the DFT q edge = {diag:.3f}")
        if args.check:
            # the atomic SCF reproduces to rounding (~1e-12), not bit for bit
            same = np.allclose(read_acie(out).f2, table.f2, rtol=1e-9, atol=0)
            print(f"{out}: {'identical to rtol 1e-9' if same else 'DIFFERS'}")
            status |= 0 if same else 1
        else:
            print(f"wrote {write_acie(table, out)}")
    return status


def figure(path: Path, reference: str | None) -> None:
    """Σ_E f2(q, E) against q: shipped Ge, its valence-only DFT part, QCDark's all-electron Ge."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from acie.darkmatter.formfactor.io import read_formfactor
    from acie.darkmatter.units import ALPHA, ME_EV

    curves = {
        "ACIE Ge (DFT valence + atomic 3d/4s4p, Kohn–Sham distorted waves)": read_acie(
            DATA / "Ge.h5"
        ),
        "ACIE Ge valence-only DFT (q < 4 α mₑ)": read_acie(DATA / "Ge_valence.h5"),
    }
    if reference:
        curves["QCDark all-electron Ge (Dreyer et al. 2024)"] = read_formfactor(reference)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for label, t in curves.items():
        ax.plot(t.q_keV / (ALPHA * ME_EV / 1e3), t.f2.sum(axis=1) * 0.1, label=label, lw=1.2)
    ax.set_yscale("log")
    ax.set_xlabel("q [α mₑ]")
    ax.set_ylabel("Σ_E f2(q, E) ΔE [eV], E < 50 eV")
    ax.set_ylim(bottom=1e-2)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
