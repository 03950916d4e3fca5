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
    assert "keV" in ax.get_xlabel()
    assert "kg" in ax.get_ylabel()
    png = P.save_figure(fig, tmp_path / "s.png")
    dpi = Image.open(png).info["dpi"]
    assert round(dpi[0]) == 300
    assert P.save_figure(fig, tmp_path / "s.pdf").read_bytes()[:4] == b"%PDF"
    v = np.linspace(0, 800, 50) * u.km / u.s
    assert "km" in P.plot_eta(v, {"SHM": eta(v)}).axes[0].get_xlabel()
    with pytest.raises(InputValidationError, match=r"\.png or \.pdf"):
        P.save_figure(fig, tmp_path / "s.jpg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.pdf", "s.png"]


def test_cli_rate_json_and_csv_state_units():
    res = runner.invoke(app, ["dm", "rate", "--mass", "50", "--n-energies", "3", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["units"]["dRdE"] == "1/(keV kg day)"
    assert len(data["rows"]) == 3
    res = runner.invoke(app, ["dm", "rate", "--target", "NaI", "--n-energies", "2", "--csv"])
    assert res.output.splitlines()[0] == "energy_keV,dRdE_per_keV_kg_day"


def test_cli_halo_eta_and_modulation():
    res = runner.invoke(app, ["dm", "halo", "baxter2021", "--json"])
    assert json.loads(res.stdout)["rows"][0]["v0_km_s"] == 238.0
    res = runner.invoke(app, ["dm", "eta", "--n", "3", "--csv"])
    assert res.output.splitlines()[0] == "vmin_km_s,eta_s_km"
    res = runner.invoke(
        app, ["dm", "modulation", "--energy", "0.5", "--energy", "30", "--n-days", "12", "--json"]
    )
    fit = json.loads(res.stdout)["fit"]
    # phase flip: peak in early December at 0.5 keV, early June at 30 keV (60 GeV on Xe)
    assert 320 < fit[0]["t_peak_day"] < 350
    assert 140 < fit[1]["t_peak_day"] < 165


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
    data = json.loads(res.stdout)
    assert data["units"]["sigma"] == "cm2"
    assert data["units"]["mass"] == "MeV"
    assert (tmp_path / "reach.png").exists()
    res = runner.invoke(
        app, ["dm", "plot", "formfactor", "-f", str(QCDARK_GE), "-o", str(tmp_path / "ff.pdf")]
    )
    assert res.exit_code == 0, res.output


def _setting(output: str, label: str) -> str:
    """The value of one line of the settings block printed above a plain-text table."""
    for line in output.splitlines():
        if line.startswith(f"  {label} "):
            return line[len(label) + 2 :].strip()
    raise AssertionError(f"no setting {label!r} in:\n{output}")


def test_cli_plain_text_states_units_and_the_settings_in_force():
    res = runner.invoke(app, ["dm", "rate", "--n-energies", "2", "--mass", "30"])
    assert res.exit_code == 0, res.output
    assert "energy [keV]" in res.output
    assert "dR/dE [1/(keV kg day)]" in res.output
    assert _setting(res.output, "mass") == "30 GeV"  # given: not marked
    assert _setting(res.output, "target") == "Xe (default)"
    assert _setting(res.output, "σ_n (per nucleon)") == "1e-45 cm² (default)"
    halo = _setting(res.output, "halo")
    assert halo.startswith("baxter2021")
    assert "v0 = 238 km/s" in halo
    assert halo.endswith("(default)")
    # electron channel from a shipped table: rates per n_e name their n_e, with units
    res = runner.invoke(
        app, ["dm", "rate", "--channel", "electron", "-f", "Ge", "--per-ne", "--n-max", "4"]
    )
    assert res.exit_code == 0, res.output
    assert "n_e [electron-hole pairs]" in res.output
    assert "rate [1/(kg yr)]" in res.output
    assert _setting(res.output, "form factor").startswith("Ge (shipped table, 4×4×4 k-mesh")
    assert _setting(res.output, "n_e bins") == "0…4"
    assert _setting(res.output, "ionization").startswith("step: gap 0.67 eV, ε = 2.96 eV")
    table_rows = [line for line in res.output.splitlines() if line.startswith("│")]
    assert [row.split("│")[1].strip() for row in table_rows] == ["0", "1", "2", "3", "4"]
    # reach: exposure, threshold, background, limit and halo in force
    res = runner.invoke(app, ["dm", "reach", "-f", "Si", "--n-masses", "2", "--threshold", "2"])
    assert res.exit_code == 0, res.output
    assert _setting(res.output, "exposure") == "1 kg yr (default)"
    assert _setting(res.output, "threshold") == "n_e ≥ 2"
    assert _setting(res.output, "background") == "0 events (default)"
    assert _setting(res.output, "limit").startswith("poisson, 0.9 CL: ≤ 2.303 signal events")
    assert "mass [MeV]" in res.output
    assert "σ limit [cm²]" in res.output
    res = runner.invoke(app, ["dm", "modulation", "--energy", "30", "--n-days", "6"])
    assert "S0 [1/(keV kg day)]" in res.output
    assert "t_peak [day of year]" in res.output


@pytest.mark.parametrize(
    "argv",
    [
        ["dm", "rate", "--n-energies", "2"],
        ["dm", "rate", "--channel", "electron", "-f", "Si"],
        ["dm", "rate", "--channel", "electron", "-f", "Si", "--per-ne"],
        ["dm", "eta", "--n", "2"],
        ["dm", "reach", "-f", "Si", "--n-masses", "2", "--halo-mc", "3"],
        ["dm", "reach", "--channel", "nuclear", "--n-masses", "2"],
        ["dm", "modulation", "--n-days", "3"],
        ["dm", "modulation", "--channel", "electron", "-f", "Si", "--n-days", "3"],
    ],
)
def test_every_plain_text_column_has_a_header_with_its_unit(argv):
    from acie.cli.dm_output import COLUMNS

    res = runner.invoke(app, [*argv, "--csv"])
    assert res.exit_code == 0, res.output
    for column in res.stdout.splitlines()[0].split(","):
        assert column in COLUMNS, column
        assert "[" in COLUMNS[column], column


def test_formfactor_option_takes_a_shipped_material_or_names_a_missing_file(tmp_path):
    res = runner.invoke(app, ["dm", "rate", "--channel", "electron", "-f", "GaAs", "--json"])
    assert json.loads(res.stdout)["material"] == "GaAs"
    res = runner.invoke(app, ["dm", "rate", "--channel", "electron", "-f", "Xe"])
    assert res.exit_code != 0
    assert "known materials are: Si, Ge" in str(res.exception)
    res = runner.invoke(app, ["dm", "reach", "-f", str(tmp_path / "none.h5")])
    assert res.exit_code != 0
    assert "no such file" in str(res.exception)


@pytest.mark.parametrize(
    ("argv", "message"),
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
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
