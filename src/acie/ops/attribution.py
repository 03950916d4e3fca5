"""Which interventions changed cost or latency: causal analysis of telemetry.

Variables: one treatment per knob in ``record["knobs"]`` (or, when no record has knobs,
one 0/1 indicator per intervention label other than the baseline), the load ``qps``, and
the outcomes ``infra_cost_usd`` and ``latency_p95_ms``.

Method ``"pc"``: causal-learn's PC (through :func:`acie.causal.pc_discover`) with temporal
tiers — interventions first, then load, then outcomes, so nothing may cause an
intervention — gives a graph; for every (treatment, outcome) pair the effect is estimated
with the causal core's estimators (AIPW for 0/1 treatments, regression adjustment for
continuous ones), adjusting for a backdoor set of the discovered graph (the minimal one,
widened by the other knobs and the load where they are not effects of the treatment and
the set stays a valid backdoor set, for precision).

Method ``"ols"`` (the fallback, used when causal-learn is unavailable, discovery fails, or
there are fewer rows than ``min_rows_for_discovery``): ordinary least squares of each
outcome on all treatments with heteroskedasticity-robust (HC3) standard errors.

Each effect carries two verdicts: *changed* (the estimate's 95 % interval excludes 0,
i.e. the two-sided test of no effect rejects at the 5 % level) and *path in graph* (the
discovered graph has a directed path from the treatment to the outcome).
:mod:`acie.ops.attribution_report` explains both in words and renders the report.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from acie.errors import EstimationError, InputValidationError
from acie.ops.collector import BASELINE_LABELS

__all__ = [
    "LEVEL",
    "OUTCOMES",
    "UNITS",
    "InterventionAnalysis",
    "InterventionEffect",
    "analyze_interventions",
    "telemetry_frame",
]

OUTCOMES = ("infra_cost_usd", "latency_p95_ms")
LOAD = "qps"
UNITS = {"infra_cost_usd": "USD", "latency_p95_ms": "ms", "qps": "1/s"}
LEVEL = 0.95  # confidence level of every interval (normal approximation)


def telemetry_frame(records: Iterable[Mapping[str, Any]]) -> tuple[pd.DataFrame, list[str]]:
    """A numeric data frame of the telemetry and the names of its treatment columns."""
    recs = list(records)
    if not recs:
        raise InputValidationError("causal analysis needs telemetry records; got none")
    knob_names = sorted({k for r in recs for k in (r.get("knobs") or {})})
    rows: list[dict[str, float]] = []
    if knob_names:
        treatments = [f"knob:{k}" for k in knob_names]
        for r in recs:
            knobs = r.get("knobs") or {}
            missing = [k for k in knob_names if k not in knobs]
            if missing:
                raise InputValidationError(
                    f"record of step {r.get('step')} lacks knob(s) {missing}; every record must "
                    f"state every knob ({knob_names}) for the analysis"
                )
            rows.append({f"knob:{k}": float(knobs[k]) for k in knob_names})
    else:
        labels = sorted(
            {
                str(r.get("intervention"))
                for r in recs
                if r.get("intervention") not in BASELINE_LABELS
            }
        )
        treatments = [f"intervention:{lab}" for lab in labels]
        for r in recs:
            lab = r.get("intervention")
            rows.append({f"intervention:{x}": float(lab == x) for x in labels})
    for row, r in zip(rows, recs, strict=True):
        row[LOAD] = float(r[LOAD])
        for y in OUTCOMES:
            row[y] = float(r[y])
    frame = pd.DataFrame(rows, columns=[*treatments, LOAD, *OUTCOMES])
    constant = [t for t in treatments if frame[t].nunique() < 2]
    if constant:
        frame = frame.drop(columns=constant)
        treatments = [t for t in treatments if t not in constant]
    if not treatments:
        raise InputValidationError(
            "no intervention varies in the telemetry (every record has the same knobs and "
            "intervention label), so no effect can be estimated"
        )
    return frame, treatments


@dataclass(frozen=True)
class InterventionEffect:
    """Estimated effect of one treatment on one outcome.

    Attributes
    ----------
    treatment, outcome : str
        Column names (``knob:<name>`` or ``intervention:<label>``; an outcome of
        :data:`OUTCOMES`).
    units : str
        Units of the outcome, hence of the effect (per unit of the treatment).
    estimate, std_error : float
        The effect and its standard error.
    ci_low, ci_high : float
        The 95 % confidence interval (estimate ± 1.96 standard errors).
    method : str
        ``"ols-hc3"`` or ``"pc+<estimator>"``.
    adjustment_set : tuple of str
        The covariates the estimate adjusts for.
    path_in_graph : bool or None
        Whether the discovered graph has a directed path treatment → … → outcome;
        None without discovery (OLS).
    graph_path : tuple of str
        One shortest such path (empty when there is none).
    """

    treatment: str
    outcome: str
    units: str
    estimate: float
    std_error: float
    ci_low: float
    ci_high: float
    method: str
    adjustment_set: tuple[str, ...]
    path_in_graph: bool | None
    graph_path: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        """The 95 % interval of the effect excludes zero.

        Equivalently the two-sided test of "no effect" rejects at the 5 % level
        (:attr:`p_value` < 0.05). Whether discovery found a directed path is reported
        beside it (:attr:`path_in_graph`); the two can disagree, and
        :func:`acie.ops.attribution_report.explain` says what that means.
        """
        return self.ci_low > 0 or self.ci_high < 0

    @property
    def z(self) -> float:
        """Test statistic of "no effect": estimate / standard error."""
        if self.std_error > 0:
            return self.estimate / self.std_error
        return math.copysign(math.inf, self.estimate) if self.estimate else 0.0

    @property
    def p_value(self) -> float:
        """Two-sided p-value of "no effect" (normal approximation, as the interval)."""
        return float(2.0 * stats.norm.sf(abs(self.z)))


@dataclass
class InterventionAnalysis:
    """Result of :func:`analyze_interventions`.

    Attributes
    ----------
    method : {"pc", "ols"}
        What was run.
    n : int
        Telemetry records analysed.
    treatments : list of str
        Treatment columns that vary.
    effects : list of InterventionEffect
        One per (treatment, outcome).
    graph : dict, optional
        The discovered graph (``pc`` only; see :meth:`acie.causal.PCResult.to_dict`).
    notes : list of str
        Why a fallback was used, if one was.
    alpha : float, optional
        Significance level of PC's independence tests (``pc`` only).
    """

    method: str
    n: int
    treatments: list[str]
    effects: list[InterventionEffect]
    graph: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    alpha: float | None = None

    def changed(self) -> list[InterventionEffect]:
        """The effects whose 95 % interval excludes zero."""
        return [e for e in self.effects if e.changed]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; each effect with its verdicts explained in words."""
        from acie.ops.attribution_report import explain

        return {
            "method": self.method,
            "n": self.n,
            "alpha": self.alpha,
            "level": LEVEL,
            "treatments": self.treatments,
            "graph": self.graph,
            "notes": self.notes,
            "effects": [
                {
                    **asdict(e),
                    "changed": e.changed,
                    "z": e.z,
                    "p_value": e.p_value,
                    "explanation": explain(e, self).as_dict(),
                }
                for e in self.effects
            ],
        }

    def to_markdown(self) -> str:
        """The report (``report.md``): the table, then every verdict in words."""
        from acie.ops.attribution_report import render_markdown

        return render_markdown(self)


