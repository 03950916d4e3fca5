"""The identifiability floor of the counterfactual flux error: the best any model can do.

In the simulator (:mod:`acie.galaxy.mechanisms`) the ``log_sfr`` mechanism quenches a
galaxy when the mass-quenched fraction ``f_q(M*)`` (Peng et al. 2010) exceeds the
galaxy's quench draw ``u ~ U(0, 1)``. An image shows only the branch: a star-forming
galaxy has ``u > f_q(M*)``, a quenched one ``u < f_q(M*)``, and nothing in the pixels
tells where ``u`` lies inside that interval (the transition is a logistic of width 0.02
in ``u``, so the branch is all the image shows). Doubling ``M*`` quenches exactly the
star-forming galaxies with ``f_q(M*) < u < f_q(2 M*)``, so no model can know which of
them quench: part of the per-galaxy counterfactual error is irreducible.

:func:`floor_flux_errors` computes that part for a relative intervention on held-out
galaxies. The *oracle* knows every exogenous noise and property of the simulator
exactly, except ``u``, which it must replace by its posterior given the observation:
uniform on ``(f_q(M*), 1)`` for a star-forming galaxy and on ``(0, f_q(M*))`` for a
quenched one (the prior is ``U(0, 1)``; branch as in
:func:`acie.deepscm.evaluation_tasks.star_forming`). Its point counterfactual is scored
like a model's: ``|Δlog F_oracle − Δlog F_true|`` of the image-measured total flux
(:func:`acie.deepscm.evaluation_metrics.flux_delta`, same pixel-noise realisation as
the truth). Three point answers are given per galaxy:

``median``
    the counterfactual image at the posterior median of ``u`` (the most probable branch);
``expected``
    the posterior expectation of the counterfactual flux, ``E_u[F(cf(u))]``;
``midrange``
    the middle, in ``log F``, of the smallest and largest flux over the posterior (the
    answer that minimises the worst-case error of each galaxy);
``quantile``
    the answer built for the 95th percentile (:func:`quantile_answers`): the smallest
    ``t`` for which answers exist whose error exceeds ``t`` with posterior probability
    at most 5 % on average over the galaxies, each galaxy answering the centre of the
    window of half-width ``t`` that holds most of its posterior mass of ``Δlog F``.

The floor of a statistic (median, 95th percentile) is the smallest over the four,
measured against the true counterfactuals: no model that sees only the image knows more
about ``u`` than this oracle, and the ``quantile`` answer is the posterior-optimal one
for the 95th percentile, so a model reaching a smaller 95th percentile on many galaxies
would be guessing better than the posterior allows. The expectation over ``u`` is a midpoint rule with
``n_nodes`` nodes on the posterior interval; a galaxy is rendered again only where the
counterfactual properties change between consecutive nodes (by more than ``1e-6`` in
any property unit), so galaxies whose branch cannot change cost one rendering.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from acie.errors import InputValidationError, expected_got

if TYPE_CHECKING:
    from acie.galaxy.batch import GalaxyBatch
    from acie.galaxy.simulator import GalaxySimulator

__all__ = [
    "STRATEGIES",
    "FloorFluxes",
    "floor_flux_errors",
    "oracle_fluxes",
    "quantile_answers",
    "quench_posterior",
]

#: The oracle's point answers (module docstring).
STRATEGIES = ("median", "expected", "midrange", "quantile")

#: A counterfactual property change below this [property unit] counts as no change.
_SAME = 1e-6


def quench_posterior(batch: GalaxyBatch) -> tuple[np.ndarray, np.ndarray]:
    """Interval ``(lo, hi)`` (n,) of the quench draw's posterior given the observed branch."""
    from acie.galaxy.relations import quenched_fraction_peng10

    f_q = quenched_fraction_peng10(np.asarray(batch.properties["log_stellar_mass"]))
    sf = f_q < np.asarray(batch.noise["quench"])
    return np.where(sf, f_q, 0.0), np.where(sf, 1.0, f_q)


@dataclass(frozen=True)
class FloorFluxes:
    """Total flux (n,) in one band of the oracle's counterfactuals [image units].

    ``median``: at the posterior-median draw; ``expected``: the posterior mean;
    ``low`` / ``high``: the smallest / largest over the posterior's nodes;
    ``nodes``: (n, n_nodes) the flux at each equally weighted node of the posterior;
    ``renders``: galaxy renderings it took.
    """

    median: np.ndarray
    expected: np.ndarray
    low: np.ndarray
    high: np.ndarray
    nodes: np.ndarray
    renders: int


def _with_draw(batch: GalaxyBatch, u: np.ndarray) -> GalaxyBatch:
    return replace(batch, noise={**batch.noise, "quench": np.asarray(u, dtype=np.float64)})


def _stamp_flux(images: np.ndarray, band: int) -> np.ndarray:
    from acie.galaxy.measure import total_flux

    return np.asarray(total_flux(np.asarray(images)[:, band]), dtype=np.float64)[:, 0]


