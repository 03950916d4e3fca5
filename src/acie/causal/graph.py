r"""Causal DAGs on networkx: validation, graph surgery and d-separation.

A :class:`CausalDAG` is an immutable view of a :class:`networkx.DiGraph` whose
acyclicity has been checked. Graph surgery (:meth:`CausalDAG.do`) returns a new
graph with the incoming edges of the intervened nodes removed, as in Pearl's
mutilated graph :math:`G_{\overline{X}}`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import networkx as nx

from acie.errors import CycleError, GraphError, UnknownNodeError, expected_got

__all__ = ["CausalDAG"]

# Nodes are variable names: the SCM's mechanism keys and the data's column names.
Node = str


class CausalDAG:
    """A directed acyclic graph over named variables.

    Parameters
    ----------
    edges : iterable of (node, node)
        Directed edges ``(cause, effect)``.
    nodes : iterable of node, optional
        Extra nodes without edges (and the node order; edge endpoints not listed
        here are appended in order of appearance).

    Raises
    ------
    acie.errors.CycleError
        If the edges contain a directed cycle; the message names the cycle.
    acie.errors.GraphError
        If an edge is a self-loop or is not a pair.

    Examples
    --------
    >>> g = CausalDAG(edges=[("halo_mass", "stellar_mass"), ("stellar_mass", "luminosity")])
    >>> g.parents("luminosity")
    ('stellar_mass',)
    """

    __slots__ = ("_g", "_order")

    def __init__(
        self, *, edges: Iterable[tuple[Node, Node]] = (), nodes: Iterable[Node] = ()
    ) -> None:
        g = nx.DiGraph()
        g.add_nodes_from(nodes)
        for edge in edges:
            if not isinstance(edge, tuple | list) or len(edge) != 2:
                raise GraphError(expected_got("an edge", "a (cause, effect) pair", edge))
            u, v = edge
            if u == v:
                raise CycleError([u])
            g.add_edge(u, v)
        try:
            cycle = nx.find_cycle(g, orientation="original")
        except nx.NetworkXNoCycle:
            cycle = None
        if cycle is not None:
            raise CycleError([u for u, _v, _d in cycle])
        self._g = nx.freeze(g)
        # stable topological order: ties broken by the order in which nodes were given
        rank = {node: i for i, node in enumerate(g.nodes)}
        self._order = tuple(nx.lexicographical_topological_sort(g, key=rank.__getitem__))

    # ---- construction -------------------------------------------------------------
    @classmethod
    def from_networkx(cls, graph: nx.DiGraph) -> CausalDAG:
        """Build from a :class:`networkx.DiGraph` (validated for acyclicity)."""
        if not isinstance(graph, nx.DiGraph):
            raise GraphError(expected_got("graph", "a networkx.DiGraph", type(graph).__name__))
        return cls(edges=list(graph.edges), nodes=list(graph.nodes))

    @classmethod
    def from_parents(cls, parents: Mapping[Node, Iterable[Node]]) -> CausalDAG:
        """Build from a mapping ``node -> parents``."""
        nodes = list(parents)
        edges = [(p, child) for child, ps in parents.items() for p in ps]
        return cls(edges=edges, nodes=nodes)

    def to_networkx(self) -> nx.DiGraph:
        """Return a mutable copy as a :class:`networkx.DiGraph`."""
        return nx.DiGraph(self._g)

    # ---- queries ------------------------------------------------------------------
    @property
    def nodes(self) -> tuple[Node, ...]:
        """Nodes in a topological order (causes before effects)."""
        return self._order

    @property
    def edges(self) -> tuple[tuple[Node, Node], ...]:
        """Directed edges ``(cause, effect)``."""
        return tuple(self._g.edges)

    def __contains__(self, node: object) -> bool:
        return node in self._g

    def __len__(self) -> int:
        return self._g.number_of_nodes()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CausalDAG):
            return NotImplemented
        return set(self._g.nodes) == set(other._g.nodes) and set(self._g.edges) == set(
            other._g.edges
        )

    def __hash__(self) -> int:
        return hash((frozenset(self._g.nodes), frozenset(self._g.edges)))

    def __repr__(self) -> str:
        edges = ", ".join(f"{u}->{v}" for u, v in self.edges)
        return f"CausalDAG({edges or ', '.join(map(str, self.nodes))})"

    def check_nodes(self, nodes: Iterable[object]) -> None:
        """Raise :class:`~acie.errors.UnknownNodeError` for the first unknown node."""
        for node in nodes:
            if node not in self._g:
                raise UnknownNodeError(node, list(self._order))

    def parents(self, node: Node) -> tuple[Node, ...]:
        """Direct causes of ``node`` in topological order."""
        self.check_nodes([node])
        ps = set(self._g.predecessors(node))
        return tuple(n for n in self._order if n in ps)

    def children(self, node: Node) -> tuple[Node, ...]:
        """Direct effects of ``node`` in topological order."""
        self.check_nodes([node])
        cs = set(self._g.successors(node))
        return tuple(n for n in self._order if n in cs)

    def ancestors(self, node: Node) -> frozenset[Node]:
        """All nodes with a directed path into ``node`` (excluding it)."""
        self.check_nodes([node])
        return frozenset(nx.ancestors(self._g, node))

    def descendants(self, node: Node) -> frozenset[Node]:
        """All nodes reachable from ``node`` by a directed path (excluding it)."""
        self.check_nodes([node])
        return frozenset(nx.descendants(self._g, node))

    def is_d_separated(self, x: Iterable[Node], y: Iterable[Node], z: Iterable[Node] = ()) -> bool:
        """Whether node sets ``x`` and ``y`` are d-separated given ``z``."""
        x, y, z = set(x), set(y), set(z)
        self.check_nodes([*x, *y, *z])
        return nx.is_d_separator(self._g, x, y, z)

    # ---- surgery ------------------------------------------------------------------
    def do(self, nodes: Iterable[Node]) -> CausalDAG:
        """Return the mutilated graph: every incoming edge of ``nodes`` removed.

        Raises
        ------
        acie.errors.UnknownNodeError
            If a node is not in the graph; the message lists the known nodes.
        """
        targets = set(nodes)
        self.check_nodes(targets)
        kept = [(u, v) for u, v in self._g.edges if v not in targets]
        return CausalDAG(edges=kept, nodes=self._order)

    def remove_outgoing(self, nodes: Iterable[Node]) -> CausalDAG:
        r"""Return the graph with every outgoing edge of ``nodes`` removed (:math:`G_{\underline{X}}`)."""
        targets = set(nodes)
        self.check_nodes(targets)
        kept = [(u, v) for u, v in self._g.edges if u not in targets]
        return CausalDAG(edges=kept, nodes=self._order)
