"""Realism of generated galaxy images, and the accuracy of the independent predictor.

* :func:`frechet_distance` — the Fréchet distance between two Gaussians fitted to
  feature sets (Heusel et al. 2017, "GANs trained by a two time-scale update rule",
  the FID formula ``|mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))``), here on the
  penultimate features of the independent predictor
  (:class:`acie.deepscm.predictors.PropertyPredictor`) instead of Inception.
* :func:`radial_power_spectrum` — the azimuthally averaged 2-D power spectrum of each
  image and band, in integer bins of the radial wavenumber ``|k|`` [cycles / stamp];
  :func:`power_spectrum_error` compares model and true images in the high-frequency band
  (``|k| >= k_min`` as a fraction of the Nyquist wavenumber), where the pixel noise and
  the PSF-limited detail live, as the mean over galaxies of
  ``|log10(P_model / P_true)|`` averaged over the band [dex].
* :func:`predictor_accuracy` — median absolute error, bias and R^2 of the predictor
  against simulator truth, per property.

Numpy and scipy only; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from acie.errors import ShapeError, expected_got

__all__ = [
    "frechet_distance",
    "power_spectrum_error",
    "predictor_accuracy",
    "radial_power_spectrum",
]


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussian fits of feature sets ``a`` (n, F) and ``b`` (m, F).

    Zero for identical sets; in squared feature units. Needs n, m >= 2.
    """
    from scipy import linalg

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ShapeError(
            expected_got("feature sets", "(n >= 2, F) and (m >= 2, F)", (a.shape, b.shape))
        )
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s_a @ s_b)
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    d = float(np.sum((mu_a - mu_b) ** 2) + np.trace(s_a + s_b - 2.0 * covmean))
    return max(d, 0.0)


def radial_power_spectrum(images: np.ndarray) -> np.ndarray:
    """Azimuthally averaged power spectrum (n, C, K) of images (n, C, H, H).

    Bin ``k`` holds the mean of ``|FFT|^2 / H^2`` over wavenumbers with
    ``round(|k|) == k`` [cycles per stamp], ``k = 0 .. H // 2``.
    """
    x = np.asarray(images, dtype=np.float64)
    if x.ndim != 4 or x.shape[-1] != x.shape[-2]:
        raise ShapeError(expected_got("images", "(n, C, H, H)", x.shape))
    h = x.shape[-1]
    p = np.abs(np.fft.fft2(x)) ** 2 / h**2
    f = np.fft.fftfreq(h) * h
    kr = np.rint(np.hypot(f[None, :], f[:, None])).astype(int).ravel()
    keep = kr <= h // 2
    counts = np.bincount(kr[keep], minlength=h // 2 + 1)
    flat = p.reshape(*p.shape[:2], -1)[..., keep]
    out = np.zeros((*p.shape[:2], h // 2 + 1))
    for i in range(p.shape[0]):
        for c in range(p.shape[1]):
            out[i, c] = np.bincount(kr[keep], weights=flat[i, c], minlength=h // 2 + 1)
    return out / counts


def power_spectrum_error(model: np.ndarray, truth: np.ndarray, *, k_min: float = 0.5) -> np.ndarray:
    """Per-galaxy high-frequency power-spectrum error (n,) [dex].

    The mean over bands and over bins ``|k| >= k_min * Nyquist`` of
    ``|log10(P_model / P_true)|``.
    """
    pm, pt = radial_power_spectrum(model), radial_power_spectrum(truth)
    kmax = pm.shape[-1] - 1
    band = np.arange(kmax + 1) >= k_min * kmax
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.abs(np.log10(pm[..., band] / pt[..., band]))
    return np.nanmean(r, axis=(1, 2))


def predictor_accuracy(
    predictor: object, images: np.ndarray, truth: Mapping[str, np.ndarray]
) -> dict[str, dict[str, float]]:
    """Median absolute error, median bias and R^2 of ``predictor`` per predicted property."""
    pred = predictor.predict(images)  # type: ignore[attr-defined]
    out = {}
    for k, p in pred.items():
        if k not in truth:
            continue
        t = np.asarray(truth[k], dtype=np.float64)
        err = p - t
        out[k] = {
            "median_abs_error": float(np.median(np.abs(err))),
            "median_bias": float(np.median(err)),
            "r2": float(1.0 - np.mean(err**2) / np.var(t)) if np.var(t) > 0 else float("nan"),
        }
    return out
