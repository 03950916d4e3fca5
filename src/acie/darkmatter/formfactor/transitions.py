"""Bloch transition matrix elements ⟨c k'| e^{i q·r} |v k⟩ and their binning into f2(q, E).

:func:`transition_matrix_elements` — matrix elements with q = k' − k + G, from PySCF's
Fourier-transformed AO-pair integrals (``pyscf.pbc.df.ft_ao.ft_aopair_kpts``), projected on
the MO coefficients. :func:`histogram_pairs` bins Σ|⟨c k'|e^{iq·r}|v k⟩|² into
(|q|, E = E_c(k') − E_v(k)) bins for a block of k-pairs; :func:`normalise_histogram`
applies QCDark's normalisation

    f2(q_l, E_m) = 2π² / (α mₑ² V_cell) · q_l / (Δq ΔE) · (1/N_k²) Σ_{k,k'} Σ_{v,c} Σ_G
                   |⟨c k'|e^{i(k'−k+G)·r}|v k⟩|² [|q| ∈ bin l, E ∈ bin m]

(Dreyer et al., PRD 109, 115008 (2024), eq. (13); code asingal14/QCDark ``routines.py``,
with its constants α = 1/137 and mₑ = 0.51099895 MeV), which is the normalisation of
:class:`acie.darkmatter.formfactor.table.FormFactorTable`. Momenta are in bohr⁻¹
(= α mₑ), energies in eV.
"""

from __future__ import annotations

import numpy as np

from acie.darkmatter.formfactor.dft import BandStructure, band_window
from acie.darkmatter.formfactor.settings import FormFactorSettings

__all__ = [
    "QCDARK_ALPHA",
    "QCDARK_ME_EV",
    "completeness_sums",
    "g_vectors",
    "histogram_pairs",
    "k_pairs",
    "normalise_histogram",
    "transition_matrix_elements",
]

#: QCDark's constants (routines.py); the f2 normalisation uses them, so we do too.
QCDARK_ALPHA = 1.0 / 137.0
QCDARK_ME_EV = 0.51099895000e6
_BOHR_M = 5.29177210903e-11
_HBARC_EV_M = 0.1973269804e-6


def k_pairs(n_k: int) -> list[tuple[int, int]]:
    """Unordered k-point pairs (i <= j) in a fixed order; each also yields the reverse."""
    return [(i, j) for i in range(n_k) for j in range(i, n_k)]


def g_vectors(cell, q_max: float, k_extent: float) -> np.ndarray:
    """Reciprocal-lattice vectors with |G| <= q_max + k_extent (bohr⁻¹), sorted by length."""
    b = cell.reciprocal_vectors()
    cut = q_max + k_extent
    # |n_i| <= cut * |a_i| / 2π bounds every G inside the sphere
    nmax = [int(np.ceil(cut * np.linalg.norm(a) / (2 * np.pi))) + 1 for a in cell.lattice_vectors()]
    grid = np.stack(np.meshgrid(*[np.arange(-n, n + 1) for n in nmax], indexing="ij"), -1).reshape(
        -1, 3
    )
    g = grid @ b
    g = g[np.linalg.norm(g, axis=1) <= cut]
    order = np.lexsort((g[:, 2], g[:, 1], g[:, 0], np.round(np.linalg.norm(g, axis=1), 12)))
    return g[order]


def transition_matrix_elements(
    cell, k_i: np.ndarray, q: np.ndarray, c_final: np.ndarray, c_initial: np.ndarray
) -> np.ndarray:
    """⟨f k_i+q| e^{i q·r} |i k_i⟩ for every q, from PySCF's AO-pair Fourier transforms.

    Parameters
    ----------
    cell : pyscf.pbc.gto.Cell
    k_i : ndarray, shape (3,), bohr⁻¹
        Initial k-point.
    q : ndarray, shape (n_q, 3), bohr⁻¹
        Momentum transfers; the final Bloch states must belong to k_i + q (mod G).
    c_final, c_initial : ndarray, shape (n_ao, n_f) and (n_ao, n_i)
        MO coefficients of the final (at k_f) and initial (at k_i) states.

    Returns
    -------
    ndarray, shape (n_q, n_f, n_i), complex
        Matrix elements normalised per unit cell (Bloch states normalised to one cell).
    """
    ao = _ao_pair(cell, q, k_i)
    return np.einsum("am,qab,bn->qmn", c_final.conj(), ao, c_initial, optimize=True)


def _ao_pair(cell, q: np.ndarray, k_i: np.ndarray) -> np.ndarray:
    """⟨φ_{a,k+q}| e^{iq·r} |φ_{b,k}⟩ (cell integral), shape (n_q, n_ao, n_ao).

    In the Bloch convention of PySCF's ``eval_ao`` and KS solvers, ``ft_aopair_kpts(cell, Gv,
    kptjs=[k])`` returns Σ_T e^{+ik·T} ∫ e^{−iGv·r} χ_a(r) χ_b(r−T) dr (its docstring prints
    the phase as e^{−ik·T}; the quadrature test shows e^{+ik·T} for k ≢ −k). With Gv = −q this is ∫ χ_a(r) e^{iq·r} φ_{b,k}(r) dr over all
    space = ∫_cell φ*_{a,k+q} e^{iq·r} φ_{b,k} dr for PySCF's Bloch sums
    φ_k = Σ_T e^{ik·T} χ(r−T) and real AOs. Pinned by real-space quadrature in the tests.
    """
    from pyscf.pbc.df import ft_ao

    return ft_ao.ft_aopair_kpts(
        cell, np.ascontiguousarray(-q), kptjs=np.asarray(k_i).reshape(1, 3)
    )[0]


