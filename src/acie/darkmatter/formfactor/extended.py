"""Form-factor tables extended to high q with atomic shells: :func:`extend_with_atomic_shells`.

A valence-only pseudopotential DFT table (q < 4 α mₑ) misses what dominates heavy-mediator
rates above ~30 MeV: large momentum transfers, where the semicore shells (Ge 3d) and the
high-momentum tail of the valence shells carry the weight. The combined table on
q ∈ [0, q_max) is

* the DFT valence table where it exists (q below its last bin),
* plus the semicore/core shells with a measured binding energy inside the table's energy
  range (:data:`~acie.darkmatter.formfactor.atomic_shells.CORE_BINDING_EV`), at all q,
* plus the atomic valence shells (outermost principal shell: Ge 4s4p, Si 3s3p) above the
  DFT table's q range,

from isolated-atom orbitals (:mod:`~acie.darkmatter.formfactor.atomic_shells`) with
distorted-wave final states in the atom's Kohn–Sham LDA potential
(:mod:`~acie.darkmatter.formfactor.continuum`; Herman–Skillman and plane waves as
systematics), counting every atom of the primitive cell. Deterministic (no randomness). The mismatch of
the atomic valence against the DFT valence just below the DFT table's q edge is stored as a
diagnostic (``metadata["diagnostics"]["valence_atomic_over_dft"]``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from importlib import metadata as importlib_metadata

import numpy as np

from acie.darkmatter.formfactor.atomic_shells import (
    CORE_BINDING_EV,
    HARTREE_EV,
    RadialOrbital,
    atomic_orbitals,
    f2_from_structure_factor,
    shell_f2,
)
from acie.darkmatter.formfactor.continuum import (
    LogGrid,
    distorted_wave_structure_factor,
    herman_skillman_potential,
    kohn_sham_potential,
)
from acie.darkmatter.formfactor.table import FormFactorTable
from acie.darkmatter.materials import get_material
from acie.darkmatter.units import ALPHA, ME_EV
from acie.errors import InputValidationError, expected_got

__all__ = [
    "CORE_CITATION",
    "FINAL_STATES",
    "POTENTIALS",
    "extend_with_atomic_shells",
    "shell_plan",
]

CORE_CITATION = (
    "Ge 3d - E_v = 29.57 eV (XPS): Kraut, Grant, Waldrop & Kowalczyk, PRL 44, 1620 (1980); "
    "PRB 28, 1965 (1983)"
)
_ALPHA_ME_KEV = ALPHA * ME_EV / 1e3  # 1 bohr⁻¹ = α mₑ, in keV
#: Final-state models: waves of the atom's central potential, or free plane waves.
FINAL_STATES = ("distorted-wave", "plane-wave")
#: Distorted-wave potentials: Kohn–Sham LDA of the neutral atom (shipped) or Herman–Skillman.
POTENTIALS = {"kohn-sham": kohn_sham_potential, "herman-skillman": herman_skillman_potential}
_POTENTIAL_TEXT = {
    "kohn-sham": "the atom's Kohn-Sham LDA potential (Dirac exchange, Perdew-Wang 1992 "
    "correlation; neutral ground state, no ionic tail)",
    "herman-skillman": "the atom's Herman-Skillman potential (Slater exchange, Latter tail)",
}


def _shell_block(
    orbital: RadialOrbital,
    binding: float,
    n_atoms: int,
    q_bohr: np.ndarray,
    energy: np.ndarray,
    de: float,
    *,
    gap: float,
    n_sub: int,
    final_states: str,
    potential: np.ndarray | None,
    occupied: list[RadialOrbital],
) -> np.ndarray:
    """f2 of ``n_atoms`` atoms' shell on (q, E) bins, averaged over ``n_sub`` E sub-samples."""
    if final_states == "plane-wave":
        return shell_f2(
            [(orbital, binding, n_atoms)], q_bohr, energy, band_gap_ev=gap, de_ev=de, n_sub=n_sub
        )
    offsets = ((np.arange(n_sub) + 0.5) / n_sub - 0.5) * de
    sub = np.concatenate([energy + off for off in offsets])
    s = distorted_wave_structure_factor(
        orbital,
        potential,
        q_bohr,
        sub,
        binding_ev=binding,
        band_gap_ev=gap,
        orthogonalise_to=[o for o in occupied if o.l == orbital.l],
    )
    s = n_atoms * s.reshape(q_bohr.size, n_sub, energy.size).mean(axis=1)
    return f2_from_structure_factor(q_bohr, s)


