"""Quality measures of embeddings: kNN regression R^2 with bootstrap errors, index recall.

A good galaxy embedding puts galaxies with similar physical properties close together.
:func:`knn_r2` measures that: each held-out query galaxy's properties are predicted as
the mean of its ``k`` nearest reference galaxies' properties (exact search), and the
coefficient of determination ``R^2 = 1 - sum (y - y_hat)^2 / sum (y - mean y)^2`` is
reported per property, with a bootstrap standard error over the query galaxies (the
sampling error of the held-out set; the reference set is held fixed).
:func:`recall_at_k` compares an approximate index's neighbours with exact ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from acie.errors import InputValidationError, ShapeError, UnknownNameError, expected_got

__all__ = ["KnnR2", "knn_indices", "knn_r2", "r2_score", "recall_at_k"]


def r2_score(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Coefficient of determination per column of (n, p) arrays (or (n,) arrays)."""
    t = np.asarray(y_true, np.float64)
    p = np.asarray(y_pred, np.float64)
    if t.shape != p.shape or t.ndim not in (1, 2) or t.shape[0] < 2:
        raise ShapeError(
            expected_got(
                "y_true, y_pred", "equal shapes (n >= 2,) or (n >= 2, p)", (t.shape, p.shape)
            )
        )
    ss_res = ((t - p) ** 2).sum(axis=0)
    ss_tot = ((t - t.mean(axis=0)) ** 2).sum(axis=0)
    if np.any(ss_tot == 0):
        raise InputValidationError("R^2 is undefined for a constant target column")
    return 1.0 - ss_res / ss_tot


def knn_indices(
    reference: np.ndarray, query: np.ndarray, k: int, *, metric: str = "l2", chunk: int = 1024
) -> np.ndarray:
    """Exact ``k`` nearest reference rows of each query row, nearest first: (m, k) int64."""
    r = np.asarray(reference, np.float64)
    q = np.asarray(query, np.float64)
    if r.ndim != 2 or q.ndim != 2 or r.shape[1] != q.shape[1]:
        raise ShapeError(expected_got("reference, query", "(n, d) and (m, d)", (r.shape, q.shape)))
    if not 1 <= k <= len(r):
        raise InputValidationError(expected_got("k", f"an integer in [1, {len(r)}]", k))
    if metric == "cosine":
        r = r / np.linalg.norm(r, axis=1, keepdims=True)
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
    elif metric != "l2":
        raise UnknownNameError(f"metric must be 'l2' or 'cosine'; got {metric!r}")
    rr = (r**2).sum(axis=1)
    out = np.empty((len(q), k), np.int64)
    for s in range(0, len(q), chunk):
        d2 = rr[None, :] - 2.0 * q[s : s + chunk] @ r.T
        part = np.argpartition(d2, k - 1, axis=1)[:, :k]
        order = np.take_along_axis(d2, part, axis=1).argsort(axis=1, kind="stable")
        out[s : s + chunk] = np.take_along_axis(part, order, axis=1)
    return out


@dataclass(frozen=True)
class KnnR2:
    """R^2 per property (p,), its bootstrap standard error (p,), and the predictions (m, p)."""

    r2: np.ndarray
    se: np.ndarray
    predictions: np.ndarray


def knn_r2(
    reference_x: np.ndarray,
    reference_y: np.ndarray,
    query_x: np.ndarray,
    query_y: np.ndarray,
    *,
    k: int = 10,
    metric: str = "l2",
    n_boot: int = 200,
    seed: int = 0,
) -> KnnR2:
    """kNN-regression R^2 of ``query_y`` (m, p) from the ``k`` nearest references' ``y``.

    The standard error is the standard deviation of R^2 over ``n_boot`` bootstrap
    resamples of the query rows (seeded by ``seed``).
    """
    ry = np.asarray(reference_y, np.float64)
    qy = np.asarray(query_y, np.float64)
    if ry.ndim != 2 or len(ry) != len(reference_x) or qy.shape != (len(query_x), ry.shape[1]):
        raise ShapeError(
            expected_got(
                "reference_y, query_y",
                "(n, p) and (m, p) matching the x rows",
                (ry.shape, qy.shape),
            )
        )
    idx = knn_indices(reference_x, query_x, k, metric=metric)
    pred = ry[idx].mean(axis=1)
    r2 = r2_score(qy, pred)
    rng = np.random.default_rng(seed)
    boots = np.array(
        [r2_score(qy[b], pred[b]) for b in rng.integers(0, len(qy), (n_boot, len(qy)))]
    )
    se = boots.std(axis=0, ddof=1) if n_boot > 1 else np.full_like(r2, np.nan)
    return KnnR2(r2=r2, se=se, predictions=pred)


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean fraction of each row of ``truth`` (m, k) that appears in the same row of ``found``."""
    f = np.asarray(found)
    t = np.asarray(truth)
    if f.ndim != 2 or t.ndim != 2 or len(f) != len(t) or t.shape[1] == 0:
        raise ShapeError(
            expected_got("found, truth", "(m, k') and (m, k) arrays", (f.shape, t.shape))
        )
    hits = [len(set(a.tolist()) & set(b.tolist())) for a, b in zip(f, t, strict=True)]
    return float(np.mean(hits) / t.shape[1])
