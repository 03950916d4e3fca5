"""Two-dimensional projections of embedding vectors: UMAP (umap-learn), PCA without it.

Arrays in, arrays out: :func:`project` takes an (n, d) matrix and returns (n, 2)
float32 coordinates. ``method="auto"`` uses UMAP when umap-learn is installed (the
``explorer`` extra) and PCA (scikit-learn) otherwise; the method actually used is
returned with the coordinates, so a cache can key on it. Both are seeded, so the same
input gives the same map.

Columns are standardised (zero mean, unit variance; constant columns left at zero)
before projecting, so properties in different units weigh alike.
"""

from __future__ import annotations

import importlib.util
from enum import StrEnum

import numpy as np

from acie.errors import InputValidationError, ShapeError

__all__ = ["ProjectionMethod", "available_methods", "project", "resolve_method"]

#: most points :func:`project` accepts
MAX_POINTS = 2_000_000


class ProjectionMethod(StrEnum):
    """How :func:`project` reduces to two dimensions."""

    auto = "auto"
    umap = "umap"
    pca = "pca"


def _has_umap() -> bool:
    return importlib.util.find_spec("umap") is not None


def available_methods() -> list[str]:
    """The concrete methods this installation can run (``pca`` always, ``umap`` if installed)."""
    return ["umap", "pca"] if _has_umap() else ["pca"]


def resolve_method(method: str | ProjectionMethod) -> ProjectionMethod:
    """The concrete method ``method`` stands for here (``auto`` → umap if installed, else pca).

    Raises
    ------
    InputValidationError
        Unknown method, or ``umap`` without umap-learn installed.
    """
    try:
        m = ProjectionMethod(method)
    except ValueError:
        raise InputValidationError(
            f"the projection method must be one of {[x.value for x in ProjectionMethod]}; "
            f"got {method!r}"
        ) from None
    if m is ProjectionMethod.auto:
        return ProjectionMethod.umap if _has_umap() else ProjectionMethod.pca
    if m is ProjectionMethod.umap and not _has_umap():
        raise InputValidationError(
            "the projection method 'umap' needs umap-learn (pip install 'acie[explorer]'); "
            "it is not installed here: use 'pca' or 'auto'"
        )
    return m


def _standardise(x: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    std[std == 0] = 1.0
    return ((x - mean) / std).astype(np.float32)


def project(
    vectors: np.ndarray,
    method: str | ProjectionMethod = ProjectionMethod.auto,
    *,
    seed: int = 0,
    n_neighbors: int = 15,
) -> tuple[np.ndarray, ProjectionMethod]:
    """Project ``vectors`` (n, d) to two dimensions.

    Parameters
    ----------
    vectors : array_like, shape (n, d)
        Finite embedding vectors, n >= 3 and d >= 2.
    method : str or ProjectionMethod
        ``auto``, ``umap`` or ``pca``.
    seed : int
        Random state of UMAP (and of PCA's randomised solver).
    n_neighbors : int
        UMAP's neighbourhood size (clipped to n - 1).

    Returns
    -------
    xy : numpy.ndarray, shape (n, 2), float32
    method : ProjectionMethod
        The method used (never ``auto``).

    Raises
    ------
    ShapeError
        Not a 2-D matrix with at least 3 rows and 2 columns, or too many rows.
    InputValidationError
        Non-finite values, or an unavailable method.
    """
    x = np.asarray(vectors, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] < 3 or x.shape[1] < 2 or x.shape[0] > MAX_POINTS:
        raise ShapeError(
            f"a projection needs vectors of shape (n, d) with 3 <= n <= {MAX_POINTS} and "
            f"d >= 2; got {x.shape}"
        )
    if not np.isfinite(x).all():
        raise InputValidationError(
            f"the vectors must be finite; got {int((~np.isfinite(x)).sum())} non-finite values"
        )
    used = resolve_method(method)
    z = _standardise(x)
    if used is ProjectionMethod.umap:
        import umap

        reducer = umap.UMAP(
            n_components=2,
            n_neighbors=max(2, min(n_neighbors, x.shape[0] - 1)),
            random_state=seed,
            n_jobs=1,  # a seeded UMAP is single-threaded anyway; saying so avoids its warning
            init="pca" if x.shape[0] > 3 else "random",
        )
        xy = np.asarray(reducer.fit_transform(z), dtype=np.float32)
    else:
        from sklearn.decomposition import PCA

        xy = np.asarray(PCA(n_components=2, random_state=seed).fit_transform(z), dtype=np.float32)
    return np.ascontiguousarray(xy), used
