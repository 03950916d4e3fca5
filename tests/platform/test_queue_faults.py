"""Fault injection under load: kill -9 of worker processes and of Redis (its own instance, AOF on).

Workers are ``acie admin worker`` processes; Redis is a ``redis-server`` the test
starts itself on a free port with ``--appendonly yes --appendfsync always`` (the shared
server is never touched). The promise checked: every job whose ``submit`` returned
(acknowledged) reaches COMPLETE exactly once; a ``submit`` refused during an outage
raises :class:`~acie.errors.BackendUnavailableError` and leaves nothing behind.
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
from acie.jobs import JobState, RedisJobQueue, SQLiteJobQueue
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
            time.sleep(120)                     # the test kills this worker here
        time.sleep(p.get("sleep", 0.0))
        out = Path(p["outdir"]) / f"{job.request_id}.json"   # idempotent by request_id
        tmp = out.with_suffix(f".{os.getpid()}.tmp")
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


class Load:
    """Worker processes, a journal of handler runs, and the jobs acknowledged so far."""

    def __init__(self, tmp_path: Path, db_url: str, redis_url: str | None) -> None:
        self.tmp, self.db_url, self.redis_url = tmp_path, db_url, redis_url
        (tmp_path / "handler.py").write_text(HANDLER)
        self.journal, self.outdir = tmp_path / "journal.txt", tmp_path / "out"
        self.journal.touch()
        self.outdir.mkdir()
        self.workers: dict[str, subprocess.Popen] = {}
        self.acknowledged: list[str] = []
        self.refused: list[str] = []

    def payload(self, **kw) -> dict:
        return {"journal": str(self.journal), "outdir": str(self.outdir), "sleep": 0.02, **kw}

    def start_worker(self, name: str) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "acie", "admin", "worker"]
        cmd += ["--handler", f"{self.tmp / 'handler.py'}:handle", "--worker-id", name]
        cmd += ["--url", self.db_url, "--poll", "0.2"]
        if self.redis_url:
            cmd += ["--redis-url", self.redis_url, "--stream", "jobs"]
        env = {**os.environ, "JOB_LEASE_S": "1.0", "JOB_MAX_ATTEMPTS": "5", "LOG_LEVEL": "ERROR"}
        env.pop("REDIS_URL", None)
        log = (self.tmp / f"{name}.log").open("w")
        self.workers[name] = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        return self.workers[name]

    def submit(self, q, rid: str, **kw) -> None:
        try:
            q.submit(rid, self.payload(**kw))
        except BackendUnavailableError:
            self.refused.append(rid)
        else:
            self.acknowledged.append(rid)

    def runs(self) -> list[tuple[str, int, int]]:
        lines = [ln.split() for ln in self.journal.read_text().splitlines() if ln.strip()]
        return [(r, int(p), int(a)) for r, p, a in lines]

    def kill_victims_worker(self) -> int:
        """SIGKILL the worker that is inside the victim's handler (attempt 1)."""
        _wait_for(lambda: any(r == "victim" for r, _, _ in self.runs()), 30, "the victim to start")
        pid = next(p for r, p, _ in self.runs() if r == "victim")
        os.kill(pid, signal.SIGKILL)
        for w in self.workers.values():
            if w.pid == pid:
                w.wait(10)
        return pid

    def stop(self) -> None:
        for w in self.workers.values():
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)
        for w in self.workers.values():
            try:
                w.wait(10)
            except subprocess.TimeoutExpired:
                w.kill()
                w.wait()

    def check_exactly_once(self, q, killed_pid: int) -> None:
        for rid in self.acknowledged:
            job = q.get(rid)
            assert job.state is JobState.COMPLETE, (rid, job.state, job.error)
            assert [e["to"] for e in q.events(job.id)].count("COMPLETE") == 1, rid
            assert (self.outdir / f"{rid}.json").is_file(), rid
        for rid in self.refused:  # refused during the outage: nothing half-written
            with pytest.raises(NotFoundError):
                q.get(rid)
        assert sorted(p.name for p in self.outdir.glob("*.json")) == sorted(
            f"{r}.json" for r in self.acknowledged
        )
        victim = [(p, a) for r, p, a in self.runs() if r == "victim"]
        assert victim[0] == (killed_pid, 1)  # at-least-once: the victim ran again…
        assert len(victim) == 2
        assert q.get("victim").result == {"pid": victim[1][0]}  # …and completed once


@pytest.mark.slow
@pytest.mark.redis
def test_redis_and_a_worker_killed_under_load_lose_no_acknowledged_job(
    own_redis, migrated_sqlite_url, tmp_path
):
    server = own_redis(aof=True)
    engine = create_engine_for(migrated_sqlite_url)
    q = RedisJobQueue(engine, server.url, stream="jobs", lease_s=1.0)
    load = Load(tmp_path, migrated_sqlite_url, server.url)
    try:
        load.start_worker("a")
        load.start_worker("b")
        for i in range(30):
            load.submit(q, f"j{i}")
        load.submit(q, "victim", hang_first=True)
        killed = load.kill_victims_worker()  # a worker dies mid-job…
        for i in range(30, 45):
            load.submit(q, f"j{i}")
        server.kill9()  # …and Redis dies while jobs are queued and in flight
        for i in range(45, 55):
            load.submit(q, f"j{i}")  # refused: the caller is told, nothing is kept
        assert load.refused == [f"j{i}" for i in range(45, 55)]
        time.sleep(0.5)  # the workers back off meanwhile
        server.start()  # same port and directory: the AOF is replayed
        load.start_worker("c")
        for i in range(55, 85):
            load.submit(q, f"j{i}")
        _wait_for(
            lambda: q.counts()["COMPLETE"] == len(load.acknowledged),
            90,
            "every acknowledged job to complete",
        )
        _wait_for(lambda: q.pending() == 0, 10, "every stream entry to be acknowledged")
        load.check_exactly_once(q, killed)
    finally:
        load.stop()
        q.close()
        engine.dispose()


@pytest.mark.slow
def test_workers_killed_under_load_on_the_sql_queue_lose_no_acknowledged_job(
    migrated_sqlite_url, tmp_path
):
    engine = create_engine_for(migrated_sqlite_url)
    q = SQLiteJobQueue(engine, lease_s=1.0)
    load = Load(tmp_path, migrated_sqlite_url, None)
    try:
        load.start_worker("a")
        load.start_worker("b")
        for i in range(25):
            load.submit(q, f"j{i}")
        load.submit(q, "victim", hang_first=True)
        for i in range(25, 50):
            load.submit(q, f"j{i}")
        killed = load.kill_victims_worker()
        load.start_worker("c")
        for i in range(50, 75):
            load.submit(q, f"j{i}")
        _wait_for(
            lambda: q.counts()["COMPLETE"] == len(load.acknowledged),
            90,
            "every acknowledged job to complete",
        )
        assert not load.refused
        load.check_exactly_once(q, killed)
    finally:
        load.stop()
        engine.dispose()
