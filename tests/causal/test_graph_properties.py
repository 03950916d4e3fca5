"""Property tests (hypothesis) for graph surgery on random DAGs and SCMs."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from acie.causal import CausalDAG, LinearMechanism, StructuralCausalModel


@st.composite
def dags_and_targets(draw):
    n = draw(st.integers(2, 8))
    names = [f"v{i}" for i in range(n)]
    # edges only from lower to higher index: acyclic by construction
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    chosen = (
        draw(st.lists(st.sampled_from(pairs), unique=True, max_size=len(pairs))) if pairs else []
    )
    edges = [(names[i], names[j]) for i, j in chosen]
    targets = draw(st.sets(st.sampled_from(names), min_size=1, max_size=n))
    coefs = {e: draw(st.floats(-2, 2, allow_nan=False)) for e in edges}
    return names, edges, targets, coefs


@settings(max_examples=60, deadline=None)
@given(dags_and_targets())
def test_do_removes_exactly_the_incoming_edges(case):
    names, edges, targets, _ = case
    g = CausalDAG(edges=edges, nodes=names)
    m = g.do(targets)
    assert set(m.nodes) == set(g.nodes)
    assert set(m.edges) == {(u, v) for u, v in edges if v not in targets}
    for t in targets:
        assert m.parents(t) == ()
        assert set(m.children(t)) == set(g.children(t)) - targets  # outgoing edges kept


@settings(max_examples=40, deadline=None)
@given(dags_and_targets(), st.floats(-3, 3, allow_nan=False))
def test_non_descendants_unchanged_by_do(case, value):
    names, edges, targets, coefs = case
    mechanisms = {}
    for node in names:
        mechanisms[node] = LinearMechanism(
            coefficients={u: coefs[(u, v)] for u, v in edges if v == node}, intercept=0.1
        )
    scm = StructuralCausalModel(mechanisms=mechanisms, noise={n: stats.norm() for n in names})
    base = scm.sample(64, seed=0)
    after = scm.do(dict.fromkeys(targets, value)).sample(64, seed=0)
    affected = set(targets).union(*(scm.graph.descendants(t) for t in targets))
    for node in names:
        if node not in affected:
            # same noise, same mechanism, same parents: identical values, hence the
            # same distribution
            np.testing.assert_array_equal(base[node], after[node])
    for t in targets:
        assert np.all(after[t] == value)


@settings(max_examples=40, deadline=None)
@given(dags_and_targets())
def test_intervened_nodes_are_d_separated_from_their_former_parents(case):
    names, edges, targets, _ = case
    m = CausalDAG(edges=edges, nodes=names).do(targets)
    for t in targets:
        non_desc = set(names) - m.descendants(t) - {t}
        if non_desc:
            # no parents left: independent of all non-descendants (local Markov property)
            assert m.is_d_separated({t}, non_desc)
