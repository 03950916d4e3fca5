"""One-shot hybrid-functional bands on a semi-local Kohn–Sham ground state.

A self-consistent hybrid (PBE0) on the k-meshes a form-factor table needs costs one
exact-exchange build per SCF cycle over all k-pairs (N_k² of them: about 30 minutes per
cycle for Ge at 4×4×4 on two cores, hours at 6×6×6). Two standard approximations make it
affordable, and this module does exactly those two:

1. **Non-self-consistent hybrid** ("PBE0@PBE"): the density matrix of the converged
   semi-local SCF is kept, and the Fock matrix at every k is corrected once,

       F_hyb(k) = F_sl(k) − a·V_x^sl(k) − (a/2)·K(k),

   where ``a`` is the exact-exchange fraction (PBE0: 1/4), V_x^sl the semi-local
   exchange potential being replaced and K the Hartree–Fock exchange matrix of the
   (spin-summed) density matrix; then F_hyb C = S C ε is solved at each k.
2. **Reduced exchange mesh** (VASP's ``NKRED``): K(k) sums over partners k′ = k + p, with
   p on a coarser Γ-centred grid (``exchange_kmesh``, which must divide the k-mesh), so
   every partner is a mesh point and k′ = k is always among them; the integrable G = 0
   singularity of that term is treated with the reduced grid's Madelung constant
   (PySCF's ``exxdiv='ewald'``).

``tests/formfactor/test_hybrid.py`` checks the correction against the Fock matrix PySCF
builds for the hybrid from the same density matrix (to 1e-9 Ha, on the whole mesh and on a
one-point partner grid); how close one-shot comes to a self-consistent PBE0 (Ge 2×2×2:
0.02 eV) and how the partner grid converges are measurements in the form-factor
``data/REFERENCE.md``. PySCF is imported inside the functions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.linalg

from acie.errors import InputValidationError, expected_got

__all__ = ["exchange_partners", "one_shot_hybrid"]


def _fractional(cell, kpts: np.ndarray) -> np.ndarray:
    """k-points in units of the reciprocal lattice vectors."""
    return np.asarray(kpts) @ cell.lattice_vectors().T / (2 * np.pi)


def exchange_partners(
    cell, kpts: np.ndarray, kmesh: tuple[int, int, int], exchange_kmesh: tuple[int, int, int]
) -> np.ndarray:
    """Indices of the exchange partners k + p of every mesh k-point.

    Returns an integer array of shape (n_k, n_p): row i lists the mesh k-points
    k_i + p for p on the Γ-centred ``exchange_kmesh`` grid; column 0 is k_i itself.
    """
    km = np.asarray(kmesh, dtype=int)
    xm = np.asarray(exchange_kmesh, dtype=int)
    if xm.shape != (3,) or (xm < 1).any() or (km % xm).any():
        raise InputValidationError(
            expected_got(
                "exchange_kmesh",
                f"three integers >= 1 dividing the k-mesh {tuple(km)}",
                tuple(exchange_kmesh),
            )
        )
    idx = np.rint(_fractional(cell, kpts) * km).astype(int) % km
    lookup = {tuple(v): i for i, v in enumerate(idx)}
    if len(lookup) != len(kpts) or len(kpts) != int(km.prod()):
        raise InputValidationError(
            expected_got("kpts", f"the {tuple(km)} Γ-centred mesh", f"{len(kpts)} k-points")
        )
    step = km // xm
    offsets = np.array(np.meshgrid(*[np.arange(n) for n in xm], indexing="ij")).reshape(3, -1).T
    offsets = offsets * step
    return np.array([[lookup[tuple((v + o) % km)] for o in offsets] for v in idx])


def one_shot_hybrid(
    mf,
    *,
    fraction: float = 0.25,
    exchange_kmesh: tuple[int, int, int] | None = None,
    kmesh: tuple[int, int, int],
    semilocal_exchange: str = "PBE,",
    report: Callable[[int, int], Any] | None = None,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Hybrid-functional bands from a converged semi-local ``KRKS`` object.

    Parameters
    ----------
    mf : pyscf.pbc.dft.KRKS
        Converged, with a semi-local functional whose exchange part is
        ``semilocal_exchange`` (PBE: ``"PBE,"``).
    fraction : float
        Exact-exchange fraction ``a`` (PBE0: 0.25).
    exchange_kmesh : tuple of int, optional
        Reduced grid of exchange partners; ``None`` = the whole mesh.
    kmesh : tuple of int
        The Γ-centred mesh of ``mf.kpts``.
    report : callable, optional
        Called as ``report(done, total)`` after each k-point's exchange.

    Returns
    -------
    energies : ndarray (n_k, n_mo), hartree
    coeffs : ndarray (n_k, n_ao, n_mo), complex
    info : dict
        Seconds spent and the settings used.
    """
    from pyscf import lib
    from pyscf.pbc import tools

    if not (0.0 < float(fraction) <= 1.0):
        raise InputValidationError(expected_got("hybrid fraction", "a number in (0, 1]", fraction))
    xm = exchange_kmesh or kmesh
    xmesh = (int(xm[0]), int(xm[1]), int(xm[2]))
    t0 = time.perf_counter()
    cell = mf.cell
    kpts = np.asarray(mf.kpts)
    partners = exchange_partners(cell, kpts, kmesh, xmesh)
    dm = np.asarray(mf.make_rdm1())
    mo_coeff = [np.asarray(c) for c in mf.mo_coeff]
    mo_occ = [np.asarray(o) for o in mf.mo_occ]
    fock = np.asarray(mf.get_fock())
    ovlp = np.asarray(mf.get_ovlp())
    _, _, vx = mf._numint.nr_rks(cell, mf.grids, semilocal_exchange, dm, kpts=kpts)
    vx = np.asarray(vx)
    madelung = tools.pbc.madelung(cell, cell.make_kpts(list(xmesh), with_gamma_point=True))
    energies, coeffs = [], []
    for i, row in enumerate(partners):
        dm_p = lib.tag_array(
            dm[row], mo_coeff=[mo_coeff[j] for j in row], mo_occ=[mo_occ[j] for j in row]
        )
        vk = mf.with_df.get_jk(
            dm_p, hermi=1, kpts=kpts[row], kpts_band=kpts[i], with_j=False, exxdiv=None
        )[1]
        vk = np.asarray(vk).reshape(ovlp[i].shape)
        vk = vk + madelung * ovlp[i] @ dm[i] @ ovlp[i]
        f = fock[i] - fraction * vx[i] - 0.5 * fraction * vk
        e, c = scipy.linalg.eigh(0.5 * (f + f.conj().T), ovlp[i])
        energies.append(e)
        coeffs.append(c)
        if report is not None:
            report(i + 1, len(partners))
    info = {
        "hybrid_fraction": float(fraction),
        "exchange_kmesh": list(xmesh),
        "semilocal_exchange": semilocal_exchange,
        "hybrid_seconds": time.perf_counter() - t0,
    }
    return np.array(energies), np.array(coeffs), info
