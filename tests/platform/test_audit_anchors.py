"""Signed audit anchors: key files, export on a schedule and at stop, verification in the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from acie.errors import AuditIntegrityError, DataFormatError
from acie.store import AuditLog
from acie.store.anchors import (
    AnchorExporter,
    export_anchor,
    generate_key,
    load_private_key,
    load_public_key,
    read_anchor,
)


def _acie(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "acie", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_signed_anchor_round_trip_and_forgeries(sqlite_engine, tmp_path):
    priv, pub = generate_key(tmp_path / "k")
    assert oct(priv.stat().st_mode & 0o777) == "0o600"
    log = AuditLog(sqlite_engine)
    for i in range(3):
        log.append(request_id=f"r{i}", action="x")
    head = export_anchor(log, tmp_path / "a.json", private_key=load_private_key(priv))
    assert read_anchor(tmp_path / "a.json", public_key=load_public_key(pub)) == head
    doc = json.loads((tmp_path / "a.json").read_text())
    # another key's anchors do not verify
    _, other_pub = generate_key(tmp_path / "other")
    with pytest.raises(AuditIntegrityError, match="does not verify"):
        read_anchor(tmp_path / "a.json", public_key=load_public_key(other_pub))
    # a changed field breaks the signature
    (tmp_path / "b.json").write_text(json.dumps({**doc, "seq": 2}))
    with pytest.raises(AuditIntegrityError, match="does not verify"):
        read_anchor(tmp_path / "b.json", public_key=load_public_key(pub))
    # an unsigned anchor is refused when a key is required
    export_anchor(log, tmp_path / "u.json")
    with pytest.raises(AuditIntegrityError, match="unsigned"):
        read_anchor(tmp_path / "u.json", public_key=load_public_key(pub))
    with pytest.raises(DataFormatError, match="exists already"):
        generate_key(tmp_path / "k")


@pytest.mark.parametrize("cut", [0, 10, 40])
def test_corrupt_and_truncated_key_and_anchor_files_are_typed_errors(tmp_path, cut):
    priv, pub = generate_key(tmp_path / "k")
    for path in (priv, pub):
        path.write_bytes(path.read_bytes()[:cut])
        with pytest.raises(DataFormatError, match="key file"):
            load_public_key(path)
    (tmp_path / "a.json").write_text('{"seq": 3, "row_hash": "ab12"}'[:cut])
    with pytest.raises(DataFormatError, match="anchor file"):
        read_anchor(tmp_path / "a.json")


def test_exporter_writes_on_start_and_at_stop(sqlite_engine, tmp_path):
    priv, pub = generate_key(tmp_path / "k")
    log = AuditLog(sqlite_engine)
    exporter = AnchorExporter(
        log, tmp_path / "head.json", private_key=load_private_key(priv), interval_s=3600
    )
    exporter.start()
    assert read_anchor(tmp_path / "head.json", public_key=load_public_key(pub)).seq == 0
    for i in range(4):
        log.append(request_id=f"r{i}", action="x")
    exporter.stop()  # the head at shutdown
    anchored = read_anchor(tmp_path / "head.json", public_key=load_public_key(pub))
    assert anchored == log.head()
    assert anchored.seq == 4
    assert log.verify(anchor=anchored).ok


def test_cli_keygen_export_and_verify_signed(migrated_sqlite_url, sqlite_engine, tmp_path):
    key = tmp_path / "anchor.key"
    proc = _acie("admin", "anchor-keygen", str(key), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["public_key"] == f"{key}.pub"
    log = AuditLog(sqlite_engine)
    for i in range(3):
        log.append(request_id=f"r{i}", action="x")
    env = {"AUDIT_ANCHOR_KEY_FILE": str(key)}
    anchor = tmp_path / "head.json"
    args = ["admin", "audit-verify", "--url", migrated_sqlite_url]
    proc = _acie(*args, "--export-head", str(anchor), env=env)
    assert proc.returncode == 0, proc.stderr
    assert "signature" in json.loads(anchor.read_text())
    assert _acie(*args, "--anchor", str(anchor), env=env).returncode == 0
    # the anchor's hash rewritten to match a forged log: the signature catches it
    doc = json.loads(anchor.read_text())
    anchor.write_text(json.dumps({**doc, "row_hash": "a" * 64}))
    proc = _acie(*args, "--anchor", str(anchor), env=env)
    assert proc.returncode == 1
    assert "does not verify" in proc.stdout
    # a damaged key file: one line, exit 2
    key.write_text("-----BEGIN PRIVATE KEY-----\ngarbage\n")
    proc = _acie(*args, "--anchor", str(anchor), env=env)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_cli_export_to_an_unwritable_place_is_one_line(migrated_sqlite_url):
    proc = _acie(
        "admin", "audit-verify", "--url", migrated_sqlite_url, "--export-head", "/proc/no/h.json"
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_exporter_exports_on_its_schedule_without_being_asked(sqlite_engine, tmp_path):
    import time

    log = AuditLog(sqlite_engine)
    exporter = AnchorExporter(log, tmp_path / "head.json", interval_s=0.05)
    exporter.start()
    try:
        for i in range(3):
            log.append(request_id=f"r{i}", action="x")
        deadline = time.monotonic() + 30
        while read_anchor(tmp_path / "head.json").seq != 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert read_anchor(tmp_path / "head.json").seq == 3  # written by the thread
        assert exporter.exports >= 2
    finally:
        exporter.stop()
