"""Fixtures of the platform tests: every interface runs against both of its backends.

Tests that need the local PostgreSQL carry ``@pytest.mark.postgres``, those that need a
Redis server ``@pytest.mark.redis``: directly, or through a marked parameter of a
backend-parametrised fixture (``db_url``, ``make_queue``, ``loaded``), so the embedded
(SQLite, in-process) variants stay unmarked. Collection fails when a test requests a
server fixture without the marker. FAISS (the ``vectors`` extra) is needed only by the
tests that train an IVF index (:func:`faiss`); without it they skip, and fail under
``CI=true``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import make_url

from acie.jobs import JobQueue, RedisJobQueue, SQLiteJobQueue
from acie.store import create_engine_for, migrate

# fixtures that reach a server, by the marker a test using them must carry
SERVER_FIXTURES = {
    "postgres": {
        "postgres_databases",
        "postgres_url",
        "postgres_template",
        "migrated_postgres_url",
        "postgres_engine",
    },
    "redis": {"redis_url"},
}


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here not in Path(item.path).parents:
            continue
        for marker, fixtures in SERVER_FIXTURES.items():
            used = fixtures.intersection(item.fixturenames)
            if used and item.get_closest_marker(marker) is None:
                raise pytest.UsageError(
                    f"{item.nodeid} uses {sorted(used)} but is not marked @pytest.mark.{marker}"
                )


def unavailable(reason: str) -> None:
    """Skip for a missing optional dependency; fail under ``CI=true``."""
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{reason} (CI=true: every platform test must run)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def faiss():
    """The FAISS module, limited to one OpenMP thread."""
    try:
        import faiss
    except ImportError:
        unavailable("faiss is not installed (pip install 'acie[vectors]')")
    # FAISS' OpenMP threads spin-wait; with xdist on two cores they slow training ~30x
    faiss.omp_set_num_threads(1)
    return faiss


@pytest.fixture(scope="session")
def postgres_template(postgres_databases):
    """A migrated PostgreSQL database that fresh test databases are copied from."""
    url = postgres_databases.create()
    migrate(url)
    yield make_url(url).database
    postgres_databases.drop(url)


@pytest.fixture
def migrated_postgres_url(postgres_databases, postgres_template):
    """A fresh PostgreSQL database at the newest schema (a copy of the template)."""
    url = postgres_databases.create(template=postgres_template)
    yield url
    postgres_databases.drop(url)


@pytest.fixture
def migrated_sqlite_url(sqlite_url):
    migrate(sqlite_url)
    return sqlite_url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request):
    """A fresh, migrated database of each backend."""
    return request.getfixturevalue(f"migrated_{request.param}_url")


@pytest.fixture
def engine(db_url):
    eng = create_engine_for(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(migrated_sqlite_url):
    eng = create_engine_for(migrated_sqlite_url)
    yield eng
    eng.dispose()


@pytest.fixture
def postgres_engine(migrated_postgres_url):
    eng = create_engine_for(migrated_postgres_url)
    yield eng
    eng.dispose()


class OwnRedis:
    """A ``redis-server`` of a test's own on a free port in ``directory`` (never the shared one).

    ``aof=True`` runs it with ``--appendonly yes --appendfsync always``; without AOF (and
    with ``--save ""``) a restart comes back empty, as a Redis that lost its data.
    """

    def __init__(self, directory: Path, *, aof: bool = True) -> None:
        import socket

        self.dir = directory
        self.aof = aof
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> OwnRedis:
        import redis

        aof = ["--appendonly", "yes", "--appendfsync", "always"] if self.aof else []
        cmd = [
            *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
            *("--dir", str(self.dir), "--save", "", "--daemonize", "no", *aof),
            *("--logfile", str(self.dir / "redis.log")),
        ]
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 20
        try:
            while True:
                try:
                    if client.ping():
                        return self
                except (redis.exceptions.ConnectionError, redis.exceptions.BusyLoadingError):
                    pass
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise AssertionError(f"redis-server did not start on port {self.port}")
                time.sleep(0.05)
        finally:
            client.close()

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def own_redis(tmp_path):
    """``own_redis(aof=True)``: start a private redis-server; all are stopped afterwards."""
    if shutil.which("redis-server") is None:
        unavailable("redis-server is not installed")
    pytest.importorskip("redis")
    servers: list[OwnRedis] = []

    def make(*, aof: bool = True) -> OwnRedis:
        d = tmp_path / f"redis-{len(servers)}"
        d.mkdir()
        srv = OwnRedis(d, aof=aof).start()
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        srv.stop()


#: lease of the job-queue tests [s]: long enough that a loaded CI machine keeps its leases
JOB_LEASE_S = 1.0


@pytest.fixture(
    params=[
        "sql-sqlite",
        pytest.param("sql-postgres", marks=pytest.mark.postgres),
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
def make_queue(request, unique_name):
    """Factory of queues of one backend sharing one fresh database (and stream)."""
    backend = request.param
    url = request.getfixturevalue(
        "migrated_postgres_url" if backend == "sql-postgres" else "migrated_sqlite_url"
    )
    engine = create_engine_for(url)
    made: list = []

    def make(**kw) -> JobQueue:
        opts = {"lease_s": JOB_LEASE_S, "max_attempts": 3, "max_depth": 100, **kw}
        if backend == "redis":
            q = RedisJobQueue(
                engine, request.getfixturevalue("redis_url"), stream=unique_name, **opts
            )
        else:
            q = SQLiteJobQueue(engine, **opts)
        made.append(q)
        return q

    yield make
    for q in made:
        if isinstance(q, RedisJobQueue):
            q.drop_streams()
        q.close()
    engine.dispose()
