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
* :func:`sersic_fit` — total flux, Sérsic index and half-light radius from a fit of the
  PSF-convolved Sérsic curve of growth in elliptical apertures (shape from the moments):
  it extrapolates the wings that leave the stamp and removes the PSF. Measured on 400
  simulator galaxies (seed 5, r band, with noise; 5th / 50th / 95th percentiles of
  measured − true): log L −0.034 / −0.002 / +0.035 dex and log R_e −0.036 / +0.009 /
  +0.079 dex, against −0.088 / −0.013 / +0.072 and −0.112 / +0.015 / +0.199 for the stamp
  sum and the quadrature-corrected curve of growth.
* :func:`measure_properties` — luminosity (``L = 4 pi d_L^2 F``) and size
  (``R = theta D_A``) in the units of :data:`acie.galaxy.properties.UNITS`, by either method.
"""

from __future__ import annotations

import numpy as np

from acie.errors import InputValidationError, ShapeError, UnknownNameError

__all__ = [
    "half_light_radius",
    "measure_properties",
    "sersic_fit",
    "shape_moments",
    "sky_sigma",
    "total_flux",
]


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
    with np.errstate(invalid="ignore", divide="ignore"):  # blank images give NaN
        norm = w.sum(axis=(1, 2))
        mxx = (w * x**2).sum(axis=(1, 2)) / norm
        myy = (w * y**2).sum(axis=(1, 2)) / norm
        mxy = (w * x * y).sum(axis=(1, 2)) / norm
        tr = mxx + myy
        e1 = (mxx - myy) / tr
        e2 = 2.0 * mxy / tr
        e = np.hypot(e1, e2)
        bad = ~(np.isfinite(e) & (tr > 0) & (e < 1))
        q = np.where(bad, np.nan, np.sqrt((1.0 - e) / (1.0 + e)))
        pa = np.where(bad, np.nan, np.mod(0.5 * np.arctan2(e2, e1), np.pi))
    return q, pa


def sky_sigma(images, *, border: int = 4) -> np.ndarray:
    """Robust pixel-noise estimate from the stamp border: 1.4826 x MAD, shape (n, n_bands)."""
    img = _as4d(images)
    h = img.shape[-1]
    mask = np.zeros((h, h), dtype=bool)
    mask[:border] = mask[-border:] = True
    mask[:, :border] = mask[:, -border:] = True
    edge = img[..., mask]
    med = np.median(edge, axis=-1, keepdims=True)
    return 1.4826 * np.median(np.abs(edge - med), axis=-1)


def sersic_fit(images, *, psf_fwhm, noise_sigma=None, n_radii: int = 20) -> dict[str, np.ndarray]:
    """Fit a PSF-convolved Sérsic curve of growth to each image (first band of each).

    The curve of growth is measured in elliptical apertures with the axis ratio and
    position angle of :func:`shape_moments` (so that the circularised radius ``r``
    encloses the area ``pi r^2``), at ``n_radii`` radii from 1 pixel to the largest
    ellipse inside the stamp. The model is the Gaussian-mixture Sérsic of
    :mod:`acie.galaxy.render` with the PSF variance added to every component, which is
    exact for round galaxies. The total flux is solved linearly, weighting each radius by
    the inverse sky variance of its aperture; the Sérsic index (grid step 0.1 over
    0.3–6.2) and the half-light radius (log grid, refined by a parabola) by least squares.

    Parameters
    ----------
    images : array-like, shape (n, H, W) or (n, 1, H, W) [flux / pixel]
    psf_fwhm : array-like, shape (n,) or scalar [pixels]
        FWHM of the Gaussian PSF.
    noise_sigma : array-like, shape (n,) or scalar, optional [flux / pixel]
        Pixel noise (default: :func:`sky_sigma` of the border).

    Returns
    -------
    dict
        ``flux`` [flux units], ``sersic_n``, ``half_light_radius`` [pixels, circularised],
        ``axis_ratio``, ``position_angle`` [rad]; NaN where the fit is impossible (no
        positive flux).
    """
    from acie.galaxy.render import sersic_mixture

    img = _as4d(images)[:, 0]
    n, h, _ = img.shape
    fw = np.broadcast_to(np.asarray(psf_fwhm, dtype=np.float64), (n,))
    noise = (
        sky_sigma(img[:, None])[:, 0]
        if noise_sigma is None
        else np.broadcast_to(np.asarray(noise_sigma, dtype=np.float64), (n,))
    )
    c = np.arange(h) - (h - 1) / 2.0
    x, y = np.meshgrid(c, c)
    q, pa = shape_moments(img[:, None])
    ok = np.isfinite(q) & np.isfinite(pa)
    q = np.where(ok, q, 1.0)
    pa = np.where(ok, pa, 0.0)
    n_grid, sig, amps = sersic_mixture()
    sel = np.arange(0, n_grid.size, 10)
    ngrid, a_n = n_grid[sel], amps[sel]
    log_re = np.linspace(np.log10(0.2), np.log10(3.0 * h), 60)
    r_area = np.sqrt(np.arange(1, h * h + 1) / np.pi)
    out = {k: np.full(n, np.nan) for k in ("flux", "sersic_n", "half_light_radius")}
    for i in range(n):
        cp, sp = np.cos(pa[i]), np.sin(pa[i])
        xp, yp = x * cp + y * sp, -x * sp + y * cp
        r_ell = np.sqrt(q[i] * xp**2 + yp**2 / q[i]).ravel()
        cum = np.cumsum(img[i].ravel()[np.argsort(r_ell, kind="stable")])
        radii = np.geomspace(1.0, max((h / 2.0 - 0.5) * np.sqrt(q[i]), 1.5), n_radii)
        g = np.interp(radii, r_area, cum)
        if not np.isfinite(g).all() or g[-1] <= 0:
            continue
        s2 = (fw[i] / (2.0 * np.sqrt(2.0 * np.log(2.0)))) ** 2 + 1.0 / 12.0
        w = 1.0 / (noise[i] ** 2 * np.pi * radii**2 + (1e-3 * g[-1]) ** 2)

        def chi2_table(lre, g=g, w=w, radii=radii, s2=s2):
            var = (sig[None, :] * 10.0 ** lre[:, None]) ** 2 + s2
            enc = -np.expm1(-(radii[None, None, :] ** 2) / (2.0 * var[:, :, None]))
            m = np.einsum("nk,ekr->ner", a_n, enc)
            flux = (m * g * w).sum(-1) / (m * m * w).sum(-1)
            return ((g - flux[..., None] * m) ** 2 * w).sum(-1), flux

        chi, _ = chi2_table(log_re)
        j_n, j_r = np.unravel_index(np.argmin(chi), chi.shape)
        best_lre = log_re[j_r]
        if 0 < j_r < log_re.size - 1:  # parabola through the three grid points
            y0, y1, y2 = chi[j_n, j_r - 1], chi[j_n, j_r], chi[j_n, j_r + 1]
            den = y0 - 2 * y1 + y2
            if den > 0:
                step = log_re[1] - log_re[0]
                best_lre = log_re[j_r] + 0.5 * step * (y0 - y2) / den
        _, flux_b = chi2_table(np.array([best_lre]))
        out["flux"][i] = flux_b[j_n, 0]
        out["sersic_n"][i] = ngrid[j_n]
        out["half_light_radius"][i] = 10.0**best_lre
    out["axis_ratio"], out["position_angle"] = np.where(ok, q, np.nan), np.where(ok, pa, np.nan)
    return out


def measure_properties(
    images,
    *,
    bands,
    pixel_scale: float,
    luminosity_distance,
    angular_diameter_distance,
    psf_fwhm=None,
    method: str = "aperture",
) -> dict[str, np.ndarray]:
    """Measure ``log_luminosity`` (r band) and ``log_size`` from images.

    Parameters
    ----------
    images : array-like, shape (n, n_bands, H, W) [nanomaggies / pixel]
    bands : sequence of str
        Must contain ``"r"``.
    pixel_scale : float [arcsec / pixel]
    luminosity_distance, angular_diameter_distance : array-like, shape (n,) [Mpc]
    psf_fwhm : array-like, shape (n,), optional [arcsec]
        Removed in quadrature from the half-light radius (``aperture``); required by
        ``sersic``.
    method : {"aperture", "sersic"}
        ``aperture``: stamp sum and curve-of-growth radius (fast, biased low for galaxies
        whose wings leave the stamp); ``sersic``: :func:`sersic_fit` (about 10 ms per
        galaxy, extrapolates the wings and removes the PSF; adds ``sersic_n``).

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
    extra = {}
    if method == "aperture":
        flux_r = total_flux(img)[:, ib]
        fw = None if psf_fwhm is None else np.asarray(psf_fwhm, dtype=np.float64) / pixel_scale
        rh_pix = half_light_radius(img[:, ib], psf_fwhm=fw)[:, 0]
    elif method == "sersic":
        if psf_fwhm is None:
            raise InputValidationError("method 'sersic' needs psf_fwhm [arcsec]")
        fit = sersic_fit(img[:, ib], psf_fwhm=np.asarray(psf_fwhm, dtype=np.float64) / pixel_scale)
        flux_r, rh_pix = fit["flux"], fit["half_light_radius"]
        extra["sersic_n"] = fit["sersic_n"]
    else:
        raise InputValidationError(f"method must be 'aperture' or 'sersic'; got {method!r}")
    rh_arcsec = rh_pix * pixel_scale
    d_a = np.asarray(angular_diameter_distance, dtype=np.float64)
    size_kpc = rh_arcsec / 3600.0 * np.pi / 180.0 * d_a * 1e3
    with np.errstate(divide="ignore", invalid="ignore"):
        log_l = luminosity_from_flux(
            np.where(flux_r > 0, flux_r, np.nan), luminosity_distance, SOLAR_ABS_MAG_AB["r"]
        )
        log_size = np.log10(np.where(size_kpc > 0, size_kpc, np.nan))
    q, pa = shape_moments(img)
    return {
        "log_luminosity": log_l,
        "log_size": log_size,
        "flux_r": flux_r,
        "half_light_radius": rh_arcsec,
        "axis_ratio": q,
        "position_angle": pa,
        **extra,
    }
