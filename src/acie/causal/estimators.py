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
from statsmodels); any scikit-learn regressor/classifier can be passed instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from acie.errors import EstimationError, InputValidationError, ShapeError, expected_got

__all__ = [
    "EffectEstimate",
    "EffectMethod",
    "TreatmentKind",
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


class TreatmentKind(StrEnum):
    """Binary (0/1) or continuous treatment."""

    BINARY = "binary"
    CONTINUOUS = "continuous"


@dataclass(frozen=True)
class EffectEstimate:
    """An effect estimate with its uncertainty.

    Attributes
    ----------
    estimand : str
        ``"ATE"`` (binary) or ``"average derivative dE[Y]/dT"`` (continuous).
    method : str
        Estimator name.
    estimate : float [outcome units, or outcome units per treatment unit]
        Point estimate.
    std_error : float
        Standard error (same units).
    ci_low, ci_high : float
        Two-sided confidence interval at ``level`` (normal approximation).
    level : float
        Confidence level, e.g. 0.95.
    n : int
        Number of rows used.
    treatment_kind : str
        ``"binary"`` or ``"continuous"``.
    details : dict
        Estimator-specific diagnostics (e.g. propensity range, weights, folds).
    """

    estimand: str
    method: str
    estimate: float
    std_error: float
    ci_low: float
    ci_high: float
    level: float
    n: int
    treatment_kind: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return asdict(self)

    def __str__(self) -> str:
        pct = round(100 * self.level)
        return (
            f"{self.method}: {self.estimand} = {self.estimate:.4g} ± {self.std_error:.2g} "
            f"({pct}% CI {self.ci_low:.4g} to {self.ci_high:.4g}, n={self.n})"
        )


# ---- input handling -------------------------------------------------------------------
def _prepare(
    outcome: Any, treatment: Any, covariates: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y = np.asarray(outcome, dtype=float)
    t = np.asarray(treatment, dtype=float)
    if y.ndim != 1 or t.ndim != 1:
        raise ShapeError(
            expected_got("outcome and treatment", "1-D arrays", f"shapes {y.shape} and {t.shape}")
        )
    n = y.shape[0]
    if covariates is None:
        x = np.empty((n, 0))
    else:
        x = np.asarray(covariates, dtype=float)
        if x.ndim == 1:
            x = x[:, None]
    if x.ndim != 2 or t.shape[0] != n or x.shape[0] != n:
        raise ShapeError(
            expected_got(
                "outcome, treatment and covariates",
                "one common number of rows",
                f"{n}, {t.shape[0]} and {x.shape}",
            )
        )
    for name, arr in (("outcome", y), ("treatment", t), ("covariates", x)):
        if not np.all(np.isfinite(arr)):
            raise InputValidationError(expected_got(name, "finite values", "NaN or inf"))
    if n < max(10, x.shape[1] + 3):
        raise InputValidationError(
            expected_got("the number of rows", f"at least {max(10, x.shape[1] + 3)}", n)
        )
    return y, t, x


def _kind(t: np.ndarray, kind: TreatmentKind | str | None) -> TreatmentKind:
    if t.min() == t.max():
        raise EstimationError(
            f"the treatment takes the single value {t[0]:g}; there is no contrast to estimate"
        )
    binary = bool(np.all((t == 0) | (t == 1)))
    if kind is None:
        return TreatmentKind.BINARY if binary else TreatmentKind.CONTINUOUS
    kind = TreatmentKind(kind)
    if kind is TreatmentKind.BINARY and not binary:
        raise InputValidationError(
            expected_got("a binary treatment", "values in {0, 1}", np.unique(t)[:5].tolist())
        )
    return kind


def _finish(
    method: str,
    kind: TreatmentKind,
    est: float,
    se: float,
    n: int,
    level: float,
    details: dict[str, Any],
) -> EffectEstimate:
    if not 0.0 < level < 1.0:
        raise InputValidationError(expected_got("level", "in (0, 1)", level))
    if not (np.isfinite(est) and np.isfinite(se)):
        raise EstimationError(f"{method} produced a non-finite estimate ({est}, se {se})")
    z = stats.norm.ppf(0.5 + level / 2)
    estimand = "ATE" if kind is TreatmentKind.BINARY else "average derivative dE[Y]/dT"
    return EffectEstimate(
        estimand=estimand,
        method=method,
        estimate=float(est),
        std_error=float(se),
        ci_low=float(est - z * se),
        ci_high=float(est + z * se),
        level=level,
        n=n,
        treatment_kind=str(kind),
        details=details,
    )


# ---- nuisance models ------------------------------------------------------------------
def _design(*cols: np.ndarray) -> np.ndarray:
    parts = [np.ones((cols[0].shape[0], 1))]
    for c in cols:
        parts.append(c if c.ndim == 2 else c[:, None])
    return np.hstack(parts)


class _OLS:
    """Ordinary least squares with an intercept (lstsq; tolerant of collinearity)."""

    def fit(self, x: np.ndarray, y: np.ndarray) -> _OLS:
        self.coef_, *_ = np.linalg.lstsq(_design(x), y, rcond=None)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return _design(x) @ self.coef_


def _regressor(model: Any) -> Any:
    if model is None:
        return _OLS()
    from sklearn.base import clone

    return clone(model)


def _propensity(
    t: np.ndarray, x: np.ndarray, model: Any, x_new: np.ndarray | None = None
) -> np.ndarray:
    """P(T=1 | X) for rows of ``x_new`` (default ``x``), fitted on (x, t)."""
    x_new = x if x_new is None else x_new
    if model is None:
        import warnings

        import statsmodels.api as sm
        from statsmodels.tools.sm_exceptions import (
            PerfectSeparationWarning,
            SingularMatrixWarning,
        )

        with warnings.catch_warnings():
            warnings.simplefilter("error", PerfectSeparationWarning)
            # collinear covariates leave the coefficients unidentified but the fitted
            # probabilities unique (pseudo-inverse), which is all IPW/AIPW use
            warnings.simplefilter("ignore", SingularMatrixWarning)
            try:
                fit = sm.GLM(t, _design(x), family=sm.families.Binomial()).fit()
            except (PerfectSeparationWarning, np.linalg.LinAlgError, ValueError) as exc:
                raise EstimationError(f"the logistic propensity model failed: {exc}") from exc
        return np.asarray(fit.predict(_design(x_new)), dtype=float)
    from sklearn.base import clone

    clf = clone(model).fit(x, t.astype(int))
    classes = list(clf.classes_)
    return np.asarray(clf.predict_proba(x_new)[:, classes.index(1)], dtype=float)


def _folds(n: int, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    if k == 0:
        idx = np.arange(n)
        return [(idx, idx)]
    if k < 2 or k > n // 5:
        raise InputValidationError(
            expected_got("cross_fit", f"0 or an integer in [2, {n // 5}]", k)
        )
    perm = np.random.default_rng(seed).permutation(n)
    chunks = np.array_split(perm, k)
    return [(np.setdiff1d(perm, c, assume_unique=True), c) for c in chunks]


def _arm_predictions(
    y: np.ndarray, t: np.ndarray, x: np.ndarray, model: Any, separate_arms: bool, x_new: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """μ1(x_new), μ0(x_new) from per-arm fits, or from one fit on columns [T, X]."""
    treated, control = t == 1, t == 0
    if treated.sum() < 2 or control.sum() < 2:
        raise EstimationError(
            "outcome models need at least two rows per arm; got "
            f"{int(treated.sum())} treated and {int(control.sum())} control"
        )
    if separate_arms:
        m1 = _regressor(model).fit(x[treated], y[treated])
        m0 = _regressor(model).fit(x[control], y[control])
        return m1.predict(x_new), m0.predict(x_new)
    m = _regressor(model).fit(np.column_stack([t, x]), y)
    ones, zeros = np.ones(x_new.shape[0]), np.zeros(x_new.shape[0])
    return (m.predict(np.column_stack([ones, x_new])), m.predict(np.column_stack([zeros, x_new])))


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
        mu1, mu0 = _arm_predictions(y, t, x, model, separate_arms, x)
        return float(np.mean(mu1 - mu0))
    m = _regressor(model).fit(np.column_stack([t, x]), y)
    return float(np.mean(_derivative(m, t, x)))


def _derivative(model: Any, t: np.ndarray, x: np.ndarray) -> np.ndarray:
    """∂μ/∂t at (T_i, X_i): the coefficient for OLS, central differences otherwise."""
    if isinstance(model, _OLS):
        return np.full(t.shape[0], model.coef_[1])
    h = 1e-3 * (np.std(t) or 1.0)
    up = model.predict(np.column_stack([t + h, x]))
    down = model.predict(np.column_stack([t - h, x]))
    return (up - down) / (2 * h)


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
    y, t, x = _prepare(outcome, treatment, covariates)
    kind = _kind(t, treatment_kind)
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
    return _finish(
        "regression adjustment",
        kind,
        est,
        se,
        n,
        level,
        {
            "n_bootstrap": len(reps),
            "seed": seed,
            "outcome_model": type(_regressor(outcome_model)).__name__,
        },
    )


# ---- IPW ------------------------------------------------------------------------------
def _gaussian_gps(
    t: np.ndarray,
    x: np.ndarray,
    model: Any,
    x_fit: np.ndarray | None = None,
    t_fit: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    """Conditional mean m(X) of T (at rows x) and residual sd, fitted on (x_fit, t_fit)."""
    x_fit = x if x_fit is None else x_fit
    t_fit = t if t_fit is None else t_fit
    reg = _regressor(model).fit(x_fit, t_fit)
    resid = t_fit - reg.predict(x_fit)
    dof = max(t_fit.shape[0] - x_fit.shape[1] - 1, 1)
    sigma = float(np.sqrt(np.sum(resid**2) / dof))
    if sigma <= 0:
        raise EstimationError(
            "the treatment is a deterministic function of the covariates "
            "(zero residual variance): positivity fails"
        )
    return reg.predict(x), sigma


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
    y, t, x = _prepare(outcome, treatment, covariates)
    kind = _kind(t, treatment_kind)
    if not 0.0 <= trim < 0.5:
        raise InputValidationError(expected_got("trim", "in [0, 0.5)", trim))
    n = y.shape[0]
    if kind is TreatmentKind.BINARY:
        e_raw = _propensity(t, x, propensity_model)
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
        return _finish("IPW (stabilised)", kind, est, se, n, level, details)
    mean_t, sigma = _gaussian_gps(t, x, propensity_model)
    numerator = stats.norm.pdf(t, t.mean(), t.std(ddof=1))
    w_raw = numerator / stats.norm.pdf(t, mean_t, sigma)
    if trim > 0:
        lo, hi = np.quantile(w_raw, [trim, 1 - trim])
        w = np.clip(w_raw, lo, hi)
    else:
        w = w_raw
    design = _design(t)
    xtwx = design.T @ (w[:, None] * design)
    beta = np.linalg.solve(xtwx, design.T @ (w * y))
    resid = y - design @ beta
    bread = np.linalg.inv(xtwx)
    meat = design.T @ ((w * resid)[:, None] ** 2 * design)
    cov = bread @ meat @ bread
    details = {
        "gps_sigma": sigma,
        "n_truncated": int(np.sum(w != w_raw)),
        "weight_mean": float(w.mean()),
        "weight_max": float(w.max()),
        "trim": trim,
        "msm_intercept": float(beta[0]),
    }
    return _finish(
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
    y, t, x = _prepare(outcome, treatment, covariates)
    kind = _kind(t, treatment_kind)
    if not 0.0 <= trim < 0.5:
        raise InputValidationError(expected_got("trim", "in [0, 0.5)", trim))
    n = y.shape[0]
    phi = np.empty(n)
    e_all = np.empty(n)
    for train, test in _folds(n, cross_fit, seed):
        yt, tt, xt = y[train], t[train], x[train]
        if kind is TreatmentKind.BINARY:
            mu1, mu0 = _arm_predictions(yt, tt, xt, outcome_model, separate_arms, x[test])
            e_raw = _propensity(tt, xt, propensity_model, x[test])
            e_all[test] = e_raw
            e = np.clip(e_raw, trim, 1 - trim) if trim > 0 else e_raw
            if np.any((e <= 0) | (e >= 1)):
                raise EstimationError(
                    "propensities of exactly 0 or 1: positivity fails; use trim > 0"
                )
            tk, yk = t[test], y[test]
            phi[test] = mu1 - mu0 + tk * (yk - mu1) / e - (1 - tk) * (yk - mu0) / (1 - e)
        else:
            m = _regressor(outcome_model).fit(np.column_stack([tt, xt]), yt)
            mean_t, sigma = _gaussian_gps(t[test], x[test], propensity_model, xt, tt)
            tk, yk, xk = t[test], y[test], x[test]
            mu = m.predict(np.column_stack([tk, xk]))
            phi[test] = _derivative(m, tk, xk) + (tk - mean_t) / sigma**2 * (yk - mu)
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
    return _finish("AIPW (EIF)", kind, est, se, n, level, details)


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
    """Estimate the effect of column ``treatment`` on column ``outcome`` adjusting for
    ``covariates``, with the named method (options are passed on).

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
    func = {
        EffectMethod.REGRESSION: regression_adjustment,
        EffectMethod.IPW: ipw,
        EffectMethod.AIPW: aipw,
    }[method]
    x = data[list(covariates)].to_numpy(dtype=float) if covariates else None
    return func(
        outcome=data[outcome].to_numpy(dtype=float),
        treatment=data[treatment].to_numpy(dtype=float),
        covariates=x,
        **options,
    )
