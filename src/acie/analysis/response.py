"""Response of an observable to a latent galaxy property: dE[Y(z)]/dz over a range.

Two routes, each with an uncertainty:

* :func:`counterfactual_response` — from the simulator's *exact* counterfactuals: for
  every grid value ``z`` the whole seeded population is intervened on twice,
  ``do(z + ε)`` and ``do(z − ε)``, with every exogenous noise (including the
  pixel-noise seed) kept, and the observable is measured on the re-rendered images.
  The per-galaxy central differences are unit-level derivatives; their mean is the
  derivative of the population dose–response ``E[Y(z)]`` and ``sd/√n`` its
  Monte-Carlo standard error.
* :func:`observational_response` — from observational data only, with the causal
  core's doubly-robust, influence-function-based estimator of the dose–response
  derivative (:func:`acie.causal.dose_response_derivative`, Kennedy et al. 2017).

Discontinuities and sharp non-linearities are flagged by comparing, between
neighbouring grid points, the secant slope of ``E[Y(z)]`` with the mean of the two
local derivatives (trapezoid rule): for a smooth curve they agree to
``O(Δz² · Y''')``; a jump or an unresolved kink makes them disagree by many standard
errors (both are computed on the same galaxies, so the difference has a paired
standard error).

What is measured is an :class:`~acie.analysis.observables.Observable`
(:mod:`acie.analysis.observables`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

from acie.analysis.observables import Observable
from acie.errors import InputValidationError, OutOfRangeError, UnknownNameError, expected_got

if TYPE_CHECKING:
    import pandas as pd

    from acie.causal.dose_response import DerivativeEstimate
    from acie.galaxy.batch import GalaxyBatch
    from acie.galaxy.simulator import GalaxySimulator

__all__ = ["ResponseCurve", "counterfactual_response", "observational_response"]


@dataclass(frozen=True)
class ResponseCurve:
    """The response ``E[Y(z)]`` and its derivative over a grid of treatment values.

    Attributes
    ----------
    treatment, observable : str
        Names; ``treatment_unit``, ``observable_unit`` their units.
    grid : ndarray, shape (k,) [treatment units]
    response, response_se : ndarray, shape (k,) [observable units]
        ``E[Y(z)]`` (mean of ``(Y(z+ε) + Y(z−ε))/2``, exact to O(ε²)) and its standard error.
    derivative, derivative_se : ndarray, shape (k,) [observable units per treatment unit]
    ci_low, ci_high : ndarray, shape (k,)
        Normal-approximation interval of the derivative at ``level``.
    level : float
    epsilon : float [treatment units]
        Half-step of the central difference.
    n : int
        Galaxies in the population (rows with a NaN observable are dropped per grid point).
    discontinuities : list of (float, float)
        Grid intervals ``(z_i, z_{i+1})`` where the secant slope and the trapezoid of the
        local derivatives disagree by more than ``threshold`` paired standard errors.
    unit_curves : ndarray, shape (m, k)
        The response of the first ``m`` galaxies, for plots of individual behaviour.
    method : str
    details : dict
    """

    treatment: str
    treatment_unit: str
    observable: str
    observable_unit: str
    grid: np.ndarray
    response: np.ndarray
    response_se: np.ndarray
    derivative: np.ndarray
    derivative_se: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    level: float
    epsilon: float
    n: int
    discontinuities: list[tuple[float, float]]
    unit_curves: np.ndarray
    method: str = "counterfactual finite differences"
    details: dict[str, Any] = field(default_factory=dict)

    def to_dataframe(self, *, unit_names: bool = True) -> pd.DataFrame:
        """One row per grid point, each estimate followed by its standard error and interval.

        Parameters
        ----------
        unit_names : bool
            Put the units in the column names (``"derivative [dex(nmgy) / dex(solMass)]"``,
            the default) or use plain names (``"derivative"``), which print narrower.
            Either way ``frame.attrs["units"]`` maps each plain name to its unit.

        Returns
        -------
        pandas.DataFrame
            Columns: the treatment; ``derivative``, ``derivative_se``,
            ``derivative_ci_low``, ``derivative_ci_high`` (interval at :attr:`level`);
            ``response``, ``response_se``.
        """
        import pandas as pd

        tu, ou = self.treatment_unit or "1", self.observable_unit or "1"
        du = f"{ou} / {tu}"
        columns = {
            self.treatment: (self.grid, tu),
            "derivative": (self.derivative, du),
            "derivative_se": (self.derivative_se, du),
            "derivative_ci_low": (self.ci_low, du),
            "derivative_ci_high": (self.ci_high, du),
            "response": (self.response, ou),
            "response_se": (self.response_se, ou),
        }
        frame = pd.DataFrame(
            {(f"{k} [{unit}]" if unit_names else k): v for k, (v, unit) in columns.items()}
        )
        frame.attrs["units"] = {k: unit for k, (_, unit) in columns.items()}
        return frame


def _z_value(level: float) -> float:
    if not 0.0 < level < 1.0:
        raise InputValidationError(expected_got("level", "in (0, 1)", level))
    return float(stats.norm.ppf(0.5 + level / 2))


def counterfactual_response(
    simulator: GalaxySimulator,
    population: GalaxyBatch,
    *,
    treatment: str,
    observable: Observable,
    grid: Any,
    epsilon: float = 0.01,
    level: float = 0.95,
    threshold: float = 5.0,
    rtol: float = 0.05,
    n_unit_curves: int = 8,
    progress: bool = False,
) -> ResponseCurve:
    """Response of ``observable`` to ``do(treatment = z)`` over ``grid``.

    Computed from exact counterfactuals of a seeded population.

    Parameters
    ----------
    simulator : GalaxySimulator
        The simulator that drew ``population``.
    population : GalaxyBatch
        The galaxies (their exogenous noise and nuisances are kept).
    treatment : str
        A property node, e.g. ``"log_halo_mass"``.
    observable : Observable
        What is measured, e.g. :func:`~acie.analysis.observables.image_total_flux`.
    grid : array-like or Quantity, shape (k,) [treatment units]
        Increasing treatment values; ``grid ± epsilon`` must lie in the node's validity
        range (:data:`acie.galaxy.properties.RANGES`).
    epsilon : float [treatment units]
        Half-step of the central differences (bias O(ε²) times the third derivative).
    level : float
        Confidence level of the derivative intervals.
    threshold : float
        Number of paired standard errors beyond which a grid interval is flagged as
        holding a discontinuity or an unresolved non-linearity.
    rtol : float
        The mismatch must also exceed ``rtol`` times the larger of the secant and local
        slopes, so that the O(Δz²) trapezoid error of a smooth curve computed without
        noise (zero standard error) is not flagged.
    n_unit_curves : int
        Individual-galaxy response curves to keep for plotting.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    ResponseCurve

    Raises
    ------
    UnknownNameError
        ``treatment`` is not a property node.
    OutOfRangeError
        ``grid ± epsilon`` leaves the node's validity range.
    InputValidationError
        Non-increasing grid, non-positive ``epsilon``, too few galaxies.
    """
    from acie.galaxy.batch import GalaxyBatch
    from acie.galaxy.properties import PROPERTY_NAMES, RANGES, UNITS, validate_values

    if treatment not in PROPERTY_NAMES:
        raise UnknownNameError(
            f"unknown treatment {treatment!r}; the properties are: {', '.join(PROPERTY_NAMES)}"
        )
    if not isinstance(population, GalaxyBatch):
        raise InputValidationError(
            expected_got("population", "a GalaxyBatch", type(population).__name__)
        )
    if not isinstance(observable, Observable):
        raise InputValidationError(
            expected_got("observable", "an Observable", type(observable).__name__)
        )
    z_crit = _z_value(level)
    epsilon = float(epsilon)
    if not (np.isfinite(epsilon) and epsilon > 0):
        raise InputValidationError(expected_got("epsilon", "a positive finite number", epsilon))
    g = validate_values(treatment, grid, check_range=False)
    g = np.atleast_1d(g)
    if g.size < 1 or (g.size > 1 and np.any(np.diff(g) <= 0)):
        raise InputValidationError(
            expected_got("grid", "a strictly increasing 1-D array", g.tolist())
        )
    rng_ = RANGES[treatment]
    if not (rng_.contains(g - epsilon).all() and rng_.contains(g + epsilon).all()):
        raise OutOfRangeError(
            f"grid ± epsilon must lie in the validity range {rng_} of "
            f"{treatment} [{UNITS[treatment]}]; got grid from {g.min()} to "
            f"{g.max()} with epsilon {epsilon}"
        )
    n = len(population)
    if n < 2:
        raise InputValidationError(expected_got("the population size", "at least 2 galaxies", n))
    if observable.needs_images and population.images.shape[-1] == 0:
        raise InputValidationError(
            f"observable {observable.name!r} is measured on images, "
            "but the population was sampled with render=False"
        )

    render = observable.needs_images
    k = g.size
    levels = np.empty((k, n))
    derivs = np.empty((k, n))
    iterator = range(k)
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, desc=f"do({treatment})", unit="point")
    for i in iterator:
        up = observable(
            simulator.counterfactual(population, {treatment: g[i] + epsilon}, render=render)
        )
        down = observable(
            simulator.counterfactual(population, {treatment: g[i] - epsilon}, render=render)
        )
        levels[i] = 0.5 * (up + down)
        derivs[i] = (up - down) / (2.0 * epsilon)

    def mean_se(a: np.ndarray) -> tuple[float, float]:
        a = a[np.isfinite(a)]
        if a.size < 2:
            return float("nan"), float("nan")
        return float(a.mean()), float(a.std(ddof=1) / np.sqrt(a.size))

    resp = np.array([mean_se(r) for r in levels])
    der = np.array([mean_se(d) for d in derivs])
    flagged: list[tuple[float, float]] = []
    mismatch = []
    for i in range(k - 1):
        secant = (levels[i + 1] - levels[i]) / (g[i + 1] - g[i])
        resid = secant - 0.5 * (derivs[i] + derivs[i + 1])
        m, se = mean_se(resid)
        scale = max(
            abs(np.nanmean(secant)), abs(np.nanmean(derivs[i])), abs(np.nanmean(derivs[i + 1]))
        )
        mismatch.append(m / se if se > 0 else (0.0 if m == 0 else np.inf))
        if np.isfinite(m) and abs(m) > threshold * se and abs(m) > rtol * scale:
            flagged.append((float(g[i]), float(g[i + 1])))
    d, dse = der[:, 0], der[:, 1]
    return ResponseCurve(
        treatment=treatment,
        treatment_unit=UNITS[treatment],
        observable=observable.name,
        observable_unit=observable.unit,
        grid=g,
        response=resp[:, 0],
        response_se=resp[:, 1],
        derivative=d,
        derivative_se=dse,
        ci_low=d - z_crit * dse,
        ci_high=d + z_crit * dse,
        level=level,
        epsilon=epsilon,
        n=n,
        discontinuities=flagged,
        unit_curves=levels[:, : min(n_unit_curves, n)].T.copy(),
        details={
            "secant_mismatch_in_se": np.asarray(mismatch),
            "threshold": threshold,
            "rtol": rtol,
            "rendered": render,
        },
    )


def observational_response(
    data: pd.DataFrame,
    *,
    treatment: str,
    outcome: str,
    grid: Sequence[float],
    covariates: Sequence[str] = (),
    level: float = 0.95,
    **options: Any,
) -> list[DerivativeEstimate]:
    """dE[Y(z)]/dz at each grid point, estimated from observational data.

    The estimator is the causal core's doubly-robust one
    (:func:`acie.causal.dose_response_derivative`).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per galaxy.
    treatment, outcome : str
        Column names (continuous treatment, e.g. a halo-mass proxy).
    grid : sequence of float [treatment units]
        Points z0.
    covariates : sequence of str
        An adjustment set (confounders of treatment and outcome).
    level : float
        Confidence level.
    **options
        Passed on (``bandwidth``, ``degree``, ``outcome_model``, ``seed`` …).

    Returns
    -------
    list of DerivativeEstimate
        One per grid point, named after the columns.
    """
    import dataclasses

    import pandas as pd

    from acie.causal.dose_response import dose_response_derivative

    if not isinstance(data, pd.DataFrame):
        raise InputValidationError(expected_got("data", "a pandas DataFrame", type(data).__name__))
    for col in (treatment, outcome, *covariates):
        if col not in data.columns:
            raise UnknownNameError(
                f"unknown column {col!r}; the columns are: {', '.join(map(str, data.columns))}"
            )
    cols = [treatment, outcome, *covariates]
    frame = data[cols].dropna()
    x = frame[list(covariates)].to_numpy(dtype=float) if covariates else None
    out = []
    for z0 in np.atleast_1d(np.asarray(grid, dtype=float)):
        est = dose_response_derivative(
            outcome=frame[outcome].to_numpy(dtype=float),
            treatment=frame[treatment].to_numpy(dtype=float),
            covariates=x,
            at=float(z0),
            level=level,
            **options,
        )
        out.append(dataclasses.replace(est, treatment=treatment, outcome=outcome))
    return out
