"""The append-only, hash-chained audit log on both backends."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from sqlalchemy import text

from acie.errors import AuditIntegrityError, ConflictError, InputValidationError, StoreError
from acie.store import AuditHead, AuditLog
from acie.store.audit import GENESIS_HASH


def _fill(log: AuditLog, n: int) -> None:
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    for i in range(n):
        log.append(
            request_id=f"req-{i}",
            user_sub="alice",
            action="rest.POST /v1/jobs:OK",
            resource="model/galaxy",
            ip="192.0.2.7",
            compute_duration_ms=10.0 + i,
            physics_violation_score=0.001 * i,
            timestamp=t0 + timedelta(seconds=i),
        )


def _tamper(engine, sql: str, **params) -> None:
    """Change the table the way an attacker with database access would: around the triggers."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))  # triggers off
            conn.execute(text(sql), params)
        else:
            conn.exec_driver_sql("DROP TRIGGER inference_logs_no_update")
            conn.exec_driver_sql("DROP TRIGGER inference_logs_no_delete")
            conn.execute(text(sql), params)


def test_append_and_verify(engine):
    log = AuditLog(engine)
    assert log.head() == AuditHead(0, GENESIS_HASH)
    assert log.verify().ok
    _fill(log, 5)
    rows = list(log.records())
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.row_hash for a, b in pairwise(rows))
    assert rows[2].timestamp == datetime(2025, 1, 1, 0, 0, 2, tzinfo=UTC)
    result = log.verify()
    assert result.ok
    assert result.rows == 5
    assert result.head == log.head()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE inference_logs SET action = 'x' WHERE seq = 1",
        "DELETE FROM inference_logs WHERE seq = 1",
        "DELETE FROM inference_logs",
    ],
)
def test_update_and_delete_are_refused(engine, statement):
    log = AuditLog(engine)
    _fill(log, 2)
    from acie.store.database import translate_errors

    with (
        pytest.raises(StoreError, match="append-only"),
        engine.begin() as conn,
        translate_errors(),
    ):
        conn.execute(text(statement))
    assert log.verify().rows == 2


def _execute_as_app_role(engine, statement):
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL ROLE acie_app"))
        conn.execute(text(statement))


@pytest.mark.postgres
def test_postgres_refuses_truncate_and_the_app_role_cannot_rewrite(postgres_engine):
    log = AuditLog(postgres_engine)
    _fill(log, 2)
    with (
        pytest.raises(Exception, match="append-only: TRUNCATE refused"),
        postgres_engine.begin() as conn,
    ):
        conn.execute(text("TRUNCATE inference_logs"))
    # the restricted application role may insert and read, never update or delete
    with postgres_engine.begin() as conn:
        conn.execute(text("SET LOCAL ROLE acie_app"))
        assert conn.execute(text("SELECT count(*) FROM inference_logs")).scalar() == 2
    for stmt in (
        "UPDATE inference_logs SET ip = NULL",
        "DELETE FROM inference_logs",
        "TRUNCATE inference_logs",
    ):
        with pytest.raises(Exception, match="permission denied"):
            _execute_as_app_role(postgres_engine, stmt)
    assert log.verify().rows == 2


def test_modified_row_is_named(engine):
    log = AuditLog(engine)
    _fill(log, 8)
    _tamper(engine, "UPDATE inference_logs SET physics_violation_score = 0.0 WHERE seq = 5")
    with pytest.raises(AuditIntegrityError, match="row 5") as info:
        log.verify()
    assert info.value.row == 5
    result = log.verify(raise_on_error=False)
    assert not result.ok
    assert result.bad_row == 5
    assert result.rows == 4


def test_rehashed_row_breaks_the_next_link(engine):
    # an attacker who also recomputes row 3's own hash is caught at row 4
    from acie.store.audit import row_digest

    log = AuditLog(engine)
    _fill(log, 6)
    r3 = next(r for r in log.records() if r.seq == 3)
    fields = {
        k: getattr(r3, k)
        for k in (
            "request_id",
            "user_sub",
            "timestamp",
            "compute_duration_ms",
            "physics_violation_score",
            "action",
            "resource",
            "ip",
        )
    }
    fields["user_sub"] = "mallory"
    forged = row_digest(3, r3.prev_hash, fields)
    _tamper(
        engine,
        "UPDATE inference_logs SET user_sub = 'mallory', row_hash = :h WHERE seq = 3",
        h=forged,
    )
    with pytest.raises(AuditIntegrityError) as info:
        log.verify()
    assert info.value.row == 4


def test_deleted_middle_row_is_named(engine):
    log = AuditLog(engine)
    _fill(log, 6)
    _tamper(engine, "DELETE FROM inference_logs WHERE seq = 3")
    with pytest.raises(AuditIntegrityError, match="row 3 is missing") as info:
        log.verify()
    assert info.value.row == 3