def shell_plan(
    element: str, orbitals: list[RadialOrbital], e_max_ev: float, band_gap_ev: float
) -> tuple[list[tuple[RadialOrbital, float]], list[tuple[RadialOrbital, float]]]:
    """Split an atom's shells into (core shells in range, valence shells), with bindings (eV).

    Valence: the outermost principal shell, bound at its Koopmans energy below the highest
    occupied shell (that shell at the valence-band maximum). Core: a measured binding from
    ``CORE_BINDING_EV``; a core shell without one whose Koopmans binding puts its threshold
    within ``e_max_ev`` is refused (it would need a measured value).
    """
    n_max = max(int(o.label[:-1]) for o in orbitals)
    top = max(o.eigenvalue_ha for o in orbitals)
    core, valence = [], []
    for o in orbitals:
        koopmans = (top - o.eigenvalue_ha) * HARTREE_EV
        if int(o.label[:-1]) == n_max:
            valence.append((o, koopmans))
        elif (element, o.label) in CORE_BINDING_EV:
            if CORE_BINDING_EV[(element, o.label)] + band_gap_ev < e_max_ev:
                core.append((o, CORE_BINDING_EV[(element, o.label)]))
        elif koopmans + band_gap_ev < e_max_ev:
            raise InputValidationError(
                expected_got(
                    f"{element} {o.label}",
                    "a measured binding energy in CORE_BINDING_EV (its threshold is in range)",
                    f"none (Koopmans {koopmans:.1f} eV)",
                )
            )
    return core, valence


