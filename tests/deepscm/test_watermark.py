import numpy as np
import pytest

from acie.deepscm.watermark import Watermark, measure_rates
from acie.errors import ShapeError

# a fixed test key (deployments get theirs from configuration); the galaxy null's mean
# depends on the key, see the report of issue 16
KEY = 0xAC1E_5C3D


def _galaxies(n: int, seed: int) -> np.ndarray:
    """Exponential discs with unit-sigma sky noise (n, 2, 64, 64)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:64, :64] - 31.5
    r = np.hypot(yy, xx)[None, None]
    scale = rng.uniform(2, 8, size=(n, 1, 1, 1))
    amp = rng.uniform(5, 500, size=(n, 2, 1, 1))
    return (amp * np.exp(-r / scale) + rng.standard_normal((n, 2, 64, 64))).astype(np.float32)


def test_null_score_is_standard_normal_for_pure_noise():
    # white noise: score ~ N(0, 1); mean and sd within 5 standard errors for n = 1000
    scores = Watermark(key=KEY).score(np.random.default_rng(0).standard_normal((1000, 1, 64, 64)))
    assert abs(scores.mean()) < 5 / np.sqrt(1000)
    assert abs(scores.std() - 1) < 5 / np.sqrt(2 * 1000)


def test_null_score_of_galaxies_is_no_wider_than_standard_normal():
    # galaxy light at the marked frequencies adds key-independent power to the
    # normalisation, so the null gets narrower, never wider (fewer false positives)
    scores = Watermark(key=KEY).score(_galaxies(1000, 0))
    assert abs(scores.mean()) < 5 / np.sqrt(1000)
    assert scores.std() < 1 + 5 / np.sqrt(2 * 1000)


def test_marked_images_are_detected_and_unmarked_not():
    wm = Watermark(key=KEY)
    x = _galaxies(300, 1)
    rates = measure_rates(wm, x, 1.0, noise_levels=(0.0, 1.0, 4.0))
    assert rates.false_positive_rate == 0.0  # expected count 600 * 2.9e-7
    assert rates.detection_rate[0.0] == 1.0
    assert rates.detection_rate[1.0] == 1.0
    # score ~ 64 * 0.3 / sqrt(1 + 16) = 4.7 at 4 sigma of extra noise: detection degrades
    assert 0.2 < rates.detection_rate[4.0] <= rates.detection_rate[1.0]
    assert rates.psnr_db > 40


def test_mark_is_below_noise_and_keyed():
    wm = Watermark(key=KEY)
    x = _galaxies(4, 2)
    marked = wm.embed(x, [1.0, 2.0])
    rms = np.sqrt(np.mean((marked - x) ** 2, axis=(0, 2, 3)))
    np.testing.assert_allclose(rms, [0.3, 0.6], rtol=1e-3)
    assert wm.detect(marked).all()
    assert not Watermark(key=12345).detect(marked).any()  # a different key sees nothing


def test_single_image_shapes_round_trip():
    wm = Watermark(key=KEY)
    one = _galaxies(1, 3)[0, 0]
    assert wm.embed(one, 1.0).shape == one.shape
    with pytest.raises(ShapeError, match="images must be"):
        wm.score(np.zeros((1, 1, 1, 8, 8)))
