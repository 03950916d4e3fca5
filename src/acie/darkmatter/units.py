"""Physical constants and unit conversions used inside the dark-matter hot loops.

Public functions take and return astropy Quantities; inside, everything is a float in
one fixed system: energies and masses in eV, momenta in eV (c = 1), velocities in units
of c (or km/s where named ``_kms``), densities in GeV/cm³. The constants below are
derived from :mod:`astropy.constants` (CODATA 2018), not typed in by hand.
"""

from __future__ import annotations

from typing import TypeAlias

import astropy.constants as const
import astropy.units as u
import numpy as np
import numpy.typing as npt

from acie.errors import NonPhysicalValueError, ShapeError, UnitsError, expected_got

__all__ = [
    "ALPHA",
    "AMU_EV",
    "BOHR",
    "C_CM_S",
    "C_KMS",
    "HBARC_EV_CM",
    "KG_EV",
    "ME_EV",
    "SECONDS_PER_YEAR",
    "FloatArray",
    "UnitLike",
    "as_float",
    "as_positive",
    "as_positive_float",
    "as_value",
]

C_KMS: float = const.c.to_value(u.km / u.s)
C_CM_S: float = const.c.to_value(u.cm / u.s)
ME_EV: float = (const.m_e * const.c**2).to_value(u.eV)
AMU_EV: float = (const.u * const.c**2).to_value(u.eV)
KG_EV: float = (1.0 * u.kg * const.c**2).to_value(u.eV)
ALPHA: float = float(const.alpha.value)
HBARC_EV_CM: float = (const.hbar * const.c).to_value(u.eV * u.cm)
#: Julian year, the year used for "per kg per year" exposures.
SECONDS_PER_YEAR: float = (1.0 * u.yr).to_value(u.s)
#: The Bohr radius as an astropy unit (cell volumes are stored in bohr³).
BOHR = u.def_unit("bohr", const.a0.to(u.m))

#: What a unit argument may be: an astropy unit or a string astropy parses ("km/s").
UnitLike: TypeAlias = u.UnitBase | str


#: A float array, the form array-valued inputs take inside (units stripped).
FloatArray: TypeAlias = npt.NDArray[np.float64]


def as_value(
    x: object, unit: UnitLike, what: str, *, allow_plain: bool = False
) -> FloatArray | float:
    """Strip the unit of ``x`` after converting it to ``unit``.

    Parameters
    ----------
    x : Quantity or array-like
        The value. Plain numbers are accepted only when ``allow_plain`` (then read in
        ``unit``).
    unit : astropy unit or str
        The unit to express ``x`` in.
    what : str
        Name used in the error message.
    allow_plain : bool
        Whether a number without a unit is accepted (read in ``unit``).

    Returns
    -------
    float or ndarray of float
        A float for a scalar ``x``, else an array of ``x``'s shape. Use :func:`as_float`
        where only a scalar makes sense.

    Raises
    ------
    UnitsError
        If ``x`` has incompatible units, or has none and ``allow_plain`` is false.
    """
    unit = u.Unit(unit)
    if isinstance(x, u.Quantity):
        try:
            val = x.to_value(unit, equivalencies=u.mass_energy())
        except u.UnitConversionError:
            raise UnitsError(
                expected_got(what, f"a quantity convertible to {unit}", str(x.unit))
            ) from None
    elif allow_plain or unit == u.dimensionless_unscaled:
        val = np.asarray(x, dtype=float)
    else:
        raise UnitsError(expected_got(what, f"an astropy Quantity in units of {unit}", x))
    return float(val) if np.ndim(val) == 0 else np.asarray(val, dtype=float)


def as_float(x: object, unit: UnitLike, what: str, *, allow_plain: bool = False) -> float:
    """Like :func:`as_value` for a quantity that must be a scalar.

    Raises
    ------
    UnitsError
        As :func:`as_value`.
    ShapeError
        If ``x`` is an array (of any size, even 1).
    """
    val = as_value(x, unit, what, allow_plain=allow_plain)
    if not isinstance(val, float):
        raise ShapeError(expected_got(what, "a scalar", f"an array of shape {val.shape}"))
    return val


def _check_positive(val: FloatArray | float, unit: UnitLike, what: str) -> None:
    arr = np.asarray(val)
    if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise NonPhysicalValueError(expected_got(what, f"finite and > 0 (in {u.Unit(unit)})", val))


def as_positive(
    x: object, unit: UnitLike, what: str, *, allow_plain: bool = False
) -> FloatArray | float:
    """Like :func:`as_value`, but every element must be finite and > 0.

    Raises
    ------
    UnitsError
        As :func:`as_value`.
    NonPhysicalValueError
        If any element is zero, negative or not finite, or ``x`` is empty.
    """
    val = as_value(x, unit, what, allow_plain=allow_plain)
    _check_positive(val, unit, what)
    return val


def as_positive_float(x: object, unit: UnitLike, what: str, *, allow_plain: bool = False) -> float:
    """Like :func:`as_float`, but the value must be finite and > 0.

    Raises
    ------
    UnitsError
        As :func:`as_value`.
    ShapeError
        If ``x`` is an array.
    NonPhysicalValueError
        If the value is zero, negative or not finite.
    """
    val = as_float(x, unit, what, allow_plain=allow_plain)
    _check_positive(val, unit, what)
    return val
