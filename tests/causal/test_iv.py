"""Instrumental variables: 2SLS against Card (1995) as reproduced in The Mixtape, the
Wald estimator, closed forms on a linear SCM, coverage, and the weak-instrument warning."""

import warnings

import numpy as np
import pytest

from acie.causal.effect_estimate import UnreliableEstimateWarning
from acie.causal.iv import iv_effect

COVARIATES = ["exper", "black", "south", "married", "smsa"]


def test_card_college_proximity_matches_the_mixtape():
    # Cunningham, Causal Inference: The Mixtape (2021), §7.5, table "OLS and 2SLS
    # regressions of log earnings on schooling" (Card 1995, NLSYM, data
    # causaldata.close_college): OLS 0.071 (0.003); 2SLS 0.124 (0.050); first stage
    # "college in the county" 0.327 (0.082), F = 15.767. Tolerance: the table's rounding
    # (half a unit in the last digit printed).
    causaldata = pytest.importorskip("causaldata")
    d = causaldata.close_college.load_pandas().data.dropna()
    r = iv_effect(
        outcome=d["lwage"],
        treatment=d["educ"],
        instruments=d["nearc4"],
        covariates=d[COVARIATES],
        cov_type="unadjusted",
    )
    assert r.method == "2SLS"
    assert abs(r.estimate - 0.124) <= 0.0005
    assert abs(r.std_error - 0.050) <= 0.0005
    assert abs(r.details["ols_estimate"] - 0.071) <= 0.0005
    assert abs(r.details["first_stage_coefficients"][0] - 0.327) <= 0.0005
    assert abs(r.details["first_stage_F"] - 15.767) <= 0.0005
    assert r.details["weak_instruments"] is False


def _confounded(n: int, seed: int, strength: float = 1.0):
    rng = np.random.default_rng(seed)
    u = rng.normal(size=n)
    z = rng.normal(size=n)
    t = strength * z + u + rng.normal(size=n)
    y = 0.8 * t + 1.5 * u + rng.normal(size=n)  # OLS is biased by u
    return y, t, z


def test_2sls_recovers_the_structural_coefficient_and_covers():
    hits, ols_bias = 0, []
    for seed in range(100):
        y, t, z = _confounded(400, seed)
        r = iv_effect(outcome=y, treatment=t, instruments=z)
        hits += r.ci_low <= 0.8 <= r.ci_high
        ols_bias.append(r.details["ols_estimate"] - 0.8)
    assert hits >= 90
    # OLS's closed-form bias: Cov(T, 1.5 U)/Var(T) = 1.5/3 = 0.5
    assert abs(np.mean(ols_bias) - 0.5) < 0.03


def test_wald_estimator_is_the_ratio_of_differences():
    rng = np.random.default_rng(5)
    n = 5000
    z = rng.integers(0, 2, n).astype(float)
    u = rng.normal(size=n)
    complier = rng.uniform(size=n) < 0.6
    t = np.where(complier, z, (u > 0.5).astype(float))
    y = 2.0 * t + u + rng.normal(size=n)
    r = iv_effect(outcome=y, treatment=t, instruments=z)
    wald = (y[z == 1].mean() - y[z == 0].mean()) / (t[z == 1].mean() - t[z == 0].mean())
    assert r.method == "Wald (IV)"
    assert r.estimand == "LATE (compliers)"
    assert r.estimate == pytest.approx(wald, rel=1e-10)
    assert abs(r.estimate - 2.0) < 4 * r.std_error


def test_weak_instrument_warns():
    y, t, z = _confounded(300, 1, strength=0.05)
    with pytest.warns(UnreliableEstimateWarning, match="weak instruments"):
        r = iv_effect(outcome=y, treatment=t, instruments=z)
    assert r.details["weak_instruments"] is True
    assert r.details["first_stage_F"] < 10
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        iv_effect(outcome=y, treatment=t, instruments=z, warn=False)


def test_overidentified_2sls_agrees_with_statsmodels():
    # statsmodels' IV2SLS (homoskedastic covariance) on two instruments and a covariate
    import statsmodels.api as sm
    from statsmodels.sandbox.regression.gmm import IV2SLS

    rng = np.random.default_rng(11)
    n = 800
    u, w = rng.normal(size=n), rng.normal(size=n)
    z = rng.normal(size=(n, 2))
    t = z @ [0.8, -0.5] + 0.5 * w + u + rng.normal(size=n)
    y = 0.8 * t + 0.3 * w + 1.5 * u + rng.normal(size=n)
    ours = iv_effect(outcome=y, treatment=t, instruments=z, covariates=w, cov_type="unadjusted")
    exog = sm.add_constant(np.column_stack([t, w]))
    inst = sm.add_constant(np.column_stack([z, w]))
    fit = IV2SLS(y, exog, inst).fit()
    assert ours.estimate == pytest.approx(fit.params[1], rel=1e-10)
    assert ours.std_error == pytest.approx(fit.bse[1], rel=1e-8)
    assert ours.details["n_instruments"] == 2
