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
from pathlib import Path

import pytest
from sqlalchemy import make_url

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
