"""Sensitivity of a sample's observable to an intervention, in the analysts' variable names.

``sensitivity_analysis(rows, target_var="flux", intervention_var="dm_mass", epsilon=0.1)``
is :func:`acie.analysis.response.counterfactual_response` on the galaxies of ``rows``
(rows of a named sample, :mod:`acie.analysis.samples`): at every grid value ``z`` the
galaxies are intervened on at ``z ± ε`` with all their exogenous noise kept, and the
central differences give ``dE[Y(z)]/dz`` with its standard error and the flagged
discontinuities. ``ACIEr::sensitivity_analysis`` in R calls this function.

The analysts' names map to the engine's property nodes and observables
(:data:`INTERVENTIONS`, :data:`TARGETS`); every property node is accepted under its
own name too. Masses, SFR and size are intervened on and differentiated in dex
(log10), so ``flux`` on ``dm_mass`` is the logarithmic slope ``d log10 F_r / d log10
M_200c`` and ``epsilon = 0.1`` is 0.1 dex.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from acie.analysis.observables import Observable, model_flux, property_observable
from acie.analysis.samples import check_sample_rows, sample_population
from acie.errors import InputValidationError, UnknownNameError, expected_got

if TYPE_CHECKING:
    import pandas as pd

    from acie.analysis.response import ResponseCurve

__all__ = [
    "INTERVENTIONS",
    "TARGETS",
    "default_grid",
    "resolve_intervention",
    "resolve_target",
    "sensitivity_analysis",
]

#: Analyst name of an intervention variable -> the property node it sets.
INTERVENTIONS: dict[str, str] = {
    "dm_mass": "log_halo_mass",
    "halo_mass": "log_halo_mass",
    "stellar_mass": "log_stellar_mass",
    "gas_mass": "log_gas_mass",
    "sfr": "log_sfr",
    "size": "log_size",
}

#: Analyst name of a target variable -> what is measured (a band's model flux or a node).
TARGETS: dict[str, str] = {
    "flux": "model_flux:r",
    "flux_g": "model_flux:g",
    "flux_r": "model_flux:r",
    "flux_i": "model_flux:i",
    "luminosity": "log_luminosity",
    "stellar_mass": "log_stellar_mass",
    "gas_mass": "log_gas_mass",
    "sfr": "log_sfr",
    "size": "log_size",
}


def resolve_intervention(name: str) -> str:
    """The property node an intervention variable names (:data:`INTERVENTIONS` or a node)."""
    from acie.galaxy.properties import PROPERTY_NAMES

    node = INTERVENTIONS.get(name, name)
    if node not in PROPERTY_NAMES:
        raise UnknownNameError(
            f"unknown intervention variable {name!r}; expected one of "
            f"{', '.join(INTERVENTIONS)} or a property node ({', '.join(PROPERTY_NAMES)})"
        )
    return node


def resolve_target(name: str) -> Observable:
    """The observable a target variable names (:data:`TARGETS` or a property node)."""
    from acie.galaxy.properties import PROPERTY_NAMES

    what = TARGETS.get(name, name)
    if what.startswith("model_flux:"):
        return model_flux(what.partition(":")[2], log=True)
    if what not in PROPERTY_NAMES:
        raise UnknownNameError(
            f"unknown target variable {name!r}; expected one of {', '.join(TARGETS)} or a "
            f"property node ({', '.join(PROPERTY_NAMES)})"
        )
    return property_observable(what)


def default_grid(values: Any, node: str, epsilon: float, n_points: int = 9) -> np.ndarray:
    """``n_points`` values evenly from the 10th to the 90th percentile of ``values``.

    Pulled inside the node's validity range by ``epsilon`` where needed, so that
    ``grid ± epsilon`` stays valid.
    """
    from acie.galaxy.properties import RANGES

    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size < 2:
        raise InputValidationError(expected_got("the rows", "at least 2 galaxies", v.size))
    lo, hi = np.percentile(v, [10.0, 90.0])
    valid = RANGES[node]
    lo = max(lo, valid.low + epsilon * 1.000001) if np.isfinite(valid.low) else lo
    hi = min(hi, valid.high - epsilon * 1.000001) if np.isfinite(valid.high) else hi
    if not hi > lo:
        raise InputValidationError(
            f"the rows' {node} values leave no room for a grid within {valid} at "
            f"epsilon {epsilon}; pass a grid"
        )
    return np.linspace(lo, hi, n_points)


def sensitivity_analysis(
    data: pd.DataFrame,
    *,
    target_var: str,
    intervention_var: str,
    epsilon: float = 0.1,
    grid: Any = None,
    level: float = 0.95,
    threshold: float = 5.0,
    rtol: float = 0.05,
) -> ResponseCurve:
    """Response of ``target_var`` to ``do(intervention_var = z)`` over the rows' galaxies.

    Parameters
    ----------
    data : pandas.DataFrame
        Rows of one sample (:func:`acie.analysis.samples.load_sample`, possibly subset):
        its ``sample`` and ``galaxy_id`` columns name the galaxies.
    target_var, intervention_var : str
        Analyst names (:data:`TARGETS`, :data:`INTERVENTIONS`) or property nodes.
    epsilon : float [intervention units, dex for masses]
        Half-step of the central differences.
    grid : array-like, optional
        Treatment values (default: :func:`default_grid` of the rows' values).
    level, threshold, rtol : float
        As in :func:`acie.analysis.response.counterfactual_response`.

    Returns
    -------
    ResponseCurve
        Its ``to_dataframe(unit_names=False)`` is the table ``ACIEr`` returns.

    Raises
    ------
    InputValidationError
        Rows not of one sample, bad epsilon or grid.
    UnknownNameError
        Unknown variable or sample name.
    OutOfRangeError
        ``grid ± epsilon`` outside the node's validity range.
    """
    from acie.analysis.response import counterfactual_response

    node = resolve_intervention(intervention_var)
    observable = resolve_target(target_var)
    epsilon = float(epsilon)
    if not (np.isfinite(epsilon) and epsilon > 0):
        raise InputValidationError(expected_got("epsilon", "a positive finite number", epsilon))
    name, ids = check_sample_rows(data)
    simulator, population = sample_population(name)
    rows = population[ids]
    if grid is None:
        grid = default_grid(rows.properties[node], node, epsilon)
    return counterfactual_response(
        simulator,
        rows,
        treatment=node,
        observable=observable,
        grid=np.asarray(grid, dtype=float),
        epsilon=epsilon,
        level=level,
        threshold=threshold,
        rtol=rtol,
    )
