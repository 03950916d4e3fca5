"""Sensitivity of a regression estimate to an unobserved confounder: partial R² and RV.

Cinelli & Hazlett, "Making sense of sensitivity: extending omitted variable bias",
*J. R. Stat. Soc. B* 82, 39 (2020). For the OLS coefficient of a treatment D in
``Y ~ D + X`` with t statistic ``t`` and residual degrees of freedom ``dof``, an omitted
confounder Z explaining a share ``R²_{D~Z|X}`` of the treatment's residual variance and
``R²_{Y~Z|D,X}`` of the outcome's changes the estimate by at most::

    |bias| = se · √dof · √(R²_{Y~Z|D,X} R²_{D~Z|X} / (1 − R²_{D~Z|X}))

and its standard error to ``se · √((1 − R²_{Y~Z|D,X}) / (1 − R²_{D~Z|X})) · √(dof/(dof − 1))``.

* :func:`partial_r2`: ``R²_{Y~D|X} = t² / (t² + dof)``, the share of the outcome's
  residual variance a confounder explaining *all* of the treatment would need;
* :func:`robustness_value`: ``RV_q``, the equal strength of both associations that
  reduces the estimate by ``100 q`` %, and ``RV_{q,α}``, the strength that makes the
  reduced estimate no longer significant at level α;
* :func:`benchmark_bounds`: the bounds implied by a confounder ``kd`` (``ky``) times
  as strong as an observed covariate (their eqs. 4.4–4.5);
* :func:`ols_sensitivity`: all of it from arrays, with the OLS fit done here.

The contour plot of the adjusted estimate over the two partial R² is drawn by
:mod:`acie.causal.sensitivity_plot`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from acie.errors import EstimationError, InputValidationError, ShapeError, expected_got

__all__ = [
    "BenchmarkBound",
    "OLSSensitivity",
    "adjusted_estimate",
    "adjusted_se",
    "benchmark_bounds",
    "ols_sensitivity",
    "partial_r2",
    "robustness_value",
]


def partial_r2(t_statistic: Any, dof: int) -> Any:
    """Partial R² of a regressor from its t statistic: ``t² / (t² + dof)``.

    Parameters
    ----------
    t_statistic : float or array
        The regressor's t statistic.
    dof : int
        Residual degrees of freedom of the regression.

    Returns
    -------
    float or ndarray
    """
    _check_dof(dof)
    t = np.asarray(t_statistic, dtype=float)
    return t**2 / (t**2 + dof)


def robustness_value(
    t_statistic: float, dof: int, q: float = 1.0, alpha: float | None = None
) -> float:
    """Robustness value ``RV_q`` (``alpha=None``) or ``RV_{q,α}``.

    Parameters
    ----------
    t_statistic : float
        t statistic of the treatment coefficient.
    dof : int
        Residual degrees of freedom.
    q : float
        Fraction of the estimate to explain away (1: down to zero).
    alpha : float in (0, 1), optional
        Significance level: the confounding that makes the adjusted estimate's
        ``1 − alpha`` interval reach ``(1 − q)`` times the estimate.

    Returns
    -------
    float
        In [0, 1].
    """
    _check_dof(dof)
    if not q > 0:
        raise InputValidationError(expected_got("q", "a positive number", q))
    fq = q * abs(t_statistic) / np.sqrt(dof)
    if alpha is None:
        return float(0.5 * (np.sqrt(fq**4 + 4 * fq**2) - fq**2))
    if not 0 < alpha < 1:
        raise InputValidationError(expected_got("alpha", "in (0, 1)", alpha))
    f_crit = abs(stats.t.ppf(alpha / 2, dof - 1)) / np.sqrt(dof - 1)
    fqa = fq - f_crit
    if fqa < 0:
        return 0.0
    if fq > 1 / f_crit:  # the constraint R²_{D~Z|X} ≤ 1 is not binding
        return float((fq**2 - f_crit**2) / (1 + fq**2))
    return float(0.5 * (np.sqrt(fqa**4 + 4 * fqa**2) - fqa**2))


def _bias(se: float, dof: int, r2dz_x: Any, r2yz_dx: Any) -> Any:
    r2d = np.asarray(r2dz_x, dtype=float)
    r2y = np.asarray(r2yz_dx, dtype=float)
    if np.any((r2d < 0) | (r2d >= 1) | (r2y < 0) | (r2y > 1)):
        raise InputValidationError(
            expected_got(
                "partial R² values",
                "R²_{D~Z|X} in [0, 1) and R²_{Y~Z|D,X} in [0, 1]",
                "values outside",
            )
        )
    return se * np.sqrt(dof) * np.sqrt(r2y * r2d / (1 - r2d))


def adjusted_estimate(
    estimate: float, se: float, dof: int, r2dz_x: Any, r2yz_dx: Any, *, reduce: bool = True
) -> Any:
    """The estimate after removing (``reduce``) or adding the maximal bias of Z.

    Parameters
    ----------
    estimate, se : float
        The OLS coefficient of the treatment and its standard error.
    dof : int
        Residual degrees of freedom.
    r2dz_x, r2yz_dx : float or array
        Partial R² of Z with the treatment (given X) and with the outcome (given D, X).
    reduce : bool
        Move the estimate towards zero (default) or away from it.

    Returns
    -------
    float or ndarray
    """
    _check_dof(dof)
    b = _bias(se, dof, r2dz_x, r2yz_dx)
    sign = np.sign(estimate) if estimate != 0 else 1.0
    return sign * (abs(estimate) - b) if reduce else sign * (abs(estimate) + b)


def adjusted_se(se: float, dof: int, r2dz_x: Any, r2yz_dx: Any) -> Any:
    """Standard error of the estimate had Z been included in the regression.

    Parameters
    ----------
    se : float
        Standard error of the treatment coefficient.
    dof : int
        Residual degrees of freedom.
    r2dz_x, r2yz_dx : float or array
        The confounder's partial R² with the treatment and with the outcome.

    Returns
    -------
    float or ndarray
    """
    _check_dof(dof)
    _bias(se, dof, r2dz_x, r2yz_dx)  # range checks
    r2d = np.asarray(r2dz_x, dtype=float)
    r2y = np.asarray(r2yz_dx, dtype=float)
    return se * np.sqrt((1 - r2y) / (1 - r2d)) * np.sqrt(dof / (dof - 1))


def benchmark_bounds(
    r2dxj_x: float, r2yxj_dx: float, kd: float = 1.0, ky: float | None = None
) -> tuple[float, float]:
    """Partial R² of a confounder ``kd``/``ky`` times as strong as an observed covariate Xj.

    Parameters
    ----------
    r2dxj_x : float
        Partial R² of Xj with the treatment given the other covariates.
    r2yxj_dx : float
        Partial R² of Xj with the outcome given the treatment and other covariates.
    kd, ky : float
        Strength multipliers (``ky`` defaults to ``kd``).

    Returns
    -------
    (r2dz_x, r2yz_dx) : tuple of float
        Bounds on ``R²_{D~Z|X}`` and ``R²_{Y~Z|D,X}`` (Cinelli & Hazlett 2020, §6.1).

    Raises
    ------
    InputValidationError
        If the implied ``R²_{D~Z|X}`` is ≥ 1 (``kd`` too large for this covariate).
    """
    ky = kd if ky is None else ky
    if kd <= 0 or ky <= 0:
        raise InputValidationError(expected_got("kd and ky", "positive", (kd, ky)))
    r2dz_x = kd * r2dxj_x / (1 - r2dxj_x)
    if r2dz_x >= 1:
        raise InputValidationError(
            expected_got(
                "kd", f"small enough that kd·R²/(1−R²) < 1 (R²_{{D~Xj|X}} = {r2dxj_x:.4g})", kd
            )
        )
    r2zxj_xd = kd * r2dxj_x**2 / ((1 - kd * r2dxj_x) * (1 - r2dxj_x))
    if r2zxj_xd >= 1:
        raise InputValidationError(expected_got("kd", "an implied R²_{Z~Xj|X,D} below 1", kd))
    r2yz_dx = ((np.sqrt(ky) + np.sqrt(r2zxj_xd)) / np.sqrt(1 - r2zxj_xd)) ** 2 * (
        r2yxj_dx / (1 - r2yxj_dx)
    )
    return float(r2dz_x), float(min(r2yz_dx, 1.0))


@dataclass(frozen=True)
class BenchmarkBound:
    """A confounder ``kd``/``ky`` times as strong as an observed covariate, and its effect."""

    covariate: str
    kd: float
    ky: float
    r2dz_x: float
    r2yz_dx: float
    adjusted_estimate: float
    adjusted_se: float
    adjusted_t: float
    adjusted_ci_low: float
    adjusted_ci_high: float


@dataclass(frozen=True)
class OLSSensitivity:
    """Sensitivity statistics of an OLS treatment coefficient (Cinelli & Hazlett 2020)."""

    estimate: float
    std_error: float
    t_statistic: float
    dof: int
    partial_r2_yd_x: float
    rv_q: float
    rv_q_alpha: float
    q: float
    alpha: float
    bounds: tuple[BenchmarkBound, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        from dataclasses import asdict

        return asdict(self)


def _ols(y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Coefficients, standard errors and residual dof of OLS ``y ~ x`` (x has the intercept)."""
    n, p = x.shape
    q_, r = np.linalg.qr(x)
    if np.min(np.abs(np.diag(r))) < 1e-10 * np.max(np.abs(np.diag(r))):
        raise EstimationError("the regressors are collinear (rank-deficient design)")
    beta = np.linalg.solve(r, q_.T @ y)
    dof = n - p
    if dof < 2:
        raise EstimationError(f"too few rows for OLS: {n} rows, {p} coefficients")
    sigma2 = float(np.sum((y - x @ beta) ** 2) / dof)
    rinv = np.linalg.inv(r)
    se = np.sqrt(sigma2 * np.sum(rinv**2, axis=1))
    return beta, se, dof


