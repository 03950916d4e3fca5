"""The ID algorithm on textbook graphs: formulas checked numerically against the truth.

Each graph is turned into a binary model with hidden variables for its bidirected edges
and random (seeded) conditional probability tables; the true P(y | do(x)) is computed by
enumerating the mutilated model, and the identified formula is evaluated on the observed
marginal. y0 (the maintained Python library) is the peer on the back-door, front-door and
bow-arc graphs; on the napkin y0 0.2.11 answers P(Y | X), which the truth refutes.
"""

import itertools

import numpy as np
import pytest

from acie.causal.estimand import Prob, evaluate
from acie.causal.id_algorithm import ADMG, identify_effect
from acie.errors import CycleError, IdentificationError, UnknownNodeError

GRAPHS = {
    "backdoor": ([("Z", "X"), ("Z", "Y"), ("X", "Y")], []),
    "frontdoor": ([("X", "M"), ("M", "Y")], [("X", "Y")]),
    # Pearl & Mackenzie (2018), p. 240; Shpitser & Pearl (2006): W1 -> W2 -> X -> Y,
    # W1 <-> X, W1 <-> Y
    "napkin": ([("W1", "W2"), ("W2", "X"), ("X", "Y")], [("W1", "X"), ("W1", "Y")]),
    "bow_arc": ([("X", "Y")], [("X", "Y")]),
    # a bow arc on the way: P(z | do(x)) is not identifiable, so neither is P(y | do(x))
    "bow_chain": ([("X", "Z"), ("Z", "Y")], [("X", "Z")]),
    "m_bias_hidden": ([("X", "Y"), ("A", "X"), ("A", "M"), ("B", "M"), ("B", "Y")], []),
}


def _model(directed, bidirected, seed):
    """Observed nodes, their parents (observed and hidden), CPTs; one hidden bit per <->."""
    rng = np.random.default_rng(seed)
    graph = ADMG.from_edges(directed, bidirected)
    hidden = [f"U{i}" for i in range(len(bidirected))]
    parents = {n: [a for a, b in directed if b == n] for n in graph.nodes}
    for u, (a, b) in zip(hidden, bidirected, strict=True):
        parents[a].append(u)
        parents[b].append(u)
    # strong dependence so that wrong formulas differ visibly from right ones
    cpt = {n: rng.uniform(0.05, 0.95, size=2 ** len(parents[n])) for n in graph.nodes}
    return graph, hidden, parents, cpt


def _joint(graph, hidden, parents, cpt, do=None):
    """P(observed) (or under do) as an array with one axis per observed node."""
    do = do or {}
    names = list(graph.nodes)
    out = np.zeros([2] * len(names))
    for hv in itertools.product((0, 1), repeat=len(hidden)):
        val = dict(zip(hidden, hv, strict=True))
        p_h = 0.5 ** len(hidden)
        for ov in itertools.product((0, 1), repeat=len(names)):
            val.update(zip(names, ov, strict=True))
            pr = p_h
            for n in names:
                if n in do:
                    pr *= float(val[n] == do[n])
                    continue
                idx = int("".join(str(val[p]) for p in parents[n]) or "0", 2)
                p1 = cpt[n][idx]
                pr *= p1 if val[n] == 1 else 1 - p1
            out[ov] += pr
    return out


@pytest.mark.parametrize("name", ["backdoor", "frontdoor", "napkin", "m_bias_hidden"])
def test_identified_formula_equals_the_interventional_truth(name):
    directed, bidirected = GRAPHS[name]
    for seed in range(3):
        graph, hidden, parents, cpt = _model(directed, bidirected, seed)
        expr = identify_effect(graph, "X", "Y")
        obs = _joint(graph, hidden, parents, cpt)
        names = list(graph.nodes)
        for x in (0, 1):
            truth = _joint(graph, hidden, parents, cpt, do={"X": x})
            p_true = truth.sum(axis=tuple(i for i, n in enumerate(names) if n != "Y"))[1]
            got = evaluate(expr, obs, names, {"X": x, "Y": 1})
            assert got == pytest.approx(p_true, abs=1e-12), (name, str(expr))


