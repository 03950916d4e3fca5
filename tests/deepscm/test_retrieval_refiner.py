"""The retrieval refiner: k = 0 is the plain model, masks, flux preserved, typed errors."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from acie.deepscm.retrieval_refiner import (
    RefinerConfig,
    RefinerNet,
    RetrievalRefiner,
    default_refiner_path,
    high_pass,
    load_default_refiner,
    save_refiner,
)
from acie.errors import DataFormatError, InputValidationError, ShapeError

D = 8


def _net(seed: int = 0, shape: tuple[int, int, int] = (2, 16, 16)) -> RefinerNet:
    torch.manual_seed(seed)
    cfg = RefinerConfig(
        image_shape=shape,
        feature_dim=D,
        sigma=[0.01] * shape[0],
        feature_mean=[0.0] * D,
        feature_std=[1.0] * D,
        embedder="test",
        width=8,
        heads=2,
    )
    net = RefinerNet(cfg)
    # a trained refiner changes images; the fresh one starts as the identity
    torch.nn.init.normal_(net.head[-1].weight, std=0.5)
    return net.eval()


@pytest.fixture(scope="module")
def refiner(tmp_path_factory) -> RetrievalRefiner:
    path = tmp_path_factory.mktemp("refiner") / "r.pt"
    save_refiner(path, _net(), {"note": "test"})
    return RetrievalRefiner.load(path)


def _galaxies(n: int = 5, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = np.arange(16) - 7.5
    r2 = c[None, :] ** 2 + c[:, None] ** 2
    blob = np.exp(-r2 / (2 * rng.uniform(1.5, 3.0, (n, 1, 1, 1)) ** 2))
    x = rng.uniform(0.2, 1.0, (n, 2, 1, 1)) * blob + 0.01 * rng.standard_normal((n, 2, 16, 16))
    return x.astype(np.float32)


def test_k_zero_is_the_plain_model_bit_for_bit(refiner):
    x = _galaxies()
    out = refiner.refine(x, np.zeros((5, 0, D), np.float32))
    assert out.dtype == np.float32
    assert np.array_equal(out, x)


def test_fully_masked_rows_are_unchanged_and_others_refined(refiner):
    x = _galaxies()
    f = np.random.default_rng(2).standard_normal((5, 4, D)).astype(np.float32)
    m = np.ones((5, 4), bool)
    m[1] = False
    out = refiner.refine(x, f, m)
    assert np.array_equal(out[1], x[1])
    others = [0, 2, 3, 4]
    assert np.all(np.abs(out[others] - x[others]).max(axis=(1, 2, 3)) > 1e-4)


def test_masked_neighbours_do_not_matter(refiner):
    """Padding (even NaN) behind the mask changes nothing; unmasked ones do."""
    x = _galaxies()
    rng = np.random.default_rng(3)
    f = rng.standard_normal((5, 6, D)).astype(np.float32)
    m = np.ones((5, 6), bool)
    m[:, 3:] = False
    ref = refiner.refine(x, f[:, :3])
    g = f.copy()
    g[:, 3:] = np.nan
    np.testing.assert_allclose(refiner.refine(x, g, m), ref, rtol=0, atol=1e-6)
    h = f.copy()
    h[:, 0] += 5.0
    assert np.abs(refiner.refine(x, h, m) - ref).max() > 1e-5


def test_refused_all_nan_images_pass_through(refiner):
    """The engine's per-galaxy refusals (all-NaN images) stay NaN; the rest is refined."""
    x = _galaxies()
    x[2] = np.nan
    f = np.random.default_rng(8).standard_normal((5, 3, D)).astype(np.float32)
    out = refiner.refine(x, f)
    assert np.isnan(out[2]).all()
    assert np.isfinite(out[[0, 1, 3, 4]]).all()
    ok = _galaxies()
    np.testing.assert_array_equal(out[[0, 1, 3, 4]], refiner.refine(ok, f)[[0, 1, 3, 4]])
    x[3, 0, 0, 0] = np.nan  # a partly NaN image is an error
    with pytest.raises(InputValidationError, match="all-NaN refused"):
        refiner.refine(x, f)


