import numpy as np
import pytest

from acie.deepscm.engine import STAGES, CounterfactualEngine
from acie.deepscm.watermark import Watermark
from acie.errors import (
    NonPhysicalValueError,
    OutOfRangeError,
    PhysicsViolationError,
    ShapeError,
    UnknownNodeError,
)
from acie.galaxy.properties import PROPERTY_NAMES
from acie.galaxy.simulator import GalaxySimulator


@pytest.fixture(scope="module")
def engine(tiny_model):
    # a fixed key: on 16x16 stamps the default mark scores ~5, so detection depends on it
    return CounterfactualEngine.from_checkpoint(
        tiny_model.checkpoint, watermark=Watermark(key=0xAC1E_5C3D)
    )


@pytest.fixture(scope="module")
def galaxies():
    return GalaxySimulator(image_size=16, bands=("r",)).sample(5, seed=99)


def test_contract_attributes(engine, tiny_model):
    assert engine.model_version == tiny_model.model_version
    assert len(engine.model_version) == 64
    assert engine.property_names == list(PROPERTY_NAMES)
    assert engine.image_shape == (1, 16, 16)
    assert engine.device == "cpu"


def test_batched_counterfactual_shapes_and_fields(engine, galaxies):
    seen = []
    target = galaxies.properties["log_stellar_mass"] + 0.3
    r = engine.counterfactual(
        galaxies.images, {"log_stellar_mass": target}, on_stage=seen.append, physics_tolerance=1e6
    )
    assert seen == list(STAGES)
    assert r.images.shape == (5, 1, 16, 16)
    assert r.images.dtype == np.float32
    assert set(r.factual_properties) == set(r.counterfactual_properties) == set(PROPERTY_NAMES)
    np.testing.assert_allclose(r.counterfactual_properties["log_stellar_mass"], target, rtol=1e-6)
    # log_halo_mass is not a descendant of stellar mass: it keeps its abducted value
    np.testing.assert_allclose(
        r.counterfactual_properties["log_halo_mass"],
        r.factual_properties["log_halo_mass"],
        rtol=1e-6,
    )
    assert r.violation_score.shape == (5,)
    assert np.all(r.violation_score >= 0)
    assert r.confidence.shape == (5,)
    assert np.all((r.confidence >= 0) & (r.confidence <= 1))
    assert r.model_version == engine.model_version
    assert r.latency_ms > 0
    assert engine.watermark.detect(r.images).all()
    assert not engine.watermark.detect(galaxies.images).any()


def test_null_intervention_returns_the_input(engine, galaxies):
    # the pixel noise is abducted exactly, so composition holds to float32 rounding
    r = engine.counterfactual(galaxies.images, {}, watermark=False)
    scale = np.abs(galaxies.images).max()
    np.testing.assert_allclose(r.images, galaxies.images, atol=1e-4 * scale)


def test_single_image_and_scalar_value(engine, galaxies):
    r = engine.counterfactual(galaxies.images[0], {"age": 5.0}, physics_tolerance=1e6)
    assert r.images.shape == (1, 16, 16)
    assert r.counterfactual_properties["age"].shape == (1,)


def test_bad_input_is_typed_and_named(engine, galaxies):
    with pytest.raises(ShapeError, match=r"images must be .*\(n, 1, 16, 16\).*\(2, 3, 16, 16\)"):
        engine.counterfactual(np.zeros((2, 3, 16, 16), np.float32), {})
    with pytest.raises(UnknownNodeError, match="'dark_energy'"):
        engine.counterfactual(galaxies.images, {"dark_energy": 1.0})
    with pytest.raises(UnknownNodeError, match="'redshift'"):  # a nuisance, not intervenable
        engine.counterfactual(galaxies.images, {"redshift": 0.1})
    with pytest.raises(NonPhysicalValueError, match="velocity_dispersion"):
        engine.counterfactual(galaxies.images, {"velocity_dispersion": -5.0})
    from astropy import units as u

    with pytest.raises(NonPhysicalValueError, match="stellar_mass must be > 0"):
        engine.counterfactual(galaxies.images, {"log_stellar_mass": -1e10 * u.M_sun})
    with pytest.raises(OutOfRangeError, match="log_stellar_mass"):
        engine.counterfactual(galaxies.images, {"log_stellar_mass": 14.0})
    with pytest.raises(ShapeError, match=r"shape \(5,\)"):
        engine.counterfactual(galaxies.images, {"age": np.ones(3)})


def test_physics_violation_is_refused_without_projection(engine, galaxies):
    # M_* = 10^12.4 M_sun in haloes of <= 10^13 M_sun: baryons above f_b M_h
    # (Planck 2018 f_b = 0.157), so the score is well above any tolerance
    with pytest.raises(PhysicsViolationError) as info:
        engine.counterfactual(
            galaxies.images,
            {"log_stellar_mass": 12.4, "log_halo_mass": 11.0},
            physics_steps=0,
            physics_tolerance=0.05,
        )
    assert info.value.tolerance == 0.05
    assert info.value.score > 0.05


def test_projection_repairs_what_it_can(engine, galaxies):
    # with projection the non-intervened properties move back onto the physical manifold
    r = engine.counterfactual(
        galaxies.images, {"log_stellar_mass": 11.0}, physics_steps=200, physics_tolerance=0.05
    )
    assert np.all(r.violation_score <= 0.05)
    np.testing.assert_allclose(r.counterfactual_properties["log_stellar_mass"], 11.0, rtol=1e-6)


def test_cuda_without_gpu_is_a_configuration_error(tiny_model, monkeypatch):
    import torch

    from acie.errors import ConfigurationError

    # on a machine with a GPU, pretend it has none: the refusal is tested everywhere
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigurationError, match="device"):
        CounterfactualEngine.from_checkpoint(tiny_model.checkpoint, device="cuda")


@pytest.mark.gpu
def test_cuda_matches_cpu(tiny_model, galaxies):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    cpu = CounterfactualEngine.from_checkpoint(tiny_model.checkpoint, device="cpu")
    gpu = CounterfactualEngine.from_checkpoint(tiny_model.checkpoint, device="cuda")
    iv = {"log_stellar_mass": galaxies.properties["log_stellar_mass"] + 0.3}
    a = cpu.counterfactual(galaxies.images, iv, physics_tolerance=1e6)
    b = gpu.counterfactual(galaxies.images, iv, physics_tolerance=1e6)
    assert gpu.device.startswith("cuda")
    # float32 on different kernels (TF32 off by default for convolutions' accuracy here)
    np.testing.assert_allclose(b.images, a.images, rtol=1e-3, atol=1e-4 * np.abs(a.images).max())


def test_encoder_features_feed_the_property_head(engine, galaxies):
    import torch

    f = engine.encoder_features(galaxies.images)
    assert f.shape[0] == 5
    assert f.dtype == np.float64
    head = engine.checkpoint.model.encoder.property_head
    d = len(engine.modelled_names)
    mean = (torch.from_numpy(f).float() @ head.weight[:d].T + head.bias[:d]).detach().numpy()
    props, _ = engine.infer_properties(galaxies.images)
    expected = engine.checkpoint.properties.decode(mean.astype(np.float64))
    np.testing.assert_allclose(expected["log_stellar_mass"], props["log_stellar_mass"], rtol=1e-5)
