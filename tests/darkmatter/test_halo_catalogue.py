"""The Gaia-era halo catalogue: every value matches its cited source (#20)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from acie.darkmatter.halo_catalogue import (
    Normal,
    SplitNormal,
    Uniform,
    catalogue_names,
    get_catalogue_entry,
    load_catalogue,
)
from acie.errors import DataFormatError, UnknownNameError

# The sources, restated from the papers (value, uncertainty as published):
SOURCES = {
    # Baxter et al., EPJC 81, 907 (2021), Table 1: v0 = 238, vesc = 544 km/s, rho = 0.3 GeV/cm3
    "baxter2021": {"v0": (238.0, None), "vesc": (544.0, None), "rho": (0.3, None)},
    # Evans, O'Hare, McCabe, PRD 99, 023012 (2019), Table 1
    "shmpp2019": {
        "v0": (233.0, 3.0),
        "vesc": (528.0, 25.0),
        "rho": (0.55, 0.17),
        "sausage_fraction": (0.2, 0.1),
        "beta": (0.9, None),
    },
    # Deason et al., MNRAS 485, 3514 (2019): vesc = 528 +24 -25 km/s
    "deason2019-vesc": {"vesc": (528.0, (25.0, 24.0))},
    # Monari et al., A&A 616, L9 (2018): vesc = 580 +- 63 km/s
    "monari2018-vesc": {"vesc": (580.0, 63.0)},
    # Eilers et al., ApJ 871, 120 (2019): v_c = 229.0 +- 0.2 km/s (sys 2-5 %), rho = 0.30 +- 0.03
    "eilers2019": {"v0": (229.0, 0.2), "rho": (0.30, 0.03)},
    # de Salas & Widmark, Rep. Prog. Phys. 84, 104901 (2021): 0.4-0.6 (local), 0.3-0.5 (global)
    "desalas2021-local": {"rho": (0.5, (0.4, 0.6))},
    "desalas2021-global": {"rho": (0.4, (0.3, 0.5))},
}


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_values_match_the_cited_source(name):
    e = get_catalogue_entry(name)
    for key, (value, unc) in SOURCES[name].items():
        assert e.values[key] == pytest.approx(value, rel=1e-12)
        d = e.distributions.get(key)
        if unc is None:
            assert d is None
        elif isinstance(d, SplitNormal):
            assert (d.minus, d.plus) == unc
        elif isinstance(d, Uniform):
            assert (d.low, d.high) == unc
        elif name == "eilers2019" and key == "v0":  # formal 0.2 plus 5 % systematic
            assert d.sigma == pytest.approx(np.hypot(0.2, 0.05 * 229.0))
        else:
            assert isinstance(d, Normal)
            assert d.sigma == unc
    assert e.citation


def test_central_halo_is_consistent_and_inherits_the_base():
    e = get_catalogue_entry("eilers2019")
    h = e.halo()
    assert h.v0.value == 229.0
    assert h.vesc.value == 544.0
    assert "vesc" in e.inherited
    # the Earth speed follows v0: 9 km/s slower Sun, about 9 km/s slower Earth
    assert 250.2 - h.v_earth.value == pytest.approx(9.0, abs=0.3)


def test_draws_are_seeded_and_follow_the_distributions():
    e = get_catalogue_entry("deason2019-vesc")
    a, b = e.draws(20000, seed=3), e.draws(20000, seed=3)
    assert np.array_equal(a["vesc"], b["vesc"])
    assert np.median(a["vesc"]) == pytest.approx(528.0, abs=1.0)
    # split normal: the lower half (weight 25/49) lies beyond one width with P(|z| > 1) = 0.3173
    assert np.mean(a["vesc"] < 528 - 25) == pytest.approx(0.3173 * 25 / 49, abs=0.01)
    assert np.mean(a["vesc"] > 528 + 24) == pytest.approx(0.3173 * 24 / 49, abs=0.01)
    assert np.all(a["v0"] == 238.0)


def test_catalogue_lists_every_set_and_bad_files_are_typed(tmp_path):
    assert set(SOURCES) <= set(catalogue_names())
    with pytest.raises(UnknownNameError, match="halo catalogue set"):
        get_catalogue_entry("nope")
    bad = tmp_path / "c.json"
    bad.write_text(json.dumps({"sets": [{"name": "x"}]}))
    with pytest.raises(DataFormatError, match="name, base, model and parameters"):
        load_catalogue(bad)
    bad.write_text(
        json.dumps(
            {
                "sets": [
                    {
                        "name": "x",
                        "base": "baxter2021",
                        "model": "shm",
                        "parameters": {
                            "v0": {"value": 1, "unit": "km/s", "uncertainty": {"kind": "cauchy"}}
                        },
                    }
                ]
            }
        )
    )
    with pytest.raises(DataFormatError, match="uncertainty kind"):
        load_catalogue(bad)
