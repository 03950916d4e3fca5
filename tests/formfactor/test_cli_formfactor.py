"""Tests of the `acie dm` form-factor commands (typer CliRunner, tiny settings)."""

from __future__ import annotations

import json
import shlex

import pytest
from typer.testing import CliRunner

from acie.cli.main import app

runner = CliRunner()
# a tiny Si calculation as typed on the command line (seconds)
TINY = "--basis gth-szv --pseudo gth-pade --ke-cutoff 25 --n-q 40 --dq 0.1 --ne 100 --de 0.5"


def test_materials_list_and_show():
    r = runner.invoke(app, ["dm", "materials"])
    assert r.exit_code == 0
    assert "CsI" in r.output
    assert "cesium-chloride" in r.output
    r = runner.invoke(app, ["dm", "materials", "si", "--json"])
    data = json.loads(r.output)
    assert data["pair_energy_eV"] == 3.749
    assert "Rodrigues" in data["references"]["pair_energy"]


@pytest.mark.slow
def test_formfactor_command_writes_a_readable_table(tmp_path):
    from acie.darkmatter.formfactor.io import read_acie

    out = tmp_path / "Si.h5"
    r = runner.invoke(
        app,
        shlex.split(
            f"dm formfactor Si --kmesh 1x1x1 --xc lda,vwn {TINY} --output {shlex.quote(str(out))} "
            "--json"
        ),
    )
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)  # progress goes to stderr, the JSON alone to stdout
    log = r.stderr.splitlines()
    headers = [line for line in log if line.startswith("[")]
    assert [h[:5] for h in headers] == ["[1/4]", "[2/4]", "[3/4]", "[4/4]"], log
    assert "(estimate" in headers[1]
    assert "(estimate" in headers[2]
    assert str(out) in headers[3]
    assert any("estimated time: SCF" in line and "k-pairs" in line for line in log)
    assert any("SCF: cycle 1" in line and "s/cycle" in line for line in log)
    assert any("k-pair blocks: 1/1 blocks" in line for line in log)
    assert sum("done in" in line for line in log) == 4
    assert summary["shape"] == [40, 100]
    t = read_acie(out)
    assert t.metadata["settings"]["kmesh"] == [1, 1, 1]
    assert t.f2.max() > 0
    assert not (tmp_path / "Si.h5.work").exists()  # checkpoint folder removed after success


def test_formfactor_bad_kmesh_is_a_clear_error():
    r = runner.invoke(app, ["dm", "formfactor", "Si", "--kmesh", "2x2", "--no-progress"])
    assert r.exit_code != 0
    assert "kmesh" in str(r.exception) or "kmesh" in r.output


def test_exciton_example_validate_compare(tmp_path):
    ex = tmp_path / "ex.h5"  # from the shipped Si table, by material name
    assert runner.invoke(app, ["dm", "exciton", "example", "Si", "-o", str(ex)]).exit_code == 0
    r = runner.invoke(app, ["dm", "exciton", "validate", str(ex)])
    assert r.exit_code == 0
    assert "valid" in r.output
    png = tmp_path / "cmp.png"
    r = runner.invoke(
        app, ["dm", "exciton", "compare", str(ex), "--plot", str(png), "--mass", "50"]
    )
    assert r.exit_code == 0
    assert "external/DFT rate = 1.0000" in r.output
    assert png.stat().st_size > 0


def test_select_with_explicit_tables(tmp_path, qcdark_ge):
    from acie.darkmatter.formfactor.io import write_acie
    from acie.darkmatter.formfactor.shipped import shipped_table_path

    si = shipped_table_path("Si")
    ge = write_acie(qcdark_ge, tmp_path / "Ge.h5")
    r = runner.invoke(
        app,
        ["dm", "select", "--mass", "30", "--table", f"Si={si}", "--table", f"Ge={ge}", "--json"],
    )
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)["ranking"]
    assert [row["sigma_limit_cm2"] for row in rows] == sorted(
        row["sigma_limit_cm2"] for row in rows
    )


