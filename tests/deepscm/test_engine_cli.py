"""`acie model counterfactual` with relative interventions, particles and per-galaxy status."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from acie.cli.main import app
from acie.errors import InputValidationError, OutOfRangeError, PhysicsViolationError

runner = CliRunner()


def _run(tiny_model, *args):
    return runner.invoke(
        app,
        [
            "model",
            "counterfactual",
            "--model",
            str(tiny_model.checkpoint),
            "--simulate",
            "3",
            *args,
        ],
    )


def test_factor_and_particles(tiny_model, tmp_path):
    out = tmp_path / "cf.npz"
    res = _run(
        tiny_model,
        "--factor",
        "log_stellar_mass=2",
        "--particles",
        "4",
        "--physics-tolerance",
        "1e6",
        "--out",
        str(out),
    )
    assert res.exit_code == 0, res.output
    s = json.loads(res.output)
    np.testing.assert_allclose(
        s["targets"]["log_stellar_mass"],
        np.asarray(s["factual_properties"]["log_stellar_mass"]) + np.log10(2),
        atol=2e-4,  # both rounded to 4 decimals
    )
    assert s["status"] == ["ok"] * 3
    assert s["n_particles"] == 4
    assert set(s["intervals"]["log_stellar_mass"]) == {"p2.5", "p16", "p50", "p84", "p97.5"}
    with np.load(out) as data:
        assert data["uncertainty_image_std"].shape == (3, 1, 16, 16)
        assert data["status"].tolist() == ["ok"] * 3


def test_per_galaxy_status_and_all_or_nothing(tiny_model):
    # 10^12.4 M_sun of stars in these small haloes, no projection: every galaxy refused
    res = _run(tiny_model, "--set", "log_stellar_mass=12.4", "--physics-steps", "0")
    assert isinstance(res.exception, PhysicsViolationError)
    assert "3 of 3 galaxies refused" in str(res.exception)
    assert "tolerance 0.05" in str(res.exception)
    # a per-galaxy amount cannot be given on the command line; a loose tolerance lets all
    # pass, and --all-or-nothing changes nothing then
    res = _run(tiny_model, "--set", "log_stellar_mass=12.4", "--physics-steps", "0",
               "--physics-tolerance", "1e6", "--all-or-nothing")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["status"] == ["ok"] * 3
    res = _run(tiny_model, "--shift", "log_stellar_mass=6")
    assert isinstance(res.exception, OutOfRangeError)
    assert "abducted" in str(res.exception)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--factor", "log_stellar_mass=0"], "> 0"),
        (["--shift", "log_stellar_mass=nan"], "finite"),
        (["--set", "log_stellar_mass=10.5", "--shift", "log_stellar_mass=0.1"], "given once"),
        ([], "at least one"),
    ],
)
def test_bad_options_are_typed(tiny_model, args, fragment):
    res = _run(tiny_model, *args)
    assert isinstance(res.exception, InputValidationError), res.output
    assert fragment in str(res.exception)


def test_expected_draws_with_the_shipped_model():
    """`acie model counterfactual --expected-draws N` answers the engine's expected answer."""
    from acie.deepscm import load_default_model
    from acie.galaxy.simulator import GalaxySimulator

    args = ["model", "counterfactual", "--simulate", "4", "--seed", "12345"]
    args += ["--factor", "log_stellar_mass=2", "--physics-tolerance", "1e6", "--no-watermark"]
    res = runner.invoke(app, [*args, "--expected-draws", "4"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.output)
    assert s["expected_draws"] == 4
    engine = load_default_model()
    x = GalaxySimulator(image_size=64, bands=("g", "r", "i")).sample(4, seed=12345).images
    from acie.config import get_settings

    want = engine.counterfactual(
        x,
        {"log_stellar_mass": {"factor": 2.0}},
        physics_tolerance=1e6,
        physics_steps=get_settings().PHYSICS_STEPS,
        watermark=False,
        per_galaxy=True,
        expected_draws=4,
    )
    np.testing.assert_allclose(
        s["counterfactual_properties"]["log_sfr"],
        want.counterfactual_properties["log_sfr"],
        atol=1e-4,  # printed to 4 decimals
    )
    bad = runner.invoke(app, [*args, "--expected-draws", "65"])
    assert bad.exit_code != 0
    assert "expected-draws" in bad.output
