"""SCM sampling and interventions against closed-form answers."""

import astropy.units as u
import numpy as np
import pytest
from scipy import stats

from acie.causal import (
    FunctionalMechanism,
    LinearMechanism,
    StructuralCausalModel,
    active_interventions,
    do,
    galaxy_interventional_means,
    galaxy_scm,
)
from acie.errors import (
    CycleError,
    GraphError,
    InputValidationError,
    InvalidInterventionError,
    ShapeError,
    UnknownNodeError,
)

N = 200_000


def _within_mc(sample, expected, k=5.0):
    # tolerance: k Monte-Carlo standard errors of the sample mean
    se = sample.std(ddof=1) / np.sqrt(sample.size)
    assert abs(sample.mean() - expected) <= k * se + 1e-12, (sample.mean(), expected, se)


def test_observational_means(linear_scm):
    df = linear_scm.sample(N, seed=1)
    # E[x] = 1, E[y] = -0.5 + 2 E[x] = 1.5, E[z] = 3 + 0.7*1.5 - 1.5*1 = 2.55
    _within_mc(df["x"].to_numpy(), 1.0)
    _within_mc(df["y"].to_numpy(), 1.5)
    _within_mc(df["z"].to_numpy(), 2.55)
    # Var[y] = 4 Var[x] + 0.25 = 4.25 (variance of a sample variance ~ 2σ⁴/n)
    assert abs(df["y"].var() - 4.25) < 5 * np.sqrt(2 * 4.25**2 / N)


def test_hard_intervention_means(linear_scm):
    df = linear_scm.do({"y": 4.0}).sample(N, seed=2)
    assert np.all(df["y"] == 4.0)
    _within_mc(df["x"].to_numpy(), 1.0)
    _within_mc(df["z"].to_numpy(), 3.0 + 0.7 * 4.0 - 1.5 * 1.0)


def test_soft_intervention_keeps_parents(linear_scm):
    model = linear_scm.do({"y": lambda y: 2.0 * y + 1.0})
    assert model.graph.parents("y") == ("x",)
    df = model.sample(N, seed=3)
    # E[y] = 2*1.5 + 1 = 4, E[z] = 3 + 0.7*4 - 1.5 = 4.3
    _within_mc(df["y"].to_numpy(), 4.0)
    _within_mc(df["z"].to_numpy(), 4.3)


def test_nonlinear_interventional_mean(nonlinear_scm):
    # E[c | do(a = 0.8)] = E[(sin 0.8 + e_b)^2] + 0.4 = sin(0.8)^2 + 0.04 + 0.4
    df = nonlinear_scm.do({"a": 0.8}).sample(N, seed=4)
    _within_mc(df["c"].to_numpy(), np.sin(0.8) ** 2 + 0.04 + 0.4)
    # E[c | do(b = 0.3)] = 0.09 + 0.5 E[a] = 0.09
    df = nonlinear_scm.do({"b": 0.3}).sample(N, seed=5)
    _within_mc(df["c"].to_numpy(), 0.09)


def test_galaxy_interventional_means_match_quadrature():
    scm = galaxy_scm()
    df = scm.do({"log_stellar_mass": 10.8}).sample(N, seed=6)
    exact = galaxy_interventional_means(10.8)
    for node in scm.nodes:
        if node != "log_stellar_mass":
            _within_mc(df[node].to_numpy(), exact[node])


def test_non_descendants_identical_under_do(linear_scm):
    base = linear_scm.sample(1000, seed=7)
    after = linear_scm.do({"y": 0.0}).sample(1000, seed=7)
    np.testing.assert_array_equal(base["x"], after["x"])
    assert not np.allclose(base["z"], after["z"])


def test_do_handler_context_manager_and_nesting(linear_scm):
    assert active_interventions() == {}
    with do({"y": 1.0}):
        assert np.all(linear_scm.sample(10, seed=0)["y"] == 1.0)
        with do({"y": 2.0, "x": 0.0}):
            df = linear_scm.sample(10, seed=0)
            assert np.all(df["y"] == 2.0)
            assert np.all(df["x"] == 0.0)
        assert active_interventions() == {"y": 1.0}
    assert active_interventions() == {}
    assert not np.all(linear_scm.sample(10, seed=0)["y"] == 1.0)


