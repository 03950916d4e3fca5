"""Vectorised rendering of Sérsic galaxies convolved with a Gaussian PSF.

Each Sérsic profile (Sérsic 1963; ``b_n`` from ``gamma(2n, b_n) = Gamma(2n)/2``,
Ciotti & Bertin 1999) is written as a mixture of concentric Gaussians with fixed widths
(in units of the half-light radius) and amplitudes fitted by regularised least squares to
the normalised radial profile (the approach of Hogg & Lang 2013, PASP 125, 719). A
mixture of Gaussians stays a mixture of Gaussians under shear, under convolution with a
Gaussian PSF and — to second order — under integration over a square pixel (variance
+1/12 pixel^2), so a whole batch renders with a few broadcast numpy operations.

Accuracy (checked against GalSim 2.8 in ``tests/galaxy/test_render.py``): enclosed-flux
curve within 1e-3 of the exact Sérsic for 0.3 <= n <= 6.2; rendered images agree with
``galsim.Sersic * galsim.Gaussian`` to better than 1 % of the total flux in the stamp and
2 % of the peak pixel (measured: 2e-4 and 0.1 %) for PSF FWHM >= 2 pixels. The pixel
integration is a second-order approximation: with a PSF narrower than ~1.5 pixels, cuspy
(n >~ 2) profiles with R_e of a few pixels lose central flux, so keep the PSF sampled. Profiles are untruncated (as GalSim's default), so a large galaxy
loses its outer wings off the stamp; the fluxes given are *total* fluxes.

Conventions: pixel ``[row, col] = [y, x]``; the profile centre sits at the true centre of
the stamp (between the two middle pixels for even sizes, as GalSim's ``true_center``);
the position angle of the major axis is counter-clockwise from +x; the half-light radius
is the circularised one, ``sqrt(a b)`` (GalSim's ``half_light_radius`` after an
area-preserving shear).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from acie.errors import NonPhysicalValueError, ShapeError

__all__ = [
    "SERSIC_N_RANGE",
    "render_sersic",
    "sersic_b",
    "sersic_enclosed_fraction",
    "sersic_mixture",
]

#: Sérsic indices the renderer supports (GalSim's Sersic range).
SERSIC_N_RANGE = (0.3, 6.2)

_N_STEP = 0.01
_LOG_SIGMA = np.linspace(-3.5, 1.8, 40)  # log10 of component widths / R_e


def sersic_b(n):
    """``b_n`` such that half the light lies inside ``R_e`` (exact, via gammaincinv)."""
    from scipy.special import gammaincinv

    return gammaincinv(2.0 * np.asarray(n, dtype=float), 0.5)


def sersic_enclosed_fraction(radius_over_re, n):
    """Fraction of a circular Sérsic profile's flux inside ``r / R_e`` (exact)."""
    from scipy.special import gammainc

    n = np.asarray(n, dtype=float)
    return gammainc(2.0 * n, sersic_b(n) * np.asarray(radius_over_re, dtype=float) ** (1.0 / n))


def _profile(r, n):
    from scipy.special import gamma

    b = sersic_b(n)
    total = 2.0 * np.pi * n * np.exp(b) * b ** (-2.0 * n) * gamma(2.0 * n)
    return np.exp(-b * (r ** (1.0 / n) - 1.0)) / total


