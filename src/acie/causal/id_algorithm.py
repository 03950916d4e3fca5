"""General identification of P(y | do(x)) by the ID algorithm, returning the estimand.

Shpitser & Pearl, "Identification of joint interventional distributions in recursive
semi-Markovian causal models", AAAI 2006 (Fig. 3; complete: a failure is a proof of
non-identifiability, witnessed by a hedge). The graph is an acyclic directed mixed graph
(ADMG): directed edges between observed variables and bidirected edges ``a <-> b`` for
hidden common causes. The result is a symbolic :class:`~acie.causal.estimand.Expr` over
the observational distribution (text, LaTeX, and numeric evaluation from a joint table).

Why not y0: y0 0.2.11 (the maintained Python implementation) returns ``P(Y | X)`` for
the napkin graph, which is wrong (its lines 6–7 build the conditionals from the
observational P instead of the recursion's current distribution); Ananke pins
numpy < 2 and pandas 1.5. ``tests/causal/test_id.py`` checks this implementation against
y0 where y0 is right (back-door, front-door, bow arc) and every formula numerically
against the interventional truth of discrete models with hidden variables.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import networkx as nx

from acie.causal.estimand import Expr, Prob, Ratio, make_product, make_sum
from acie.errors import (
    CycleError,
    IdentificationError,
    InputValidationError,
    UnknownNodeError,
    expected_got,
)

__all__ = ["ADMG", "identify_effect"]


@dataclass(frozen=True)
class ADMG:
    """An acyclic directed mixed graph over observed variables.

    Parameters
    ----------
    directed : tuple of (str, str)
        Edges ``cause -> effect``.
    bidirected : tuple of (str, str)
        Pairs with a hidden common cause.
    nodes : tuple of str
        All nodes (those without edges included), in a topological order.
    """

    directed: tuple[tuple[str, str], ...]
    bidirected: tuple[tuple[str, str], ...]
    nodes: tuple[str, ...]

    @classmethod
    def from_edges(
        cls,
        directed: Iterable[tuple[str, str]],
        bidirected: Iterable[tuple[str, str]] = (),
        nodes: Iterable[str] = (),
    ) -> ADMG:
        """Build and check the graph (acyclic, no self-loops).

        Raises
        ------
        acie.errors.CycleError
            If the directed part has a cycle.
        """
        d = [(str(a), str(b)) for a, b in directed]
        b = [(str(a), str(c)) for a, c in bidirected]
        g = nx.DiGraph()
        g.add_nodes_from(map(str, nodes))
        g.add_edges_from(d)
        for a, c in b:
            if a == c:
                raise InputValidationError(expected_got("a bidirected edge", "two nodes", (a, c)))
            g.add_nodes_from((a, c))
        if any(a == c for a, c in d):
            raise InputValidationError(expected_got("directed edges", "no self-loops", d))
        if not nx.is_directed_acyclic_graph(g):
            raise CycleError([u for u, _ in nx.find_cycle(g)])
        order = tuple(nx.lexicographical_topological_sort(g))
        return cls(tuple(d), tuple(b), order)

    def _sub(self, keep: frozenset[str]) -> ADMG:
        return ADMG(
            tuple(e for e in self.directed if e[0] in keep and e[1] in keep),
            tuple(e for e in self.bidirected if e[0] in keep and e[1] in keep),
            tuple(n for n in self.nodes if n in keep),
        )

    def ancestors(
        self, of: frozenset[str], cut_into: frozenset[str] = frozenset()
    ) -> frozenset[str]:
        """Ancestors of ``of`` (inclusive), ignoring edges into ``cut_into``."""
        parents: dict[str, set[str]] = {n: set() for n in self.nodes}
        for a, b in self.directed:
            if b not in cut_into:
                parents[b].add(a)
        seen, stack = set(of), list(of)
        while stack:
            for p in parents[stack.pop()]:
                if p not in seen:
                    seen.add(p)
                    stack.append(p)
        return frozenset(seen)

    def districts(self) -> list[frozenset[str]]:
        """The c-components: connected components of the bidirected part."""
        g = nx.Graph()
        g.add_nodes_from(self.nodes)
        g.add_edges_from(self.bidirected)
        return [frozenset(c) for c in nx.connected_components(g)]


@dataclass(frozen=True)
class _Dist:
    """The recursion's current distribution over ``vars``.

    ``factors`` (a chain rule in the global topological order) when known: then the
    conditional of a variable given its predecessors is its factor, and a marginal over a
    prefix is the product of the prefix's factors; otherwise ratios of sums of ``expr``.
    """

    vars: tuple[str, ...]
    expr: Expr
    factors: tuple[Expr, ...] | None = None
    observational: bool = False

    def conditional(self, v: str, given: frozenset[str]) -> Expr:
        if self.observational:
            return Prob(frozenset({v}), given)
        i = self.vars.index(v)
        if self.factors is not None and given == frozenset(self.vars[:i]):
            return self.factors[i]
        rest = frozenset(self.vars) - given
        return Ratio(make_sum(rest - {v}, self.expr), make_sum(rest, self.expr))

    def marginal(self, keep: frozenset[str]) -> _Dist:
        kept = tuple(n for n in self.vars if n in keep)
        if self.observational:
            return _Dist(kept, Prob(frozenset(kept)), observational=True)
        if self.factors is not None and kept == self.vars[: len(kept)]:
            fs = self.factors[: len(kept)]
            return _Dist(kept, make_product(fs), fs)
        return _Dist(kept, make_sum(frozenset(self.vars) - keep, self.expr))


def _id(y: frozenset[str], x: frozenset[str], p: _Dist, g: ADMG) -> Expr:
    v = frozenset(g.nodes)
    if not x:  # line 1
        return p.marginal(y).expr
    an_y = g.ancestors(y)
    if v - an_y:  # line 2
        return _id(y, x & an_y, p.marginal(an_y), g._sub(an_y))
    w = (v - x) - g.ancestors(y, cut_into=x)
    if w:  # line 3
        return _id(y, x | w, p, g)
    rest = g._sub(v - x)
    comps = rest.districts()
    if len(comps) > 1:  # line 4
        terms = [_id(s, v - s, p, g) for s in comps]
        return make_sum(v - (y | x), make_product(terms))
    s = comps[0]
    full = g.districts()
    if len(full) == 1:  # line 5: a hedge
        raise IdentificationError(
            f"not identifiable: the hedge formed by the c-components {sorted(v)} and "
            f"{sorted(s)} (Shpitser & Pearl 2006, line 5)"
        )
    order = g.nodes

    def chain(node: str) -> Expr:
        return p.conditional(node, frozenset(order[: order.index(node)]))

    if s in full:  # line 6
        return make_sum(s - y, make_product(chain(n) for n in order if n in s))
    big = next(c for c in full if s < c)  # line 7
    fs = tuple(chain(n) for n in order if n in big)
    sub = g._sub(big)
    return _id(y, x & big, _Dist(sub.nodes, make_product(fs), fs), sub)


def identify_effect(
    graph: ADMG,
    treatment: str | Iterable[str],
    outcome: str | Iterable[str],
) -> Expr:
    """The estimand of ``P(outcome | do(treatment))`` in ``graph``, or a refusal.

    Parameters
    ----------
    graph : ADMG
        Directed edges and hidden-confounder (bidirected) edges.
    treatment, outcome : str or iterable of str
        Disjoint, non-empty sets of nodes.

    Returns
    -------
    Expr
        A formula in the observational distribution (``str()`` for text, ``.latex()``).

    Raises
    ------
    acie.errors.IdentificationError
        If the effect is not identifiable (the ID algorithm is complete: no other
        formula exists).
    acie.errors.UnknownNodeError
        If a name is not a node.
    """
    xs = frozenset([treatment] if isinstance(treatment, str) else map(str, treatment))
    ys = frozenset([outcome] if isinstance(outcome, str) else map(str, outcome))
    for n in xs | ys:
        if n not in graph.nodes:
            raise UnknownNodeError(n, list(graph.nodes))
    if not xs or not ys or xs & ys:
        raise InputValidationError(
            expected_got(
                "treatment and outcome", "disjoint non-empty sets", (sorted(xs), sorted(ys))
            )
        )
    base = _Dist(graph.nodes, Prob(frozenset(graph.nodes)), observational=True)
    return _id(ys, xs, base, graph)
