"""Halo Monte Carlo reach scans as independent, seeded tasks (draws × masses).

A scan of ``n_draws`` halo draws over ``n_masses`` masses is cut into tasks of at most
``draws_per_task`` draws and ``masses_per_task`` masses. Task (k, j) draws its own halos
from ``default_rng(SeedSequence([seed, k]))`` (one stream per draw chunk k, the same for
every mass chunk j) and evaluates the vectorised reach
(:func:`~acie.darkmatter.halo_mc.electron_reach_draws` or
:func:`~acie.darkmatter.halo_mc.nuclear_reach_draws`) of those draws at its masses. The
tasks, their seeds and their array shapes depend only on ``(n_draws, seed,
draws_per_task, masses_per_task)``, never on where they run, so the assembled
(n_draws, n_masses) array is bit-identical in one process, over local processes or on a
Dask cluster of any size. A worker's memory holds one task: ~1024 × draws_per_task
floats of η plus its (draws × masses) result.

Tasks run through ``map_tasks(fn, items, **common)``, any callable that yields
``fn(item, **common)`` in item order (e.g. an :class:`acie.compute.executor.Executor`);
without it they run here, one after the other.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import astropy.units as u
import numpy as np

from acie.darkmatter.halo_mc import electron_reach_draws, nuclear_reach_draws
from acie.darkmatter.halo_parameters import HaloParameters, resolve_halo
from acie.darkmatter.uncertainty import Distribution, sample_halo_arrays
from acie.errors import InputValidationError, expected_got

__all__ = ["ScanTask", "reach_scan", "scan_tasks"]

MapTasks = Callable[..., Iterable[Any]]
ScanTask = tuple[int, int, int, int, int]  # (draw chunk k, first draw, n draws, mass lo, hi)


def _serial(fn: Callable[..., Any], items: Iterable[Any], /, **common: Any):
    for item in items:
        yield fn(item, **common)


def scan_tasks(
    n_draws: int, n_masses: int, *, draws_per_task: int = 1000, masses_per_task: int | None = None
) -> list[ScanTask]:
    """The tasks of a scan: ``(k, first draw, n draws, first mass, end mass)``.

    Draw chunks are as equal as possible (``numpy.array_split``), each >= 2 draws.
    """
    for name, v in (("n_draws", n_draws), ("draws_per_task", draws_per_task)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 2:
            raise InputValidationError(expected_got(name, "an integer >= 2", v))
    mpt = n_masses if masses_per_task is None else masses_per_task
    if isinstance(mpt, bool) or not isinstance(mpt, (int, np.integer)) or mpt < 1:
        raise InputValidationError(expected_got("masses_per_task", "an integer >= 1", mpt))
    n_chunks = -(-int(n_draws) // int(draws_per_task))
    sizes = [len(a) for a in np.array_split(np.arange(n_draws), n_chunks)]
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return [
        (k, int(starts[k]), sizes[k], lo, min(lo + int(mpt), n_masses))
        for k in range(n_chunks)
        for lo in range(0, n_masses, int(mpt))
    ]


def _run_task(
    task: ScanTask,
    *,
    evaluate: Callable[..., u.Quantity],
    masses: u.Quantity,
    base: HaloParameters,
    distributions: Mapping[str, Distribution],
    seed: int,
) -> np.ndarray:
    k, _, n, lo, hi = task
    stream = int(np.random.SeedSequence([int(seed), int(k)]).generate_state(1)[0])
    draws = sample_halo_arrays(base, distributions, n, seed=stream)
    return np.asarray(evaluate(masses[lo:hi], draws=draws).to_value(u.cm**2))


def reach_scan(
    channel: str,
    masses,
    exposure,
    distributions: Mapping[str, Distribution],
    n_draws: int,
    *,
    seed: int = 0,
    base: HaloParameters | str | None = None,
    table=None,
    draws_per_task: int = 1000,
    masses_per_task: int | None = None,
    map_tasks: MapTasks | None = None,
    **options: Any,
) -> u.Quantity:
    """Reach of ``n_draws`` seeded halo draws at every mass, cm², shape (n_draws, n_masses).

    Parameters
    ----------
    channel : {"electron", "nuclear"}
    masses : Quantity (n_m,)
        Energy/mass units (electron: e.g. MeV; nuclear: GeV).
    exposure : Quantity ['mass' × 'time']
    distributions : mapping of str to Distribution
        As for :func:`acie.darkmatter.uncertainty.sample_halo_arrays`.
    n_draws : int
        Halo draws (>= 2).
    seed : int
        Root seed; draw chunk k uses ``SeedSequence([seed, k])``.
    base : HaloParameters or name
    table : FormFactorTable
        Electron channel only.
    draws_per_task, masses_per_task : int
        Task size (see :func:`scan_tasks`); results depend on them, not on the backend.
    map_tasks : callable, optional
        ``map_tasks(fn, items, **common)`` yielding results in order; default: here.
    **options
        Passed on: ``signal_limit`` (required) and the channel's options.

    Returns
    -------
    Quantity, cm², (n_draws, n_masses)
    """
    h = resolve_halo(base)
    m = u.Quantity(masses).ravel()
    if channel == "electron":
        if table is None:
            raise InputValidationError(expected_got("table", "a FormFactorTable", table))
        evaluate = functools.partial(electron_reach_draws, table, base=h, **options)
        evaluate = functools.partial(_electron, evaluate, exposure=exposure)
    elif channel == "nuclear":
        evaluate = functools.partial(_nuclear, exposure=exposure, base=h, **options)
    else:
        raise InputValidationError(expected_got("channel", "'electron' or 'nuclear'", channel))
    tasks = scan_tasks(
        n_draws, m.size, draws_per_task=draws_per_task, masses_per_task=masses_per_task
    )
    out = np.empty((int(n_draws), m.size))
    runner = map_tasks or _serial
    results = runner(
        _run_task,
        tasks,
        evaluate=evaluate,
        masses=m,
        base=h,
        distributions=dict(distributions),
        seed=int(seed),
    )
    for (_, first, n, lo, hi), arr in zip(tasks, results, strict=True):
        out[first : first + n, lo:hi] = arr
    return out * u.cm**2


def _electron(evaluate, masses, *, draws, exposure):
    return evaluate(masses, exposure, draws)


def _nuclear(masses, *, draws, exposure, **options):
    return nuclear_reach_draws(masses, exposure, draws, **options)
