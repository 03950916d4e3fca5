"""Identification by the backdoor and front-door criteria, decided by d-separation.

A set Z satisfies the backdoor criterion for (T, Y) (Pearl, *Causality*, 2009,
Def. 3.3.1) when no node of Z is a descendant of T and Z d-separates T from Y in the
graph with T's outgoing edges removed. Then
``E[Y | do(T=t)] = E_Z[ E[Y | T=t, Z] ]``.
"""

from __future__ import annotations

from collections.abc import Iterable

import networkx as nx

from acie.causal.graph import CausalDAG
from acie.errors import IdentificationError, InputValidationError, expected_got

__all__ = ["backdoor_adjustment_set", "is_backdoor_set", "is_frontdoor_set"]


def _as_set(nodes: str | Iterable[str]) -> set[str]:
    return {nodes} if isinstance(nodes, str) else set(nodes)


def is_backdoor_set(
    graph: CausalDAG,
    treatment: str | Iterable[str],
    outcome: str | Iterable[str],
    adjustment: Iterable[str],
) -> bool:
    """Whether ``adjustment`` satisfies the backdoor criterion for treatment → outcome.

    Raises
    ------
    acie.errors.UnknownNodeError
        If a node is not in the graph.
    """
    t, y, z = _as_set(treatment), _as_set(outcome), set(adjustment)
    graph.check_nodes([*t, *y, *z])
    if t & y or t & z or y & z:
        raise InputValidationError(
            expected_got(
                "treatment, outcome and adjustment sets",
                "disjoint",
                (sorted(t), sorted(y), sorted(z)),
            )
        )
    descendants = set().union(*(graph.descendants(n) for n in t))
    if z & descendants:
        return False
    return graph.remove_outgoing(t).is_d_separated(t, y, z)


def backdoor_adjustment_set(
    graph: CausalDAG,
    treatment: str | Iterable[str],
    outcome: str | Iterable[str],
    *,
    observed: Iterable[str] | None = None,
    minimal: bool = True,
) -> frozenset[str]:
    """A set of observed nodes satisfying the backdoor criterion.

    Parameters
    ----------
    graph : CausalDAG
        The causal graph.
    treatment, outcome : str or iterable of str
        Treatment node(s) T and outcome node(s) Y.
    observed : iterable of str, optional
        Nodes that may be adjusted for (default: every node; unobserved confounders are
        nodes of the graph left out of this set).
    minimal : bool
        Return a minimal set (no proper subset works) found by
        :func:`networkx.find_minimal_d_separator`; otherwise all observed
        non-descendants of T that are ancestors of T or Y (a valid, larger set).

    Returns
    -------
    frozenset of str
        The adjustment set (empty when no adjustment is needed).

    Raises
    ------
    acie.errors.IdentificationError
        If no subset of the observed nodes satisfies the criterion; the message names
        the treatment, outcome and observed nodes.
    """
    t, y = _as_set(treatment), _as_set(outcome)
    graph.check_nodes([*t, *y])
    if not t or not y or t & y:
        raise InputValidationError(
            expected_got("treatment and outcome", "non-empty and disjoint", (sorted(t), sorted(y)))
        )
    observed_set = set(graph.nodes) if observed is None else set(observed)
    graph.check_nodes(observed_set)
    forbidden = t | y | set().union(*(graph.descendants(n) for n in t))
    allowed = observed_set - forbidden
    backdoor_graph = graph.remove_outgoing(t).to_networkx()
    if minimal:
        z = nx.find_minimal_d_separator(backdoor_graph, t, y, included=set(), restricted=allowed)
        if z is not None:
            return frozenset(z)
    else:
        relevant = set().union(*(graph.ancestors(n) for n in t | y))
        z = allowed & relevant
        if nx.is_d_separator(backdoor_graph, t, y, z):
            return frozenset(z)
    raise IdentificationError(
        f"the effect of {sorted(t)} on {sorted(y)} is not identifiable by backdoor adjustment: "
        f"no subset of the observed non-descendants {sorted(allowed)} blocks every backdoor path"
    )


def is_frontdoor_set(
    graph: CausalDAG, treatment: str, outcome: str, mediators: Iterable[str]
) -> bool:
    """Whether ``mediators`` satisfies the front-door criterion for treatment → outcome.

    Pearl (*Causality*, 2009, Def. 3.3.3): M intercepts every directed path from T to
    Y; there is no unblocked backdoor path from T to M; every backdoor path from M to Y
    is blocked by T. Unobserved confounders are nodes of ``graph`` (never in M).

    Raises
    ------
    acie.errors.UnknownNodeError
        If a node is not in the graph.
    """
    m = set(mediators)
    graph.check_nodes([treatment, outcome, *m])
    if not m or treatment in m or outcome in m or treatment == outcome:
        raise InputValidationError(
            expected_got(
                "treatment, outcome and mediators",
                "disjoint, with at least one mediator",
                (treatment, outcome, sorted(m)),
            )
        )
    g = graph.to_networkx()
    cut = g.copy()
    cut.remove_nodes_from(m)
    if nx.has_path(cut, treatment, outcome):
        return False  # (i) a directed path avoids M
    no_out = graph.remove_outgoing({treatment}).to_networkx()
    if not nx.is_d_separator(no_out, {treatment}, m, set()):
        return False  # (ii) a backdoor path T <- ... -> M
    return bool(graph.remove_outgoing(m).is_d_separated(m, {outcome}, {treatment}))
