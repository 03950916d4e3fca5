"""Relative interventions and stochastic abduction (particles) of the engine (issue 16)."""

import numpy as np
import pytest

from acie.deepscm.engine import CounterfactualEngine
from acie.deepscm.interventions import LOG_NODES, parse_intervention
from acie.deepscm.particles import MAX_PARTICLES, QUANTILES
from acie.errors import (
    InputValidationError,
    InvalidInterventionError,
    NonPhysicalValueError,
    OutOfRangeError,
    ShapeError,
)
from acie.galaxy.simulator import GalaxySimulator

LOOSE = {"physics_tolerance": 1e9, "physics_steps": 0}


@pytest.fixture(scope="module")
def engine(tiny_model):
    return CounterfactualEngine.from_checkpoint(tiny_model.checkpoint)


@pytest.fixture(scope="module")
def images():
    return GalaxySimulator(image_size=16, bands=("r",)).sample(5, seed=11).images


def test_shift_is_relative_to_each_galaxys_abducted_value(engine, images):
    r = engine.counterfactual(images, {"log_stellar_mass": {"shift": 0.301}}, **LOOSE)
    want = r.factual_properties["log_stellar_mass"] + 0.301
    np.testing.assert_allclose(r.targets["log_stellar_mass"], want, rtol=0, atol=1e-12)
    # the intervened node takes exactly its target (to float32 standardisation)
    np.testing.assert_allclose(r.counterfactual_properties["log_stellar_mass"], want, atol=1e-5)
    assert r.interventions["log_stellar_mass"].kind == "shift"
    assert list(r.status) == ["ok"] * len(images)


def test_factor_on_a_log_node_is_a_shift_of_log10_factor(engine, images):
    assert "log_stellar_mass" in LOG_NODES
    assert "metallicity" in LOG_NODES
    assert "age" not in LOG_NODES
    a = engine.counterfactual(images, {"log_stellar_mass": {"factor": 2.0}}, **LOOSE)
    b = engine.counterfactual(images, {"log_stellar_mass": {"shift": np.log10(2.0)}}, **LOOSE)
    np.testing.assert_allclose(a.targets["log_stellar_mass"], b.targets["log_stellar_mass"])
    np.testing.assert_array_equal(a.images, b.images)


def test_factor_on_a_linear_node_multiplies(engine, images):
    r = engine.counterfactual(images, {"age": {"factor": 0.9}}, **LOOSE)
    np.testing.assert_allclose(r.targets["age"], 0.9 * r.factual_properties["age"], rtol=1e-12)


def test_value_form_equals_the_absolute_number(engine, images):
    a = engine.counterfactual(images, {"log_stellar_mass": 10.5}, **LOOSE)
    b = engine.counterfactual(images, {"log_stellar_mass": {"value": 10.5}}, **LOOSE)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.targets["log_stellar_mass"], np.full(len(images), 10.5))


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ({"double": 2.0}, InvalidInterventionError),
        ({"shift": 0.1, "factor": 2.0}, InvalidInterventionError),
        ({}, InvalidInterventionError),
        ({"factor": 0.0}, NonPhysicalValueError),
        ({"factor": -2.0}, NonPhysicalValueError),
        ({"shift": float("nan")}, NonPhysicalValueError),
        ({"factor": float("inf")}, NonPhysicalValueError),
        ({"shift": "0.3"}, InvalidInterventionError),
        ({"shift": True}, InvalidInterventionError),
        ({"shift": [0.1, 0.2]}, ShapeError),
        ("10.5", InvalidInterventionError),
    ],
)
def test_bad_forms_get_typed_errors(engine, images, spec, error):
    with pytest.raises(error) as info:
        engine.counterfactual(images, {"log_stellar_mass": spec}, **LOOSE)
    assert "log_stellar_mass" in str(info.value)


def test_target_out_of_range_after_applying_is_refused(engine, images):
    iv = {"log_stellar_mass": {"shift": 6.0}}  # any abducted M* + 6 dex is above 10^12.5
    with pytest.raises(OutOfRangeError, match="abducted"):
        engine.counterfactual(images, iv, **LOOSE)
    r = engine.counterfactual(images, iv, per_galaxy=True, **LOOSE)
    assert set(r.status) == {"refused"}
    assert all(s.startswith("out_of_range") for s in r.reason)
    assert np.all(np.isnan(r.images))


