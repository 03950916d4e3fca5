"""Average-effect estimators with standard errors: regression adjustment, IPW, AIPW.

Estimands
---------
* binary treatment T ∈ {0, 1}: the average treatment effect
  ``ATE = E[Y(1)] − E[Y(0)]``;
* continuous treatment: the average derivative of the dose–response,
  ``θ = E[∂μ(t, X)/∂t at t = T]`` with ``μ(t, x) = E[Y | T=t, X=x]``, which is the
  slope of ``E[Y(t)]`` when the dose–response is linear.

Each estimator assumes X is a valid adjustment set (see
:mod:`acie.causal.identification`), positivity and consistency.

Methods
-------
* :func:`regression_adjustment` (g-computation): plug-in of an outcome model; the
  standard error comes from a seeded nonparametric bootstrap of the whole fit.
* :func:`ipw`: stabilised inverse-probability weights (Hernán & Robins, *Causal
  Inference: What If*, 2020, §12.3), propensities clipped to ``[trim, 1 − trim]``;
  for continuous treatments a Gaussian generalised propensity score, weights
  truncated at the ``trim`` and ``1 − trim`` quantiles, and the slope of the
  marginal structural model ``E[Y(t)] = b0 + b1 t`` fitted by weighted least
  squares. Standard errors are the robust (sandwich) ones, which ignore the
  estimation of the propensity and so are conservative, as in What If.
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
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from acie.causal._nuisance import (
    arm_predictions,
    derivative,
    design,
    folds,
    gaussian_gps,
    propensity,
    regressor,
)
from acie.causal.effect_estimate import (
    EffectEstimate,
    TreatmentKind,
    check_arrays,
    normal_estimate,
    resolve_kind,
)
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


# ---- regression adjustment ----------------------------------------------------------
def _ra_point(
    y: np.ndarray,
    t: np.ndarray,
    x: np.ndarray,
    kind: TreatmentKind,
    model: Any,
    separate_arms: bool = True,
) -> float:
    if kind is TreatmentKind.BINARY:
        mu1, mu0 = arm_predictions(y, t, x, model, separate_arms, x)
        return float(np.mean(mu1 - mu0))
    m = regressor(model).fit(np.column_stack([t, x]), y)
    return float(np.mean(derivative(m, t, x)))


def regression_adjustment(
    *,
    outcome: Any,
    treatment: Any,
    covariates: Any = None,
    outcome_model: Any = None,
    treatment_kind: TreatmentKind | str | None = None,
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
    if n_bootstrap < 20:
        raise InputValidationError(expected_got("n_bootstrap", "at least 20", n_bootstrap))
    est = _ra_point(y, t, x, kind, outcome_model, separate_arms)
    rng = np.random.default_rng(seed)
    n = y.shape[0]
    reps = []
    for _ in range(n_bootstrap):
        idx = rng.integers(0, n, n)
        if kind is TreatmentKind.BINARY and min(t[idx].sum(), n - t[idx].sum()) < 2:
            continue
        reps.append(_ra_point(y[idx], t[idx], x[idx], kind, outcome_model, separate_arms))
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
    )


# ---- IPW ------------------------------------------------------------------------------
def ipw(
    *,
    outcome: Any,
    treatment: Any,
    covariates: Any = None,
    propensity_model: Any = None,
    treatment_kind: TreatmentKind | str | None = None,
    trim: float = 0.01,
    level: float = 0.95,
) -> EffectEstimate:
    """Stabilised inverse-probability weighting.

    Parameters
    ----------
    outcome, treatment, covariates : array-like
        As in :func:`regression_adjustment`.
    propensity_model : scikit-learn classifier (binary) or regressor (continuous), optional
        Default: logistic GLM (binary) / OLS for the mean of a Gaussian T | X.
    treatment_kind : {"binary", "continuous"}, optional
        Default: binary when T only takes 0 and 1.
    trim : float in [0, 0.5)
        Binary: propensities clipped to ``[trim, 1 − trim]``. Continuous: stabilised
        weights truncated at their ``trim`` and ``1 − trim`` quantiles. 0 disables.
    level : float
        Confidence level.

    Returns
    -------
    EffectEstimate
        ``details`` holds the propensity range, the number of clipped rows, and the
        mean and maximum of the stabilised weights (≈ 1 when the model is right).
    """
    y, t, x = check_arrays(outcome, treatment, covariates)
    kind = resolve_kind(t, treatment_kind)
    if not 0.0 <= trim < 0.5:
        raise InputValidationError(expected_got("trim", "in [0, 0.5)", trim))
    n = y.shape[0]
    if kind is TreatmentKind.BINARY:
        e_raw = propensity(t, x, propensity_model)
        e = np.clip(e_raw, trim, 1 - trim) if trim > 0 else e_raw
        if np.any((e <= 0) | (e >= 1)):
            raise EstimationError("propensities of exactly 0 or 1: positivity fails; use trim > 0")
        p1 = t.mean()
        w = np.where(t == 1, p1 / e, (1 - p1) / (1 - e))
        a1, a0 = w * t, w * (1 - t)
        mu1, mu0 = np.sum(a1 * y) / np.sum(a1), np.sum(a0 * y) / np.sum(a0)
        est = mu1 - mu0
        phi = a1 * (y - mu1) / np.mean(a1) - a0 * (y - mu0) / np.mean(a0)
        se = float(np.sqrt(np.mean(phi**2) / n))
        details = {
            "propensity_min": float(e_raw.min()),
            "propensity_max": float(e_raw.max()),
            "n_clipped": int(np.sum(e != e_raw)),
            "weight_mean": float(w.mean()),
            "weight_max": float(w.max()),
            "trim": trim,
        }
        return normal_estimate("IPW (stabilised)", kind, est, se, n, level, details)
    mean_t, sigma = gaussian_gps(t, x, propensity_model)
    numerator = stats.norm.pdf(t, t.mean(), t.std(ddof=1))
    w_raw = numerator / stats.norm.pdf(t, mean_t, sigma)
    if trim > 0:
        lo, hi = np.quantile(w_raw, [trim, 1 - trim])
        w = np.clip(w_raw, lo, hi)
    else:
        w = w_raw
    msm = design(t)  # the marginal structural model's columns [1, T]
    xtwx = msm.T @ (w[:, None] * msm)
    beta = np.linalg.solve(xtwx, msm.T @ (w * y))
    resid = y - msm @ beta
    bread = np.linalg.inv(xtwx)
    meat = msm.T @ ((w * resid)[:, None] ** 2 * msm)
    cov = bread @ meat @ bread
    details = {
        "gps_sigma": sigma,
        "n_truncated": int(np.sum(w != w_raw)),
        "weight_mean": float(w.mean()),
        "weight_max": float(w.max()),
        "trim": trim,
        "msm_intercept": float(beta[0]),
    }
    return normal_estimate(
        "IPW (stabilised, MSM slope)",
        kind,
        float(beta[1]),
        float(np.sqrt(cov[1, 1])),
        n,
        level,
        details,
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
    outcome or the treatment model is right.

    Parameters
    ----------
    outcome, treatment, covariates : array-like
        As in :func:`regression_adjustment`.
    outcome_model, propensity_model : scikit-learn estimators, optional
        Defaults: OLS and a logistic GLM (binary) / OLS for m(X) (continuous).
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
            phi[test] = mu1 - mu0 + tk * (yk - mu1) / e - (1 - tk) * (yk - mu0) / (1 - e)
        else:
            m = regressor(outcome_model).fit(np.column_stack([tt, xt]), yt)
            mean_t, sigma = gaussian_gps(t[test], x[test], propensity_model, xt, tt)
            tk, yk, xk = t[test], y[test], x[test]
            mu = m.predict(np.column_stack([tk, xk]))
            phi[test] = derivative(m, tk, xk) + (tk - mean_t) / sigma**2 * (yk - mu)
    est = float(phi.mean())
    se = float(phi.std(ddof=1) / np.sqrt(n))
    details: dict[str, Any] = {"cross_fit": cross_fit, "seed": seed}
    if kind is TreatmentKind.BINARY:
        details.update(
            propensity_min=float(e_all.min()),
            propensity_max=float(e_all.max()),
            trim=trim,
            separate_arms=separate_arms,
        )
    return normal_estimate("AIPW (EIF)", kind, est, se, n, level, details)


# ---- data-frame front end -----------------------------------------------------------
def estimate_effect(
    data: pd.DataFrame,
    *,
    treatment: str,
    outcome: str,
    covariates: Sequence[str] = (),
    method: EffectMethod | str = EffectMethod.AIPW,
    **options: Any,
) -> EffectEstimate:
    """Estimate the effect of column ``treatment`` on column ``outcome``.

    The named ``method`` adjusts for ``covariates``; further ``options`` are passed on to it.

    Raises
    ------
    acie.errors.UnknownNameError
        If a column is missing; the message lists the available columns.
    """
    from acie.errors import UnknownNameError

    if not isinstance(data, pd.DataFrame):
        raise InputValidationError(expected_got("data", "a pandas DataFrame", type(data).__name__))
    for col in (treatment, outcome, *covariates):
        if col not in data.columns:
            raise UnknownNameError(
                f"unknown column {col!r}; the columns are: {', '.join(map(str, data.columns))}"
            )
    try:
        method = EffectMethod(method)
    except ValueError:
        raise InputValidationError(
            expected_got("method", f"one of {[m.value for m in EffectMethod]}", method)
        ) from None
    estimators: dict[EffectMethod, Callable[..., EffectEstimate]] = {
        EffectMethod.REGRESSION: regression_adjustment,
        EffectMethod.IPW: ipw,
        EffectMethod.AIPW: aipw,
    }
    func = estimators[method]
    x = data[list(covariates)].to_numpy(dtype=float) if covariates else None
    return func(
        outcome=data[outcome].to_numpy(dtype=float),
        treatment=data[treatment].to_numpy(dtype=float),
        covariates=x,
        **options,
    )
