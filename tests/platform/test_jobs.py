"""One job-queue test suite, run against the SQL lease table (SQLite, PostgreSQL) and Redis Streams."""

from __future__ import annotations

import time

import pytest

from acie.errors import (
    BackendUnavailableError,
    ConflictError,
    InputValidationError,
    InvalidTransitionError,
    NotFoundError,
    PhysicsViolationError,
    RateLimitError,
)
from acie.jobs import DEAD_LETTER_PREFIX, JobState, RedisJobQueue, SQLiteJobQueue, Worker

LEASE_S = 1.0  # long enough that a loaded CI machine does not lose leases by accident


@pytest.fixture
def queue(make_queue):
    return make_queue()


def test_submit_lease_complete(queue):
    job = queue.submit("req-1", {"galaxy": 7}, user_sub="alice")
    assert job.state is JobState.QUEUED
    assert queue.depth() == 1
    leased = queue.lease("w1", timeout=2)
    assert leased is not None
    assert leased.id == job.id
    assert leased.state is JobState.PROCESSING
    assert leased.attempts == 1
    assert leased.lease_owner == "w1"
    assert queue.depth() == 0
    queue.transition(job.id, JobState.PROCESSING, JobState.PHYSICS_CHECK, worker_id="w1")
    done = queue.complete(job.id, {"mass": 1.5}, worker_id="w1")
    assert done.state is JobState.COMPLETE
    assert done.result == {"mass": 1.5}
    assert queue.get("req-1") == queue.get(str(job.id)) == done
    assert [e["to"] for e in queue.events(job.id)] == [
        "QUEUED",
        "PROCESSING",
        "PHYSICS_CHECK",
        "COMPLETE",
    ]
    assert queue.counts()["COMPLETE"] == 1
    assert queue.lease("w1", timeout=0) is None
    queue.submit("req-2", {}, user_sub="bob")
    assert [j.request_id for j in queue.recent(5)] == ["req-2", "req-1"]
    assert [j.request_id for j in queue.recent(5, user_sub="alice")] == ["req-1"]


def test_duplicate_request_ids(queue):
    job = queue.submit("dup", {"a": 1})
    with pytest.raises(ConflictError, match="already in flight"):
        queue.submit("dup", {"a": 2})
    leased = queue.lease("w", timeout=2)
    queue.transition(leased.id, "PROCESSING", "PHYSICS_CHECK")
    queue.complete(leased.id, {"ok": True})
    again = queue.submit("dup", {"a": 3})  # finished: replay returns the stored job
    assert again.id == job.id
    assert again.result == {"ok": True}
    assert again.payload == {"a": 1}


def test_queue_depth_limit(make_queue):
    q = make_queue(max_depth=3)
    for i in range(3):
        q.submit(f"r{i}", {})
    with pytest.raises(RateLimitError, match="QUEUE_MAX_DEPTH is 3"):
        q.submit("r3", {})
    assert q.depth() == 3


def test_compare_and_set_and_forward_only(queue):
    job = queue.submit("cas", {})
    with pytest.raises(ConflictError, match="not PROCESSING"):
        queue.transition(job.id, "PROCESSING", "PHYSICS_CHECK")
    queue.lease("w", timeout=2)
    with pytest.raises(InvalidTransitionError, match="PROCESSING → QUEUED"):
        queue.transition(job.id, "PROCESSING", "QUEUED")
    with pytest.raises(InvalidTransitionError):
        queue.transition(job.id, "COMPLETE", "PROCESSING")
    queue.transition(job.id, "PROCESSING", "PHYSICS_CHECK")
    queue.complete(job.id, {"v": 1})
    with pytest.raises(ConflictError):
        queue.complete(job.id, {"v": 2})  # a second completion is refused
    with pytest.raises(ConflictError):
        queue.fail(job.id, "late failure")
    assert queue.get(job.id).result == {"v": 1}


def test_expired_lease_is_redelivered_without_moving_backwards(queue):
    job = queue.submit("slow", {})
    first = queue.lease("w1", timeout=2)
    queue.transition(first.id, "PROCESSING", "PHYSICS_CHECK", worker_id="w1")
    assert queue.lease("w2", timeout=0.1) is None  # lease still live
    time.sleep(LEASE_S + 0.1)
    again = queue.lease("w2", timeout=2)
    assert again is not None
    assert again.id == job.id
    assert again.state is JobState.PHYSICS_CHECK
    assert again.attempts == 2
    assert again.lease_owner == "w2"
    with pytest.raises(ConflictError):
        queue.extend_lease(job.id, "w1")  # the old worker lost its lease
    queue.complete(job.id, {"by": "w2"}, worker_id="w2")
    states = [e["to"] for e in queue.events(job.id)]
    assert states == ["QUEUED", "PROCESSING", "PHYSICS_CHECK", "COMPLETE"]


def test_lease_extension_keeps_a_long_job(queue):
    job = queue.submit("long", {})
    queue.lease("w1", timeout=2)
    for _ in range(3):
        time.sleep(LEASE_S * 0.6)
        queue.extend_lease(job.id, "w1")
    assert queue.lease("w2", timeout=0.05) is None  # 1.8 lease lengths later, still held


