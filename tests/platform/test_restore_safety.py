"""A restore that fails verification leaves the live database untouched (both backends)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest
from sqlalchemy import make_url, text

from acie.errors import AuditIntegrityError, DataFormatError
from acie.store import AuditLog, create_engine_for
from acie.store.anchors import export_anchor, generate_key, load_private_key, load_public_key
from acie.store.backup import backup, restore


def _append(url: str, n: int, prefix: str) -> None:
    engine = create_engine_for(url)
    try:
        log = AuditLog(engine)
        for i in range(n):
            log.append(request_id=f"{prefix}{i}", action="rest.POST /v1/jobs:OK")
    finally:
        engine.dispose()


def _ids(url: str) -> list[str]:
    engine = create_engine_for(url)
    try:
        with engine.connect() as conn:
            return list(
                conn.execute(text("SELECT request_id FROM inference_logs ORDER BY seq")).scalars()
            )
    finally:
        engine.dispose()


def test_restore_that_fails_the_anchor_keeps_the_newer_rows(db_url, tmp_path):
    _append(db_url, 3, "old")
    backup(db_url, tmp_path / "snap.bak")
    _append(db_url, 4, "new")
    engine = create_engine_for(db_url)
    anchor = AuditLog(engine).export_head(tmp_path / "head.json")  # names row 7
    engine.dispose()
    assert anchor.seq == 7
    with pytest.raises(AuditIntegrityError, match=r"rows 4\.\.7 were deleted"):
        restore(db_url, tmp_path / "snap.bak", anchor=tmp_path / "head.json")
    assert _ids(db_url) == [f"old{i}" for i in range(3)] + [f"new{i}" for i in range(4)]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_restore_of_a_tampered_backup_keeps_the_live_database(
    sqlite_engine, migrated_sqlite_url, tmp_path
):
    log = AuditLog(sqlite_engine)
    for i in range(4):
        log.append(request_id=f"r{i}", action="x")
    backup(migrated_sqlite_url, tmp_path / "b.sqlite3")
    with sqlite3.connect(tmp_path / "b.sqlite3") as conn:
        conn.execute("DROP TRIGGER inference_logs_no_update")
        conn.execute("UPDATE inference_logs SET user_sub = 'mallory' WHERE seq = 2")
    log.append(request_id="r4", action="x")
    sqlite_engine.dispose()
    with pytest.raises(AuditIntegrityError) as info:
        restore(migrated_sqlite_url, tmp_path / "b.sqlite3")
    assert info.value.row == 2
    assert _ids(migrated_sqlite_url) == [f"r{i}" for i in range(5)]
    db_dir = make_url(migrated_sqlite_url).database
    assert db_dir is not None
    leftovers = [p.name for p in tmp_path.iterdir() if ".restore" in p.name or p.suffix == ".tmp"]
    assert leftovers == []


def test_signed_anchor_is_checked_by_restore(migrated_sqlite_url, tmp_path):
    priv, pub = generate_key(tmp_path / "anchor.key")
    _append(migrated_sqlite_url, 3, "r")
    backup(migrated_sqlite_url, tmp_path / "snap.bak")
    engine = create_engine_for(migrated_sqlite_url)
    export_anchor(AuditLog(engine), tmp_path / "head.json", private_key=load_private_key(priv))
    engine.dispose()
    info = restore(
        migrated_sqlite_url,
        tmp_path / "snap.bak",
        anchor=tmp_path / "head.json",
        public_key=load_public_key(pub),
    )
    assert info.audit["ok"]
    assert info.audit["rows"] == 3
    # a forged anchor (its seq rewritten) no longer verifies: nothing is restored
    forged = (tmp_path / "head.json").read_text().replace('"seq": 3', '"seq": 2')
    (tmp_path / "forged.json").write_text(forged)
    _append(migrated_sqlite_url, 1, "after")
    with pytest.raises(AuditIntegrityError, match="signature does not verify"):
        restore(
            migrated_sqlite_url,
            tmp_path / "snap.bak",
            anchor=tmp_path / "forged.json",
            public_key=load_public_key(pub),
        )
    assert _ids(migrated_sqlite_url)[-1] == "after0"


def test_truncated_backup_is_refused_and_the_live_database_kept(migrated_sqlite_url, tmp_path):
    _append(migrated_sqlite_url, 3, "r")
    backup(migrated_sqlite_url, tmp_path / "snap.bak")
    data = (tmp_path / "snap.bak").read_bytes()
    (tmp_path / "cut.bak").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError):
        restore(migrated_sqlite_url, tmp_path / "cut.bak")
    assert len(_ids(migrated_sqlite_url)) == 3


def _acie(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "acie", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_restore_failure_is_one_line_and_keeps_rows(migrated_sqlite_url, tmp_path):
    _append(migrated_sqlite_url, 2, "r")
    backup(migrated_sqlite_url, tmp_path / "snap.bak")
    _append(migrated_sqlite_url, 2, "n")
    engine = create_engine_for(migrated_sqlite_url)
    AuditLog(engine).export_head(tmp_path / "head.json")
    engine.dispose()
    proc = _acie(
        "admin",
        "restore",
        str(tmp_path / "snap.bak"),
        "--url",
        migrated_sqlite_url,
        "--anchor",
        str(tmp_path / "head.json"),
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(_ids(migrated_sqlite_url)) == 4


@pytest.mark.parametrize("dest", ["/proc/acie-no-such/b.bak", "{tmp}/cut.bak"])
def test_cli_os_errors_are_one_line(migrated_sqlite_url, tmp_path, dest):
    _append(migrated_sqlite_url, 2, "r")
    if "{tmp}" in dest:  # a truncated backup given to restore
        backup(migrated_sqlite_url, tmp_path / "snap.bak")
        data = (tmp_path / "snap.bak").read_bytes()
        (tmp_path / "cut.bak").write_bytes(data[:5000])
        proc = _acie("admin", "restore", str(tmp_path / "cut.bak"), "--url", migrated_sqlite_url)
    else:
        proc = _acie("admin", "backup", dest, "--url", migrated_sqlite_url)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
