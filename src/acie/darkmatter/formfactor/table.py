"""The crystal form-factor table |f_crystal(q, E)|² on a (q, E) grid: :class:`FormFactorTable`.

f2 is held in QCDark's normalisation (Dreyer, Essig, Fernandez-Serra, Singal & Zhen,
PRD 109, 115008 (2024), arXiv:2306.14944, eq. (13), which is QEdark's, Essig et al.
JHEP 05 (2016) 046), so one rate formula serves every source:

    dR/dE = ρχ/mχ · (1/m_cell) · σ̄e α (mₑ/μχe)² ∫ dq q⁻² η(v_min) |F_DM(q)|² f2(q, E).

Readers and the writer are in :mod:`acie.darkmatter.formfactor.io`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import astropy.units as u
import numpy as np

from acie.darkmatter.units import BOHR
from acie.errors import DataFormatError, expected_got

__all__ = ["FormFactorTable"]


def _quantity(value: Any, unit: u.UnitBase, what: str) -> u.Quantity:
    if isinstance(value, u.Quantity):
        try:
            return value.to(unit)
        except u.UnitConversionError:
            raise DataFormatError(
                expected_got(what, f"a quantity in {unit}", str(value.unit))
            ) from None
    try:
        return np.asarray(value, dtype=float) * unit
    except (TypeError, ValueError):
        raise DataFormatError(expected_got(what, f"numbers (in {unit})", value)) from None


def _check_grid(values: np.ndarray, what: str, *, strictly_positive: bool) -> None:
    if values.ndim != 1 or values.size < 2:
        raise DataFormatError(
            expected_got(
                f"{what} grid", "a 1-D array of at least 2 bin centres", f"shape {values.shape}"
            )
        )
    if not np.all(np.isfinite(values)):
        raise DataFormatError(expected_got(f"{what} grid", "finite values", "non-finite entries"))
    if np.any(np.diff(values) <= 0):
        raise DataFormatError(
            expected_got(f"{what} grid", "strictly increasing", "a non-monotonic grid")
        )
    low = values[0]
    if (strictly_positive and low <= 0) or low < 0:
        bound = "> 0" if strictly_positive else ">= 0"
        raise DataFormatError(expected_got(f"{what} grid", f"values {bound}", f"first value {low}"))


@dataclass(frozen=True, kw_only=True)
class FormFactorTable:
    """A crystal form factor |f_crystal(q, E)|² on a (q, E) grid of bin centres.

    Plain numbers are read in the stored units below; Quantities are converted.

    Parameters
    ----------
    material : str
        Material name (e.g. ``"Ge"``).
    q : Quantity ['wavenumber'-like momentum], shape (n_q,)
        Momentum-transfer bin centres, stored in keV (c = 1); strictly increasing, > 0.
    energy : Quantity ['energy'], shape (n_E,)
        Deposited-energy bin centres, stored in eV; strictly increasing, >= 0.
    f2 : ndarray, shape (n_q, n_E)
        Dimensionless |f_crystal(q, E)|² in QCDark's normalisation; finite, >= 0.
    band_gap : Quantity ['energy']
        Band gap, eV.
    cell_volume : Quantity ['volume']
        Unit-cell volume, bohr³.
    cell_mass : Quantity ['energy']
        Unit-cell mass, eV/c².
    scissor_applied : bool
        Whether the conduction bands were scissor-shifted to ``band_gap``.
    metadata : dict
        ``settings``, ``software``, ``timings`` and any other provenance (JSON-able).

    Raises
    ------
    DataFormatError
        On a wrong shape, non-monotonic grid, non-finite or negative f2, or bad units.
    """

    material: str
    q: u.Quantity
    energy: u.Quantity
    f2: np.ndarray
    band_gap: u.Quantity
    cell_volume: u.Quantity
    cell_mass: u.Quantity
    scissor_applied: bool = False
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.material, str) or not self.material:
            raise DataFormatError(expected_got("material", "a non-empty string", self.material))
        q = _quantity(self.q, u.keV, "q")
        energy = _quantity(self.energy, u.eV, "energy")
        _check_grid(q.value, "q", strictly_positive=True)
        _check_grid(energy.value, "energy", strictly_positive=False)
        f2 = np.array(self.f2, dtype=float, copy=True)
        expected = (q.size, energy.size)
        if f2.shape != expected:
            raise DataFormatError(
                expected_got("f2", f"shape (n_q, n_E) = {expected}", f"shape {f2.shape}")
            )
        if not np.all(np.isfinite(f2)):
            raise DataFormatError(
                expected_got(
                    "f2", "finite values", f"{int(np.sum(~np.isfinite(f2)))} non-finite entries"
                )
            )
        if np.any(f2 < 0):
            raise DataFormatError(expected_got("f2", "values >= 0", f"minimum {f2.min()}"))
        f2.setflags(write=False)
        scalars = {}
        for name, unit in (("band_gap", u.eV), ("cell_volume", BOHR**3), ("cell_mass", u.eV)):
            val = _quantity(getattr(self, name), unit, name)
            if (
                val.ndim != 0
                or not np.isfinite(val.value)
                or val.value < 0
                or (name != "band_gap" and val.value == 0)
            ):
                raise DataFormatError(expected_got(name, f"a finite scalar > 0 in {unit}", val))
            scalars[name] = val
        if not isinstance(self.metadata, dict):
            raise DataFormatError(expected_got("metadata", "a dict", type(self.metadata).__name__))
        object.__setattr__(self, "q", q)
        object.__setattr__(self, "energy", energy)
        object.__setattr__(self, "f2", f2)
        for name, val in scalars.items():
            object.__setattr__(self, name, val)
        object.__setattr__(self, "scissor_applied", bool(self.scissor_applied))

    # float views for hot loops
    @property
    def q_keV(self) -> np.ndarray:
        """Q bin centres as floats, keV."""
        return self.q.to_value(u.keV)

    @property
    def q_eV(self) -> np.ndarray:
        """Q bin centres as floats, eV."""
        return self.q.to_value(u.eV)

    @property
    def energy_eV(self) -> np.ndarray:
        """Energy bin centres as floats, eV."""
        return self.energy.to_value(u.eV)

    @property
    def band_gap_eV(self) -> float:
        """Band gap, eV."""
        return float(self.band_gap.to_value(u.eV))

    @property
    def cell_volume_bohr3(self) -> float:
        """Cell volume, bohr³."""
        return float(self.cell_volume.to_value(BOHR**3))

    @property
    def cell_mass_eV(self) -> float:
        """Cell mass, eV/c²."""
        return float(self.cell_mass.to_value(u.eV))

    @property
    def shape(self) -> tuple[int, int]:
        """(n_q, n_E)."""
        n_q, n_e = self.f2.shape
        return n_q, n_e