def test_deleting_the_newest_rows_is_caught_by_the_anchor(engine, tmp_path):
    log = AuditLog(engine)
    _fill(log, 6)
    anchor = tmp_path / "audit-head.json"
    head = log.export_head(anchor)
    assert head.seq == 6
    assert AuditHead.read(anchor) == head
    _tamper(engine, "DELETE FROM inference_logs WHERE seq >= 5")
    assert log.verify().ok  # a shorter chain is still a valid chain…
    with pytest.raises(AuditIntegrityError, match=r"rows 5\.\.6 were deleted") as info:
        log.verify(anchor=anchor)  # …but not the one that was anchored
    assert info.value.row == 5


def test_rewritten_tail_with_a_valid_chain_is_caught_by_the_anchor(engine, tmp_path):
    log = AuditLog(engine)
    _fill(log, 4)
    anchor = log.export_head(tmp_path / "head.json")
    _tamper(engine, "DELETE FROM inference_logs WHERE seq = 4")
    log.append(request_id="forged", action="rest.GET /v1/jobs:OK")  # a new valid row 4
    assert log.verify().ok
    with pytest.raises(AuditIntegrityError) as info:
        log.verify(anchor=anchor)
    assert info.value.row == 4


def test_concurrent_appends_from_threads_never_break_the_chain(engine):
    log = AuditLog(engine)
    errors: list[BaseException] = []

    def worker(t: int) -> None:
        try:
            for i in range(15):
                log.append(request_id=f"t{t}-{i}", action="grpc.Infer:OK", user_sub=f"u{t}")
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    result = log.verify()
    assert result.ok
    assert result.rows == 90


def test_concurrent_appends_from_processes_never_break_the_chain(db_url):
    code = textwrap.dedent(f"""
        import sys
        from acie.store import AuditLog, create_engine_for
        log = AuditLog(create_engine_for({db_url!r}))
        for i in range(20):
            log.append(request_id=f"p{{sys.argv[1]}}-{{i}}", action="rest.POST:OK")
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code, str(p)]) for p in range(3)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0]
    from acie.store import create_engine_for

    eng = create_engine_for(db_url)
    try:
        result = AuditLog(eng).verify()
    finally:
        eng.dispose()
    assert result.ok
    assert result.rows == 60


def test_bad_records_are_refused(sqlite_engine):
    log = AuditLog(sqlite_engine)
    with pytest.raises(InputValidationError, match="request_id"):
        log.append(request_id="", action="x")
    with pytest.raises(InputValidationError, match="finite"):
        log.append(request_id="r", action="x", compute_duration_ms=float("nan"))
    with pytest.raises(InputValidationError, match="timezone-aware"):
        log.append(request_id="r", action="x", timestamp=datetime(2025, 1, 1))
    with pytest.raises(InputValidationError, match="unknown"):
        log.append(request_id="r", action="x", colour="red")
    assert log.count() == 0


def test_duplicate_hash_cannot_be_inserted_twice(sqlite_engine):
    # row_hash is unique: replaying a stored row verbatim is refused by the database
    from sqlalchemy import insert

    from acie.store.database import translate_errors
    from acie.store.schema import InferenceLog

    log = AuditLog(sqlite_engine)
    rec = log.append(request_id="r", action="x")
    with pytest.raises(ConflictError), translate_errors(), sqlite_engine.begin() as conn:
        conn.execute(insert(InferenceLog).values(**{**rec.__dict__, "seq": 2}))


def test_append_many_is_one_chained_all_or_nothing_batch(engine):
    log = AuditLog(engine)
    _fill(log, 2)
    batch = [
        {
            "request_id": f"b-{i}",
            "action": "grpc.Stream:OK",
            "user_sub": "bob",
            "compute_duration_ms": i,
        }
        for i in range(5)
    ]
    rows = log.append_many(batch)
    assert [r.seq for r in rows] == [3, 4, 5, 6, 7]
    assert rows[0].prev_hash == list(log.records())[1].row_hash
    assert log.append(request_id="after", action="x").seq == 8
    assert log.verify().ok
    assert log.verify().rows == 8
    with pytest.raises(InputValidationError, match="request_id"):
        log.append_many([{"request_id": "ok", "action": "a"}, {"request_id": "", "action": "a"}])
    assert log.count() == 8  # nothing of the bad batch was written
    assert log.append_many([]) == []


def test_concurrent_append_many_and_append_keep_the_chain(engine):
    log = AuditLog(engine)

    def writer(k: int) -> None:
        for j in range(5):
            if j % 2:
                log.append(request_id=f"w{k}-{j}", action="a")
            else:
                log.append_many([{"request_id": f"w{k}-{j}-{m}", "action": "b"} for m in range(3)])

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = log.verify()
    assert result.ok
    assert result.rows == 4 * (2 * 1 + 3 * 3)
