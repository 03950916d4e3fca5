"""Unit counterfactuals through non-invertible (discrete) mechanisms, by posterior sampling.

:meth:`~acie.causal.scm.StructuralCausalModel.counterfactual` needs every affected
node's noise to be a function of its value and parents, and refuses otherwise. For a
discrete node (a :class:`~acie.causal.mechanisms.ClassifierMechanism`, a threshold
:class:`~acie.causal.mechanisms.FunctionalMechanism`) many noise values give the same
observed value: the unit's noise is not a number but a posterior distribution,

    p(u | x, pa) ∝ p(u) · 1[f(pa, u) = x],

and, because every node's parents are observed in the factual world, the posterior
factorises over nodes. :func:`sample_counterfactual` draws it by rejection (prior draws
kept when they reproduce the observed value), uses exact abduction for invertible
nodes, and pushes each draw through the intervened model: abduction–action–prediction
with a distribution per unit (Pearl, *Causality*, 2009, §7.1.1, "probabilistic
counterfactuals"). For binary X and Y the averages over units of P(Y_{x'} = y' | x, y)
are the probabilities of causation that :mod:`acie.causal.causation_bounds` bounds
from data alone.

Continuous non-invertible nodes have zero acceptance and are refused with
:class:`~acie.errors.NotInvertibleError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from acie.causal.intervention import is_soft
from acie.causal.scm import StructuralCausalModel
from acie.errors import InputValidationError, NotInvertibleError, expected_got

__all__ = ["CounterfactualSamples", "sample_counterfactual"]


@dataclass(frozen=True)
class CounterfactualSamples:
    """Posterior draws of each unit's counterfactual values.

    Attributes
    ----------
    samples : dict of str to ndarray, shape (n_units, n_samples)
        Draws per node.
    index : pandas.Index
        The caller's row labels.
    accepted : dict of str to ndarray
        Prior draws accepted per unit for each node sampled by rejection (before
        resampling to ``n_samples``); small counts mean a rough posterior.
    """

    samples: dict[str, np.ndarray]
    index: pd.Index
    accepted: dict[str, np.ndarray] = field(default_factory=dict)

    def mean(self) -> pd.DataFrame:
        """Posterior mean of each node per unit, indexed like the input rows."""
        return pd.DataFrame({k: v.mean(axis=1) for k, v in self.samples.items()}, index=self.index)

    def probability(self, node: str, value: float) -> pd.Series:
        """Posterior probability that ``node`` equals ``value``, per unit."""
        if node not in self.samples:
            raise InputValidationError(expected_got("node", f"one of {sorted(self.samples)}", node))
        return pd.Series((self.samples[node] == value).mean(axis=1), index=self.index, name=node)


def sample_counterfactual(
    scm: StructuralCausalModel,
    observed: pd.DataFrame,
    interventions: Mapping[str, Any],
    *,
    n_samples: int = 1000,
    max_draws: int = 1_000_000,
    atol: float = 1e-9,
    seed: int | np.random.Generator | None = 0,
) -> CounterfactualSamples:
    """Sample each unit's counterfactual under ``interventions`` from the noise posterior.

    Parameters
    ----------
    scm : StructuralCausalModel
        The model.
    observed : pandas.DataFrame
        Factual values of every node, one row per unit (the index is kept).
    interventions : mapping
        Hard values or soft transforms, as in :meth:`StructuralCausalModel.do`.
    n_samples : int
        Posterior draws per unit.
    max_draws : int
        Most prior draws per unit and node before giving up.
    atol : float
        A prior draw is accepted when it reproduces the observed value within ``atol``.
    seed : int or numpy Generator, optional
        Seed of the draws.

    Returns
    -------
    CounterfactualSamples

    Raises
    ------
    acie.errors.NotInvertibleError
        If no prior draw reproduces a unit's observed value of a non-invertible node
        (a continuous non-invertible mechanism, or a value the model gives probability 0).
    """
    if not isinstance(observed, pd.DataFrame):
        raise InputValidationError(
            expected_got("observed", "a pandas DataFrame", type(observed).__name__)
        )
    if not interventions:
        raise InputValidationError(expected_got("interventions", "at least one node", {}))
    if n_samples < 1 or max_draws < n_samples:
        raise InputValidationError(
            expected_got(
                "n_samples, max_draws", "1 ≤ n_samples ≤ max_draws", (n_samples, max_draws)
            )
        )
    scm.graph.check_nodes(interventions)
    missing = [n for n in scm.nodes if n not in observed.columns]
    if missing:
        raise InputValidationError(
            expected_got("observed", f"a column for every node {list(scm.nodes)}", f"no {missing}")
        )
    obs = {n: observed[n].to_numpy(dtype=float) for n in scm.nodes}
    if not all(np.all(np.isfinite(v)) for v in obs.values()):
        raise InputValidationError(expected_got("observed", "finite values", "NaN or inf"))
    rng = np.random.default_rng(seed)
    m, s = len(observed), n_samples
    affected: set[str] = set()
    for node in interventions:
        affected |= scm.graph.descendants(node)
    affected |= {n for n, v in interventions.items() if is_soft(v)}
    affected -= {n for n, v in interventions.items() if not is_soft(v)}
    noise: dict[str, np.ndarray] = {}
    accepted: dict[str, np.ndarray] = {}
    for node in (n for n in scm.nodes if n in affected):  # abduction
        mech = scm.mechanisms[node]
        if mech.invertible:
            u = np.asarray(mech.abduct(obs, obs[node]), dtype=float)
            noise[node] = np.repeat(u, s)
        else:
            noise[node], accepted[node] = _rejection(scm, node, obs, s, max_draws, atol, rng)
    model = scm.do(interventions)  # action
    values: dict[str, np.ndarray] = {}
    for node in model.nodes:  # prediction, m·s rows (unit-major)
        if node in affected:
            values[node] = model.mechanisms[node](values, noise[node])
        elif node in interventions:
            values[node] = model.mechanisms[node](values, np.zeros(m * s))
        else:
            values[node] = np.repeat(obs[node], s)
    samples = {n: np.asarray(values[n], dtype=float).reshape(m, s) for n in scm.nodes}
    return CounterfactualSamples(samples, observed.index, accepted)


def _rejection(
    scm: StructuralCausalModel,
    node: str,
    obs: dict[str, np.ndarray],
    s: int,
    max_draws: int,
    atol: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """``s`` posterior noise draws per unit for ``node``, unit-major, and acceptance counts."""
    mech = scm.mechanisms[node]
    m = obs[node].shape[0]
    kept: list[list[np.ndarray]] = [[] for _ in range(m)]
    count = np.zeros(m, dtype=int)
    drawn = np.zeros(m, dtype=int)
    batch = max(s, 64)
    while True:
        need = np.flatnonzero((count < s) & (drawn < max_draws))
        if need.size == 0:
            break
        rows = np.repeat(need, batch)
        u = np.asarray(scm.noise[node].rvs(size=rows.size, random_state=rng), dtype=float).reshape(
            -1
        )
        parents = {p: obs[p][rows] for p in mech.parents}
        ok = np.abs(mech(parents, u) - obs[node][rows]) <= atol
        hit_rows, hit_u = rows[ok], u[ok]  # rows is sorted, so are the hits
        if hit_rows.size:
            units, starts = np.unique(hit_rows, return_index=True)
            for i, part in zip(units, np.split(hit_u, starts[1:]), strict=True):
                kept[i].append(part)
        np.add.at(count, rows[ok], 1)
        drawn[need] += batch
        batch = min(batch * 2, max_draws)
    if np.any(count == 0):
        bad = int(np.flatnonzero(count == 0)[0])
        raise NotInvertibleError(
            f"cannot sample the noise posterior of {node!r}: none of {drawn[bad]:,} prior draws "
            f"reproduces the observed value {obs[node][bad]:g} of row {bad} (a continuous "
            "non-invertible mechanism, or a value of probability 0 under the model)"
        )
    out = np.empty((m, s))
    for i in range(m):
        draws = np.concatenate(kept[i])
        out[i] = draws[:s] if draws.size >= s else rng.choice(draws, s, replace=True)
    return out.reshape(-1), count