def test_dead_letter_after_max_attempts(make_queue):
    q = make_queue(max_attempts=2)
    job = q.submit("poison", {})
    for attempt in (1, 2):
        got = q.lease("w", timeout=2)
        assert got is not None
        assert got.attempts == attempt
        q.release(job.id, "w")  # as a crashed handler would
    assert q.lease("w", timeout=0.2) is None
    dead = q.get(job.id)
    assert dead.state is JobState.FAILED
    assert dead.error.startswith(DEAD_LETTER_PREFIX)
    assert [j.id for j in q.dead_letters()] == [job.id]
    if isinstance(q, RedisJobQueue):
        assert q.client.xlen(q.dead_stream) == 1
        assert q.pending() == 0


def test_worker_runs_each_request_once(queue):
    seen: list[str] = []

    def handler(job):
        seen.append(job.request_id)
        return {"double": 2 * job.payload["x"]}

    for i in range(5):
        queue.submit(f"w{i}", {"x": i})
    w = Worker(queue, handler, worker_id="worker-a")
    assert w.run(max_jobs=5, poll_s=0.5) == 5
    assert sorted(seen) == [f"w{i}" for i in range(5)]
    assert all(queue.get(f"w{i}").result == {"double": 2 * i} for i in range(5))
    assert queue.counts()["COMPLETE"] == 5


def test_worker_retries_a_crashing_handler_then_fails_it(make_queue):
    q = make_queue(max_attempts=2)
    calls = []

    def flaky(job):
        calls.append(job.attempts)
        raise RuntimeError("GPU fell off the bus")

    q.submit("flaky", {})
    w = Worker(q, flaky, heartbeat=False)
    w.run_once(timeout=2)
    w.run_once(timeout=2)
    assert calls == [1, 2]
    job = q.get("flaky")
    assert job.state is JobState.FAILED
    assert "GPU fell off the bus" in job.error


def test_physics_check_failure_fails_the_job(queue):
    def check(job, result):
        if result["violation"] > 0.05:
            raise PhysicsViolationError(
                "energy not conserved", score=result["violation"], tolerance=0.05
            )

    queue.submit("phys", {})
    w = Worker(queue, lambda job: {"violation": 0.3}, physics_check=check)
    job = w.run_once(timeout=2)
    assert job.state is JobState.FAILED
    assert "energy not conserved" in job.error
    assert [e["to"] for e in queue.events(job.id)][-2:] == ["PHYSICS_CHECK", "FAILED"]


def test_long_job_heartbeat(queue):
    queue.submit("heartbeat", {})

    def slow(job):
        time.sleep(LEASE_S * 2.5)  # longer than the lease: the heartbeat must extend it
        assert queue.lease("other", timeout=0) is None
        return {"ok": True}

    job = Worker(queue, slow).run_once(timeout=2)
    assert job.state is JobState.COMPLETE
    assert job.attempts == 1


def test_bad_input(queue):
    with pytest.raises(InputValidationError, match="request_id"):
        queue.submit("", {})
    with pytest.raises(InputValidationError, match="mapping"):
        queue.submit("r", [1, 2])
    with pytest.raises(NotFoundError):
        queue.get("nope")
    with pytest.raises(InputValidationError, match="worker_id"):
        queue.lease("", timeout=0)


def test_redis_down_raises_backend_unavailable(sqlite_engine, unique_name):
    q = RedisJobQueue(sqlite_engine, "redis://127.0.0.1:1/0", stream=unique_name)
    with pytest.raises(BackendUnavailableError, match="cannot be reached"):
        q.submit("r1", {})
    with pytest.raises(NotFoundError):
        q.get("r1")  # nothing half-queued is left behind
    with pytest.raises(BackendUnavailableError):
        q.lease("w", timeout=0)


@pytest.mark.redis
def test_open_job_queue_follows_the_settings(migrated_sqlite_url, redis_url, tmp_path):
    from acie.config import load_settings
    from acie.jobs import open_job_queue

    s = load_settings(
        ACIE_DATABASE_URL=migrated_sqlite_url,
        QUEUE_MAX_DEPTH=7,
        JOB_LEASE_S=3.0,
        JOB_MAX_ATTEMPTS=2,
    )
    q = open_job_queue(s)
    assert isinstance(q, SQLiteJobQueue)
    assert (q.max_depth, q.lease_s, q.max_attempts) == (7, 3.0, 2)
    q.engine.dispose()
    r = open_job_queue(s.model_copy(update={"REDIS_URL": redis_url}))
    assert isinstance(r, RedisJobQueue)
    r.close()
    r.engine.dispose()


def test_load_handler(tmp_path):
    from acie.errors import UnknownNameError
    from acie.jobs import load_handler

    (tmp_path / "h.py").write_text("def run(job):\n    return {'ok': True}\n")
    assert load_handler(f"{tmp_path / 'h.py'}:run")(None) == {"ok": True}
    assert load_handler("json:dumps")({"a": 1}) == '{"a": 1}'
    with pytest.raises(InputValidationError, match="module:function"):
        load_handler("nocolon")
    with pytest.raises(UnknownNameError, match="not a callable"):
        load_handler(f"{tmp_path / 'h.py'}:missing")
    with pytest.raises(UnknownNameError, match="cannot be imported"):
        load_handler("acie_no_such_module:x")