def _reverse_elements(ao: np.ndarray, c_final: np.ndarray, c_initial: np.ndarray) -> np.ndarray:
    # ⟨f k| e^{-iq·r} |i k+q⟩ uses the Hermitian conjugate of the same AO matrix.
    return np.einsum("am,qba,bn->qmn", c_final.conj(), ao.conj(), c_initial, optimize=True)


def _bin(values: np.ndarray, width: float, n: int) -> np.ndarray:
    idx = np.floor(values / width).astype(np.int64)
    idx[(values < 0) | (idx >= n)] = -1
    return idx


def histogram_pairs(
    cell,
    bands: BandStructure,
    settings: FormFactorSettings,
    pairs: list[tuple[int, int]],
    gvecs: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Binned Σ|⟨c k'|e^{iq·r}|v k⟩|² for a block of k-pairs (both orderings of each).

    Returns
    -------
    hist : ndarray, shape (n_q, n_E)
        Sum of squared matrix elements per (|q|, E) bin (not yet normalised).
    counts : ndarray, shape (n_q,)
        Number of (initial k, q-vector) combinations per q bin, for sum rules.
    """
    val, cond = band_window(bands, settings)
    n_q, n_e = settings.n_q, settings.n_E
    hist = np.zeros(n_q * n_e)
    counts = np.zeros(n_q)
    nao = bands.coeffs.shape[1]
    chunk = max(1, int(settings.max_memory_mb * 1e6 / (16 * 3 * nao * nao)))
    for ik, jk in pairs:
        ki, kj = bands.kpts[ik], bands.kpts[jk]
        q_all = kj - ki + gvecs
        qn = np.linalg.norm(q_all, axis=1)
        keep = qn < settings.q_max
        q_all, qn = q_all[keep], qn[keep]
        iq = _bin(qn, settings.dq, n_q)
        n_orderings = 1 if ik == jk else 2
        counts += n_orderings * np.bincount(iq[iq >= 0], minlength=n_q)
        e_fwd = bands.energies[jk, cond][:, None] - bands.energies[ik, val][None, :]
        e_rev = bands.energies[ik, cond][:, None] - bands.energies[jk, val][None, :]
        ie_fwd, ie_rev = _bin(e_fwd, settings.dE, n_e), _bin(e_rev, settings.dE, n_e)
        for start in range(0, len(q_all), chunk):
            qs, iqs = q_all[start : start + chunk], iq[start : start + chunk]
            ao = _ao_pair(cell, qs, ki)
            fwd = np.einsum(
                "am,qab,bn->qmn",
                bands.coeffs[jk][:, cond].conj(),
                ao,
                bands.coeffs[ik][:, val],
                optimize=True,
            )
            _accumulate(hist, np.abs(fwd) ** 2, iqs, ie_fwd, n_e)
            if ik != jk:
                rev = _reverse_elements(ao, bands.coeffs[ik][:, cond], bands.coeffs[jk][:, val])
                _accumulate(hist, np.abs(rev) ** 2, iqs, ie_rev, n_e)
    return hist.reshape(n_q, n_e), counts


def _accumulate(
    hist: np.ndarray, prob: np.ndarray, iq: np.ndarray, ie: np.ndarray, n_e: int
) -> None:
    flat = iq[:, None, None] * n_e + ie[None, :, :]
    ok = (iq[:, None, None] >= 0) & (ie[None, :, :] >= 0)
    hist += np.bincount(flat[ok], weights=prob[ok], minlength=hist.size)


def normalise_histogram(
    hist: np.ndarray, *, n_k: int, cell_volume_bohr3: float, settings: FormFactorSettings
) -> np.ndarray:
    """Apply QCDark's normalisation to a binned Σ|M|² (see module docstring).

    Parameters
    ----------
    hist : ndarray, shape (n_q, n_E)
    n_k : int
        Number of k-points (the double k-sum is divided by n_k²).
    cell_volume_bohr3 : float, bohr³

    Returns
    -------
    ndarray, shape (n_q, n_E)
        Dimensionless f2.
    """
    v_nat = cell_volume_bohr3 * _BOHR_M**3 / _HBARC_EV_M**3  # eV⁻³
    pref = 2 * np.pi**2 / (QCDARK_ALPHA * QCDARK_ME_EV**2 * v_nat)  # eV
    q_centres = (np.arange(settings.n_q) + 0.5) * settings.dq
    return hist / n_k**2 * pref * q_centres[:, None] / (settings.dq * settings.dE)


def completeness_sums(
    cell, k: np.ndarray, q: np.ndarray, c_all_final: np.ndarray, c_initial: np.ndarray
) -> np.ndarray:
    """Σ_f |⟨f k+q|e^{iq·r}|i k⟩|² over ALL bands f of the basis at k+q.

    By Bessel's inequality this is <= 1 for every initial state, with equality at q = 0
    (orthonormality); how far it falls below 1 at large q measures basis incompleteness.

    Returns
    -------
    ndarray, shape (n_q, n_i)
    """
    m = transition_matrix_elements(cell, k, q, c_all_final, c_initial)
    return np.sum(np.abs(m) ** 2, axis=1)
