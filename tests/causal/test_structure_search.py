"""GES and FCI through causal-learn, with pc_discover's background-knowledge interface."""

import numpy as np
import pandas as pd
import pytest

from acie.causal.structure_search import fci_discover, ges_discover
from acie.errors import GraphError, InputValidationError, UnknownNodeError


@pytest.fixture(scope="module")
def collider():
    # x1 -> x3 <- x2, x3 -> x4: GES's CPDAG orients every edge
    rng = np.random.default_rng(0)
    n = 2000
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    x3 = x1 + x2 + rng.normal(size=n)
    x4 = 0.7 * x3 + rng.normal(size=n)
    return pd.DataFrame({"x1": x1, "x2": x2, "x3": x3, "x4": x4})


@pytest.fixture(scope="module")
def hidden_confounder():
    # a -> b <- L -> c <- d with L unobserved: FCI must find b <-> c (Zhang 2008, Fig. 1)
    rng = np.random.default_rng(1)
    n = 3000
    a, d, hidden = rng.normal(size=n), rng.normal(size=n), rng.normal(size=n)
    b = 0.8 * a + 0.9 * hidden + rng.normal(size=n)
    c = 0.8 * d + 0.9 * hidden + rng.normal(size=n)
    return pd.DataFrame({"a": a, "b": b, "c": c, "d": d})


def test_ges_recovers_the_collider_as_causal_learn_does(collider):
    from causallearn.search.ScoreBased.GES import ges

    res = ges_discover(collider)
    assert set(res.directed) == {("x1", "x3"), ("x2", "x3"), ("x3", "x4")}
    assert not res.undirected
    assert not res.conflicts
    direct = ges(collider.to_numpy(), score_func="local_score_BIC")["G"].graph
    g = np.asarray(direct)
    names = list(collider.columns)
    theirs = {
        (names[i], names[j]) for i in range(4) for j in range(4) if g[j, i] == 1 and g[i, j] == -1
    }
    assert theirs == set(res.directed)
    assert res.to_dag().edges
    assert res.to_dict()["algorithm"] == "GES"


def test_ges_background_knowledge(collider):
    chain = collider[["x3", "x4"]].assign(x5=collider["x4"] * 0.5 + collider["x1"])
    # a forbidden direction orients an edge GES left undirected
    free = ges_discover(collider[["x3", "x4"]])
    assert free.undirected
    assert not free.directed
    oriented = ges_discover(collider[["x3", "x4"]], forbidden=[("x4", "x3")])
    assert oriented.directed == (("x3", "x4"),)
    # a compelled edge against the tiers is reported, not flipped
    res = ges_discover(collider, tiers=[["x4"], ["x1", "x2", "x3"]])
    assert res.conflicts == (("x3", "x4"),)
    with pytest.raises(GraphError):
        res.to_dag()
    # required edges are present and point cause -> effect, even between independent nodes
    req = ges_discover(collider, required=[("x1", "x2")])
    assert ("x1", "x2") in req.directed
    with pytest.raises(UnknownNodeError):
        ges_discover(chain, required=[("x1", "nope")])
    with pytest.raises(InputValidationError):
        ges_discover(collider, score="aic")


def test_fci_finds_the_hidden_confounder_as_causal_learn_does(hidden_confounder):
    from causallearn.search.ConstraintBased.FCI import fci

    res = fci_discover(hidden_confounder)
    assert res.bidirected == [("b", "c")]
    assert res.skeleton() == {frozenset(p) for p in [("a", "b"), ("b", "c"), ("c", "d")]}
    text = {str(e) for e in res.edges}
    assert text == {"a o-> b", "b <-> c", "d o-> c"}
    g, _ = fci(hidden_confounder.to_numpy(), show_progress=False)
    m = np.asarray(g.graph)
    names = list(hidden_confounder.columns)
    for e in res.edges:
        i, j = names.index(e.a), names.index(e.b)
        assert {-1: "tail", 1: "arrow", 2: "circle"}[int(m[i, j])] == e.mark_a
        assert {-1: "tail", 1: "arrow", 2: "circle"}[int(m[j, i])] == e.mark_b


def test_fci_background_knowledge(hidden_confounder, capsys):
    res = fci_discover(hidden_confounder, tiers=[["a", "d"], ["b", "c"]], required=[("a", "d")])
    assert capsys.readouterr().out == ""  # causal-learn's prints are kept off stdout
    assert ("a", "d") in res.directed
    assert ("b", "c") in res.bidirected
    # the first tier cannot be caused by the second: a's mark on a - b is not an arrow
    ab = next(e for e in res.edges if {e.a, e.b} == {"a", "b"})
    assert (ab.mark_a if ab.a == "a" else ab.mark_b) != "arrow"
    with pytest.raises(InputValidationError):
        fci_discover(hidden_confounder, alpha=2.0)
    with pytest.raises(InputValidationError):
        fci_discover(hidden_confounder, required=[("a", "b")], forbidden=[("a", "b")])
