"""Causal discovery with the PC algorithm of causal-learn, with background knowledge.

PC itself is causal-learn's (:func:`causallearn.search.ConstraintBased.PC.pc`,
Spirtes, Glymour & Scheines 2000); this module only translates inputs (a data frame,
required/forbidden edges, temporal tiers) into causal-learn's
:class:`~causallearn.utils.PCUtils.BackgroundKnowledge`, and its output (a CPDAG)
into :class:`PCResult`, whose :meth:`PCResult.to_dag` returns a
:class:`~acie.causal.graph.CausalDAG`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd

from acie.causal.graph import CausalDAG
from acie.errors import (
    CycleError,
    GraphError,
    InputValidationError,
    UnknownNodeError,
    expected_got,
)

__all__ = ["IndependenceTest", "PCResult", "pc_discover"]


class IndependenceTest(StrEnum):
    """Conditional-independence tests of causal-learn usable here."""

    FISHER_Z = "fisherz"  # partial correlation; linear-Gaussian data
    KCI = "kci"  # kernel CI test; non-linear, slow (O(n³))
    CHI_SQUARE = "chisq"  # discrete data
    G_SQUARE = "gsq"  # discrete data


@dataclass(frozen=True)
class PCResult:
    """The output of PC: a CPDAG over the data's columns.

    Attributes
    ----------
    nodes : tuple of str
        Column names.
    directed : tuple of (str, str)
        Edges oriented by PC (v-structures, Meek rules, background knowledge).
    undirected : tuple of (str, str)
        Edges PC could not orient (either direction fits the data equally well).
    bidirected : tuple of (str, str)
        Edges with conflicting orientations (a sign of violated assumptions).
    alpha : float
        Significance level used.
    test : str
        Independence test used.
    """

    nodes: tuple[str, ...]
    directed: tuple[tuple[str, str], ...]
    undirected: tuple[tuple[str, str], ...]
    bidirected: tuple[tuple[str, str], ...]
    alpha: float
    test: str

    @property
    def is_fully_oriented(self) -> bool:
        """Whether every edge is directed."""
        return not self.undirected and not self.bidirected

    def skeleton(self) -> set[frozenset[str]]:
        """All adjacencies as unordered pairs."""
        return {frozenset(e) for e in (*self.directed, *self.undirected, *self.bidirected)}

    def to_dag(self) -> CausalDAG:
        """A DAG in the Markov equivalence class (a consistent extension of the CPDAG).

        Undirected edges are oriented without creating cycles or new v-structures
        (Dor & Tarsi 1992). Fully oriented results are returned as they are.

        Raises
        ------
        acie.errors.GraphError
            If there are bidirected (conflicting) edges, or no consistent extension
            exists (the PC output is not a valid CPDAG).
        """
        if self.bidirected:
            raise GraphError(
                f"PC left conflicting (bidirected) edges {list(self.bidirected)}; "
                "no DAG is consistent with them; add background knowledge or "
                "change alpha"
            )
        directed = set(self.directed)
        undirected = {frozenset(e) for e in self.undirected}
        remaining = set(self.nodes)
        oriented: set[tuple[str, str]] = set(directed)

        def adjacent(a: str, b: str) -> bool:
            return (a, b) in directed or (b, a) in directed or frozenset((a, b)) in undirected

        while remaining:
            for x in sorted(remaining):
                has_out = any(u == x and v in remaining for u, v in directed)
                if has_out:
                    continue
                und_nbrs = {next(iter(e - {x})) for e in undirected if x in e}
                und_nbrs &= remaining
                nbrs = und_nbrs | {u for u, v in directed if v == x and u in remaining}
                if all(adjacent(y, w) for y in und_nbrs for w in nbrs if w != y):
                    for y in und_nbrs:
                        oriented.add((y, x))
                        undirected.discard(frozenset((x, y)))
                    remaining.discard(x)
                    break
            else:
                raise GraphError("the PC output has no consistent DAG extension")
        return CausalDAG(edges=sorted(oriented), nodes=self.nodes)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return {
            "nodes": list(self.nodes),
            "directed": [list(e) for e in self.directed],
            "undirected": [list(e) for e in self.undirected],
            "bidirected": [list(e) for e in self.bidirected],
            "alpha": self.alpha,
            "test": self.test,
        }


def _pairs(
    edges: Iterable[tuple[str, str]], names: Sequence[str], what: str
) -> list[tuple[str, str]]:
    out = []
    for e in edges:
        if not isinstance(e, tuple | list) or len(e) != 2:
            raise InputValidationError(expected_got(f"a {what} edge", "a (cause, effect) pair", e))
        for node in e:
            if node not in names:
                raise UnknownNodeError(node, list(names))
        out.append((str(e[0]), str(e[1])))
    return out


def _checked_alpha_and_test(alpha: float, test: IndependenceTest | str) -> IndependenceTest:
    """The significance level checked to lie in (0, 1), and the test as an enum member."""
    if not 0.0 < alpha < 1.0:
        raise InputValidationError(expected_got("alpha", "in (0, 1)", alpha))
    try:
        return IndependenceTest(test)
    except ValueError:
        raise InputValidationError(
            expected_got("test", f"one of {[t.value for t in IndependenceTest]}", test)
        ) from None


def pc_discover(
    data: pd.DataFrame,
    *,
    alpha: float = 0.05,
    test: IndependenceTest | str = IndependenceTest.FISHER_Z,
    required: Iterable[tuple[str, str]] = (),
    forbidden: Iterable[tuple[str, str]] = (),
    tiers: Sequence[Iterable[str]] | None = None,
    stable: bool = True,
) -> PCResult:
    """Run causal-learn's PC on a data frame, with background knowledge.

    Parameters
    ----------
    data : pandas.DataFrame
        One column per variable (numeric, finite).
    alpha : float in (0, 1)
        Significance level of the independence tests.
    test : IndependenceTest or str
        ``"fisherz"`` (default), ``"kci"``, ``"chisq"`` or ``"gsq"``.
    required : iterable of (cause, effect)
        Edges that must be present and point this way. causal-learn uses them only to
        orient edges its tests kept; here every required edge is put in the result
        (added when the tests removed it, oriented cause → effect when found either
        way), the other edges are PC's. Required edges that form a cycle, that are
        also forbidden, or that point back across ``tiers`` are refused.
    forbidden : iterable of (cause, effect)
        Directed edges that must not appear.
    tiers : sequence of iterables of str, optional
        Temporal tiers, earliest first: no edge may point from a later tier to an
        earlier one (e.g. halo properties before galaxy properties).
    stable : bool
        Order-independent skeleton search (PC-stable).

    Returns
    -------
    PCResult
    """
    from causallearn.search.ConstraintBased.PC import pc

    names, values = _checked_values(data)
    test = _checked_alpha_and_test(alpha, test)
    required = _pairs(required, names, "required")
    forbidden = _pairs(forbidden, names, "forbidden")
    _check_required(required, forbidden, tiers)
    bk = _background_knowledge(names, required, forbidden, tiers)
    cg = pc(
        values,
        alpha=alpha,
        indep_test=str(test),
        stable=stable,
        background_knowledge=bk,
        show_progress=False,
        node_names=names,
    )
    directed, undirected, bidirected = _edges(np.asarray(cg.G.graph), names)
    for a, b in required:  # enforce: present, and pointing cause -> effect
        pair = {(a, b), (b, a)}
        directed = [e for e in directed if e not in pair]
        undirected = [e for e in undirected if e not in pair]
        bidirected = [e for e in bidirected if e not in pair]
        directed.append((a, b))
    return PCResult(
        nodes=tuple(names),
        directed=tuple(directed),
        undirected=tuple(undirected),
        bidirected=tuple(bidirected),
        alpha=alpha,
        test=str(test),
    )


def _check_required(
    required: list[tuple[str, str]],
    forbidden: list[tuple[str, str]],
    tiers: Sequence[Iterable[str]] | None,
) -> None:
    """Refuse required edges that cannot all hold: forbidden too, cyclic, or against tiers."""
    both = sorted(set(required) & set(forbidden))
    if both:
        raise InputValidationError(
            expected_got("background knowledge", "no edge both required and forbidden", both)
        )
    if required:
        try:
            CausalDAG(edges=required)
        except CycleError as exc:
            raise InputValidationError(
                expected_got("required edges", "no directed cycle", f"the cycle in {required}")
            ) from exc
    tier_of = {str(n): i for i, tier in enumerate(tiers or ()) for n in tier}
    back = [(a, b) for a, b in required if tier_of.get(a, -1) > tier_of.get(b, 1 << 30)]
    if back:
        raise InputValidationError(
            expected_got("required edges", "pointing forward across the tiers", back)
        )


def _checked_values(data: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    """The column names and the ``(n, k)`` float values of ``data``, validated for PC."""
    if not isinstance(data, pd.DataFrame):
        raise InputValidationError(expected_got("data", "a pandas DataFrame", type(data).__name__))
    names = [str(c) for c in data.columns]
    if len(names) < 2 or len(set(names)) != len(names):
        raise InputValidationError(
            expected_got("data columns", "at least two, uniquely named", names)
        )
    try:
        values = data.to_numpy(dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputValidationError(
            expected_got("data", "numeric columns", data.dtypes.to_dict())
        ) from exc
    if not np.all(np.isfinite(values)):
        raise InputValidationError(expected_got("data", "finite values", "NaN or inf"))
    if values.shape[0] < 10:
        raise InputValidationError(
            expected_got("the number of rows", "at least 10", values.shape[0])
        )
    return names, values


def _background_knowledge(
    names: list[str],
    required: Iterable[tuple[str, str]],
    forbidden: Iterable[tuple[str, str]],
    tiers: Sequence[Iterable[str]] | None,
) -> Any:
    """causal-learn's ``BackgroundKnowledge`` for the constraints, or None when there are none."""
    from causallearn.graph.GraphNode import GraphNode
    from causallearn.utils.PCUtils.BackgroundKnowledge import BackgroundKnowledge

    required_pairs = list(required)
    forbidden_pairs = list(forbidden)
    if not (required_pairs or forbidden_pairs or tiers):
        return None
    bk = BackgroundKnowledge()
    for a, b in required_pairs:
        bk.add_required_by_node(GraphNode(a), GraphNode(b))
    for a, b in forbidden_pairs:
        bk.add_forbidden_by_node(GraphNode(a), GraphNode(b))
    for i, tier in enumerate(tiers or ()):
        for node in tier:
            if node not in names:
                raise UnknownNodeError(node, names)
            bk.add_node_to_tier(GraphNode(str(node)), i)
    return bk


def _edges(
    g: np.ndarray, names: list[str]
) -> tuple[list[tuple[str, str]], list[tuple[str, str]], list[tuple[str, str]]]:
    """Directed, undirected and bidirected edges of causal-learn's endpoint matrix ``g``."""
    # causal-learn's encoding: G[j, i] == 1 and G[i, j] == -1 means i -> j
    directed, undirected, bidirected = [], [], []
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            a, b = g[i, j], g[j, i]
            if a == 0 and b == 0:
                continue
            if a == -1 and b == 1:
                directed.append((names[i], names[j]))
            elif a == 1 and b == -1:
                directed.append((names[j], names[i]))
            elif a == -1 and b == -1:
                undirected.append((names[i], names[j]))
            else:
                bidirected.append((names[i], names[j]))
    return directed, undirected, bidirected
