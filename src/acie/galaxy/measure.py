"""Image-based measurements, so that counterfactual images can be checked against intent.

All functions take images ``(n, n_bands, H, W)`` (or ``(n, H, W)``) in flux units per
pixel (nanomaggies for :class:`~acie.galaxy.simulator.GalaxySimulator`) and measure about
the stamp's true centre, where the simulator places every galaxy.

* :func:`total_flux` — sum over the stamp [flux units]. For untruncated Sérsic wings that
  leave the stamp this is a lower bound of the total flux.
* :func:`half_light_radius` — radius of the circular aperture holding half of the stamp
  flux (curve of growth), optionally corrected for a Gaussian PSF in quadrature
  (``r^2 - (FWHM/2)^2``, exact for a Gaussian galaxy) [pixels].
* :func:`shape_moments` — axis ratio and position angle from second moments with a
  circular Gaussian weight (Bernstein & Jarvis 2002 style, no PSF correction).
* :func:`measure_properties` — luminosity (``L = 4 pi d_L^2 F``) and size
  (``R = theta D_A``) in the units of :data:`acie.galaxy.properties.UNITS`.
"""

from __future__ import annotations

import numpy as np

from acie.errors import InputValidationError, ShapeError, UnknownNameError

__all__ = ["half_light_radius", "measure_properties", "shape_moments", "total_flux"]


def _as4d(images) -> np.ndarray:
    img = np.asarray(images, dtype=np.float64)
    if img.ndim == 3:
        img = img[:, None]
    if img.ndim != 4 or img.shape[-1] != img.shape[-2] or img.shape[-1] < 2:
        raise ShapeError(
            f"images must have shape (n, n_bands, H, W) or (n, H, W) with H == W >= 2; "
            f"got shape {np.shape(images)}"
        )
    return img


def _radius_grid(size: int) -> np.ndarray:
    c = np.arange(size) - (size - 1) / 2.0
    return np.hypot(c[None, :], c[:, None])


def total_flux(images) -> np.ndarray:
    """Sum of each image [flux units], shape ``(n, n_bands)``."""
    return _as4d(images).sum(axis=(-2, -1))


