"""Atomic-shell contributions to f2(q, E) in the plane-wave (impulse) approximation.

What a valence-only pseudopotential table lacks at high momentum transfer is the ionisation
of semicore shells (Ge 3d, 29.6 eV below the valence-band maximum) and the high-momentum
tail of the valence shells. This module computes both from isolated-atom all-electron
orbitals:

1. **Orbitals.** Spherically averaged restricted Hartree–Fock of the free atom
   (``pyscf.scf.atom_hf.get_atm_nrhf``, fractional occupation of open shells) in an
   all-electron Gaussian basis (default def2-TZVP). Each occupied orbital is reduced to its
   radial function R_nl(r) = Σ_i w_i r^l e^{-α_i r²} (primitive weights w_i, normalised).
2. **Momentum space.** χ_nl(p) = 4π ∫ r² j_l(pr) R_nl(r) dr, in closed form per primitive,
   ∫ r² j_l(pr) r^l e^{-αr²} dr = √π p^l e^{-p²/4α} / (2^{l+2} α^{l+3/2});
   ∫ p² χ² dp / (2π)³ = 1, and the cumulative ∫₀^P p χ(p)² dp is a sum of incomplete gamma
   functions (:func:`cumulative_momentum`).
3. **Ionisation structure factor** (per atom, all N_occ electrons of the shell, both spins),
   final states free electrons above the conduction-band minimum,
   E = E_b + E_gap + k'²/2mₑ (E_b: binding below the valence-band maximum):

       S_nl(q, E) = N_occ ∫ d³k'/(2π)³ χ(|k'−q|)²/(4π) δ(E − E_b − E_gap − k'²/2mₑ)
                  = N_occ mₑ / (16 π³ q) ∫_{|k'−q|}^{k'+q} p χ(p)² dp          (atomic units)

   which obeys ∫ S dE = N_occ exactly (every final state is counted once).
4. **Normalisation.** :mod:`~acie.darkmatter.formfactor.transitions` bins
   (1/N_k²) Σ_{k,k',G,v,c} |M|² over spatial orbitals; the q = k'−k+G vectors of one k fill
   q-space with density V_cell/(2π)³, so a bin holds V_cell/(2π)³ 4πq²Δq ΔE S'(q, E) with
   S' = S/2 the structure factor per spatial orbital and cell. With QCDark's prefactor
   2π²/(α mₑ² V_cell) · q/(Δq ΔE) this gives

       f2(q, E) = q³ S(q, E) / (2 α mₑ²)  =  (α_true/α_QCDark) · q³ S / 2   (atomic units)

   per cell, S summed over every atom of the cell. The same relation follows from the
   rate dR/dE = n_χ σ̄e/(2μ²) ∫ dq q η |F_DM|² S (Fermi's golden rule) set equal to the
   table's rate formula; a test checks it against ``normalise_histogram`` on an empty-lattice
   crystal where both can be computed.

Binding energies: Ge 3d at 29.57 eV below the valence-band maximum (spin–orbit-averaged XPS,
Kraut, Grant, Waldrop & Kowalczyk, PRL 44, 1620 (1980); PRB 28, 1965 (1983)); valence shells
from the atom's Koopmans eigenvalues, aligned so that the highest occupied shell sits at the
valence-band maximum. Approximations (stated in ``data/REFERENCE.md``): isolated atom, no
crystal-field or solid-state relaxation of the orbitals, plane-wave final states (no Coulomb
or crystal distortion, no excitons), a single energy per shell (no band dispersion, no
spin–orbit splitting). PySCF is imported only when orbitals are computed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.special import gamma, gammainc

from acie.darkmatter.formfactor.transitions import QCDARK_ALPHA
from acie.darkmatter.units import ALPHA
from acie.errors import InputValidationError, expected_got

__all__ = [
    "CORE_BINDING_EV",
    "HARTREE_EV",
    "RadialOrbital",
    "atomic_orbitals",
    "cumulative_momentum",
    "f2_from_structure_factor",
    "momentum_wavefunction",
    "shell_f2",
    "structure_factor",
]

#: Hartree energy in eV (CODATA 2018).
HARTREE_EV = 27.211386245988
#: Measured core-level binding energies below the valence-band maximum (eV, XPS, spin–orbit
#: averaged), by (element, shell). Ge 3d: Kraut et al., PRL 44, 1620 (1980); PRB 28, 1965
#: (1983), E(Ge 3d) − E_v = 29.57 ± 0.03 eV.
CORE_BINDING_EV: dict[tuple[str, str], float] = {("Ge", "3d"): 29.57}
_L_LETTER = "spdf"
_SPLINE_STEP = 5e-4  # bohr⁻¹, grid of the cumulative momentum distribution


@dataclass(frozen=True)
class RadialOrbital:
    """One occupied atomic shell: R(r) = Σ_i weights_i r^l e^{-exponents_i r²} (bohr).

    Attributes
    ----------
    element, label : str
        E.g. ``"Ge"``, ``"3d"``.
    l : int
        Orbital angular momentum.
    occupation : float
        Electrons in the shell (both spins, all m).
    eigenvalue_ha : float
        Hartree–Fock orbital energy, Ha.
    exponents, weights : ndarray
        Primitive Gaussian exponents (bohr⁻²) and weights of the normalised radial function.
    """

    element: str
    label: str
    l: int  # noqa: E741 - the quantum number's name
    occupation: float
    eigenvalue_ha: float
    exponents: np.ndarray
    weights: np.ndarray


def atomic_orbitals(element: str, basis: str = "def2-tzvp") -> list[RadialOrbital]:
    """Occupied shells of the free ``element`` atom from spherically averaged all-electron RHF.

    Raises
    ------
    InputValidationError
        If the basis is not all-electron for ``element`` or an orbital does not normalise.
    """
    from pyscf import gto
    from pyscf.scf import atom_hf

    try:
        mol = gto.M(atom=f"{element} 0 0 0", basis=basis, spin=None, verbose=0)
    except (KeyError, RuntimeError, ValueError) as exc:
        raise InputValidationError(
            expected_got("element/basis", "a PySCF all-electron basis", f"{basis}: {exc}")
        ) from None
    if mol.has_ecp():
        raise InputValidationError(
            expected_got("basis", f"an all-electron basis for {element}", f"{basis} (uses an ECP)")
        )
    _, eps, coeff, occ = atom_hf.get_atm_nrhf(mol)[mol.atom_symbol(0)]
    ao_l = np.concatenate(
        [
            np.full(mol.bas_nctr(ib) * (2 * mol.bas_angular(ib) + 1), mol.bas_angular(ib))
            for ib in range(mol.nbas)
        ]
    )
    shells: dict[tuple[int, float], RadialOrbital] = {}
    count_l: dict[int, int] = {}
    for i in np.argsort(eps):
        if occ[i] < 1e-8:
            continue
        l_val = int(np.argmax([np.sum(coeff[ao_l == lv, i] ** 2) for lv in range(ao_l.max() + 1)]))
        key = (l_val, round(float(eps[i]), 6))
        if key in shells:  # another m of the same shell
            old = shells[key]
            shells[key] = RadialOrbital(
                **{**old.__dict__, "occupation": old.occupation + float(occ[i])}
            )
            continue
        count_l[l_val] = count_l.get(l_val, 0) + 1
        exps, wts = _radial_primitives(mol, coeff[:, i], l_val)
        label = f"{l_val + count_l[l_val]}{_L_LETTER[l_val]}"
        shells[key] = RadialOrbital(element, label, l_val, float(occ[i]), float(eps[i]), exps, wts)
    return sorted(shells.values(), key=lambda s: s.eigenvalue_ha)


def _radial_primitives(mol, c_mo: np.ndarray, l_val: int) -> tuple[np.ndarray, np.ndarray]:
    """Primitive expansion of one MO's radial function (the m-mixture factored out by SVD)."""
    blocks, prims = [], []
    start = 0
    for ib in range(mol.nbas):
        lb, nctr = mol.bas_angular(ib), mol.bas_nctr(ib)
        width = nctr * (2 * lb + 1)
        if lb == l_val:
            blocks.append(c_mo[start : start + width].reshape(nctr, 2 * lb + 1))
            # contraction coefficients including primitive and contraction normalisation
            cc = mol._libcint_ctr_coeff(ib)
            prims += [(mol.bas_exp(ib), cc[:, j]) for j in range(nctr)]
        start += width
    u_mat, s_val, _ = np.linalg.svd(np.vstack(blocks), full_matrices=False)
    radial = u_mat[:, 0] * s_val[0]
    exps = np.concatenate([p[0] for p in prims])
    wts = np.concatenate([d * p[1] for d, p in zip(radial, prims, strict=True)])
    wts = wts * np.sign(wts[np.argmax(np.abs(wts))])
    norm = _overlap(exps, wts, l_val)
    if abs(norm - 1) > 1e-6:
        raise InputValidationError(
            expected_got("atomic orbital", "a normalised radial function", f"norm {norm:.6g}")
        )
    return exps, wts


