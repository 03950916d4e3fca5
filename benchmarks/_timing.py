"""Timing helpers shared by the benchmark scripts (run as ``python benchmarks/bench_*.py``)."""

from __future__ import annotations

import time
from collections.abc import Callable


def run_times(fn: Callable[[], object], repeat: int) -> list[float]:
    """Wall-clock seconds of ``repeat`` calls of ``fn``."""
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def best_of(fn: Callable[[], object], repeat: int) -> float:
    """The fastest of ``repeat`` calls, in seconds (the least disturbed by other load)."""
    return min(run_times(fn, repeat))


def percentile(xs: list[float], q: float) -> float:
    """The ``q`` quantile (0–1) of ``xs`` by nearest rank."""
    return sorted(xs)[min(len(xs) - 1, int(q * len(xs)))]
