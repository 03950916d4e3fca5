"""Mechanisms fitted from data given a DAG."""

import numpy as np
import pandas as pd
import pytest

from acie.causal import (
    ClassifierMechanism,
    EmpiricalNoise,
    LinearMechanism,
    RegressorMechanism,
    fit_scm,
    galaxy_scm,
)
from acie.errors import InputValidationError, NotInvertibleError, UnknownNodeError


def test_linear_fit_recovers_coefficients(linear_scm):
    data = linear_scm.sample(5000, seed=1)
    fitted = fit_scm(linear_scm.graph, data)
    z = fitted.mechanisms["z"]
    assert isinstance(z, LinearMechanism)
    # OLS s.e. of a coefficient ≈ σ_e / (σ_parent √n) ≲ 0.3/(0.5·70) ≈ 0.01; tolerance 5 s.e.
    assert z.coefficients["y"] == pytest.approx(0.7, abs=0.05)
    assert z.coefficients["x"] == pytest.approx(-1.5, abs=0.05)
    assert isinstance(fitted.noise["x"], EmpiricalNoise)
    # interventional mean of the fitted model ≈ the true one, 3 + 0.7*4 - 1.5 = 4.3
    mean = fitted.do({"y": 4.0}).sample(20_000, seed=2)["z"].mean()
    assert mean == pytest.approx(4.3, abs=0.1)


def test_counterfactuals_of_a_fitted_model(linear_scm):
    data = linear_scm.sample(5000, seed=3)
    fitted = fit_scm(linear_scm.graph, data)
    obs = data.head(20)
    cf_true = linear_scm.counterfactual(obs, {"y": 2.0})
    cf_fit = fitted.counterfactual(obs, {"y": 2.0})
    # exact given the fitted coefficients; the gap is the coefficient error times |Δy|
    assert np.max(np.abs(cf_true["z"] - cf_fit["z"])) < 0.2


def test_auto_kinds_and_nonlinear():
    scm = galaxy_scm()
    data = scm.sample(3000, seed=4)
    fitted = fit_scm(scm.graph, data, kinds={"colour_gr": "nonlinear"})
    assert isinstance(fitted.mechanisms["merger"], ClassifierMechanism)
    assert isinstance(fitted.mechanisms["colour_gr"], RegressorMechanism)
    assert isinstance(fitted.mechanisms["log_sfr"], LinearMechanism)
    draws = fitted.sample(20_000, seed=5)
    assert set(np.unique(draws["merger"])) == {0.0, 1.0}
    # P(merger) of the fitted logistic model ≈ the sample frequency (binomial s.e. ~0.01)
    assert draws["merger"].mean() == pytest.approx(data["merger"].mean(), abs=0.04)
    with pytest.raises(NotInvertibleError):
        fitted.counterfactual(data.head(3), {"log_halo_mass": 12.0})
    cf = fitted.counterfactual(data.head(3), {"log_stellar_mass": 11.0})
    assert np.all(cf["log_stellar_mass"] == 11.0)


def test_errors(linear_scm):
    data = linear_scm.sample(100, seed=6)
    with pytest.raises(InputValidationError, match="no column z"):
        fit_scm(linear_scm.graph, data.drop(columns="z"))
    with pytest.raises(UnknownNodeError):
        fit_scm(linear_scm.graph, data, kinds={"q": "linear"})
    with pytest.raises(InputValidationError, match="quantum"):
        fit_scm(linear_scm.graph, data, default="quantum")
    with pytest.raises(InputValidationError, match="'x'"):
        fit_scm(linear_scm.graph, data, kinds={"x": "quantum"})
    with pytest.raises(InputValidationError, match="finite"):
        fit_scm(linear_scm.graph, data.assign(x=np.inf))
    with pytest.raises(InputValidationError):
        fit_scm(linear_scm.graph, pd.DataFrame(data).to_numpy())
