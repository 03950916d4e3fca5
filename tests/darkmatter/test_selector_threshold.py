"""Selector: energy thresholds split the bin at the threshold; tables must match their name (#20)."""

from __future__ import annotations

import warnings

import astropy.units as u
import numpy as np
import pytest

from acie.darkmatter.electron import dr_de
from acie.darkmatter.formfactor.shipped import shipped_table
from acie.darkmatter.selector import select_material
from acie.errors import InputValidationError

MASS = 100 * u.MeV


def _events_above(table, e_thr: float) -> float:
    """Events per kg·yr at σ̄e = 1e-37 cm² from deposits with E >= e_thr (bins split)."""
    e = table.energy_eV
    w = np.diff(e)[0]
    spec = dr_de(table, MASS, 1e-37 * u.cm**2).to_value(1 / (u.kg * u.yr * u.eV))
    inside = np.clip((e + w / 2 - e_thr) / w, 0.0, 1.0)
    return float(np.sum(spec * w * inside))


def test_nai_energy_threshold_counts_only_above_it():
    nai = shipped_table("NaI")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = select_material(MASS, 1 * u.kg * u.yr, 10.03 * u.eV, materials=["NaI"])
    row = r.rows[0]
    expected = _events_above(nai, 10.03)
    assert row["events_per_1e-37cm2"] == pytest.approx(expected, rel=1e-6)
    # the old behaviour (whole n_e = 1 bin, from the 5.9 eV gap) counted far more
    assert row["events_per_1e-37cm2"] < 0.9 * _events_above(nai, 5.9)
    assert row["energy_threshold_eV"] == pytest.approx(10.03)


def test_table_under_another_material_name_is_refused():
    ge = shipped_table("Ge")
    with pytest.raises(InputValidationError, match=r"'Si'.*records material 'Ge'"):
        select_material(MASS, 1 * u.kg * u.yr, tables={"Si": ge})
    r = select_material(MASS, 1 * u.kg * u.yr, tables={"Si": ge}, allow_material_mismatch=True)
    assert r.rows[0]["material"] == "Si"


def test_rows_carry_beyond_table_fraction():
    r = select_material(MASS, 1 * u.kg * u.yr, materials=["Si", "Ge"])
    for row in r.rows:
        assert 0.0 <= row["beyond_table_fraction"] < 1.0
