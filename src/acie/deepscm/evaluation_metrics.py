"""Per-galaxy metrics of counterfactual images against the simulator's exact counterfactuals.

Every function takes arrays for ``n`` galaxies and returns per-galaxy values (``n,``),
so that :func:`summary` can give a statistic with its bootstrap standard error (Efron &
Tibshirani 1993: the standard deviation of the statistic over resamples of galaxies with
replacement, seeded). Images are ``(n, C, H, W)`` in flux per pixel; ``sigma`` is the
per-band sky-noise sigma in the same unit, so pixel metrics are in units of sky sigma.

Definitions (``x`` factual image, ``m`` model counterfactual, ``t`` true counterfactual
rendered by the simulator with the same exogenous noise and pixel-noise seed):

* ``Δlog F = log10(F(cf) / F(x))`` with ``F`` the stamp's total flux in one band
  (:func:`acie.galaxy.measure.total_flux`); the error is ``|Δ_m − Δ_t|`` [dex].
* ``Δlog R_e``: the same with the PSF-corrected half-light radius
  (:func:`acie.galaxy.measure.half_light_radius`) [dex].
* ``Δ(g − r) = −2.5 log10(F_g / F_r)`` change [mag].
* changed pixels: ``|t − x| > 1 sigma``; reversibility is the mean ``|undo(do(x)) − x|``
  over them [sigma] (L1).
* core noise: the pixel noise (image minus the simulator's noise-free counterfactual),
  high-passed by subtracting its 3 x 3 running mean (so a smooth error of the mean is not
  counted as noise; the same linear filter on model and truth), RMS over the *brightened
  core*: pixels where the noise-free counterfactual exceeds 10 sigma and 1.2 times the
  noise-free factual. Ratios need at least :data:`MIN_CORE_PIXELS` such pixels.
"""

from __future__ import annotations

import numpy as np

from acie.errors import ShapeError, expected_got

__all__ = [
    "MIN_CORE_PIXELS",
    "colour_delta",
    "core_noise_rms",
    "flux_delta",
    "l1_sigma",
    "size_delta",
    "summary",
]

#: Fewest brightened-core pixels (over all bands) for a galaxy's core-noise ratio.
MIN_CORE_PIXELS = 20

_STATS = ("median", "p95", "mean", "p05")


def _stat(v: np.ndarray, stat: str, axis: int | None = None) -> np.ndarray:
    if stat == "median":
        return np.nanmedian(v, axis=axis)
    if stat == "p95":
        return np.nanquantile(v, 0.95, axis=axis)
    if stat == "p05":
        return np.nanquantile(v, 0.05, axis=axis)
    return np.nanmean(v, axis=axis)


def summary(
    values: np.ndarray, stat: str = "median", *, seed: int = 0, n_boot: int = 200
) -> dict[str, float]:
    """``{"value", "se", "n"}`` of a statistic over galaxies, NaN values left out.

    ``stat`` is ``median``, ``mean``, ``p95`` or ``p05``; a rate is the ``mean`` of a 0/1
    array. ``se`` is the bootstrap standard error over ``n_boot`` resamples (seeded).
    """
    if stat not in _STATS:
        raise ValueError(expected_got("stat", " | ".join(_STATS), stat))
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"value": float("nan"), "se": float("nan"), "n": 0}
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, v.size, size=(n_boot, v.size))
    boot = _stat(v[idx], stat, axis=1)
    return {
        "value": float(_stat(v, stat)),
        "se": float(np.std(boot, ddof=1)) if v.size > 1 else float("nan"),
        "n": int(v.size),
    }


def _check(*arrays: np.ndarray) -> None:
    shapes = {np.shape(a) for a in arrays}
    if len(shapes) != 1 or np.ndim(arrays[0]) != 4:
        raise ShapeError(expected_got("image arrays", "equal shapes (n, C, H, W)", sorted(shapes)))


def _log_ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(
            (a > 0) & (b > 0), np.log10(np.where(a > 0, a, 1) / np.where(b > 0, b, 1)), np.nan
        )


