"""Per-galaxy metrics and realism measures against independent closed-form numbers."""

import numpy as np
import pytest

from acie.deepscm import evaluation_metrics as em
from acie.deepscm.realism import frechet_distance, power_spectrum_error, radial_power_spectrum
from acie.errors import ShapeError


def _gaussian_blobs(n, size, sigma_pix, flux=100.0, bands=1):
    c = np.arange(size) - (size - 1) / 2
    r2 = c[None, :] ** 2 + c[:, None] ** 2
    img = np.exp(-r2 / (2 * sigma_pix**2))
    img = flux * img / img.sum()
    return np.broadcast_to(img, (n, bands, size, size)).copy()


def test_summary_median_and_bootstrap_se_of_the_mean():
    rng = np.random.default_rng(1)
    v = rng.normal(3.0, 2.0, 400)
    s = em.summary(v, "mean", seed=0, n_boot=400)
    assert s["value"] == pytest.approx(v.mean())
    # bootstrap SE of a mean is the analytic sd / sqrt(n) within ~10 % at 400 resamples
    assert s["se"] == pytest.approx(v.std() / np.sqrt(400), rel=0.12)
    assert em.summary(np.array([1.0, np.nan, 3.0, 2.0]))["value"] == 2.0
    assert em.summary(np.array([np.nan]))["n"] == 0
    with pytest.raises(ValueError, match="median"):
        em.summary(v, "mode")


def test_flux_colour_and_size_deltas_of_known_images():
    x = _gaussian_blobs(3, 32, 2.0, bands=2)
    doubled = 2.0 * x
    assert np.allclose(em.flux_delta(x, doubled, band=1), np.log10(2.0))
    redder = x.copy()
    redder[:, 0] *= 10 ** (-0.4 * 0.1)  # g fainter by 0.1 mag
    assert np.allclose(em.colour_delta(x, redder, g=0, r=1), 0.1)
    wider = _gaussian_blobs(3, 64, 4.0, bands=2)
    narrow = _gaussian_blobs(3, 64, 2.0, bands=2)
    # half-light radius of a circular Gaussian is sigma sqrt(2 ln 2): the ratio is 2
    d = em.size_delta(narrow, wider, band=0, psf_fwhm_pixels=np.zeros(3))
    assert np.allclose(d, np.log10(2.0), atol=0.01)
    assert np.all(np.isnan(em.flux_delta(x, -x, band=0)))  # no log of a negative flux
    with pytest.raises(ShapeError):
        em.flux_delta(x, x[:, :1], band=0)


def test_core_noise_sees_noise_scale_and_ignores_a_mean_offset():
    rng = np.random.default_rng(2)
    sigma = np.array([1.0])
    clean = np.full((4, 1, 32, 32), 50.0)
    noise = rng.standard_normal(clean.shape)
    mask = np.ones(clean.shape, bool)
    base = em.core_noise_rms(clean + noise, clean, mask, sigma)
    scaled = em.core_noise_rms(clean + 1.5 * noise, clean, mask, sigma)
    offset = em.core_noise_rms(clean + noise + 7.0, clean, mask, sigma)  # a wrong mean, not noise
    assert np.allclose(scaled / base, 1.5)
    assert np.allclose(offset, base)
    few = np.zeros_like(mask)
    few[:, :, :2, :5] = True  # 10 pixels < MIN_CORE_PIXELS
    assert np.all(np.isnan(em.core_noise_rms(clean + noise, clean, few, sigma)))
    core = em.core_mask(np.full_like(clean, 20.0), clean, sigma)  # 50 > 10 sigma and > 1.2 x 20
    assert core.all()
    assert not em.core_mask(clean, clean, sigma).any()  # not brightened


def test_reversibility_on_changed_pixels_only():
    sigma = np.array([2.0])
    x = np.zeros((2, 1, 8, 8))
    t = x.copy()
    t[:, :, :2, :] = 10.0  # 16 changed pixels of 64
    back = x.copy()
    back[:, :, :2, :] = 1.0  # 0.5 sigma off on the changed pixels
    back[:, :, 4:, :] = 100.0  # unchanged pixels do not count
    mask = em.changed_pixels(x, t, sigma)
    assert mask.sum() == 2 * 16
    assert np.allclose(em.l1_sigma(back, x, sigma, mask), 0.5)
    assert np.all(np.isnan(em.l1_sigma(back, x, sigma, np.zeros_like(mask))))


def test_frechet_distance_matches_the_gaussian_formula():
    rng = np.random.default_rng(3)
    a = rng.normal(0.0, 1.0, (20000, 3))
    b = rng.normal(0.0, 1.0, (20000, 3)) * np.array([1.0, 2.0, 1.0]) + np.array([1.0, 0.0, 0.0])
    # |dmu|^2 + sum (s_a - s_b)^2 for diagonal covariances: 1 + (1 - 2)^2 = 2
    assert frechet_distance(a, b) == pytest.approx(2.0, abs=0.08)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ShapeError):
        frechet_distance(a, b[:, :2])


def test_power_spectrum_of_white_noise_is_flat_at_its_variance():
    rng = np.random.default_rng(4)
    x = 3.0 * rng.standard_normal((50, 2, 32, 32))
    p = radial_power_spectrum(x)
    assert p.shape == (50, 2, 17)
    # Parseval: the mean of |FFT|^2 / H^2 over modes is the pixel variance, 9
    assert np.mean(p[..., 4:]) == pytest.approx(9.0, rel=0.03)
    assert np.allclose(power_spectrum_error(x, x), 0.0)
    # twice the amplitude is 4x the power: log10 4 = 0.602 dex in every bin
    assert np.allclose(power_spectrum_error(2 * x, x), np.log10(4.0))
