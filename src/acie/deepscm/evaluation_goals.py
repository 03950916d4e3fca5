"""The issue's goals for the deep SCM evaluation and the judgement of a report against them.

:data:`GOALS` are the targets of issue 16 (per-galaxy counterfactual accuracy,
reversibility, composition, noise, speed); :func:`goal_status` gives each with the
report's value, its standard error and ``pass`` / ``miss`` / ``not measured``, and, for
the goals in :data:`GOAL_FLOORS`, the identifiability floor
(:mod:`acie.deepscm.identifiability_floor`): the error of the best oracle that knows
every exogenous noise of the simulator except the unidentifiable quench draw.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from acie.deepscm.evaluation import EvaluationReport

__all__ = ["GOALS", "GOAL_FLOORS", "goal_status"]

#: The issue's goals: name -> (where, summary, comparison, bounds). ``where`` is the
#: intervened node (``log_stellar_mass`` is do(M* x 2)), ``"worst"`` (the largest over
#: all interventions) or ``"model"`` (a per-model figure). :data:`GOAL_FLOORS` gives the
#: identifiability floor of the goals that have one.
GOALS: dict[str, tuple[str, str, str, tuple[float, ...]]] = {
    "dlog flux median [dex]": ("log_stellar_mass", "dlog_flux_error", "<=", (0.03,)),
    "dlog flux p95 [dex]": ("log_stellar_mass", "dlog_flux_error_p95", "<=", (0.10,)),
    "dlog R_e median [dex]": ("log_stellar_mass", "dlog_size_error", "<=", (0.03,)),
    "d colour median [mag]": ("log_stellar_mass", "colour_error", "<=", (0.02,)),
    "spurious quenching": ("log_stellar_mass", "spurious_quenching_rate", "<=", (0.02,)),
    "reversibility, changed pixels [sigma]": ("worst", "reversibility_changed_l1", "<=", (0.5,)),
    "composition, 10 null cycles [sigma]": ("model", "composition_10", "<=", (0.1,)),
    "core-noise ratio vs truth": ("log_stellar_mass", "core_noise_ratio", "in", (0.9, 1.1)),
    "p95 latency, one image [ms]": ("model", "latency_p95_ms", "<=", (50.0,)),
    "batched throughput [images/s]": ("model", "throughput", ">=", (200.0,)),
}


#: Goals with an identifiability floor (:mod:`acie.deepscm.identifiability_floor`): goal
#: name -> (intervened node, summary key of the floor). The floor is the error of the best
#: oracle that knows everything but the unidentifiable quench draw.
GOAL_FLOORS: dict[str, tuple[str, str]] = {
    "dlog flux median [dex]": ("log_stellar_mass", "floor_dlog_flux_error"),
    "dlog flux p95 [dex]": ("log_stellar_mass", "floor_dlog_flux_error_p95"),
}


def goal_status(report: EvaluationReport) -> dict[str, dict[str, Any]]:
    """Each of :data:`GOALS` with the report's value and ``pass`` / ``miss`` / ``not measured``."""
    out: dict[str, dict[str, Any]] = {}
    for name, (where, key, op, bounds) in GOALS.items():
        se = float("nan")
        if where == "model":
            if key.startswith("composition_"):
                s = report.composition.get(key.split("_")[1], {})
                value, se = s.get("value", float("nan")), s.get("se", float("nan"))
            else:
                value = (report.speed or {}).get(key, float("nan"))
        elif where == "worst":
            vals = [m.summaries[key] for m in report.interventions if key in m.summaries]
            worst = max(vals, key=lambda s: s["value"], default={"value": float("nan")})
            value, se = worst["value"], worst.get("se", float("nan"))
        else:
            m = report.intervention(where)
            s = m.summaries.get(key, {}) if m else {}
            value, se = s.get("value", float("nan")), s.get("se", float("nan"))
        value = float(value)
        if not np.isfinite(value):
            status = "not measured"
        elif op == "<=":
            status = "pass" if value <= bounds[0] else "miss"
        elif op == ">=":
            status = "pass" if value >= bounds[0] else "miss"
        else:
            status = "pass" if bounds[0] <= value <= bounds[1] else "miss"
        goal = " - ".join(f"{b:g}" for b in bounds)
        out[name] = {"value": value, "se": float(se), "goal": f"{op} {goal}", "status": status}
        if name in GOAL_FLOORS:
            node, fkey = GOAL_FLOORS[name]
            m = report.intervention(node)
            fs = m.summaries.get(fkey) if m else None
            if fs is not None:
                out[name]["floor"] = float(fs["value"])
                out[name]["floor_se"] = float(fs.get("se", float("nan")))
    return out
