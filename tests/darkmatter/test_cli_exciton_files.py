"""Exciton files in `acie dm rate|reach|select`, their f2_uncertainty propagated (#20).

The file is the DFT example (f2 = the shipped Si table) plus an f2_uncertainty of 10 % of
f2; the rate is linear in f2, so the rate's 1σ is exactly 10 % of the rate and the σ̄e
limits move to σ/1.1 and σ/0.9.
"""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

from acie.cli.main import app
from acie.darkmatter.excitons import write_example_excitons
from acie.darkmatter.formfactor.shipped import shipped_table

runner = CliRunner()


@pytest.fixture(scope="module")
def exciton_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("exc") / "si_excitons.h5"
    t = shipped_table("Si")
    write_example_excitons(t, path)
    with h5py.File(path, "r+") as fh:
        ds = fh.create_dataset("f2_uncertainty", data=0.1 * t.f2)
        ds.attrs["units"] = "dimensionless"
    return str(path)


def _json(argv):
    r = runner.invoke(app, argv)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_rate_per_ne_carries_the_propagated_uncertainty(exciton_file):
    d = _json(
        [
            "dm",
            "rate",
            "--channel",
            "electron",
            "-f",
            exciton_file,
            "--mass",
            "50",
            "--per-ne",
            "--n-max",
            "4",
            "--json",
        ]
    )
    rows = [r for r in d["rows"] if r["rate_per_kg_yr"] > 0]
    assert rows
    for r in rows:
        assert r["rate_unc_per_kg_yr"] == pytest.approx(0.1 * r["rate_per_kg_yr"], rel=1e-9)


def test_reach_and_select_give_f2_ranges(exciton_file):
    d = _json(["dm", "reach", "-f", exciton_file, "--n-masses", "3", "--json"])
    for r in d["rows"]:
        s = r["sigma_limit_cm2"]
        assert r["sigma_f2_lo_cm2"] == pytest.approx(s / 1.1, rel=1e-9)
        assert r["sigma_f2_hi_cm2"] == pytest.approx(s / 0.9, rel=1e-9)
    sel = _json(["dm", "select", "--mass", "50", "--table", f"Si={exciton_file}", "--json"])
    row = sel["ranking"][0]
    assert row["material"] == "Si"
    assert row["sigma_f2_lo_cm2"] == pytest.approx(row["sigma_limit_cm2"] / 1.1, rel=1e-9)
    assert np.isfinite(row["sigma_f2_hi_cm2"])
