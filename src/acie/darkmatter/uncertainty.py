"""Halo-parameter uncertainties: seeded Monte Carlo, median and 68/95 % bands.

Parameters (``v0``, ``vesc``, ``v_earth`` in km/s, ``rho`` in GeV/cm³, ``beta`` and
``sausage_fraction`` dimensionless) are drawn from user-given distributions — any object
with ``rvs(size=..., random_state=...)``, e.g. a frozen :mod:`scipy.stats` distribution —
in one vectorised draw per parameter from ``np.random.default_rng(seed)``. A drawn v0
moves the Earth speed with it (the Sun moves at (0, v0, 0) + v_pec), unless v_earth is
drawn itself or ``consistent_earth=False``. Draws that are
unphysical (≤ 0, or v_esc ≤ v0) are redrawn. Each sampled halo is then pushed through a
vectorised rate or reach function, and the bands are percentiles across samples:
68 % = [15.87, 84.13], 95 % = [2.28, 97.72].
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import astropy.units as u
import numpy as np
import numpy.typing as npt

from acie.darkmatter.halo_parameters import HaloParameters, resolve_halo
from acie.errors import EstimationError, NonPhysicalValueError, UnknownNameError, expected_got

__all__ = [
    "PARAMETER_UNITS",
    "Band",
    "Distribution",
    "band",
    "propagate",
    "sample_halo_arrays",
    "sample_halos",
]

PARAMETER_UNITS = {
    "v0": u.km / u.s,
    "vesc": u.km / u.s,
    "v_earth": u.km / u.s,
    "rho": u.GeV / u.cm**3,
    "beta": u.one,
    "sausage_fraction": u.one,
}
_PERCENTILES = (2.275, 15.866, 50.0, 84.134, 97.725)


class Distribution(Protocol):
    """What :func:`sample_halos` draws from, e.g. a frozen :mod:`scipy.stats` distribution."""

    def rvs(self, size: int, random_state: np.random.Generator) -> npt.ArrayLike:
        """Draw ``size`` values (in the parameter's unit of :data:`PARAMETER_UNITS`).

        Parameters
        ----------
        size : int
            Number of values.
        random_state : numpy.random.Generator
            The generator every draw comes from (so the samples are reproducible).

        Returns
        -------
        array-like of float, shape (size,)
        """
        ...


@dataclass(frozen=True, kw_only=True)
class Band:
    """Median and 68/95 % bands of a Monte Carlo ensemble (all with the samples' unit).

    Attributes
    ----------
    median, lo68, hi68, lo95, hi95 : Quantity, shape of one sample
    samples : Quantity, shape (n_samples, ...)
    """

    median: u.Quantity
    lo68: u.Quantity
    hi68: u.Quantity
    lo95: u.Quantity
    hi95: u.Quantity
    samples: u.Quantity


def _valid(name: str, values: np.ndarray) -> np.ndarray:
    ok = np.isfinite(values)
    if name in ("v0", "vesc", "v_earth", "rho"):
        ok &= values > 0
    if name == "sausage_fraction":
        ok &= (values >= 0) & (values <= 1)
    if name == "beta":
        ok &= (values > -10) & (values < 1)
    return ok


def sample_halos(
    base: HaloParameters | str | None,
    distributions: Mapping[str, Distribution],
    n: int,
    *,
    seed: int = 0,
    max_redraws: int = 100,
    consistent_earth: bool = True,
) -> list[HaloParameters]:
    """Draw ``n`` halo parameter sets around ``base``.

    Parameters
    ----------
    base : HaloParameters or name
        Values of the parameters not listed in ``distributions``.
    distributions : mapping name -> Distribution
        Each with ``rvs(size, random_state)``, in the units of :data:`PARAMETER_UNITS`.
    n : int
        Number of samples.
    seed : int
        Seed of ``np.random.default_rng``.
    consistent_earth : bool
        When v0 is drawn and v_earth is not, recompute each draw's Earth speed from its
        Sun velocity (0, v0, 0) + v_pec
        (:func:`acie.darkmatter.halo_mc.consistent_earth_speed`); False keeps it fixed.
    """
    h = resolve_halo(base)
    drawn = sample_halo_arrays(
        h, distributions, n, seed=seed, max_redraws=max_redraws, consistent_earth=consistent_earth
    )
    drawn = {k: v for k, v in drawn.items() if k in distributions or k == "v_earth"}
    out = []
    for i in range(n):
        changes = {
            k: v[i] * PARAMETER_UNITS[k] if PARAMETER_UNITS[k] != u.one else float(v[i])
            for k, v in drawn.items()
        }
        out.append(h.with_values(name=f"{h.name}+mc{i}", **changes))
    return out


def sample_halo_arrays(
    base: HaloParameters | str | None,
    distributions: Mapping[str, Distribution],
    n: int,
    *,
    seed: int = 0,
    max_redraws: int = 100,
    consistent_earth: bool = True,
) -> dict[str, np.ndarray]:
    """The draws of :func:`sample_halos` as arrays: ``v0``, ``vesc``, ``v_earth``, ``rho`` (n,).

    Same parameters and random stream as :func:`sample_halos` (units of
    :data:`PARAMETER_UNITS`); parameters not drawn repeat ``base``'s value.
    """
    h = resolve_halo(base)
    if n < 2:
        raise NonPhysicalValueError(expected_got("number of samples", ">= 2", n))
    rng = np.random.default_rng(seed)
    drawn: dict[str, np.ndarray] = {}
    for name in sorted(distributions):
        if name not in PARAMETER_UNITS:
            raise UnknownNameError(
                expected_got("halo parameter", f"one of {sorted(PARAMETER_UNITS)}", name)
            )
        dist = distributions[name]
        vals = np.asarray(dist.rvs(size=n, random_state=rng), dtype=float)
        for _ in range(max_redraws):
            bad = ~_valid(name, vals)
            if not bad.any():
                break
            vals[bad] = np.asarray(dist.rvs(size=int(bad.sum()), random_state=rng), dtype=float)
        else:
            raise EstimationError(
                f"could not draw physical values of {name} in {max_redraws} redraws; "
                "check the distribution"
            )
        drawn[name] = vals
    v0 = drawn.get("v0", np.full(n, h.v0.to_value(u.km / u.s)))
    vesc = drawn.get("vesc", np.full(n, h.vesc.to_value(u.km / u.s)))
    if np.any(vesc <= v0):
        raise EstimationError("sampled vesc <= v0 for some draws; narrow the distributions")
    out = dict(drawn)
    out["v0"], out["vesc"] = v0, vesc
    out.setdefault("rho", np.full(n, h.rho.to_value(u.GeV / u.cm**3)))
    if "v_earth" not in drawn:
        if consistent_earth and "v0" in drawn:
            from acie.darkmatter.halo_mc import consistent_earth_speed

            out["v_earth"] = consistent_earth_speed(v0, h)
        else:
            out["v_earth"] = np.full(n, h.v_earth.to_value(u.km / u.s))
    return out


def band(samples: u.Quantity) -> Band:
    """Median and 68/95 % percentile bands along axis 0 (non-finite samples ignored)."""
    unit = samples.unit if isinstance(samples, u.Quantity) else u.one
    arr = np.asarray(samples.value if isinstance(samples, u.Quantity) else samples, float)
    if arr.ndim < 1 or arr.shape[0] < 2:
        raise NonPhysicalValueError(
            expected_got("samples", "an array with >= 2 samples on axis 0", arr.shape)
        )
    with np.errstate(invalid="ignore"):
        arr_f = np.where(np.isfinite(arr), arr, np.nan)
        p = np.nanpercentile(arr_f, _PERCENTILES, axis=0)
    return Band(
        lo95=p[0] * unit,
        lo68=p[1] * unit,
        median=p[2] * unit,
        hi68=p[3] * unit,
        hi95=p[4] * unit,
        samples=arr * unit,
    )


def propagate(
    fn: Callable[[HaloParameters], u.Quantity],
    halos: list[HaloParameters],
    *,
    progress: bool = False,
) -> Band:
    """Evaluate ``fn(halo)`` for every sampled halo and return its :class:`Band`.

    ``fn`` is itself vectorised (over energies, masses…); the samples are stacked on axis 0.
    """
    it = halos
    if progress:
        from tqdm import tqdm

        it = tqdm(halos, desc="halo samples", unit="sample")
    results = [fn(h) for h in it]
    unit = results[0].unit if isinstance(results[0], u.Quantity) else u.one
    return band(np.stack([u.Quantity(r).to_value(unit) for r in results]) * unit)