def oracle_fluxes(
    simulator: GalaxySimulator,
    batch: GalaxyBatch,
    interventions: Mapping[str, np.ndarray],
    band: int,
    *,
    n_nodes: int = 32,
) -> FloorFluxes:
    """The oracle's counterfactual fluxes under ``do(interventions)`` (module docstring).

    Parameters
    ----------
    simulator : GalaxySimulator
        The simulator that made ``batch``.
    batch : GalaxyBatch
        The factual galaxies (true exogenous noise and properties).
    interventions : mapping of str to ndarray (n,)
        Absolute targets per galaxy, property units.
    band : int
        Band index of the flux.
    n_nodes : int
        Midpoint nodes of the posterior of the quench draw, >= 1.
    """
    if isinstance(n_nodes, bool) or not isinstance(n_nodes, int) or n_nodes < 1:
        raise InputValidationError(expected_got("n_nodes", "an integer >= 1", n_nodes))
    n = len(batch)
    lo, hi = quench_posterior(batch)
    ivs = {k: np.asarray(v, dtype=np.float64) for k, v in interventions.items()}
    median = _stamp_flux(
        simulator.counterfactual(_with_draw(batch, 0.5 * (lo + hi)), ivs).images, band
    )
    renders = n
    nodes = np.zeros((n, n_nodes))
    last_props: dict[str, np.ndarray] | None = None
    last_flux = np.full(n, np.nan)
    for k in range(n_nodes):
        u = lo + (hi - lo) * (k + 0.5) / n_nodes
        probe = simulator.counterfactual(_with_draw(batch, u), ivs, render=False).properties
        if last_props is None:
            todo = np.ones(n, dtype=bool)
        else:
            todo = np.zeros(n, dtype=bool)
            for name, v in probe.items():
                todo |= ~(np.abs(np.asarray(v) - last_props[name]) <= _SAME)
        idx = np.flatnonzero(todo)
        if idx.size:
            sub = batch[idx]
            sub_ivs = {name: v[idx] for name, v in ivs.items()}
            cf = simulator.counterfactual(_with_draw(sub, u[idx]), sub_ivs)
            last_flux[idx] = _stamp_flux(cf.images, band)
            renders += idx.size
        last_props = {name: np.asarray(v, dtype=np.float64) for name, v in probe.items()}
        nodes[:, k] = last_flux
    return FloorFluxes(
        median=median,
        expected=nodes.mean(axis=1),
        low=nodes.min(axis=1),
        high=nodes.max(axis=1),
        nodes=nodes,
        renders=renders,
    )


def _window_mass(d: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray]:
    """Largest posterior fraction (n,) in a window of width ``2 t``, and its centre (n,).

    ``d`` (n, K): each row sorted, equally weighted nodes.
    """
    n, k = d.shape
    hi = np.stack([np.searchsorted(row, row + 2.0 * t, side="right") for row in d])
    count = hi - np.arange(k)[None, :]
    j = np.argmax(count, axis=1)
    rows = np.arange(n)
    last = d[rows, np.clip(hi[rows, j] - 1, 0, k - 1)]
    return count[rows, j] / k, 0.5 * (d[rows, j] + last)


def quantile_answers(
    deltas: np.ndarray, q: float = 0.95, *, iterations: int = 50
) -> tuple[np.ndarray, float]:
    """Answers (n,) that minimise the posterior-expected ``q`` quantile of the error.

    ``deltas`` (n, K): each galaxy's counterfactual ``Δlog F`` at ``K`` equally
    weighted posterior nodes (rows with a NaN answer NaN). Returns the answers and
    ``t``: the smallest half-width (bisection, ``iterations`` steps) for which the
    windows of half-width ``t`` with the most posterior mass leave, on average over the
    galaxies, at most ``1 - q`` of the mass outside.
    """
    d = np.sort(np.asarray(deltas, dtype=np.float64), axis=1)
    ok = np.all(np.isfinite(d), axis=1)
    out = np.full(d.shape[0], np.nan)
    if not ok.any():
        return out, float("nan")
    d = d[ok]
    lo, hi = 0.0, float(np.max(d[:, -1] - d[:, 0])) + 1e-12
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        mass, _ = _window_mass(d, mid)
        lo, hi = (lo, mid) if np.mean(1.0 - mass) <= 1.0 - q else (mid, hi)
    _, centre = _window_mass(d, hi)
    out[ok] = centre
    return out, hi


def floor_flux_errors(
    simulator: GalaxySimulator,
    batch: GalaxyBatch,
    interventions: Mapping[str, np.ndarray],
    true_images: np.ndarray,
    band: int,
    *,
    n_nodes: int = 32,
) -> dict[str, np.ndarray]:
    """Per-galaxy ``|Δlog F_oracle − Δlog F_true|`` [dex] (n,) of each of :data:`STRATEGIES`.

    ``true_images`` are the simulator's exact counterfactuals of ``batch`` under
    ``interventions`` (the same that the model is scored against).
    """

    def log_ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where((a > 0) & (b > 0), np.log10(np.abs(a) / np.abs(b)), np.nan)

    f_x = _stamp_flux(batch.images, band)
    d_true = log_ratio(_stamp_flux(true_images, band), f_x)
    fl = oracle_fluxes(simulator, batch, interventions, band, n_nodes=n_nodes)
    mid = 0.5 * (log_ratio(fl.low, f_x) + log_ratio(fl.high, f_x))
    best, _ = quantile_answers(log_ratio(fl.nodes, f_x[:, None]))
    return {
        "median": np.abs(log_ratio(fl.median, f_x) - d_true),
        "expected": np.abs(log_ratio(fl.expected, f_x) - d_true),
        "midrange": np.abs(mid - d_true),
        "quantile": np.abs(best - d_true),
    }
