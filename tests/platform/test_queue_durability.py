"""SQLite commits of acknowledged jobs and of audit rows are fsynced (``synchronous=FULL``).

With ``synchronous=NORMAL`` in WAL mode a commit is durable against a process crash
but not against power loss: the last transactions can vanish. Power loss cannot be
simulated here, so the test checks the setting in force on the connection at the
moment each job or audit row is written.
"""

from __future__ import annotations

from sqlalchemy import event

from acie.jobs import SQLiteJobQueue

FULL = 2  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA


def _record_synchronous(engine, tables: tuple[str, ...]) -> list[tuple[str, int]]:
    seen: list[tuple[str, int]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _check(conn, cursor, statement, params, context, executemany):
        head = statement.lstrip().upper()
        for table in tables:
            if head.startswith(("INSERT", "UPDATE")) and f" {table.upper()} " in f"{head} ":
                level = conn.connection.dbapi_connection.execute("PRAGMA synchronous").fetchone()
                seen.append((head.split("(")[0][:40], int(level[0])))

    return seen


def test_job_writes_commit_with_synchronous_full(sqlite_engine):
    seen = _record_synchronous(sqlite_engine, ("jobs", "job_events"))
    q = SQLiteJobQueue(sqlite_engine, lease_s=5.0)
    job = q.submit("durable", {})
    leased = q.lease("w", timeout=1)
    q.transition(job.id, "PROCESSING", "PHYSICS_CHECK", worker_id="w", token=leased.attempts)
    q.complete(job.id, {"ok": True}, worker_id="w", token=leased.attempts)
    assert len(seen) >= 6
    assert {level for _, level in seen} == {FULL}, seen
    # reads and other writes keep the cheaper default
    with sqlite_engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1
        level = conn.connection.dbapi_connection.execute("PRAGMA synchronous").fetchone()[0]
    assert level == 1


def test_audit_rows_commit_with_synchronous_full(sqlite_engine):
    from acie.store.audit import AuditLog

    seen = _record_synchronous(sqlite_engine, ("inference_logs",))
    log = AuditLog(sqlite_engine)
    log.append(request_id="r-durable", action="test.durable", user_sub="alice")
    assert seen
    assert {level for _, level in seen} == {FULL}, seen