def test_neighbour_order_does_not_matter(refiner):
    x = _galaxies()
    f = np.random.default_rng(4).standard_normal((5, 7, D)).astype(np.float32)
    perm = np.random.default_rng(5).permutation(7)
    np.testing.assert_allclose(
        refiner.refine(x, f[:, perm]), refiner.refine(x, f), rtol=0, atol=2e-6
    )


def test_flux_and_large_scales_are_preserved(refiner):
    """Zero flux added per band; no Fourier mode below the cutoff moves (float32 rounding)."""
    x = _galaxies(8)
    f = np.random.default_rng(6).standard_normal((8, 5, D)).astype(np.float32) * 3
    out = refiner.refine(x, f)
    assert np.abs(out - x).max() > 1e-3  # it did refine
    flux_in, flux_out = x.sum(axis=(2, 3)), out.sum(axis=(2, 3))
    np.testing.assert_allclose(flux_out, flux_in, rtol=1e-5, atol=1e-5)
    d = np.fft.fft2((out - x).astype(np.float64))
    k = np.hypot(np.fft.fftfreq(16)[:, None], np.fft.fftfreq(16)[None, :])
    low = np.abs(d[..., k < refiner.config.cutoff])
    assert low.max() < 1e-4 * np.abs(d).max()


def test_high_pass_against_numpy():
    x = torch.randn(3, 2, 16, 12, dtype=torch.float64)
    got = high_pass(x, 0.2).numpy()
    k = np.hypot(np.fft.fftfreq(16)[:, None], np.fft.fftfreq(12)[None, :])
    want = np.real(np.fft.ifft2(np.fft.fft2(x.numpy()) * (k >= 0.2)))
    np.testing.assert_allclose(got, want, atol=1e-12)
    assert np.abs(got.sum(axis=(-2, -1))).max() < 1e-10


@pytest.mark.parametrize(
    ("images", "feats", "mask", "error"),
    [
        (np.zeros((2, 2, 8, 8)), np.zeros((2, 1, D)), None, ShapeError),  # wrong H, W
        (np.zeros((2, 16, 16)), np.zeros((2, 1, D)), None, ShapeError),  # no band axis
        (np.zeros((2, 2, 16, 16)), np.zeros((2, 1, D + 1)), None, ShapeError),  # wrong D
        (np.zeros((2, 2, 16, 16)), np.zeros((3, 1, D)), None, ShapeError),  # wrong n
        (np.zeros((2, 2, 16, 16)), np.zeros((2, D)), None, ShapeError),  # no k axis
        (np.zeros((2, 2, 16, 16)), np.zeros((2, 2, D)), np.ones((2, 2)), ShapeError),  # not bool
        (np.zeros((2, 2, 16, 16)), np.zeros((2, 2, D)), np.ones((2, 3), bool), ShapeError),
        (np.full((2, 2, 16, 16), np.inf), np.zeros((2, 1, D)), None, InputValidationError),
        (np.zeros((2, 2, 16, 16)), np.full((2, 1, D), np.inf), None, InputValidationError),
    ],
)
def test_typed_errors(refiner, images, feats, mask, error):
    with pytest.raises(error) as e:
        refiner.refine(images, feats, mask)
    assert "got" in str(e.value)


