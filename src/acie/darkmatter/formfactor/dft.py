"""Periodic Kohn–Sham DFT of a material's primitive cell with PySCF: the band structure.

1. :func:`build_cell` — a ``pyscf.pbc.gto.Cell`` of the material's primitive cell at its
   experimental lattice constant (GTH pseudopotentials by default, all-electron if
   ``pseudo=None``).
2. :func:`run_dft` — ``pyscf.pbc.dft.KRKS`` on a Γ-centred Monkhorst–Pack mesh; band
   energies are scissor-shifted to the experimental gap and referred to the valence-band
   maximum (QCDark's convention).
3. :func:`band_window` — the valence and conduction bands kept for the transitions.

The transitions between these bands are in :mod:`acie.darkmatter.formfactor.transitions`;
orchestration with checkpoints, resume, workers and progress in
:mod:`acie.darkmatter.formfactor.runner`. PySCF is imported inside the functions.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from acie.darkmatter.formfactor.settings import FormFactorSettings
from acie.darkmatter.materials import Material, get_material
from acie.errors import EstimationError, InputValidationError, OutOfRangeError, expected_got

__all__ = ["HARTREE_EV", "BandStructure", "band_window", "build_cell", "run_dft"]

HARTREE_EV = 27.211386245988  # CODATA 2018

# the exchange part (libxc, as PySCF spells it) that a one-shot hybrid replaces
_SEMILOCAL_EXCHANGE = {"pbe": "PBE,", "lda": "LDA,", "pbesol": "PBESOL,", "blyp": "B88,"}


def _semilocal_exchange(xc: str) -> str:
    """The exchange part of a semi-local ``xc`` (``"pbe"`` → ``"PBE,"``, ``"lda,vwn"`` → ``"lda,"``)."""
    from pyscf.dft import libxc

    name = xc.lower().replace(" ", "")
    part = name.split(",")[0] + "," if "," in name else _SEMILOCAL_EXCHANGE.get(name)
    if part is None or "hf" in name or libxc.is_hybrid_xc(name):
        raise InputValidationError(
            expected_got(
                "xc of a one-shot hybrid",
                f"a semi-local functional ({', '.join(sorted(_SEMILOCAL_EXCHANGE))} or 'x,c')",
                xc,
            )
        )
    return part


@dataclass(frozen=True, kw_only=True)
class BandStructure:
    """Kohn–Sham bands on the k-mesh.

    Attributes
    ----------
    kpts : ndarray, shape (n_k, 3), bohr⁻¹
        Absolute k-points.
    energies : ndarray, shape (n_k, n_mo), eV
        Band energies, scissor-corrected if requested, valence-band maximum at 0.
    coeffs : ndarray, shape (n_k, n_ao, n_mo), complex
        MO coefficients (orthonormal in the Bloch-AO overlap metric).
    n_occ : int
        Number of doubly occupied bands.
    dft_gap : float, eV
        The Kohn–Sham gap before the scissor.
    scissor_shift : float, eV
        The shift added to conduction bands (0 if none).
    info : dict
        Total energy (hartree), convergence flag, timings (s).
    """

    kpts: np.ndarray
    energies: np.ndarray
    coeffs: np.ndarray
    n_occ: int
    dft_gap: float
    scissor_shift: float
    info: dict = field(default_factory=dict)


def build_cell(material: str | Material, settings: FormFactorSettings):
    """Build the PySCF cell of ``material``'s primitive cell.

    Returns
    -------
    pyscf.pbc.gto.Cell
    """
    from pyscf.pbc import gto

    mat = get_material(material)
    cell = gto.Cell()
    cell.a = mat.lattice_vectors()
    cell.atom = [(sym, tuple(pos)) for sym, pos in mat.atom_positions()]
    cell.unit = "A"
    cell.basis = settings.basis
    if settings.pseudo is not None:
        cell.pseudo = settings.pseudo
    if settings.ke_cutoff is not None:
        cell.ke_cutoff = settings.ke_cutoff
    cell.precision = settings.precision
    cell.verbose = 0
    try:
        with warnings.catch_warnings():  # PySCF suggests basis-set-exchange; we report instead
            warnings.filterwarnings(
                "ignore", message="Basis may be available", category=UserWarning
            )
            cell.build()
    except (KeyError, RuntimeError, ValueError) as exc:  # PySCF reports a missing basis so
        raise InputValidationError(
            expected_got(
                f"basis/pseudopotential for {mat.name}",
                "names PySCF has for every element",
                f"{settings.basis!r}/{settings.pseudo!r} ({exc})",
            )
        ) from None
    if cell.nelectron % 2:
        raise InputValidationError(
            expected_got("electrons per cell", "an even number (closed shell)", cell.nelectron)
        )
    return cell


def run_dft(
    material: str | Material,
    settings: FormFactorSettings,
    *,
    cell=None,
    monitor: Callable[[Any], None] | None = None,
) -> BandStructure:
    """Run periodic Kohn–Sham DFT and return scissor-corrected bands.

    Parameters
    ----------
    material : str or Material
    settings : FormFactorSettings
    cell : pyscf.pbc.gto.Cell, optional
        A cell from :func:`build_cell` with the same settings (built if omitted).
    monitor : callable, optional
        Called with the ``pyscf.pbc.dft.KRKS`` object before the SCF starts, to install
        progress hooks (``callback``, ``pre_kernel``); see
        :meth:`acie.darkmatter.formfactor.progress.Progress.scf`.

    Raises
    ------
    EstimationError
        If the SCF does not converge.
    """
    from pyscf.pbc import dft

    mat = get_material(material)
    cell = build_cell(mat, settings) if cell is None else cell
    t0 = time.perf_counter()
    kpts = cell.make_kpts(list(settings.kmesh), wrap_around=True, with_gamma_point=True)
    mf = dft.KRKS(cell, kpts)
    if settings.density_fit:
        mf = mf.density_fit()
    mf.xc = settings.xc
    # refuses, before the SCF, a functional the one-shot hybrid cannot correct
    exchange = _semilocal_exchange(settings.xc) if settings.hybrid_fraction else None
    mf.conv_tol = settings.conv_tol
    mf.verbose = 0
    if monitor is not None:
        monitor(mf)
    e_tot = mf.kernel()
    if not mf.converged:
        raise EstimationError(
            f"KRKS for {mat.name} did not converge (conv_tol={settings.conv_tol}); "
            "try a smaller conv_tol, a larger ke_cutoff or another basis"
        )
    energies = np.asarray(mf.mo_energy, dtype=float) * HARTREE_EV
    coeffs = np.asarray(mf.mo_coeff, dtype=complex)
    extra: dict[str, Any] = {}
    if exchange is not None:
        from acie.darkmatter.formfactor.hybrid import one_shot_hybrid

        e_h, coeffs, extra = one_shot_hybrid(
            mf,
            fraction=settings.hybrid_fraction,
            exchange_kmesh=settings.exchange_kmesh,
            kmesh=settings.kmesh,
            semilocal_exchange=exchange,
            report=getattr(monitor, "hybrid", None),
        )
        energies = e_h * HARTREE_EV
    n_occ = cell.nelectron // 2
    vbm = energies[:, :n_occ].max()
    gap = float(energies[:, n_occ:].min() - vbm)
    shift = (mat.band_gap - gap) if settings.scissor else 0.0
    energies[:, n_occ:] += shift
    energies -= vbm
    info = {
        "e_tot_hartree": float(e_tot),
        "converged": True,
        "dft_seconds": time.perf_counter() - t0,
        "n_ao": int(cell.nao),
        "n_electrons": int(cell.nelectron),
        "mesh": list(map(int, cell.mesh)),
        **extra,
    }
    return BandStructure(
        kpts=np.asarray(kpts),
        energies=energies,
        coeffs=coeffs,
        n_occ=n_occ,
        dft_gap=gap,
        scissor_shift=float(shift),
        info=info,
    )


def band_window(bands: BandStructure, settings: FormFactorSettings) -> tuple[slice, slice]:
    """Valence and conduction band slices selected by ``n_valence`` / ``n_conduction``.

    Raises
    ------
    OutOfRangeError
        If more bands are requested than the basis has.
    """
    n_mo = bands.energies.shape[1]
    nv = bands.n_occ if settings.n_valence is None else int(settings.n_valence)
    nc = n_mo - bands.n_occ if settings.n_conduction is None else int(settings.n_conduction)
    if nv > bands.n_occ:
        raise OutOfRangeError(expected_got("n_valence", f"<= {bands.n_occ} (occupied bands)", nv))
    if nc > n_mo - bands.n_occ:
        raise OutOfRangeError(
            expected_got("n_conduction", f"<= {n_mo - bands.n_occ} (empty bands in the basis)", nc)
        )
    return slice(bands.n_occ - nv, bands.n_occ), slice(bands.n_occ, bands.n_occ + nc)
