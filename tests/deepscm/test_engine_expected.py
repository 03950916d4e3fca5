"""The engine's expected answer (``expected_draws``): E[x' | x] over the unidentified noise.

Checked against an independent computation (the evaluation's midpoint posterior mean,
which runs the model's act/predict itself), against the null intervention (every draw
reproduces the observed image), and for its per-galaxy refusals and input checks.
"""

import numpy as np
import pytest

from acie.deepscm import load_default_model
from acie.deepscm.evaluation_posterior import posterior_mean_images
from acie.errors import InputValidationError, OutOfRangeError, PhysicsViolationError
from acie.galaxy.measure import total_flux
from acie.galaxy.simulator import GalaxySimulator

SHIFT = float(np.log10(2.0))
NODE = "log_stellar_mass"
LOOSE = {"physics_tolerance": 1e9, "physics_steps": 0, "watermark": False}


@pytest.fixture(scope="module")
def setup():
    engine = load_default_model()
    sim = GalaxySimulator(image_size=engine.image_shape[1], bands=("g", "r", "i"))
    return engine, np.asarray(sim.sample(8, seed=12345).images, np.float32)


def test_expected_answer_is_the_midpoint_posterior_mean(setup):
    engine, x = setup
    iv = {NODE: {"shift": SHIFT}}
    got = engine.counterfactual(x, iv, expected_draws=8, **LOOSE)
    want = posterior_mean_images(engine, x, NODE, SHIFT, 8, midpoint=True, batch_size=8)
    scale = float(np.abs(want).max())
    assert got.expected_draws == 8
    assert np.allclose(got.images, want, rtol=1e-4, atol=1e-5 * scale)
    # flux is linear in the image: the expected flux is the mean of the draws' fluxes
    point = engine.counterfactual(x, iv, **LOOSE)
    assert point.expected_draws == 0
    assert not np.allclose(got.images, point.images, atol=1e-3 * scale)  # branches hedged


def test_a_galaxy_that_quenches_in_some_draws_gets_the_mixed_sfr(setup):
    """Mean log SFR over the draws sits between the kept branch and the quenched one."""
    engine, x = setup
    iv = {NODE: {"shift": SHIFT}}
    point = engine.counterfactual(x, iv, **LOOSE)
    got = engine.counterfactual(x, iv, expected_draws=16, **LOOSE)
    fact = point.factual_properties[NODE]
    assert np.allclose(got.counterfactual_properties[NODE], fact + SHIFT, atol=1e-6)
    moved = np.abs(
        got.counterfactual_properties["log_sfr"] - point.counterfactual_properties["log_sfr"]
    )
    assert moved.max() > 0.05  # at least one galaxy's branch is uncertain under M* x 2
    f_exp, f_pt = total_flux(got.images), total_flux(point.images)
    assert np.all(f_exp > 0)
    assert np.all(np.isfinite(f_pt))


def test_null_intervention_returns_the_observation_for_every_draw(setup):
    engine, x = setup
    got = engine.counterfactual(x, {}, expected_draws=4, **LOOSE)
    scale = float(np.abs(x).max())
    assert np.allclose(got.images, x, atol=1e-4 * scale)


def test_no_passing_draw_refuses_that_galaxy_alone(setup):
    engine, x = setup
    iv = {NODE: {"shift": 1.2}}  # far off: most draws violate the physics
    tol = {"physics_tolerance": 1e-6, "physics_steps": 0, "watermark": False}
    got = engine.counterfactual(x, iv, expected_draws=4, per_galaxy=True, **tol)
    refused = got.status == "refused"
    assert refused.any()
    assert np.all(np.isnan(got.images[refused]))
    assert all("violation score" in r for r in got.reason[refused])
    assert np.all(got.violation_score[refused] > 1e-6)
    with pytest.raises(PhysicsViolationError):
        engine.counterfactual(x, iv, expected_draws=4, **tol)


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        (-1, OutOfRangeError),
        (65, OutOfRangeError),
        (2.0, InputValidationError),
        (True, InputValidationError),
    ],
)
def test_expected_draws_is_checked(setup, bad, error):
    engine, x = setup
    with pytest.raises(error, match="expected_draws"):
        engine.counterfactual(x[:1], {NODE: {"shift": SHIFT}}, expected_draws=bad)