def test_checkpoint_round_trip_and_bad_files(tmp_path, refiner):
    path = tmp_path / "r.pt"
    net = _net(seed=7)
    version = save_refiner(path, net, {"seed": 7})
    loaded = RetrievalRefiner.load(path)
    assert loaded.version == version == hashlib.sha256(path.read_bytes()).hexdigest()
    assert loaded.metadata == {"seed": 7}
    assert loaded.feature_dim == D
    x, f = _galaxies(), np.ones((5, 2, D), np.float32)
    with torch.no_grad():
        want = net(torch.from_numpy(x), torch.from_numpy(f), torch.ones(5, 2, dtype=torch.bool))
    np.testing.assert_array_equal(loaded.refine(x, f), want.numpy())
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(DataFormatError):
        RetrievalRefiner.load(tmp_path / "junk.pt")
    torch.save({"format": "something-else"}, tmp_path / "other.pt")
    with pytest.raises(DataFormatError, match="acie-retrieval-refiner/1"):
        RetrievalRefiner.load(tmp_path / "other.pt")


@pytest.fixture(scope="module")
def shipped():
    """The shipped refiner on 20 held-out galaxies, do(log_stellar_mass + 0.3)."""
    from acie.deepscm.engine import load_default_model
    from acie.deepscm.retrieval_training import Bank
    from acie.galaxy.simulator import GalaxySimulator

    engine, refiner = load_default_model(), load_default_refiner()
    sim = GalaxySimulator()
    ref = engine.encoder_features(sim.sample(300, seed=10_000).images)
    bank = Bank(features=ref, mean=ref.mean(0), std=ref.std(0))
    gal = sim.sample(20, seed=7)
    idx, _ = bank.nearest(engine.encoder_features(gal.images), 16)
    do = {"log_stellar_mass": gal.properties["log_stellar_mass"] + 0.3}
    plain = engine.counterfactual(gal.images, do, watermark=False).images
    return engine, refiner, gal, plain, refiner.refine(plain, ref[idx]), sim.counterfactual(gal, do)


def test_shipped_refiner_belongs_to_the_shipped_model(shipped):
    engine, r, *_ = shipped
    assert default_refiner_path().exists()
    assert r.image_shape == engine.image_shape
    assert r.embedder.split(":")[0] in ("deepscm-encoder", "galaxy-embedder")
    if r.embedder.startswith("deepscm-encoder:"):
        assert r.feature_dim == engine.encoder_features(np.zeros((1, *r.image_shape))).shape[1]
    assert len(r.version) == 64
    assert len(r.deepscm_version or "") == 64


def test_shipped_refiner_keeps_measured_flux_and_size(shipped):
    """Independent of the refiner's code: acie.galaxy.measure on the images."""
    from acie.deepscm.retrieval_ablation import measure

    _, _, _, plain, refined, tcf = shipped
    assert np.abs(refined - plain).max() > 1e-3  # it refined
    mp, mr = measure(plain, tcf), measure(refined, tcf)
    np.testing.assert_allclose(mr["log_luminosity"], mp["log_luminosity"], atol=1e-5)  # dex
    ok = np.isfinite(mp["log_size"])  # the aperture radius fails on a few stamps
    assert ok.sum() >= 15
    np.testing.assert_array_equal(np.isfinite(mr["log_size"]), ok)
    moved = np.abs(mr["log_size"] - mp["log_size"])[ok]
    assert moved.max() < 0.02  # dex
    assert moved.mean() < 0.005


def test_shipped_refiner_helps_only_the_model_it_was_trained_for(shipped):
    """Against the simulator's truth, the high-k power error falls for the deep SCM the
    refiner was trained on (format 1: 0.134 -> 0.042 dex) and rises for another (the
    format-2 model: 0.019 -> 0.062 dex), which is why the server applies a refiner only
    to its own model (acie.serve.retrieval.refine: "provenance only" otherwise)."""
    from acie.deepscm.retrieval_ablation import radial_power

    engine, r, _, plain, refined, tcf = shipped
    sigma = np.asarray(engine.noise_sigma)[None, :, None, None]
    p_true, k = radial_power(tcf.images / sigma)

    def err(img):
        p, _ = radial_power(img / sigma)
        return np.abs(np.log10(p / p_true))[..., k >= 0.25].mean()

    if r.embedder == f"deepscm-encoder:{engine.model_version}":
        assert err(refined) < 0.6 * err(plain)
    else:
        assert err(refined) > err(plain)
