"""Refutations: a correct estimate survives all five; each rule can fail."""

import numpy as np
import pandas as pd
import pytest

from acie.causal.refute import Refuter, refute_estimate
from acie.errors import InputValidationError


def _confounded(n: int, seed: int) -> pd.DataFrame:
    # x confounds binary t and y; true ATE 0.5
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t = (rng.uniform(size=n) < 1 / (1 + np.exp(-x))).astype(float)
    y = 0.5 * t + 1.0 * x + rng.normal(size=n)
    return pd.DataFrame({"x": x, "t": t, "y": y})


def test_correct_adjustment_survives_every_refuter():
    data = _confounded(1500, 1)
    rep = refute_estimate(data, treatment="t", outcome="y", covariates=["x"], seed=3)
    assert [r.refuter for r in rep.refutations] == [r.value for r in Refuter]
    assert rep.passed, "\n".join(map(str, rep.refutations))
    by = {r.refuter: r for r in rep.refutations}
    # placebo and dummy outcome: the true effect is 0; their spread is that of an estimate
    for name in ("placebo_treatment", "dummy_outcome"):
        assert abs(by[name].new_estimate) < 3 * by[name].new_spread / np.sqrt(20)
    assert abs(rep.estimate.estimate - 0.5) < 3 * rep.estimate.std_error
    assert rep.to_dict()["passed"] is True


def test_rules_fail_when_they_should():
    data = _confounded(600, 2)
    # an absurdly tight tolerance: adding a random covariate does move the estimate a little
    rep = refute_estimate(
        data,
        treatment="t",
        outcome="y",
        covariates=["x"],
        refuters=["random_common_cause", "data_subset"],
        k=1e-4,
        n_simulations=5,
    )
    assert not any(r.passed for r in rep.refutations)
    assert "k = 0.0001" in rep.refutations[0].rule


def test_a_biased_estimator_fails_placebo_and_dummy_outcome(monkeypatch):
    # an estimator that adds 3 standard errors to every estimate (a stand-in for a leak or a
    # bug): its placebo and dummy-outcome intervals miss the true 0 far too often
    import dataclasses

    from acie.causal import refute

    real = refute.estimate_effect

    def biased(*args, **kwargs):
        e = real(*args, **kwargs)
        shift = 3 * e.std_error
        return dataclasses.replace(
            e, estimate=e.estimate + shift, ci_low=e.ci_low + shift, ci_high=e.ci_high + shift
        )

    monkeypatch.setattr(refute, "estimate_effect", biased)
    rep = refute_estimate(
        _confounded(500, 5),
        treatment="t",
        outcome="y",
        covariates=["x"],
        refuters=["placebo_treatment", "dummy_outcome"],
        n_simulations=10,
    )
    for r in rep.refutations:
        assert not r.passed, str(r)
        assert r.statistic >= 5  # misses out of 10
        assert r.details["binomial_p"] < 0.01


def test_an_overconfident_standard_error_fails_the_bootstrap(monkeypatch):
    import dataclasses

    from acie.causal import refute

    real = refute.estimate_effect

    def overconfident(*args, **kwargs):
        e = real(*args, **kwargs)
        return dataclasses.replace(e, std_error=e.std_error / 10)

    data = _confounded(600, 8)
    honest = refute_estimate(
        data, treatment="t", outcome="y", covariates=["x"], refuters=["bootstrap"], n_simulations=10
    )
    assert honest.passed, str(honest.refutations[0])
    monkeypatch.setattr(refute, "estimate_effect", overconfident)
    rep = refute_estimate(
        data, treatment="t", outcome="y", covariates=["x"], refuters=["bootstrap"], n_simulations=10
    )
    assert not rep.passed
    assert "outside the 99 % interval" in rep.refutations[0].rule


def test_categorical_covariate_in_the_dummy_outcome():
    # the dummy outcome's prediction from a text covariate uses its indicators
    rng = np.random.default_rng(3)
    n = 800
    g = rng.choice(["a", "b", "c"], n)
    x = rng.normal(size=n) + (g == "b")
    t = (rng.uniform(size=n) < 1 / (1 + np.exp(-x))).astype(float)
    y = 0.5 * t + x + 2.0 * (g == "c") + rng.normal(size=n)
    df = pd.DataFrame({"x": x, "g": g, "t": t, "y": y})
    rep = refute_estimate(
        df, treatment="t", outcome="y", covariates=["x", "g"], refuters=["dummy_outcome"],
        n_simulations=10,
    )  # fmt: skip
    assert rep.passed, str(rep.refutations[0])


def test_bad_arguments():
    data = _confounded(100, 0)
    with pytest.raises(InputValidationError, match="refuter"):
        refute_estimate(data, treatment="t", outcome="y", covariates=["x"], refuters=["nope"])
    with pytest.raises(InputValidationError, match="n_simulations"):
        refute_estimate(data, treatment="t", outcome="y", covariates=["x"], n_simulations=2)
