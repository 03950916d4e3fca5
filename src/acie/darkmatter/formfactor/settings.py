"""Settings of a form-factor calculation: :class:`FormFactorSettings`.

Everything that determines a table (k-mesh, basis, pseudopotential, functional, band
window, binning, DFT precision, block size), validated on construction. Momenta are in
bohr⁻¹ (= α mₑ, atomic units), energies in eV.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from acie.errors import InputValidationError, NonPhysicalValueError, expected_got

__all__ = ["FormFactorSettings", "functional_label"]


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
    hybrid_fraction : float
        Exact-exchange fraction of a one-shot hybrid correction of the ``xc`` bands
        (0 = none; 0.25 with ``xc="pbe"`` = PBE0@PBE); see
        :mod:`acie.darkmatter.formfactor.hybrid`.
    exchange_kmesh : tuple of int or None
        Reduced Γ-centred grid of exchange partners of that correction (dividing
        ``kmesh``); ``None`` = the whole k-mesh.
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
    hybrid_fraction: float = 0.0
    exchange_kmesh: tuple[int, int, int] | None = None
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
        hf = self.hybrid_fraction
        if not (isinstance(hf, int | float) and 0.0 <= hf <= 1.0):
            raise InputValidationError(expected_got("hybrid_fraction", "a number in [0, 1]", hf))
        if self.exchange_kmesh is not None:
            xm = tuple(int(k) for k in self.exchange_kmesh)
            if len(xm) != 3 or min(xm) < 1 or any(k % x for k, x in zip(km, xm, strict=True)):
                raise InputValidationError(
                    expected_got(
                        "exchange_kmesh",
                        f"three integers >= 1 dividing kmesh {km}",
                        self.exchange_kmesh,
                    )
                )
            object.__setattr__(self, "exchange_kmesh", xm)
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

    @property
    def exchange_partners(self) -> int:
        """Exchange partners per k-point of the one-shot hybrid (0 without one)."""
        if not self.hybrid_fraction:
            return 0
        return math.prod(self.exchange_kmesh or self.kmesh)

    def as_dict(self) -> dict:
        """JSON-able settings (for provenance and checkpoint keys)."""
        d = asdict(self)
        d["kmesh"] = list(self.kmesh)
        if self.exchange_kmesh is not None:
            d["exchange_kmesh"] = list(self.exchange_kmesh)
        if not self.hybrid_fraction:  # keys of tables and checkpoints made before the option
            d.pop("hybrid_fraction")
            d.pop("exchange_kmesh")
        return d

    def dft_key(self) -> dict:
        """The subset of settings that determines the DFT result."""
        keys: tuple[str, ...] = (
            "kmesh",
            "basis",
            "pseudo",
            "xc",
            "ke_cutoff",
            "precision",
            "conv_tol",
            "density_fit",
        )
        d = self.as_dict()
        keys += ("hybrid_fraction", "exchange_kmesh") if self.hybrid_fraction else ()
        return {k: d[k] for k in keys}


def functional_label(settings: Mapping[str, Any]) -> str:
    """The functional of a table's settings as one name.

    ``"pbe"``; with a one-shot hybrid ``"pbe0@pbe"`` (0.25 exact exchange on PBE) or e.g.
    ``"0.5hf+lda,vwn@lda,vwn"``.
    """
    xc = str(settings.get("xc", "unknown"))
    a = float(settings.get("hybrid_fraction") or 0.0)
    if not a:
        return xc
    return f"pbe0@{xc}" if (xc.lower() == "pbe" and a == 0.25) else f"{a:g}hf+{xc}@{xc}"
