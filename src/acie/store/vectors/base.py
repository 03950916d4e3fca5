"""The vector-index interface both backends offer, and its input validation.

Distances: ``"l2"`` is the Euclidean distance; ``"cosine"`` is ``1 − cos θ``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

import numpy as np

from acie.errors import InputValidationError, ShapeError
from acie.store.vectors.filters import FilterSpec

__all__ = [
    "Hit",
    "Metric",
    "VectorIndex",
    "as_matrix",
    "as_query",
    "check_dim",
    "check_k",
    "normalise_inputs",
]


class Metric(StrEnum):
    """Distance of a vector index."""

    l2 = "l2"
    cosine = "cosine"


@dataclass(frozen=True)
class Hit:
    """One search result: id, distance (see the module docstring), metadata and content."""

    id: uuid.UUID
    distance: float
    metadata: dict[str, Any] = field(default_factory=dict)
    content: dict[str, Any] | None = None


@runtime_checkable
class VectorIndex(Protocol):
    """What both vector backends offer."""

    dim: int
    metric: Metric

    def add(
        self,
        ids: Sequence[uuid.UUID | str] | None,
        vectors: Any,
        metadata: Sequence[Mapping[str, Any]] | None = None,
        *,
        contents: Sequence[Mapping[str, Any]] | None = None,
    ) -> list[uuid.UUID]:
        """Add vectors (shape ``(n, dim)``) with optional ids, metadata and content."""
        ...

    def search(self, vector: Any, k: int = 10, *, filters: FilterSpec = None) -> list[Hit]:
        """The ``k`` nearest vectors that pass ``filters``, nearest first."""
        ...

    def build(self) -> dict[str, Any]:
        """Build the approximate index when none is built yet; returns its description."""
        ...

    def rebuild(self) -> dict[str, Any]:
        """Rebuild the approximate index from scratch on the current vectors."""
        ...

    def __len__(self) -> int: ...


def check_dim(dim: Any) -> int:
    """A vector dimension: an integer in [1, 16000] (pgvector's limit)."""
    if isinstance(dim, bool) or not isinstance(dim, int) or not 1 <= dim <= 16_000:
        raise InputValidationError(f"dim must be an integer in [1, 16000]; got {dim!r}")
    return dim


def as_matrix(vectors: Any, dim: int) -> np.ndarray:
    """Vectors as a contiguous float32 ``(n, dim)`` matrix (one vector may be 1-D)."""
    arr = np.asarray(vectors, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise ShapeError(f"vectors must have shape (n, {dim}); got {np.shape(vectors)}")
    if not np.all(np.isfinite(arr)):
        raise InputValidationError("vectors must be finite (no NaN or inf)")
    return np.ascontiguousarray(arr)


def as_query(vector: Any, dim: int) -> np.ndarray:
    """One finite float32 query vector of shape ``(dim,)``."""
    q = np.asarray(vector, dtype=np.float32)
    if q.shape != (dim,):
        raise ShapeError(f"a query vector must have shape ({dim},); got {q.shape}")
    if not np.all(np.isfinite(q)):
        raise InputValidationError("the query vector must be finite (no NaN or inf)")
    return q


def check_k(k: Any) -> int:
    """The number of neighbours asked for: a positive integer."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InputValidationError(f"k must be a positive integer; got {k!r}")
    return int(k)


def normalise_inputs(
    ids: Sequence[Any] | None,
    n: int,
    metadata: Sequence[Mapping[str, Any]] | None,
    contents: Sequence[Mapping[str, Any]] | None,
) -> tuple[list[uuid.UUID], list[dict[str, Any]], list[dict[str, Any]]]:
    """Ids (new UUIDs when None), metadata and contents: one each per vector, checked."""
    if ids is None:
        uids = [uuid.uuid4() for _ in range(n)]
    else:
        if len(ids) != n:
            raise ShapeError(f"ids must have one entry per vector ({n}); got {len(ids)}")
        try:
            uids = [i if isinstance(i, uuid.UUID) else uuid.UUID(str(i)) for i in ids]
        except ValueError as err:
            raise InputValidationError(f"ids must be UUIDs: {err}") from None
    metas = [dict(m) for m in metadata] if metadata is not None else [{} for _ in range(n)]
    if len(metas) != n:
        raise ShapeError(f"metadata must have one mapping per vector ({n}); got {len(metas)}")
    conts = [dict(c) for c in contents] if contents is not None else [{} for _ in range(n)]
    if len(conts) != n:
        raise ShapeError(f"contents must have one mapping per vector ({n}); got {len(conts)}")
    return uids, metas, conts
