"""Unit stripping at the public boundary: scalars, arrays, positivity and typed errors."""

from __future__ import annotations

import astropy.constants as const
import astropy.units as u
import numpy as np
import pytest

from acie.darkmatter import nuclear
from acie.darkmatter.halo import shm_speed_distribution
from acie.darkmatter.units import as_float, as_positive, as_positive_float, as_value
from acie.errors import NonPhysicalValueError, ShapeError, UnitsError


def test_as_value_keeps_the_shape_and_converts():
    assert as_value(2 * u.keV, u.eV, "e") == pytest.approx(2000.0)
    assert isinstance(as_value(2 * u.keV, u.eV, "e"), float)
    arr = as_value([1.0, 2.0] * u.km / u.s, u.m / u.s, "v")
    assert isinstance(arr, np.ndarray)
    np.testing.assert_allclose(arr, [1000.0, 2000.0])
    # masses and energies convert through E = m c²
    assert as_value(1 * u.GeV / const.c**2, u.eV, "m") == pytest.approx(1e9)


def test_as_value_refuses_wrong_or_missing_units():
    with pytest.raises(UnitsError, match="convertible to eV"):
        as_value(1 * u.s, u.eV, "energy")
    with pytest.raises(UnitsError, match="an astropy Quantity in units of eV"):
        as_value(1.0, u.eV, "energy")
    assert as_value(3, u.eV, "energy", allow_plain=True) == 3.0
    assert as_value(0.5, u.one, "fraction") == 0.5


def test_as_float_is_a_float_or_a_shape_error():
    val = as_float(1.5 * u.keV, "keV", "e_min")
    assert isinstance(val, float)
    assert val == 1.5
    # a one-element array is still an array: the caller asked for a scalar
    with pytest.raises(ShapeError, match=r"e_min must be a scalar; got 'an array of shape \(1,\)'"):
        as_float([1.5] * u.keV, u.keV, "e_min")


def test_positivity_is_checked_elementwise_and_for_scalars():
    np.testing.assert_allclose(as_positive([1.0, 2.0] * u.eV, u.eV, "gap"), [1.0, 2.0])
    for bad in ([1.0, 0.0], [1.0, np.nan], [1.0, -2.0], []):
        with pytest.raises(NonPhysicalValueError, match=r"gap must be finite and > 0 \(in eV\)"):
            as_positive(bad * u.eV, u.eV, "gap")
    assert as_positive_float(2 * u.eV, u.eV, "gap") == 2.0
    with pytest.raises(NonPhysicalValueError, match="gap"):
        as_positive_float(-2 * u.eV, u.eV, "gap")
    with pytest.raises(ShapeError, match="gap must be a scalar"):
        as_positive_float([2.0, 3.0] * u.eV, u.eV, "gap")


def test_public_functions_taking_one_number_refuse_arrays_with_a_typed_error():
    with pytest.raises(ShapeError, match="e_min must be a scalar"):
        nuclear.integrated_rate([1.0, 2.0] * u.keV, 10 * u.keV, 100 * u.GeV, 1e-45 * u.cm**2)
    with pytest.raises(ShapeError, match="v_earth must be a scalar"):
        shm_speed_distribution(300 * u.km / u.s, v_earth=[230.0, 240.0] * u.km / u.s)
