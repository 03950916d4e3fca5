"""The relational schema (SQLAlchemy 2 declarative models).

Tables: ``users``, ``roles`` and ``user_roles``; ``models`` (name + SHA-256 version);
``jobs`` and ``job_events``; ``embeddings`` (UUID, model foreign key, content, vector,
metadata); ``inference_logs``, the append-only, hash-chained audit log. The Alembic
migrations in ``acie/store/migrations`` create exactly these tables; a test compares
the two.

Vectors are stored as pgvector ``vector`` on PostgreSQL and as little-endian float32
bytes on SQLite (see :class:`EmbeddingVector`). JSON columns are ``JSONB`` on
PostgreSQL.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

import numpy as np
from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = [
    "Base",
    "Embedding",
    "EmbeddingVector",
    "InferenceLog",
    "JSONDocument",
    "Job",
    "JobEvent",
    "Model",
    "Role",
    "User",
    "UserRole",
    "utcnow",
]


def utcnow() -> datetime:
    """The current time, timezone-aware UTC, microsecond resolution."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on both backends (SQLite stores naive UTC text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """UTC for the driver (naive on SQLite); naive input raises ValueError."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"timestamps must be timezone-aware; got naive {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self,
        value: datetime | None,
        dialect: Dialect,  # noqa: ARG002 (TypeDecorator's signature; UTC on both dialects)
    ) -> datetime | None:
        """An aware UTC timestamp from either dialect's stored value."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONDocument = JSON().with_variant(JSONB(), "postgresql")


class EmbeddingVector(TypeDecorator[np.ndarray]):
    """A float32 vector: pgvector ``vector`` on PostgreSQL, raw float32 bytes on SQLite.

    The column has no fixed dimension, so one table holds embeddings of every model;
    pgvector indexes are built per model on ``vector::vector(dim)`` (see
    :mod:`acie.store.vectors`).
    """

    impl = LargeBinary
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """The pgvector ``vector`` type on PostgreSQL, ``LargeBinary`` elsewhere."""
        if dialect.name == "postgresql":
            from pgvector.sqlalchemy import VECTOR

            return dialect.type_descriptor(VECTOR())
        return dialect.type_descriptor(LargeBinary())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        """A flat float32 array on PostgreSQL, little-endian float32 bytes elsewhere."""
        if value is None:
            return None
        arr = np.asarray(value, dtype=np.float32).ravel()
        if dialect.name == "postgresql":
            return arr
        return arr.astype("<f4").tobytes()

    def process_result_value(
        self,
        value: Any,
        dialect: Dialect,  # noqa: ARG002 (TypeDecorator's signature; the value's type decides)
    ) -> np.ndarray | None:
        """A float32 array (dim,) from stored bytes or a pgvector value."""
        if value is None:
            return None
        if isinstance(value, bytes | bytearray | memoryview):
            return np.frombuffer(bytes(value), dtype="<f4").astype(np.float32)
        return np.asarray(value, dtype=np.float32)


class Base(DeclarativeBase):
    """Declarative base of every ACIE table."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class Role(Base):
    """A named role (``admin``, ``scientist``, ``viewer`` …) granted to users."""

    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str | None] = mapped_column(Text)


class User(Base):
    """A user, identified by the token subject (``sub``)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sub: Mapped[str] = mapped_column(String(255), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: argon2id PHC string of a local account's password (migration 0004); None: no password
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)

    roles: Mapped[list[Role]] = relationship(secondary="user_roles", lazy="selectin")


class UserRole(Base):
    """Association of users and roles."""

    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role_id: Mapped[int] = mapped_column(
        ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True
    )


class Model(Base):
    """A trained model: a name and the SHA-256 of its weights as its version."""

    __tablename__ = "models"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_models_name_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255))
    version: Mapped[str] = mapped_column(String(64))  # lowercase hex SHA-256
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSONDocument, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Job(Base):
    """One job; this row is the truth for the job's state, whatever the queue backend."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_state_lease", "state", "lease_expires_at"),
        Index("ix_jobs_state_created", "state", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    request_id: Mapped[str] = mapped_column(String(255), unique=True)
    user_sub: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(255))
    lease_expires_at: Mapped[datetime | None] = mapped_column()
    delivery_id: Mapped[str | None] = mapped_column(String(64))  # Redis stream entry id
    model_id: Mapped[int | None] = mapped_column(ForeignKey("models.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class JobEvent(Base):
    """Each state change of a job, written in the same transaction as the change."""

    __tablename__ = "job_events"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    worker_id: Mapped[str | None] = mapped_column(String(255))
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Embedding(Base):
    """A vector with its content and metadata, produced by a model."""

    __tablename__ = "embeddings"
    __table_args__ = (Index("ix_embeddings_model", "model_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="RESTRICT"))
    content: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    vector: Mapped[np.ndarray] = mapped_column(EmbeddingVector())
    dim: Mapped[int] = mapped_column(Integer)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSONDocument, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InferenceLog(Base):
    """The audit log: append-only, each row hash-chained to the one before.

    ``seq`` is 1, 2, 3 … without gaps, assigned while holding the log's lock;
    ``row_hash`` = SHA-256 over ``prev_hash`` and the canonical form of the row
    (see :mod:`acie.store.audit`). Triggers, not declared here: UPDATE, DELETE and
    TRUNCATE are refused (migration 0002); an INSERT onto an existing ``seq`` or
    ``row_hash`` is refused, and on PostgreSQL the database sets ``seq``, ``prev_hash``
    and ``row_hash`` of every inserted row itself (migration 0003).
    """

    __tablename__ = "inference_logs"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    request_id: Mapped[str] = mapped_column(String(255), index=True)
    user_sub: Mapped[str | None] = mapped_column(String(255))
    timestamp: Mapped[datetime] = mapped_column()
    compute_duration_ms: Mapped[float | None] = mapped_column(Float(precision=53))
    physics_violation_score: Mapped[float | None] = mapped_column(Float(precision=53))
    action: Mapped[str] = mapped_column(String(255))
    resource: Mapped[str | None] = mapped_column(String(255))
    ip: Mapped[str | None] = mapped_column(String(45))
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64), unique=True)


class Dataset(Base):
    """An ingested image cube and its catalogue (``acie.store.datasets``)."""

    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("sha256", name="uq_datasets_sha256"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))  # of the raw cube file
    catalogue_sha256: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    owner: Mapped[str | None] = mapped_column(String(255))
    shared: Mapped[bool] = mapped_column(default=False)
    n_images: Mapped[int] = mapped_column(Integer)
    bands: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(String(1024))  # relative to ACIE_DATA_DIR
    model_id: Mapped[int | None] = mapped_column(ForeignKey("models.id", ondelete="RESTRICT"))
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSONDocument, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
