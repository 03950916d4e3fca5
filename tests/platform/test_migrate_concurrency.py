"""Several processes migrating one new database at once all succeed (no "database is locked").

Found by the explorer's browser tests: two ``acie admin user add`` run at the same time
against a new SQLite database raced on the first migration; one failed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import inspect

from acie.store.database import create_engine_for, current_revision

N_PROCS = 4

# each process sleeps until the same wall-clock instant, then migrates
_CHILD = """
import sys, time
from acie.store.database import migrate
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
print(migrate(sys.argv[1]))
"""


def _run_concurrently(url: str) -> list[tuple[int, str, str]]:
    start = time.time() + 8.0  # enough for every interpreter to import acie first
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, url, repr(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(N_PROCS)
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        results.append((p.returncode, out.strip(), err.strip()[-2000:]))
    return results


def test_concurrent_first_migrations_of_a_new_sqlite_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    results = _run_concurrently(url)
    errors = [err for rc, _, err in results if rc != 0]
    assert not errors, errors
    revisions = {out for _, out, _ in results}
    engine = create_engine_for(url)
    try:
        head = current_revision(engine)
        assert revisions == {head}
        assert "users" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_concurrent_first_migrations_of_a_new_postgres_database(postgres_url: str) -> None:
    results = _run_concurrently(postgres_url)
    errors = [err for rc, _, err in results if rc != 0]
    assert not errors, errors
    assert len({out for _, out, _ in results}) == 1
