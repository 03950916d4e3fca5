"""Progress within one state: a running job's "done of total" on its row, pushed to watchers.

A long handler (the dataset ingestion embeds its images in batches) calls
:func:`record_progress` after each step. The count is kept on the job's row as
``payload["progress"] = {"done": d, "total": t, "unit": u}`` and the job's watchers are
woken (:mod:`acie.jobs.notify`), so the progress WebSocket sends it at once. Only the
delivery that holds the job's lease may write it (same worker, same attempt, lease not
run out, job still PROCESSING): a worker whose lease was taken over cannot overwrite the
new delivery's progress. A watcher reads the row when woken, so between two reads it
sees the latest count (steps may be skipped, never reordered within one delivery).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from acie.errors import InputValidationError
from acie.jobs.state import JobState
from acie.store.database import translate_errors
from acie.store.schema import Job as JobRow
from acie.store.schema import utcnow

__all__ = ["PROGRESS_KEY", "job_progress", "record_progress"]

#: the payload key of a running job's progress
PROGRESS_KEY = "progress"


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputValidationError(f"progress {name} must be an integer ≥ 0; got {value!r}")
    return value


def record_progress(queue: Any, job: Any, done: int, total: int, *, unit: str = "steps") -> bool:
    """Store ``done`` of ``total`` on ``job``'s row and wake its watchers.

    Parameters
    ----------
    queue : JobTable
        The job's queue (its ``engine`` holds the ``jobs`` table, its ``notifier``
        wakes the watchers).
    job : Job
        The leased snapshot the handler was given (its ``lease_owner`` and
        ``attempts`` fence the write).
    done, total : int
        Steps finished and planned, ``0 ≤ done ≤ total``.
    unit : str
        What a step is (``"batches"``).

    Returns
    -------
    bool
        True if written; False when this delivery no longer holds the job (its lease
        ran out and another took it, or the job finished): the handler may go on, its
        result will be fenced off in the same way.
    """
    done, total = _count("done", done), _count("total", total)
    if done > total:
        raise InputValidationError(f"progress done must be ≤ total; got {done} of {total}")
    if not isinstance(unit, str) or not unit:
        raise InputValidationError(f"progress unit must be a non-empty string; got {unit!r}")
    now = utcnow()
    fence = (
        JobRow.id == job.id,
        JobRow.lease_owner == job.lease_owner,
        JobRow.attempts == job.attempts,
        JobRow.lease_expires_at > now,
        JobRow.state == JobState.PROCESSING.value,
    )
    # the payload is the submitter's, unchanged since the lease but for this key: one
    # fenced UPDATE, no read-modify-write
    new = {**(job.payload or {}), PROGRESS_KEY: {"done": done, "total": total, "unit": unit}}
    with translate_errors(), queue.engine.begin() as conn:
        written = conn.execute(update(JobRow).where(*fence).values(payload=new)).rowcount
    if written:
        queue.notifier.publish(job.id)
    return bool(written)


def job_progress(job: Any) -> dict[str, Any] | None:
    """The progress a running job last recorded (None if none)."""
    p = (job.payload or {}).get(PROGRESS_KEY)
    return dict(p) if isinstance(p, dict) else None
