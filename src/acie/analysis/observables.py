"""Observables: scalar measurements of each galaxy of a simulated batch.

An :class:`Observable` is what :func:`~acie.analysis.response.counterfactual_response`
measures on every counterfactual population: a name, a unit and a function of a
:class:`~acie.galaxy.batch.GalaxyBatch`. The constructors cover the image (total flux
on the rendered stamp), the noise-free model (total flux) and the latent properties.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from acie.errors import UnknownNameError

if TYPE_CHECKING:
    from acie.galaxy.batch import GalaxyBatch

__all__ = ["Observable", "image_total_flux", "model_flux", "property_observable"]


@dataclass(frozen=True)
class Observable:
    """A scalar measurement of each galaxy of a :class:`~acie.galaxy.batch.GalaxyBatch`.

    Attributes
    ----------
    name : str
        Label (used on plot axes).
    unit : str
        Unit of the values (astropy spelling, e.g. ``"dex(nmgy)"``).
    func : callable
        ``func(batch) -> ndarray of shape (n,)``.
    needs_images : bool
        Whether ``func`` reads ``batch.images`` (so counterfactuals must be re-rendered).
    """

    name: str
    unit: str
    func: Callable[[GalaxyBatch], np.ndarray]
    needs_images: bool = False

    def __call__(self, batch: GalaxyBatch) -> np.ndarray:
        """The observable of every galaxy in ``batch``, float64, in :attr:`unit`."""
        return np.asarray(self.func(batch), dtype=np.float64)


def _band_index(batch: GalaxyBatch, band: str) -> int:
    if band not in batch.bands:
        raise UnknownNameError(
            f"unknown band {band!r}; the batch has bands: {', '.join(batch.bands)}"
        )
    return batch.bands.index(band)


def image_total_flux(band: str = "r", *, log: bool = True) -> Observable:
    """Total flux measured on the rendered image (sum over the stamp, pixel noise included).

    Parameters
    ----------
    band : str
        One of the batch's bands.
    log : bool
        Return ``log10(flux / nanomaggy)`` (non-positive sums become NaN) instead of
        nanomaggies.
    """

    def func(batch: GalaxyBatch) -> np.ndarray:
        from acie.galaxy.measure import total_flux

        f = total_flux(batch.images)[:, _band_index(batch, band)]
        if not log:
            return f
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(f > 0, np.log10(np.where(f > 0, f, 1.0)), np.nan)

    name = f"log10 total flux ({band}, image)" if log else f"total flux ({band}, image)"
    return Observable(name=name, unit="dex(nmgy)" if log else "nmgy", func=func, needs_images=True)


def model_flux(band: str = "r", *, log: bool = True) -> Observable:
    """Noise-free total flux of the model (no stamp truncation, no pixel noise)."""

    def func(batch: GalaxyBatch) -> np.ndarray:
        f = batch.flux[:, _band_index(batch, band)]
        return np.log10(f) if log else f

    name = f"log10 model flux ({band})" if log else f"model flux ({band})"
    return Observable(name=name, unit="dex(nmgy)" if log else "nmgy", func=func)


def property_observable(name: str) -> Observable:
    """A property node of the simulator used as the observable (e.g. ``"log_stellar_mass"``)."""
    from acie.galaxy.properties import PROPERTY_NAMES, UNITS

    if name not in PROPERTY_NAMES:
        raise UnknownNameError(
            f"unknown property {name!r}; the properties are: {', '.join(PROPERTY_NAMES)}"
        )
    return Observable(name=name, unit=UNITS[name], func=lambda batch: batch.properties[name])
