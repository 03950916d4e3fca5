"""Point-in-time recovery against a private PostgreSQL cluster that archives its WAL.

The cluster archives with ``archive_timeout = 1`` s and the test never forces a WAL
switch: rows reach the archive through the timeout alone, the mechanism that bounds the
recovery point objective (RPO = archive_timeout; 60 s by default, promised ≤ 5 min).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from own_postgres import OwnCluster
from sqlalchemy import text

from acie.errors import AuditIntegrityError, InputValidationError, StoreError
from acie.store import AuditLog, create_engine_for, migrate
from acie.store.audit import AuditHead
from acie.store.pitr import base_backup, restore_to_time

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
def cluster():
    c = OwnCluster(archive=True, archive_timeout_s=1)
    c.start()
    yield c
    c.destroy()


def _server_now(url: str) -> datetime:
    engine = create_engine_for(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT clock_timestamp()")).scalar_one()
    finally:
        engine.dispose()


def _append(url: str, ids: list[str]) -> AuditHead:
    engine = create_engine_for(url)
    try:
        log = AuditLog(engine)
        for rid in ids:
            log.append(request_id=rid, action="rest.POST /v1/jobs:OK")
        return log.head()
    finally:
        engine.dispose()


def _wait_archived(cluster: OwnCluster) -> None:
    """Wait (no forced switch) until the segment holding the newest commit is archived."""
    conninfo = f"host=127.0.0.1 port={cluster.port} user=postgres"
    with psycopg.connect(conninfo, autocommit=True) as c:
        (segment,) = c.execute("SELECT pg_walfile_name(pg_current_wal_lsn())").fetchone()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            (last,) = c.execute("SELECT last_archived_wal FROM pg_stat_archiver").fetchone()
            if last is not None and last >= segment:
                return
            time.sleep(0.2)
    pytest.fail(f"WAL segment {segment} was not archived within 60 s (archive_timeout 1 s)")


def test_restore_to_time_brings_back_rows_before_t_and_not_after(cluster):
    url = cluster.create_database("acie")
    migrate(url)
    base = base_backup(cluster.url(), cluster.root / "base", sync=False)
    before = [f"before-{i}" for i in range(5)]
    head_t = _append(url, before)
    t = _server_now(url)
    while _server_now(url) <= t:  # the next commit is strictly later than T
        time.sleep(0.01)
    _append(url, [f"after-{i}" for i in range(3)])
    _wait_archived(cluster)
    cluster.kill9()  # the server is gone; its data directory is what a restore replaces

    with pytest.raises(InputValidationError, match="timezone"):
        restore_to_time(
            base_backup_dir=base,
            wal_archive=cluster.archive,
            data_dir=cluster.data,
            target_time=t.replace(tzinfo=None),
        )
    # a time the archived WAL does not reach: recovery fails, the live directory stays
    marker = (cluster.data / "PG_VERSION").stat().st_ino
    with pytest.raises(StoreError, match="recovery"):
        restore_to_time(
            base_backup_dir=base,
            wal_archive=cluster.archive,
            data_dir=cluster.data,
            target_time=t + timedelta(days=1),
        )
    assert (cluster.data / "PG_VERSION").stat().st_ino == marker
    # an anchor the recovered log cannot hold: nothing changes
    with pytest.raises(AuditIntegrityError):
        restore_to_time(
            base_backup_dir=base,
            wal_archive=cluster.archive,
            data_dir=cluster.data,
            target_time=t,
            anchor=AuditHead(7, "0" * 64),
        )
    anchor = cluster.root / "head.json"
    anchor.write_text(head_t.to_json())
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "acie",
            "admin",
            "restore",
            str(base),
            "--json",
            "--to-time",
            t.isoformat(),
            "--wal-archive",
            str(cluster.archive),
            "--data-dir",
            str(cluster.data),
            "--anchor",
            str(anchor),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["audit"]["acie"]["ok"]
    assert info["audit"]["acie"]["rows"] == 5
    cluster.start()
    engine = create_engine_for(url)
    try:
        with engine.connect() as conn:
            ids = conn.execute(text("SELECT request_id FROM inference_logs ORDER BY seq"))
            assert list(ids.scalars()) == before
        log = AuditLog(engine)
        assert log.verify(anchor=head_t).ok
        assert log.append(request_id="next", action="x").seq == 6  # writable: promoted
    finally:
        engine.dispose()
    assert Path(info["previous_data_dir"]).is_dir()  # kept, never deleted