def _ols(frame: pd.DataFrame, treatments: Sequence[str]) -> list[InterventionEffect]:
    import statsmodels.api as sm

    x = sm.add_constant(frame[list(treatments)].to_numpy(float), has_constant="add")
    effects = []
    for y in OUTCOMES:
        fit = sm.OLS(frame[y].to_numpy(float), x).fit(cov_type="HC3")
        ci = fit.conf_int(alpha=0.05)
        for i, t in enumerate(treatments, start=1):
            effects.append(
                InterventionEffect(
                    treatment=t,
                    outcome=y,
                    units=UNITS[y],
                    estimate=float(fit.params[i]),
                    std_error=float(fit.bse[i]),
                    ci_low=float(ci[i][0]),
                    ci_high=float(ci[i][1]),
                    method="ols-hc3",
                    adjustment_set=tuple(s for s in treatments if s != t),
                    path_in_graph=None,
                )
            )
    return effects


def _discovery(
    frame: pd.DataFrame, treatments: Sequence[str], alpha: float, seed: int
) -> tuple[list[InterventionEffect], dict[str, Any]]:
    import networkx as nx

    from acie.causal import (
        backdoor_adjustment_set,
        estimate_effect,
        is_backdoor_set,
        pc_discover,
    )

    result = pc_discover(frame, alpha=alpha, tiers=[list(treatments), [LOAD], list(OUTCOMES)])
    dag = result.to_dag()
    g = dag.to_networkx()
    effects = []
    for t in treatments:
        binary = set(np.unique(frame[t])) <= {0.0, 1.0}
        for y in OUTCOMES:
            minimal = set(backdoor_adjustment_set(dag, t, y))
            # add precision covariates (other knobs, load) that are not effects of t,
            # keeping the set a valid backdoor set of the discovered graph
            extra = {v for v in (*treatments, LOAD) if v != t and v not in dag.descendants(t)}
            wider = minimal | extra
            adjust = sorted(wider if is_backdoor_set(dag, t, y, wider) else minimal)
            path = y in dag.descendants(t)
            route = tuple(nx.shortest_path(g, t, y)) if path else ()
            est = estimate_effect(
                frame,
                treatment=t,
                outcome=y,
                covariates=adjust,
                method="aipw" if binary else "regression",
                treatment_type="binary" if binary else "continuous",
                seed=seed,
            )
            effects.append(
                InterventionEffect(
                    treatment=t,
                    outcome=y,
                    units=UNITS[y],
                    estimate=est.estimate,
                    std_error=est.std_error,
                    ci_low=est.ci_low,
                    ci_high=est.ci_high,
                    method=f"pc+{est.method}",
                    adjustment_set=tuple(adjust),
                    path_in_graph=path,
                    graph_path=route,
                )
            )
    return effects, result.to_dict()


