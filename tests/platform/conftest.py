"""Fixtures of the platform tests: every interface runs against both of its backends."""

from __future__ import annotations

import pytest
from sqlalchemy import make_url

from acie.store import create_engine_for, migrate


@pytest.fixture(scope="session", autouse=True)
def _one_faiss_thread():
    # FAISS' OpenMP threads spin-wait; with xdist on two cores they slow training ~30x
    faiss = pytest.importorskip("faiss")
    faiss.omp_set_num_threads(1)


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


@pytest.fixture(params=["sqlite", "postgres"])
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
