"""The embedded job queue: a lease table in the database (SQLite by default).

Leasing takes the oldest job that is QUEUED, or whose lease ran out, inside one
locked transaction (SQLite ``BEGIN IMMEDIATE``; PostgreSQL ``FOR UPDATE SKIP LOCKED``),
so two workers never hold the same live lease. Delivery is at-least-once: a worker
killed mid-job leaves its lease to expire and the job is delivered again, without its
state moving backwards.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine, or_, select

from acie.errors import ConflictError, InputValidationError
from acie.jobs.admission import admit, existing_for_duplicate
from acie.jobs.job import Job
from acie.jobs.state import JobState
from acie.jobs.table import JobTable
from acie.store.database import Backend, translate_errors
from acie.store.schema import Job as JobRow
from acie.store.schema import utcnow

__all__ = ["SQLiteJobQueue"]

_POLL_S = 0.05


class SQLiteJobQueue(JobTable):
    """Job queue on the ``jobs`` table itself (works on SQLite and PostgreSQL).

    Parameters
    ----------
    engine : Engine
        A migrated database (:func:`acie.store.database.migrate`).
    lease_s : float [s]
        Lease length (``JOB_LEASE_S``).
    max_attempts : int
        Deliveries before dead-lettering (``JOB_MAX_ATTEMPTS``).
    max_depth : int
        Queued jobs before :meth:`submit` refuses (``QUEUE_MAX_DEPTH``).
    max_per_user : int or None
        Unfinished jobs per user before :meth:`submit` refuses (``QUEUE_MAX_PER_USER``).
    """

    backend_name = "sql"

    def __init__(
        self,
        engine: Engine,
        *,
        lease_s: float = 30.0,
        max_attempts: int = 5,
        max_depth: int = 1000,
        max_per_user: int | None = None,
    ) -> None:
        super().__init__(
            engine,
            lease_s=lease_s,
            max_attempts=max_attempts,
            max_depth=max_depth,
            max_per_user=max_per_user,
        )

    def submit(
        self,
        request_id: str,
        payload: Mapping[str, Any],
        *,
        user_sub: str | None = None,
        model_id: int | None = None,
    ) -> Job:
        """Queue a job.

        Returns the new job (state QUEUED). Submitting a request_id whose job already
        finished returns that job unchanged (idempotent replay).

        Raises
        ------
        ConflictError
            The request_id is already in flight.
        RateLimitError
            ``max_depth`` jobs are already queued, or the user has ``max_per_user``
            unfinished jobs (checked after the idempotent replay).
        """
        replay = admit(self, request_id, payload, user_sub)
        if replay is not None:
            return replay
        try:
            with translate_errors(), self._write_conn() as conn, conn.begin():
                job = self._insert(conn, request_id, payload, user_sub, model_id)
        except ConflictError:
            return existing_for_duplicate(self, request_id)
        self._notify(job.id)
        return job

    def lease(self, worker_id: str, *, timeout: float = 0.0) -> Job | None:
        """Lease the next job, waiting up to ``timeout`` seconds; None if there is none.

        The job moves QUEUED → PROCESSING (a redelivered job keeps its state) and its
        ``attempts`` count goes up by one. A job already delivered ``max_attempts``
        times is dead-lettered (FAILED) instead.
        """
        if not isinstance(worker_id, str) or not worker_id:
            raise InputValidationError(f"worker_id must be a non-empty string; got {worker_id!r}")
        deadline = time.monotonic() + max(0.0, float(timeout))
        while True:
            job = self._lease_once(worker_id)
            if job is not None:
                return job
            if time.monotonic() >= deadline:
                return None
            time.sleep(min(_POLL_S, max(0.0, deadline - time.monotonic())))

    def _lease_once(self, worker_id: str) -> Job | None:
        now = utcnow()
        due = or_(
            JobRow.state == JobState.QUEUED.value,
            (JobRow.state.in_([JobState.PROCESSING.value, JobState.PHYSICS_CHECK.value]))
            & (JobRow.lease_expires_at < now),
        )
        stmt = select(JobRow).where(due).order_by(JobRow.created_at).limit(1)
        if self._backend is Backend.postgresql:
            stmt = stmt.with_for_update(skip_locked=True)
        while True:
            with translate_errors(), self._write_conn() as conn, conn.begin():
                row = conn.execute(stmt).first()
                if row is None:
                    return None
                job = self._take(conn, row, worker_id)
            self._notify(row.id)
            if job is not None:
                return job
            # it was dead-lettered: look for the next one

    def extend_lease(
        self,
        job_id: uuid.UUID | str,
        worker_id: str,
        seconds: float | None = None,
        *,
        token: int | None = None,
    ) -> Job:
        """Extend the lease this worker holds (long jobs); ConflictError if it was lost."""
        return self.extend_lease_row(job_id, worker_id, seconds, token=token)

    def release(
        self,
        job_id: uuid.UUID | str,
        worker_id: str,
        *,
        token: int | None = None,
        error: str | None = None,
    ) -> None:
        """Give a lease back so the job is delivered again at once (handler crashed).

        ``error``, the handler's error, is kept as the job's last error.
        """
        self.extend_lease_row(job_id, worker_id, seconds=-1.0, token=token, error=error)

    def complete(
        self,
        job_id: uuid.UUID | str,
        result: Mapping[str, Any],
        *,
        worker_id: str | None = None,
        token: int | None = None,
    ) -> Job:
        """PHYSICS_CHECK → COMPLETE with ``result``; ConflictError if finished or fenced off."""
        return self.complete_row(job_id, result, worker_id=worker_id, token=token)

    def fail(
        self,
        job_id: uuid.UUID | str,
        error: str,
        *,
        worker_id: str | None = None,
        token: int | None = None,
    ) -> Job:
        """Any non-terminal state → FAILED with ``error``."""
        return self.fail_row(job_id, error, worker_id=worker_id, token=token)

    def dead_letter(
        self, job_id: uuid.UUID | str, error: str, *, worker_id: str, token: int | None = None
    ) -> Job:
        """FAILED as a dead letter (its attempts are used up), ``error`` kept as last error."""
        return self.dead_letter_row(job_id, error, worker_id=worker_id, token=token)

    def reconcile(self) -> int:
        """Nothing to do: the table is the queue (an expired lease is simply due again)."""
        return 0

    def close(self) -> None:
        """Nothing to close (the engine belongs to the caller)."""
