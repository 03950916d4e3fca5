"""Training data, training and ablation of the retrieval refiner, on the tiny deep SCM."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from acie.deepscm.engine import CounterfactualEngine
from acie.deepscm.retrieval_ablation import ablation, measure, radial_power
from acie.deepscm.retrieval_refiner import RefinerConfig, RefinerNet, RetrievalRefiner, save_refiner
from acie.deepscm.retrieval_training import (
    Bank,
    engine_embedder,
    make_bank,
    make_pairs,
    train_refiner,
)
from acie.errors import InputValidationError
from acie.galaxy.simulator import GalaxySimulator


@pytest.fixture(scope="module")
def engine(tiny_model):
    return CounterfactualEngine.from_checkpoint(tiny_model.checkpoint)


@pytest.fixture(scope="module")
def sim():
    return GalaxySimulator(image_size=16, bands=("r",))


@pytest.fixture(scope="module")
def setup(engine, sim):
    embed, name = engine_embedder(engine)
    bank = make_bank(sim, embed, n=40, seed=101)
    pairs = make_pairs(engine, sim, n_per_node=6, seed=202, jitter=False)
    return embed, name, bank, pairs


def _config(engine, bank, name, **kw):
    return RefinerConfig(
        image_shape=engine.image_shape,
        feature_dim=bank.features.shape[1],
        sigma=[float(s) for s in engine.noise_sigma],
        feature_mean=bank.mean.tolist(),
        feature_std=bank.std.tolist(),
        embedder=name,
        width=8,
        heads=2,
        **kw,
    )


def test_bank_nearest_is_exact_knn():
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(0)
    f = rng.standard_normal((200, 6)) * rng.uniform(0.5, 3, 6)
    bank = Bank(features=f, mean=f.mean(0), std=f.std(0))
    q = rng.standard_normal((15, 6))
    idx, dist = bank.nearest(q, 5)
    nn_ = NearestNeighbors(n_neighbors=5).fit(f)  # raw l2, the vector index's default
    d_ref, i_ref = nn_.kneighbors(q)
    np.testing.assert_array_equal(idx, i_ref)
    np.testing.assert_allclose(dist, d_ref, rtol=1e-9, atol=1e-9)
    with pytest.raises(InputValidationError):
        bank.nearest(q, 0)
    with pytest.raises(InputValidationError):
        bank.nearest(q, 201)


def test_pairs_are_the_simulator_and_engine_counterfactuals(engine, sim, setup):
    _, name, _bank, pairs = setup
    assert name == f"deepscm-encoder:{engine.model_version}"
    assert pairs.model.shape == pairs.true.shape == pairs.factual.shape == (30, 1, 16, 16)
    node, b, tcf = pairs.batches[1]
    np.testing.assert_array_equal(pairs.true[6:12], tcf.images)
    np.testing.assert_allclose(
        tcf.properties[node], np.clip(b.properties[node] + 0.3, *_range(node)), atol=1e-5
    )
    assert not np.array_equal(pairs.model, pairs.factual)


def _range(node):
    from acie.galaxy.properties import RANGES

    return RANGES[node].low, RANGES[node].high


def test_train_refiner_runs_and_keeps_k0_identity(engine, setup, tmp_path):
    _, name, bank, pairs = setup
    idx, _ = bank.nearest(engine.encoder_features(pairs.factual), 4)
    net, info = train_refiner(
        pairs, bank.features[idx], _config(engine, bank, name), epochs=2, seed=0, log=lambda s: None
    )
    assert len(info["history"]) == 2
    assert np.isfinite(info["val_mse_best"])
    assert info["val_mse_plain"] > 0
    save_refiner(tmp_path / "r.pt", net)
    r = RetrievalRefiner.load(tmp_path / "r.pt")
    np.testing.assert_array_equal(
        r.refine(pairs.model, np.zeros((30, 0, r.feature_dim))), pairs.model
    )


def test_radial_power_of_white_noise_is_its_variance():
    """Parseval: white noise of variance s^2 has P(k) = s^2 at every k."""
    x = np.random.default_rng(1).normal(0, 2.0, (200, 1, 32, 32))
    p, k = radial_power(x)
    assert p.shape == (200, 1, 16)
    assert 0 < k[0] < k[-1] < 0.5
    np.testing.assert_allclose(p.mean(axis=(0, 1)), 4.0, rtol=0.05)


def test_ablation_refiner_leaves_measured_flux_and_size(engine, setup):
    """A (random, strong) refiner changes pixels but not the measured luminosity and size."""
    embed, name, bank, pairs = setup
    torch.manual_seed(0)
    net = RefinerNet(_config(engine, bank, name))
    torch.nn.init.normal_(net.head[-1].weight, std=0.3)
    refiner = RetrievalRefiner(net, version="test", metadata={})
    out = ablation(engine, refiner, bank, pairs, embed, ks=(4,), control_k=4)
    rows = out["rows"]
    assert set(rows) == {"plain", "retrieval k=4", "random k=4"}
    assert rows["plain"]["all"]["moved_log_flux_max"] == 0.0
    for name_ in ("retrieval k=4", "random k=4"):
        r = rows[name_]["all"]
        assert r["moved_log_flux_max"] < 1e-5  # flux [dex]
        assert r["moved_log_re_mean"] < 0.02  # curve-of-growth size [dex]
        assert r["pixel_rms"] != rows["plain"]["all"]["pixel_rms"]  # it did change pixels
    _, b, _ = pairs.batches[0]
    m = measure(pairs.true[:6], b)
    assert set(m) == {"log_luminosity", "log_size"}
    assert m["log_size"].shape == (6,)


def test_embedder_names(engine):
    from acie.deepscm.retrieval_training import embedder_named
    from acie.errors import UnknownNameError

    embed, name = embedder_named("deepscm-encoder", engine)
    assert name == f"deepscm-encoder:{engine.model_version}"
    assert embed(np.zeros((2, *engine.image_shape), np.float32)).shape[0] == 2
    with pytest.raises(UnknownNameError, match="got 'pca'"):
        embedder_named("pca", engine)
