"""Figures (300 dpi, units on axes) and the `acie dm` commands (machine output states units)."""

from __future__ import annotations

import json
import sys

import astropy.units as u
import numpy as np
import pytest
from PIL import Image
from reference_data import QCDARK_GE
from reference_data import needs_qcdark_ge as needs_ge
from typer.testing import CliRunner

from acie.cli.main import app
from acie.darkmatter import nuclear
from acie.darkmatter import plots as P
from acie.darkmatter.halo import eta
from acie.errors import InputValidationError

runner = CliRunner()


def test_figures_have_units_and_300_dpi(tmp_path):
    e = np.linspace(1, 40, 30) * u.keV
    fig = P.plot_spectrum(e, {"Xe": nuclear.dr_de(e, 50 * u.GeV, 1e-45 * u.cm**2)})
    ax = fig.axes[0]
    assert "keV" in ax.get_xlabel() and "kg" in ax.get_ylabel()
    png = P.save_figure(fig, tmp_path / "s.png")
    dpi = Image.open(png).info["dpi"]
    assert round(dpi[0]) == 300
    assert P.save_figure(fig, tmp_path / "s.pdf").read_bytes()[:4] == b"%PDF"
    v = np.linspace(0, 800, 50) * u.km / u.s
    assert "km" in P.plot_eta(v, {"SHM": eta(v)}).axes[0].get_xlabel()
    with pytest.raises(InputValidationError, match=".png or .pdf"):
        P.save_figure(fig, tmp_path / "s.jpg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.pdf", "s.png"]


def test_cli_rate_json_and_csv_state_units():
    res = runner.invoke(app, ["dm", "rate", "--mass", "50", "--n-energies", "3", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["units"]["dRdE"] == "1/(keV kg day)" and len(data["rows"]) == 3
    res = runner.invoke(app, ["dm", "rate", "--target", "NaI", "--n-energies", "2", "--csv"])
    assert res.output.splitlines()[0] == "energy_keV,dRdE_per_keV_kg_day"


def test_cli_halo_eta_and_modulation():
    res = runner.invoke(app, ["dm", "halo", "baxter2021", "--json"])
    assert json.loads(res.output)["rows"][0]["v0_km_s"] == 238.0
    res = runner.invoke(app, ["dm", "eta", "--n", "3", "--csv"])
    assert res.output.splitlines()[0] == "vmin_km_s,eta_s_km"
    res = runner.invoke(
        app, ["dm", "modulation", "--energy", "0.5", "--energy", "30", "--n-days", "12", "--json"]
    )
    fit = json.loads(res.output)["fit"]
    # phase flip: peak in early December at 0.5 keV, early June at 30 keV (60 GeV on Xe)
    assert 320 < fit[0]["t_peak_day"] < 350 and 140 < fit[1]["t_peak_day"] < 165


@needs_ge
def test_cli_electron_reach_and_plot(tmp_path):
    res = runner.invoke(
        app,
        [
            "dm",
            "reach",
            "-f",
            str(QCDARK_GE),
            "--n-masses",
            "4",
            "--json",
            "--plot",
            str(tmp_path / "reach.png"),
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["units"]["sigma"] == "cm2" and data["units"]["mass"] == "MeV"
    assert (tmp_path / "reach.png").exists()
    res = runner.invoke(
        app, ["dm", "plot", "formfactor", "-f", str(QCDARK_GE), "-o", str(tmp_path / "ff.pdf")]
    )
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize(
    "argv, message",
    [
        (["dm", "rate", "--mass", "-3"], "dark-matter mass"),
        (["dm", "rate", "--target", "Pb"], "nuclear target"),
        (["dm", "reach", "--channel", "electron"], "--formfactor"),
    ],
)
def test_cli_bad_input_exits_2_with_message(monkeypatch, capsys, argv, message):
    from acie.cli.main import main

    monkeypatch.setattr(sys, "argv", ["acie", *argv])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2 and message in capsys.readouterr().err