def analyze_interventions(
    records: Iterable[Mapping[str, Any]],
    *,
    method: str = "auto",
    alpha: float = 0.01,
    min_rows_for_discovery: int = 30,
    seed: int = 0,
) -> InterventionAnalysis:
    """Find which interventions changed ``infra_cost_usd`` or ``latency_p95_ms``.

    Parameters
    ----------
    records : iterable of dict
        Validated telemetry records.
    method : {"auto", "pc", "ols"}
        ``"auto"`` uses PC discovery when possible and falls back to OLS.
    alpha : float
        Significance level of PC's independence tests.
    min_rows_for_discovery : int
        Fewer rows than this use the OLS fallback under ``"auto"``.
    seed : int
        Seed of the estimators' cross-fitting.
    """
    if method not in {"auto", "pc", "ols"}:
        raise InputValidationError(f"method must be 'auto', 'pc' or 'ols'; got {method!r}")
    frame, treatments = telemetry_frame(records)
    n = len(frame)
    notes: list[str] = []
    use_pc = method == "pc" or (method == "auto" and n >= min_rows_for_discovery)
    if method == "auto" and not use_pc:
        notes.append(
            f"only {n} records (< {min_rows_for_discovery}): OLS fallback instead of discovery"
        )
    if use_pc:
        try:
            import causallearn  # noqa: F401
        except ImportError:
            if method == "pc":
                raise EstimationError(
                    "method 'pc' needs causal-learn, which is not installed"
                ) from None
            notes.append("causal-learn is not installed: OLS fallback")
            use_pc = False
    if use_pc:
        try:
            effects, graph = _discovery(frame, treatments, alpha, seed)
            return InterventionAnalysis("pc", n, treatments, effects, graph, notes, alpha)
        except (ValueError, RuntimeError, np.linalg.LinAlgError) as exc:
            if method == "pc":
                raise EstimationError(f"discovery failed: {exc}") from exc
            notes.append(f"discovery failed ({exc}): OLS fallback")
    return InterventionAnalysis("ols", n, treatments, _ols(frame, treatments), None, notes)
