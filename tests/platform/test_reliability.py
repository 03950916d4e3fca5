"""Reliability with real processes: SIGKILLed workers, a SIGKILLed Redis with AOF.

Workers run as separate ``acie admin worker`` processes; Redis runs as our own
``redis-server`` on a free port with ``--appendonly yes --appendfsync always`` in a
temporary directory (the ``own_redis`` fixture; the shared server is never touched).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from acie.errors import BackendUnavailableError, NotFoundError
from acie.jobs import JobState, RedisJobQueue, SQLiteJobQueue, Worker
from acie.store import create_engine_for

HANDLER = textwrap.dedent("""
    import json, os, time
    from pathlib import Path

    def handle(job):
        p = job.payload
        with open(p["journal"], "a") as fh:   # one line per run of the handler
            fh.write(f"{job.request_id} {os.getpid()} {job.attempts}\\n")
            fh.flush()
            os.fsync(fh.fileno())
        if p.get("hang_first") and job.attempts == 1:
            time.sleep(120)                     # the test kills us here
        time.sleep(p.get("sleep", 0.0))
        out = Path(p["outdir"]) / f"{job.request_id}.json"   # idempotent by request_id
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps({"request_id": job.request_id}))
        os.replace(tmp, out)
        return {"pid": os.getpid()}
