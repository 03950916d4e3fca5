"""Refutations of an effect estimate, as DoWhy's users know them, each with a pass/fail rule.

Each refuter re-runs the same estimator (:func:`acie.causal.estimators.estimate_effect`)
on altered data, ``n_simulations`` times with seeded draws, and reads the result by a
stated rule (``z`` is the normal quantile of the confidence level, ``k`` a tolerance in
standard errors of the original estimate, default 1):

* **placebo treatment** — the treatment column is permuted, so the true effect is 0.
  Passes when the share of placebo intervals that miss 0 is not improbably large for
  intervals with the nominal level (one-sided binomial test, p ≥ 0.01).
* **dummy outcome** — the outcome is replaced by its linear prediction from the
  covariates plus permuted residuals: it keeps the covariates' association with the
  outcome but does not depend on the treatment, so the true effect is 0. Same rule.
* **random common cause** — an independent N(0, 1) column is added to the covariates.
  Passes when the mean new estimate is within ``k`` standard errors of the original.
* **data subset** — the estimate on random subsets (80 % of the rows by default).
  Passes when their mean is within ``k`` standard errors of the original.
* **bootstrap** — the estimate on rows resampled with replacement. Passes when the
  bootstrap mean is within ``k`` standard errors of the original (small bootstrap bias)
  and the estimator's standard error lies in the 99 % chi-square confidence interval
  of the bootstrap's standard deviation (so the rule holds for few replicates too).

DoWhy (``CausalModel.refute_estimate``) offers the same five refuters; the benchmark
``benchmarks/bench_causal_sensitivity.py`` runs both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from acie.causal.effect_estimate import EffectEstimate
from acie.causal.estimators import estimate_effect
from acie.errors import InputValidationError, expected_got

__all__ = ["Refutation", "RefutationReport", "Refuter", "refute_estimate"]


class Refuter(StrEnum):
    """The refutations of :func:`refute_estimate`."""

    PLACEBO_TREATMENT = "placebo_treatment"
    RANDOM_COMMON_CAUSE = "random_common_cause"
    DATA_SUBSET = "data_subset"
    DUMMY_OUTCOME = "dummy_outcome"
    BOOTSTRAP = "bootstrap"


@dataclass(frozen=True)
class Refutation:
    """One refutation: what it did, what it found and whether the estimate survived it.

    Attributes
    ----------
    refuter : str
        A :class:`Refuter` value.
    rule : str
        The pass/fail rule, in words, with its numbers.
    original_estimate, original_std_error : float
        The estimate being refuted.
    new_estimate : float
        Mean of the refuter's estimates.
    new_spread : float
        Standard deviation of the refuter's estimates.
    expected : float or None
        The value the refuter's estimates should have (0 for the placebo and dummy
        outcome, the original estimate for the others).
    statistic : float
        The number the rule compares (miss count, or distance in standard errors).
    passed : bool
        Whether the estimate survived.
    n_simulations : int
        Number of refuter runs.
    """

    refuter: str
    rule: str
    original_estimate: float
    original_std_error: float
    new_estimate: float
    new_spread: float
    expected: float
    statistic: float
    passed: bool
    n_simulations: int
    details: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        return (
            f"{verdict} {self.refuter}: new effect {self.new_estimate:.4g} "
            f"(sd {self.new_spread:.2g}, expected {self.expected:.4g}); {self.rule}"
        )


@dataclass(frozen=True)
class RefutationReport:
    """The original estimate and its refutations."""

    estimate: EffectEstimate
    refutations: tuple[Refutation, ...]

    @property
    def passed(self) -> bool:
        """Whether every refutation passed."""
        return all(r.passed for r in self.refutations)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return {
            "estimate": self.estimate.to_dict(),
            "refutations": [asdict(r) for r in self.refutations],
            "passed": self.passed,
        }


def refute_estimate(
    data: pd.DataFrame,
    *,
    treatment: str,
    outcome: str,
    covariates: Sequence[str] = (),
    method: str = "aipw",
    refuters: Sequence[Refuter | str] = tuple(Refuter),
    n_simulations: int = 20,
    subset_fraction: float = 0.8,
    k: float = 1.0,
    level: float = 0.95,
    seed: int = 0,
    **options: Any,
) -> RefutationReport:
    """Estimate the effect of ``treatment`` on ``outcome`` and run the refuters on it.

    Parameters
    ----------
    data : pandas.DataFrame
        The data, one numeric column per variable.
    treatment, outcome : str
        Column names.
    covariates : sequence of str
        The adjustment set.
    method : str
        An :class:`~acie.causal.estimators.EffectMethod` value.
    refuters : sequence of Refuter or str
        Which refutations to run (default: all five).
    n_simulations : int
        Runs per refuter (≥ 5).
    subset_fraction : float in (0, 1)
        Share of rows kept by the data-subset refuter.
    k : float
        Tolerance, in standard errors of the original estimate, of the random common
        cause, data subset and bootstrap rules.
    level : float
        Confidence level of the estimator's intervals and of the rules.
    seed : int
        Seed of every draw (each refuter gets its own stream).
    **options
        Passed on to the estimator.

    Returns
    -------
    RefutationReport
    """
    if not isinstance(data, pd.DataFrame):
        raise InputValidationError(expected_got("data", "a pandas DataFrame", type(data).__name__))
    names = []
    for r in refuters:
        try:
            names.append(Refuter(r))
        except ValueError:
            raise InputValidationError(
                expected_got("refuter", f"one of {[v.value for v in Refuter]}", r)
            ) from None
    if isinstance(n_simulations, bool) or not isinstance(n_simulations, int) or n_simulations < 5:
        raise InputValidationError(expected_got("n_simulations", "an integer ≥ 5", n_simulations))
    if not 0 < subset_fraction < 1:
        raise InputValidationError(expected_got("subset_fraction", "in (0, 1)", subset_fraction))
    if not k > 0:
        raise InputValidationError(expected_got("k", "a positive number", k))
    cov = list(covariates)

    def fit(frame: pd.DataFrame, covs: list[str] | None = None) -> EffectEstimate:
        return estimate_effect(
            frame,
            treatment=treatment,
            outcome=outcome,
            covariates=cov if covs is None else covs,
            method=method,
            level=level,
            **options,
        )

    original = fit(data)
    runners: dict[Refuter, Callable[..., Refutation]] = {
        Refuter.PLACEBO_TREATMENT: _placebo,
        Refuter.RANDOM_COMMON_CAUSE: _random_common_cause,
        Refuter.DATA_SUBSET: _subset,
        Refuter.DUMMY_OUTCOME: _dummy_outcome,
        Refuter.BOOTSTRAP: _bootstrap,
    }
    out = []
    for i, name in enumerate(names):
        rng = np.random.default_rng([seed, i, list(Refuter).index(name)])
        ctx = _Context(data, treatment, outcome, cov, original, fit, rng, n_simulations, level)
        out.append(runners[name](ctx, subset_fraction=subset_fraction, k=k))
    return RefutationReport(original, tuple(out))


@dataclass
class _Context:
    data: pd.DataFrame
    treatment: str
    outcome: str
    covariates: list[str]
    original: EffectEstimate
    fit: Callable[..., EffectEstimate]
    rng: np.random.Generator
    n: int
    level: float


def _null_rule(ctx: _Context, name: str, runs: list[EffectEstimate]) -> Refutation:
    """Read placebo and dummy-outcome runs: are the intervals' misses of 0 too many."""
    est = np.array([r.estimate for r in runs])
    misses = int(sum(not (r.ci_low <= 0.0 <= r.ci_high) for r in runs))
    p = float(stats.binom.sf(misses - 1, len(runs), 1 - ctx.level))  # P(≥ misses)
    rule = (
        f"{misses}/{len(runs)} of the {ctx.level:.0%} intervals miss the true effect 0; "
        f"pass when that many misses has binomial p ≥ 0.01 (p = {p:.3g})"
    )
    return Refutation(
        refuter=name,
        rule=rule,
        original_estimate=ctx.original.estimate,
        original_std_error=ctx.original.std_error,
        new_estimate=float(est.mean()),
        new_spread=float(est.std(ddof=1)),
        expected=0.0,
        statistic=float(misses),
        passed=p >= 0.01,
        n_simulations=len(runs),
        details={"binomial_p": p, "mean_std_error": float(np.mean([r.std_error for r in runs]))},
    )


