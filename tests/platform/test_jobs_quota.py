"""Per-user queue quotas, idempotent replay before admission, and collaborators' job lists."""

from __future__ import annotations

import pytest

from acie.errors import ConflictError, RateLimitError
from acie.jobs import JobState


def _finish(q, job):
    got = q.lease("w", timeout=2)
    assert got.id == job.id
    q.transition(job.id, "PROCESSING", "PHYSICS_CHECK", worker_id="w")
    return q.complete(job.id, {"ok": True}, worker_id="w")


def test_one_user_cannot_fill_the_queue_for_everyone(make_queue):
    q = make_queue(max_depth=10, max_per_user=3)
    for i in range(3):
        q.submit(f"a{i}", {}, user_sub="alice")
    with pytest.raises(RateLimitError, match="QUEUE_MAX_PER_USER"):
        q.submit("a3", {}, user_sub="alice")
    assert q.submit("b0", {}, user_sub="bob").state is JobState.QUEUED  # others still get in
    _finish(q, q.get("a0"))  # a finished job frees a slot of alice's quota
    assert q.submit("a3", {}, user_sub="alice").state is JobState.QUEUED


def test_replay_of_a_finished_request_is_answered_even_when_the_queue_is_full(make_queue):
    q = make_queue(max_depth=2)
    first = q.submit("done", {"x": 1}, user_sub="alice")
    _finish(q, first)
    q.submit("fill-1", {}, user_sub="bob")
    q.submit("fill-2", {}, user_sub="carol")  # the queue is now full (depth 2)
    again = q.submit("done", {"x": 1}, user_sub="alice")
    assert again.id == first.id
    assert again.state is JobState.COMPLETE
    with pytest.raises(ConflictError):  # a request still in flight is a conflict, not a 429
        q.submit("fill-1", {}, user_sub="bob")
    with pytest.raises(RateLimitError):
        q.submit("new", {}, user_sub="dave")


def test_collaborator_sees_shared_jobs_older_than_the_newest_200(engine):
    """The listing is SQL over the ``jobs`` table: both database backends, no queue needed."""
    import uuid
    from datetime import timedelta

    from sqlalchemy import insert

    from acie.jobs import SQLiteJobQueue
    from acie.serve.auth import Principal, Role
    from acie.serve.job_service import queue_request_id, recent_jobs
    from acie.store.schema import Job as JobRow
    from acie.store.schema import utcnow

    q = SQLiteJobQueue(engine)
    shared = q.submit(queue_request_id("alice", "old-shared"), {"shared": True}, user_sub="alice")
    t0 = utcnow()
    rows = [  # newer private jobs push the shared one out of the newest 200
        {
            "id": uuid.uuid4(),
            "request_id": queue_request_id("alice", f"p{i}"),
            "user_sub": "alice",
            "state": "QUEUED",
            "payload": {"shared": False},
            "attempts": 0,
            "created_at": t0 + timedelta(seconds=i + 1),
            "updated_at": t0 + timedelta(seconds=i + 1),
        }
        for i in range(250)
    ]
    with engine.begin() as conn:
        conn.execute(insert(JobRow), rows)
    carol = Principal(subject="carol", role=Role.collaborator, scopes=frozenset({"jobs:read"}))
    assert [j.id for j in recent_jobs(q, carol, limit=20)] == [shared.id]
    alice = Principal(subject="alice", role=Role.researcher, scopes=frozenset({"jobs:read"}))
    assert [j.request_id for j in recent_jobs(q, alice, limit=3)] == [
        queue_request_id("alice", f"p{i}") for i in (249, 248, 247)
    ]
