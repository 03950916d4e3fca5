"""PC discovery through causal-learn, with background knowledge."""

import numpy as np
import pandas as pd
import pytest

from acie.causal import CausalDAG, PCResult, galaxy_scm, pc_discover
from acie.errors import GraphError, InputValidationError, UnknownNodeError


def _collider(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = rng.normal(size=n)
    z = x + y + rng.normal(scale=0.5, size=n)
    w = 0.8 * z + rng.normal(scale=0.5, size=n)
    return pd.DataFrame({"x": x, "y": y, "z": z, "w": w})


def _chain(n=2000, seed=1):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    b = a + rng.normal(size=n)
    c = b + rng.normal(size=n)
    return pd.DataFrame({"a": a, "b": b, "c": c})


def test_v_structure_and_meek_orientation():
    r = pc_discover(_collider(), alpha=0.01)
    assert set(r.directed) == {("x", "z"), ("y", "z"), ("z", "w")}
    assert r.is_fully_oriented
    assert r.to_dag() == CausalDAG(edges=[("x", "z"), ("y", "z"), ("z", "w")])


def test_chain_is_unoriented_without_background_knowledge():
    r = pc_discover(_chain(), alpha=0.01)
    assert r.skeleton() == {frozenset("ab"), frozenset("bc")}
    assert not r.directed
    assert len(r.undirected) == 2
    dag = r.to_dag()  # a member of the equivalence class: no new v-structure at b
    assert len(dag.edges) == 2
    assert set(dag.parents("b")) != {"a", "c"}


def test_required_edge_orients_the_chain():
    r = pc_discover(_chain(), alpha=0.01, required=[("a", "b")])
    assert set(r.directed) == {("a", "b"), ("b", "c")}


def test_forbidden_edge_and_tiers():
    r = pc_discover(_chain(), alpha=0.01, forbidden=[("b", "a")])
    assert ("a", "b") in r.directed
    r = pc_discover(_chain(), alpha=0.01, tiers=[["c"], ["b"], ["a"]])
    assert set(r.directed) == {("c", "b"), ("b", "a")}


def test_galaxy_graph_recovered_with_tiers():
    # PC is a statistical procedure: over seeds 0-9 at n = 5000 it recovered this graph
    # exactly 8 times and was one edge off twice (measured; 4/10 exact at n = 3000).
    # The seed is fixed, so this test is deterministic.
    scm = galaxy_scm()
    r = pc_discover(
        scm.sample(5000, seed=0),
        alpha=0.01,
        tiers=[
            ["log_halo_mass"],
            ["merger", "log_stellar_mass"],
            ["log_sfr"],
            ["abs_mag_r", "colour_gr"],
        ],
    )
    assert r.to_dag() == scm.graph


def test_to_dag_refuses_conflicts():
    r = PCResult(
        nodes=("a", "b"),
        directed=(),
        undirected=(),
        bidirected=(("a", "b"),),
        alpha=0.05,
        test="fisherz",
    )
    with pytest.raises(GraphError, match="bidirected"):
        r.to_dag()
    assert r.to_dict()["bidirected"] == [["a", "b"]]


def test_input_errors():
    df = _chain(n=50)
    with pytest.raises(UnknownNodeError):
        pc_discover(df, required=[("a", "q")])
    with pytest.raises(UnknownNodeError):
        pc_discover(df, tiers=[["q"]])
    with pytest.raises(InputValidationError, match="alpha"):
        pc_discover(df, alpha=1.5)
    with pytest.raises(InputValidationError, match="test"):
        pc_discover(df, test="magic")
    with pytest.raises(InputValidationError, match="numeric"):
        pc_discover(df.assign(a=["u"] * 50))
    with pytest.raises(InputValidationError, match="finite"):
        pc_discover(df.assign(a=np.nan))
    with pytest.raises(InputValidationError, match="pair"):
        pc_discover(df, forbidden=[("a",)])
