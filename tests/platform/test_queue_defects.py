"""Regression tests of the job-queue defects of issue 15, on every backend that had them.

XAUTOCLAIM paging, dead-lettering a handler that always raises, lease fencing, the
reconciler after Redis lost its data (NOGROUP), stream trimming, the AOF check.
"""

from __future__ import annotations

import logging
import threading
import time

import pytest

from acie.config import load_settings
from acie.errors import ConfigurationError, ConflictError
from acie.jobs import DEAD_LETTER_PREFIX, JobState, RedisJobQueue, Worker, open_job_queue

LEASE_S = 1.0


def _wait_for(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.mark.redis
def test_dead_worker_job_behind_ten_live_ones_is_reclaimed(redis_url, sqlite_engine, unique_name):
    q = RedisJobQueue(sqlite_engine, redis_url, stream=unique_name, lease_s=LEASE_S)
    try:
        live = [q.submit(f"live-{i}", {}) for i in range(11)]
        victim = q.submit("victim", {})
        for job in live:
            assert q.lease("w-live", timeout=1).id == job.id
        assert q.lease("w-dead", timeout=1).id == victim.id  # then w-dead dies
        for _ in range(3):  # w-live keeps its eleven leases alive; the victim's idles
            time.sleep(LEASE_S * 0.45)
            for job in live:
                q.extend_lease(job.id, "w-live")
        got = q.lease("w-new", timeout=LEASE_S)
        assert got is not None, "the dead worker's job was never reclaimed"
        assert got.id == victim.id
        assert got.attempts == 2
    finally:
        q.drop_streams()
        q.close()


def test_handler_raising_every_time_is_dead_lettered_with_its_last_error(make_queue, caplog):
    q = make_queue(max_attempts=2)
    calls = []

    def always_raises(job):
        calls.append(job.attempts)
        raise RuntimeError(f"boom on attempt {job.attempts}")

    job = q.submit("poison", {})
    w = Worker(q, always_raises, heartbeat=False)
    with caplog.at_level(logging.INFO, logger="acie.jobs.worker"):
        w.run_once(timeout=2)
        first = [r.getMessage() for r in caplog.records]
        caplog.clear()
        w.run_once(timeout=2)
        final = [r.getMessage() for r in caplog.records]
    assert calls == [1, 2]
    dead = q.get(job.id)
    assert dead.state is JobState.FAILED
    assert dead.error.startswith(DEAD_LETTER_PREFIX)
    assert "RuntimeError: boom on attempt 2" in dead.error  # the last error is kept
    assert [j.id for j in q.dead_letters()] == [job.id]
    assert any("will be delivered again" in m for m in first)
    assert not any("will be delivered again" in m for m in final)
    assert any("final attempt" in m for m in final)
    if isinstance(q, RedisJobQueue):
        entries = q.client.xrange(q.dead_stream)
        assert len(entries) == 1
        assert entries[0][1]["job_id"] == str(job.id)
        assert "boom on attempt 2" in entries[0][1]["error"]
        assert q.pending() == 0


def test_worker_death_after_a_handler_error_keeps_that_error(make_queue):
    q = make_queue(max_attempts=2)
    job = q.submit("crash-then-die", {})

    def raises(job):
        raise ValueError("bad pixel")

    Worker(q, raises, heartbeat=False).run_once(timeout=2)  # attempt 1: handler raised
    assert q.lease("dies", timeout=2).attempts == 2  # attempt 2: the worker dies
    time.sleep(LEASE_S + 0.2)
    assert q.lease("w3", timeout=LEASE_S) is None  # dead-lettered instead of a third try
    dead = q.get(job.id)
    assert dead.state is JobState.FAILED
    assert dead.error.startswith(DEAD_LETTER_PREFIX)
    assert "ValueError: bad pixel" in dead.error


def test_expired_lease_cannot_store_a_stale_result(make_queue):
    q = make_queue()
    job = q.submit("fenced", {})
    a = q.lease("A", timeout=2)
    q.transition(job.id, "PROCESSING", "PHYSICS_CHECK", worker_id="A", token=a.attempts)
    time.sleep(LEASE_S + 0.2)  # A stalls past its lease…
    with pytest.raises(ConflictError, match="fencing token"):  # …even before anyone took over
        q.complete(job.id, {"who": "A"}, worker_id="A", token=a.attempts)
    b = q.lease("B", timeout=LEASE_S + 1)
    assert b is not None
    assert b.attempts == a.attempts + 1
    with pytest.raises(ConflictError, match="fencing token"):
        q.complete(job.id, {"who": "A"}, worker_id="A", token=a.attempts)
    with pytest.raises(ConflictError):
        q.extend_lease(job.id, "A", token=a.attempts)
    done = q.complete(job.id, {"who": "B"}, worker_id="B", token=b.attempts)
    assert done.result == {"who": "B"}
    assert [e["to"] for e in q.events(job.id)].count("COMPLETE") == 1


def test_worker_whose_lease_expired_does_not_complete_with_its_stale_result(make_queue):
    q = make_queue()
    job = q.submit("slow", {})
    b_leased, a_done = threading.Event(), threading.Event()

    def slow_a(j):
        assert b_leased.wait(10)  # A stalls until its lease has gone to B
        return {"who": "A"}

    wa = Worker(q, slow_a, heartbeat=False, worker_id="A")
    leased_a = q.lease("A", timeout=2)
    t = threading.Thread(target=lambda: (wa.process(leased_a), a_done.set()))
    t.start()
    time.sleep(LEASE_S + 0.2)
    leased_b = q.lease("B", timeout=LEASE_S + 1)
    assert leased_b is not None
    assert leased_b.attempts == 2
    b_leased.set()
    assert a_done.wait(10)
    t.join(10)
    assert q.get(job.id).state is not JobState.COMPLETE  # A's stale result was refused
    Worker(q, lambda j: {"who": "B"}, heartbeat=False, worker_id="B").process(leased_b)
    final = q.get(job.id)
    assert final.state is JobState.COMPLETE
    assert final.result == {"who": "B"}
    assert [e["to"] for e in q.events(job.id)].count("COMPLETE") == 1


@pytest.mark.redis
def test_running_worker_survives_redis_coming_back_empty(own_redis, sqlite_engine):
    server = own_redis(aof=False)
    q = RedisJobQueue(sqlite_engine, server.url, stream="jobs", lease_s=LEASE_S)
    gate = threading.Event()
    seen: list[str] = []

    def handler(job):
        seen.append(job.request_id)
        if job.request_id == "r0":
            assert gate.wait(10)  # Redis loses its data while this job runs
        return {"i": job.payload["i"]}

    w = Worker(q, handler, worker_id="w-live")
    crashed: list[BaseException] = []

    def run() -> None:
        try:
            w.run(poll_s=0.2)
        except BaseException as err:  # the old worker died here on NOGROUP
            crashed.append(err)

    t = threading.Thread(target=run)
    t.start()
    try:
        submitted = [q.submit(f"r{i}", {"i": i}).request_id for i in range(6)]
        _wait_for(lambda: "r0" in seen, 10, "the worker to start r0")
        server.kill9()
        server.start()  # no AOF: Redis is back with no stream and no group
        assert q.client.exists("jobs") == 0
        gate.set()
        _wait_for(
            lambda: crashed or q.counts()["COMPLETE"] == len(submitted),
            30,
            "every job to complete after Redis lost its data",
        )
    finally:
        gate.set()
        w.stop()
        t.join(10)
        q.close()
    assert not crashed, crashed
    for rid in submitted:
        job = q.get(rid)
        assert job.state is JobState.COMPLETE
        assert [e["to"] for e in q.events(job.id)].count("COMPLETE") == 1
    assert sorted(seen) == sorted(submitted)  # each job handled once


@pytest.mark.redis
def test_reconcile_republishes_rows_whose_entries_vanished(redis_url, sqlite_engine, unique_name):
    q = RedisJobQueue(sqlite_engine, redis_url, stream=unique_name, lease_s=LEASE_S)
    try:
        jobs = [q.submit(f"v{i}", {}) for i in range(3)]
        q.client.delete(unique_name)  # Redis lost the stream (and the group with it)
        assert q.reconcile(grace_s=0) == 3
        assert q.reconcile(grace_s=0) == 0  # now covered by their new entries
        got = {q.lease("w", timeout=1).id for _ in jobs}
        assert got == {j.id for j in jobs}
    finally:
        q.drop_streams()
        q.close()


@pytest.mark.redis
def test_trim_removes_only_acknowledged_entries(redis_url, sqlite_engine, unique_name):
    q = RedisJobQueue(
        sqlite_engine, redis_url, stream=unique_name, lease_s=LEASE_S, retention_s=0.0
    )
    try:
        for i in range(5):
            q.submit(f"t{i}", {})
        for _ in range(3):
            job = q.lease("w", timeout=1)
            q.transition(job.id, "PROCESSING", "PHYSICS_CHECK", worker_id="w")
            q.complete(job.id, {}, worker_id="w")
        pending = q.lease("w", timeout=1)  # delivered, not acknowledged
        assert q.client.xlen(unique_name) == 5
        time.sleep(0.01)
        assert q.trim() == 3
        left = [fields["request_id"] for _, fields in q.client.xrange(unique_name)]
        assert left == [pending.request_id, "t4"]  # pending and not yet read stay
        kept = RedisJobQueue(sqlite_engine, redis_url, stream=unique_name, retention_s=3600.0)
        assert kept.trim() == 0  # within the retention time nothing goes
        kept.close()
    finally:
        q.drop_streams()
        q.close()


@pytest.mark.redis
def test_redis_without_aof_is_refused_in_production_and_warned_about_in_development(
    own_redis, migrated_sqlite_url, caplog
):
    import redis

    from acie.jobs.durability import check_redis_durability

    plain = own_redis(aof=False)

    client = redis.Redis.from_url(plain.url, decode_responses=True)
    with pytest.raises(ConfigurationError, match="appendonly"):
        check_redis_durability(client, plain.url, strict=True)
    with caplog.at_level(logging.WARNING, logger="acie.jobs.durability"):
        assert check_redis_durability(client, plain.url, strict=False)["appendonly"] == "no"
    assert any("appendonly" in r.getMessage() for r in caplog.records)
    client.close()
    base = dict(ACIE_DATABASE_URL=migrated_sqlite_url, REDIS_URL=plain.url)
    with pytest.raises(ConfigurationError, match="appendonly"):
        open_job_queue(load_settings(ACIE_ENV="production", **base))
    open_job_queue(load_settings(ACIE_ENV="development", **base)).close()
    durable = own_redis(aof=True)
    q = open_job_queue(
        load_settings(
            ACIE_ENV="production", ACIE_DATABASE_URL=migrated_sqlite_url, REDIS_URL=durable.url
        )
    )
    assert isinstance(q, RedisJobQueue)
    q.close()
