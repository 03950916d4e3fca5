"""The causal demo behind ``acie causal demo`` (and ``make run``).

Every part of :mod:`acie.causal` runs on the halo → galaxy reference SCM, each result
next to the value it should have.

:func:`run_demo` returns a plain dict (JSON-serialisable); the CLI prints it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from acie.causal.discovery import pc_discover
from acie.causal.dose_response import dose_response_derivative, interventional_derivative
from acie.causal.estimators import aipw, ipw, regression_adjustment
from acie.causal.identification import backdoor_adjustment_set
from acie.causal.reference_models import (
    GALAXY_PARAMETERS,
    galaxy_interventional_means,
    galaxy_scm,
)
from acie.errors import NotInvertibleError

__all__ = ["run_demo"]

_TIERS = [
    ["log_halo_mass"],
    ["merger", "log_stellar_mass"],
    ["log_sfr"],
    ["abs_mag_r", "colour_gr"],
]


def run_demo(
    *, n_interventional: int = 200_000, n_observational: int = 5_000, seed: int = 0
) -> dict[str, Any]:
    """Run the demo; return its report as a dict.

    Parameters
    ----------
    n_interventional : int
        Rows for the Monte-Carlo interventional means.
    n_observational : int
        Rows of the observational sample for estimation and discovery.
    seed : int
        Seed of every draw.
    """
    p = GALAXY_PARAMETERS
    scm = galaxy_scm()
    report: dict[str, Any] = {
        "model": {
            "nodes": list(scm.nodes),
            "edges": [list(e) for e in scm.graph.edges],
            "units": dict(scm.units),
        },
    }

    # 1. interventional means vs closed form
    v = 11.0
    sample = scm.do({"log_stellar_mass": v}).sample(n_interventional, seed=seed)
    exact = galaxy_interventional_means(v)
    report["interventional_means"] = {
        "intervention": {"log_stellar_mass": v},
        "n": n_interventional,
        "rows": [
            {
                "node": node,
                "sampled": float(sample[node].mean()),
                "mc_std_error": float(sample[node].std(ddof=1) / np.sqrt(n_interventional)),
                "analytic": float(exact[node]),
                "unit": scm.units.get(node, ""),
            }
            for node in scm.nodes
        ],
    }

    # 2. a unit counterfactual: the same galaxy with 0.3 dex more stellar mass
    observed = scm.sample(1, seed=seed + 1)
    shift = 0.3
    cf = scm.counterfactual(observed, {"log_stellar_mass": lambda m: m + shift})
    d_sfr = p["sfms_slope"] * shift
    expected_mag_change = -2.5 * shift + 2.5 * p["ml_sfr_slope"] * d_sfr
    try:
        scm.counterfactual(observed, {"log_halo_mass": 12.5})
        refusal = None
    except NotInvertibleError as exc:
        refusal = str(exc)
    report["counterfactual"] = {
        "intervention": f"log_stellar_mass := log_stellar_mass + {shift}",
        "factual": {k: float(observed[k].iloc[0]) for k in scm.nodes},
        "counterfactual": {k: float(cf[k].iloc[0]) for k in scm.nodes},
        "abs_mag_r_change": float(cf["abs_mag_r"].iloc[0] - observed["abs_mag_r"].iloc[0]),
        "abs_mag_r_change_exact": expected_mag_change,
        "refusal_for_do_halo_mass": refusal,
    }

    # 3. identification and estimation of the merger -> SFR effect
    data = scm.sample(n_observational, seed=seed + 2)
    adjust = sorted(backdoor_adjustment_set(scm.graph, "merger", "log_sfr"))
    x = data[adjust].to_numpy()
    y, t = data["log_sfr"].to_numpy(), data["merger"].to_numpy()
    naive = float(y[t == 1].mean() - y[t == 0].mean())
    estimates = [
        regression_adjustment(outcome=y, treatment=t, covariates=x, seed=seed),
        ipw(outcome=y, treatment=t, covariates=x),
        aipw(outcome=y, treatment=t, covariates=x),
    ]
    report["effect_of_merger_on_log_sfr"] = {
        "backdoor_set": adjust,
        "true_ate": p["merger_boost"],
        "naive_difference": naive,
        "unit": "dex(solMass / yr)",
        "n": n_observational,
        "estimates": [e.to_dict() for e in estimates],
    }

    # 4. dose-response derivative dE[colour]/dlogM* at 10.5: SCM finite differences vs data (DR)
    z0 = 10.5
    exact_slope = (
        p["colour_amp"] / np.cosh(z0 - p["colour_pivot"]) ** 2
        + p["colour_sfr_slope"] * p["sfms_slope"]
    )
    fd = interventional_derivative(
        scm, treatment="log_stellar_mass", outcome="colour_gr", at=z0, n=50_000, seed=seed
    )
    conf = sorted(backdoor_adjustment_set(scm.graph, "log_stellar_mass", "colour_gr"))
    dr = dose_response_derivative(
        outcome=data["colour_gr"].to_numpy(),
        treatment=data["log_stellar_mass"].to_numpy(),
        covariates=data[conf].to_numpy(),
        at=z0,
        seed=seed,
        names=("log_stellar_mass", "colour_gr"),
    )
    report["dose_response_derivative"] = {
        "quantity": "dE[colour_gr]/dlog_stellar_mass at 10.5",
        "unit": "mag / dex",
        "analytic": float(exact_slope),
        "scm_finite_difference": fd.to_dict(),
        "doubly_robust_from_data": dr.to_dict(),
        "adjustment_set": conf,
    }

    # 5. discovery: PC with temporal tiers, compared with the true graph
    found = pc_discover(data, alpha=0.01, tiers=_TIERS)
    true_edges = set(scm.graph.edges)
    found_dag = found.to_dag()
    found_edges = set(found_dag.edges)
    report["discovery"] = {
        "alpha": 0.01,
        "tiers": _TIERS,
        "n": n_observational,
        "edges_found": sorted(map(list, found_edges)),
        "missing": sorted(map(list, true_edges - found_edges)),
        "extra": sorted(map(list, found_edges - true_edges)),
        "edge_differences": len(true_edges ^ found_edges),
    }
    return report
