"""Hierarchical (linear mixed-effects) fits with lme4-style formulas, on statsmodels MixedLM.

``fit_hierarchical_model("log10(mass) ~ log10(luminosity) + (1 | survey_id)", data)``
fits the fixed effects of the part outside parentheses and, for each
``(terms | group)`` part, correlated random effects of ``terms`` that vary by ``group``
(formula syntax and functions: :mod:`acie.analysis.formula`; note that **``log`` is the
natural logarithm and ``log10`` the base-10 one**). Design matrices are built with patsy
and the model is fitted by
:class:`statsmodels.regression.mixed_linear_model.MixedLM` (REML by default, as lme4).

Intervals: fixed effects use the Wald interval from the REML/ML covariance; variances
of random effects use a Wald interval on the log variance (delta method, so they stay
positive), covariances a plain Wald interval; the residual variance has no standard
error in MixedLM (it is profiled out), so its interval is NaN; the random-effect
standard errors treat the residual variance as known. Wald intervals for
variances are approximate when there are few groups (say < 10): use a profile
likelihood (``result.result.profile_re``) or a parametric bootstrap there.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from acie.analysis.formula import ParsedFormula, formula_environment, parse_formula
from acie.errors import (
    EstimationError,
    InputValidationError,
    UnknownNameError,
    expected_got,
)

__all__ = ["HierarchicalFit", "fit_hierarchical_model"]


@dataclass(frozen=True)
class HierarchicalFit:
    """Result of :func:`fit_hierarchical_model`.

    Attributes
    ----------
    formula : str
        The formula as given.
    parsed : ParsedFormula
    fixed_effects : pandas.DataFrame
        Index: term; columns ``estimate``, ``std_error``, ``ci_low``, ``ci_high``, ``z``,
        ``p_value`` [response units per predictor unit].
    variance_components : pandas.DataFrame
        Index: ``"<group> <term> Var"``, ``"<group> <a> x <b> Cov"``, ``"Residual Var"``;
        columns ``estimate``, ``std_error``, ``ci_low``, ``ci_high`` [response units²].
    random_covariance : pandas.DataFrame
        Covariance matrix of the random effects [response units²].
    residual_variance : float [response units²]
    group_effects : pandas.DataFrame
        Conditional means (BLUPs) of the random effects, one row per group level.
    n_obs, n_groups : int
    log_likelihood : float
        REML or ML log-likelihood.
    reml : bool
    converged : bool
    level : float
        Confidence level of the intervals.
    result : statsmodels MixedLMResults
        The underlying result, for everything else.
    """

    formula: str
    parsed: ParsedFormula
    fixed_effects: pd.DataFrame
    variance_components: pd.DataFrame
    random_covariance: pd.DataFrame
    residual_variance: float
    group_effects: pd.DataFrame
    n_obs: int
    n_groups: int
    log_likelihood: float
    reml: bool
    converged: bool
    level: float
    result: Any = field(repr=False, compare=False)

    def summary(self) -> str:
        """A plain-text table of fixed effects and variance components."""
        pct = round(100 * self.level)
        lines = [
            f"{self.formula}   ({'REML' if self.reml else 'ML'}, n = {self.n_obs}, "
            f"{self.n_groups} groups, logLik = {self.log_likelihood:.3f})",
            f"fixed effects ({pct}% CI):",
        ]
        for name, row in self.fixed_effects.iterrows():
            lines.append(
                f"  {name:<28s} {row.estimate:11.5g} ± {row.std_error:9.3g}  "
                f"[{row.ci_low:.5g}, {row.ci_high:.5g}]"
            )
        lines.append(f"variance components ({pct}% CI, Wald):")
        for name, row in self.variance_components.iterrows():
            lines.append(
                f"  {name:<28s} {row.estimate:11.5g}  [{row.ci_low:.5g}, {row.ci_high:.5g}]"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _design(parsed: ParsedFormula, data: pd.DataFrame):
    import patsy

    env = formula_environment()
    try:
        with np.errstate(all="ignore"):  # non-finite results are reported below
            y, x = patsy.dmatrices(
                parsed.fixed, data, eval_env=env, return_type="dataframe", NA_action="raise"
            )
            z = None
            if parsed.random is not None:
                z = patsy.dmatrix(
                    parsed.random, data, eval_env=env, return_type="dataframe", NA_action="raise"
                )
    except patsy.PatsyError as exc:
        raise InputValidationError(
            f"cannot build the design matrices of {parsed.fixed!r}: {exc}"
        ) from None
    if y.shape[1] != 1:
        raise InputValidationError(
            expected_got("the response", "one numeric column", list(y.columns))
        )
    for name, mat in (("response", y), ("fixed effects", x), ("random effects", z)):
        if mat is not None and not np.all(np.isfinite(mat.to_numpy(dtype=float))):
            raise InputValidationError(
                f"the {name} contain NaN or inf after transformation (e.g. log of a "
                f"non-positive value); check the columns {list(mat.columns)}"
            )
    return y.iloc[:, 0], x, z


# scipy's default gradient tolerance (gtol 1e-5) stops CG and BFGS short of the REML
# optimum on flat likelihoods (six surveys: the survey variance 3.9e-4 off lme4's)
_TIGHT: dict[str, dict[str, float]] = {"cg": {"gtol": 1e-10}, "bfgs": {"gtol": 1e-10}}


def _fit(model: Any, formula: str, reml: bool, method: str | list[str] | None, n_fixed: int) -> Any:
    """Fit ``model`` (a statsmodels MixedLM); the first converged, sane optimum is returned.

    Without a converged one, the first sane (finite, positive fixed-effect variances) one.
    """
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    # Optimisers are tried one at a time until one converges to a sane optimum (finite
    # log-likelihood, positive fixed-effect variances). L-BFGS alone stops short on random
    # slopes (dietox: Pig variance 30.3 instead of lme4's 19.49, flagged not converged);
    # statsmodels' chained ["lbfgs", "cg"] can run off to an infinite likelihood.
    res, fallback = None, None
    for meth in [method] if method is not None else ["cg", "lbfgs", "powell"]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.filterwarnings("ignore", message=".*(boundary|Hessian|singular).*")
            try:
                cand = model.fit(reml=reml, method=meth, **_TIGHT.get(str(meth), {}))
                sane = (
                    np.isfinite(cand.llf)
                    and np.all(np.isfinite(cand.fe_params))
                    and np.all(np.diag(cand.cov_params())[:n_fixed] > 0)
                )
            except (np.linalg.LinAlgError, ValueError) as exc:
                if method is not None:
                    raise EstimationError(f"MixedLM failed to fit {formula!r}: {exc}") from exc
                continue
        if sane and cand.converged:
            res = cand
            break
        if sane and fallback is None:
            fallback = cand
    res = res if res is not None else fallback
    if res is None:
        raise EstimationError(f"MixedLM produced no finite estimate for {formula!r}")
    return res


def _variance_components(
    res: Any, names: list[str], group: str, zc: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The random-effects covariance (named) and the variance-component table with CIs.

    ``zc`` is the normal quantile of the confidence level; variance intervals are
    log-normal (positive), covariance intervals symmetric.
    """
    cov_re = res.cov_re.copy()
    cov_re.index = cov_re.columns = names
    k = len(names)
    # MixedLM parametrises the random-effects covariance divided by the residual
    # variance; its ``bse_re`` is sqrt(scale) x SE(cov_re / scale), so the standard error
    # of cov_re itself (scale held fixed) is one more factor sqrt(scale)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        se_re = np.asarray(res.bse_re, dtype=float)[: k * (k + 1) // 2] * np.sqrt(float(res.scale))
    rows, j = {}, 0
    for a in range(k):  # lower triangle, row by row, as MixedLM orders it
        for b in range(a + 1):
            est = float(cov_re.iloc[a, b])
            se = float(se_re[j]) if j < se_re.size else float("nan")
            j += 1
            if a == b:
                label = f"{group} {names[a]} Var"
                if est > 0 and np.isfinite(se):
                    half = zc * se / est
                    lo, hi = est * np.exp(-half), est * np.exp(half)
                else:
                    lo, hi = float("nan"), float("nan")
            else:
                label = f"{group} {names[b]} x {names[a]} Cov"
                lo, hi = est - zc * se, est + zc * se
            rows[label] = (est, se, lo, hi)
    rows["Residual Var"] = (float(res.scale), float("nan"), float("nan"), float("nan"))
    vc = pd.DataFrame.from_dict(
        rows, orient="index", columns=["estimate", "std_error", "ci_low", "ci_high"]
    )
    return cov_re, vc


