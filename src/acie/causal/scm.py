"""Structural causal models: vectorised sampling, ``do`` and unit counterfactuals.

An SCM is a set of named nodes, each with a mechanism ``x = f(parents, u)`` and an
exogenous noise distribution for ``u``; the graph follows from the mechanisms'
parents and must be acyclic. Sampling draws all noise columns at once and evaluates
the mechanisms in topological order, so the cost is a handful of numpy operations
per node whatever the number of rows.

Counterfactuals follow abduction–action–prediction (Pearl, *Causality*, 2009, §7.1):
recover each unit's noise from its observed values, apply the intervention, and push
the same noise through the mutilated model. Abduction is exact for invertible
(additive-noise) mechanisms; it is only needed for descendants of the intervened
nodes, and a non-invertible mechanism there raises
:class:`~acie.errors.NotInvertibleError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from acie.causal.graph import CausalDAG
from acie.causal.intervention import active_interventions, hard_value, is_soft
from acie.causal.mechanisms import ConstantMechanism, Mechanism, ShiftedMechanism
from acie.errors import (
    GraphError,
    InputValidationError,
    NotInvertibleError,
    ShapeError,
    UnknownNodeError,
    expected_got,
)

__all__ = ["StructuralCausalModel"]


def _draw(dist: Any, n: int, rng: np.random.Generator) -> np.ndarray:
    out = np.asarray(dist.rvs(size=n, random_state=rng), dtype=float)
    return out.reshape(n)


class StructuralCausalModel:
    """A structural causal model over named nodes.

    Parameters
    ----------
    mechanisms : mapping of str to Mechanism
        ``node -> mechanism``; each mechanism names its parents.
    noise : mapping of str to distribution
        ``node -> noise distribution``: anything with ``rvs(size=, random_state=)``,
        e.g. a frozen :mod:`scipy.stats` distribution or
        :class:`~acie.causal.mechanisms.EmpiricalNoise`. Every node needs one
        (for a :class:`~acie.causal.mechanisms.ClassifierMechanism`, ``uniform()``).
    units : mapping of str to str or astropy unit, optional
        The physical unit of each node's values (``"dex(solMass)"``, ``"mag"``…).
        Values inside the model are plain floats in these units; hard interventions
        may be given as Quantities and are converted.

    Raises
    ------
    acie.errors.GraphError
        If a mechanism names a parent that is not a node, or a node lacks noise.
    acie.errors.CycleError
        If the parents form a directed cycle.
    """

    def __init__(
        self,
        *,
        mechanisms: Mapping[str, Mechanism],
        noise: Mapping[str, Any],
        units: Mapping[str, Any] | None = None,
    ) -> None:
        mechanisms = dict(mechanisms)
        for node, mech in mechanisms.items():
            if not isinstance(mech, Mechanism):
                raise InputValidationError(
                    expected_got(
                        f"the mechanism of {node!r}",
                        "an acie.causal Mechanism",
                        type(mech).__name__,
                    )
                )
            for p in mech.parents:
                if p not in mechanisms:
                    raise GraphError(
                        f"mechanism of {node!r} names parent {p!r}, which is not "
                        f"a node; nodes are: {', '.join(mechanisms)}"
                    )
        missing = [n for n in mechanisms if n not in noise]
        if missing:
            raise GraphError(
                f"every node needs a noise distribution; missing for: {', '.join(missing)}"
            )
        extra = [n for n in noise if n not in mechanisms]
        if extra:
            raise UnknownNodeError(extra[0], list(mechanisms))
        for node, dist in noise.items():
            if not hasattr(dist, "rvs"):
                raise InputValidationError(
                    expected_got(
                        f"the noise of {node!r}",
                        "a distribution with rvs(size, random_state)",
                        type(dist).__name__,
                    )
                )
        self.graph = CausalDAG.from_parents({n: m.parents for n, m in mechanisms.items()})
        self.mechanisms: dict[str, Mechanism] = {n: mechanisms[n] for n in self.graph.nodes}
        self.noise: dict[str, Any] = {n: noise[n] for n in self.graph.nodes}
        self.units: dict[str, Any] = dict(units or {})
        unknown_units = [n for n in self.units if n not in self.mechanisms]
        if unknown_units:
            raise UnknownNodeError(unknown_units[0], list(self.graph.nodes))

    # ---- basic properties -------------------------------------------------------------
    @property
    def nodes(self) -> tuple[str, ...]:
        """Node names in topological order."""
        return self.graph.nodes

    def __repr__(self) -> str:
        return f"StructuralCausalModel(nodes={list(self.nodes)}, edges={list(self.graph.edges)})"

    # ---- interventions ----------------------------------------------------------------
    def do(self, interventions: Mapping[str, Any]) -> StructuralCausalModel:
        """Return the model after the interventions (the original is unchanged).

        Parameters
        ----------
        interventions : mapping of str to value or callable
            Hard: ``node -> value`` (scalar, per-unit 1-D array, or Quantity in the
            node's unit); the node's incoming edges are removed. Soft:
            ``node -> h`` with ``h(natural value) -> new value``; parents are kept.

        Raises
        ------
        acie.errors.UnknownNodeError
            If a node is not in the model; the message lists the known nodes.
        acie.errors.InvalidInterventionError
            If a hard value is not finite, not scalar/1-D, or has the wrong unit.
        """
        if not isinstance(interventions, Mapping):
            raise InputValidationError(
                expected_got(
                    "interventions",
                    "a mapping node -> value or callable",
                    type(interventions).__name__,
                )
            )
        self.graph.check_nodes(interventions)
        mechanisms = dict(self.mechanisms)
        for node, value in interventions.items():
            if is_soft(value):
                mechanisms[node] = ShiftedMechanism(base=self.mechanisms[node], transform=value)
            else:
                mechanisms[node] = ConstantMechanism(
                    value=hard_value(node, value, self.units.get(node))
                )
        return StructuralCausalModel(mechanisms=mechanisms, noise=self.noise, units=self.units)

    def _effective(self) -> StructuralCausalModel:
        active = active_interventions()
        return self.do(active) if active else self

    # ---- sampling -----------------------------------------------------------------------
    def sample_noise(
        self, n: int, *, seed: int | np.random.Generator | None = None
    ) -> pd.DataFrame:
        """Draw ``n`` rows of exogenous noise, one column per node.

        Columns are drawn in topological order from one generator, so a seed fixes
        every column.
        """
        n = _check_n(n)
        rng = np.random.default_rng(seed)
        return pd.DataFrame({node: _draw(self.noise[node], n, rng) for node in self.nodes})

    def propagate(self, noise: pd.DataFrame | Mapping[str, np.ndarray]) -> pd.DataFrame:
        """Evaluate the mechanisms on given noise values (deterministic).

        Interventions of enclosing ``with do(...)`` blocks apply. A data frame ``noise``
        lends its index to the result.
        """
        model = self._effective()
        cols = {node: np.asarray(noise[node], dtype=float) for node in model.nodes if node in noise}
        missing = [n for n in model.nodes if n not in cols]
        if missing:
            raise InputValidationError(
                expected_got(
                    "noise", "a column for every node", f"no column for {', '.join(missing)}"
                )
            )
        lengths = {c.shape for c in cols.values()}
        if len(lengths) != 1 or len(next(iter(lengths))) != 1:
            raise ShapeError(
                expected_got("noise columns", "1-D arrays of one length", sorted(lengths))
            )
        values: dict[str, np.ndarray] = {}
        for node in model.nodes:
            values[node] = model.mechanisms[node](values, cols[node])
        out = pd.DataFrame({node: values[node] for node in self.nodes}, index=_index(noise))
        out.attrs["units"] = {k: str(v) for k, v in self.units.items()}
        return out

    def sample(self, n: int, *, seed: int | np.random.Generator | None = None) -> pd.DataFrame:
        """Draw ``n`` rows from the (observational or intervened) model.

        Parameters
        ----------
        n : int
            Number of rows.
        seed : int or numpy Generator, optional
            Seed of the noise draws (same seed, same noise whatever the intervention,
            so interventional contrasts share their noise).

        Returns
        -------
        pandas.DataFrame
            One float column per node, in the units of :attr:`units`
            (also in ``df.attrs["units"]``).
        """
        return self.propagate(self.sample_noise(n, seed=seed))

    # ---- counterfactuals ---------------------------------------------------------------
    def abduct(self, observed: pd.DataFrame | Mapping[str, Any], nodes: Any = None) -> pd.DataFrame:
        """Recover each unit's exogenous noise from its observed values.

        Parameters
        ----------
        observed : DataFrame or mapping of str to array
            One column per node (at least the requested nodes and their parents).
        nodes : iterable of str, optional
            Nodes whose noise to recover (default: all).

        Raises
        ------
        acie.errors.NotInvertibleError
            If a requested node's mechanism is not invertible.
        """
        nodes = list(self.nodes if nodes is None else nodes)
        self.graph.check_nodes(nodes)
        obs = _columns(observed, {*nodes, *(p for n in nodes for p in self.mechanisms[n].parents)})
        noise: dict[str, np.ndarray] = {}
        for node in nodes:
            mech = self.mechanisms[node]
            if not mech.invertible:
                raise NotInvertibleError(
                    f"cannot abduct the noise of {node!r}: its mechanism "
                    f"{type(mech).__name__} is not invertible (use an additive-noise "
                    "mechanism, or give FunctionalMechanism an inverse)"
                )
            noise[node] = mech.abduct(obs, obs[node])
        return pd.DataFrame(noise, index=_index(observed))

    def counterfactual(
        self,
        observed: pd.DataFrame | Mapping[str, Any],
        interventions: Mapping[str, Any] | None = None,
    ) -> pd.DataFrame:
        """Unit counterfactuals by abduction–action–prediction.

        Parameters
        ----------
        observed : DataFrame or mapping of str to array
            Factual values of every node, one row per unit.
        interventions : mapping, optional
            The counterfactual intervention (hard or soft, as in :meth:`do`). Defaults
            to the interventions of the enclosing ``with do(...)`` blocks.

        Returns
        -------
        pandas.DataFrame
            Each unit's values had the intervention been applied, with the same noise.
            Nodes that are not descendants of the intervened nodes keep their
            factual values exactly. A data frame ``observed`` lends its index to the
            result, so the rows align with the factual ones.

        Raises
        ------
        acie.errors.NotInvertibleError
            If a descendant of an intervened node (or a softly intervened node) has a
            non-invertible mechanism.
        """
        if interventions is None:
            interventions = active_interventions()
        if not interventions:
            raise InputValidationError(expected_got("interventions", "at least one node", {}))
        self.graph.check_nodes(interventions)
        obs = _columns(observed, set(self.nodes))
        affected: set[str] = set()
        for node in interventions:
            affected |= self.graph.descendants(node)
        affected |= {n for n, v in interventions.items() if is_soft(v)}
        affected -= {n for n, v in interventions.items() if not is_soft(v)}
        order = [n for n in self.nodes if n in affected]
        noise = self.abduct(obs, order)  # abduction (positional: obs holds arrays)
        model = self.do(interventions)  # action
        values: dict[str, np.ndarray] = {}
        n = len(next(iter(obs.values())))
        for node in model.nodes:  # prediction
            mech = model.mechanisms[node]
            if node in affected:
                values[node] = mech(values, noise[node].to_numpy())
            elif node in interventions:
                values[node] = mech(values, np.zeros(n))
            else:
                values[node] = obs[node].copy()
        out = pd.DataFrame({node: values[node] for node in self.nodes}, index=_index(observed))
        out.attrs["units"] = {k: str(v) for k, v in self.units.items()}
        return out


def _index(frame: Any) -> pd.Index | None:
    """The caller's row index when it gave a data frame (results keep it), else None."""
    return frame.index if isinstance(frame, pd.DataFrame) else None


def _check_n(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise InputValidationError(expected_got("n", "a positive integer", n))
    return int(n)


def _columns(observed: pd.DataFrame | Mapping[str, Any], needed: set[str]) -> dict[str, np.ndarray]:
    missing = sorted(c for c in needed if c not in observed)
    if missing:
        raise InputValidationError(
            expected_got(
                "observed data", f"columns {sorted(needed)}", f"no column {', '.join(missing)}"
            )
        )
    cols = {c: np.asarray(observed[c], dtype=float).reshape(-1) for c in needed}
    lengths = {v.shape[0] for v in cols.values()}
    if len(lengths) != 1:
        raise ShapeError(expected_got("observed columns", "one common length", sorted(lengths)))
    bad = [c for c, v in cols.items() if not np.all(np.isfinite(v))]
    if bad:
        raise InputValidationError(
            expected_got("observed data", "finite values", f"NaN/inf in {', '.join(sorted(bad))}")
        )
    return cols
