"""Whether a submitted job is let into the queue: validation, idempotent replay, limits.

Order matters: a request id that already has a job is answered first (its finished
job again, or ConflictError while it is in flight), so replaying a finished request
never counts against a full queue; only a new job meets the global depth limit
(``QUEUE_MAX_DEPTH``) and the submitting user's quota of unfinished jobs
(``QUEUE_MAX_PER_USER``), so one user cannot fill the queue for everyone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select

from acie.errors import ConflictError, InputValidationError, RateLimitError
from acie.jobs.job import Job
from acie.jobs.state import TERMINAL_STATES
from acie.store.database import translate_errors
from acie.store.schema import Job as JobRow

__all__ = ["admit", "existing_for_duplicate"]


def _validate(request_id: Any, payload: Any, user_sub: Any) -> None:
    if not isinstance(request_id, str) or not request_id or len(request_id) > 255:
        raise InputValidationError(
            f"request_id must be a non-empty string of at most 255 characters; got {request_id!r}"
        )
    if not isinstance(payload, Mapping):
        raise InputValidationError(
            f"payload must be a JSON object (a mapping); got {type(payload).__name__}"
        )
    if user_sub is not None and not isinstance(user_sub, str):
        raise InputValidationError(f"user_sub must be a string or None; got {user_sub!r}")


def existing_for_duplicate(table: Any, request_id: str) -> Job:
    """The finished job of ``request_id``; ConflictError while it is still in flight."""
    existing: Job = table.get(request_id)
    if existing.terminal:
        return existing
    raise ConflictError(
        f"request_id {request_id!r} is already in flight as job "
        f"{existing.id} (state {existing.state.value})"
    )


def admit(table: Any, request_id: Any, payload: Any, user_sub: Any) -> Job | None:
    """Check a submit against ``table`` (a :class:`~acie.jobs.table.JobTable`).

    Returns
    -------
    Job or None
        The finished job of ``request_id`` (answer it again), or None: queue a new job.

    Raises
    ------
    InputValidationError
        Malformed request id, payload or user.
    ConflictError
        ``request_id`` is in flight.
    RateLimitError
        The queue holds ``max_depth`` jobs, or ``user_sub`` has ``max_per_user``
        unfinished jobs.
    """
    _validate(request_id, payload, user_sub)
    with translate_errors(), table.engine.connect() as conn:
        known = conn.execute(select(JobRow.id).where(JobRow.request_id == request_id)).first()
    if known is not None:
        return existing_for_duplicate(table, request_id)
    depth = table.depth()
    if depth >= table.max_depth:
        raise RateLimitError(
            f"the job queue is full: {depth} jobs queued, "
            f"QUEUE_MAX_DEPTH is {table.max_depth}; retry later"
        )
    if user_sub is None or table.max_per_user is None:
        return None
    unfinished = JobRow.state.not_in([s.value for s in TERMINAL_STATES])
    with translate_errors(), table.engine.connect() as conn:
        mine = int(
            conn.execute(
                select(func.count())
                .select_from(JobRow)
                .where(JobRow.user_sub == user_sub, unfinished)
            ).scalar_one()
        )
    if mine >= table.max_per_user:
        raise RateLimitError(
            f"user {user_sub!r} has {mine} unfinished jobs, QUEUE_MAX_PER_USER is "
            f"{table.max_per_user}; retry when some have finished"
        )
    return None