def _shift_rule(
    ctx: _Context, name: str, est: np.ndarray, k: float, details: dict[str, Any]
) -> Refutation:
    dist = abs(float(est.mean()) - ctx.original.estimate) / ctx.original.std_error
    rule = (
        f"the mean new estimate is {dist:.2f} standard errors from the original; "
        f"pass when below k = {k:g}"
    )
    return Refutation(
        refuter=name,
        rule=rule,
        original_estimate=ctx.original.estimate,
        original_std_error=ctx.original.std_error,
        new_estimate=float(est.mean()),
        new_spread=float(est.std(ddof=1)),
        expected=ctx.original.estimate,
        statistic=dist,
        passed=dist < k,
        n_simulations=len(est),
        details=details,
    )


def _placebo(ctx: _Context, **_: Any) -> Refutation:
    runs = []
    frame = ctx.data.copy()
    t = ctx.data[ctx.treatment].to_numpy()
    for _i in range(ctx.n):
        frame[ctx.treatment] = ctx.rng.permutation(t)
        runs.append(ctx.fit(frame))
    return _null_rule(ctx, Refuter.PLACEBO_TREATMENT.value, runs)


def _dummy_outcome(ctx: _Context, **_: Any) -> Refutation:
    y = ctx.data[ctx.outcome].to_numpy(dtype=float)
    # categorical covariates enter the outcome's prediction as indicators
    cov = pd.get_dummies(ctx.data[ctx.covariates], drop_first=True, dtype=float)
    x = np.column_stack([np.ones(len(y)), cov.to_numpy(dtype=float)])
    beta = np.linalg.lstsq(x, y, rcond=None)[0]
    pred = x @ beta
    resid = y - pred
    frame = ctx.data.copy()
    runs = []
    for _i in range(ctx.n):
        frame[ctx.outcome] = pred + ctx.rng.permutation(resid)
        runs.append(ctx.fit(frame))
    return _null_rule(ctx, Refuter.DUMMY_OUTCOME.value, runs)


