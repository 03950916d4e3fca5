"""Inverse-probability weighting: binary treatments (ATE, ATT, ATC) and continuous ones.

* Binary T: Hájek (normalised) inverse-probability weights (Hernán & Robins, *Causal
  Inference: What If*, 2020, §12.3), propensities clipped to ``[trim, 1 − trim]``.
  The arms' weights are ``1/e`` and ``1/(1 − e)`` for the ATE, ``1`` and ``e/(1 − e)``
  for the ATT (the controls reweighted to the treated), ``(1 − e)/e`` and ``1`` for the
  ATC. The standard error is the robust (sandwich) one, which ignores the estimation of
  the propensity and so is conservative, as in What If.
* Continuous T: the MSM slope with entropy-balancing weights
  (:func:`acie.causal.weighting.balancing_slope`); Gaussian generalised-propensity
  weights are not used (their variance is infinite when ``Var(T)/Var(T|X) > 2``).

Both report the weights' effective sample size and largest share
(:func:`acie.causal.weighting.weight_diagnostics`) and warn with
:class:`~acie.causal.effect_estimate.UnreliableEstimateWarning` when they say the
weighting cannot be trusted.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from acie.causal._nuisance import propensity
from acie.causal.effect_estimate import (
    EffectEstimate,
    Estimand,
    TreatmentKind,
    UnreliableEstimateWarning,
    check_arrays,
    normal_estimate,
    resolve_estimand,
    resolve_kind,
)
from acie.causal.weighting import balancing_slope, weight_diagnostics
from acie.errors import EstimationError, InputValidationError, expected_got

__all__ = ["arm_weights", "ipw"]


def arm_weights(e: np.ndarray, estimand: Estimand) -> tuple[np.ndarray, np.ndarray]:
    """Unnormalised weights of the treated and control rows for ``estimand``."""
    if estimand is Estimand.ATT:
        return np.ones_like(e), e / (1 - e)
    if estimand is Estimand.ATC:
        return (1 - e) / e, np.ones_like(e)
    return 1 / e, 1 / (1 - e)


def _arm_diagnostics(w1: np.ndarray, w0: np.ndarray, target: Estimand) -> dict[str, Any]:
    """Diagnostics per arm (each arm's weights estimate one mean), warning once if either fails.

    A reweighted arm stands for its own rows (ATE), or for the other arm's (the controls
    in an ATT, the treated in an ATC: a large reservoir of controls is meant to be
    mostly down-weighted).
    """
    n1, n0 = w1.shape[0], w0.shape[0]
    d1 = weight_diagnostics(w1, warn=False, reference_n=n0 if target is Estimand.ATC else n1)
    d0 = weight_diagnostics(w0, warn=False, reference_n=n1 if target is Estimand.ATT else n0)
    reasons = [f"treated: {r}" for r in d1["weight_warnings"]]
    reasons += [f"control: {r}" for r in d0["weight_warnings"]]
    if reasons:
        import warnings

        warnings.warn(
            "the weighting cannot be trusted: " + "; ".join(reasons),
            UnreliableEstimateWarning,
            stacklevel=3,
        )
    return {
        "effective_sample_size": d1["effective_sample_size"] + d0["effective_sample_size"],
        "ess_fraction": (d1["effective_sample_size"] + d0["effective_sample_size"])
        / (w1.shape[0] + w0.shape[0]),
        "max_weight_share": max(d1["max_weight_share"], d0["max_weight_share"]),
        "weights_reliable": not reasons,
        "weight_warnings": reasons,
    }


def ipw(
    *,
    outcome: Any,
    treatment: Any,
    covariates: Any = None,
    propensity_model: Any = None,
    treatment_kind: TreatmentKind | str | None = None,
    estimand: Estimand | str = Estimand.ATE,
    trim: float = 0.01,
    balance_degree: int = 1,
    level: float = 0.95,
) -> EffectEstimate:
    """Inverse-probability (binary) or balancing (continuous) weighting.

    Parameters
    ----------
    outcome, treatment, covariates : array-like
        As in :func:`~acie.causal.estimators.regression_adjustment`.
    propensity_model : scikit-learn classifier, optional
        Binary only. Default: a logistic GLM.
    treatment_kind : {"binary", "continuous"}, optional
        Default: binary when T only takes 0 and 1.
    estimand : {"ate", "att", "atc"}
        Binary only (a continuous treatment's estimand is the average derivative).
    trim : float in [0, 0.5)
        Binary: propensities clipped to ``[trim, 1 − trim]``; 0 disables.
    balance_degree : {1, 2}
        Continuous: balance T against X (1) or also against X² (2).
    level : float
        Confidence level.

    Returns
    -------
    EffectEstimate
        ``details`` holds the weight diagnostics (``effective_sample_size``,
        ``max_weight_share``, ``weights_reliable``, ``weight_warnings``) and, for a
        binary T, the propensity range and the number of clipped rows.
    """
    y, t, x = check_arrays(outcome, treatment, covariates)
    kind = resolve_kind(t, treatment_kind)
    target = resolve_estimand(estimand, kind)
    if not 0.0 <= trim < 0.5:
        raise InputValidationError(expected_got("trim", "in [0, 0.5)", trim))
    n = y.shape[0]
    if kind is TreatmentKind.CONTINUOUS:
        if propensity_model is not None:
            raise InputValidationError(
                expected_got(
                    "propensity_model for a continuous treatment",
                    "None (balancing weights need no treatment model)",
                    type(propensity_model).__name__,
                )
            )
        est, se, diag = balancing_slope(y, t, x, degree=balance_degree)
        return normal_estimate("IPW (entropy balancing, MSM slope)", kind, est, se, n, level, diag)
    e_raw = propensity(t, x, propensity_model)
    e = np.clip(e_raw, trim, 1 - trim) if trim > 0 else e_raw
    if np.any((e <= 0) | (e >= 1)):
        raise EstimationError("propensities of exactly 0 or 1: positivity fails; use trim > 0")
    w1, w0 = arm_weights(e, target)
    a1, a0 = w1 * t, w0 * (1 - t)
    mu1, mu0 = np.sum(a1 * y) / np.sum(a1), np.sum(a0 * y) / np.sum(a0)
    phi = a1 * (y - mu1) / np.mean(a1) - a0 * (y - mu0) / np.mean(a0)
    se = float(np.sqrt(np.mean(phi**2) / n))
    diag = _arm_diagnostics(a1[t == 1], a0[t == 0], target)
    details: dict[str, Any] = {
        "propensity_min": float(e_raw.min()),
        "propensity_max": float(e_raw.max()),
        "n_clipped": int(np.sum(e != e_raw)),
        "trim": trim,
        **diag,
    }
    if target is Estimand.ATE:  # the stabilised weights of What If §12.3 (mean ≈ 1)
        p1 = t.mean()
        sw = np.where(t == 1, p1 * w1, (1 - p1) * w0)
        details.update(weight_mean=float(sw.mean()), weight_max=float(sw.max()))
    return normal_estimate(
        "IPW (stabilised)", kind, float(mu1 - mu0), se, n, level, details, estimand=target
    )
