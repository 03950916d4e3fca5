"""`acie dm rate --channel nuclear-sd|migdal`, `acie dm directional`, `acie dm daily` (#20)."""

from __future__ import annotations

import json

import astropy.units as u
import numpy as np
import pytest
from typer.testing import CliRunner

from acie.cli.main import app
from acie.darkmatter.migdal import dr_de_migdal
from acie.darkmatter.spin_dependent import dr_de_sd
from acie.errors import AcieError

runner = CliRunner()


def _json(argv):
    r = runner.invoke(app, ["dm", *argv, "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def test_rate_nuclear_sd_matches_the_library_with_units():
    out = _json(["rate", "--channel", "nuclear-sd", "--coupling", "neutron", "--n-energies", "3"])
    assert out["units"]["dRdE"] == "1/(keV kg day)"
    assert out["coupling"] == "neutron"
    e = [row["energy_keV"] for row in out["rows"]]
    assert e == [1.0, 30.5, 60.0]
    lib = dr_de_sd(np.array(e) * u.keV, 50 * u.GeV, 1e-40 * u.cm**2, coupling="neutron").value
    np.testing.assert_allclose([row["dRdE_per_keV_kg_day"] for row in out["rows"]], lib, rtol=1e-12)


def test_rate_migdal_default_range_and_text_output():
    out = _json(["rate", "--channel", "migdal", "--mass", "1", "--n-energies", "2"])
    assert [row["energy_keV"] for row in out["rows"]] == [0.1, 3.0]
    lib = dr_de_migdal(np.array([0.1, 3.0]) * u.keV, 1 * u.GeV, 1e-38 * u.cm**2).value
    np.testing.assert_allclose([row["dRdE_per_keV_kg_day"] for row in out["rows"]], lib, rtol=1e-12)
    r = runner.invoke(
        app, ["dm", "rate", "--channel", "migdal", "--mass", "1", "--n-energies", "2"]
    )
    assert "dR/dE [1/(keV kg day)]" in r.output
    assert "Ibe, Nakano, Shoji & Suzuki 2018" in r.output


def test_directional_and_daily_outputs():
    out = _json(["directional", "--energy", "60", "--n-angles", "3"])
    rates = [row["d2RdEdOmega_per_keV_kg_day_sr"] for row in out["rows"]]
    assert rates[0] > rates[1] > rates[2]  # largest along -v_E at 60 keV (v_min > v_E)
    assert out["units"]["d2RdEdOmega"] == "1/(keV kg day sr)"
    assert 250 < out["recoil_axis_l_deg"] < 275
    day = _json(["daily", "--n-steps", "4"])
    assert len(day["rows"]) == 4
    assert all(-90 <= row["axis_alt_deg"] <= 90 for row in day["rows"])
    assert day["units"]["axis_az"] == "deg"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["rate", "--channel", "nuclear-sd", "-t", "CsI"], "without them: Cs133"),
        (["rate", "--channel", "nuclear-sd", "--band", "mid"], "SD band must be one of"),
        (["rate", "--channel", "nuclear-sd", "--e-max", "900"], "<= 600 keV"),
        (["rate", "--channel", "migdal", "-t", "NaI"], "Migdal target element"),
        (
            ["rate", "--channel", "migdal", "--e-min", "3", "--e-max", "1"],
            "--e-max must be >= --e-min",
        ),
        (["directional", "--n-angles", "1"], "--n-angles must be >= 2"),
        (["directional", "--time", "yesterday"], "--time must be an ISO UTC time"),
        (["daily", "--lat", "100"], "--lat must be within [-90, 90]"),
        (["daily", "--n-steps", "1"], "--n-steps must be >= 2"),
    ],
)
def test_bad_input_is_a_typed_one_line_error(argv, message):
    r = runner.invoke(app, ["dm", *argv])
    assert isinstance(r.exception, AcieError), r.output
    assert message in str(r.exception)
    assert "\n" not in str(r.exception)
