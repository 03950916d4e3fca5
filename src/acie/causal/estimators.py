"""Average-effect estimators with standard errors: regression adjustment, IPW, AIPW.

Estimands
---------
* binary treatment T ∈ {0, 1}: the average treatment effect
  ``ATE = E[Y(1)] − E[Y(0)]``, or (``estimand="att"``/``"atc"``) the average effect
  in the treated ``E[Y(1) − Y(0) | T=1]`` or in the controls ``… | T=0``;
* continuous treatment: the average derivative of the dose–response,
  ``θ = E[∂μ(t, X)/∂t at t = T]`` with ``μ(t, x) = E[Y | T=t, X=x]``, which is the
  slope of ``E[Y(t)]`` when the dose–response is linear.

Each estimator assumes X is a valid adjustment set (see
:mod:`acie.causal.identification`), positivity and consistency.

Methods
-------
* :func:`regression_adjustment` (g-computation): plug-in of an outcome model; the
  standard error comes from a seeded nonparametric bootstrap of the whole fit.
* :func:`~acie.causal.ipw.ipw` (in :mod:`acie.causal.ipw`, re-exported here):
  Hájek inverse-probability weights for binary T; entropy-balancing weights and the
  slope of the marginal structural model for continuous T, with weight diagnostics.
* :func:`aipw`: the one-step estimator from the efficient influence function
  (Robins, Rotnitzky & Zhao 1994; for the average derivative with a Gaussian
  conditional treatment density, the Riesz representer ``(T − m(X))/σ²``), with
  standard error ``sd(φ)/√n`` and optional K-fold cross-fitting.

Default nuisance models are parametric (ordinary least squares; a logistic GLM
from statsmodels); any scikit-learn regressor/classifier can be passed instead. They
live in :mod:`acie.causal._nuisance`; the result type :class:`EffectEstimate` and the
input checks in :mod:`acie.causal.effect_estimate`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd

from acie.causal._nuisance import (
    arm_predictions,
    derivative,
    folds,
    gaussian_gps,
    propensity,
    regressor,
)
from acie.causal.effect_estimate import (
    EffectEstimate,
    Estimand,
    TreatmentKind,
    check_arrays,
    normal_estimate,
    resolve_estimand,
    resolve_kind,
)
from acie.causal.encoding import encode_columns
from acie.causal.ipw import ipw
from acie.errors import EstimationError, InputValidationError, expected_got

__all__ = [
    "EffectMethod",
    "aipw",
    "estimate_effect",
    "ipw",
    "regression_adjustment",
]


class EffectMethod(StrEnum):
    """The estimators of :func:`estimate_effect`."""

    REGRESSION = "regression"
    IPW = "ipw"
    AIPW = "aipw"


def _rows(t: np.ndarray, target: Estimand) -> np.ndarray:
    """The rows an estimand averages over: all (ATE), treated (ATT), controls (ATC)."""
    if target is Estimand.ATT:
        return t == 1
    if target is Estimand.ATC:
        return t == 0
    return np.ones(t.shape[0], dtype=bool)


# ---- regression adjustment ----------------------------------------------------------
def _ra_point(
    y: np.ndarray,
    t: np.ndarray,
    x: np.ndarray,
    kind: TreatmentKind,
    model: Any,
    separate_arms: bool = True,
    target: Estimand = Estimand.ATE,
) -> float:
    if kind is TreatmentKind.BINARY:
        mu1, mu0 = arm_predictions(y, t, x, model, separate_arms, x)
        rows = _rows(t, target)
        return float(np.mean((mu1 - mu0)[rows]))
    m = regressor(model).fit(np.column_stack([t, x]), y)
    return float(np.mean(derivative(m, t, x)))


def regression_adjustment(
    *,
    outcome: Any,
    treatment: Any,
    covariates: Any = None,
    outcome_model: Any = None,
    treatment_kind: TreatmentKind | str | None = None,
    estimand: Estimand | str = Estimand.ATE,
    separate_arms: bool = True,
    level: float = 0.95,
    n_bootstrap: int = 200,
    seed: int = 0,
) -> EffectEstimate:
    """Regression adjustment (g-computation / standardisation).

    Binary: ``ATE = mean(μ1(X) − μ0(X))`` with separate outcome models per arm, or
    one model on columns ``[T, X]`` evaluated at T = 1 and T = 0.
    Continuous: one model ``μ(t, x)``, ``θ = mean ∂μ/∂t`` (the coefficient for OLS).

    Parameters
    ----------
    outcome, treatment : array-like, shape (n,)
        Outcome Y and treatment T (0/1 for binary).
    covariates : array-like, shape (n, p), optional
        An adjustment set X.
    outcome_model : scikit-learn regressor, optional
        Default: OLS, linear in X (and T).
    treatment_kind : {"binary", "continuous"}, optional
        Default: binary when T only takes 0 and 1.
    estimand : {"ate", "att", "atc"}
        Binary only: ``mean(μ1 − μ0)`` over all rows, the treated or the controls.
    separate_arms : bool
        Binary only: per-arm models (default) or one model whose first input
        column is T (so a pipeline can add T × X interactions).
    level : float
        Confidence level.
    n_bootstrap : int
        Bootstrap replicates for the standard error (rows resampled with
        replacement; each replicate refits the outcome models).
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    EffectEstimate
    """
    y, t, x = check_arrays(outcome, treatment, covariates)
    kind = resolve_kind(t, treatment_kind)
    target = resolve_estimand(estimand, kind)
    if n_bootstrap < 20:
        raise InputValidationError(expected_got("n_bootstrap", "at least 20", n_bootstrap))
    est = _ra_point(y, t, x, kind, outcome_model, separate_arms, target)
    rng = np.random.default_rng(seed)
    n = y.shape[0]
    reps = []
    for _ in range(n_bootstrap):
        idx = rng.integers(0, n, n)
        if kind is TreatmentKind.BINARY and min(t[idx].sum(), n - t[idx].sum()) < 2:
            continue
        reps.append(_ra_point(y[idx], t[idx], x[idx], kind, outcome_model, separate_arms, target))
    se = float(np.std(reps, ddof=1))
    return normal_estimate(
        "regression adjustment",
        kind,
        est,
        se,
        n,
        level,
        {
            "n_bootstrap": len(reps),
            "seed": seed,
            "outcome_model": type(regressor(outcome_model)).__name__,
        },
        estimand=target,
    )


# ---- AIPW -----------------------------------------------------------------------------
def aipw(
    *,
    outcome: Any,
    treatment: Any,
    covariates: Any = None,
    outcome_model: Any = None,
    propensity_model: Any = None,
    treatment_kind: TreatmentKind | str | None = None,
    estimand: Estimand | str = Estimand.ATE,
    trim: float = 0.01,
    cross_fit: int = 0,
    separate_arms: bool = True,
    level: float = 0.95,
    seed: int = 0,
) -> EffectEstimate:
    """Augmented IPW: the one-step estimator from the efficient influence function.

    Binary: ``φ = μ1(X) − μ0(X) + T (Y − μ1(X))/e(X) − (1 − T)(Y − μ0(X))/(1 − e(X))``.
    Continuous (average derivative, Gaussian T | X with mean m(X) and sd σ):
    ``φ = ∂μ(T, X)/∂t + (T − m(X))/σ² · (Y − μ(T, X))``. The estimate is ``mean(φ)``
    and the standard error ``sd(φ)/√n``. Doubly robust: consistent if either the
    outcome or the treatment model is right. ATT (controls only need μ0):
    ``φ = [T (Y − μ0) − (1 − T) e/(1 − e) (Y − μ0) − T·ATT] / P(T=1)``; the ATC
    mirrors it with μ1 and ``(1 − e)/e``.

    Parameters
    ----------
    outcome, treatment, covariates : array-like
        As in :func:`regression_adjustment`.
    outcome_model, propensity_model : scikit-learn estimators, optional
        Defaults: OLS and a logistic GLM (binary) / OLS for m(X) (continuous).
    estimand : {"ate", "att", "atc"}
        Binary only.
    trim : float in [0, 0.5)
        Binary only: propensities clipped to ``[trim, 1 − trim]``.
    cross_fit : int
        0: fit nuisances on all rows (fine for the parametric defaults). K ≥ 2: fit
        on K − 1 folds and evaluate on the held-out one (use with flexible models).
    separate_arms : bool
        Binary only: as in :func:`regression_adjustment`.
    level : float
        Confidence level.
    seed : int
        Seed of the fold split.

    Returns
    -------
    EffectEstimate
    """
    y, t, x = check_arrays(outcome, treatment, covariates)
    kind = resolve_kind(t, treatment_kind)
    target = resolve_estimand(estimand, kind)
    if not 0.0 <= trim < 0.5:
        raise InputValidationError(expected_got("trim", "in [0, 0.5)", trim))
    n = y.shape[0]
    phi = np.empty(n)
    e_all = np.empty(n)
    for train, test in folds(n, cross_fit, seed):
        yt, tt, xt = y[train], t[train], x[train]
        if kind is TreatmentKind.BINARY:
            mu1, mu0 = arm_predictions(yt, tt, xt, outcome_model, separate_arms, x[test])
            e_raw = propensity(tt, xt, propensity_model, x[test])
            e_all[test] = e_raw
            e = np.clip(e_raw, trim, 1 - trim) if trim > 0 else e_raw
            if np.any((e <= 0) | (e >= 1)):
                raise EstimationError(
                    "propensities of exactly 0 or 1: positivity fails; use trim > 0"
                )
            tk, yk = t[test], y[test]
            if target is Estimand.ATT:  # numerator terms; divided by P(T=1) below
                phi[test] = (tk - (1 - tk) * e / (1 - e)) * (yk - mu0)
            elif target is Estimand.ATC:
                phi[test] = (tk * (1 - e) / e - (1 - tk)) * (yk - mu1)
            else:
                phi[test] = mu1 - mu0 + tk * (yk - mu1) / e - (1 - tk) * (yk - mu0) / (1 - e)
        else:
            m = regressor(outcome_model).fit(np.column_stack([tt, xt]), yt)
            mean_t, sigma = gaussian_gps(t[test], x[test], propensity_model, xt, tt)
            tk, yk, xk = t[test], y[test], x[test]
            mu = m.predict(np.column_stack([tk, xk]))
            phi[test] = derivative(m, tk, xk) + (tk - mean_t) / sigma**2 * (yk - mu)
    if target is Estimand.ATE:
        est = float(phi.mean())
        se = float(phi.std(ddof=1) / np.sqrt(n))
    else:
        share = _rows(t, target).astype(float)
        est = float(phi.sum() / share.sum())
        psi = (phi - share * est) / share.mean()
        se = float(psi.std(ddof=1) / np.sqrt(n))
    details: dict[str, Any] = {"cross_fit": cross_fit, "seed": seed}
    if kind is TreatmentKind.BINARY:
        details.update(
            propensity_min=float(e_all.min()),
            propensity_max=float(e_all.max()),
            trim=trim,
            separate_arms=separate_arms,
        )
    return normal_estimate("AIPW (EIF)", kind, est, se, n, level, details, estimand=target)


# ---- data-frame front end -----------------------------------------------------------
def estimate_effect(
    data: pd.DataFrame,
    *,
    treatment: str,
    outcome: str,
    covariates: Sequence[str] = (),
    method: EffectMethod | str = EffectMethod.AIPW,
    treatment_type: str | None = None,
    **options: Any,
) -> EffectEstimate:
    """Estimate the effect of column ``treatment`` on column ``outcome``.

    The named ``method`` adjusts for ``covariates``; further ``options`` (``estimand``,
    ``level``, …) are passed on to it. Columns are checked and encoded by
    :func:`acie.causal.encoding.encode_columns` (distinct roles; two-label treatments
    mapped to 0/1; categorical covariates one-hot encoded; a two-valued numeric
    treatment other than 0/1 needs ``treatment_type``); the encodings applied are
    listed in ``details["encoding"]``.

    Raises
    ------
    acie.errors.UnknownNameError
        If a column is missing; the message lists the available columns.
    acie.errors.InputValidationError
        Columns in more than one role, a non-numeric outcome, missing values, an
        ambiguous treatment, or an unknown method.
    """
    try:
        method = EffectMethod(method)
    except ValueError:
        raise InputValidationError(
            expected_got("method", f"one of {[m.value for m in EffectMethod]}", method)
        ) from None
    cols = encode_columns(
        data,
        treatment=treatment,
        outcome=outcome,
        covariates=covariates,
        treatment_type=treatment_type,
    )
    estimators: dict[EffectMethod, Callable[..., EffectEstimate]] = {
        EffectMethod.REGRESSION: regression_adjustment,
        EffectMethod.IPW: ipw,
        EffectMethod.AIPW: aipw,
    }
    options.setdefault("treatment_kind", cols.treatment_kind)
    result = estimators[method](
        outcome=cols.outcome,
        treatment=cols.treatment,
        covariates=cols.covariates if cols.covariates.shape[1] else None,
        **options,
    )
    if not cols.notes:
        return result
    return replace(result, details={**result.details, "encoding": cols.notes})
