"""The job-queue interface and the factory that picks a backend from the settings."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import Engine

from acie.jobs.job import Job

__all__ = ["JobQueue", "open_job_queue"]


@runtime_checkable
class JobQueue(Protocol):
    """What both queue backends offer.

    See :class:`~acie.jobs.sql_queue.SQLiteJobQueue` and
    :class:`~acie.jobs.redis_queue.RedisJobQueue`.
    """

    backend_name: str
    engine: Engine
    lease_s: float
    max_attempts: int
    max_depth: int

    def submit(
        self,
        request_id: str,
        payload: Mapping[str, Any],
        *,
        user_sub: str | None = None,
        model_id: int | None = None,
    ) -> Job:
        """Queue a job (state QUEUED); a finished request_id returns its job unchanged."""
        ...

    def lease(self, worker_id: str, *, timeout: float = 0.0) -> Job | None:
        """Lease the next job, waiting up to ``timeout`` seconds; None if there is none."""
        ...

    def extend_lease(
        self, job_id: uuid.UUID | str, worker_id: str, seconds: float | None = None
    ) -> Job:
        """Extend the lease this worker holds by ``seconds`` [s] (default: the lease time)."""
        ...

    def release(self, job_id: uuid.UUID | str, worker_id: str) -> None:
        """Give a lease back so the job is delivered again at once."""
        ...

    def transition(
        self, job_id: uuid.UUID | str, expected: Any, new: Any, *, worker_id: str | None = None
    ) -> Job:
        """Move a job ``expected → new`` by compare-and-set."""
        ...

    def complete(
        self, job_id: uuid.UUID | str, result: Mapping[str, Any], *, worker_id: str | None = None
    ) -> Job:
        """PHYSICS_CHECK → COMPLETE with ``result``."""
        ...

    def fail(self, job_id: uuid.UUID | str, error: str, *, worker_id: str | None = None) -> Job:
        """Any non-terminal state → FAILED with ``error``."""
        ...

    def get(self, job_id_or_request_id: uuid.UUID | str) -> Job:
        """The job with this id (UUID) or request_id."""
        ...

    def depth(self) -> int:
        """Number of jobs waiting to be leased."""
        ...

    def counts(self) -> dict[str, int]:
        """Number of jobs in each state."""
        ...

    def events(self, job_id: uuid.UUID | str) -> list[dict[str, Any]]:
        """The job's state changes, oldest first."""
        ...

    def recent(self, limit: int = 20, *, user_sub: str | None = None) -> list[Job]:
        """The newest jobs (of one user when ``user_sub`` is given), newest first."""
        ...

    def dead_letters(self) -> list[Job]:
        """Jobs failed because they were delivered ``max_attempts`` times."""
        ...

    def close(self) -> None:
        """Release what the queue holds (connections); the engine stays the caller's."""
        ...


def open_job_queue(
    settings: Any = None, *, engine: Engine | None = None, migrate_schema: bool = True
) -> JobQueue:
    """The queue the settings ask for: Redis when ``REDIS_URL`` is set, else the SQL lease table.

    Parameters
    ----------
    settings : acie.config.Settings, optional
        Default: :func:`acie.config.get_settings`.
    engine : Engine, optional
        Engine of ``settings.database_url``; created when not given.
    migrate_schema : bool
        Run :func:`~acie.store.database.migrate` first (cheap when already at head).
    """
    from acie.config import get_settings
    from acie.jobs.redis_queue import RedisJobQueue
    from acie.jobs.sql_queue import SQLiteJobQueue
    from acie.store.database import create_engine_for, migrate

    s = settings if settings is not None else get_settings()
    if engine is None:
        engine = create_engine_for(s.database_url)
    if migrate_schema:
        migrate(s.database_url, engine=engine)
    lease_s, attempts, depth = s.JOB_LEASE_S, s.JOB_MAX_ATTEMPTS, s.QUEUE_MAX_DEPTH
    if s.REDIS_URL:
        return RedisJobQueue(
            engine, s.REDIS_URL, lease_s=lease_s, max_attempts=attempts, max_depth=depth
        )
    return SQLiteJobQueue(engine, lease_s=lease_s, max_attempts=attempts, max_depth=depth)
