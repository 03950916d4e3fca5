"""A batch of simulated galaxies: properties, exogenous noise, nuisances and images.

:class:`GalaxyBatch` is what :class:`~acie.galaxy.simulator.GalaxySimulator` returns from
``sample``, ``from_noise`` and ``counterfactual``, and what
:func:`acie.galaxy.dataset.read_dataset` reads back from an HDF5 dataset.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from acie.galaxy.properties import PROPERTY_NAMES

__all__ = ["GalaxyBatch"]


@dataclass(frozen=True)
class GalaxyBatch:
    """A batch of simulated galaxies.

    Attributes
    ----------
    properties : dict of str to ndarray, shape (n,)
        Property nodes in the units of :data:`acie.galaxy.properties.UNITS`.
    noise : dict of str to ndarray, shape (n,)
        Exogenous noise of each mechanism (:data:`acie.galaxy.mechanisms.EXOGENOUS_NAMES`).
    nuisances : dict of str to ndarray, shape (n,)
        Axis ratio, position angle [rad], PSF FWHM [arcsec], redshift, noise seed (int64).
    images : ndarray, shape (n, n_bands, H, W), float32 [nanomaggies / pixel]
        Rendered images with pixel noise.
    bands : tuple of str
    pixel_scale : float [arcsec / pixel]
    flux : ndarray, shape (n, n_bands) [nanomaggies]
        Noise-free total flux of each galaxy in each band.
    luminosity_distance, angular_diameter_distance : ndarray, shape (n,) [Mpc]
    """

    properties: dict[str, np.ndarray]
    noise: dict[str, np.ndarray]
    nuisances: dict[str, np.ndarray]
    images: np.ndarray
    bands: tuple[str, ...]
    pixel_scale: float
    flux: np.ndarray
    luminosity_distance: np.ndarray
    angular_diameter_distance: np.ndarray
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, idx) -> GalaxyBatch:
        """A sub-batch (``idx``: int, slice, index array or boolean mask)."""
        if isinstance(idx, (int, np.integer)):
            idx = [int(idx)]

        def take(d):
            return {k: np.asarray(v)[idx] for k, v in d.items()}

        return GalaxyBatch(
            properties=take(self.properties),
            noise=take(self.noise),
            nuisances=take(self.nuisances),
            images=self.images[idx],
            bands=self.bands,
            pixel_scale=self.pixel_scale,
            flux=self.flux[idx],
            luminosity_distance=self.luminosity_distance[idx],
            angular_diameter_distance=self.angular_diameter_distance[idx],
            meta=dict(self.meta),
        )

    def property_matrix(self) -> np.ndarray:
        """Properties as an ``(n, 10)`` float64 array in :data:`PROPERTY_NAMES` order."""
        return np.stack([self.properties[k] for k in PROPERTY_NAMES], axis=1)

    def physics_inputs(self) -> dict[str, np.ndarray]:
        """Properties plus ``flux_r`` [nanomaggies] and ``luminosity_distance`` [Mpc].

        These are the inputs of :func:`acie.galaxy.constraints.violation_scores`.
        """
        out = dict(self.properties)
        if "r" in self.bands:
            out["flux_r"] = self.flux[:, self.bands.index("r")]
            out["luminosity_distance"] = self.luminosity_distance
        return out

    def to_dataframe(self):
        """A pandas DataFrame of properties and nuisances (one row per galaxy)."""
        import pandas as pd

        return pd.DataFrame({**self.properties, **self.nuisances})