@lru_cache(maxsize=1)
def sersic_mixture() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The Gaussian-mixture table: ``(n_grid, sigma / R_e, amplitudes[n, component])``.

    Amplitudes of unit-flux Gaussians sum to exactly 1 for every ``n``. Built once per
    process (about 0.1 s) by a ridge-regularised least-squares fit of the profile
    weighted by ``2 pi r^2`` (flux per unit ``ln r``) on ``1e-4 <= r/R_e <= 300``.
    """
    n_grid = np.round(np.arange(SERSIC_N_RANGE[0], SERSIC_N_RANGE[1] + 0.5 * _N_STEP, _N_STEP), 6)
    sig = 10.0**_LOG_SIGMA
    r = np.logspace(-4.0, np.log10(300.0), 1000)
    weight = 2.0 * np.pi * r**2
    design = np.exp(-(r[:, None] ** 2) / (2.0 * sig**2)) / (2.0 * np.pi * sig**2) * weight[:, None]
    ridge = 1e-4 * np.eye(sig.size)
    lhs = np.vstack([design, ridge])
    rhs = np.vstack(
        [_profile(r[:, None], n_grid[None, :]) * weight[:, None], np.zeros((sig.size, n_grid.size))]
    )
    amps = np.linalg.lstsq(lhs, rhs, rcond=None)[0].T  # one solve for every n at once
    return n_grid, sig, amps / amps.sum(axis=1, keepdims=True)


def _amplitudes(n: np.ndarray) -> np.ndarray:
    n_grid, _, amps = sersic_mixture()
    pos = (np.clip(n, SERSIC_N_RANGE[0], SERSIC_N_RANGE[1]) - n_grid[0]) / _N_STEP
    i0 = np.clip(np.floor(pos).astype(int), 0, n_grid.size - 2)
    t = (pos - i0)[:, None]
    return (1.0 - t) * amps[i0] + t * amps[i0 + 1]


def _as1d(name: str, x, n: int) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 0:
        a = np.full(n, float(a))
    if a.shape != (n,):
        raise ShapeError(f"{name} must be a scalar or of shape ({n},); got shape {a.shape}")
    return a


def render_sersic(
    flux,
    half_light_radius,
    sersic_n,
    axis_ratio,
    position_angle,
    psf_fwhm,
    *,
    image_size: int = 64,
    offset=None,
    chunk: int = 128,
    dtype=np.float32,
) -> np.ndarray:
    """Render PSF-convolved, pixel-integrated Sérsic galaxies.

    Parameters
    ----------
    flux : array-like, shape (n,) or (n, n_bands) [flux units, e.g. nanomaggies]
        Total flux of each galaxy (per band); the image is in the same units per pixel.
    half_light_radius : array-like, shape (n,) [pixels]
        Circularised half-light radius.
    sersic_n : array-like, shape (n,) [dimensionless]
        Sérsic index, in :data:`SERSIC_N_RANGE`.
    axis_ratio : array-like, shape (n,) [dimensionless]
        Minor-to-major axis ratio in (0, 1].
    position_angle : array-like, shape (n,) [rad]
        Major axis, counter-clockwise from +x.
    psf_fwhm : array-like, shape (n,) [pixels]
        FWHM of the Gaussian PSF.
    image_size : int
        Stamp side [pixels].
    offset : array-like, shape (n, 2), optional [pixels]
        (dx, dy) of the centre from the stamp's true centre.
    chunk : int
        Galaxies per vectorised block (memory ~ chunk * 40 * image_size^2 * 4 bytes).

    Returns
    -------
    ndarray, shape (n, n_bands, image_size, image_size)
        Flux per pixel (``n_bands = 1`` for 1-D ``flux``).
    """
    flux = np.asarray(flux, dtype=np.float64)
    if flux.ndim == 1:
        flux = flux[:, None]
    if flux.ndim != 2:
        raise ShapeError(f"flux must have shape (n,) or (n, n_bands); got shape {flux.shape}")
    n = flux.shape[0]
    re = _as1d("half_light_radius", half_light_radius, n)
    ns = _as1d("sersic_n", sersic_n, n)
    q = _as1d("axis_ratio", axis_ratio, n)
    pa = _as1d("position_angle", position_angle, n)
    fwhm = _as1d("psf_fwhm", psf_fwhm, n)
    for name, arr, ok in (
        ("half_light_radius", re, re > 0),
        ("axis_ratio", q, (q > 0) & (q <= 1)),
        ("psf_fwhm", fwhm, fwhm > 0),
        ("sersic_n", ns, (ns >= SERSIC_N_RANGE[0] - 1e-9) & (ns <= SERSIC_N_RANGE[1] + 1e-9)),
    ):
        if not (ok & np.isfinite(arr)).all():
            raise NonPhysicalValueError(
                f"{name} out of the renderer's domain (half_light_radius > 0, 0 < axis_ratio <= 1,"
                f" psf_fwhm > 0, {SERSIC_N_RANGE[0]} <= sersic_n <= {SERSIC_N_RANGE[1]}); "
                f"got {arr[~(ok & np.isfinite(arr))][:3].tolist()}"
            )
    if offset is None:
        offset = np.zeros((n, 2))
    offset = np.asarray(offset, dtype=np.float64)
    if offset.shape != (n, 2):
        raise ShapeError(f"offset must have shape ({n}, 2); got shape {offset.shape}")
    if int(image_size) < 2:
        raise ShapeError(f"image_size must be >= 2 pixels; got {image_size!r}")

    _, sig_unit, _ = sersic_mixture()
    amps = _amplitudes(ns)  # (n, K)
    coords = np.arange(image_size, dtype=np.float64) - (image_size - 1) / 2.0
    out = np.empty((n, flux.shape[1], image_size, image_size), dtype=dtype)
    psf_var = (fwhm / (2.0 * np.sqrt(2.0 * np.log(2.0)))) ** 2 + 1.0 / 12.0
    c, s = np.cos(pa), np.sin(pa)
    exx = c**2 / q + s**2 * q
    eyy = s**2 / q + c**2 * q
    exy = c * s * (1.0 / q - q)
    for lo in range(0, n, chunk):
        sl = slice(lo, min(lo + chunk, n))
        var = (sig_unit[None, :] * re[sl, None]) ** 2  # (m, K)
        sxx = var * exx[sl, None] + psf_var[sl, None]
        syy = var * eyy[sl, None] + psf_var[sl, None]
        sxy = var * exy[sl, None]
        det = sxx * syy - sxy**2
        norm = (amps[sl] / (2.0 * np.pi * np.sqrt(det))).astype(np.float32)
        ixx = (syy / det).astype(np.float32)[:, :, None, None]
        iyy = (sxx / det).astype(np.float32)[:, :, None, None]
        ixy = (-2.0 * sxy / det).astype(np.float32)[:, :, None, None]
        x = (coords[None, :] - offset[sl, 0:1]).astype(np.float32)[:, None, None, :]
        y = (coords[None, :] - offset[sl, 1:2]).astype(np.float32)[:, None, :, None]
        quad = ixx * x * x + iyy * y * y + ixy * x * y  # (m, K, H, W)
        np.multiply(quad, np.float32(-0.5), out=quad)
        np.exp(quad, out=quad)
        prof = np.einsum("mk,mkhw->mhw", norm, quad)
        out[sl] = (flux[sl, :, None, None] * prof[:, None, :, :]).astype(dtype)
    return out
