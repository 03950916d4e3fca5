"""Fault injection on the audit log, backups, anchors and telemetry (marked ``slow``).

* kill -9 of a private PostgreSQL cluster while a separate process appends audit rows:
  every append that returned (was acknowledged) is back after crash recovery, unchanged,
  and the chain verifies.
* A full disk: a small tmpfs mounted for the test (the container runs as root with the
  right to mount). Where mounting is refused the test fails under ``CI=true`` and skips
  elsewhere: a real ``ENOSPC`` is the point.
* Corrupt and truncated inputs for the readers not covered elsewhere (backups of both
  backends; anchors, keys and telemetry have their own tests).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from own_postgres import OwnCluster
from sqlalchemy import text

from acie.errors import DataFormatError, StoreError
from acie.ops.emitter import TelemetryEmitter
from acie.ops.simulate import simulate_telemetry
from acie.ops.telemetry_file import read_telemetry
from acie.store import AuditLog, create_engine_for, migrate
from acie.store.anchors import AnchorExporter, read_anchor
from acie.store.backup import backup, restore

pytestmark = pytest.mark.slow

WRITER = textwrap.dedent(
    """
    import sys, time
    from acie.store import AuditLog, create_engine_for
    engine = create_engine_for(sys.argv[1], pool_pre_ping=True)
    log = AuditLog(engine)
    i = 0
    while True:
        try:
            rec = log.append(request_id=f"w-{i}", action="rest.POST /v1/jobs:OK", user_sub="u")
        except Exception as err:  # the server is gone: keep trying, never acknowledge
            print("error", type(err).__name__, flush=True)
            time.sleep(0.05)
            continue
        print("ack", rec.seq, rec.row_hash, rec.request_id, flush=True)
        i += 1
    """
)


@pytest.mark.postgres
def test_kill_9_of_postgres_loses_no_acknowledged_audit_row():
    cluster = OwnCluster()
    try:
        cluster.start()
        url = cluster.create_database("acie")
        migrate(url)
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, url], stdout=subprocess.PIPE, text=True
        )
        acked: list[tuple[int, str, str]] = []
        try:
            assert writer.stdout is not None
            for line in writer.stdout:
                if line.startswith("ack"):
                    _, seq, row_hash, rid = line.split()
                    acked.append((int(seq), row_hash, rid))
                if len(acked) >= 40:
                    break
            cluster.kill9()  # mid-load: the writer is appending as fast as it can
            for line in writer.stdout:  # drain what was acknowledged before the kill landed
                if line.startswith("error"):
                    break
                if line.startswith("ack"):
                    _, seq, row_hash, rid = line.split()
                    acked.append((int(seq), row_hash, rid))
        finally:
            writer.kill()
            writer.wait()
        cluster.start()  # crash recovery replays the WAL
        engine = create_engine_for(url)
        try:
            log = AuditLog(engine)
            assert log.verify().ok
            stored = {r.seq: (r.seq, r.row_hash, r.request_id) for r in log.records()}
            for row in acked:
                assert stored.get(row[0]) == row, f"acknowledged row {row} lost or altered"
        finally:
            engine.dispose()
    finally:
        cluster.destroy()


@pytest.fixture
def small_disk():
    """A 256 KiB tmpfs: writes beyond it fail with a real ENOSPC."""
    where = Path(tempfile.mkdtemp(prefix="acie-full-"))
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        where.rmdir()
        msg = f"cannot mount a tmpfs for the full-disk tests: {proc.stderr.strip()}"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(msg)
        pytest.skip(msg)
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], capture_output=True)
        where.rmdir()


def _fill(disk: Path, leave: int) -> Path:
    """Fill the disk up to ``leave`` free bytes with one filler file."""
    filler = disk / "filler"
    st = os.statvfs(disk)
    free = st.f_bavail * st.f_frsize
    with open(filler, "wb") as fh, contextlib.suppress(OSError):
        fh.write(b"\0" * max(free - leave, 0))
    return filler


@pytest.mark.parametrize("compress", [False, True])
def test_full_disk_telemetry_keeps_every_record_and_says_so(small_disk, compress):
    records = simulate_telemetry(n=400, seed=5)
    path = small_disk / "t.jsonl"
    with TelemetryEmitter(path, batch_size=50, compress=compress) as em:
        for r in records[:50]:
            em.emit(r)
    filler = _fill(small_disk, 2048)  # room for a few records, not a batch
    em = TelemetryEmitter(path, batch_size=1000, compress=compress)
    for r in records[50:400]:
        em.emit(r)
    with pytest.raises(StoreError, match="No space left") as info:
        em.flush()
    assert "350 records kept in memory" in str(info.value)
    read = read_telemetry(path)  # the file holds the first batch, whole, and nothing torn
    assert read.records == records[:50]
    assert not read.skipped
    filler.unlink()  # room again: the same emitter writes the kept batch
    em.flush()
    assert read_telemetry(path).records == records[:400]


def _sqlite_with_rows(tmp_path: Path, n: int) -> str:
    url = f"sqlite:///{tmp_path / 'live.sqlite3'}"
    migrate(url)
    engine = create_engine_for(url)
    try:
        AuditLog(engine).append_many(
            [{"request_id": f"r{i}" + "x" * 200, "action": "y" * 200} for i in range(n)]
        )
    finally:
        engine.dispose()
    return url


def test_full_disk_backup_keeps_the_previous_backup(small_disk, tmp_path):
    url = _sqlite_with_rows(tmp_path, 20)
    dest = small_disk / "b.sqlite3"
    first = backup(url, dest)
    engine = create_engine_for(url)
    try:  # the database grows past what the disk can still take
        AuditLog(engine).append_many(
            [{"request_id": f"n{i}" + "x" * 200, "action": "y" * 200} for i in range(600)]
        )
    finally:
        engine.dispose()
    _fill(small_disk, 16 * 1024)
    with pytest.raises(StoreError, match="nothing was written"):
        backup(url, dest)
    assert sorted(p.name for p in small_disk.iterdir()) == ["b.sqlite3", "filler"]
    info = restore(url, dest)  # the previous backup is whole: it restores and verifies
    assert info.audit["rows"] == first.audit_head["seq"] == 20


def test_full_disk_anchor_export_keeps_the_previous_anchor(small_disk, sqlite_engine):
    log = AuditLog(sqlite_engine)
    log.append(request_id="r0", action="x")
    exporter = AnchorExporter(log, small_disk / "head.json", interval_s=3600)
    assert exporter.export() is not None
    log.append(request_id="r1", action="x")
    _fill(small_disk, 0)
    assert exporter.export() is None  # logged and kept, the server serves on
    assert "No space left" in (exporter.last_error or "")
    assert read_anchor(small_disk / "head.json").seq == 1
    assert [p.name for p in small_disk.iterdir() if p.name.startswith(".")] == []


def test_a_backup_with_a_corrupt_page_is_refused(tmp_path):
    url = _sqlite_with_rows(tmp_path, 200)
    backup(url, tmp_path / "b.sqlite3")
    data = bytearray((tmp_path / "b.sqlite3").read_bytes())
    page = 4096 * 3  # a b-tree page in the middle of the file
    data[page + 8 : page + 600] = random.Random(7).randbytes(592)
    (tmp_path / "bad.sqlite3").write_bytes(bytes(data))
    with pytest.raises((DataFormatError, StoreError)):
        restore(url, tmp_path / "bad.sqlite3")
    engine = create_engine_for(url)
    try:
        assert AuditLog(engine).verify().rows == 200
    finally:
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_damaged_pg_dump_is_refused_and_the_live_database_kept(
    migrated_postgres_url, tmp_path, damage
):
    engine = create_engine_for(migrated_postgres_url)
    try:
        AuditLog(engine).append_many([{"request_id": f"r{i}", "action": "x"} for i in range(30)])
    finally:
        engine.dispose()
    backup(migrated_postgres_url, tmp_path / "b.dump")
    data = bytearray((tmp_path / "b.dump").read_bytes())
    if damage == "truncate":
        data = data[: len(data) * 2 // 3]
    else:
        mid = len(data) // 2
        data[mid : mid + 64] = random.Random(8).randbytes(64)
    (tmp_path / "bad.dump").write_bytes(bytes(data))
    with pytest.raises((DataFormatError, StoreError)):
        restore(migrated_postgres_url, tmp_path / "bad.dump")
    engine = create_engine_for(migrated_postgres_url)
    try:
        assert AuditLog(engine).verify().rows == 30
        with engine.connect() as conn:
            left = conn.execute(
                text("SELECT count(*) FROM pg_database WHERE datname LIKE '%restore%'")
            ).scalar_one()
        assert left == 0
    finally:
        engine.dispose()


def test_cli_backup_to_a_full_disk_is_one_line(small_disk, tmp_path):
    url = _sqlite_with_rows(tmp_path, 600)
    _fill(small_disk, 8 * 1024)
    proc = subprocess.run(
        [sys.executable, "-m", "acie", "admin", "backup", str(small_disk / "b"), "--url", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "full" in proc.stderr or "space" in proc.stderr
    assert json.dumps(sorted(p.name for p in small_disk.iterdir())) == '["filler"]'