def test_do_function_form_equals_method(linear_scm):
    a = do(linear_scm, {"y": 1.5}).sample(100, seed=8)
    b = linear_scm.do({"y": 1.5}).sample(100, seed=8)
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())
    with pytest.raises(InvalidInterventionError):
        do(linear_scm)
    with pytest.raises(InvalidInterventionError):
        do("y", {"y": 1.0})


def test_mutilated_graph(linear_scm):
    m = linear_scm.do({"y": 0.0})
    assert m.graph.parents("y") == ()
    assert set(m.graph.edges) == {("y", "z"), ("x", "z")}
    assert set(linear_scm.graph.edges) == {("x", "y"), ("y", "z"), ("x", "z")}


def test_per_unit_intervention_values(linear_scm):
    values = np.linspace(0, 1, 50)
    df = linear_scm.do({"y": values}).sample(50, seed=9)
    np.testing.assert_array_equal(df["y"], values)
    with pytest.raises(ShapeError):
        linear_scm.do({"y": values}).sample(10, seed=9)


def test_unknown_node_error_lists_nodes(linear_scm):
    with pytest.raises(UnknownNodeError) as info:
        linear_scm.do({"w": 1.0})
    assert info.value.known == ["x", "y", "z"]
    with pytest.raises(UnknownNodeError), do({"w": 1.0}):
        linear_scm.sample(5, seed=0)


@pytest.mark.parametrize("value", [np.nan, np.inf, "abc", np.ones((2, 2))])
def test_bad_intervention_values(linear_scm, value):
    with pytest.raises(InvalidInterventionError):
        linear_scm.do({"y": value})


def test_quantity_interventions_convert_units():
    scm = galaxy_scm()
    a = scm.do({"log_stellar_mass": 11.0}).sample(100, seed=1)
    b = scm.do({"log_stellar_mass": u.Dex(1e11 * u.solMass)}).sample(100, seed=1)
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=0, atol=1e-12)
    with pytest.raises(InvalidInterventionError, match="convertible"):
        scm.do({"log_stellar_mass": 3.0 * u.m})
    assert a.attrs["units"]["abs_mag_r"] == "mag"


def test_quantity_without_declared_unit(linear_scm):
    with pytest.raises(InvalidInterventionError, match="no unit"):
        linear_scm.do({"y": 1.0 * u.m})


def test_construction_errors():
    norm = stats.norm()
    with pytest.raises(GraphError, match="not a node"):
        StructuralCausalModel(
            mechanisms={"a": LinearMechanism(coefficients={"q": 1.0})}, noise={"a": norm}
        )
    with pytest.raises(GraphError, match="missing for: b"):
        StructuralCausalModel(
            mechanisms={"a": LinearMechanism(), "b": LinearMechanism()}, noise={"a": norm}
        )
    with pytest.raises(CycleError):
        StructuralCausalModel(
            mechanisms={
                "a": LinearMechanism(coefficients={"b": 1.0}),
                "b": LinearMechanism(coefficients={"a": 1.0}),
            },
            noise={"a": norm, "b": norm},
        )
    with pytest.raises(InputValidationError):
        StructuralCausalModel(mechanisms={"a": lambda p, e: e}, noise={"a": norm})
    with pytest.raises(InputValidationError):
        StructuralCausalModel(mechanisms={"a": LinearMechanism()}, noise={"a": 1.0})


@pytest.mark.parametrize("n", [0, -3, 2.5, True])
def test_sample_size_validation(linear_scm, n):
    with pytest.raises(InputValidationError):
        linear_scm.sample(n, seed=0)


def test_seed_determinism(nonlinear_scm):
    a = nonlinear_scm.sample(100, seed=11)
    b = nonlinear_scm.sample(100, seed=11)
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())


def test_functional_mechanism_sampling():
    scm = StructuralCausalModel(
        mechanisms={
            "a": LinearMechanism(),
            "b": FunctionalMechanism(parents=("a",), function=lambda p, e: p["a"] * e),
        },
        noise={"a": stats.norm(2.0, 0.1), "b": stats.norm(1.0, 0.1)},
    )
    df = scm.sample(N, seed=12)
    _within_mc(df["b"].to_numpy(), 2.0)  # E[a e] = E[a] E[e]
