"""E-values: how strong unmeasured confounding would have to be to explain an effect away.

The E-value (VanderWeele & Ding, *Ann. Intern. Med.* 167, 268, 2017) is the minimum
strength of association, on the risk-ratio scale, that an unmeasured confounder would
need with both the treatment and the outcome, conditional on the measured covariates,
to fully explain away an observed risk ratio ``RR``::

    E = RR + sqrt(RR (RR − 1))          (RR ≥ 1; for RR < 1 use 1/RR)

The E-value for the confidence interval is that of the limit closer to the null (1 if
the interval already covers it). Other effect scales are first converted to an
approximate risk ratio, as in the paper and the R package ``EValue``:

* odds ratio: ``RR ≈ OR`` when the outcome is rare (< 15 %), else ``RR ≈ √OR``;
* hazard ratio: ``RR ≈ HR`` when rare, else ``(1 − 0.5^√HR) / (1 − 0.5^√(1/HR))``;
* standardized mean difference ``d`` (mean difference over the outcome's sd), with
  standard error ``se``: ``RR ≈ exp(0.91 d)`` and the interval ``exp(0.91 d ± 1.78 se)``.

A ``true`` value other than 1 gives the confounding needed to move the estimate to it.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass
from typing import Any

from acie.errors import InputValidationError, expected_got

__all__ = ["EValue", "evalue_hr", "evalue_or", "evalue_rr", "evalue_smd", "evalue_value"]


@dataclass(frozen=True)
class EValue:
    """E-values of a point estimate and of its confidence interval.

    Attributes
    ----------
    scale : str
        ``"RR"``, ``"OR"``, ``"HR"`` or ``"SMD"``: the scale of the input.
    estimate_rr, ci_low_rr, ci_high_rr : float or None
        The estimate and interval converted to the risk-ratio scale.
    point : float
        E-value of the point estimate (≥ 1).
    ci : float or None
        E-value of the interval limit closer to ``true`` (1 when it covers ``true``).
    true : float
        The risk ratio the confounding would have to move the estimate to.
    """

    scale: str
    estimate_rr: float
    ci_low_rr: float | None
    ci_high_rr: float | None
    point: float
    ci: float | None
    true: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return asdict(self)


def evalue_value(rr: float, true: float = 1.0) -> float:
    """The E-value of one risk ratio ``rr`` relative to ``true`` (default 1).

    Parameters
    ----------
    rr : float
        A risk ratio, > 0.
    true : float
        The risk ratio the confounding must reach (> 0).

    Returns
    -------
    float
        ``RR' + sqrt(RR' (RR' − 1))`` with ``RR' = rr/true`` or its inverse, whichever is ≥ 1.
    """
    _positive("risk ratio", rr)
    _positive("true", true)
    ratio = rr / true
    if ratio < 1:
        ratio = 1 / ratio
    return ratio + math.sqrt(ratio * (ratio - 1))


def evalue_rr(
    estimate: float,
    ci_low: float | None = None,
    ci_high: float | None = None,
    *,
    true: float = 1.0,
    scale: str = "RR",
) -> EValue:
    """E-values for a risk ratio and its confidence interval.

    Parameters
    ----------
    estimate : float
        The risk ratio (> 0).
    ci_low, ci_high : float, optional
        The interval limits (> 0, ``ci_low ≤ estimate ≤ ci_high``).
    true : float
        The null value (default 1).
    scale : str
        Recorded in the result (used by the converting front ends).

    Returns
    -------
    EValue

    Raises
    ------
    InputValidationError
        Non-positive values, or limits on the wrong side of the estimate.
    """
    _positive("estimate", estimate)
    for name, lim in (("ci_low", ci_low), ("ci_high", ci_high)):
        if lim is not None:
            _positive(name, lim)
    if ci_low is not None and ci_low > estimate:
        raise InputValidationError(expected_got("ci_low", f"≤ the estimate {estimate}", ci_low))
    if ci_high is not None and ci_high < estimate:
        raise InputValidationError(expected_got("ci_high", f"≥ the estimate {estimate}", ci_high))
    point = evalue_value(estimate, true)
    ci: float | None = None
    if estimate >= true and ci_low is not None:
        ci = 1.0 if ci_low <= true else evalue_value(ci_low, true)
    elif estimate < true and ci_high is not None:
        ci = 1.0 if ci_high >= true else evalue_value(ci_high, true)
    return EValue(scale, float(estimate), ci_low, ci_high, float(point), ci, float(true))


def evalue_or(
    estimate: float,
    ci_low: float | None = None,
    ci_high: float | None = None,
    *,
    rare: bool,
    true: float = 1.0,
) -> EValue:
    """E-values for an odds ratio: ``RR ≈ OR`` if the outcome is rare (< 15 %), else ``√OR``.

    Parameters
    ----------
    estimate, ci_low, ci_high : float
        The odds ratio and its interval.
    rare : bool
        Whether the outcome is rare (prevalence below about 15 %) in every stratum.
    true : float
        Null value on the odds-ratio scale.

    Returns
    -------
    EValue
    """
    conv = _identity if rare else math.sqrt
    return _converted("OR", conv, estimate, ci_low, ci_high, true)


def evalue_hr(
    estimate: float,
    ci_low: float | None = None,
    ci_high: float | None = None,
    *,
    rare: bool,
    true: float = 1.0,
) -> EValue:
    """E-values for a hazard ratio (VanderWeele 2020 conversion when the outcome is common).

    Parameters
    ----------
    estimate, ci_low, ci_high : float
        The hazard ratio and its interval.
    rare : bool
        Whether the outcome is rare (< 15 % by the end of follow-up).
    true : float
        Null value on the hazard-ratio scale.

    Returns
    -------
    EValue
    """

    def common(hr: float) -> float:
        return (1 - 0.5 ** math.sqrt(hr)) / (1 - 0.5 ** math.sqrt(1 / hr))

    return _converted("HR", _identity if rare else common, estimate, ci_low, ci_high, true)


def evalue_smd(estimate: float, se: float | None = None, *, true: float = 0.0) -> EValue:
    """E-values for a standardized mean difference ``d`` with standard error ``se``.

    ``RR ≈ exp(0.91 d)``; the interval is ``exp(0.91 d ± 1.78 se)`` (VanderWeele & Ding
    2017, after Chinn 2000). ``true`` is on the SMD scale.

    Parameters
    ----------
    estimate : float
        The standardized mean difference (mean difference / sd of the outcome).
    se : float, optional
        Its standard error (> 0).
    true : float
        Null value of ``d`` (default 0).

    Returns
    -------
    EValue
    """
    if not math.isfinite(estimate):
        raise InputValidationError(expected_got("estimate", "a finite number", estimate))
    if se is not None and not (math.isfinite(se) and se > 0):
        raise InputValidationError(expected_got("se", "a positive number", se))
    rr = math.exp(0.91 * estimate)
    lo = None if se is None else math.exp(0.91 * estimate - 1.78 * se)
    hi = None if se is None else math.exp(0.91 * estimate + 1.78 * se)
    return evalue_rr(rr, lo, hi, true=math.exp(0.91 * true), scale="SMD")


def _identity(x: float) -> float:
    return x


def _converted(
    scale: str,
    conv: Any,
    estimate: float,
    ci_low: float | None,
    ci_high: float | None,
    true: float,
) -> EValue:
    for name, v in (("estimate", estimate), ("ci_low", ci_low), ("ci_high", ci_high)):
        if v is not None:
            _positive(name, v)
    _positive("true", true)
    lo = None if ci_low is None else conv(ci_low)
    hi = None if ci_high is None else conv(ci_high)
    return evalue_rr(conv(estimate), lo, hi, true=conv(true), scale=scale)


def _positive(name: str, value: Any) -> None:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not ok or not math.isfinite(float(value)) or float(value) <= 0:
        raise InputValidationError(expected_got(name, "a positive finite number", value))
