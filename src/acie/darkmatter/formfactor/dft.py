"""Ab-initio crystal form factors |f_crystal(q, E)|² from periodic Kohn–Sham DFT (PySCF).

Pipeline
--------
1. :func:`build_cell` — a ``pyscf.pbc.gto.Cell`` of the material's primitive cell at its
   experimental lattice constant (GTH pseudopotentials by default, all-electron if
   ``pseudo=None``).
2. :func:`run_dft` — ``pyscf.pbc.dft.KRKS`` on a Γ-centred Monkhorst–Pack mesh; band
   energies are scissor-shifted to the experimental gap and referred to the valence-band
   maximum (QCDark's convention).
3. :func:`transition_matrix_elements` — Bloch-state matrix elements
   ⟨c k'| e^{i q·r} |v k⟩ with q = k' − k + G, from PySCF's Fourier-transformed AO-pair
   integrals (``pyscf.pbc.df.ft_ao.ft_aopair_kpts``), projected on the MO coefficients.
4. :func:`histogram_pairs` bins Σ|⟨c k'|e^{iq·r}|v k⟩|² into (|q|, E = E_c(k') − E_v(k))
   bins for a block of k-pairs; :func:`normalise_histogram` applies QCDark's normalisation

       f2(q_l, E_m) = 2π² / (α mₑ² V_cell) · q_l / (Δq ΔE) · (1/N_k²) Σ_{k,k'} Σ_{v,c} Σ_G
                      |⟨c k'|e^{i(k'−k+G)·r}|v k⟩|² [|q| ∈ bin l, E ∈ bin m]

   (Dreyer et al., PRD 109, 115008 (2024), eq. (13); code asingal14/QCDark ``routines.py``,
   with its constants α = 1/137 and mₑ = 0.51099895 MeV), which is the normalisation of
   :class:`acie.darkmatter.formfactor_io.FormFactorTable`.

Momenta inside are in bohr⁻¹ (= α mₑ, atomic units), energies in eV. Orchestration with
checkpoints, resume and parallel workers lives in :mod:`acie.darkmatter.formfactor_run`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from acie.darkmatter.materials import Material, get_material
from acie.errors import InputValidationError, NonPhysicalValueError, expected_got

__all__ = [
    "BandStructure",
    "FormFactorSettings",
    "QCDARK_ALPHA",
    "QCDARK_ME_EV",
    "band_window",
    "build_cell",
    "completeness_sums",
    "g_vectors",
    "histogram_pairs",
    "k_pairs",
    "normalise_histogram",
    "run_dft",
    "transition_matrix_elements",
]

HARTREE_EV = 27.211386245988  # CODATA 2018
#: QCDark's constants (routines.py); the f2 normalisation uses them, so we do too.
QCDARK_ALPHA = 1.0 / 137.0
QCDARK_ME_EV = 0.51099895000e6
_BOHR_M = 5.29177210903e-11
_HBARC_EV_M = 0.1973269804e-6


@dataclass(frozen=True, kw_only=True)
class FormFactorSettings:
    """Everything that determines a form-factor table.

    Attributes
    ----------
    kmesh : tuple of int
        Γ-centred Monkhorst–Pack mesh.
    basis : str
        PySCF basis name (``"gth-dzvp-molopt-sr"``, ``"gth-szv"``, ``"def2-svp"``…).
    pseudo : str or None
        GTH pseudopotential (``"gth-pbe"``, ``"gth-pade"``); ``None`` = all-electron.
    xc : str
        Exchange–correlation functional (libxc name understood by PySCF).
    n_valence, n_conduction : int or None
        Highest valence / lowest conduction bands kept; ``None`` = all of them.
    dq : float, bohr⁻¹ (= α mₑ)
        q bin width (QCDark: 0.02).
    n_q : int
        Number of q bins, starting at 0.
    dE : float, eV
        Energy bin width (QCDark: 0.1).
    n_E : int
        Number of energy bins, starting at 0.
    scissor : bool
        Shift the conduction bands to the material's experimental gap.
    ke_cutoff : float or None, hartree
        Plane-wave cutoff of the DFT density (``None``: PySCF's choice from ``precision``).
    precision : float
        PySCF integral precision.
    conv_tol : float, hartree
        SCF convergence threshold.
    density_fit : bool
        Gaussian density fitting (advised for all-electron bases).
    pairs_per_block : int
        k-pairs per checkpoint block.
    max_memory_mb : float, MB
        Bound on the AO-pair Fourier-transform buffer of one worker.
    """

    kmesh: tuple[int, int, int] = (3, 3, 3)
    basis: str = "gth-dzvp-molopt-sr"
    pseudo: str | None = "gth-pbe"
    xc: str = "pbe"
    n_valence: int | None = None
    n_conduction: int | None = None
    dq: float = 0.02
    n_q: int = 300
    dE: float = 0.1
    n_E: int = 500
    scissor: bool = True
    ke_cutoff: float | None = None
    precision: float = 1e-8
    conv_tol: float = 1e-8
    density_fit: bool = False
    pairs_per_block: int = 8
    max_memory_mb: float = 256.0

    def __post_init__(self) -> None:
        km = tuple(int(k) for k in self.kmesh)
        if len(km) != 3 or min(km) < 1:
            raise InputValidationError(expected_got("kmesh", "three integers >= 1", self.kmesh))
        object.__setattr__(self, "kmesh", km)
        for name in ("dq", "dE", "precision", "conv_tol", "max_memory_mb"):
            val = getattr(self, name)
            if not (isinstance(val, int | float) and math.isfinite(val) and val > 0):
                raise NonPhysicalValueError(expected_got(name, "a finite number > 0", val))
        for name in ("n_q", "n_E", "pairs_per_block"):
            if int(getattr(self, name)) < 1:
                raise InputValidationError(
                    expected_got(name, "an integer >= 1", getattr(self, name))
                )
        for name in ("n_valence", "n_conduction"):
            val = getattr(self, name)
            if val is not None and int(val) < 1:
                raise InputValidationError(expected_got(name, "None or an integer >= 1", val))

    @property
    def q_max(self) -> float:
        """Upper edge of the q grid, bohr⁻¹."""
        return self.dq * self.n_q

    def as_dict(self) -> dict:
        """JSON-able settings (for provenance and checkpoint keys)."""
        d = asdict(self)
        d["kmesh"] = list(self.kmesh)
        return d

    def dft_key(self) -> dict:
        """The subset of settings that determines the DFT result."""
        keys = (
            "kmesh",
            "basis",
            "pseudo",
            "xc",
            "ke_cutoff",
            "precision",
            "conv_tol",
            "density_fit",
        )
        return {k: self.as_dict()[k] for k in keys}


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
    import warnings

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


def run_dft(material: str | Material, settings: FormFactorSettings, *, cell=None) -> BandStructure:
    """Run periodic Kohn–Sham DFT and return scissor-corrected bands.

    Raises
    ------
    EstimationError
        If the SCF does not converge.
    """
    import time

    from pyscf.pbc import dft

    from acie.errors import EstimationError

    mat = get_material(material)
    cell = build_cell(mat, settings) if cell is None else cell
    t0 = time.perf_counter()
    kpts = cell.make_kpts(list(settings.kmesh), wrap_around=True, with_gamma_point=True)
    mf = dft.KRKS(cell, kpts)
    if settings.density_fit:
        mf = mf.density_fit()
    mf.xc = settings.xc
    mf.conv_tol = settings.conv_tol
    mf.verbose = 0
    e_tot = mf.kernel()
    if not mf.converged:
        raise EstimationError(
            f"KRKS for {mat.name} did not converge (conv_tol={settings.conv_tol}); "
            "try a smaller conv_tol, a larger ke_cutoff or another basis"
        )
    energies = np.asarray(mf.mo_energy, dtype=float) * HARTREE_EV
    coeffs = np.asarray(mf.mo_coeff, dtype=complex)
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
    from acie.errors import OutOfRangeError

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