def extend_with_atomic_shells(
    valence: FormFactorTable,
    *,
    n_q: int = 1000,
    basis: str = "def2-tzvp",
    n_sub: int = 4,
    energy_shift_ev: float = 0.0,
    final_states: str = "distorted-wave",
    potential: str = "kohn-sham",
) -> FormFactorTable:
    """The DFT ``valence`` table extended to ``n_q`` q bins with atomic shells (see module doc).

    Parameters
    ----------
    valence : FormFactorTable
        A valence-only table on bins (i + 1/2)·Δq, i < n_valence.
    n_q : int
        q bins of the result (same Δq); 1000 × 0.02 α mₑ reaches 20 α mₑ.
    basis : str
        All-electron Gaussian basis of the atomic Hartree–Fock orbitals.
    n_sub : int
        Sub-samples per E bin for the shells' bin averages.
    energy_shift_ev : float
        Added to every shell binding energy (final-state energy zero systematic; 0 for
        the shipped tables).
    final_states : {"distorted-wave", "plane-wave"}
        Continuum waves of the atom's central potential (orthogonalised to the occupied
        shells of the same l; the shipped tables) or free plane waves.
    potential : {"kohn-sham", "herman-skillman"}
        The distorted waves' potential (:mod:`~acie.darkmatter.formfactor.continuum`):
        Kohn–Sham LDA of the neutral atom (the shipped tables; the DFT tables' one-electron
        picture) or Herman–Skillman (Slater exchange, Latter tail; a systematic).
    """
    if final_states not in FINAL_STATES:
        raise InputValidationError(
            expected_got("final_states", f"one of {FINAL_STATES}", final_states)
        )
    if potential not in POTENTIALS:
        raise InputValidationError(
            expected_got("potential", f"one of {tuple(POTENTIALS)}", potential)
        )
    q_keV = valence.q_keV
    dq_keV = float(q_keV[1] - q_keV[0])
    if not np.allclose(q_keV, (np.arange(q_keV.size) + 0.5) * dq_keV, rtol=1e-6):
        raise InputValidationError(
            expected_got("valence table q bins", "uniform centres (i + 1/2)·Δq", q_keV[:3])
        )
    if n_q < q_keV.size:
        raise InputValidationError(expected_got("n_q", f">= {q_keV.size}", n_q))
    e = valence.energy_eV
    de = float(e[1] - e[0])
    e_max = float(e[-1] + de / 2)
    q_bohr = (np.arange(n_q) + 0.5) * dq_keV / _ALPHA_ME_KEV
    n_val = q_keV.size
    material = get_material(valence.material)
    atoms = Counter(sym for sym, _ in material.basis)
    gap = valence.band_gap_eV
    core_f2 = np.zeros((n_q, e.size))
    val_f2 = np.zeros((n_q, e.size))
    parts = []
    for element, count in sorted(atoms.items()):
        orbitals = atomic_orbitals(element, basis)
        core, val = shell_plan(element, orbitals, e_max, gap)
        grid = LogGrid()
        v_final = (
            POTENTIALS[potential](orbitals, grid.r) if final_states == "distorted-wave" else None
        )
        for (orb, b), target, q_sel in [(c, core_f2, slice(None)) for c in core] + [
            (v, val_f2, slice(n_val - n_val // 4, None)) for v in val
        ]:
            target[q_sel] += _shell_block(
                orb,
                b + energy_shift_ev,
                count,
                q_bohr[q_sel],
                e,
                de,
                gap=gap,
                n_sub=n_sub,
                final_states=final_states,
                potential=v_final,
                occupied=orbitals,
            )
            parts.append(
                {
                    "element": element,
                    "shell": orb.label,
                    "atoms_per_cell": count,
                    "electrons_per_atom": orb.occupation,
                    "binding_below_vbm_eV": b + energy_shift_ev,
                    "binding_source": CORE_CITATION
                    if (element, orb.label) in CORE_BINDING_EV
                    else "Koopmans (atomic HF eigenvalue below the highest occupied shell)",
                    "role": "core, all q" if target is core_f2 else f"valence, q >= bin {n_val}",
                    "hf_eigenvalue_eV": orb.eigenvalue_ha * HARTREE_EV,
                }
            )
    f2 = core_f2.copy()
    f2[:n_val] += valence.f2
    f2[n_val:] += val_f2[n_val:]
    edge = slice(n_val - n_val // 4, n_val)  # e.g. q 3–4 α mₑ for a 4 α mₑ table
    dft_edge = float(valence.f2[edge].sum())
    ratio = float(val_f2[edge].sum() / dft_edge) if dft_edge > 0 else float("nan")
    meta = dict(valence.metadata)
    settings = dict(meta.get("settings", {}))
    settings.update(
        {
            "dq": settings.get("dq", dq_keV / _ALPHA_ME_KEV),
            "n_q": n_q,
            "atomic_shells": {
                "method": "isolated-atom shells: spherically averaged all-electron RHF "
                "orbitals (pyscf.scf.atom_hf); final states "
                + (
                    f"continuum waves of {_POTENTIAL_TEXT[potential]}, "
                    "orthogonalised to the occupied shells of the same l"
                    if final_states == "distorted-wave"
                    else "free plane waves (impulse approximation)"
                )
                + ", kinetic energy counted from the conduction-band minimum",
                "final_states": final_states,
                "potential": potential
                if final_states == "distorted-wave"
                else "none (plane waves)",
                "basis": basis,
                "n_sub": n_sub,
                "energy_shift_eV": energy_shift_ev,
                "dft_valence_q_max_bohr_inv": float(n_val * dq_keV / _ALPHA_ME_KEV),
                "parts": parts,
            },
        }
    )
    software = dict(meta.get("software", {}))
    for pkg in ("pyscf", "numpy", "scipy"):
        try:
            software[pkg] = importlib_metadata.version(pkg)
        except importlib_metadata.PackageNotFoundError:
            software[pkg] = "not installed"
    diagnostics = dict(meta.get("diagnostics", {}))
    diagnostics["valence_atomic_over_dft"] = {
        "q_range_bohr_inv": [float(q_bohr[edge][0]), float(q_bohr[edge][-1])],
        "ratio_of_sums": ratio,
    }
    meta.update({"settings": settings, "software": software, "diagnostics": diagnostics})
    q_all = (np.arange(n_q) + 0.5) * dq_keV
    return replace(valence, q=q_all, f2=f2, metadata=meta)
