"""Instrumental variables: the Wald estimator and two-stage least squares (2SLS).

With instruments Z that move the treatment T, reach the outcome Y only through T and
share no unblocked path with Y, the linear IV model ``Y = b0 + β T + γ·W + u`` with
exogenous covariates W is identified. 2SLS regresses Y on the first-stage fitted values
``T̂ = Π·[1, W, Z]``; the coefficient covariance uses the structural residuals
``u = Y − [1, T, W]·b`` (not the second-stage ones): ``σ² (X̂'X̂)⁻¹`` (``"unadjusted"``,
σ² = u'u/(n − k)) or the HC1 sandwich ``(X̂'X̂)⁻¹ X̂' diag(u²) X̂ (X̂'X̂)⁻¹ · n/(n − k)``
(``"robust"``). With one binary instrument, a binary treatment and no covariates this is
the Wald estimator ``(E[Y|Z=1] − E[Y|Z=0]) / (E[T|Z=1] − E[T|Z=0])``, the local average
treatment effect of the compliers (Imbens & Angrist 1994).

The first-stage F statistic tests the excluded instruments' coefficients (Wald test
divided by their number, with the chosen covariance); below 10 (Staiger & Stock 1997)
the estimate is biased towards OLS and its interval unreliable, and
:class:`~acie.causal.effect_estimate.UnreliableEstimateWarning` is issued.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy import stats

from acie.causal.effect_estimate import (
    EffectEstimate,
    UnreliableEstimateWarning,
    check_arrays,
    normal_estimate,
    resolve_kind,
)
from acie.errors import EstimationError, InputValidationError, ShapeError, expected_got

__all__ = ["WEAK_INSTRUMENT_F", "iv_effect"]

WEAK_INSTRUMENT_F = 10.0  # Staiger & Stock's rule of thumb


def _cov(xh: np.ndarray, u: np.ndarray, cov_type: str) -> np.ndarray:
    n, k = xh.shape
    bread = np.linalg.inv(xh.T @ xh)
    if cov_type == "unadjusted":
        return bread * float(u @ u) / (n - k)
    meat = (xh * u[:, None]).T @ (xh * u[:, None])
    return bread @ meat @ bread * n / (n - k)


def iv_effect(
    *,
    outcome: Any,
    treatment: Any,
    instruments: Any,
    covariates: Any = None,
    cov_type: str = "robust",
    level: float = 0.95,
    warn: bool = True,
) -> EffectEstimate:
    """The effect of T on Y by 2SLS (the Wald estimator in the simplest case).

    Parameters
    ----------
    outcome, treatment : array-like, shape (n,)
        Outcome Y and the (endogenous) treatment T.
    instruments : array-like, shape (n,) or (n, q)
        Excluded instruments Z (q ≥ 1).
    covariates : array-like, shape (n, p), optional
        Exogenous covariates W, in both stages.
    cov_type : {"robust", "unadjusted"}
        HC1 (heteroskedasticity-robust) or homoskedastic standard errors.
    level : float
        Confidence level.
    warn : bool
        Warn when the first-stage F is below ``WEAK_INSTRUMENT_F``.

    Returns
    -------
    EffectEstimate
        ``details``: ``first_stage_F``, its p-value and degrees of freedom,
        ``first_stage_coefficients`` (of the instruments), ``weak_instruments`` (bool),
        ``ols_estimate`` (for comparison) and ``cov_type``.

    Raises
    ------
    EstimationError
        If the instruments do not move the treatment at all (rank-deficient first stage).
    """
    if cov_type not in ("robust", "unadjusted"):
        raise InputValidationError(expected_got("cov_type", "'robust' or 'unadjusted'", cov_type))
    y, t, w = check_arrays(outcome, treatment, covariates)
    kind = resolve_kind(t, None)
    z = np.asarray(instruments, dtype=float)
    z = z[:, None] if z.ndim == 1 else z
    if z.ndim != 2 or z.shape[0] != y.shape[0] or z.shape[1] == 0:
        raise ShapeError(expected_got("instruments", f"shape ({y.shape[0]}, q ≥ 1)", z.shape))
    if not np.all(np.isfinite(z)):
        raise InputValidationError(expected_got("instruments", "finite values", "NaN or inf"))
    n, q = z.shape
    ones = np.ones((n, 1))
    zz = np.hstack([ones, w, z])  # all exogenous variables
    xx = np.hstack([ones, t[:, None], w])  # the structural regressors
    if np.linalg.matrix_rank(zz) < zz.shape[1]:
        raise EstimationError("the instruments are collinear with the covariates")
    pi, *_ = np.linalg.lstsq(zz, t, rcond=None)
    v = t - zz @ pi
    cov_pi = _cov(zz, v, cov_type)
    k_ex = slice(zz.shape[1] - q, zz.shape[1])
    coef = pi[k_ex]
    try:
        f_stat = float(coef @ np.linalg.solve(cov_pi[k_ex, k_ex], coef) / q)
    except np.linalg.LinAlgError as exc:
        raise EstimationError("the instruments do not move the treatment") from exc
    df2 = n - zz.shape[1]
    xh = np.hstack([ones, (zz @ pi)[:, None], w])
    beta = np.linalg.solve(xh.T @ xx, xh.T @ y)
    u = y - xx @ beta
    se = float(np.sqrt(_cov(xh, u, cov_type)[1, 1]))
    ols, *_ = np.linalg.lstsq(xx, y, rcond=None)
    weak = f_stat < WEAK_INSTRUMENT_F
    if weak and warn:
        warnings.warn(
            f"weak instruments: the first-stage F is {f_stat:.2f} (below "
            f"{WEAK_INSTRUMENT_F:g}); the 2SLS estimate is biased towards OLS and its "
            "interval is unreliable",
            UnreliableEstimateWarning,
            stacklevel=2,
        )
    binary_z = q == 1 and bool(np.all((z == 0) | (z == 1)))
    wald = binary_z and w.shape[1] == 0
    estimand = "LATE (compliers)" if wald and kind == "binary" else "IV effect dE[Y]/dT"
    result = normal_estimate(
        "Wald (IV)" if wald else "2SLS",
        kind,
        float(beta[1]),
        se,
        n,
        level,
        {
            "first_stage_F": f_stat,
            "first_stage_F_pvalue": float(stats.f.sf(f_stat, q, df2)),
            "first_stage_df": [q, df2],
            "first_stage_coefficients": coef.tolist(),
            "weak_instruments": weak,
            "ols_estimate": float(ols[1]),
            "cov_type": cov_type,
            "n_instruments": q,
        },
    )
    return EffectEstimate(**{**result.to_dict(), "estimand": estimand})
