"""The embedding quality study: kNN regression of physical properties, dimension scan, report.

Inputs are arrays (no I/O): representations of a reference set and of held-out query
galaxies, and their true properties from the simulator. :func:`property_targets` gives
the properties in the coordinates the R^2 is taken in (log10 of the positive, linear
ones, so a few large values do not dominate); :func:`compare` runs :func:`knn_r2` for
each representation; :func:`dimension_scan` does it for the embedder's first ``d``
principal axes; :func:`report_markdown` writes the tables of ``docs/embeddings.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from acie.embedding.quality import knn_r2
from acie.galaxy.batch import GalaxyBatch
from acie.galaxy.properties import PROPERTY_NAMES

__all__ = ["LOG_TARGETS", "compare", "dimension_scan", "property_targets", "report_markdown"]

#: linear, positive property nodes whose log10 is regressed
LOG_TARGETS = ("age", "sersic_n", "velocity_dispersion")


def property_targets(batch: GalaxyBatch) -> tuple[list[str], np.ndarray]:
    """(names, (n, 11) values): the 10 property nodes (log10 of :data:`LOG_TARGETS`) and redshift."""
    names, cols = [], []
    for k in PROPERTY_NAMES:
        v = np.asarray(batch.properties[k], np.float64)
        if k in LOG_TARGETS:
            names.append(f"log10 {k}")
            cols.append(np.log10(v))
        else:
            names.append(k)
            cols.append(v)
    names.append("redshift")
    cols.append(np.asarray(batch.nuisances["redshift"], np.float64))
    return names, np.column_stack(cols)


def _summary(names: Sequence[str], r2: np.ndarray, se: np.ndarray) -> dict[str, Any]:
    return {
        "r2": {n: float(v) for n, v in zip(names, r2, strict=True)},
        "se": {n: float(v) for n, v in zip(names, se, strict=True)},
        "mean_r2_properties": float(np.mean(r2[: len(PROPERTY_NAMES)])),
    }


def compare(
    representations: Mapping[str, tuple[np.ndarray, np.ndarray, str]],
    reference_y: np.ndarray,
    query_y: np.ndarray,
    names: Sequence[str],
    *,
    k: int = 10,
    n_boot: int = 200,
    seed: int = 0,
) -> dict[str, Any]:
    """Nearest-neighbour R^2 per property for each ``name -> (reference_x, query_x, metric)``."""
    out = {}
    for label, (rx, qx, metric) in representations.items():
        res = knn_r2(rx, reference_y, qx, query_y, k=k, metric=metric, n_boot=n_boot, seed=seed)
        out[label] = {
            "dim": int(np.shape(rx)[1]),
            "metric": metric,
            **_summary(names, res.r2, res.se),
        }
    return out


def dimension_scan(
    project: Callable[[np.ndarray, int], np.ndarray],
    reference_features: np.ndarray,
    query_features: np.ndarray,
    reference_y: np.ndarray,
    query_y: np.ndarray,
    names: Sequence[str],
    dims: Sequence[int],
    *,
    k: int = 10,
    metric: str = "l2",
    n_boot: int = 200,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Nearest-neighbour R^2 of ``project(features, d)`` for each ``d`` in ``dims``."""
    rows = []
    for d in dims:
        res = knn_r2(
            project(reference_features, d),
            reference_y,
            project(query_features, d),
            query_y,
            k=k,
            metric=metric,
            n_boot=n_boot,
            seed=seed,
        )
        rows.append({"dim": int(d), **_summary(names, res.r2, res.se)})
    return rows


def _row(label: str, entry: Mapping[str, Any], names: Sequence[str]) -> str:
    cells = [f"{entry['r2'][n]:.3f} ± {entry['se'][n]:.3f}" for n in names]
    return (
        f"| {label} | {entry['dim']} | {entry['mean_r2_properties']:.3f} | "
        + " | ".join(cells)
        + " |"
    )


def report_markdown(report: Mapping[str, Any]) -> str:
    """Markdown tables of a study report (the dictionary ``acie embed study`` writes)."""
    names = list(report["targets"])
    head = "| representation | dim | mean R² (10 properties) | " + " | ".join(names) + " |"
    rule = "|" + " --- |" * (len(names) + 3)
    lines = [f"## kNN regression R² (k = {report['k']}, held-out galaxies)", "", head, rule]
    lines += [_row(label, e, names) for label, e in report["representations"].items()]
    lines += [
        "",
        "## Dimension scan (contrastive embedder, first d principal axes)",
        "",
        head,
        rule,
    ]
    lines += [_row(f"contrastive, d = {e['dim']}", e, names) for e in report["dimension_scan"]]
    idx = report.get("index")
    if idx:
        lines += [
            "",
            "## In-process index against exact search",
            "",
            "| vectors | dim | index | recall@10 | p50 query [ms] | exact p50 [ms] |",
            "| --- | --- | --- | --- | --- | --- |",
            f"| {idx['n']} | {idx['dim']} | {idx['index']} | {idx['recall_at_10']:.4f} | "
            f"{idx['p50_ms']:.3f} | {idx['exact_p50_ms']:.3f} |",
        ]
    return "\n".join(lines) + "\n"
