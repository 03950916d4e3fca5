"""Engines, sessions and migrations: one code path for SQLite and PostgreSQL.

The database URL chooses the backend. ``sqlite:///path`` (the embedded default) opens
the file in WAL mode with ``PRAGMA foreign_keys=ON`` and a busy timeout on every
connection; ``postgresql+psycopg://user@host/db`` opens PostgreSQL through psycopg 3.
:func:`migrate` brings a database to the newest schema with the Alembic migrations that
ship inside the package (``acie/store/migrations``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc, make_url, text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.orm import Session, sessionmaker

from acie.errors import (
    BackendUnavailableError,
    ConfigurationError,
    ConflictError,
    StoreError,
)

__all__ = [
    "MIGRATIONS_DIR",
    "Backend",
    "backend_of",
    "create_engine_for",
    "current_revision",
    "libpq_url",
    "migrate",
    "session_scope",
    "translate_errors",
    "writing",
]

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

#: seconds a SQLite connection waits for a lock before giving up
SQLITE_BUSY_TIMEOUT_S = 30.0

#: key of the PostgreSQL advisory lock held while migrating ("acie" in ASCII)
_MIGRATE_LOCK = 0x61636965


class Backend(StrEnum):
    """The two database backends."""

    sqlite = "sqlite"
    postgresql = "postgresql"


def backend_of(url_or_engine: str | URL | Engine | Connection) -> Backend:
    """Which backend a URL, engine or connection talks to."""
    if isinstance(url_or_engine, Engine | Connection):
        name = url_or_engine.dialect.name
    else:
        try:
            name = make_url(url_or_engine).get_backend_name()
        except exc.ArgumentError as err:
            raise ConfigurationError(
                f"database URL must look like sqlite:///file or "
                f"postgresql+psycopg://user@host/db; got {str(url_or_engine)!r}"
            ) from err
    try:
        return Backend(name)
    except ValueError:
        raise ConfigurationError(
            f"database URL must name sqlite or postgresql; got {name!r}"
        ) from None


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Autocommit at the driver level so SQLAlchemy's "begin" event decides how a
    # transaction starts (BEGIN or BEGIN IMMEDIATE): pysqlite's own implicit BEGIN
    # would otherwise defer locking and break the audit log's sequence-in-lock rule.
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    cur.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
    cur.execute("PRAGMA foreign_keys = ON")
    mode = cur.execute("PRAGMA journal_mode").fetchone()[0]
    if mode != "wal" and mode != "memory":
        cur.execute("PRAGMA journal_mode = WAL")
    cur.execute("PRAGMA synchronous = NORMAL")
    cur.close()


def _sqlite_on_begin(conn: Connection) -> None:
    # `conn.execution_options(sqlite_begin="IMMEDIATE")` takes the write lock at once.
    # Those are the writes that are acknowledged to someone (job-queue transitions, audit
    # rows): they commit with synchronous=FULL, so the WAL is fsynced before the commit
    # returns and a power loss cannot take them back; other transactions keep NORMAL
    # (durable against a process crash). `sqlite_synchronous` overrides either.
    opts = conn.get_execution_options()
    mode = opts.get("sqlite_begin", "")
    sync = opts.get("sqlite_synchronous") or ("FULL" if mode == "IMMEDIATE" else "NORMAL")
    if sync not in ("OFF", "NORMAL", "FULL", "EXTRA"):
        raise ConfigurationError(
            f"sqlite_synchronous must be OFF, NORMAL, FULL or EXTRA; got {sync!r}"
        )
    conn.exec_driver_sql(f"PRAGMA synchronous = {sync}")
    conn.exec_driver_sql(f"BEGIN {mode}".strip())


def create_engine_for(url: str | URL, **kwargs: Any) -> Engine:
    """An :class:`~sqlalchemy.Engine` for ``url``, configured for its backend.

    Parameters
    ----------
    url : str
        ``sqlite:///path/to/file.sqlite3`` or ``postgresql+psycopg://user@host:port/db``
        (``postgresql://`` is taken to mean psycopg 3).
    **kwargs
        Passed on to :func:`sqlalchemy.create_engine`.

    Returns
    -------
    Engine
        SQLite: WAL journal, foreign keys on, 30 s busy timeout on every connection.
        PostgreSQL: ``pool_pre_ping`` so a restarted server is noticed.
    """
    backend = backend_of(url)
    u = make_url(url)
    if backend is Backend.sqlite:
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {}).setdefault("timeout", SQLITE_BUSY_TIMEOUT_S)
        kwargs["connect_args"].setdefault("check_same_thread", False)
        engine = create_engine(u, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    elif u.drivername != "postgresql+psycopg":
        raise ConfigurationError(
            f"PostgreSQL URLs must use the psycopg driver (postgresql+psycopg://…); "
            f"got {u.drivername!r}"
        )
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("connect_args", {}).setdefault("connect_timeout", 5)
    return create_engine(u, **kwargs)


def libpq_url(url: str | URL) -> str:
    """The URL in the plain ``postgresql://`` form that libpq tools (pg_dump) accept."""
    u = make_url(url).set(drivername="postgresql")
    return u.render_as_string(hide_password=False)


@contextlib.contextmanager
def translate_errors() -> Iterator[None]:
    """Turn driver errors into ACIE's.

    Unreachable server, or an SQLite lock still held after the busy timeout →
    BackendUnavailableError (transient: the server answers 503, the worker retries),
    unique or foreign-key violation → ConflictError, anything else → StoreError.
    """
    try:
        yield
    except exc.IntegrityError as err:
        raise ConflictError(f"the write conflicts with stored data: {err.orig}") from err
    except (exc.OperationalError, exc.InterfaceError) as err:
        if err.connection_invalidated or _looks_unreachable(err):
            raise BackendUnavailableError(f"the database cannot be reached: {err.orig}") from err
        if _looks_busy(err):
            raise BackendUnavailableError(
                f"the database is busy (another writer held its lock past the "
                f"{SQLITE_BUSY_TIMEOUT_S:g} s busy timeout); retry: {err.orig}"
            ) from err
        raise StoreError(f"database error: {err.orig}") from err
    except exc.DBAPIError as err:
        raise StoreError(f"database error: {err.orig}") from err


def _looks_busy(err: exc.DBAPIError) -> bool:
    text = str(err.orig).lower()
    return "database is locked" in text or "database is busy" in text


def _looks_unreachable(err: exc.DBAPIError) -> bool:
    text = str(err.orig).lower()
    return any(
        s in text
        for s in (
            "connection refused",
            "could not connect",
            "server closed",
            "connection is closed",
            "terminating connection",
            "unable to open database",
            "connection failed",
            "no such host",
            "timeout expired",
        )
    )


def writing(engine: Engine) -> Engine:
    """``engine`` taking SQLite's write lock at BEGIN (``BEGIN IMMEDIATE``; no-op on PostgreSQL).

    For every read-then-write transaction: in WAL mode SQLite answers SQLITE_BUSY ("database
    is locked") *at once*, whatever the busy timeout, when a transaction that began by
    reading tries to write after another connection committed since its read. Taking the
    lock at BEGIN makes it wait (up to the busy timeout) instead.
    """
    return engine.execution_options(sqlite_begin="IMMEDIATE")


@contextlib.contextmanager
def session_scope(engine: Engine, **options: Any) -> Iterator[Session]:
    """A session that commits on success and rolls back on error.

    Driver errors are translated by :func:`translate_errors`.
    """
    factory = sessionmaker(bind=engine, expire_on_commit=False, **options)
    with translate_errors():
        session = factory()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()


def _alembic_config(url: str | URL) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # '%' must be escaped for configparser interpolation
    rendered = make_url(url).render_as_string(hide_password=False)
    cfg.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return cfg


def migrate(url: str | URL, revision: str = "head", *, engine: Engine | None = None) -> str:
    """Upgrade the database at ``url`` to ``revision`` (default: the newest schema).

    Returns
    -------
    str
        The revision the database is at afterwards.
    """
    from alembic import command

    cfg = _alembic_config(url)
    own = engine is None
    eng = engine if engine is not None else create_engine_for(url)
    try:
        # Several processes may migrate one new database at once (two `acie admin user
        # add`, a server and a worker): the upgrade runs under a lock so the others wait
        # and then find the schema at head. SQLite: BEGIN IMMEDIATE (the write lock,
        # waited for up to the busy timeout) instead of a read lock upgraded later, which
        # fails at once with "database is locked"; PostgreSQL: a transaction-scoped
        # advisory lock, since creating alembic_version twice violates a catalogue key.
        options = {"sqlite_begin": "IMMEDIATE"} if backend_of(eng) is Backend.sqlite else {}
        with (
            translate_errors(),
            eng.connect().execution_options(**options) as conn,
            conn.begin(),
        ):
            if backend_of(eng) is Backend.postgresql:
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATE_LOCK})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
        return current_revision(eng) or "base"
    finally:
        if own:
            eng.dispose()


def current_revision(engine: Engine) -> str | None:
    """The Alembic revision a database is at (``None`` before any migration)."""
    from alembic.runtime.migration import MigrationContext

    with translate_errors(), engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
