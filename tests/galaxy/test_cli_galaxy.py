import json

from typer.testing import CliRunner

from acie.cli.main import app

runner = CliRunner()


def test_sample_json_states_units():
    r = runner.invoke(
        app, ["galaxy", "sample", "--n", "2", "--seed", "3", "--image-size", "16", "--json"]
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["units"]["velocity_dispersion"] == "km / s"
    assert len(out["galaxies"]) == 2


def test_counterfactual_shift_and_plot(tmp_path):
    png = tmp_path / "cf.png"
    r = runner.invoke(
        app,
        [
            "galaxy",
            "counterfactual",
            "--n",
            "2",
            "--image-size",
            "16",
            "--shift",
            "log_stellar_mass=0.301",
            "--json",
            "--plot",
            str(png),
        ],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    f, cf = out["factual"][0], out["counterfactual"][0]
    assert abs(cf["log_stellar_mass"] - f["log_stellar_mass"] - 0.301) < 1e-12
    assert cf["log_halo_mass"] == f["log_halo_mass"]
    assert png.stat().st_size > 10_000


def test_dataset_command(tmp_path):
    out = tmp_path / "g.h5"
    r = runner.invoke(
        app,
        [
            "galaxy",
            "dataset",
            "--n",
            "3",
            "--seed",
            "1",
            "--out",
            str(out),
            "--image-size",
            "16",
            "--band",
            "r",
            "--no-progress",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["n"] == 3
    assert out.is_file()


def test_bad_interventions_are_reported():
    from acie.errors import InputValidationError, UnknownNodeError

    r = runner.invoke(app, ["galaxy", "counterfactual", "--image-size", "16", "--do", "mass=1"])
    assert isinstance(r.exception, UnknownNodeError)
    r = runner.invoke(app, ["galaxy", "counterfactual", "--image-size", "16", "--do", "log_sfr"])
    assert isinstance(r.exception, InputValidationError)
