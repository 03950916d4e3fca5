"""Shared backend fixtures: a fresh SQLite file, a fresh PostgreSQL database, Redis.

``postgres_url`` creates a uniquely named database (with the pgvector extension
available) and drops it afterwards; ``redis_url`` points at the shared Redis server,
so tests must use unique key names (``unique_name`` helps). When a server is not
reachable the test is skipped with the reason, except under ``CI=true``, where it
fails: CI must exercise the production backends.

Override the servers with ``ACIE_TEST_POSTGRES_URL`` (an admin URL, database
``postgres``) and ``ACIE_TEST_REDIS_URL``.

Under ``CI=true`` every other skip is a failure too, unless the test is marked ``gpu``:
the hooks of ``ci_policy`` (re-exported here) turn skipped reports into failed ones.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid

import pytest
from ci_policy import in_ci
from ci_policy import pytest_make_collect_report as pytest_make_collect_report
from ci_policy import pytest_runtest_makereport as pytest_runtest_makereport
from hypothesis import settings as hypothesis_settings
from hypothesis.configuration import set_hypothesis_home_dir

# property tests keep no example database: nothing is written into the repository
# (.hypothesis/), and every run draws from its seed alone
hypothesis_settings.register_profile("acie", database=None, derandomize=True)
hypothesis_settings.load_profile("acie")
_HYPOTHESIS_HOME = tempfile.mkdtemp(prefix="acie-hypothesis-")
set_hypothesis_home_dir(_HYPOTHESIS_HOME)
atexit.register(shutil.rmtree, _HYPOTHESIS_HOME, ignore_errors=True)

POSTGRES_ADMIN_URL = os.environ.get(
    "ACIE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_TEST_URL = os.environ.get("ACIE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _unavailable(reason: str) -> None:
    if in_ci():
        pytest.fail(f"{reason} (CI=true: production backends are required)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def unique_name() -> str:
    """A short unique name for databases, streams and keys."""
    return f"acie_t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """URL of a new SQLite file (WAL mode once opened through acie.store)."""
    return f"sqlite:///{tmp_path / 'acie.sqlite3'}"


class PostgresDatabases:
    """Creates uniquely named databases on the test server and drops them again."""

    def __init__(self) -> None:
        self.psycopg = pytest.importorskip("psycopg")
        from sqlalchemy import make_url

        self.admin = make_url(POSTGRES_ADMIN_URL)
        self.conninfo = self.admin.set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        self.checked = False

    def _connect(self):
        try:
            return self.psycopg.connect(self.conninfo, autocommit=True, connect_timeout=3)
        except self.psycopg.OperationalError as err:
            _unavailable(
                f"PostgreSQL at {self.admin.host}:{self.admin.port} is not reachable: {err}"
            )

    def create(self, *, template: str | None = None) -> str:
        """A new database (optionally a copy of ``template``); returns its SQLAlchemy URL."""
        name = f"acie_t_{uuid.uuid4().hex[:12]}"
        with self._connect() as conn:
            if not self.checked:
                row = conn.execute(
                    "select 1 from pg_available_extensions where name = 'vector'"
                ).fetchone()
                if row is None:
                    _unavailable(
                        "the pgvector extension is not installed (run scripts/pgvector.sh)"
                    )
                self.checked = True
            suffix = f' TEMPLATE "{template}"' if template else ""
            conn.execute(f'CREATE DATABASE "{name}"{suffix}')
        return self.admin.set(drivername="postgresql+psycopg", database=name).render_as_string(
            hide_password=False
        )

    def drop(self, url: str) -> None:
        from sqlalchemy import make_url

        name = make_url(url).database
        with self._connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_databases() -> PostgresDatabases:
    """Factory of fresh PostgreSQL databases (for fixtures of wider scope)."""
    return PostgresDatabases()


@pytest.fixture
def postgres_url(postgres_databases):
    """URL of a new, empty PostgreSQL database, dropped after the test."""
    url = postgres_databases.create()
    try:
        yield url
    finally:
        postgres_databases.drop(url)


@pytest.fixture
def redis_url() -> str:
    """URL of the shared Redis server (use unique key names; see ``unique_name``)."""
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as err:
        _unavailable(f"Redis at {REDIS_TEST_URL} is not reachable: {err}")
    finally:
        client.close()
    return REDIS_TEST_URL
