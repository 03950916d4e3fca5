"""The vector index of the galaxy embedder: registered in the model registry, opened as configured.

Datasets (``acie data ingest``, ``POST /v1/datasets``) and catalogues (``acie index
build``) are embedded by the contrastive galaxy embedder (:mod:`acie.embedding`). Its
vectors are stored under the model-registry row ``(EMBEDDER_NAME, version)``, where the
version is the SHA-256 of the embedder file, so every stored vector names the exact
weights that made it, and a new embedder never mixes its vectors with an old one's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from acie.store.registry import ensure_model
from acie.store.vectors import open_vector_index

__all__ = ["EmbedderIndex", "open_embedder_index", "register_embedder"]


@dataclass
class EmbedderIndex:
    """An embedder, its model-registry id and the vector index of its embeddings."""

    embedder: Any
    model_id: int
    index: Any


def register_embedder(engine: Engine, embedder: Any) -> int:
    """The model-registry id of ``embedder`` (name ``galaxy-embedder``, version its SHA-256)."""
    from acie.embedding.embedder import EMBEDDER_NAME

    return ensure_model(
        engine,
        EMBEDDER_NAME,
        embedder.version,
        {
            "dim": embedder.dim,
            "image_shape": list(embedder.image_shape),
            "units": "nanomaggies per pixel",
            "kind": "contrastive (NT-Xent)",
        },
    )


def open_embedder_index(
    settings_or_url: Any = None, *, engine: Engine, embedder: Any = None, **options: Any
) -> EmbedderIndex:
    """Register ``embedder`` (default: the shipped one) and open its vector index.

    ``settings_or_url`` and ``options`` as in :func:`acie.store.vectors.open_vector_index`
    (``VECTOR_BACKEND`` picks the in-process or the pgvector index).
    """
    if embedder is None:
        from acie.embedding.embedder import load_default_embedder

        embedder = load_default_embedder()
    model_id = register_embedder(engine, embedder)
    index = open_vector_index(
        settings_or_url, model_id=model_id, dim=embedder.dim, engine=engine, **options
    )
    return EmbedderIndex(embedder=embedder, model_id=model_id, index=index)