def _overlap(exps: np.ndarray, wts: np.ndarray, l_val: int) -> float:
    """∫ r² R(r)² dr of a primitive expansion (closed form)."""
    a = exps[:, None] + exps[None, :]
    return float(wts @ (gamma(l_val + 1.5) / (2 * a ** (l_val + 1.5))) @ wts)


def momentum_wavefunction(orbital: RadialOrbital, p) -> np.ndarray:
    """χ(p) = 4π ∫ r² j_l(pr) R(r) dr at momenta ``p`` (bohr⁻¹); ∫ p²χ² dp/(2π)³ = 1."""
    p = np.asarray(p, dtype=float)
    a = orbital.exponents
    l_val = orbital.l
    prim = (
        np.sqrt(np.pi)
        * p[..., None] ** l_val
        * np.exp(-(p[..., None] ** 2) / (4 * a))
        / (2 ** (l_val + 2) * a ** (l_val + 1.5))
    )
    return 4 * np.pi * prim @ orbital.weights


def cumulative_momentum(orbital: RadialOrbital, p_max) -> np.ndarray:
    """∫₀^P p χ(p)² dp at ``p_max`` = P (bohr⁻¹), closed form (incomplete gamma functions).

    χ² is a double sum of p^{2l} e^{-βp²} with β = 1/4α_i + 1/4α_j, and
    ∫₀^P p^{2l+1} e^{-βp²} dp = Γ(l+1) P(l+1, βP²) / (2 β^{l+1}).
    """
    p_max = np.asarray(p_max, dtype=float)
    a, w, l_val = orbital.exponents, orbital.weights, orbital.l
    c = 4 * np.pi * np.sqrt(np.pi) * w / (2 ** (l_val + 2) * a ** (l_val + 1.5))
    beta = 0.25 / a[:, None] + 0.25 / a[None, :]
    coef = (c[:, None] * c[None, :] * gamma(l_val + 1) / (2 * beta ** (l_val + 1))).ravel()
    beta = beta.ravel()
    flat = p_max.ravel()
    out = np.empty(flat.size)
    step = max(1, 2_000_000 // beta.size)
    for s in range(0, flat.size, step):
        x = beta[None, :] * flat[s : s + step, None] ** 2
        out[s : s + step] = gammainc(l_val + 1, x) @ coef
    return out.reshape(p_max.shape)


def structure_factor(
    orbital: RadialOrbital, q, energy_ev, *, binding_ev: float, band_gap_ev: float
) -> np.ndarray:
    """S(q, E) of one atom's shell, per eV, on the grid q (bohr⁻¹) × E (eV).

    Zero below the threshold E_b + E_gap. See the module docstring for the formula.

    Returns
    -------
    ndarray, shape (len(q), len(energy_ev)), eV⁻¹
    """
    q = np.atleast_1d(np.asarray(q, dtype=float))
    e = np.atleast_1d(np.asarray(energy_ev, dtype=float))
    if np.any(q <= 0):
        raise InputValidationError(expected_got("q", "values > 0 (bohr⁻¹)", float(q.min())))
    kinetic = (e - binding_ev - band_gap_ev) / HARTREE_EV
    k_out = np.sqrt(np.clip(2 * kinetic, 0, None))
    # the cumulative is smooth in P: evaluate it exactly on a fine grid, spline in between
    p_top = float(q.max() + k_out.max())
    grid = np.linspace(0.0, p_top, max(2, int(np.ceil(p_top / _SPLINE_STEP)) + 1))
    spline = CubicSpline(grid, cumulative_momentum(orbital, grid))
    upper = spline(q[:, None] + k_out[None, :])
    lower = spline(np.abs(q[:, None] - k_out[None, :]))
    s_au = orbital.occupation / (16 * np.pi**3 * q[:, None]) * (upper - lower)
    s_au = np.where(kinetic[None, :] > 0, s_au, 0.0)
    return s_au / HARTREE_EV


def shell_f2(
    shells: list[tuple[RadialOrbital, float, int]],
    q_bohr,
    energy_ev,
    *,
    band_gap_ev: float,
    de_ev: float,
    n_sub: int = 4,
) -> np.ndarray:
    """f2(q, E) per cell (QCDark normalisation) of atomic shells, averaged over E bins.

    Parameters
    ----------
    shells : list of (orbital, binding energy below the VBM in eV, atoms of it per cell)
    q_bohr : ndarray, bohr⁻¹ (= α mₑ)
        q bin centres.
    energy_ev : ndarray, eV
        E bin centres (bins of width ``de_ev``); each bin is averaged over ``n_sub``
        equally spaced points (the threshold falls inside a bin).

    Returns
    -------
    ndarray, shape (len(q_bohr), len(energy_ev))
    """
    if n_sub < 1:
        raise InputValidationError(expected_got("n_sub", "an integer >= 1", n_sub))
    q = np.asarray(q_bohr, dtype=float)
    e = np.asarray(energy_ev, dtype=float)
    offsets = ((np.arange(n_sub) + 0.5) / n_sub - 0.5) * de_ev
    s_total = np.zeros((q.size, e.size))
    for orbital, binding, n_atoms in shells:
        for off in offsets:
            s_total += n_atoms * structure_factor(
                orbital, q, e + off, binding_ev=binding, band_gap_ev=band_gap_ev
            )
    s_total /= n_sub
    return f2_from_structure_factor(q, s_total)


def f2_from_structure_factor(q_bohr, s_per_ev) -> np.ndarray:
    """f2 (QCDark normalisation) from S(q, E) per eV and cell: q³ S / (2 α mₑ²).

    With q in eV (q_bohr · α mₑ) and S in eV⁻¹ (S_au / (α² mₑ)) this is
    (α/α_QCDark) · q_bohr³ · S_au / 2 (module docstring).
    """
    q = np.asarray(q_bohr, dtype=float)
    return (ALPHA / QCDARK_ALPHA) * q[:, None] ** 3 * (np.asarray(s_per_ev) * HARTREE_EV) / 2
