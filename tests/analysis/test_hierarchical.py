"""Mixed-effects fits: lme4 reference values on the dietox data shipped in statsmodels'
wheel, recovery of the simulator's mass–luminosity relation across surveys, formula errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from acie.analysis.formula import parse_formula
from acie.analysis.hierarchical import fit_hierarchical_model
from acie.analysis.selection import weighted_linear_fit
from acie.analysis.surveys import (
    SurveySpec,
    random_surveys,
    simulate_survey_catalogue,
    true_mass_luminosity_relation,
)
from acie.errors import InputValidationError, UnknownNameError
from acie.galaxy.simulator import GalaxySimulator


@pytest.fixture(scope="module")
def dietox() -> pd.DataFrame:
    # Dietox pig growth data (Lauridsen et al. 1999; R package geepack), shipped inside the
    # statsmodels wheel as statsmodels/regression/tests/results/dietox.csv: read offline.
    import statsmodels

    path = Path(statsmodels.__file__).parent / "regression" / "tests" / "results" / "dietox.csv"
    if not path.exists():  # pragma: no cover - depends on the installed wheel
        pytest.skip(f"dietox.csv not in this statsmodels install ({path})")
    return pd.read_csv(path)


def test_random_intercepts_match_lme4_on_dietox(dietox):
    # R: lmer(Weight ~ Time + (1 | Pig), data = dietox) (REML), values quoted in
    # statsmodels' regression/tests/test_lme.py::test_dietox: fixef 15.723523, 6.942505;
    # SE 0.78805374, 0.03338727; Pig variance 40.39395; residual 11.36692; logLik
    # -2404.775. Tolerance rtol 1e-4 (optimiser convergence).
    fit = fit_hierarchical_model("Weight ~ Time + (1 | Pig)", dietox)
    fe = fit.fixed_effects
    np.testing.assert_allclose(fe["estimate"], [15.723523, 6.942505], rtol=1e-4)
    np.testing.assert_allclose(fe["std_error"], [0.78805374, 0.03338727], rtol=1e-3)
    np.testing.assert_allclose(
        fit.variance_components.loc["Pig Intercept Var", "estimate"], 40.39395, rtol=1e-4
    )
    np.testing.assert_allclose(fit.residual_variance, 11.36692, rtol=1e-4)
    np.testing.assert_allclose(fit.log_likelihood, -2404.775, rtol=1e-5)
    assert fit.n_groups == 72
    assert fit.n_obs == 861
    assert fit.converged
    # the standard error of the group variance agrees with the balanced one-way ANOVA
    # closed form Var(s_b^2) ~ 2/(m-1) (s_b^2 + s^2/k)^2 (m = 72 pigs, k = 12 weighings;
    # Searle, Casella & McCulloch 1992, ch. 3) within 10 %
    se = fit.variance_components.loc["Pig Intercept Var", "std_error"]
    closed = np.sqrt(2 / 71) * (40.39395 + 11.36692 / 12)
    assert abs(se / closed - 1) < 0.1
    assert fit.group_effects.shape == (72, 1)


def test_random_slopes_match_lme4_on_dietox(dietox):
    # R: lmer(Weight ~ Time + (1 + Time | Pig), data = dietox) (REML), statsmodels'
    # test_lme.py::test_dietox_slopes: fixef 15.738650, 6.939014; SE 0.5501253, 0.0798254;
    # residual 6.03745; VarCorr 19.4934552, 0.2938323, 0.4160620; logLik -2217.047.
    fit = fit_hierarchical_model("Weight ~ Time + (1 + Time | Pig)", dietox)
    np.testing.assert_allclose(fit.fixed_effects["estimate"], [15.738650, 6.939014], rtol=1e-4)
    np.testing.assert_allclose(fit.fixed_effects["std_error"], [0.5501253, 0.0798254], rtol=1e-3)
    np.testing.assert_allclose(fit.residual_variance, 6.03745, rtol=1e-3)
    np.testing.assert_allclose(
        fit.random_covariance.to_numpy().ravel(),
        [19.4934552, 0.2938323, 0.2938323, 0.4160620],
        rtol=1e-2,
    )
    np.testing.assert_allclose(fit.log_likelihood, -2217.047, rtol=1e-5)
    # lme4's (Time | Pig) means the same model (intercept implied)
    again = fit_hierarchical_model("Weight ~ Time + (Time | Pig)", dietox)
    np.testing.assert_allclose(
        again.fixed_effects["estimate"], fit.fixed_effects["estimate"], rtol=1e-6
    )


@pytest.fixture(scope="module")
def sim():
    return GalaxySimulator(image_size=32, bands=("r",), seed=0)


def test_fit_recovers_the_true_relation_across_surveys(sim):
    truth = true_mass_luminosity_relation(sim, n=100_000)
    surveys = random_surveys(12, n_galaxies=250, offset_sd_dex=0.1, seed=3)
    cat = simulate_survey_catalogue(sim, surveys, seed=4)
    assert set(cat.columns) >= {"survey_id", "mass", "luminosity"}
    assert cat.attrs["units"]["mass"] == "solMass"
    fit = fit_hierarchical_model("log10(mass) ~ log10(luminosity) + (1 | survey_id)", cat)
    fe = fit.fixed_effects
    # within 3 standard errors (the truth's own error is ~10x smaller and is added)
    slope, icpt = fe.loc["log10(luminosity)"], fe.loc["Intercept"]
    assert abs(slope.estimate - truth.slope) < 3 * np.hypot(slope.std_error, truth.slope_se)
    assert abs(icpt.estimate - truth.intercept) < 3 * np.hypot(icpt.std_error, truth.intercept_se)
    # the survey variance interval covers the variance of the drawn offsets [dex²]
    var = fit.variance_components.loc["survey_id Intercept Var"]
    drawn = np.var([s.mass_offset_dex for s in surveys], ddof=1)
    assert var.ci_low < drawn < var.ci_high
    # naive pooled OLS ignores survey structure: its slope SE is too small and it cannot
    # give the offsets; the BLUPs track the drawn offsets (correlation > 0.95)
    blup = fit.group_effects["Intercept"].reindex([s.name for s in surveys])
    assert np.corrcoef(blup, [s.mass_offset_dex for s in surveys])[0, 1] > 0.95


def test_random_slopes_across_surveys(sim):
    truth = true_mass_luminosity_relation(sim, n=100_000)
    surveys = random_surveys(12, n_galaxies=250, offset_sd_dex=0.1, slope_sd=0.05, seed=3)
    cat = simulate_survey_catalogue(sim, surveys, seed=4)
    fit = fit_hierarchical_model(
        "log10(mass) ~ log10(luminosity) + (1 + log10(luminosity) | survey_id)", cat
    )
    slope = fit.fixed_effects.loc["log10(luminosity)"]
    assert abs(slope.estimate - truth.slope) < 3 * slope.std_error
    assert fit.random_covariance.shape == (2, 2)
    assert "survey_id log10(luminosity) Var" in fit.variance_components.index


def test_log_is_natural_and_log10_is_decimal(sim):
    """Same data, both bases: the slope is base-free, log-unit quantities scale by ln 10."""
    cat = simulate_survey_catalogue(sim, random_surveys(6, n_galaxies=150, seed=5), seed=6)
    dex = fit_hierarchical_model("log10(mass) ~ log10(luminosity) + (1 | survey_id)", cat)
    nat = fit_hierarchical_model("log(mass) ~ log(luminosity) + (1 | survey_id)", cat)
    via_np = fit_hierarchical_model("np.log10(mass) ~ np.log10(luminosity) + (1 | survey_id)", cat)
    ln10 = np.log(10.0)
    assert nat.fixed_effects.loc["log(luminosity)", "estimate"] == pytest.approx(
        dex.fixed_effects.loc["log10(luminosity)", "estimate"], rel=1e-5
    )
    assert nat.fixed_effects.loc["Intercept", "estimate"] == pytest.approx(
        ln10 * dex.fixed_effects.loc["Intercept", "estimate"], rel=1e-5
    )
    assert nat.residual_variance == pytest.approx(ln10**2 * dex.residual_variance, rel=1e-4)
    np.testing.assert_allclose(
        via_np.fixed_effects["estimate"].to_numpy(), dex.fixed_effects["estimate"].to_numpy()
    )
    # the weighted least-squares fits share the formula functions
    ols = weighted_linear_fit("log10(mass) ~ log10(luminosity)", cat)
    ols_np = weighted_linear_fit("np.log10(mass) ~ np.log10(luminosity)", cat)
    assert ols.params.iloc[1] == pytest.approx(ols_np.params.iloc[1], rel=1e-12)


def test_parse_formula():
    p = parse_formula("log(mass) ~ log(luminosity) + (1 | survey_id)")
    assert p.fixed == "log(mass) ~ log(luminosity)"
    assert p.random == "1"
    assert p.group == "survey_id"
    assert set(p.variables) == {"mass", "luminosity", "survey_id"}
    assert parse_formula("y ~ x + (0 + x | g)").random == "0 + x"
    assert parse_formula("y ~ (1 | g) + (x | g)").random == "1 + x"
    assert parse_formula("y ~ (1 | g)").fixed == "y ~ 1"
    p = parse_formula("np.log10(mass) ~ numpy.log10(luminosity) + (1 | g)")
    assert set(p.variables) == {"mass", "luminosity", "g"}  # np is not a column


@pytest.mark.parametrize(
    ("formula", "match"),
    [
        ("y + x", "one '~'"),
        ("y ~ x + (1 | g) + (1 | h)", "one grouping factor"),
        ("y ~ x + (1 || g)", "'\\|\\|'"),
        ("y ~ x + (1 | g", "unbalanced"),
        ("y ~ x + 1 | g", "in parentheses"),
        ("y ~ evil(x) + (1 | g)", "unknown function"),
        ("y ~ np.sin(x) + (1 | g)", "unknown function.*np.sin"),
        ("y ~ x +  + (1 | g)", "empty term"),
        ("y ~ x", "no random-effects term"),
    ],
)
def test_bad_formulas_raise(formula, match):
    data = pd.DataFrame({"y": np.arange(20.0), "x": np.arange(20.0), "g": [0, 1] * 10, "h": 1})
    with pytest.raises(InputValidationError, match=match):
        fit_hierarchical_model(formula, data)


def test_missing_columns_and_bad_values_raise():
    data = pd.DataFrame({"y": np.arange(1.0, 21.0), "x": np.arange(20.0), "g": [0, 1] * 10})
    with pytest.raises(UnknownNameError, match=r"\['luminosity'\].*columns are: y, x, g"):
        fit_hierarchical_model("y ~ log(luminosity) + (1 | g)", data)
    with pytest.raises(InputValidationError, match="NaN or inf"):
        fit_hierarchical_model("y ~ log(x) + (1 | g)", data)  # log(0)
    with pytest.raises(InputValidationError, match="at least 2 levels"):
        fit_hierarchical_model("y ~ x + (1 | g)", data.assign(g=1))
    with pytest.raises(InputValidationError, match="n_galaxies"):
        SurveySpec(name="A", n_galaxies=0)
