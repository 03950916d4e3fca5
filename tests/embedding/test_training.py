"""Contrastive training on tiny data: the loss, the augmentations, the projection."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from acie.embedding.augment import _fourier_shift, dihedral_shift, render_views
from acie.embedding.autoencoder import train_autoencoder
from acie.embedding.training import (
    TrainConfig,
    embedder_from,
    fit_projection,
    nt_xent,
    simulate_views,
    sky_softening,
    train_contrastive,
)
from acie.errors import InputValidationError, ShapeError
from acie.galaxy.simulator import GalaxySimulator

TINY = TrainConfig(n_train=32, n_views=2, steps=25, batch=16, image_size=32, seed=0, lr=3e-3)


@pytest.fixture(scope="module")
def tiny_views() -> np.ndarray:
    views, _ = simulate_views(TINY)
    return views


def test_nt_xent_closed_form() -> None:
    """Orthonormal pairs: each anchor's partner has logit 1/t, the 2n - 2 others 0."""
    n, t = 6, 0.5
    z = torch.eye(n)
    want = -math.log(math.exp(1 / t) / (math.exp(1 / t) + 2 * n - 2))
    assert float(nt_xent(z, z.clone(), t)) == pytest.approx(want, rel=1e-6)


def test_nt_xent_prefers_matching_pairs() -> None:
    g = torch.Generator().manual_seed(0)
    a = torch.randn(16, 8, generator=g)
    assert float(nt_xent(a, a + 0.01 * torch.randn(16, 8, generator=g), 0.2)) < float(
        nt_xent(a, torch.randn(16, 8, generator=g), 0.2)
    )


def test_contrastive_loss_decreases(tiny_views: np.ndarray) -> None:
    result = train_contrastive(TINY, tiny_views)
    assert len(result.losses) == TINY.steps
    first, last = np.mean(result.losses[:5]), np.mean(result.losses[-5:])
    assert last < first - 0.1, (first, last)
    emb = embedder_from(result, tiny_views, 8)
    v = emb.embed(tiny_views[:4, 0])
    assert v.shape == (4, 8)
    assert v.dtype == np.float32


def test_autoencoder_loss_decreases(tiny_views: np.ndarray) -> None:
    result = train_autoencoder(TINY, tiny_views)
    first, last = np.mean(result.losses[:5]), np.mean(result.losses[-5:])
    assert last < 0.9 * first, (first, last)


def test_views_keep_the_galaxy() -> None:
    """Re-rendered views: same properties, total flux within the noise; other pixels."""
    sim = GalaxySimulator(image_size=48, seed=3)
    batch = sim.sample(4, seed=3)
    views = render_views(sim, batch, 3, np.random.default_rng(0))
    assert views.shape == (4, 3, 3, 48, 48)
    assert not np.allclose(views[:, 0], views[:, 1])
    # stamp flux of the noise-free render vs each view: equal within 5 sigma of the noise
    clean = sim.render(batch.properties, batch.nuisances, add_noise=False).sum(axis=(-2, -1))
    sky = np.array([sim.sky_sigma[b] for b in sim.bands])
    tol = 5 * 48 * sky + 0.02 * np.abs(clean)  # + PSF/rotation moving light across the edge
    for v in range(3):
        assert np.all(np.abs(views[:, v].sum(axis=(-2, -1)) - clean) < tol)


def test_dihedral_shift_keeps_flux_and_integer_shift_is_a_roll() -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(8, 3, 16, 16, generator=g, dtype=torch.float64)
    y = dihedral_shift(x, g, max_shift=1.5)
    torch.testing.assert_close(y.sum(dim=(-2, -1)), x.sum(dim=(-2, -1)), rtol=0, atol=1e-9)
    rolled = _fourier_shift(
        x, torch.full((8,), 2.0, dtype=x.dtype), torch.full((8,), -1.0, dtype=x.dtype)
    )
    torch.testing.assert_close(rolled, torch.roll(x, shifts=(2, -1), dims=(-2, -1)))
    # no shift: each output is one of the 8 rotations/flips of its input
    z = dihedral_shift(x, g, max_shift=0.0)
    for i in range(8):
        cands = [torch.rot90(x[i], r, dims=(-2, -1)) for r in range(4)]
        cands += [torch.flip(c, dims=(-1,)) for c in cands]
        assert any(torch.equal(z[i], c) for c in cands)


def test_fit_projection_is_orthonormal_with_fixed_signs() -> None:
    rng = np.random.default_rng(0)
    f = rng.normal(size=(200, 6)) @ rng.normal(size=(6, 6))
    mean, comps = fit_projection(f, 4)
    np.testing.assert_allclose(comps @ comps.T, np.eye(4), atol=1e-5)
    assert np.all(comps[np.arange(4), np.abs(comps).argmax(axis=1)] > 0)
    var = ((f - mean) @ comps.T).var(axis=0)
    assert np.all(np.diff(var) <= 0)


def test_sky_softening_recovers_the_noise() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, [0.01, 0.02, 0.03], size=(64, 16, 16, 3)).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(sky_softening(x), [0.01, 0.02, 0.03], rtol=0.05)


def test_config_is_checked() -> None:
    with pytest.raises(InputValidationError, match="batch"):
        TrainConfig(n_train=8, batch=16)
    with pytest.raises(InputValidationError, match="dim"):
        TrainConfig(dim=256, feature_dim=128)
    with pytest.raises(ShapeError, match="multiple of 16"):
        TrainConfig(image_size=40)
    with pytest.raises(ShapeError):
        train_contrastive(TINY, np.zeros((4, 1, 3, 32, 32), np.float32))
