"""Unit counterfactuals by abduction-action-prediction: exact for additive noise."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from acie.causal import (
    ClassifierMechanism,
    FunctionalMechanism,
    LinearMechanism,
    StructuralCausalModel,
    do,
    galaxy_scm,
)
from acie.errors import InputValidationError, NotInvertibleError

EXACT = dict(rtol=0, atol=1e-12)  # floating-point round-off only


def test_linear_counterfactual_is_exact(linear_scm):
    obs = linear_scm.sample(500, seed=1)
    cf = linear_scm.counterfactual(obs, {"y": 2.0})
    # z = 3 + 0.7 y - 1.5 x + e_z, e_z = z_obs - (3 + 0.7 y_obs - 1.5 x_obs)
    # so z_cf = z_obs + 0.7 (2 - y_obs)
    np.testing.assert_allclose(cf["z"], obs["z"] + 0.7 * (2.0 - obs["y"]), **EXACT)
    np.testing.assert_array_equal(cf["x"], obs["x"])
    assert np.all(cf["y"] == 2.0)


def test_nonlinear_counterfactual_is_exact(nonlinear_scm):
    obs = nonlinear_scm.sample(500, seed=2)
    cf = nonlinear_scm.counterfactual(obs, {"a": 0.0})
    e_b = obs["b"] - np.sin(obs["a"])
    e_c = obs["c"] - (obs["b"] ** 2 + 0.5 * obs["a"])
    b_cf = np.sin(0.0) + e_b
    np.testing.assert_allclose(cf["b"], b_cf, **EXACT)
    np.testing.assert_allclose(cf["c"], b_cf**2 + e_c, **EXACT)


def test_soft_counterfactual_and_handler(nonlinear_scm):
    obs = nonlinear_scm.sample(200, seed=3)
    with do({"b": lambda b: b + 1.0}):
        cf = nonlinear_scm.counterfactual(obs)
    e_c = obs["c"] - (obs["b"] ** 2 + 0.5 * obs["a"])
    np.testing.assert_allclose(cf["b"], obs["b"] + 1.0, **EXACT)
    np.testing.assert_allclose(cf["c"], (obs["b"] + 1.0) ** 2 + 0.5 * obs["a"] + e_c, **EXACT)
    np.testing.assert_array_equal(cf["a"], obs["a"])


def test_consistency_intervening_on_factual_value_changes_nothing(nonlinear_scm):
    obs = nonlinear_scm.sample(100, seed=4)
    cf = nonlinear_scm.counterfactual(obs, {"a": obs["a"].to_numpy()})
    np.testing.assert_allclose(cf.to_numpy(), obs.to_numpy(), **EXACT)


def test_counterfactual_matches_twin_world_sampling(linear_scm):
    # abduction recovers exactly the noise used to sample, so the counterfactual equals
    # the intervened model run on that same noise (the "twin network")
    noise = linear_scm.sample_noise(300, seed=5)
    obs = linear_scm.propagate(noise)
    twin = linear_scm.do({"x": -1.0}).propagate(noise)
    cf = linear_scm.counterfactual(obs, {"x": -1.0})
    np.testing.assert_allclose(cf.to_numpy(), twin.to_numpy(), **EXACT)
    np.testing.assert_allclose(linear_scm.abduct(obs).to_numpy(), noise.to_numpy(), **EXACT)


def test_non_invertible_descendant_is_refused():
    scm = galaxy_scm()
    obs = scm.sample(5, seed=6)
    with pytest.raises(NotInvertibleError, match="merger"):
        scm.counterfactual(obs, {"log_halo_mass": 12.5})
    # merger is not a descendant of stellar mass: this one is fine
    cf = scm.counterfactual(obs, {"log_stellar_mass": 11.0})
    np.testing.assert_array_equal(cf["merger"], obs["merger"])


def test_functional_mechanism_with_inverse_is_invertible():
    mech = FunctionalMechanism(
        parents=("a",),
        function=lambda p, e: np.exp(p["a"]) * e,
        inverse=lambda p, v: v / np.exp(p["a"]),
    )
    assert mech.invertible
    scm = StructuralCausalModel(
        mechanisms={"a": LinearMechanism(), "b": mech},
        noise={"a": stats.norm(), "b": stats.lognorm(0.5)},
    )
    obs = scm.sample(50, seed=7)
    cf = scm.counterfactual(obs, {"a": 0.0})
    np.testing.assert_allclose(cf["b"], obs["b"] / np.exp(obs["a"]), rtol=1e-12)


def test_classifier_mechanism_refuses_abduction():
    class Half:
        classes_ = np.array([0.0, 1.0])

        def predict_proba(self, x):
            return np.tile([0.5, 0.5], (x.shape[0], 1))

    mech = ClassifierMechanism(parents=(), classifier=Half())
    assert not mech.invertible
    with pytest.raises(NotInvertibleError):
        mech.abduct({}, np.zeros(3))
    np.testing.assert_array_equal(mech({}, np.array([0.1, 0.6])), [0.0, 1.0])


def test_counterfactual_input_validation(linear_scm):
    obs = linear_scm.sample(10, seed=8)
    with pytest.raises(InputValidationError, match="no column"):
        linear_scm.counterfactual(obs.drop(columns="z"), {"y": 1.0})
    bad = obs.copy()
    bad.loc[0, "x"] = np.nan
    with pytest.raises(InputValidationError, match="finite"):
        linear_scm.counterfactual(bad, {"y": 1.0})
    with pytest.raises(InputValidationError):
        linear_scm.counterfactual(obs, {})
    cf = linear_scm.counterfactual({k: obs[k].to_numpy() for k in obs}, {"y": 1.0})
    assert isinstance(cf, pd.DataFrame)
