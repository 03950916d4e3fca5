"""`acie causal` commands: demo, discover, estimate."""

import json

import pytest
from typer.testing import CliRunner

from acie.causal import galaxy_scm
from acie.cli.causal import app
from acie.errors import DataFormatError, InputValidationError

runner = CliRunner()

EDGES = [
    "log_halo_mass->merger",
    "log_halo_mass->log_stellar_mass",
    "merger->log_sfr",
    "log_stellar_mass->log_sfr",
]


@pytest.fixture
def galaxy_csv(tmp_path):
    path = tmp_path / "galaxies.csv"
    galaxy_scm().sample(1500, seed=3).to_csv(path, index=False)
    return path


def test_demo_json_report():
    result = runner.invoke(app, ["demo", "--json", "--rows", "3000"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    for row in report["interventional_means"]["rows"]:
        # 200k Monte-Carlo rows: within 5 MC standard errors of the closed form
        assert abs(row["sampled"] - row["analytic"]) <= 5 * row["mc_std_error"] + 1e-12
    cf = report["counterfactual"]
    assert cf["abs_mag_r_change"] == pytest.approx(cf["abs_mag_r_change_exact"], abs=1e-9)
    assert "merger" in cf["refusal_for_do_halo_mass"]
    effect = report["effect_of_merger_on_log_sfr"]
    for est in effect["estimates"]:
        assert abs(est["estimate"] - effect["true_ate"]) < 4 * est["std_error"]


def test_demo_text_report():
    result = runner.invoke(app, ["demo", "--rows", "2000"])
    assert result.exit_code == 0, result.output
    for heading in (
        "do(log_stellar_mass = 11.0)",
        "unit counterfactual",
        "backdoor",
        "AIPW",
        "dose-response derivative",
        "PC discovery",
    ):
        assert heading in result.output


def test_discover_json(galaxy_csv):
    result = runner.invoke(
        app,
        [
            "discover",
            str(galaxy_csv),
            "--json",
            "--alpha",
            "0.01",
            "--tier",
            "log_halo_mass",
            "--tier",
            "merger,log_stellar_mass",
        ],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["n_rows"] == 1500
    assert ["log_halo_mass", "log_stellar_mass"] in out["directed"]


def test_discover_text_with_required_edge(galaxy_csv):
    result = runner.invoke(app, ["discover", str(galaxy_csv), "--require", "log_halo_mass->merger"])
    assert result.exit_code == 0, result.output
    assert "log_halo_mass -> merger" in result.output


def test_estimate_with_graph_json(galaxy_csv):
    args = [
        "estimate",
        str(galaxy_csv),
        "--treatment",
        "merger",
        "--outcome",
        "log_sfr",
        "--outcome-unit",
        "dex(solMass / yr)",
        "--json",
    ]
    for e in EDGES:
        args += ["--edge", e]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["covariates"] in (["log_halo_mass"], ["log_stellar_mass"])
    assert out["estimate_unit"] == "dex(solMass / yr)"
    assert {e["method"] for e in out["estimates"]} == {
        "regression adjustment",
        "IPW (stabilised)",
        "AIPW (EIF)",
    }
    for est in out["estimates"]:
        assert abs(est["estimate"] - 0.5) < 4 * est["std_error"]


def test_estimate_continuous_text(galaxy_csv):
    result = runner.invoke(
        app,
        [
            "estimate",
            str(galaxy_csv),
            "--treatment",
            "log_stellar_mass",
            "--outcome",
            "log_sfr",
            "--covariate",
            "merger",
            "--method",
            "aipw",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "average derivative" in result.output


def test_estimate_errors(galaxy_csv, tmp_path):
    result = runner.invoke(
        app,
        [
            "estimate",
            str(galaxy_csv),
            "--treatment",
            "merger",
            "--outcome",
            "log_sfr",
            "--edge",
            "merger-log_sfr",
        ],
    )
    assert isinstance(result.exception, InputValidationError)
    bad = tmp_path / "bad.csv"
    bad.write_text("")
    result = runner.invoke(app, ["estimate", str(bad), "--treatment", "a", "--outcome", "b"])
    assert isinstance(result.exception, DataFormatError)
    result = runner.invoke(
        app, ["estimate", str(tmp_path / "missing.csv"), "--treatment", "a", "--outcome", "b"]
    )
    assert result.exit_code != 0


def test_main_entry_point_reports_errors(galaxy_csv, capsys, monkeypatch):
    from acie.cli.main import main

    monkeypatch.setattr(
        "sys.argv",
        [
            "acie",
            "causal",
            "estimate",
            str(galaxy_csv),
            "--treatment",
            "nope",
            "--outcome",
            "log_sfr",
        ],
    )
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2
    assert "unknown column 'nope'" in capsys.readouterr().err
