"""Structure learning beyond PC: GES (score-based) and FCI (latent confounders) of causal-learn.

Both algorithms are causal-learn's; this module gives them the background-knowledge
interface of :func:`acie.causal.discovery.pc_discover` (required and forbidden edges,
temporal tiers) and plain result types.

* :func:`ges_discover` — greedy equivalence search (Chickering 2002) with the BIC score
  (or causal-learn's other scores); returns the CPDAG as :class:`GESResult`. causal-learn's
  GES takes no background knowledge, so it is applied to the CPDAG afterwards: undirected
  edges are oriented as forbidden edges and tiers demand, required edges are put in
  (cause → effect), and a compelled edge that contradicts the knowledge is reported as a
  conflict rather than silently flipped.
* :func:`fci_discover` — Fast Causal Inference (Spirtes, Meek & Richardson 1995; Zhang
  2008), which allows hidden common causes and selection; returns a partial ancestral
  graph (PAG) as :class:`PAGResult`, whose edges carry endpoint marks: ``-->`` (a causes
  b), ``<->`` (a hidden common cause, neither causes the other), ``o->`` and ``o-o``
  (not determined by the data). Background knowledge is causal-learn's own; required
  edges are enforced as ``a --> b`` as in ``pc_discover``.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from acie.causal.discovery import (
    IndependenceTest,
    PCResult,
    _background_knowledge,
    _check_required,
    _checked_alpha_and_test,
    _checked_values,
    _edges,
    _pairs,
)
from acie.causal.graph import CausalDAG
from acie.errors import InputValidationError, UnknownNodeError, expected_got

__all__ = ["GESResult", "PAGEdge", "PAGResult", "fci_discover", "ges_discover"]

_SCORES = ("local_score_BIC", "local_score_BDeu", "local_score_marginal_general")


@dataclass(frozen=True)
class GESResult:
    """The CPDAG found by GES, after background knowledge.

    Attributes
    ----------
    nodes : tuple of str
        Column names.
    directed, undirected : tuple of (str, str)
        Compelled (or knowledge-oriented) and unoriented edges.
    conflicts : tuple of (str, str)
        Edges GES compelled one way that the background knowledge forbids.
    score : str
        The score function.
    total_score : float
        causal-learn's score of the result (lower is better for BIC as it reports it).
    """

    nodes: tuple[str, ...]
    directed: tuple[tuple[str, str], ...]
    undirected: tuple[tuple[str, str], ...]
    conflicts: tuple[tuple[str, str], ...]
    score: str
    total_score: float

    def skeleton(self) -> set[frozenset[str]]:
        """All adjacencies as unordered pairs."""
        return {frozenset(e) for e in (*self.directed, *self.undirected, *self.conflicts)}

    def to_dag(self) -> CausalDAG:
        """A DAG in the equivalence class (as :meth:`PCResult.to_dag`; refused on conflicts)."""
        cpdag = PCResult(
            self.nodes, self.directed, self.undirected, self.conflicts, 0.0, self.score
        )
        return cpdag.to_dag()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return {
            "algorithm": "GES",
            "nodes": list(self.nodes),
            "directed": [list(e) for e in self.directed],
            "undirected": [list(e) for e in self.undirected],
            "conflicts": [list(e) for e in self.conflicts],
            "score": self.score,
            "total_score": self.total_score if math.isfinite(self.total_score) else None,
        }


_MARK = {-1: "tail", 1: "arrow", 2: "circle"}
_GLYPH = {
    ("tail", "arrow"): "-->",
    ("arrow", "arrow"): "<->",
    ("circle", "arrow"): "o->",
    ("circle", "circle"): "o-o",
    ("tail", "tail"): "---",
    ("circle", "tail"): "o--",
}


@dataclass(frozen=True)
class PAGEdge:
    """An edge ``a ? - ? b`` of a PAG with the marks at each end (tail, arrow or circle)."""

    a: str
    b: str
    mark_a: str
    mark_b: str

    def __str__(self) -> str:
        key = (self.mark_a, self.mark_b)
        if key in _GLYPH:
            return f"{self.a} {_GLYPH[key]} {self.b}"
        return f"{self.b} {_GLYPH[(self.mark_b, self.mark_a)]} {self.a}"


@dataclass(frozen=True)
class PAGResult:
    """The partial ancestral graph found by FCI."""

    nodes: tuple[str, ...]
    edges: tuple[PAGEdge, ...]
    alpha: float
    test: str

    def _with(self, marks: tuple[str, str]) -> list[tuple[str, str]]:
        out = []
        for e in self.edges:
            if (e.mark_a, e.mark_b) == marks:
                out.append((e.a, e.b))
            elif (e.mark_b, e.mark_a) == marks:
                out.append((e.b, e.a))
        return out

    @property
    def directed(self) -> list[tuple[str, str]]:
        """``a --> b``: a is a cause (ancestor) of b in every graph the PAG represents."""
        return self._with(("tail", "arrow"))

    @property
    def bidirected(self) -> list[tuple[str, str]]:
        """``a <-> b``: a hidden common cause, and neither causes the other."""
        return self._with(("arrow", "arrow"))

    def skeleton(self) -> set[frozenset[str]]:
        """All adjacencies as unordered pairs."""
        return {frozenset((e.a, e.b)) for e in self.edges}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return {
            "algorithm": "FCI",
            "nodes": list(self.nodes),
            "edges": [
                {"a": e.a, "b": e.b, "mark_a": e.mark_a, "mark_b": e.mark_b, "text": str(e)}
                for e in self.edges
            ],
            "alpha": self.alpha,
            "test": self.test,
        }


def _knowledge(
    names: list[str],
    required: Iterable[tuple[str, str]],
    forbidden: Iterable[tuple[str, str]],
    tiers: Sequence[Iterable[str]] | None,
) -> tuple[list[tuple[str, str]], list[tuple[str, str]], dict[str, int]]:
    req = _pairs(required, names, "required")
    forb = _pairs(forbidden, names, "forbidden")
    tiers_l = [list(map(str, t)) for t in tiers or ()]
    for tier in tiers_l:
        for node in tier:
            if node not in names:
                raise UnknownNodeError(node, names)
    _check_required(req, forb, tiers_l or None)
    tier_of = {n: i for i, t in enumerate(tiers_l) for n in t}
    return req, forb, tier_of


def ges_discover(
    data: pd.DataFrame,
    *,
    score: str = "local_score_BIC",
    required: Iterable[tuple[str, str]] = (),
    forbidden: Iterable[tuple[str, str]] = (),
    tiers: Sequence[Iterable[str]] | None = None,
) -> GESResult:
    """Run causal-learn's GES on a data frame, then apply background knowledge.

    Parameters
    ----------
    data : pandas.DataFrame
        One numeric column per variable.
    score : str
        ``"local_score_BIC"`` (linear-Gaussian, default), ``"local_score_BDeu"``
        (discrete) or ``"local_score_marginal_general"`` (non-linear, slow).
    required, forbidden, tiers
        As in :func:`acie.causal.discovery.pc_discover`.

    Returns
    -------
    GESResult
    """
    from causallearn.search.ScoreBased.GES import ges

    names, values = _checked_values(data)
    if score not in _SCORES:
        raise InputValidationError(expected_got("score", f"one of {list(_SCORES)}", score))
    req, forb, tier_of = _knowledge(names, required, forbidden, tiers)
    out = ges(values, score_func=score, node_names=names)
    directed, undirected, _ = _edges(np.asarray(out["G"].graph), names)
    forbidden_set = set(forb) | {
        (a, b) for a in names for b in names if tier_of.get(a, -1) > tier_of.get(b, 1 << 30)
    }
    conflicts = [e for e in directed if e in forbidden_set]
    directed = [e for e in directed if e not in forbidden_set]
    still = []
    for a, b in undirected:
        if (a, b) in forbidden_set and (b, a) not in forbidden_set:
            directed.append((b, a))
        elif (b, a) in forbidden_set and (a, b) not in forbidden_set:
            directed.append((a, b))
        else:
            still.append((a, b))
    for a, b in req:
        pair = {(a, b), (b, a)}
        directed = [e for e in directed if e not in pair]
        still = [e for e in still if e not in pair]
        conflicts = [e for e in conflicts if e not in pair]
        directed.append((a, b))
    total = out.get("score")
    return GESResult(
        nodes=tuple(names),
        directed=tuple(directed),
        undirected=tuple(still),
        conflicts=tuple(conflicts),
        score=score,
        total_score=float(np.asarray(total).reshape(-1)[0]) if total is not None else math.nan,
    )


def fci_discover(
    data: pd.DataFrame,
    *,
    alpha: float = 0.05,
    test: IndependenceTest | str = IndependenceTest.FISHER_Z,
    required: Iterable[tuple[str, str]] = (),
    forbidden: Iterable[tuple[str, str]] = (),
    tiers: Sequence[Iterable[str]] | None = None,
) -> PAGResult:
    """Run causal-learn's FCI on a data frame, with background knowledge.

    Parameters
    ----------
    data : pandas.DataFrame
        One numeric column per variable.
    alpha : float in (0, 1)
        Significance level of the independence tests.
    test : IndependenceTest or str
        ``"fisherz"`` (default), ``"kci"``, ``"chisq"`` or ``"gsq"``.
    required, forbidden, tiers
        As in :func:`acie.causal.discovery.pc_discover`; required edges become
        ``cause --> effect`` in the PAG.

    Returns
    -------
    PAGResult
    """
    from causallearn.search.ConstraintBased.FCI import fci

    names, values = _checked_values(data)
    test = _checked_alpha_and_test(alpha, test)
    req, forb, _ = _knowledge(names, required, forbidden, tiers)
    bk = _background_knowledge(names, req, forb, tiers)
    # causal-learn prints its background-knowledge steps; keep them off the caller's stdout
    with contextlib.redirect_stdout(io.StringIO()):
        g, _ = fci(
            values,
            independence_test_method=str(test),
            alpha=alpha,
            background_knowledge=bk,
            show_progress=False,
            node_names=names,
        )
    m = np.asarray(g.graph)
    edges: dict[frozenset[str], PAGEdge] = {}
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            if m[i, j] == 0 and m[j, i] == 0:
                continue
            # causal-learn: graph[i, j] is the mark at node i of the edge i - j
            edges[frozenset((names[i], names[j]))] = PAGEdge(
                names[i], names[j], _MARK[int(m[i, j])], _MARK[int(m[j, i])]
            )
    for a, b in req:
        edges[frozenset((a, b))] = PAGEdge(a, b, "tail", "arrow")
    return PAGResult(tuple(names), tuple(edges.values()), alpha, str(test))
