"""dE[Y(z)]/dz at a point: SCM finite differences and the doubly robust estimator."""

import astropy.units as u
import numpy as np
import pytest

from acie.causal import (
    dose_response_derivative,
    galaxy_scm,
    interventional_derivative,
)
from acie.causal.reference_models import GALAXY_PARAMETERS
from acie.errors import EstimationError, InputValidationError, ShapeError, UnknownNodeError


@pytest.mark.parametrize("a0", [-1.0, 0.0, 0.7])
def test_scm_finite_difference_matches_closed_form(nonlinear_scm, a0):
    # E[c | do(a)] = E[(sin a + e_b)^2] + 0.5 a, so d/da = sin(2a) + 0.5
    r = interventional_derivative(
        nonlinear_scm, treatment="a", outcome="c", at=a0, n=20_000, seed=1
    )
    # tolerance: the central difference's O(h^2) bias (h = 0.01: < 1e-4) plus 4 MC s.e.
    assert abs(r.estimate - (np.sin(2 * a0) + 0.5)) < 1e-3 + 4 * r.std_error
    assert r.ci_low <= r.estimate <= r.ci_high


def test_galaxy_colour_slope_and_quantity_input():
    p = GALAXY_PARAMETERS
    exact = p["colour_amp"] / np.cosh(0.2) ** 2 + p["colour_sfr_slope"] * p["sfms_slope"]
    r = interventional_derivative(
        galaxy_scm(),
        treatment="log_stellar_mass",
        outcome="colour_gr",
        at=u.Dex(10**10.5 * u.solMass),
        n=2000,
        seed=2,
    )
    # linear paths and a tanh: the only error is the O(h^2) finite-difference bias
    assert r.at == pytest.approx(10.5)
    assert abs(r.estimate - exact) < 1e-4


def _quadratic_dose_response(n=3000, seed=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    z = 0.5 * x[:, 0] - 0.3 * x[:, 1] + rng.normal(size=n)
    # E[Y(z)] = z + 0.3 z^2 + E[exp(x0/2)]: derivative 1 + 0.6 z. The default outcome
    # model (linear in x) is misspecified in exp(x0/2); the Gaussian density is right.
    y = z + 0.3 * z**2 + np.exp(0.5 * x[:, 0]) + 0.5 * x[:, 1] * z + rng.normal(scale=0.5, size=n)
    return y, z, x


@pytest.mark.parametrize("z0", [-0.5, 0.5])
def test_doubly_robust_derivative(z0):
    y, z, x = _quadratic_dose_response()
    r = dose_response_derivative(outcome=y, treatment=z, covariates=x, at=z0)
    # tolerance: 4 of the estimator's own standard errors (local quadratic is exact for a
    # quadratic dose-response, so there is no smoothing bias)
    assert abs(r.estimate - (1 + 0.6 * z0)) < 4 * r.std_error
    assert r.std_error < 0.2


def test_doubly_robust_with_a_sklearn_outcome_model():
    from sklearn.linear_model import LinearRegression

    y, z, x = _quadratic_dose_response(n=1500, seed=4)
    r = dose_response_derivative(
        outcome=y,
        treatment=z,
        covariates=x,
        at=0.0,
        outcome_model=LinearRegression(),
        n_marginal=300,
        degree=3,
    )
    assert abs(r.estimate - 1.0) < 4 * r.std_error


def test_errors(nonlinear_scm):
    with pytest.raises(UnknownNodeError):
        interventional_derivative(nonlinear_scm, treatment="q", outcome="c", at=0.0)
    with pytest.raises(InputValidationError, match="step"):
        interventional_derivative(nonlinear_scm, treatment="a", outcome="c", at=0.0, step=0.0)
    with pytest.raises(InputValidationError, match="unit"):
        interventional_derivative(nonlinear_scm, treatment="a", outcome="c", at=1 * u.m)
    y, z, x = _quadratic_dose_response(n=200)
    with pytest.raises(ShapeError):
        dose_response_derivative(outcome=y[:10], treatment=z, covariates=x, at=0.0)
    with pytest.raises(EstimationError, match="within 5 bandwidths"):
        dose_response_derivative(outcome=y, treatment=z, covariates=x, at=50.0)
    with pytest.raises(InputValidationError, match="degree"):
        dose_response_derivative(outcome=y, treatment=z, covariates=x, at=0.0, degree=5)
