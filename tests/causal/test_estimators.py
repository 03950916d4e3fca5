"""Effect estimators: synthetic data with known effects, and published benchmark values
on data shipped in the `causaldata` PyPI package (MIT licence)."""

import numpy as np
import pandas as pd
import pytest

from acie.causal import EffectMethod, aipw, estimate_effect, ipw, regression_adjustment
from acie.errors import EstimationError, InputValidationError, ShapeError, UnknownNameError


# ---- synthetic data -----------------------------------------------------------------
def _binary(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    e = 1 / (1 + np.exp(-(0.8 * x[:, 0] - 0.5 * x[:, 1])))
    t = (rng.uniform(size=n) < e).astype(float)
    y = 2.0 * t + 1.5 * x[:, 0] + x[:, 1] + rng.normal(size=n)  # ATE = 2
    return y, t, x


def _continuous(n=4000, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    t = 0.7 * x[:, 0] - 0.4 * x[:, 1] + rng.normal(size=n)
    y = 1.3 * t + 2.0 * x[:, 0] + 0.5 * x[:, 1] + rng.normal(size=n)  # dE[Y]/dt = 1.3
    return y, t, x


@pytest.mark.parametrize("estimator", [regression_adjustment, ipw, aipw])
def test_binary_effect_recovered(estimator):
    y, t, x = _binary()
    naive = y[t == 1].mean() - y[t == 0].mean()
    assert abs(naive - 2.0) > 0.5  # confounded
    est = estimator(outcome=y, treatment=t, covariates=x)
    # tolerance: 4 standard errors of the estimator itself
    assert abs(est.estimate - 2.0) < 4 * est.std_error
    assert est.ci_low < est.estimate < est.ci_high
    assert est.estimand == "ATE"
    assert est.treatment_kind == "binary"


@pytest.mark.parametrize("estimator", [regression_adjustment, ipw, aipw])
def test_continuous_effect_recovered(estimator):
    y, t, x = _continuous()
    est = estimator(outcome=y, treatment=t, covariates=x)
    assert abs(est.estimate - 1.3) < 4 * est.std_error
    assert est.treatment_kind == "continuous"


def test_standard_errors_match_the_sampling_spread():
    # the reported s.e. should match the spread over independent replications
    # (40 replications: the sample sd is within ±35% of the truth with > 95% probability)
    estimates, ses = [], []
    for seed in range(40):
        y, t, x = _binary(n=800, seed=100 + seed)
        r = aipw(outcome=y, treatment=t, covariates=x)
        estimates.append(r.estimate)
        ses.append(r.std_error)
    ratio = np.std(estimates, ddof=1) / np.mean(ses)
    assert 0.65 < ratio < 1.35


def test_aipw_is_doubly_robust_to_a_wrong_outcome_model():
    from sklearn.dummy import DummyRegressor

    y, t, x = _binary(seed=3)
    wrong = DummyRegressor()  # predicts the arm mean: badly misspecified
    ra = regression_adjustment(
        outcome=y, treatment=t, covariates=x, outcome_model=wrong, n_bootstrap=50
    )
    dr = aipw(outcome=y, treatment=t, covariates=x, outcome_model=wrong)
    assert abs(ra.estimate - 2.0) > 5 * ra.std_error
    assert abs(dr.estimate - 2.0) < 4 * dr.std_error


def test_cross_fitting_with_flexible_models():
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import SplineTransformer

    y, t, x = _binary(n=2000, seed=4)
    r = aipw(
        outcome=y,
        treatment=t,
        covariates=x,
        cross_fit=3,
        outcome_model=make_pipeline(SplineTransformer(n_knots=5), Ridge(alpha=1e-3)),
        propensity_model=make_pipeline(
            SplineTransformer(n_knots=5), LogisticRegression(max_iter=2000)
        ),
    )
    assert abs(r.estimate - 2.0) < 4 * r.std_error
    assert r.details["cross_fit"] == 3


def test_trimming_clips_extreme_propensities():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2000, 1)) * 3
    t = (rng.uniform(size=2000) < 1 / (1 + np.exp(-2 * x[:, 0]))).astype(float)
    y = t + x[:, 0] + rng.normal(size=2000)
    r = ipw(outcome=y, treatment=t, covariates=x, trim=0.05)
    assert r.details["n_clipped"] > 0
    assert r.details["propensity_min"] < 0.05


# ---- published reference values ---------------------------------------------------------
def _nhefs():
    causaldata = pytest.importorskip("causaldata")
    d = causaldata.nhefs_complete.load_pandas().data
    d = d[d["wt82_71"].notna()]
    # the covariates of Hernán & Robins, What If (2020), Programs 12.2-12.3 and 13.1-13.3
    x = pd.DataFrame(
        {
            "sex": d.sex.astype(float),
            "race": d.race.astype(float),
            "age": d.age,
            "age2": d.age**2,
            "smokeintensity": d.smokeintensity,
            "smokeintensity2": d.smokeintensity**2,
            "smokeyrs": d.smokeyrs,
            "smokeyrs2": d.smokeyrs**2,
            "wt71": d.wt71,
            "wt712": d.wt71**2,
        }
    )
    for col, levels in (("education", (2, 3, 4, 5)), ("exercise", (1, 2)), ("active", (1, 2))):
        for level in levels:
            x[f"{col}{level}"] = (d[col].astype(int) == level).astype(float)
    return d["wt82_71"].to_numpy(float), d["qsmk"].to_numpy(float), x