def flux_delta(factual: np.ndarray, cf: np.ndarray, band: int) -> np.ndarray:
    """``log10(F(cf) / F(factual))`` of the stamp sum in ``band`` (n,) [dex]; NaN if F <= 0."""
    from acie.galaxy.measure import total_flux

    _check(factual, cf)
    return _log_ratio(total_flux(cf[:, band]), total_flux(factual[:, band]))[:, 0]


def size_delta(
    factual: np.ndarray, cf: np.ndarray, band: int, psf_fwhm_pixels: np.ndarray
) -> np.ndarray:
    """``log10(R_e(cf) / R_e(factual))`` of the PSF-corrected half-light radius (n,) [dex]."""
    from acie.galaxy.measure import half_light_radius

    _check(factual, cf)
    r_f = half_light_radius(factual[:, band], psf_fwhm=psf_fwhm_pixels)[:, 0]
    r_c = half_light_radius(cf[:, band], psf_fwhm=psf_fwhm_pixels)[:, 0]
    return _log_ratio(r_c, r_f)


def colour_delta(factual: np.ndarray, cf: np.ndarray, g: int, r: int) -> np.ndarray:
    """Change of ``g − r = −2.5 log10(F_g / F_r)`` from factual to cf (n,) [mag]."""
    from acie.galaxy.measure import total_flux

    _check(factual, cf)
    ff, fc = total_flux(factual), total_flux(cf)
    return -2.5 * (_log_ratio(fc[:, g], fc[:, r]) - _log_ratio(ff[:, g], ff[:, r]))


def l1_sigma(
    a: np.ndarray, b: np.ndarray, sigma: np.ndarray, mask: np.ndarray | None = None
) -> np.ndarray:
    """Per-galaxy mean ``|a − b| / sigma`` (n,), over ``mask`` pixels if given (NaN if none)."""
    _check(a, b)
    d = (
        np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))
        / np.asarray(sigma)[None, :, None, None]
    )
    if mask is None:
        return d.mean(axis=(1, 2, 3))
    m = np.asarray(mask, bool)
    cnt = m.sum(axis=(1, 2, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt > 0, (d * m).sum(axis=(1, 2, 3)) / np.maximum(cnt, 1), np.nan)


def changed_pixels(
    factual: np.ndarray, true_cf: np.ndarray, sigma: np.ndarray, threshold: float = 1.0
) -> np.ndarray:
    """Mask (n, C, H, W) of pixels the true intervention changed by more than ``threshold`` sigma."""
    _check(factual, true_cf)
    d = np.abs(np.asarray(true_cf, np.float64) - np.asarray(factual, np.float64))
    return d / np.asarray(sigma)[None, :, None, None] > threshold


def core_mask(clean_factual: np.ndarray, clean_cf: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """The brightened core (n, C, H, W): noise-free cf > 10 sigma and > 1.2 x noise-free factual."""
    _check(clean_factual, clean_cf)
    s = np.asarray(sigma)[None, :, None, None]
    return (clean_cf > 10.0 * s) & (clean_cf > 1.2 * clean_factual)


def core_noise_rms(
    image: np.ndarray, clean: np.ndarray, mask: np.ndarray, sigma: np.ndarray
) -> np.ndarray:
    """High-passed noise RMS of ``image − clean`` over ``mask`` pixels (n,) [sigma].

    NaN for galaxies with fewer than :data:`MIN_CORE_PIXELS` mask pixels.
    """
    from scipy.ndimage import uniform_filter

    _check(image, clean, mask)
    r = (np.asarray(image, np.float64) - np.asarray(clean, np.float64)) / np.asarray(sigma)[
        None, :, None, None
    ]
    hp = r - uniform_filter(r, size=(1, 1, 3, 3), mode="nearest")
    m = np.asarray(mask, bool)
    cnt = m.sum(axis=(1, 2, 3))
    ms = (hp**2 * m).sum(axis=(1, 2, 3)) / np.maximum(cnt, 1)
    return np.where(cnt >= MIN_CORE_PIXELS, np.sqrt(ms), np.nan)
