"""Backup and restore on both backends, checked by restoring and verifying."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sqlalchemy import func, select, text

from acie.errors import AuditIntegrityError, DataFormatError
from acie.jobs import SQLiteJobQueue
from acie.store import AuditLog, create_engine_for
from acie.store.backup import backup, restore
from acie.store.schema import Job


def _count_jobs(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Job)).scalar_one()


def test_backup_then_restore_returns_to_the_snapshot(db_url, tmp_path):
    engine = create_engine_for(db_url)
    log, queue = AuditLog(engine), SQLiteJobQueue(engine)
    for i in range(5):
        log.append(request_id=f"r{i}", action="rest.POST /v1/jobs:OK", user_sub="alice")
        queue.submit(f"r{i}", {"i": i})
    info = backup(db_url, tmp_path / "snap.bak")
    assert info.audit_head["seq"] == 5
    assert info.bytes > 0
    anchor = log.export_head(tmp_path / "head.json")
    # life goes on after the backup…
    for i in range(5, 8):
        log.append(request_id=f"r{i}", action="rest.POST /v1/jobs:OK")
        queue.submit(f"r{i}", {"i": i})
    engine.dispose()
    # …then the database is restored to the snapshot and verified against its anchor
    restored = restore(db_url, tmp_path / "snap.bak", anchor=anchor)
    assert restored.audit["ok"]
    assert restored.audit["rows"] == 5
    engine = create_engine_for(db_url)
    try:
        assert AuditLog(engine).head().seq == 5
        assert _count_jobs(engine) == 5
        # the restored database keeps its protections: still append-only
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text("DELETE FROM inference_logs"))
        AuditLog(engine).append(request_id="after", action="x")
        assert AuditLog(engine).verify().rows == 6
    finally:
        engine.dispose()


def test_restore_reports_a_tampered_backup(sqlite_engine, migrated_sqlite_url, tmp_path):
    import sqlite3

    from sqlalchemy import make_url

    log = AuditLog(sqlite_engine)
    for i in range(4):
        log.append(request_id=f"r{i}", action="x")
    backup(migrated_sqlite_url, tmp_path / "b.sqlite3")
    with sqlite3.connect(tmp_path / "b.sqlite3") as conn:  # tamper with the backup file
        conn.execute("DROP TRIGGER inference_logs_no_update")
        conn.execute("UPDATE inference_logs SET user_sub = 'mallory' WHERE seq = 2")
    sqlite_engine.dispose()
    with pytest.raises(AuditIntegrityError) as info:
        restore(migrated_sqlite_url, tmp_path / "b.sqlite3")
    assert info.value.row == 2
    assert make_url(migrated_sqlite_url).database


def test_restore_refuses_the_wrong_kind_of_file(migrated_sqlite_url, tmp_path):
    bogus = tmp_path / "notes.txt"
    bogus.write_text("hello")
    with pytest.raises(DataFormatError, match="needs a SQLite database"):
        restore(migrated_sqlite_url, bogus)
    assert not list(tmp_path.glob(".*.tmp"))


def test_cli_backup_restore_and_audit_verify(migrated_sqlite_url, tmp_path):
    engine = create_engine_for(migrated_sqlite_url)
    log = AuditLog(engine)
    for i in range(3):
        log.append(request_id=f"r{i}", action="x")
    engine.dispose()

    def acie(*args):
        return subprocess.run(
            [sys.executable, "-m", "acie", "admin", *args, "--url", migrated_sqlite_url],
            capture_output=True,
            text=True,
        )

    out = acie("audit-verify", "--json", "--export-head", str(tmp_path / "head.json"))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["rows"] == 3
    out = acie("backup", str(tmp_path / "cli.bak"), "--json")
    assert out.returncode == 0
    assert json.loads(out.stdout)["audit_head"]["seq"] == 3
    engine = create_engine_for(migrated_sqlite_url)
    with engine.begin() as conn:  # an attacker removes the newest row
        conn.exec_driver_sql("DROP TRIGGER inference_logs_no_delete")
        conn.exec_driver_sql("DELETE FROM inference_logs WHERE seq = 3")
    engine.dispose()
    out = acie("audit-verify", "--anchor", str(tmp_path / "head.json"))
    assert out.returncode == 1
    assert "FAILED at row 3" in out.stdout
    out = acie("restore", str(tmp_path / "cli.bak"), "--anchor", str(tmp_path / "head.json"))
    assert out.returncode == 0, out.stderr
    assert "audit log intact, 3 rows" in out.stdout