def test_napkin_formula_and_y0_disagreement():
    from y0.algorithm.identify import identify_outcomes
    from y0.dsl import Variable
    from y0.graph import NxMixedGraph

    directed, bidirected = GRAPHS["napkin"]
    graph, hidden, parents, _ = _model(directed, bidirected, 0)
    # strong confounding along X <- W2 <- W1 <- U1 -> Y (parents: observed, then U0, U1;
    # a CPT entry is indexed by the parents' bits read as a binary number)
    cpt = {
        "W1": np.array([0.1, 0.9, 0.1, 0.9]),  # follows U1
        "W2": np.array([0.1, 0.9]),  # follows W1
        "X": np.array([0.1, 0.1, 0.9, 0.9]),  # follows W2
        "Y": np.array([0.1, 0.5, 0.5, 0.9]),  # X and U1 add
    }
    assert parents["X"] == ["W2", "U0"]
    assert parents["Y"] == ["X", "U1"]
    expr = identify_effect(graph, "X", "Y")
    assert expr != Prob(frozenset({"Y"}), frozenset({"X"}))
    theirs = identify_outcomes(
        NxMixedGraph.from_edges(directed=directed, undirected=bidirected),
        treatments={Variable("X")},
        outcomes={Variable("Y")},
    )
    assert str(theirs) == "P(Y | X)"  # y0 0.2.11's answer
    obs = _joint(graph, hidden, parents, cpt)
    names = list(graph.nodes)
    truth = _joint(graph, hidden, parents, cpt, do={"X": 1})
    p_true = truth.sum(axis=tuple(i for i, n in enumerate(names) if n != "Y"))[1]
    y0_value = evaluate(Prob(frozenset({"Y"}), frozenset({"X"})), obs, names, {"X": 1, "Y": 1})
    assert abs(y0_value - p_true) > 1e-2  # y0's formula is refuted by the model
    assert evaluate(expr, obs, names, {"X": 1, "Y": 1}) == pytest.approx(p_true, abs=1e-12)


@pytest.mark.parametrize("name", ["backdoor", "frontdoor", "bow_arc"])
def test_agrees_with_y0_on_identifiability_and_value(name):
    from y0.algorithm.identify import identify_outcomes
    from y0.dsl import Variable
    from y0.graph import NxMixedGraph

    directed, bidirected = GRAPHS[name]
    theirs = identify_outcomes(
        NxMixedGraph.from_edges(directed=directed, undirected=bidirected),
        treatments={Variable("X")},
        outcomes={Variable("Y")},
    )
    graph = ADMG.from_edges(directed, bidirected)
    if theirs is None:
        with pytest.raises(IdentificationError, match="hedge"):
            identify_effect(graph, "X", "Y")
        return
    ours = identify_effect(graph, "X", "Y")
    assert "P(" in str(ours)
    assert ours.latex().count("P(") >= 1


def test_textbook_formulas_print_as_expected():
    back = identify_effect(ADMG.from_edges(*GRAPHS["backdoor"]), "X", "Y")
    assert str(back) == "sum_{Z} P(Z) P(Y | X, Z)"
    front = identify_effect(ADMG.from_edges(*GRAPHS["frontdoor"]), "X", "Y")
    # Pearl's front-door formula: sum_m P(m | x) sum_x' P(y | x', m) P(x')
    assert str(front) == "sum_{M} P(M | X) [sum_{X} P(X) P(Y | M, X)]"
    assert "\\sum_{M}" in front.latex()


def test_bad_graphs_and_names():
    with pytest.raises(CycleError):
        ADMG.from_edges([("a", "b"), ("b", "a")])
    g = ADMG.from_edges(*GRAPHS["backdoor"])
    with pytest.raises(UnknownNodeError):
        identify_effect(g, "X", "nope")
    with pytest.raises(IdentificationError, match="not identifiable"):
        identify_effect(ADMG.from_edges(*GRAPHS["bow_chain"]), "X", "Y")
