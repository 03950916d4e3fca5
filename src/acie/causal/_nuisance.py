"""Nuisance models of the average-effect estimators: outcome regressions and propensities.

The defaults are parametric: :class:`OLS` for outcome regressions and for the mean of a
Gaussian treatment given the covariates, and a logistic GLM (statsmodels) for the
propensity of a binary treatment. Any scikit-learn regressor or classifier passed by the
caller is cloned before each fit, so the caller's object is never fitted in place.
Used by :mod:`acie.causal.estimators`; not part of :mod:`acie.causal`'s public API.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from acie.errors import EstimationError, InputValidationError, expected_got

__all__ = [
    "OLS",
    "arm_predictions",
    "batched_wls",
    "bootstrap_counts",
    "derivative",
    "design",
    "folds",
    "gaussian_gps",
    "propensity",
    "regressor",
]


def design(*cols: np.ndarray) -> np.ndarray:
    """The design matrix ``[1, cols...]``: an intercept column, then each 1-D or 2-D column."""
    parts = [np.ones((cols[0].shape[0], 1))]
    for c in cols:
        parts.append(c if c.ndim == 2 else c[:, None])
    return np.hstack(parts)


class OLS:
    """Ordinary least squares with an intercept (lstsq; tolerant of collinearity)."""

    def fit(self, x: np.ndarray, y: np.ndarray) -> OLS:
        self.coef_, *_ = np.linalg.lstsq(design(x), y, rcond=None)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return design(x) @ self.coef_


def batched_wls(d: np.ndarray, v: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Least-squares coefficients of ``v`` on the columns of ``d`` for each row of weights.

    ``d`` is ``(n, k)``, ``v`` is ``(n,)``, ``w`` is ``(B, n)`` (bootstrap counts, or ones);
    returns ``(B, k)``. The normal equations of all B fits are two matrix products.
    """
    k = d.shape[1]
    outer = (d[:, :, None] * d[:, None, :]).reshape(d.shape[0], k * k)
    xtx = (w @ outer).reshape(-1, k, k)
    xty = w @ (d * v[:, None])
    return np.linalg.solve(xtx, xty[..., None])[..., 0]


def bootstrap_counts(n: int, n_bootstrap: int, seed: int) -> np.ndarray:
    """``(n_bootstrap, n)`` multiplicities of rows resampled with replacement (seeded)."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, (n_bootstrap, n))
    flat = (np.arange(n_bootstrap)[:, None] * n + idx).ravel()
    return np.bincount(flat, minlength=n_bootstrap * n).reshape(n_bootstrap, n).astype(float)


def regressor(model: Any) -> Any:
    """A fresh, unfitted copy of ``model`` (a scikit-learn estimator), or :class:`OLS`."""
    if model is None:
        return OLS()
    from sklearn.base import clone

    return clone(model)


def propensity(
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
                fit = sm.GLM(t, design(x), family=sm.families.Binomial()).fit()
            except (PerfectSeparationWarning, np.linalg.LinAlgError, ValueError) as exc:
                raise EstimationError(f"the logistic propensity model failed: {exc}") from exc
        return np.asarray(fit.predict(design(x_new)), dtype=float)
    from sklearn.base import clone

    clf = clone(model).fit(x, t.astype(int))
    classes = list(clf.classes_)
    return np.asarray(clf.predict_proba(x_new)[:, classes.index(1)], dtype=float)


def folds(n: int, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) row indices of ``k``-fold cross-fitting; ``k = 0``: one fold, all rows.

    Raises
    ------
    InputValidationError
        ``k`` is neither 0 nor in ``[2, n // 5]`` (each fold keeps at least five rows).
    """
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


def arm_predictions(
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
        m1 = regressor(model).fit(x[treated], y[treated])
        m0 = regressor(model).fit(x[control], y[control])
        return m1.predict(x_new), m0.predict(x_new)
    m = regressor(model).fit(np.column_stack([t, x]), y)
    ones, zeros = np.ones(x_new.shape[0]), np.zeros(x_new.shape[0])
    return (m.predict(np.column_stack([ones, x_new])), m.predict(np.column_stack([zeros, x_new])))


def derivative(model: Any, t: np.ndarray, x: np.ndarray) -> np.ndarray:
    """∂μ/∂t at (T_i, X_i): the coefficient for OLS, central differences otherwise."""
    if isinstance(model, OLS):
        return np.full(t.shape[0], model.coef_[1])
    h = 1e-3 * (np.std(t) or 1.0)
    up = model.predict(np.column_stack([t + h, x]))
    down = model.predict(np.column_stack([t - h, x]))
    return (up - down) / (2 * h)


def gaussian_gps(
    t: np.ndarray,
    x: np.ndarray,
    model: Any,
    x_fit: np.ndarray | None = None,
    t_fit: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    """Conditional mean m(X) of T (at rows x) and residual sd, fitted on (x_fit, t_fit)."""
    x_fit = x if x_fit is None else x_fit
    t_fit = t if t_fit is None else t_fit
    reg = regressor(model).fit(x_fit, t_fit)
    resid = t_fit - reg.predict(x_fit)
    dof = max(t_fit.shape[0] - x_fit.shape[1] - 1, 1)
    sigma = float(np.sqrt(np.sum(resid**2) / dof))
    if sigma <= 0:
        raise EstimationError(
            "the treatment is a deterministic function of the covariates "
            "(zero residual variance): positivity fails"
        )
    return reg.predict(x), sigma