def fit_hierarchical_model(
    formula: str,
    data: pd.DataFrame,
    *,
    reml: bool = True,
    level: float = 0.95,
    method: str | list[str] | None = None,
    drop_missing: bool = True,
) -> HierarchicalFit:
    """Fit a linear mixed-effects model given by an lme4-style formula.

    Parameters
    ----------
    formula : str
        E.g. ``"log10(mass) ~ log10(luminosity) + (1 | survey_id)"`` or
        ``"Weight ~ Time + (1 + Time | Pig)"``. ``log`` is the natural logarithm,
        ``log10`` the base-10 one (dex); see :mod:`acie.analysis.formula`.
    data : pandas.DataFrame
        One row per observation.
    reml : bool
        Restricted maximum likelihood (default, as lme4) or maximum likelihood.
    level : float
        Confidence level of the intervals.
    method : str or list of str, optional
        Optimiser passed to ``MixedLM.fit`` (default: ``"cg"``, then ``"lbfgs"``, then
        ``"powell"`` until one converges). Check ``converged`` in the result.
    drop_missing : bool
        Drop rows with a missing value in a used column (else raise).

    Returns
    -------
    HierarchicalFit

    Raises
    ------
    InputValidationError
        Bad formula, no random-effects term, non-finite transformed values, fewer than
        two groups, ``level`` outside (0, 1).
    UnknownNameError
        The formula names a column the data lack (the message lists the columns).
    EstimationError
        The optimiser fails.
    """
    from statsmodels.regression.mixed_linear_model import MixedLM

    if not isinstance(data, pd.DataFrame):
        raise InputValidationError(expected_got("data", "a pandas DataFrame", type(data).__name__))
    if not 0.0 < level < 1.0:
        raise InputValidationError(expected_got("level", "in (0, 1)", level))
    parsed = parse_formula(formula)
    if parsed.group is None:
        raise InputValidationError(
            f"formula {formula!r} has no random-effects term like '(1 | group)'; use "
            "ordinary least squares for a model without groups"
        )
    missing = [v for v in parsed.variables if v not in data.columns]
    if missing:
        raise UnknownNameError(
            f"formula {formula!r} names column(s) {missing} that the data "
            f"lack; the columns are: {', '.join(map(str, data.columns))}"
        )
    frame = data[list(parsed.variables)]
    if frame.isna().any().any():
        if not drop_missing:
            raise InputValidationError(
                "the data have missing values in the formula's columns and drop_missing is False"
            )
        frame = frame.dropna()
    frame = frame.reset_index(drop=True)
    y, x, z = _design(parsed, frame)
    groups = frame[parsed.group].to_numpy()
    n_groups = int(pd.unique(groups).size)
    if n_groups < 2:
        raise InputValidationError(
            expected_got(f"the grouping factor {parsed.group!r}", "at least 2 levels", n_groups)
        )
    res = _fit(MixedLM(y, x, groups=groups, exog_re=z), formula, reml, method, x.shape[1])

    zc = float(stats.norm.ppf(0.5 + level / 2))
    fe = res.fe_params
    bse = pd.Series(res.bse_fe, index=fe.index)
    fixed = pd.DataFrame(
        {
            "estimate": fe,
            "std_error": bse,
            "ci_low": fe - zc * bse,
            "ci_high": fe + zc * bse,
            "z": fe / bse,
            "p_value": 2 * stats.norm.sf(np.abs(fe / bse)),
        }
    )
    names = [str(c) for c in z.columns]
    cov_re, vc = _variance_components(res, names, str(parsed.group), zc)
    blup = pd.DataFrame.from_dict(
        {g: np.asarray(v, dtype=float) for g, v in res.random_effects.items()},
        orient="index",
        columns=names,
    )
    blup.index.name = parsed.group
    return HierarchicalFit(
        formula=formula,
        parsed=parsed,
        fixed_effects=fixed,
        variance_components=vc,
        random_covariance=cov_re,
        residual_variance=float(res.scale),
        group_effects=blup,
        n_obs=int(y.shape[0]),
        n_groups=n_groups,
        log_likelihood=float(res.llf),
        reml=reml,
        converged=bool(res.converged),
        level=level,
        result=res,
    )