def _random_common_cause(ctx: _Context, *, k: float, **_: Any) -> Refutation:
    name = "__random_common_cause"
    while name in ctx.data.columns:
        name += "_"
    frame = ctx.data.copy()
    est = []
    for _i in range(ctx.n):
        frame[name] = ctx.rng.standard_normal(len(frame))
        est.append(ctx.fit(frame, [*ctx.covariates, name]).estimate)
    return _shift_rule(ctx, Refuter.RANDOM_COMMON_CAUSE.value, np.array(est), k, {})


def _subset(ctx: _Context, *, subset_fraction: float, k: float, **_: Any) -> Refutation:
    n = len(ctx.data)
    m = round(subset_fraction * n)
    est = []
    for _i in range(ctx.n):
        idx = np.sort(ctx.rng.choice(n, m, replace=False))
        est.append(ctx.fit(ctx.data.iloc[idx]).estimate)
    return _shift_rule(
        ctx, Refuter.DATA_SUBSET.value, np.array(est), k, {"subset_fraction": subset_fraction}
    )


def _bootstrap(ctx: _Context, *, k: float, **_: Any) -> Refutation:
    n = len(ctx.data)
    est = np.array(
        [ctx.fit(ctx.data.iloc[ctx.rng.integers(0, n, n)]).estimate for _i in range(ctx.n)]
    )
    m = len(est)
    boot_se = float(est.std(ddof=1))
    # 99 % confidence interval of the bootstrap's standard deviation (chi-square, m − 1 dof)
    se_lo = boot_se * np.sqrt((m - 1) / stats.chi2.ppf(0.995, m - 1))
    se_hi = boot_se * np.sqrt((m - 1) / stats.chi2.ppf(0.005, m - 1))
    se0 = ctx.original.std_error
    shift = abs(float(est.mean()) - ctx.original.estimate) / se0
    se_ok = bool(se_lo <= se0 <= se_hi)
    passed = shift < k and se_ok
    rule = (
        f"the bootstrap mean is {shift:.2f} standard errors from the original (pass below "
        f"k = {k:g}) and the estimator's standard error {se0:.3g} is "
        f"{'inside' if se_ok else 'outside'} the 99 % interval [{se_lo:.3g}, {se_hi:.3g}] "
        f"of the bootstrap's ({boot_se:.3g} from {m} replicates)"
    )
    a = (1 - ctx.level) / 2
    lo, hi = np.quantile(est, [a, 1 - a])
    return Refutation(
        refuter=Refuter.BOOTSTRAP.value,
        rule=rule,
        original_estimate=ctx.original.estimate,
        original_std_error=se0,
        new_estimate=float(est.mean()),
        new_spread=boot_se,
        expected=ctx.original.estimate,
        statistic=shift,
        passed=passed,
        n_simulations=m,
        details={
            "se_interval_99": [float(se_lo), float(se_hi)],
            "percentile_low": float(lo),
            "percentile_high": float(hi),
        },
    )
