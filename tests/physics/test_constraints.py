"""The generic constraint machinery on a toy system (the galaxy table: tests/galaxy)."""

import numpy as np
import pytest

from acie.config import Settings
from acie.errors import InputValidationError, PhysicsViolationError, ShapeError, UnknownNameError
from acie.physics import (
    DEFAULT_STEPS,
    DEFAULT_TOLERANCE,
    Constraint,
    ConstraintSet,
    check,
    enforce,
    penalty,
    project,
    violation_score,
    violation_scores,
)
from acie.physics._backend import namespace

torch = pytest.importorskip("torch")


def _order(p):  # log_a must not exceed log_b [dex]
    return namespace(*p.values()).relu(p["log_a"] - p["log_b"])


def _linear(p):  # x (linear, > 0) must not exceed the observed cap c: log10(x / c) <= 0
    xp = namespace(*p.values())
    return xp.relu(xp.log10(p["x"] / p["cap"]))


TOY = ConstraintSet(
    constraints=(
        Constraint("order", ("log_a", "log_b"), _order),
        Constraint("cap", ("x", "cap"), _linear),
    ),
    properties=("log_a", "log_b", "x"),
    observations=("cap",),
    ignored=("label",),
    log_parametrised=frozenset({"x"}),
    noun="widget",
)


def test_scores_only_the_constraints_whose_inputs_are_present():
    s = violation_scores({"log_a": [1.0, 3.0], "log_b": [2.0, 2.0]}, TOY)
    assert list(s) == ["order"]
    np.testing.assert_allclose(s["order"], [0.0, 1.0])
    total = violation_score({"log_a": 3.0, "log_b": 2.0, "x": 100.0, "cap": 10.0}, TOY)
    np.testing.assert_allclose(total, [2.0])  # 1 dex each
    assert TOY.inputs == {"order": ("log_a", "log_b"), "cap": ("x", "cap")}


def test_projection_moves_only_free_properties_and_never_observations():
    p = {"log_a": np.array([3.0, 0.0]), "log_b": np.array([2.0, 2.0]), "label": [1, 2]}
    p["x"], p["cap"] = np.array([100.0, 1.0]), np.array([10.0, 10.0])
    res = project(p, TOY, tolerance=1e-3, fixed=["log_b"])
    assert res.converged
    assert res.moved == ("log_a", "x")
    np.testing.assert_array_equal(res.properties["log_b"], p["log_b"])
    np.testing.assert_array_equal(res.properties["cap"], p["cap"])
    assert res.properties["log_a"][0] <= 2.0 + 1e-3
    # x is moved in log10: it ends just below the cap, positive
    assert 0 < res.properties["x"][0] <= 10.0 * 10**1e-3
    for k in ("log_a", "x"):  # the physical widget 1 keeps its exact values
        assert res.properties[k][1] == p[k][1]


def test_refusal_names_the_constraint_and_uses_the_noun():
    p = {"log_a": [0.0, 3.0], "log_b": [2.0, 2.0]}
    with pytest.raises(PhysicsViolationError, match=r"widget 1 .*order") as info:
        check(p, TOY, tolerance=0.5)
    assert info.value.score == pytest.approx(1.0)
    with pytest.raises(PhysicsViolationError, match="widget 1") as info:
        enforce(p, TOY, fixed=["log_a", "log_b"], tolerance=0.5)
    assert info.value.tolerance == 0.5


def test_penalty_is_a_differentiable_mean_of_squares():
    p = {"log_a": torch.tensor([3.0, 0.0], requires_grad=True), "log_b": torch.tensor([2.0, 2.0])}
    pen = penalty(p, TOY)
    assert pen.item() == pytest.approx((1.0**2 + 0.0) / 2)
    pen.backward()
    np.testing.assert_allclose(p["log_a"].grad.numpy(), [1.0, 0.0])
    assert float(penalty({"log_a": [3.0], "log_b": [2.0]}, TOY)) == pytest.approx(1.0)


def test_defaults_are_the_settings_defaults_and_settings_are_not_read(monkeypatch):
    assert DEFAULT_TOLERANCE == Settings.model_fields["PHYSICS_TOLERANCE"].default == 0.05
    assert DEFAULT_STEPS == Settings.model_fields["PHYSICS_STEPS"].default == 50
    monkeypatch.setenv("PHYSICS_STEPS", "0")  # library code takes arguments, not the env
    res = project({"log_a": [3.0], "log_b": [2.0]}, TOY)
    assert res.steps > 0
    assert res.converged
    assert res.tolerance == DEFAULT_TOLERANCE


def test_bad_input_is_typed():
    with pytest.raises(InputValidationError, match="ConstraintSet"):
        violation_scores({"log_a": [1.0]}, {"order": _order})
    with pytest.raises(UnknownNameError, match="log_c"):
        violation_scores({"log_c": [1.0]}, TOY)
    with pytest.raises(ShapeError):
        violation_scores({"log_a": np.zeros(3), "log_b": np.zeros(2)}, TOY)
    with pytest.raises(InputValidationError, match="no physics constraint"):
        violation_scores({"log_a": [1.0]}, TOY)
    with pytest.raises(UnknownNameError, match="cap"):
        project({"log_a": [1.0], "log_b": [2.0]}, TOY, fixed=["cap"])
    with pytest.raises(InputValidationError, match="steps"):
        project({"log_a": [1.0], "log_b": [2.0]}, TOY, steps=-1)
    with pytest.raises(InputValidationError, match="tolerance"):
        check({"log_a": [1.0], "log_b": [2.0]}, TOY, tolerance=None)
