"""`acie dm`: typed one-line errors, mediator masses, beyond-table reporting (#20)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from acie.cli.main import app
from acie.errors import AcieError

runner = CliRunner()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["rate", "--halo", "/nonexistent.json"], "existing .json file; got '/nonexistent.json'"),
        (["select", "--mass", "10", "--mediator", "foo"], "--mediator must be heavy, light"),
        (["select", "--mass", "10", "--table", "Si=missing.h5"], "--table 'missing.h5': no such"),
        (["select", "--mass", "10", "--table", "Si=Ge"], "records material 'Ge'"),
        (["rate", "--n-energies", "0"], "--n-energies must be >= 1; got 0"),
        (["rate", "--e-min", "50", "--e-max", "10"], "--e-max must be >= --e-min (50); got 10"),
        (["rate", "--e-min", "-5"], "--e-min must be >= 0; got -5"),
        (["modulation", "--n-days", "2"], "--n-days must be >= 3"),
    ],
)
def test_bad_input_is_a_typed_error(argv, message):
    r = runner.invoke(app, ["dm", *argv])
    # acie.cli.main.main turns an AcieError into one "error: …" line and exit status 2
    assert isinstance(r.exception, AcieError), r.output
    assert message in str(r.exception)
    assert "\n" not in str(r.exception)


def test_the_console_script_prints_one_line_and_exits_2():
    exe = Path(sys.executable).with_name("acie")
    p = subprocess.run(
        [str(exe), "dm", "rate", "--e-min", "-5"], capture_output=True, text=True, check=False
    )
    assert p.returncode == 2
    assert p.stderr.strip() == "error: --e-min must be >= 0; got -5" or p.stdout.strip() == (
        "error: --e-min must be >= 0; got -5"
    )


def test_target_is_case_insensitive():
    r = runner.invoke(app, ["dm", "rate", "--target", "xe", "--n-energies", "2", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["rows"][0]["dRdE_per_keV_kg_day"] > 0


def test_rate_takes_a_mediator_mass_and_reports_beyond_table():
    base = ["dm", "rate", "--channel", "electron", "-f", "Si", "--mass", "100", "--json"]
    heavy = json.loads(runner.invoke(app, [*base, "--mediator", "heavy"]).stdout)
    mid = json.loads(runner.invoke(app, [*base, "--mediator", "10keV"]).stdout)
    light = json.loads(runner.invoke(app, [*base, "--mediator", "light"]).stdout)
    total = {
        k: sum(r["dRdE_per_eV_kg_yr"] for r in d["rows"])
        for k, d in {"h": heavy, "m": mid, "l": light}.items()
    }
    # F_DM = (q_ref² + m²)/(q² + m²): a 10 keV mediator lies between light and heavy
    assert total["l"] < total["m"] < total["h"]
    assert mid["mediator"] == "0.01 MeV mass"
    assert 0 <= heavy["beyond_table_fraction"] < 1


def test_select_energy_threshold_and_beyond_column():
    r = runner.invoke(app, ["dm", "select", "--mass", "100", "--threshold-ev", "10", "--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)["ranking"]
    assert all(row["energy_threshold_eV"] == 10 for row in rows)
    assert all("beyond_table_fraction" in row for row in rows)
