"""What an intervention does to a selected population: targets, distributions, mean shifts.

The explorer's selection counterfactual (``POST /v1/explorer/selection/counterfactual``)
applies one intervention to every galaxy of a brushed population (or to a simple random
sample of it) and summarises the model's answer:

- :func:`intervention_targets`: each galaxy's new value from its own value (``value``,
  ``shift`` or ``factor``; a factor on a ``log_*`` node is a shift by ``log10(factor)``);
- :func:`property_histograms`: before/after counts on shared edges, per property;
- :func:`mean_shifts`: the mean paired change ``after − before`` with its standard error
  (finite-population corrected when the sample is drawn from a finite selection) and a
  95 % Student-t interval;
- :func:`sample_ids`: the seeded simple random sample.

Pure functions of arrays; no model, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from acie.errors import InputValidationError, expected_got

__all__ = [
    "INTERVENTION_FORMS",
    "block_mean",
    "intervention_targets",
    "mean_shifts",
    "property_histograms",
    "sample_ids",
]

#: how an intervention gives a galaxy its new value
INTERVENTION_FORMS = ("value", "shift", "factor")


def intervention_targets(name: str, form: str, amount: float, current: np.ndarray) -> np.ndarray:
    """New values of property ``name`` for galaxies whose values are ``current``.

    Parameters
    ----------
    name : str
        Property node; ``log_*`` nodes are in dex.
    form : {"value", "shift", "factor"}
        Set every galaxy to ``amount``; add ``amount`` (in the property's unit); multiply
        the physical quantity by ``amount`` (> 0; on a ``log_*`` node: add ``log10(amount)``).
    amount : float
        Finite.
    current : ndarray (n,)

    Raises
    ------
    InputValidationError
        Unknown form, non-finite amount, factor <= 0.
    """
    if form not in INTERVENTION_FORMS:
        raise InputValidationError(expected_got("intervention form", str(INTERVENTION_FORMS), form))
    if isinstance(amount, bool) or not np.isfinite(amount):
        raise InputValidationError(expected_got(f"intervention {form}", "a finite number", amount))
    cur = np.asarray(current, dtype=np.float64)
    if form == "value":
        return np.full(cur.shape, float(amount))
    if form == "shift":
        return cur + float(amount)
    if not amount > 0:
        raise InputValidationError(expected_got("intervention factor", "a number > 0", amount))
    if name.startswith("log_"):
        return cur + np.log10(float(amount))
    return cur * float(amount)


def sample_ids(ids: np.ndarray, size: int, seed: int) -> np.ndarray:
    """A simple random sample (without replacement) of ``size`` of ``ids``, sorted.

    All of ``ids`` when there are at most ``size``; seeded by ``seed``.
    """
    ids = np.unique(np.asarray(ids, dtype=np.int64))
    if ids.size <= size:
        return ids
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(ids, size=size, replace=False))


def property_histograms(
    before: Mapping[str, np.ndarray], after: Mapping[str, np.ndarray], bins: int
) -> dict[str, dict[str, list[float] | list[int]]]:
    """Before/after counts of each property on ``bins`` shared, equal-width bins.

    Edges span the finite values of both; a property with one value gets a unit-wide bin
    range around it. Non-finite values are not counted.
    """
    out: dict[str, dict[str, Any]] = {}
    for name in before:
        b = np.asarray(before[name], dtype=np.float64)
        a = np.asarray(after[name], dtype=np.float64)
        both = np.concatenate([b, a])
        both = both[np.isfinite(both)]
        if both.size == 0:
            continue
        lo, hi = float(both.min()), float(both.max())
        if not hi > lo:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, int(bins) + 1)
        out[name] = {
            "edges": edges.tolist(),
            "before": np.histogram(b[np.isfinite(b)], edges)[0].astype(int).tolist(),
            "after": np.histogram(a[np.isfinite(a)], edges)[0].astype(int).tolist(),
        }
    return out


def mean_shifts(
    before: Mapping[str, np.ndarray],
    after: Mapping[str, np.ndarray],
    *,
    population: int | None = None,
) -> dict[str, dict[str, Any]]:
    """Mean paired change per property, its standard error and 95 % Student-t interval.

    Parameters
    ----------
    before, after : mapping of str to ndarray (n,)
        The same galaxies, in the same order.
    population : int, optional
        Size ``N`` of the selection the galaxies are a simple random sample of; the
        standard error then carries the finite-population correction
        ``sqrt((N - n) / (N - 1))`` (0 when the sample is the whole selection).

    Returns
    -------
    dict
        ``{name: {"mean", "se", "ci95": [lo, hi], "n"}}``; ``se`` and ``ci95`` are
        ``None`` with fewer than two galaxies.
    """
    from scipy import stats

    out: dict[str, dict[str, Any]] = {}
    for name in before:
        d = np.asarray(after[name], dtype=np.float64) - np.asarray(before[name], dtype=np.float64)
        d = d[np.isfinite(d)]
        n = int(d.size)
        if n == 0:
            continue
        mean = float(d.mean())
        if n < 2:
            out[name] = {"mean": mean, "se": None, "ci95": None, "n": n}
            continue
        se = float(d.std(ddof=1) / np.sqrt(n))
        if population is not None and population > 1:
            se *= float(np.sqrt(max(population - n, 0) / (population - 1)))
        half = float(stats.t.ppf(0.975, n - 1)) * se
        out[name] = {"mean": mean, "se": se, "ci95": [mean - half, mean + half], "n": n}
    return out


def block_mean(image: np.ndarray, factor: int) -> np.ndarray:
    """An image ``(C, H, W)`` reduced by ``factor`` in each axis (mean of each block).

    Rows and columns beyond the last whole block are dropped.
    """
    c, h, w = image.shape
    hh, ww = h // factor, w // factor
    img = np.asarray(image[:, : hh * factor, : ww * factor], dtype=np.float32)
    return img.reshape(c, hh, factor, ww, factor).mean(axis=(2, 4))