""")


def _wait_for(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _start_worker(
    tmp_path: Path, name: str, db_url: str, redis_url: str | None, stream: str | None, *extra: str
) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "acie",
        "admin",
        "worker",
        "--handler",
        f"{tmp_path / 'handler.py'}:handle",
        "--worker-id",
        name,
        "--url",
        db_url,
        "--poll",
        "0.2",
        *extra,
    ]
    if redis_url:
        cmd += ["--redis-url", redis_url, "--stream", stream]
    env = {**os.environ, "JOB_LEASE_S": "1.0", "JOB_MAX_ATTEMPTS": "5", "LOG_LEVEL": "WARNING"}
    env.pop("REDIS_URL", None)
    log = (tmp_path / f"{name}.log").open("w")
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)


@pytest.mark.slow
@pytest.mark.parametrize(
    "backend",
    [
        "sql-sqlite",
        pytest.param("sql-postgres", marks=pytest.mark.postgres),
        pytest.param("redis", marks=pytest.mark.redis),
    ],
)
def test_worker_killed_mid_job_completes_each_job_exactly_once(
    backend, request, tmp_path, unique_name
):
    db_url = request.getfixturevalue(
        "migrated_postgres_url" if backend == "sql-postgres" else "migrated_sqlite_url"
    )
    redis_url = request.getfixturevalue("redis_url") if backend == "redis" else None
    engine = create_engine_for(db_url)
    q = (
        RedisJobQueue(engine, redis_url, stream=unique_name, lease_s=1.0)
        if redis_url
        else SQLiteJobQueue(engine, lease_s=1.0)
    )
    (tmp_path / "handler.py").write_text(HANDLER)
    journal, outdir = tmp_path / "journal.txt", tmp_path / "out"
    journal.touch()
    outdir.mkdir()
    common = {"journal": str(journal), "outdir": str(outdir)}
    q.submit("victim", {**common, "hang_first": True})
    for i in range(5):
        q.submit(f"job-{i}", {**common, "sleep": 0.05})
    workers = []
    try:
        a = _start_worker(tmp_path, "worker-a", db_url, redis_url, unique_name)
        workers.append(a)
        # wait until worker A is inside the handler of the victim job, then SIGKILL it
        _wait_for(lambda: f"victim {a.pid} 1" in journal.read_text(), 30, "worker A to start")
        os.kill(a.pid, signal.SIGKILL)
        a.wait(10)
        assert q.get("victim").state is JobState.PROCESSING  # left mid-job
        b = _start_worker(tmp_path, "worker-b", db_url, redis_url, unique_name, "--idle-exit", "2")
        workers.append(b)
        _wait_for(lambda: q.counts()["COMPLETE"] == 6, 60, "all six jobs to complete")
        assert b.wait(30) == 0
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait()
    try:
        runs = [line.split() for line in journal.read_text().splitlines()]
        victim_runs = [r for r in runs if r[0] == "victim"]
        # at-least-once delivery: the victim's handler ran twice (attempts 1 and 2)…
        assert [int(r[2]) for r in victim_runs] == [1, 2]
        assert int(victim_runs[0][1]) == a.pid
        assert int(victim_runs[1][1]) == b.pid
        for rid in ["victim", *[f"job-{i}" for i in range(5)]]:
            job = q.get(rid)
            # …but every job reached COMPLETE exactly once, with one result
            assert job.state is JobState.COMPLETE
            assert [e["to"] for e in q.events(job.id)].count("COMPLETE") == 1
            assert (outdir / f"{rid}.json").is_file()
        assert q.get("victim").result == {"pid": b.pid}
        assert sorted(p.name for p in outdir.iterdir()) == sorted(
            f"{r}.json" for r in ["victim", *[f"job-{i}" for i in range(5)]]
        )
        if redis_url:
            assert q.pending() == 0  # every stream entry acknowledged
    finally:
        if isinstance(q, RedisJobQueue):
            q.drop_streams()
        q.close()
        engine.dispose()


@pytest.mark.slow
@pytest.mark.redis
def test_redis_killed_with_aof_loses_no_acknowledged_job(sqlite_engine, own_redis):
    server = own_redis(aof=True)
    try:
        q = RedisJobQueue(sqlite_engine, server.url, stream="jobs", lease_s=0.5)
        acknowledged = [q.submit(f"r{i}", {"i": i}).request_id for i in range(20)]
        # three jobs are in a worker's hands, one of them finished, when Redis dies
        held = [q.lease("w1", timeout=1) for _ in range(3)]
        q.transition(held[0].id, "PROCESSING", "PHYSICS_CHECK", worker_id="w1")
        q.complete(held[0].id, {"i": held[0].payload["i"]}, worker_id="w1")

        server.kill9()
        # the API side gets a typed error, never a crash or a silent loss
        with pytest.raises(BackendUnavailableError):
            q.submit("during-outage", {})
        with pytest.raises(NotFoundError):
            q.get("during-outage")
        with pytest.raises(BackendUnavailableError):
            q.lease("w1", timeout=0)
        assert q.get("r5").state is JobState.QUEUED  # the database still answers

        server.start()  # same port, same directory: replays the AOF
        assert q.client.xlen("jobs") == 20
        assert q.pending() == 2  # the two unfinished leases survived in the group's PEL
        time.sleep(0.6)  # let the dead worker's leases run out
        w = Worker(q, lambda job: {"i": job.payload["i"]}, worker_id="w2")
        w.run(idle_exit_s=1.0, poll_s=0.25)
        for rid in acknowledged:
            job = q.get(rid)
            assert job.state is JobState.COMPLETE, (rid, job.state)
            assert job.result == {"i": job.payload["i"]}
            assert [e["to"] for e in q.events(job.id)].count("COMPLETE") == 1
        assert q.pending() == 0
        q.close()
    finally:
        server.stop()


@pytest.mark.redis
def test_worker_waits_out_a_redis_outage(sqlite_engine, own_redis):
    import threading

    server = own_redis(aof=True)
    try:
        q = RedisJobQueue(sqlite_engine, server.url, stream="jobs", lease_s=0.5)
        q.submit("before", {"i": 1})
        server.kill9()
        w = Worker(q, lambda job: {"i": job.payload["i"]}, worker_id="patient")
        t = threading.Thread(target=w.run, kwargs={"poll_s": 0.2})
        t.start()
        time.sleep(1.0)  # the worker backs off instead of dying
        assert t.is_alive()
        server.start()
        _wait_for(lambda: q.get("before").state is JobState.COMPLETE, 30, "the job")
        w.stop()
        t.join(10)
        assert not t.is_alive()
        q.close()
    finally:
        server.stop()
