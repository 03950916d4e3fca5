"""Open the vector index the configuration asks for (``VECTOR_BACKEND``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from acie.errors import ConfigurationError, InputValidationError
from acie.store.database import Backend, backend_of, create_engine_for
from acie.store.vectors.base import VectorIndex
from acie.store.vectors.embeddings import stored_dim
from acie.store.vectors.memory import MemoryVectorIndex
from acie.store.vectors.pgvector import PgVectorIndex

__all__ = ["open_vector_index"]


def open_vector_index(
    settings_or_url: Any = None,
    *,
    model_id: int,
    dim: int | None = None,
    engine: Engine | None = None,
    **options: Any,
) -> VectorIndex:
    """The vector index the configuration asks for.

    ``VECTOR_BACKEND``: ``pgvector`` (needs a PostgreSQL ``ACIE_DATABASE_URL``),
    ``memory`` (loads the model's embeddings from the database into memory), or
    ``auto`` (pgvector on PostgreSQL, memory on SQLite).

    Parameters
    ----------
    settings_or_url : Settings or str, optional
        Settings (default :func:`acie.config.get_settings`) or a database URL (then
        ``auto``).
    model_id : int
    dim : int, optional
        Required when the model has no embeddings yet.
    engine : Engine, optional
    **options
        Passed to the backend's constructor (``lists``, ``probes``, ``kind`` …).
    """
    from acie.config import get_settings

    if isinstance(settings_or_url, str):
        url, choice = settings_or_url, "auto"
    else:
        s = settings_or_url if settings_or_url is not None else get_settings()
        url, choice = s.database_url, str(s.VECTOR_BACKEND).lower()
    if choice not in {"auto", "memory", "pgvector"}:
        raise ConfigurationError(f"VECTOR_BACKEND must be auto, memory or pgvector; got {choice!r}")
    eng = engine if engine is not None else create_engine_for(url)
    backend = backend_of(eng)
    if choice == "auto":
        choice = "pgvector" if backend is Backend.postgresql else "memory"
    if dim is None:
        dim = stored_dim(eng, model_id)
        if dim is None:
            raise InputValidationError(f"model {model_id} has no embeddings yet; give dim=")
    if choice == "pgvector":
        return PgVectorIndex(engine=eng, model_id=model_id, dim=int(dim), **options)
    return MemoryVectorIndex.from_store(eng, model_id, dim=int(dim), **options)
