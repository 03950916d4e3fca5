"""Registering a model while another writer commits: no spurious ``database is locked``.

SQLite in WAL mode answers SQLITE_BUSY *at once*, whatever the busy timeout, when a
transaction that began by reading tries to write after another connection committed
since its read (it cannot upgrade a stale snapshot). ``ensure_model`` reads then
inserts, and servers call it on first use of the served embedder while the job worker
commits transitions: the CI fuzz run got a 500 from ``POST /v1/search`` that way. The
race is made deterministic here: another connection commits exactly between
``ensure_model``'s SELECT and its INSERT.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy import event, select

from acie.store import create_engine_for
from acie.store.registry import ensure_model
from acie.store.schema import Model


def test_ensure_model_survives_a_commit_between_its_read_and_its_write(migrated_sqlite_url):
    engine = create_engine_for(migrated_sqlite_url)
    path = engine.url.database
    other = sqlite3.connect(path, timeout=0.2, isolation_level=None)
    ensure_model(engine, "warm-up", "f" * 64)  # the connection pool holds a connection
    interleaved: list[str] = []

    def commit_in_between(conn, cursor, statement, *_args) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "models" in statement:
            try:  # another writer commits after the registry's read
                other.execute(
                    "INSERT INTO models (name, version, metadata, created_at) "
                    "VALUES ('other-writer', ?, '{}', '2026-01-01 00:00:00')",
                    ("e" * 64,),
                )
                interleaved.append("other committed")
            except sqlite3.OperationalError:  # the registry holds the write lock: it waits
                interleaved.append("other waited")

    event.listen(engine, "after_cursor_execute", commit_in_between)
    try:
        mid = ensure_model(engine, "galaxy-embedder", "a" * 64)
    finally:
        event.remove(engine, "after_cursor_execute", commit_in_between)
        other.close()
    assert interleaved, "the SELECT hook never ran"
    with engine.connect() as conn:
        names = set(conn.execute(select(Model.name)).scalars())
    assert "galaxy-embedder" in names
    assert ensure_model(engine, "galaxy-embedder", "a" * 64) == mid
    engine.dispose()


def test_a_lock_held_past_the_busy_timeout_is_unavailable_not_an_internal_error(
    migrated_sqlite_url, monkeypatch
):
    """Another writer holding the lock longer than the busy timeout: a transient, typed
    BackendUnavailableError (503, retried by the worker), not StoreError (500)."""
    import pytest

    from acie.errors import BackendUnavailableError
    from acie.store import database

    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_S", 0.2)
    engine = create_engine_for(migrated_sqlite_url)
    holder = sqlite3.connect(engine.url.database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(BackendUnavailableError, match="busy timeout"):
            ensure_model(engine, "galaxy-embedder", "b" * 64)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert ensure_model(engine, "galaxy-embedder", "b" * 64) > 0
    engine.dispose()
