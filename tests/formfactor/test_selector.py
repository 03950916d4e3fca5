"""Tests of the material selector: ranking equals the computed reach."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest

from acie.darkmatter.formfactor import shipped_table
from acie.darkmatter.reach import electron_reach
from acie.darkmatter.selector import select_material
from acie.errors import InputValidationError, UnitsError


@pytest.fixture(scope="module")
def tables(qcdark_ge):
    # the shipped Si table (no DFT run here) beside QCDark's Ge
    return {"Si": shipped_table("Si"), "Ge": qcdark_ge}


def test_ranking_is_ordered_by_the_reach_it_reports(tables):
    r = select_material(50 * u.MeV, 1 * u.kg * u.yr, 1, 0.0, tables=tables)
    sig = [row["sigma_limit_cm2"] for row in r.rows]
    assert sig == sorted(sig)
    assert len(sig) == 2
    # each number is exactly electron_reach at that mass (the selector computes, not guesses)
    for row in r.rows:
        ref = electron_reach(
            tables[row["material"]],
            [50] * u.MeV,
            1 * u.kg * u.yr,
            ne_threshold=row["ne_threshold"],
            warn_beyond=None,
        )
        assert row["sigma_limit_cm2"] == pytest.approx(
            ref.cross_section.to_value(u.cm**2)[0], rel=1e-12
        )
        # zero background, zero observed: s_up = -ln(0.1) = 2.303 events (Poisson 90 % CL)
        assert row["events_per_1e-37cm2"] * row["sigma_limit_cm2"] / 1e-37 == pytest.approx(
            2.302585, rel=1e-5
        )
    assert r.best == r.rows[0]["material"]


def test_energy_threshold_maps_to_each_materials_ne(tables):
    # 10 eV: Ge 1 + floor((10 - 0.67)/2.96) = 4; Si 1 + floor((10 - 1.12)/3.749) = 3
    r = select_material(1 * u.GeV, 10 * u.kg * u.yr, 10 * u.eV, tables=tables)
    got = {row["material"]: row["ne_threshold"] for row in r.rows}
    assert got == {"Ge": 4, "Si": 3}


def test_background_weakens_every_reach_and_exposure_scales_it(tables):
    base = select_material(100 * u.MeV, 1 * u.kg * u.yr, 2, tables=tables)
    bkg = select_material(100 * u.MeV, 1 * u.kg * u.yr, 2, 5.0, tables=tables)
    more = select_material(100 * u.MeV, 10 * u.kg * u.yr, 2, tables=tables)
    for a, b in zip(base.rows, bkg.rows, strict=True):
        assert b["sigma_limit_cm2"] > a["sigma_limit_cm2"]
    by = {row["material"]: row["sigma_limit_cm2"] for row in more.rows}
    for row in base.rows:  # background-free: σ limit ∝ 1/exposure
        assert by[row["material"]] == pytest.approx(row["sigma_limit_cm2"] / 10, rel=1e-12)


def test_bad_inputs(tables):
    with pytest.raises(UnitsError):
        select_material(100, 1 * u.kg * u.yr, tables=tables)
    with pytest.raises(InputValidationError, match="threshold"):
        select_material(100 * u.MeV, 1 * u.kg * u.yr, 0, tables=tables)
    with pytest.raises(InputValidationError, match="scalar"):
        select_material(np.array([1, 2]) * u.MeV, 1 * u.kg * u.yr, tables=tables)
