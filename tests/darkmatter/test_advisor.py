"""`acie dm advise` and its API: confidence, excitons, DFT settings, CLI (#20)."""

from __future__ import annotations

import json
from dataclasses import replace

import astropy.units as u
import numpy as np
import pytest
from typer.testing import CliRunner

from acie.cli.main import app
from acie.darkmatter.advisor import advise, confidence_best, exciton_assessment
from acie.darkmatter.excitons import ExcitonData
from acie.darkmatter.formfactor.shipped import shipped_table
from acie.errors import AcieError, NonPhysicalValueError

runner = CliRunner()


def test_confidence_is_a_probability_per_draw():
    s = {"a": np.array([0.0, 1.0, 0.0, 0.0]), "b": np.array([1.0, 0.0, 1.0, np.nan])}
    c = confidence_best(s)
    assert c == {"a": 0.75, "b": 0.25}
    assert sum(c.values()) == pytest.approx(1.0)


def test_picks_the_obvious_winner_with_confidence_one():
    si, ge = shipped_table("Si"), shipped_table("Ge")
    # Ge with its f2 divided by 1000: every draw (f2 spreads are far below 1000x) prefers Si
    a = advise(
        5 * u.MeV,
        100 * u.MeV,
        1 * u.kg * u.yr,
        tables={"Si": si, "Ge": replace(ge, f2=ge.f2 * 1e-3)},
        n_masses=4,
        n_draws=200,
    )
    assert a.best == "Si"
    assert a.confidence == {"Si": 1.0, "Ge": 0.0}
    text = "\n".join(a.lines())
    assert "confidence 1.000" in text
    assert "200 budget draws" in text
    assert "exciton binding energy of Si not available" in text
    assert "no convergence study shipped for Si" in text
    # Ge ships a k-mesh series: the DFT advice names the deviations it rests on
    assert "3x3x3/gth-dzvp-molopt-sr/pbe" in a.dft["Ge"]["text"]
    assert a.dft["Ge"]["available"]


def _exciton(table, e_b, baseline_factor):
    gap = table.band_gap_eV
    return ExcitonData(
        table=table,
        baseline=replace(table, f2=table.f2 / baseline_factor) if baseline_factor else None,
        uncertainty=None,
        kpoints=np.zeros((1, 3)),
        qpoints=np.zeros((1, 3)),
        excitation_energies=np.array([gap - e_b, gap + 1.0]) * u.eV,
        method="test",
        code="test",
        reference="test",
        is_bse=True,
    )


def test_exciton_assessment_from_the_data():
    si = shipped_table("Si")
    masses = np.geomspace(5, 50, 3) * u.MeV

    def counts(t):
        return np.full(3, float(t.f2.sum()))

    # baseline half the exciton rate: effect 1.0 > a zero spread -> can matter
    r = exciton_assessment("Si", _exciton(si, 0.015, 2.0), counts, None)
    assert r["binding_energy_eV"] == pytest.approx(0.015)
    assert r["can_matter"]
    assert np.allclose(r["effect"], 1.0)
    assert "E_b = gap − lowest excitation" in r["text"]
    # identical baseline: no effect
    assert not exciton_assessment("Si", _exciton(si, 0.015, 1.0), counts, None)["can_matter"]
    assert masses.size == 3
    assert not exciton_assessment("Si", None, counts, None)["available"]


def test_bad_input_is_typed():
    with pytest.raises(NonPhysicalValueError, match="mass_min < mass_max"):
        advise(50 * u.MeV, 5 * u.MeV, 1 * u.kg * u.yr)
    r = runner.invoke(app, ["dm", "advise", "--target-accuracy", "2"])
    assert isinstance(r.exception, AcieError)
    assert "target accuracy" in str(r.exception)
    r = runner.invoke(app, ["dm", "advise", "--excitons", "Si=missing.h5"])
    assert isinstance(r.exception, AcieError)
    assert "no such file" in str(r.exception)


def test_cli_advise_halos_and_budget(tmp_path):
    r = runner.invoke(
        app,
        [
            "dm", "advise", "--mass-min", "5", "--mass-max", "50", "--n-masses", "3",
            "--draws", "50", "--material", "Si", "--material", "GaAs", "--json",
        ],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert set(out["confidence"]) == {"Si", "GaAs"}
    assert sum(out["confidence"].values()) == pytest.approx(1.0)
    r = runner.invoke(app, ["dm", "halos"])
    assert r.exit_code == 0
    assert "monari2018-vesc (shm): vesc = 580 ± 63" in r.output
    png = tmp_path / "b.png"
    r = runner.invoke(
        app,
        [
            "dm", "reach", "--formfactor", "Si", "--budget", "100", "--n-masses", "4",
            "--plot", str(png), "--json",
        ],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)["rows"]
    assert len(rows) == 4
    assert png.stat().st_size > 10_000
    shares = [sum(v for k, v in row.items() if k.startswith("share")) for row in rows]
    assert np.allclose(shares, 1.0)
    r = runner.invoke(app, ["dm", "reach", "--channel", "nuclear", "--budget", "10"])
    assert isinstance(r.exception, AcieError)
    assert "--budget needs --channel electron" in str(r.exception)
