"""Fixtures of the platform tests: every interface runs against both of its backends."""

from __future__ import annotations

import pytest

from acie.store import create_engine_for, migrate


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request):
    """A fresh, migrated database of each backend."""
    url = request.getfixturevalue(f"{request.param}_url")
    migrate(url)
    return url


@pytest.fixture
def engine(db_url):
    eng = create_engine_for(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(sqlite_url):
    migrate(sqlite_url)
    eng = create_engine_for(sqlite_url)
    yield eng
    eng.dispose()


@pytest.fixture
def postgres_engine(postgres_url):
    migrate(postgres_url)
    eng = create_engine_for(postgres_url)
    yield eng
    eng.dispose()
