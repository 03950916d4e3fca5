"""The attribution report: every verdict of :mod:`acie.ops.attribution` in words.

Each (intervention, metric) pair gets two verdicts that answer different questions:

* **changed** — does the data show an effect? The effect estimate's 95 % confidence
  interval excludes 0; equivalently the two-sided test of "no effect"
  (z = estimate / standard error, normal approximation) rejects at the 5 % level.
* **path in graph** — does the structure learned from the data say the intervention
  causes the metric? The causal graph PC discovered has a directed path
  intervention → … → metric (``n/a`` when no graph was discovered).

:func:`explain` says what each verdict measured and what it means when the two disagree;
:func:`render_markdown` writes ``report.md``; :func:`plot_analysis` the forest plot.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from acie.ops.attribution import LEVEL, OUTCOMES, UNITS, InterventionAnalysis, InterventionEffect

__all__ = ["Verdict", "explain", "plot_analysis", "render_markdown"]


@dataclass(frozen=True)
class Verdict:
    """The two verdicts on one effect, and how they relate, in words."""

    changed: str
    path: str
    agreement: str

    def as_dict(self) -> dict[str, str]:
        """JSON-ready form."""
        return asdict(self)


def _estimator(method: str) -> str:
    if method == "ols-hc3":
        return "OLS on all interventions, HC3 robust standard errors"
    return method.removeprefix("pc+")


def _p(p: float) -> str:
    """A p-value for a table cell (``< 1e-16`` below double precision's resolution)."""
    return "< 1e-16" if p < 1e-16 else f"{p:.2g}"


def _p_eq(p: float) -> str:
    """``p < 1e-16`` or ``p = 0.03``."""
    return "p < 1e-16" if p < 1e-16 else f"p = {p:.2g}"


def explain(effect: InterventionEffect, analysis: InterventionAnalysis) -> Verdict:
    """Both verdicts on ``effect`` in words, and what it means when they disagree.

    Parameters
    ----------
    effect : InterventionEffect
        One effect of ``analysis``.
    analysis : InterventionAnalysis
        The analysis it belongs to (for the method, α and the number of records).

    Returns
    -------
    Verdict
    """
    e = effect
    t, y, u = e.treatment, e.outcome, e.units
    pct = f"{100 * LEVEL:g} %"
    ci = f"[{e.ci_low:+.4g}, {e.ci_high:+.4g}] {u}"
    how = f"{_estimator(e.method)}, adjusted for {', '.join(e.adjustment_set) or 'nothing'}"
    test = f"z = {e.z:+.2f}, two-sided {_p_eq(e.p_value)}"
    if e.changed:
        changed = (
            f"yes: {t} moved {y} by {e.estimate:+.4g} {u} ({pct} CI {ci}; {how}). The interval "
            f"excludes 0, so the test of no effect rejects at the 5 % level ({test})."
        )
    else:
        changed = (
            f"no: the estimate {e.estimate:+.4g} {u} has a {pct} CI {ci} that contains 0 "
            f"({how}), so the test of no effect does not reject at the 5 % level ({test})."
        )
    alpha = f"α = {analysis.alpha:g}" if analysis.alpha is not None else "its α"
    if e.path_in_graph is None:
        path = (
            "n/a: no causal graph was discovered (OLS fallback, see the notes), so only the "
            "estimate speaks."
        )
    elif e.path_in_graph:
        route = " → ".join(e.graph_path) if e.graph_path else f"{t} → … → {y}"
        path = (
            f"yes: the causal graph PC discovered ({alpha}) has the directed path {route}, "
            f"so the learned structure says {t} causes {y}."
        )
    else:
        path = (
            f"no: the causal graph PC discovered ({alpha}) has no directed path from {t} to "
            f"{y}, so the learned structure says {t} does not cause {y}."
        )
    match (e.changed, e.path_in_graph):
        case (_, None):
            agreement = "Only the estimate is available."
        case (True, True):
            agreement = f"They agree: {t} changes {y}."
        case (False, False):
            agreement = f"They agree: no sign that {t} changes {y}."
        case (True, False):
            if e.p_value < 1e-3:
                likely = (
                    f"With {_p_eq(e.p_value)} chance is an unlikely explanation: most likely "
                    "PC missed the edge (check with more records or a larger α)."
                )
            else:
                likely = (
                    f"With {_p_eq(e.p_value)} the estimate may also be one of the 1 in 20 "
                    "null effects that cross the 5 % line by chance."
                )
            agreement = (
                "They disagree: the estimate finds an effect the graph lacks. PC deletes an "
                "edge when some set of other variables makes the two look independent at "
                f"{alpha}; an effect small beside the noise, or variables that together "
                "nearly determine the intervention (an outcome it sets almost exactly, with "
                f"the load), can make it delete a real one. {likely}"
            )
        case _:
            agreement = (
                "They disagree: the graph has a path but the interval contains 0. The effect "
                f"along the path may be too small to measure with {analysis.n} records, or "
                "effects along several paths may cancel."
            )
    return Verdict(changed, path, agreement)


_GUIDE = [
    "## How to read this",
    "",
    "- **changed?** — does the data show an effect? *yes* when the effect's 95 % "
    'confidence interval excludes 0, i.e. the two-sided test of "no effect" (z = '
    "effect / standard error) rejects at the 5 % level (p < 0.05).",
    "- **path in graph** — does the learned structure say the intervention causes the "
    "metric? *yes* when the causal graph PC discovered from the same data has a directed "
    "path intervention → … → metric; *n/a* when no graph was discovered (OLS fallback).",
    "- The two are separate pieces of evidence: the estimate measures the size of an "
    "effect given its adjustment set; the graph comes from conditional-independence "
    "tests. When they disagree, the verdict below says what that means.",
]


def render_markdown(analysis: InterventionAnalysis) -> str:
    """``report.md``: method, discovered graph, the table, and every verdict in words."""
    a = analysis
    out = [
        "# Which interventions changed cost or latency",
        "",
        f"Method: **{a.method}** on {a.n} telemetry records"
        + (f" (PC α = {a.alpha:g})" if a.alpha is not None else "")
        + ".",
    ]
    if a.notes:
        out += ["", *(f"- {n}" for n in a.notes)]
    if a.graph:
        directed = ", ".join(f"{s} → {d}" for s, d in a.graph.get("directed", []))
        out += ["", f"Discovered graph (directed edges): {directed or 'none'}"]
        if a.graph.get("undirected"):
            out.append(
                "Unoriented edges: " + ", ".join(f"{s} — {d}" for s, d in a.graph["undirected"])
            )
    changed = a.changed()
    out += [
        "",
        "Changed: " + (", ".join(f"{e.treatment} → {e.outcome}" for e in changed) or "none"),
    ]
    out += ["", *_GUIDE, ""]
    out += [
        "| intervention | outcome | effect | 95 % CI | p | adjusted for | path in graph "
        "| changed? |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for e in a.effects:
        adj = ", ".join(e.adjustment_set) or "—"
        path = {True: "yes", False: "no", None: "n/a"}[e.path_in_graph]
        out.append(
            f"| {e.treatment} | {e.outcome} | {e.estimate:+.4g} {e.units} | "
            f"[{e.ci_low:+.4g}, {e.ci_high:+.4g}] | {_p(e.p_value)} | {adj} | {path} | "
            f"{'**yes**' if e.changed else 'no'} |"
        )
    out += [
        "",
        "Effects are per unit of the knob (the change from off to on for 0/1 "
        "knobs and intervention labels).",
        "",
        "## Verdicts",
    ]
    for e in a.effects:
        v = explain(e, a)
        out += [
            "",
            f"### {e.treatment} → {e.outcome}",
            "",
            f"- **changed** — {v.changed}",
            f"- **path in graph** — {v.path}",
            f"- {v.agreement}",
        ]
    return "\n".join(out) + "\n"


def plot_analysis(analysis: InterventionAnalysis, path: str, *, dpi: int = 300) -> None:
    """A forest plot of every effect with its 95 % interval, one panel per outcome."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        1,
        len(OUTCOMES),
        figsize=(5 * len(OUTCOMES), 1 + 0.6 * len(analysis.treatments)),
        squeeze=False,
    )
    for ax, y in zip(axes[0], OUTCOMES, strict=True):
        effs = [e for e in analysis.effects if e.outcome == y]
        pos = np.arange(len(effs))
        est = np.array([e.estimate for e in effs])
        lo = est - np.array([e.ci_low for e in effs])
        hi = np.array([e.ci_high for e in effs]) - est
        for p, e, x, a, b in zip(pos, effs, est, lo, hi, strict=True):
            color = "tab:red" if e.changed else "tab:gray"
            ax.errorbar([x], [p], xerr=[[a], [b]], fmt="o", color=color, capsize=3)
        ax.axvline(0.0, color="k", lw=0.8)
        ax.set_yticks(pos, [e.treatment for e in effs])
        ax.set_xlabel(f"effect on {y} [{UNITS[y]}]")
        ax.set_title(y)
        if not math.isfinite(float(np.sum(est))):
            ax.text(0.5, 0.5, "non-finite estimate", transform=ax.transAxes, ha="center")
    fig.suptitle(
        f"Intervention effects ({analysis.method}, n={analysis.n}, 95 % CI; red = changed)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
