"""Refined abduction (acie.deepscm.abduction_refinement) and the engine's option."""

import numpy as np
import pytest
import torch

from acie.deepscm.abduction_refinement import (
    MAX_STEPS,
    log_joint,
    refine_abduction,
    refined_abduction,
)
from acie.deepscm.engine import CounterfactualEngine, default_model_path
from acie.errors import InputValidationError
from acie.galaxy.simulator import GalaxySimulator


@pytest.fixture(scope="module")
def shipped():
    engine = CounterfactualEngine.from_checkpoint(default_model_path(), warmup=False)
    gal = GalaxySimulator().sample(6, seed=4242)  # held out (training used seeds 0..15)
    x = engine.checkpoint.images.forward(torch.from_numpy(np.asarray(gal.images, np.float32)))
    return engine, engine.checkpoint.model, x


def test_refinement_raises_the_log_joint_on_held_out_images(shipped):
    _, model, x = shipped
    ab = model.abduct(x)
    with torch.no_grad():
        before = log_joint(model, x, ab.z, ab.s)
    s, z = refine_abduction(model, x, ab.s, ab.z, steps=10)
    with torch.no_grad():
        after = log_joint(model, x, z, s)
        # the image term on its own rises too (the priors do not carry the gain)
        mu0, ls0 = model._mean_and_log_scale(ab.z, ab.s)
        mu1, ls1 = model._mean_and_log_scale(z, s)
        px0, px1 = model.image_log_prob(x, mu0, ls0), model.image_log_prob(x, mu1, ls1)
    assert torch.all(after > before + 1.0), (after - before).tolist()
    assert torch.all(px1 > px0), (px1 - px0).tolist()
    # the latent alone moves only z
    s2, z2 = refine_abduction(model, x, ab.s, ab.z, steps=3, properties=False)
    assert torch.equal(s2, ab.s)
    assert not torch.equal(z2, ab.z)


def test_refinement_is_deterministic_and_per_galaxy(shipped):
    _, model, x = shipped
    ab = model.abduct(x)
    a = refine_abduction(model, x, ab.s, ab.z, steps=5)
    b = refine_abduction(model, x, ab.s, ab.z, steps=5)
    assert torch.equal(a[0], b[0])
    assert torch.equal(a[1], b[1])
    # a galaxy refined alone gets what it gets in the batch (Adam is elementwise)
    one = refine_abduction(model, x[2:3], ab.s[2:3], ab.z[2:3], steps=5)
    assert torch.allclose(one[0], a[0][2:3], atol=1e-4)
    assert torch.allclose(one[1], a[1][2:3], atol=1e-4)
    # zero steps is the encoder's abduction
    plain = refined_abduction(model, x, steps=0)
    assert torch.equal(plain.s, ab.s)
    assert torch.equal(plain.z, ab.z)


def test_engine_option_keeps_composition_and_changes_abduction(shipped):
    engine, _, _ = shipped
    refined = CounterfactualEngine(checkpoint=engine.checkpoint, warmup=False, abduction_steps=5)
    gal = GalaxySimulator().sample(3, seed=4243)
    x = np.asarray(gal.images, np.float32)
    p0, _ = engine.infer_properties(x)
    p1, _ = refined.infer_properties(x)
    assert not np.allclose(p0["log_stellar_mass"], p1["log_stellar_mass"])
    r = refined.counterfactual(x, {}, watermark=False, physics_steps=0, physics_tolerance=1e9)
    sigma = np.asarray(refined.noise_sigma)[None, :, None, None]
    assert np.max(np.abs(r.images - x) / sigma) < 1e-2  # the null intervention returns x
    assert np.allclose(r.factual_properties["log_stellar_mass"], p1["log_stellar_mass"])
    again = refined.counterfactual(
        x, {"log_stellar_mass": {"shift": 0.3}}, watermark=False, physics_tolerance=1e9
    )
    twice = refined.counterfactual(
        x, {"log_stellar_mass": {"shift": 0.3}}, watermark=False, physics_tolerance=1e9
    )
    assert np.array_equal(again.images, twice.images)


@pytest.mark.parametrize("bad", [-1, MAX_STEPS + 1, 2.5, True, "3"])
def test_bad_step_counts_are_refused(shipped, bad):
    engine, model, x = shipped
    with pytest.raises(InputValidationError, match="abduction_steps"):
        CounterfactualEngine(checkpoint=engine.checkpoint, warmup=False, abduction_steps=bad)
    with pytest.raises(InputValidationError, match="abduction_steps"):
        refined_abduction(model, x, steps=bad)
    with pytest.raises(InputValidationError, match="lr"):
        refine_abduction(model, x, model.abduct(x).s, model.abduct(x).z, steps=1, lr=0.0)
