"""Regression tests of issue 21: the caller's index survives counterfactuals and
propagation, and PC's required edges are present (or refused), not silently dropped."""

import numpy as np
import pandas as pd
import pytest

from acie.causal import pc_discover
from acie.errors import InputValidationError


def test_counterfactual_keeps_the_callers_index(linear_scm):
    d = linear_scm.sample(200, seed=3)
    part = d.iloc[100:110]
    cf = linear_scm.counterfactual(part, {"y": 2.0})
    assert list(cf.index) == list(part.index)
    diff = cf["z"] - part["z"]  # aligned on the index: no NaN
    assert not diff.isna().any()
    np.testing.assert_allclose(diff, 0.7 * (2.0 - part["y"]), atol=1e-12)


def test_propagate_and_abduct_keep_the_callers_index(linear_scm):
    noise = linear_scm.sample_noise(20, seed=4)
    noise.index = pd.RangeIndex(1000, 1020)
    out = linear_scm.propagate(noise)
    assert list(out.index) == list(noise.index)
    back = linear_scm.abduct(out)
    assert list(back.index) == list(noise.index)
    np.testing.assert_allclose(back.to_numpy(), noise[list(back.columns)].to_numpy(), atol=1e-12)


def _collider(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    return pd.DataFrame({"a": a, "b": b, "c": a + b + 0.5 * rng.normal(size=n)})


def test_pc_required_edge_is_present():
    df = _collider()
    plain = pc_discover(df)
    assert frozenset(("a", "b")) not in plain.skeleton()
    res = pc_discover(df, required=[("a", "b")])
    assert ("a", "b") in res.directed
    assert ("b", "a") not in res.directed
    # the rest of the graph is still the data's: c's parents are a and b
    assert ("a", "c") in res.directed
    assert ("b", "c") in res.directed


def test_pc_required_and_forbidden_same_edge_is_refused():
    with pytest.raises(InputValidationError, match="both required and forbidden"):
        pc_discover(_collider(300), required=[("a", "b")], forbidden=[("a", "b")])


def test_pc_required_edges_forming_a_cycle_are_refused():
    with pytest.raises(InputValidationError, match="cycle"):
        pc_discover(_collider(300), required=[("a", "b"), ("b", "a")])
