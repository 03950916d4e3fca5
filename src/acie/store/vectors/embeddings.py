"""The ``embeddings`` table both backends persist to: bulk inserts and the stored dimension."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
from sqlalchemy import Engine, insert, select

from acie.errors import ShapeError
from acie.store.database import Backend, backend_of, translate_errors
from acie.store.schema import Embedding

__all__ = ["insert_embeddings", "stored_dim"]


def stored_dim(engine: Engine, model_id: int) -> int | None:
    """Dimension of the embeddings stored for ``model_id`` (None when it has none)."""
    with translate_errors(), engine.connect() as conn:
        dim = conn.execute(
            select(Embedding.dim).where(Embedding.model_id == model_id).limit(1)
        ).scalar()
    return None if dim is None else int(dim)


def insert_embeddings(
    engine: Engine,
    model_id: int,
    dim: int,
    uids: list[uuid.UUID],
    x: np.ndarray,
    metas: list[dict[str, Any]],
    conts: list[dict[str, Any]],
    batch: int = 5000,
) -> None:
    """Store embeddings in one transaction (PostgreSQL: binary COPY; SQLite: executemany)."""
    with translate_errors():
        with engine.connect() as conn:
            other = conn.execute(
                select(Embedding.dim)
                .where(Embedding.model_id == model_id, Embedding.dim != dim)
                .limit(1)
            ).scalar()
        if other is not None:
            raise ShapeError(
                f"model {model_id} already has embeddings of dimension {other}; "
                f"got vectors of dimension {dim}"
            )
        if backend_of(engine) is Backend.postgresql:
            _copy_embeddings(engine, model_id, dim, uids, x, metas, conts)
            return
        with engine.begin() as conn:
            for s in range(0, len(x), batch):
                conn.execute(
                    insert(Embedding),
                    [
                        {
                            "id": uids[i],
                            "model_id": model_id,
                            "content": conts[i],
                            "vector": x[i],
                            "dim": dim,
                            "metadata": metas[i],
                        }
                        for i in range(s, min(s + batch, len(x)))
                    ],
                )


def _copy_embeddings(
    engine: Engine,
    model_id: int,
    dim: int,
    uids: list[uuid.UUID],
    x: np.ndarray,
    metas: list[dict[str, Any]],
    conts: list[dict[str, Any]],
) -> None:
    from pgvector.psycopg import register_vector
    from psycopg.types.json import Jsonb

    from acie.store.schema import utcnow

    now = utcnow()
    raw = engine.raw_connection()
    try:
        pg: Any = raw.driver_connection
        register_vector(pg)
        with (
            pg.cursor() as cur,
            cur.copy(
                "COPY embeddings (id, model_id, content, vector, dim, metadata, "
                "created_at) FROM STDIN WITH (FORMAT BINARY)"
            ) as cp,
        ):
            cp.set_types(["uuid", "int4", "jsonb", "vector", "int4", "jsonb", "timestamptz"])
            for i in range(len(x)):
                cp.write_row((uids[i], model_id, Jsonb(conts[i]), x[i], dim, Jsonb(metas[i]), now))
        raw.commit()
    except BaseException:
        raw.rollback()
        raise
    finally:
        raw.close()
