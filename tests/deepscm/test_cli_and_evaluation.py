import json

import numpy as np
import pytest
from typer.testing import CliRunner

from acie.cli.main import app

runner = CliRunner()


@pytest.mark.slow
def test_cli_counterfactual_and_evaluate(tiny_model, tmp_path):
    out = tmp_path / "cf.npz"
    res = runner.invoke(
        app,
        [
            "model",
            "counterfactual",
            "--model",
            str(tiny_model.checkpoint),
            "--set",
            "log_stellar_mass=10.5",
            "--simulate",
            "3",
            "--physics-tolerance",
            "1e6",
            "--out",
            str(out),
            "--plot",
            str(tmp_path / "grid.png"),
        ],
    )
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert summary["n"] == 3
    assert summary["units"]["log_stellar_mass"] == "dex(solMass)"
    assert summary["counterfactual_properties"]["log_stellar_mass"] == [10.5] * 3
    with np.load(out) as data:
        assert data["images"].shape == (3, 1, 16, 16)
    assert (tmp_path / "grid.png").stat().st_size > 0
    assert (tmp_path / "grid.pdf").exists()

    report = tmp_path / "report"
    res = runner.invoke(
        app,
        [
            "model",
            "evaluate",
            "--model",
            str(tiny_model.checkpoint),
            "--n",
            "6",
            "--seed",
            "11",
            "--no-speed",
            "--report",
            str(report),
        ],
    )
    assert res.exit_code == 0, res.output
    (metrics,) = json.loads((report / "report.json").read_text())["models"]
    assert metrics["model_version"] == tiny_model.model_version
    assert len(metrics["interventions"]) == 5
    for name in ("REPORT.md", "grid_model_log_stellar_mass.png", "goals.pdf", "dlog_flux.png"):
        assert (report / name).exists(), name


def test_cli_bad_input_gives_typed_error(tiny_model):
    res = runner.invoke(
        app,
        ["model", "counterfactual", "--model", str(tiny_model.checkpoint), "--set", "stellar_mass"],
    )
    assert res.exit_code != 0
    assert "NAME=VALUE" in str(res.exception)


def test_cli_train_tiny(tmp_path):
    res = runner.invoke(
        app,
        [
            "model",
            "train",
            "--out",
            str(tmp_path),
            "--n-train",
            "40",
            "--epochs",
            "1",
            "--image-size",
            "16",
            "--bands",
            "r",
            "--width",
            "4",
            "--latent-dim",
            "2",
            "--no-progress",
        ],
    )
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert (tmp_path / "model.pt").exists()
    assert len(info["model_version"]) == 64
    hist = json.loads((tmp_path / "history.json").read_text())
    assert hist["model_version"] == info["model_version"]
