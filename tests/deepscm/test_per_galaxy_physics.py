"""Regression tests of issue 16: pinned projection and per-galaxy physics outcomes."""

import numpy as np
import pytest

from acie.deepscm.engine import CounterfactualEngine
from acie.errors import PhysicsViolationError
from acie.galaxy.constraints import fixed_for_counterfactual
from acie.galaxy.simulator import GalaxySimulator


@pytest.fixture(scope="module")
def engine(tiny_model):
    return CounterfactualEngine.from_checkpoint(tiny_model.checkpoint)


@pytest.fixture(scope="module")
def galaxies():
    return GalaxySimulator(image_size=16, bands=("r",)).sample(6, seed=99)


def test_projection_never_moves_non_descendants(engine, galaxies):
    # issue 16: do(log_stellar_mass=12) on small haloes moved the abducted halo mass
    # (11.06 -> 12.79) and returned it as projected; the halo is not a descendant of M_*
    iv = {"log_stellar_mass": 12.0}
    pinned = [k for k in fixed_for_counterfactual(iv) if k not in iv]
    assert "log_halo_mass" in pinned
    r = engine.counterfactual(
        galaxies.images, iv, physics_steps=200, physics_tolerance=0.05, per_galaxy=True
    )
    for k in pinned:
        np.testing.assert_allclose(
            r.counterfactual_properties[k], r.factual_properties[k], rtol=0, atol=1e-6
        )
    if (r.status == "refused").any():  # the whole-batch mode refuses instead of moving them
        with pytest.raises(PhysicsViolationError) as info:
            engine.counterfactual(galaxies.images, iv, physics_steps=200, physics_tolerance=0.05)
        assert info.value.score > 0.05
    else:
        whole = engine.counterfactual(
            galaxies.images, iv, physics_steps=200, physics_tolerance=0.05
        )
        for k in pinned:
            np.testing.assert_allclose(
                whole.counterfactual_properties[k], whole.factual_properties[k], rtol=0, atol=1e-6
            )


def test_per_galaxy_refusal_keeps_non_descendants(engine, galaxies):
    iv = {"log_stellar_mass": 12.0}
    r = engine.counterfactual(
        galaxies.images, iv, physics_steps=200, physics_tolerance=0.05, per_galaxy=True
    )
    refused = r.status == "refused"
    assert refused.any(), "a 10^12 M_sun galaxy in these small haloes must be refused"
    assert set(r.status) <= {"ok", "projected", "refused"}
    assert np.all(np.isnan(r.images[refused]))
    ok = ~refused
    assert np.all(r.violation_score[ok] <= 0.05)
    for k in fixed_for_counterfactual(iv):
        if k not in iv:
            np.testing.assert_array_equal(
                r.counterfactual_properties[k][ok], r.factual_properties[k][ok]
            )


def test_one_galaxy_over_tolerance_leaves_the_others_bit_identical(engine, galaxies):
    # galaxy 2 gets an unphysical stellar mass (refused or projected by itself), the others
    # a mild one: their images are bit-identical to the same batch without the bad value
    n = len(galaxies.images)
    mild = np.full(n, 9.5)
    values = mild.copy()
    values[2] = 12.3
    kw = {"physics_steps": 200, "physics_tolerance": 0.05, "watermark": False}
    r = engine.counterfactual(galaxies.images, {"log_stellar_mass": values}, per_galaxy=True, **kw)
    ref = engine.counterfactual(galaxies.images, {"log_stellar_mass": mild}, **kw)
    assert r.status[2] in ("projected", "refused")
    others = np.arange(n) != 2
    np.testing.assert_array_equal(r.images[others], ref.images[others])
    np.testing.assert_array_equal(r.violation_score[others], ref.violation_score[others])
    assert np.all(r.status[others] == np.where(ref.projected, "projected", "ok")[others])
    for i in np.flatnonzero(others):  # alone: equal up to batch-size float rounding
        alone = engine.counterfactual(galaxies.images[i : i + 1], {"log_stellar_mass": 9.5}, **kw)
        np.testing.assert_allclose(r.images[i], alone.images[0], rtol=1e-4, atol=1e-6)
