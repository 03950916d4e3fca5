"""Section 3 of ``bench_causal.py``: the issue-21 estimators against DoWhy, same data, same run.

Each row times acie's estimator (point estimate *and* its standard error or interval)
and DoWhy's ``CausalModel.estimate_effect`` (point estimate only, no confidence
intervals: DoWhy's are bootstrap refits and would dominate its time), and prints both
values. DoWhy has no 2SLS with exogenous covariates (its IV estimator uses the
instrument alone), so the IV row compares the instrument-only estimate; acie's 2SLS
with Card's covariates is printed beside it.
"""

from __future__ import annotations

import warnings

import networkx as nx
import numpy as np
import pandas as pd
from _timing import best_of

from acie.causal import aipw, frontdoor_effect, ipw, iv_effect, mediation_effects


def _dowhy(data: pd.DataFrame, graph: nx.DiGraph, treatment: str, outcome: str, **kw):
    from dowhy import CausalModel

    estimand_type = kw.pop("estimand_type", "nonparametric-ate")
    model = CausalModel(data=data, treatment=treatment, outcome=outcome, graph=graph)
    est = model.identify_effect(estimand_type=estimand_type, proceed_when_unidentifiable=True)
    return model.estimate_effect(est, **kw).value


def _row(name: str, ours: float, t_ours: float, theirs: float, t_theirs: float) -> None:
    print(
        f"  {name:<26}{ours:10.4f}{theirs:10.4f}{t_ours * 1e3:11.1f}{t_theirs * 1e3:11.1f}"
        f"{t_theirs / t_ours:9.2f}x"
    )


def estimators_section(repeat: int) -> None:
    """Print acie vs DoWhy: value and time of IV, front door, mediation, IPW (ATT/ATC)."""
    import causaldata
    from dowhy.causal_estimators.linear_regression_estimator import LinearRegressionEstimator

    warnings.filterwarnings("ignore")
    print("issue-21 estimators vs DoWhy (acie: estimate with its s.e.; DoWhy: point only)")
    print(
        f"  {'estimator':<26}{'acie':>10}{'dowhy':>10}{'acie ms':>11}{'dowhy ms':>11}{'ratio':>10}"
    )

    card = causaldata.close_college.load_pandas().data.dropna()
    cov = ["exper", "black", "south", "married", "smsa"]
    g = nx.DiGraph(
        [("nearc4", "educ"), ("educ", "lwage"), ("U", "educ"), ("U", "lwage")]
        + [(c, v) for c in cov for v in ("educ", "lwage")]
    )

    def ours_iv():
        return iv_effect(outcome=card.lwage, treatment=card.educ, instruments=card.nearc4)

    def theirs_iv():
        return _dowhy(
            card,
            g,
            "educ",
            "lwage",
            method_name="iv.instrumental_variable",
            method_params={"iv_instrument_name": "nearc4"},
        )

    _row(
        "IV, Card, instrument only",
        ours_iv().estimate,
        best_of(ours_iv, repeat),
        theirs_iv(),
        best_of(theirs_iv, repeat),
    )
    full = iv_effect(
        outcome=card.lwage, treatment=card.educ, instruments=card.nearc4, covariates=card[cov]
    )
    print(f"  {'  (acie 2SLS + covariates)':<26}{full.estimate:10.4f}")

    rng = np.random.default_rng(2)
    n = 3000
    u = rng.normal(size=n)
    t = (u + rng.normal(size=n) > 0).astype(int)
    m = 0.3 + 1.5 * t + rng.normal(size=n)
    fd = pd.DataFrame({"T": t, "M": m, "Y": 2.0 * m + 1.5 * u + rng.normal(size=n)})
    gfd = nx.DiGraph([("U", "T"), ("U", "Y"), ("T", "M"), ("M", "Y")])

    def ours_fd():
        return frontdoor_effect(outcome=fd.Y, treatment=fd["T"], mediators=fd.M)

    def theirs_fd():
        return _dowhy(fd, gfd, "T", "Y", method_name="frontdoor.two_stage_regression")

    _row(
        "front door (truth 3.0)",
        ours_fd().estimate,
        best_of(ours_fd, repeat),
        theirs_fd(),
        best_of(theirs_fd, repeat),
    )

    x = rng.normal(size=n)
    t = (rng.normal(size=n) + x > 0).astype(int)
    m = 0.5 + 1.2 * t + 0.8 * x + rng.normal(size=n)
    md = pd.DataFrame(
        {"T": t, "M": m, "X": x, "Y": 1 + 0.7 * t + 0.9 * m + 0.5 * x + rng.normal(size=n)}
    )
    gmd = nx.DiGraph([("X", "T"), ("X", "M"), ("X", "Y"), ("T", "M"), ("M", "Y"), ("T", "Y")])
    lin = {
        "first_stage_model": LinearRegressionEstimator,
        "second_stage_model": LinearRegressionEstimator,
    }

    def ours_med():
        return mediation_effects(
            outcome=md.Y, treatment=md["T"], mediator=md.M, covariates=md.X, interaction=False
        )

    def theirs_med(kind):
        return _dowhy(
            md,
            gmd,
            "T",
            "Y",
            estimand_type=f"nonparametric-{kind}",
            method_name="mediation.two_stage_regression",
            method_params=lin,
            confidence_intervals=False,
        )

    res = ours_med()
    t_med = best_of(ours_med, repeat)
    for kind, value, truth in (("nde", res.nde, 0.7), ("nie", res.nie, 1.08)):
        _row(
            f"{kind.upper()} (truth {truth})",
            value,
            t_med,
            theirs_med(kind),
            best_of(lambda k=kind: theirs_med(k), repeat),
        )

    x = rng.normal(size=n)
    t = (rng.uniform(size=n) < 1 / (1 + np.exp(-x))).astype(int)
    hd = pd.DataFrame({"T": t, "X": x, "Y": t * (1 + x) + x + rng.normal(size=n)})
    ghd = nx.DiGraph([("X", "T"), ("X", "Y"), ("T", "Y")])
    for target in ("att", "atc"):

        def ours_w(target=target):
            return ipw(outcome=hd.Y, treatment=hd["T"], covariates=hd.X, estimand=target)

        def theirs_w(target=target):
            return _dowhy(
                hd,
                ghd,
                "T",
                "Y",
                method_name="backdoor.propensity_score_weighting",
                target_units=target,
                method_params={"weighting_scheme": "ips_normalized_weight"},
            )

        _row(
            f"IPW {target.upper()}",
            ours_w().estimate,
            best_of(ours_w, repeat),
            theirs_w(),
            best_of(theirs_w, repeat),
        )
    dr = aipw(outcome=hd.Y, treatment=hd["T"], covariates=hd.X, estimand="att")
    truth = float(np.mean(1 + x[t == 1]))
    print(f"  {'  (acie AIPW ATT)':<26}{dr.estimate:10.4f}   sample truth {truth:.4f}")
