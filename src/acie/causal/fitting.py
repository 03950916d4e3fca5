"""Fit an SCM's mechanisms from data, given its DAG.

Each node is regressed on its parents with a scikit-learn model chosen by
:class:`MechanismKind`:

* ``linear`` — :class:`~sklearn.linear_model.LinearRegression`, additive noise;
* ``nonlinear`` — :class:`~sklearn.ensemble.HistGradientBoostingRegressor`,
  additive noise;
* ``classifier`` — logistic regression on standardised parents for discrete nodes
  (sampled by inverse CDF from a uniform noise; not invertible).

The noise of a regressed node is the empirical distribution of its residuals; the
noise of a root node the empirical distribution of its values. Additive-noise nodes
are invertible, so a fitted SCM supports counterfactuals on continuous nodes.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from acie.causal.graph import CausalDAG
from acie.causal.mechanisms import (
    ClassifierMechanism,
    EmpiricalNoise,
    LinearMechanism,
    Mechanism,
    RegressorMechanism,
)
from acie.causal.scm import StructuralCausalModel
from acie.errors import InputValidationError, UnknownNodeError, expected_got

__all__ = ["MechanismKind", "fit_scm"]


class MechanismKind(StrEnum):
    """How :func:`fit_scm` models a node given its parents."""

    AUTO = "auto"  # classifier for discrete columns (≤ 10 integer levels), else linear
    LINEAR = "linear"
    NONLINEAR = "nonlinear"
    CLASSIFIER = "classifier"


def _is_discrete(values: np.ndarray) -> bool:
    levels = np.unique(values)
    return levels.size <= 10 and bool(np.all(levels == np.round(levels)))


def _kind(value: MechanismKind | str, what: str) -> MechanismKind:
    """``value`` as a :class:`MechanismKind` (InputValidationError naming the choices)."""
    try:
        return MechanismKind(value)
    except ValueError:
        raise InputValidationError(
            expected_got(what, f"one of {[k.value for k in MechanismKind]}", value)
        ) from None


def _regressor(kind: MechanismKind, seed: int) -> Any:
    if kind is MechanismKind.LINEAR:
        from sklearn.linear_model import LinearRegression

        return LinearRegression()
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(max_iter=200, random_state=seed)


def fit_scm(
    graph: CausalDAG,
    data: pd.DataFrame,
    *,
    kinds: Mapping[str, MechanismKind | str] | None = None,
    default: MechanismKind | str = MechanismKind.AUTO,
    seed: int = 0,
    units: Mapping[str, Any] | None = None,
) -> StructuralCausalModel:
    """Fit every node's mechanism on its parents.

    Parameters
    ----------
    graph : CausalDAG
        The causal graph; every node must be a column of ``data``.
    data : pandas.DataFrame
        Observations, one column per node (numeric, finite).
    kinds : mapping of str to MechanismKind, optional
        Per-node choice, overriding ``default``.
    default : MechanismKind
        Choice for the other nodes.
    seed : int
        Seed of the gradient-boosting models.
    units : mapping of str to unit, optional
        Passed on to the SCM.

    Returns
    -------
    StructuralCausalModel
        Root nodes keep their empirical distribution; linear nodes are
        :class:`~acie.causal.mechanisms.LinearMechanism` with the fitted coefficients.
    """
    if not isinstance(data, pd.DataFrame):
        raise InputValidationError(expected_got("data", "a pandas DataFrame", type(data).__name__))
    missing = [n for n in graph.nodes if n not in data.columns]
    if missing:
        raise InputValidationError(
            expected_got(
                "data",
                f"a column for every node {list(graph.nodes)}",
                f"no column {', '.join(map(str, missing))}",
            )
        )
    node_kinds = {k: _kind(v, f"the mechanism kind of {k!r}") for k, v in (kinds or {}).items()}
    for node in node_kinds:
        if node not in graph:
            raise UnknownNodeError(node, list(graph.nodes))
    default_kind = _kind(default, "default")
    if len(data) < 10:
        raise InputValidationError(expected_got("the number of rows", "at least 10", len(data)))
    cols = {n: data[n].to_numpy(dtype=float) for n in graph.nodes}
    for n, v in cols.items():
        if not np.all(np.isfinite(v)):
            raise InputValidationError(expected_got(f"column {n!r}", "finite values", "NaN or inf"))

    mechanisms: dict[str, Mechanism] = {}
    noise: dict[str, Any] = {}
    for node in graph.nodes:
        parents = graph.parents(node)
        y = cols[node]
        kind = node_kinds.get(node, default_kind)
        if kind is MechanismKind.AUTO:
            kind = MechanismKind.CLASSIFIER if _is_discrete(y) else MechanismKind.LINEAR
        if kind is MechanismKind.CLASSIFIER:
            from sklearn.linear_model import LogisticRegression
            from sklearn.pipeline import make_pipeline
            from sklearn.preprocessing import StandardScaler

            x = np.column_stack([cols[p] for p in parents]) if parents else np.zeros((y.size, 1))
            clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x, y)
            mechanisms[node] = ClassifierMechanism(parents=parents, classifier=clf)
            noise[node] = stats.uniform(0.0, 1.0)
            continue
        if not parents:
            mechanisms[node] = LinearMechanism()
            noise[node] = EmpiricalNoise(values=y)
            continue
        x = np.column_stack([cols[p] for p in parents])
        reg = _regressor(kind, seed).fit(x, y)
        if kind is MechanismKind.LINEAR:
            mech: Mechanism = LinearMechanism(
                coefficients=dict(zip(parents, map(float, reg.coef_), strict=True)),
                intercept=float(reg.intercept_),
            )
        else:
            mech = RegressorMechanism(parents=parents, regressor=reg)
        residuals = y - np.asarray(reg.predict(x), dtype=float)
        mechanisms[node] = mech
        noise[node] = EmpiricalNoise(values=residuals)
    return StructuralCausalModel(mechanisms=mechanisms, noise=noise, units=units)
