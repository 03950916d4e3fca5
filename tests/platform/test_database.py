"""Schema, migrations and engine configuration on both database backends."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, select, text

from acie.errors import ConfigurationError, ConflictError, InputValidationError
from acie.store import create_engine_for, migrate, session_scope
from acie.store.database import Backend, backend_of, current_revision
from acie.store.registry import ensure_model, find_model
from acie.store.schema import Base, Embedding, Model, Role, User


def test_migrations_match_the_models(engine):
    # the Alembic migrations create exactly the tables, columns, indexes the models declare
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    assert current_revision(engine) == "0005"


@pytest.mark.parametrize(
    "empty_url", ["sqlite_url", pytest.param("postgres_url", marks=pytest.mark.postgres)]
)
def test_migrate_from_empty_then_again_is_a_no_op(request, empty_url):
    url = request.getfixturevalue(empty_url)
    assert migrate(url) == "0005"
    assert migrate(url) == "0005"


def test_foreign_keys_are_enforced(engine):
    with pytest.raises(ConflictError, match="conflicts"), session_scope(engine) as s:
        s.add(Embedding(model_id=424242, content={}, vector=np.zeros(3), dim=3, meta={}))


def test_embedding_round_trip_and_uuid(engine):
    mid = ensure_model(engine, "encoder", "ab" * 32, {"epochs": 3})
    eid = uuid.uuid4()
    vec = np.array([0.5, -1.25, 3.0], dtype=np.float32)
    with engine.begin() as conn:
        conn.execute(
            insert(Embedding).values(
                id=eid,
                model_id=mid,
                content={"name": "NGC 1"},
                vector=vec,
                dim=3,
                metadata={"z": 0.1},
            )
        )
    with session_scope(engine) as s:
        row = s.get(Embedding, eid)
        assert row is not None
        np.testing.assert_array_equal(row.vector, vec)  # float32 exactly, both backends
        assert row.meta == {"z": 0.1}
        assert row.content == {"name": "NGC 1"}
        model = s.get(Model, mid)
        assert model is not None
        assert model.meta == {"epochs": 3}
        assert model.created_at.tzinfo is not None


def test_users_and_roles(engine):
    with session_scope(engine) as s:
        admin, viewer = Role(name="admin"), Role(name="viewer")
        s.add_all([admin, viewer, User(sub="alice", roles=[admin, viewer])])
    with session_scope(engine) as s:
        alice = s.execute(select(User).where(User.sub == "alice")).scalar_one()
        assert sorted(r.name for r in alice.roles) == ["admin", "viewer"]
    with pytest.raises(ConflictError), session_scope(engine) as s:
        s.add(User(sub="alice"))


def test_model_registry(engine):
    a = ensure_model(engine, "m", "0" * 64)
    assert ensure_model(engine, "m", "0" * 64) == a
    b = ensure_model(engine, "m", "1" * 64)
    assert find_model(engine, "m") == b
    assert find_model(engine, "m", "0" * 64) == a
    with pytest.raises(InputValidationError, match="SHA-256"):
        ensure_model(engine, "m", "not-a-hash")


def test_sqlite_connections_use_wal_and_foreign_keys(sqlite_engine):
    with sqlite_engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_backend_is_chosen_by_url():
    assert backend_of("sqlite:///x.db") is Backend.sqlite
    assert backend_of("postgresql+psycopg://u@h/db") is Backend.postgresql
    with pytest.raises(ConfigurationError, match="sqlite or postgresql"):
        backend_of("mysql://u@h/db")
    with pytest.raises(ConfigurationError, match="psycopg"):
        create_engine_for("postgresql+asyncpg://u@h/db")


@pytest.mark.postgres
def test_postgres_has_pgvector(postgres_engine):
    with postgres_engine.connect() as conn:
        version = conn.execute(
            text("select extversion from pg_extension where extname = 'vector'")
        ).scalar()
    # iterative index scans (used for filtered kNN) arrived in pgvector 0.8.0
    assert version is not None
    assert tuple(int(p) for p in version.split(".")[:2]) >= (0, 8)


def test_unreachable_database_is_a_typed_error():
    import socket

    from acie.errors import BackendUnavailableError
    from acie.store import AuditLog

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    engine = create_engine_for(f"postgresql+psycopg://postgres@127.0.0.1:{port}/x")
    with pytest.raises(BackendUnavailableError, match="cannot be reached"):
        AuditLog(engine).append(request_id="r", action="x")
