"""Inserts cannot rewrite the audit log: SQLite REPLACE/UPSERT guard, PostgreSQL chain trigger."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from acie.errors import StoreError
from acie.store import AuditLog
from acie.store.audit import GENESIS_HASH, row_digest
from acie.store.database import translate_errors

_COLUMNS = (
    "seq, request_id, user_sub, timestamp, compute_duration_ms, physics_violation_score, "
    "action, resource, ip, prev_hash, row_hash"
)


def _fill(log: AuditLog, n: int) -> None:
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    for i in range(n):
        log.append(
            request_id=f"req-{i}",
            user_sub="alice",
            action="rest.POST /v1/jobs:OK",
            compute_duration_ms=10.0 + i,
            timestamp=t0 + timedelta(seconds=i),
        )


def _row(engine, seq: int):
    with engine.connect() as conn:
        return conn.execute(text("SELECT * FROM inference_logs WHERE seq = :s"), {"s": seq}).one()


@pytest.mark.parametrize(
    "statement",
    [
        # REPLACE deletes the old row without firing the DELETE trigger, then inserts
        f"INSERT OR REPLACE INTO inference_logs ({_COLUMNS}) VALUES "
        "(2, 'forged', 'mallory', '2025-01-01 00:00:01.000000', 1.0, NULL, 'x', NULL, NULL, "
        "'{prev}', '{forged}')",
        f"REPLACE INTO inference_logs ({_COLUMNS}) VALUES "
        "(2, 'forged', 'mallory', '2025-01-01 00:00:01.000000', 1.0, NULL, 'x', NULL, NULL, "
        "'{prev}', '{forged}')",
        # a new seq colliding on the unique row_hash would delete the row that holds it
        f"INSERT OR REPLACE INTO inference_logs ({_COLUMNS}) VALUES "
        "(99, 'forged', 'mallory', '2025-01-01 00:00:01.000000', 1.0, NULL, 'x', NULL, NULL, "
        "'{prev}', '{hash2}')",
        f"INSERT INTO inference_logs ({_COLUMNS}) VALUES "
        "(2, 'forged', 'mallory', '2025-01-01 00:00:01.000000', 1.0, NULL, 'x', NULL, NULL, "
        "'{prev}', '{forged}') ON CONFLICT(seq) DO UPDATE SET user_sub = 'mallory'",
    ],
    ids=["insert-or-replace", "replace", "replace-by-hash", "upsert"],
)
def test_sqlite_replace_and_upsert_cannot_rewrite_a_row(sqlite_engine, statement):
    log = AuditLog(sqlite_engine)
    _fill(log, 3)
    before = _row(sqlite_engine, 2)
    sql = statement.format(prev=before.prev_hash, forged="f" * 64, hash2=before.row_hash)
    with (
        pytest.raises(StoreError, match="append-only"),
        translate_errors(),
        sqlite_engine.begin() as conn,
    ):
        conn.exec_driver_sql(sql)
    assert _row(sqlite_engine, 2) == before
    assert log.count() == 3
    assert log.verify().ok


@pytest.mark.postgres
def test_postgres_computes_the_chain_for_a_direct_insert(postgres_engine):
    log = AuditLog(postgres_engine)
    _fill(log, 3)
    # a client that may INSERT writes a row with a forged position and hash…
    with postgres_engine.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO inference_logs ({_COLUMNS}) VALUES (2, 'forged', 'mallory', "
                "'2025-01-01T00:00:09Z', 1.5, NULL, 'x', NULL, NULL, :z, :f)"
            ),
            {"z": GENESIS_HASH, "f": "f" * 64},
        )
    # …and the database numbers and hashes it itself: the row is the next link of the chain
    row = _row(postgres_engine, 4)
    assert row.request_id == "forged"
    assert row.prev_hash == _row(postgres_engine, 3).row_hash
    assert row.row_hash != "f" * 64
    assert log.verify().rows == 4
    rec = log.append(request_id="after", action="y")
    assert rec.seq == 5
    assert log.verify().rows == 5


@pytest.mark.postgres
def test_postgres_trigger_hash_equals_the_python_hash_for_awkward_values(postgres_engine):
    """Floats of every magnitude, non-ASCII and control characters: both sides agree."""
    rng = random.Random(15)
    floats = [0.0, -0.0, 1.0, 12.0, 1e15, 1e16, 1e-4, 1e-5, 123456789012345.6, 5e-324]
    floats += [1.7976931348623157e308, 0.1 + 0.2, 2.5e-7, 1e22]
    floats += [rng.uniform(-1, 1) * 10 ** rng.randint(-30, 30) for _ in range(40)]
    texts = ["plain", 'q"uote\\back', "tab\there\nnl\x01\x7f", "é ü ß", "漢字", "😀 astral"]
    log = AuditLog(postgres_engine)
    records = [
        {
            "request_id": f"r{i}",
            "action": texts[i % len(texts)],
            "user_sub": texts[(i + 1) % len(texts)],
            "compute_duration_ms": x,
            "physics_violation_score": floats[(i + 3) % len(floats)],
            "timestamp": datetime(2025, 3, 1, tzinfo=UTC) + timedelta(microseconds=7 * i),
        }
        for i, x in enumerate(floats)
    ]
    stored = log.append_many(records)
    assert log.verify().rows == len(floats)
    for rec in stored:
        fields = {k: getattr(rec, k) for k in ("request_id", "user_sub", "timestamp")}
        fields |= {
            k: getattr(rec, k)
            for k in ("compute_duration_ms", "physics_violation_score", "action", "resource", "ip")
        }
        assert rec.row_hash == row_digest(rec.seq, rec.prev_hash, fields)