def test_compare_qcdark_writes_plot_and_csv(tmp_path, qcdark_path):
    from acie.darkmatter.formfactor.io import write_acie
    from acie.darkmatter.formfactor.shipped import shipped_table

    ours = write_acie(shipped_table("Ge"), tmp_path / "Ge_as_ours.h5")
    png, csv = tmp_path / "ratio.png", tmp_path / "ratio.csv"
    r = runner.invoke(
        app,
        [
            "dm",
            "compare-qcdark",
            "--ours",
            str(ours),
            "--reference",
            str(qcdark_path),
            "--masses",
            "10,100",
            "--plot",
            str(png),
            "--csv",
            str(csv),
        ],
    )
    assert r.exit_code == 0, r.output
    assert png.stat().st_size > 10_000
    lines = csv.read_text().splitlines()
    assert lines[0].startswith("mediator,mass_MeV")
    assert len(lines) == 5


def test_convergence_command_from_tables(qcdark_ge, tmp_path):
    from dataclasses import replace

    from acie.darkmatter.formfactor.io import write_acie

    coarse = replace(
        qcdark_ge, f2=qcdark_ge.f2 * 0.9, metadata={"settings": {"kmesh": [1, 1, 1], "n_ao": 8}}
    )
    fine = replace(qcdark_ge, metadata={"settings": {"kmesh": [2, 2, 2], "n_ao": 8}})
    a, b = write_acie(coarse, tmp_path / "a.h5"), write_acie(fine, tmp_path / "b.h5")
    png = tmp_path / "conv.png"
    r = runner.invoke(
        app,
        [
            "dm",
            "convergence",
            "Ge",
            "--table",
            f"coarse={a}",
            "--table",
            f"fine={b}",
            "--masses",
            "10,100",
            "--rtol",
            "0.15",
            "--plot",
            str(png),
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    # f2 scaled by 0.9 -> every rate 10 % low (rates are linear in f2)
    assert out["advice"]["recommended"] == "coarse"
    assert abs(out["advice"]["deviations"]["coarse"] - 0.1) < 1e-9
    assert png.stat().st_size > 10_000


@pytest.mark.slow
def test_formfactor_command_with_a_one_shot_hybrid(tmp_path):
    """`--hybrid 0.25` as typed: announced, its progress shown, recorded in the table."""
    from acie.darkmatter.formfactor.io import read_acie

    out = tmp_path / "Si.h5"
    r = runner.invoke(
        app,
        shlex.split(
            f"dm formfactor Si --kmesh 2x1x1 --xc lda,vwn --hybrid 0.25 --exchange-kmesh 1x1x1 "
            f"{TINY} --output {shlex.quote(str(out))} --json"
        ),
    )
    assert r.exit_code == 0, r.output
    assert "one-shot hybrid (0.25 exact exchange on the lda,vwn ground state, 1 exchange" in (
        r.stderr
    )
    assert "one-shot hybrid: 2/2 k-points" in r.stderr
    meta = read_acie(out).metadata
    s = meta["settings"]
    assert s["hybrid_fraction"] == 0.25
    assert s["exchange_kmesh"] == [1, 1, 1]
    assert meta["timings"]["hybrid_seconds"] > 0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--kmesh", "4x4x4", "--hybrid", "0.25", "--exchange-kmesh", "3x3x3"], "exchange_kmesh"),
        (["--hybrid", "1.5"], "hybrid_fraction"),
        (["--xc", "pbe0", "--hybrid", "0.25", "--kmesh", "1x1x1"], "semi-local"),
    ],
)
def test_formfactor_bad_hybrid_options_are_clear_errors(tmp_path, options, message):
    r = runner.invoke(
        app,
        [
            "dm",
            "formfactor",
            "Si",
            "--basis",
            "gth-szv",
            "--pseudo",
            "gth-pade",
            "--ke-cutoff",
            "25",
            "--no-progress",
            "--output",
            str(tmp_path / "x.h5"),
            *options,
        ],
    )
    assert r.exit_code != 0
    assert message in str(r.exception) + r.output
    assert not (tmp_path / "x.h5").exists()
