"""Natural direct and indirect effects: VanderWeele's closed forms on a linear SCM,
agreement with statsmodels' Mediation (simulation-based), and bootstrap coverage."""

import numpy as np
import pytest

from acie.causal.mediation import mediation_effects
from acie.errors import InputValidationError


def _scm(n: int, seed: int):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t = (rng.normal(size=n) + x > 0).astype(float)
    m = 0.5 + 1.2 * t + 0.8 * x + rng.normal(size=n)
    y = 1.0 + 0.7 * t + 0.9 * m + 0.4 * t * m + 0.5 * x + rng.normal(size=n)
    return y, t, m, x


# closed forms (E[X] = 0): NDE = 0.7 + 0.4 (0.5 + 1.2·0) = 0.9; NIE = 1.2 (0.9 + 0.4) = 1.56
NDE, NIE = 0.9, 1.56


def test_closed_form_on_a_linear_scm():
    y, t, m, x = _scm(20000, 0)
    r = mediation_effects(outcome=y, treatment=t, mediator=m, covariates=x, n_bootstrap=200)
    assert abs(r.nde - NDE) < 0.06
    assert abs(r.nie - NIE) < 0.06
    assert r.total == pytest.approx(r.nde + r.nie)
    assert r.nde_ci[0] < r.nde < r.nde_ci[1]


def test_intervals_cover_in_replications():
    hits = np.zeros(2)
    for seed in range(100):
        y, t, m, x = _scm(300, 1000 + seed)
        r = mediation_effects(
            outcome=y, treatment=t, mediator=m, covariates=x, n_bootstrap=200, seed=seed
        )
        hits += [r.nde_ci[0] <= NDE <= r.nde_ci[1], r.nie_ci[0] <= NIE <= r.nie_ci[1]]
    assert np.all(hits >= 90)


def test_agrees_with_statsmodels_mediation():
    # statsmodels.stats.mediation.Mediation (Imai, Keele & Tingley 2010 algorithm) on the
    # same linear models; its estimates are Monte Carlo over 50 draws: tolerance 0.05
    import pandas as pd
    import statsmodels.api as sm
    from statsmodels.stats.mediation import Mediation

    y, t, m, x = _scm(400, 7)
    df = pd.DataFrame({"y": y, "t": t, "m": m, "x": x})
    outcome_model = sm.OLS.from_formula("y ~ t + m + t:m + x", df)
    mediator_model = sm.OLS.from_formula("m ~ t + x", df)
    sm_res = Mediation(outcome_model, mediator_model, "t", "m").fit(n_rep=50)
    ours = mediation_effects(outcome=y, treatment=t, mediator=m, covariates=x, n_bootstrap=200)
    table = sm_res.summary()
    assert abs(ours.nde - table.loc["ADE (control)", "Estimate"]) < 0.05
    assert abs(ours.nie - table.loc["ACME (treated)", "Estimate"]) < 0.05


def test_bad_input():
    y, t, m, _x = _scm(50, 0)
    with pytest.raises(InputValidationError):
        mediation_effects(outcome=y, treatment=t, mediator=m[:-1])
    with pytest.raises(InputValidationError):
        mediation_effects(outcome=y, treatment=t, mediator=m, t0=1.0, t1=1.0)