def _what_if_outcome_model(x):
    # Program 13.2: linear model with a qsmk x smokeintensity product term; column 0 is T
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    k = 1 + list(x.columns).index("smokeintensity")
    return make_pipeline(
        FunctionTransformer(lambda a: np.column_stack([a, a[:, 0] * a[:, k]])), LinearRegression()
    )


def test_nhefs_ipw_matches_what_if_program_12_3():
    # Hernán & Robins, Causal Inference: What If (2020), §12.3 / Program 12.3:
    # stabilised IPW effect of smoking cessation on weight gain 3.4 kg, 95% CI 2.4 to 4.5
    # (program output 3.44, 2.41 to 4.47; robust s.e.). Tolerance 0.01 kg: the program
    # output's rounding; same model, same 1566 rows, so only round-off remains.
    y, t, x = _nhefs()
    assert y.size == 1566
    r = ipw(outcome=y, treatment=t, covariates=x, trim=0.0)
    assert abs(r.estimate - 3.44) < 0.01
    assert abs(r.ci_low - 2.41) < 0.01
    assert abs(r.ci_high - 4.47) < 0.01
    # What If, §12.3: stabilised weights have mean 1.00 and maximum 4.30
    assert abs(r.details["weight_mean"] - 1.0) < 0.005
    assert abs(r.details["weight_max"] - 4.30) < 0.01


def test_nhefs_standardisation_matches_what_if_program_13_3():
    # What If (2020), §13.3: standardisation (parametric g-formula) gives 3.5 kg,
    # 95% CI 2.6 to 4.5 (bootstrap). Tolerance 0.05 kg: the published rounding.
    y, t, x = _nhefs()
    r = regression_adjustment(
        outcome=y,
        treatment=t,
        covariates=x,
        separate_arms=False,
        outcome_model=_what_if_outcome_model(x),
        n_bootstrap=100,
    )
    assert abs(r.estimate - 3.5) < 0.05
    # the bootstrap interval of 100 replicates matches the published one to 0.15 kg
    # (Monte-Carlo error of a 100-replicate bootstrap s.e. is ~7%, i.e. ~0.07 kg per end)
    assert abs(r.ci_low - 2.6) < 0.15
    assert abs(r.ci_high - 4.5) < 0.15


def test_nhefs_aipw_agrees_with_the_published_estimates():
    # AIPW with both What If nuisance models: no single published value, but as a
    # doubly robust estimator it must agree with both published ones (IPW 3.44,
    # standardisation 3.5) to within a fifth of their s.e. (0.53/5 ≈ 0.1 kg)
    y, t, x = _nhefs()
    r = aipw(
        outcome=y,
        treatment=t,
        covariates=x,
        trim=0.0,
        separate_arms=False,
        outcome_model=_what_if_outcome_model(x),
    )
    assert abs(r.estimate - 3.44) < 0.1
    assert abs(r.estimate - 3.5) < 0.1
    assert 0.4 < r.std_error < 0.6


def test_nsw_experimental_benchmark():
    # LaLonde's NSW experiment, Dehejia & Wahba (1999, JASA 94, 1053), Table 2: the
    # experimental treated-minus-control difference in 1978 earnings is $1,794 (s.e. 633)
    causaldata = pytest.importorskip("causaldata")
    d = causaldata.nsw_mixtape.load_pandas().data
    r = regression_adjustment(outcome=d["re78"], treatment=d["treat"], n_bootstrap=400)
    assert abs(r.estimate - 1794) < 1.0  # the difference in means, to the dollar
    # bootstrap s.e. with 400 replicates: Monte-Carlo error ~3.5%; tolerance 15%
    assert abs(r.std_error - 633) / 633 < 0.15


# ---- the data-frame front end and errors ------------------------------------------------
def test_estimate_effect_front_end():
    y, t, x = _binary(n=500)
    df = pd.DataFrame({"y": y, "t": t, "x0": x[:, 0], "x1": x[:, 1]})
    for method in EffectMethod:
        r = estimate_effect(df, treatment="t", outcome="y", covariates=["x0", "x1"], method=method)
        assert r.n == 500
        assert r.to_dict()["estimate"] == r.estimate
    with pytest.raises(UnknownNameError, match="columns are"):
        estimate_effect(df, treatment="q", outcome="y")
    with pytest.raises(InputValidationError, match="method"):
        estimate_effect(df, treatment="t", outcome="y", method="magic")


def test_input_errors():
    y, t, x = _binary(n=100)
    with pytest.raises(ShapeError):
        ipw(outcome=y[:50], treatment=t, covariates=x)
    with pytest.raises(InputValidationError, match="finite"):
        ipw(outcome=np.where(np.arange(100) == 3, np.nan, y), treatment=t, covariates=x)
    with pytest.raises(InputValidationError, match="binary"):
        ipw(outcome=y, treatment=t + 0.5, covariates=x, treatment_kind="binary")
    with pytest.raises(InputValidationError, match="trim"):
        ipw(outcome=y, treatment=t, covariates=x, trim=0.7)
    with pytest.raises(InputValidationError, match="level"):
        aipw(outcome=y, treatment=t, covariates=x, level=1.5)
    for estimator in (regression_adjustment, ipw, aipw):
        with pytest.raises(EstimationError, match="single value"):
            estimator(outcome=y, treatment=np.ones(100), covariates=x)
    with pytest.raises(EstimationError, match=r"positivity|separation|propensity"):
        ipw(outcome=y, treatment=t, covariates=np.column_stack([x, t]), trim=0.0)