def test_only_the_galaxy_out_of_range_is_refused(engine, images):
    shifts = np.zeros(len(images))
    shifts[2] = 6.0
    r = engine.counterfactual(
        images, {"log_stellar_mass": {"shift": shifts}}, per_galaxy=True, **LOOSE
    )
    assert r.status[2] == "refused"
    assert "galaxy 2" in r.reason[2]
    others = np.arange(len(images)) != 2
    assert set(r.status[others]) == {"ok"}
    alone = engine.counterfactual(images[others], {"log_stellar_mass": {"shift": 0.0}}, **LOOSE)
    # the others get the images they would get alone (watermark included)
    np.testing.assert_allclose(r.images[others], alone.images, rtol=0, atol=1e-4)


def test_rows_split_a_result(engine, images):
    r = engine.counterfactual(images, {"log_stellar_mass": {"shift": 0.2}}, n_particles=3, **LOOSE)
    part = r.rows(slice(1, 3))
    assert part.images.shape[0] == 2
    assert part.uncertainty.image_std.shape[0] == 2
    np.testing.assert_array_equal(
        part.targets["log_stellar_mass"], r.targets["log_stellar_mass"][1:3]
    )
    assert part.interventions["log_stellar_mass"].amount.shape == (2,)


def test_particles_give_uncertainty_maps_and_intervals(engine, images):
    iv = {"log_stellar_mass": {"factor": 2.0}}
    r = engine.counterfactual(images, iv, n_particles=16, seed=1, **LOOSE)
    u = r.uncertainty
    assert u.n_particles == 16
    assert u.image_std.shape == images.shape
    assert np.all(u.accepted == 16)
    assert np.all(np.isfinite(u.image_std))
    assert np.all(u.image_std >= 0)
    assert u.image_std.max() > 0  # the posterior spread moves the counterfactual pixels
    for name in r.counterfactual_properties:
        q = [u.intervals[name][k] for k in QUANTILES]
        assert np.all(np.diff(np.stack(q), axis=0) >= -1e-12), name
    # seeded: the same call gives the same uncertainty, another seed another one
    again = engine.counterfactual(images, iv, n_particles=16, seed=1, **LOOSE)
    np.testing.assert_array_equal(again.uncertainty.image_std, u.image_std)
    other = engine.counterfactual(images, iv, n_particles=16, seed=2, **LOOSE)
    assert not np.array_equal(other.uncertainty.image_std, u.image_std)
    # the particles do not change the point counterfactual
    plain = engine.counterfactual(images, iv, **LOOSE)
    np.testing.assert_array_equal(plain.images, r.images)
    assert plain.uncertainty is None


def test_particles_under_the_null_intervention_reproduce_the_image(engine, images):
    # every particle reproduces the observation exactly (its own pixel noise), so the
    # counterfactual of do() is certain: std ~ float32 rounding of the image values
    r = engine.counterfactual(images, {}, n_particles=8, watermark=False, **LOOSE)
    assert np.max(r.uncertainty.image_std) <= 1e-4 * max(1.0, float(np.abs(images).max()))


def test_particle_spread_matches_the_posterior_of_the_intervened_node(engine, images):
    # a shift moves each particle's own abducted M*: the target's spread is the posterior's
    import torch

    iv = {"log_stellar_mass": {"shift": 0.3}}
    r = engine.counterfactual(images, iv, n_particles=64, seed=0, **LOOSE)
    ckpt = engine.checkpoint
    x = ckpt.images.forward(torch.from_numpy(np.asarray(images, np.float32)))
    ab = ckpt.model.abduct(x)
    col = ckpt.properties.names.index("log_stellar_mass")
    sd_std = torch.exp(0.5 * ab.s_logvar[:, col]).numpy()
    lo = ckpt.properties.from_standard("log_stellar_mass", ab.s[:, col].numpy() - sd_std)
    hi = ckpt.properties.from_standard("log_stellar_mass", ab.s[:, col].numpy() + sd_std)
    width = r.uncertainty.intervals["log_stellar_mass"]
    got = width["p84"] - width["p16"]
    # 64 draws: the 16-84 % width of a Gaussian scatters by ~15 %; allow 40 %
    np.testing.assert_allclose(got, hi - lo, rtol=0.4)


@pytest.mark.parametrize("bad", [MAX_PARTICLES + 1, -1, 10**9, True, 2.5, "8"])
def test_hostile_particle_counts_are_refused(engine, images, bad):
    with pytest.raises(InputValidationError, match="n_particles"):
        engine.counterfactual(images, {}, n_particles=bad, **LOOSE)


def test_parse_keeps_absolute_range_checks():
    with pytest.raises(OutOfRangeError):
        parse_intervention("log_stellar_mass", 13.5, 2)
    with pytest.raises(OutOfRangeError):
        parse_intervention("log_stellar_mass", {"value": 13.5}, 2)
