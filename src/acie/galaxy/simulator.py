"""A causal galaxy simulator with explicit exogenous noise and exact counterfactuals.

The structural causal model has one mechanism per property node of
:mod:`acie.galaxy.properties`, each a published scaling relation
(:mod:`acie.galaxy.relations`) plus explicit exogenous noise; the equations are in
:mod:`acie.galaxy.mechanisms`. :class:`GalaxySimulator` draws the noise and the
nuisances (axis ratio, position angle, PSF, redshift, pixel-noise seed), evaluates the
mechanisms and renders multi-band images in nanomaggies per pixel (AB zero point 22.5)
into a :class:`~acie.galaxy.batch.GalaxyBatch`.

A counterfactual keeps every exogenous noise (including the pixel-noise seed), sets the
intervened nodes, recomputes their descendants and re-renders; non-descendants are
untouched, so it is the exact ground truth of "what would this galaxy have looked like".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property

import numpy as np

from acie.errors import (
    InputValidationError,
    ShapeError,
    UnknownNameError,
    UnknownNodeError,
    expected_got,
)
from acie.galaxy import relations as rel
from acie.galaxy.batch import GalaxyBatch
from acie.galaxy.mechanisms import EXOGENOUS_NAMES, draw_exogenous, propagate
from acie.galaxy.properties import (
    NUISANCE_NAMES,
    PROPERTY_NAMES,
    descendants,
    validate_values,
)
from acie.galaxy.render import render_sersic
from acie.physics.conservation import flux_from_luminosity

__all__ = ["GalaxySimulator"]


def _range(name: str, value: Sequence[float]) -> tuple[float, float]:
    """``value`` as a ``(low, high)`` pair of floats (InputValidationError otherwise)."""
    try:
        lo, hi = value
        return float(lo), float(hi)
    except (TypeError, ValueError):
        raise InputValidationError(
            expected_got(name, "a (low, high) pair of numbers", value)
        ) from None


class GalaxySimulator:
    """Causal galaxy simulator (mechanisms in :mod:`acie.galaxy.mechanisms`).

    Parameters
    ----------
    image_size : int
        Stamp side [pixels].
    bands : tuple of str
        Subset of ``("g", "r", "i")``.
    pixel_scale : float [arcsec / pixel]
        0.396 (SDSS) by default.
    seed : int
        Default seed of :meth:`sample`.
    log_halo_mass_range : (float, float) [dex(M_sun)]
        Uniform range of ``log10 M_200c``.
    redshift_range : (float, float)
        Uniform range of redshift (Planck 2018 distances).
    psf_fwhm_range : (float, float) [arcsec]
        Uniform range of the Gaussian PSF FWHM.
    sky_sigma : mapping of band to float [nanomaggies / pixel]
        Background noise per pixel (default ~24.2 mag 5-sigma point-source depth in r).
    gain : float [electrons / nanomaggy]
        Sets the source Poisson noise: variance ``sky_sigma^2 + max(I, 0) / gain``.
    """

    def __init__(
        self,
        *,
        image_size: int = 64,
        bands: tuple[str, ...] = ("g", "r", "i"),
        pixel_scale: float = 0.396,
        seed: int = 0,
        log_halo_mass_range: tuple[float, float] = (11.0, 13.0),
        redshift_range: tuple[float, float] = (0.08, 0.25),
        psf_fwhm_range: tuple[float, float] = (0.8, 1.4),
        sky_sigma: Mapping[str, float] | None = None,
        gain: float = 1000.0,
    ) -> None:
        self.image_size = image_size
        self.bands = tuple(bands)
        self.pixel_scale = pixel_scale
        self.seed = seed
        self.log_halo_mass_range = _range("log_halo_mass_range", log_halo_mass_range)
        self.redshift_range = _range("redshift_range", redshift_range)
        self.psf_fwhm_range = _range("psf_fwhm_range", psf_fwhm_range)
        self.sky_sigma = (
            dict(sky_sigma) if sky_sigma is not None else {"g": 0.008, "r": 0.01, "i": 0.015}
        )
        self.gain = gain
        self._validate()

    def _validate(self) -> None:
        if not isinstance(self.image_size, (int, np.integer)) or self.image_size < 8:
            raise ShapeError(f"image_size must be an integer >= 8 pixels; got {self.image_size!r}")
        if not self.bands:
            raise InputValidationError("bands must name at least one band; got ()")
        for b in self.bands:
            if b not in rel.BELL03:
                raise UnknownNameError(f"unknown band {b!r}; known bands: {', '.join(rel.BELL03)}")
            if b not in self.sky_sigma:
                raise InputValidationError(f"sky_sigma has no entry for band {b!r}")
        if not self.pixel_scale > 0:
            raise InputValidationError(f"pixel_scale must be > 0 arcsec; got {self.pixel_scale!r}")
        lo, hi = self.log_halo_mass_range
        validate_values("log_halo_mass", [lo, hi])
        if not lo <= hi:
            raise InputValidationError(f"log_halo_mass_range must be increasing; got {(lo, hi)}")
        zlo, zhi = self.redshift_range
        if not 0 < zlo <= zhi <= 5:
            raise InputValidationError(
                f"redshift_range must satisfy 0 < lo <= hi <= 5; got {(zlo, zhi)}"
            )
        plo, phi = self.psf_fwhm_range
        if not 0 < plo <= phi:
            raise InputValidationError(
                f"psf_fwhm_range must satisfy 0 < lo <= hi [arcsec]; got {(plo, phi)}"
            )
        if not self.gain > 0:
            raise InputValidationError(f"gain must be > 0 electrons/nanomaggy; got {self.gain!r}")

    def __repr__(self) -> str:
        return (
            f"GalaxySimulator(image_size={self.image_size}, bands={self.bands}, "
            f"pixel_scale={self.pixel_scale}, seed={self.seed})"
        )

    def config(self) -> dict:
        """The constructor arguments (JSON-serialisable), e.g. for dataset metadata."""
        return {
            "image_size": int(self.image_size),
            "bands": list(self.bands),
            "pixel_scale": self.pixel_scale,
            "seed": self.seed,
            "log_halo_mass_range": list(self.log_halo_mass_range),
            "redshift_range": list(self.redshift_range),
            "psf_fwhm_range": list(self.psf_fwhm_range),
            "sky_sigma": dict(self.sky_sigma),
            "gain": self.gain,
        }

    # -- distances ---------------------------------------------------------------------
    @cached_property
    def _distance_table(self):
        from astropy import units as u
        from astropy.cosmology import Planck18

        z = np.linspace(0.0, max(self.redshift_range[1], 0.5) * 1.01, 2001)[1:]
        d_l = Planck18.luminosity_distance(z).to_value(u.Mpc)
        d_a = Planck18.angular_diameter_distance(z).to_value(u.Mpc)
        return z, d_l, d_a

    def distances(self, redshift) -> tuple[np.ndarray, np.ndarray]:
        """Luminosity and angular-diameter distances [Mpc] in Planck 2018 (interpolated)."""
        z, d_l, d_a = self._distance_table
        redshift = np.asarray(redshift, dtype=float)
        return np.interp(redshift, z, d_l), np.interp(redshift, z, d_a)

    # -- the SCM -----------------------------------------------------------------------
    def draw_noise(self, n: int, rng: np.random.Generator) -> tuple[dict, dict]:
        """Draw exogenous noise and nuisances for ``n`` galaxies from ``rng``."""
        noise = draw_exogenous(n, rng)
        nuis = {
            "axis_ratio": rng.uniform(0.2, 1.0, n),
            "position_angle": rng.uniform(0.0, np.pi, n),
            "psf_fwhm": rng.uniform(*self.psf_fwhm_range, n),
            "redshift": rng.uniform(*self.redshift_range, n),
            "noise_seed": rng.integers(0, 2**31 - 1, n, dtype=np.int64),
        }
        return noise, nuis

    def sample(self, n: int, *, seed: int | None = None, render: bool = True) -> GalaxyBatch:
        """Draw ``n`` galaxies (noise, nuisances, properties) and render them.

        Parameters
        ----------
        n : int
            Number of galaxies (>= 1).
        seed : int, optional
            Seed of :func:`numpy.random.default_rng` (default: the simulator's ``seed``).
        render : bool
            If False, ``images`` is an empty ``(n, n_bands, 0, 0)`` array (fast).
        """
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            raise InputValidationError(f"n must be a positive integer; got {n!r}")
        rng = np.random.default_rng(self.seed if seed is None else seed)
        noise, nuis = self.draw_noise(int(n), rng)
        return self.from_noise(noise, nuis, render=render)

    def from_noise(
        self,
        noise: Mapping[str, np.ndarray],
        nuisances: Mapping[str, np.ndarray],
        *,
        render: bool = True,
    ) -> GalaxyBatch:
        """Evaluate the SCM for given exogenous noise and nuisances (the deterministic part)."""
        missing = [k for k in EXOGENOUS_NAMES if k not in noise]
        missing += [k for k in NUISANCE_NAMES if k not in nuisances]
        if missing:
            raise InputValidationError(f"missing exogenous variables: {', '.join(missing)}")
        n = len(np.asarray(noise[EXOGENOUS_NAMES[0]]))
        for d in (noise, nuisances):
            for k, val in d.items():
                if np.shape(val) != (n,):
                    raise ShapeError(f"{k} must have shape ({n},); got {np.shape(val)}")
        noise = {k: np.asarray(noise[k], dtype=np.float64) for k in EXOGENOUS_NAMES}
        nuisances = {k: np.asarray(nuisances[k]) for k in NUISANCE_NAMES}
        props = propagate(noise, {}, set(PROPERTY_NAMES), self.log_halo_mass_range)
        return self._batch(props, noise, nuisances, render=render)

    def counterfactual(
        self, batch: GalaxyBatch, interventions: Mapping[str, object], *, render: bool = True
    ) -> GalaxyBatch:
        """Exact counterfactual: ``do(interventions)`` with every exogenous noise kept.

        Parameters
        ----------
        batch : GalaxyBatch
            Factual galaxies from this simulator.
        interventions : mapping of str to float, array of shape (n,) or Quantity
            New values of property nodes, in :data:`~acie.galaxy.properties.UNITS` (a
            Quantity in linear units is accepted for ``log_*`` nodes). An empty mapping
            returns the factual batch re-rendered (identical images).

        Raises
        ------
        UnknownNodeError
            An intervention names something that is not a property node.
        NonPhysicalValueError
            A value outside the physical domain (negative mass, ``sersic_n <= 0``, NaN…).
        OutOfRangeError
            A value outside the simulator's validity range.
        ShapeError
            An array value whose shape is not ``(len(batch),)``.
        """
        if not isinstance(batch, GalaxyBatch):
            raise InputValidationError(f"batch must be a GalaxyBatch; got {type(batch).__name__}")
        if not isinstance(interventions, Mapping):
            raise InputValidationError(
                f"interventions must be a mapping of property name to value; got "
                f"{type(interventions).__name__}"
            )
        n = len(batch)
        fixed = {}
        for name, value in interventions.items():
            if name not in PROPERTY_NAMES:
                raise UnknownNodeError(name, list(PROPERTY_NAMES))
            fixed[name] = validate_values(name, value, n=n)
        recompute = set(descendants(tuple(fixed))) - set(fixed)
        keep = {
            k: batch.properties[k] for k in PROPERTY_NAMES if k not in recompute and k not in fixed
        }
        props = propagate(batch.noise, {**keep, **fixed}, recompute, self.log_halo_mass_range)
        return self._batch(props, dict(batch.noise), dict(batch.nuisances), render=render)

    # -- images ------------------------------------------------------------------------
    def band_fluxes(self, props: Mapping[str, np.ndarray], redshift) -> np.ndarray:
        """Noise-free total flux per band [nanomaggies], shape ``(n, n_bands)``."""
        d_l, _ = self.distances(redshift)
        colour = rel.g_minus_r(rel.log_mass_to_light_r(props["age"], props["metallicity"]))
        out = []
        for b in self.bands:
            log_l = rel.band_log_luminosity(props["log_luminosity"], colour, b)
            out.append(flux_from_luminosity(log_l, d_l, rel.SOLAR_ABS_MAG_AB[b]))
        return np.stack(out, axis=1)

    def half_light_radius_pixels(self, log_size, redshift) -> np.ndarray:
        """Circularised half-light radius on the sky [pixels]."""
        _, d_a = self.distances(redshift)
        arcsec = 10.0 ** np.asarray(log_size) / (d_a * 1e3) * (180.0 / np.pi) * 3600.0
        return arcsec / self.pixel_scale

    def render(
        self,
        props: Mapping[str, np.ndarray],
        nuisances: Mapping[str, np.ndarray],
        *,
        add_noise: bool = True,
    ) -> np.ndarray:
        """Render images ``(n, n_bands, H, W)`` float32 [nanomaggies / pixel].

        The pixel noise of galaxy ``i`` is drawn from ``default_rng(noise_seed[i])``, so it
        is identical in a counterfactual; its variance is ``sky_sigma^2 + max(I, 0)/gain``.
        """
        z = np.asarray(nuisances["redshift"], dtype=float)
        flux = self.band_fluxes(props, z)
        img = render_sersic(
            flux,
            self.half_light_radius_pixels(props["log_size"], z),
            props["sersic_n"],
            nuisances["axis_ratio"],
            nuisances["position_angle"],
            np.asarray(nuisances["psf_fwhm"]) / self.pixel_scale,
            image_size=self.image_size,
        )
        if add_noise:
            sky = np.array([self.sky_sigma[b] for b in self.bands], dtype=np.float32)[:, None, None]
            shape = img.shape[1:]
            for i, s in enumerate(np.asarray(nuisances["noise_seed"], dtype=np.int64)):
                g = np.random.default_rng(int(s)).standard_normal(shape, dtype=np.float32)
                sd = np.sqrt(sky**2 + np.maximum(img[i], 0.0) / np.float32(self.gain))
                img[i] += g * sd
        return img

    def _batch(self, props, noise, nuis, *, render: bool) -> GalaxyBatch:
        z = np.asarray(nuis["redshift"], dtype=float)
        d_l, d_a = self.distances(z)
        n = z.size
        images = (
            self.render(props, nuis)
            if render
            else np.empty((n, len(self.bands), 0, 0), dtype=np.float32)
        )
        return GalaxyBatch(
            properties=props,
            noise=noise,
            nuisances=nuis,
            images=images,
            bands=self.bands,
            pixel_scale=self.pixel_scale,
            flux=self.band_fluxes(props, z),
            luminosity_distance=d_l,
            angular_diameter_distance=d_a,
            meta={"simulator": self.config()},
        )