def half_light_radius(images, *, psf_fwhm=None) -> np.ndarray:
    """Half-light radius about the stamp centre [pixels], shape ``(n, n_bands)``.

    Parameters
    ----------
    images : array-like, shape (n, n_bands, H, W) or (n, H, W)
    psf_fwhm : array-like, shape (n,), optional [pixels]
        Gaussian PSF FWHM to remove in quadrature (result floored at 0).
    """
    img = _as4d(images)
    n, b, h, _ = img.shape
    r = _radius_grid(h).ravel()
    order = np.argsort(r, kind="stable")
    # after k + 1 pixels sorted by centre radius the enclosed area is k + 1 pixels, i.e. the
    # circle of radius sqrt((k + 1) / pi): use that area-equivalent radius for the curve
    r_area = np.sqrt(np.arange(1, r.size + 1) / np.pi)
    cum = np.cumsum(img.reshape(n, b, -1)[:, :, order], axis=-1)
    total = cum[..., -1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = cum / np.where(total > 0, total, np.nan)
    idx = np.argmax(frac >= 0.5, axis=-1)  # first crossing
    idx = np.clip(idx, 1, r.size - 1)
    f0 = np.take_along_axis(frac, (idx - 1)[..., None], -1)[..., 0]
    f1 = np.take_along_axis(frac, idx[..., None], -1)[..., 0]
    r0, r1 = r_area[idx - 1], r_area[idx]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.clip((0.5 - f0) / np.where(f1 > f0, f1 - f0, np.inf), 0.0, 1.0)
    rh = np.where(np.isfinite(f0), r0 + t * (r1 - r0), np.nan)
    if psf_fwhm is not None:
        fw = np.asarray(psf_fwhm, dtype=np.float64)
        if fw.shape not in ((), (n,)):
            raise ShapeError(f"psf_fwhm must be a scalar or of shape ({n},); got {fw.shape}")
        fw = np.broadcast_to(fw, (n,))[:, None]
        rh = np.sqrt(np.maximum(rh**2 - (fw / 2.0) ** 2, 0.0))
    return rh


def shape_moments(images, *, weight_sigma=None) -> tuple[np.ndarray, np.ndarray]:
    """Axis ratio and position angle [rad, CCW from +x] from weighted second moments.

    Parameters
    ----------
    images : array-like, shape (n, n_bands, H, W) or (n, H, W)
    weight_sigma : array-like, shape (n,), optional [pixels]
        Width of the circular Gaussian weight (default: the half-light radius of the
        band-summed image, at least 1.5 pixels).

    Returns
    -------
    axis_ratio, position_angle : ndarray, shape (n,)
        Measured on the band-summed image.
    """
    img = _as4d(images).sum(axis=1)
    n, h, _ = img.shape
    c = np.arange(h) - (h - 1) / 2.0
    x, y = np.meshgrid(c, c)  # x along columns, y along rows
    if weight_sigma is None:
        weight_sigma = np.maximum(half_light_radius(img)[:, 0], 1.5)
    ws = np.broadcast_to(np.asarray(weight_sigma, dtype=np.float64), (n,))
    w = np.exp(-(x**2 + y**2)[None] / (2.0 * ws[:, None, None] ** 2)) * img
    norm = w.sum(axis=(1, 2))
    mxx = (w * x**2).sum(axis=(1, 2)) / norm
    myy = (w * y**2).sum(axis=(1, 2)) / norm
    mxy = (w * x * y).sum(axis=(1, 2)) / norm
    tr = mxx + myy
    e1 = (mxx - myy) / tr
    e2 = 2.0 * mxy / tr
    e = np.clip(np.hypot(e1, e2), 0.0, 1.0 - 1e-12)
    q = np.sqrt((1.0 - e) / (1.0 + e))
    pa = np.mod(0.5 * np.arctan2(e2, e1), np.pi)
    return q, pa


def measure_properties(images, *, bands, pixel_scale: float, luminosity_distance,
                       angular_diameter_distance, psf_fwhm=None) -> dict[str, np.ndarray]:
    """Measure ``log_luminosity`` (r band) and ``log_size`` from images.

    Parameters
    ----------
    images : array-like, shape (n, n_bands, H, W) [nanomaggies / pixel]
    bands : sequence of str
        Must contain ``"r"``.
    pixel_scale : float [arcsec / pixel]
    luminosity_distance, angular_diameter_distance : array-like, shape (n,) [Mpc]
    psf_fwhm : array-like, shape (n,), optional [arcsec]
        Removed in quadrature from the half-light radius.

    Returns
    -------
    dict
        ``log_luminosity`` [dex(L_sun)], ``log_size`` [dex(kpc)], ``flux_r`` [nanomaggies],
        ``half_light_radius`` [arcsec], ``axis_ratio``, ``position_angle`` [rad].
    """
    from acie.galaxy.relations import SOLAR_ABS_MAG_AB
    from acie.physics.conservation import luminosity_from_flux

    bands = tuple(bands)
    if "r" not in bands:
        raise UnknownNameError(f"measure_properties needs the r band; got bands {bands}")
    if not pixel_scale > 0:
        raise InputValidationError(f"pixel_scale must be > 0 arcsec; got {pixel_scale!r}")
    img = _as4d(images)
    if img.shape[1] != len(bands):
        raise ShapeError(f"images have {img.shape[1]} bands but {len(bands)} band names were given")
    ib = bands.index("r")
    flux_r = total_flux(img)[:, ib]
    fw = None if psf_fwhm is None else np.asarray(psf_fwhm, dtype=np.float64) / pixel_scale
    rh_pix = half_light_radius(img[:, ib], psf_fwhm=fw)[:, 0]
    rh_arcsec = rh_pix * pixel_scale
    d_a = np.asarray(angular_diameter_distance, dtype=np.float64)
    size_kpc = rh_arcsec / 3600.0 * np.pi / 180.0 * d_a * 1e3
    with np.errstate(divide="ignore", invalid="ignore"):
        log_l = luminosity_from_flux(np.where(flux_r > 0, flux_r, np.nan), luminosity_distance,
                                     SOLAR_ABS_MAG_AB["r"])
        log_size = np.log10(np.where(size_kpc > 0, size_kpc, np.nan))
    q, pa = shape_moments(img)
    return {"log_luminosity": log_l, "log_size": log_size, "flux_r": flux_r,
            "half_light_radius": rh_arcsec, "axis_ratio": q, "position_angle": pa}