def ols_sensitivity(
    outcome: Any,
    treatment: Any,
    covariates: Any = None,
    *,
    benchmarks: Mapping[str, int | Sequence[int]] | None = None,
    kd: Sequence[float] = (1.0,),
    ky: Sequence[float] | None = None,
    q: float = 1.0,
    alpha: float = 0.05,
) -> OLSSensitivity:
    """Fit ``Y ~ 1 + D + X`` by OLS and report its sensitivity to an omitted confounder.

    Parameters
    ----------
    outcome, treatment : array-like, shape (n,)
        Outcome Y and treatment D.
    covariates : array-like, shape (n, p), optional
        Observed covariates X (dummy-encode categorical ones).
    benchmarks : mapping of name to column index (or indices), optional
        Observed covariates (columns of ``covariates``) to bound the confounder by.
    kd, ky : sequence of float
        Strength multipliers for each benchmark (``ky`` defaults to ``kd``).
    q, alpha : float
        As in :func:`robustness_value`.

    Returns
    -------
    OLSSensitivity
    """
    y = np.asarray(outcome, dtype=float)
    d = np.asarray(treatment, dtype=float)
    n = y.shape[0] if y.ndim == 1 else -1
    x = np.empty((max(n, 0), 0)) if covariates is None else np.asarray(covariates, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if y.ndim != 1 or d.shape != y.shape or x.ndim != 2 or x.shape[0] != n:
        raise ShapeError(
            expected_got(
                "outcome, treatment, covariates", "(n,), (n,), (n, p)", (y.shape, d.shape, x.shape)
            )
        )
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(d)) and np.all(np.isfinite(x))):
        raise InputValidationError(expected_got("data", "finite values", "NaN or inf"))
    ky_list = list(kd) if ky is None else list(ky)
    if len(ky_list) != len(kd):
        raise InputValidationError(expected_got("ky", f"{len(kd)} values like kd", len(ky_list)))
    ones = np.ones((n, 1))
    beta, se, dof = _ols(y, np.column_stack([ones, d, x]))
    est, s = float(beta[1]), float(se[1])
    t = est / s
    z = stats.t.ppf(1 - alpha / 2, dof - 1)
    out: list[BenchmarkBound] = []
    for name, cols in (benchmarks or {}).items():
        idx = [cols] if isinstance(cols, int | np.integer) else list(cols)
        if not idx or any(not 0 <= i < x.shape[1] for i in idx):
            raise InputValidationError(
                expected_got(f"benchmark {name!r}", f"column indices in [0, {x.shape[1]})", cols)
            )
        if len(idx) != 1:
            raise InputValidationError(expected_got(f"benchmark {name!r}", "one column", cols))
        j = idx[0]
        rest = [i for i in range(x.shape[1]) if i != j]
        bd, sd, dofd = _ols(d, np.column_stack([ones, x[:, j], x[:, rest]]))
        r2dxj_x = float(partial_r2(bd[1] / sd[1], dofd))
        r2yxj_dx = float(partial_r2(beta[2 + j] / se[2 + j], dof))
        for kd_i, ky_i in zip(kd, ky_list, strict=True):
            r2d, r2y = benchmark_bounds(r2dxj_x, r2yxj_dx, kd_i, ky_i)
            adj = float(adjusted_estimate(est, s, dof, r2d, r2y))
            adj_se = float(adjusted_se(s, dof, r2d, r2y))
            lo, hi = float(adj - z * adj_se), float(adj + z * adj_se)
            out.append(
                BenchmarkBound(name, kd_i, ky_i, r2d, r2y, adj, adj_se, adj / adj_se, lo, hi)
            )
    return OLSSensitivity(
        estimate=est,
        std_error=s,
        t_statistic=t,
        dof=dof,
        partial_r2_yd_x=float(partial_r2(t, dof)),
        rv_q=robustness_value(t, dof, q),
        rv_q_alpha=robustness_value(t, dof, q, alpha),
        q=q,
        alpha=alpha,
        bounds=tuple(out),
    )


def _check_dof(dof: int) -> None:
    if isinstance(dof, bool) or not isinstance(dof, int | np.integer) or dof < 2:
        raise InputValidationError(expected_got("dof", "an integer ≥ 2", dof))
