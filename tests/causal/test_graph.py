"""CausalDAG: validation, surgery, d-separation."""

import networkx as nx
import pytest

from acie.causal import CausalDAG
from acie.errors import CycleError, GraphError, UnknownNodeError


def test_cycle_is_an_error_naming_the_cycle():
    with pytest.raises(CycleError) as info:
        CausalDAG(edges=[("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")])
    assert set(info.value.cycle) == {"a", "b", "c"}
    assert "->" in str(info.value)
    assert "a" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_self_loop_is_a_cycle():
    with pytest.raises(CycleError):
        CausalDAG(edges=[("a", "a")])


def test_malformed_edge():
    with pytest.raises(GraphError, match="pair"):
        CausalDAG(edges=[("a", "b", "c")])


def test_topological_order_and_relatives():
    g = CausalDAG(edges=[("h", "m"), ("m", "l"), ("h", "l")], nodes=["h", "m", "l", "iso"])
    order = g.nodes
    assert order.index("h") < order.index("m") < order.index("l")
    assert g.parents("l") == ("h", "m")
    assert g.children("h") == ("m", "l")
    assert g.descendants("h") == {"m", "l"}
    assert g.ancestors("l") == {"h", "m"}
    assert "iso" in g
    assert len(g) == 4


def test_unknown_node_lists_known_nodes():
    g = CausalDAG(edges=[("a", "b")])
    with pytest.raises(UnknownNodeError) as info:
        g.do(["z"])
    assert info.value.known == ["a", "b"]
    assert "a, b" in str(info.value)
    assert isinstance(info.value, LookupError)


def test_do_removes_incoming_edges_only():
    g = CausalDAG(edges=[("a", "b"), ("b", "c"), ("a", "c")])
    m = g.do(["b"])
    assert set(m.edges) == {("b", "c"), ("a", "c")}
    assert set(m.nodes) == set(g.nodes)
    assert set(g.edges) == {("a", "b"), ("b", "c"), ("a", "c")}  # original untouched


def test_d_separation_chain_fork_collider():
    chain = CausalDAG(edges=[("x", "m"), ("m", "y")])
    assert not chain.is_d_separated({"x"}, {"y"})
    assert chain.is_d_separated({"x"}, {"y"}, {"m"})
    collider = CausalDAG(edges=[("x", "c"), ("y", "c"), ("c", "d")])
    assert collider.is_d_separated({"x"}, {"y"})
    assert not collider.is_d_separated({"x"}, {"y"}, {"c"})
    assert not collider.is_d_separated({"x"}, {"y"}, {"d"})  # descendant of a collider


def test_networkx_round_trip():
    g = CausalDAG(edges=[("a", "b"), ("b", "c")])
    assert CausalDAG.from_networkx(g.to_networkx()) == g
    with pytest.raises(CycleError):
        CausalDAG.from_networkx(nx.DiGraph([(1, 2), (2, 1)]))
    with pytest.raises(GraphError):
        CausalDAG.from_networkx("not a graph")
