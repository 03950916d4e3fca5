"""A running job's progress (done of total) on its row: fenced by the lease, pushed to watchers."""

from __future__ import annotations

import asyncio

import pytest

from acie.errors import InputValidationError
from acie.jobs import SQLiteJobQueue
from acie.jobs.progress import job_progress, record_progress


def test_progress_is_stored_and_wakes_the_jobs_watcher(sqlite_engine):
    q = SQLiteJobQueue(sqlite_engine, lease_s=30.0)
    submitted = q.submit("r1", {"kind": "ingest", "x": 1})
    job = q.lease("w1", timeout=1)
    assert job is not None
    assert job.id == submitted.id
    assert job_progress(q.get(job.id)) is None

    async def main() -> bool:
        with q.notifier.subscribe(job.id) as w:
            w.clear()
            assert await asyncio.to_thread(record_progress, q, job, 1, 3, unit="batches")
            return await w.wait(5)

    assert asyncio.run(main()) is True
    assert job_progress(q.get(job.id)) == {"done": 1, "total": 3, "unit": "batches"}
    assert record_progress(q, job, 3, 3, unit="batches")
    row = q.get(job.id)
    assert job_progress(row) == {"done": 3, "total": 3, "unit": "batches"}
    assert row.payload["x"] == 1  # the submitter's payload is kept


def test_a_delivery_that_lost_its_lease_cannot_write_progress(sqlite_engine):
    q = SQLiteJobQueue(sqlite_engine, lease_s=30.0)
    q.submit("r2", {"kind": "ingest"})
    first = q.lease("w1", timeout=1)
    assert record_progress(q, first, 2, 4)
    # the lease is handed back (the handler crashed) and another worker takes the job
    q.release(first.id, "w1", token=first.attempts)
    second = q.lease("w2", timeout=1)
    assert second is not None
    assert second.attempts == first.attempts + 1
    assert record_progress(q, second, 1, 4)
    assert record_progress(q, first, 4, 4) is False  # the stale delivery is fenced off
    assert job_progress(q.get(first.id))["done"] == 1
    q.transition(second.id, "PROCESSING", "PHYSICS_CHECK", worker_id="w2", token=second.attempts)
    assert record_progress(q, second, 4, 4) is False  # past PROCESSING: nothing more
    q.complete(second.id, {"ok": True}, worker_id="w2", token=second.attempts)
    assert record_progress(q, second, 4, 4) is False  # finished


@pytest.mark.parametrize(("done", "total"), [(5, 4), (-1, 4), (1.5, 4), (True, 4)])
def test_bad_counts_are_refused(sqlite_engine, done, total):
    q = SQLiteJobQueue(sqlite_engine, lease_s=30.0)
    q.submit("r3", {})
    job = q.lease("w1", timeout=1)
    with pytest.raises(InputValidationError, match="progress"):
        record_progress(q, job, done, total)
