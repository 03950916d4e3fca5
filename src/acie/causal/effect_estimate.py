"""The result of the average-effect estimators, and the input checks they share.

:class:`EffectEstimate` is what :func:`~acie.causal.estimators.regression_adjustment`,
:func:`~acie.causal.estimators.ipw`, :func:`~acie.causal.estimators.aipw` and
:func:`~acie.causal.estimators.estimate_effect` return. The helpers below the types
(:func:`check_arrays`, :func:`resolve_kind`, :func:`normal_estimate`) turn raw inputs into
validated arrays and a point estimate with its standard error into an
:class:`EffectEstimate`; they are shared by the estimators and not part of
:mod:`acie.causal`'s public API.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
from scipy import stats

from acie.errors import EstimationError, InputValidationError, ShapeError, expected_got

__all__ = [
    "EffectEstimate",
    "Estimand",
    "TreatmentKind",
    "UnreliableEstimateWarning",
    "check_arrays",
    "normal_estimate",
    "resolve_estimand",
    "resolve_kind",
]


class UnreliableEstimateWarning(UserWarning):
    """An estimate whose diagnostics (weights, instrument strength) say not to trust it."""


class TreatmentKind(StrEnum):
    """Binary (0/1) or continuous treatment."""

    BINARY = "binary"
    CONTINUOUS = "continuous"


class Estimand(StrEnum):
    """Average effect in everyone (ATE), in the treated (ATT) or in the controls (ATC)."""

    ATE = "ate"
    ATT = "att"
    ATC = "atc"


@dataclass(frozen=True)
class EffectEstimate:
    """An effect estimate with its uncertainty.

    Attributes
    ----------
    estimand : str
        ``"ATE"``, ``"ATT"`` or ``"ATC"`` (binary) or ``"average derivative dE[Y]/dT"``
        (continuous).
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


def check_arrays(
    outcome: Any, treatment: Any, covariates: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Outcome ``(n,)``, treatment ``(n,)`` and covariates ``(n, p)`` as float arrays.

    Raises
    ------
    ShapeError
        Not 1-D outcome and treatment, or a differing number of rows.
    InputValidationError
        NaN or infinite values, or fewer than ``max(10, p + 3)`` rows.
    """
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


def resolve_kind(t: np.ndarray, kind: TreatmentKind | str | None) -> TreatmentKind:
    """The treatment kind: ``kind`` checked against ``t``, or inferred (binary when 0/1).

    Raises
    ------
    EstimationError
        The treatment is constant.
    InputValidationError
        ``kind`` is binary but ``t`` takes values other than 0 and 1.
    """
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


def resolve_estimand(estimand: Estimand | str, kind: TreatmentKind) -> Estimand:
    """``estimand`` as an :class:`Estimand`, checked against the treatment kind.

    Raises
    ------
    InputValidationError
        An unknown estimand, or ATT/ATC for a continuous treatment.
    """
    try:
        target = Estimand(str(estimand).lower())
    except ValueError:
        raise InputValidationError(
            expected_got("estimand", f"one of {[e.value for e in Estimand]}", estimand)
        ) from None
    if kind is TreatmentKind.CONTINUOUS and target is not Estimand.ATE:
        raise InputValidationError(
            expected_got(
                f"a binary treatment for the {target.value.upper()}",
                "values in {0, 1}",
                "a continuous treatment (its estimand is the average derivative)",
            )
        )
    return target


def normal_estimate(
    method: str,
    kind: TreatmentKind,
    est: float,
    se: float,
    n: int,
    level: float,
    details: dict[str, Any],
    *,
    estimand: Estimand = Estimand.ATE,
) -> EffectEstimate:
    """An :class:`EffectEstimate` with the normal-approximation interval at ``level``.

    Raises
    ------
    InputValidationError
        ``level`` is not in (0, 1).
    EstimationError
        The estimate or its standard error is not finite.
    """
    if not 0.0 < level < 1.0:
        raise InputValidationError(expected_got("level", "in (0, 1)", level))
    if not (np.isfinite(est) and np.isfinite(se)):
        raise EstimationError(f"{method} produced a non-finite estimate ({est}, se {se})")
    z = stats.norm.ppf(0.5 + level / 2)
    label = (
        estimand.value.upper() if kind is TreatmentKind.BINARY else "average derivative dE[Y]/dT"
    )
    return EffectEstimate(
        estimand=label,
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
