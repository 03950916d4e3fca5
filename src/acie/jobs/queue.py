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
    max_per_user: int | None
    notifier: Any

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
        self,
        job_id: uuid.UUID | str,
        worker_id: str,
        seconds: float | None = None,
        *,
        token: int | None = None,
    ) -> Job:
        """Extend the lease this worker holds by ``seconds`` [s] (default: the lease time)."""
        ...

    def release(
        self,
        job_id: uuid.UUID | str,
        worker_id: str,
        *,
        token: int | None = None,
        error: str | None = None,
    ) -> None:
        """Give a lease back so the job is delivered again at once (``error``: why)."""
        ...

    def transition(
        self,
        job_id: uuid.UUID | str,
        expected: Any,
        new: Any,
        *,
        worker_id: str | None = None,
        token: int | None = None,
    ) -> Job:
        """Move a job ``expected → new`` by compare-and-set (fenced by ``token``)."""
        ...

    def complete(
        self,
        job_id: uuid.UUID | str,
        result: Mapping[str, Any],
        *,
        worker_id: str | None = None,
        token: int | None = None,
    ) -> Job:
        """PHYSICS_CHECK → COMPLETE with ``result`` (fenced by ``token``)."""
        ...

    def fail(
        self,
        job_id: uuid.UUID | str,
        error: str,
        *,
        worker_id: str | None = None,
        token: int | None = None,
    ) -> Job:
        """Any non-terminal state → FAILED with ``error``."""
        ...

    def dead_letter(
        self, job_id: uuid.UUID | str, error: str, *, worker_id: str, token: int | None = None
    ) -> Job:
        """FAILED as a dead letter (attempts used up), ``error`` kept as the last error."""
        ...

    def reconcile(self) -> int:
        """Re-enqueue unfinished jobs the queue lost; returns how many."""
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
    settings: Any = None,
    *,
    engine: Engine | None = None,
    migrate_schema: bool = True,
    stream: str | None = None,
) -> JobQueue:
    """The queue the settings ask for: Redis when ``REDIS_URL`` is set, else the SQL lease table.

    A Redis queue is checked for persistence first
    (:func:`~acie.jobs.durability.check_redis_durability`): without AOF, production and
    staging refuse it, other environments log a warning.

    Parameters
    ----------
    settings : acie.config.Settings, optional
        Default: :func:`acie.config.get_settings`.
    engine : Engine, optional
        Engine of ``settings.database_url``; created when not given.
    migrate_schema : bool
        Run :func:`~acie.store.database.migrate` first (cheap when already at head).
    stream : str, optional
        Redis stream key (default ``acie:jobs``).

    Raises
    ------
    ConfigurationError
        ``ACIE_ENV`` is production or staging and Redis runs without AOF.
    """
    from acie.config import get_settings
    from acie.jobs.durability import check_redis_durability
    from acie.jobs.redis_queue import RedisJobQueue
    from acie.jobs.sql_queue import SQLiteJobQueue
    from acie.store.database import create_engine_for, migrate

    s = settings if settings is not None else get_settings()
    if engine is None:
        engine = create_engine_for(s.database_url)
    if migrate_schema:
        migrate(s.database_url, engine=engine)
    opts: dict[str, Any] = {
        "lease_s": s.JOB_LEASE_S,
        "max_attempts": s.JOB_MAX_ATTEMPTS,
        "max_depth": s.QUEUE_MAX_DEPTH,
        "max_per_user": s.QUEUE_MAX_PER_USER,
    }
    if s.REDIS_URL:
        queue = RedisJobQueue(
            engine,
            s.REDIS_URL,
            stream=stream or "acie:jobs",
            retention_s=s.JOB_STREAM_RETENTION_S,
            **opts,
        )
        try:
            check_redis_durability(queue.client, s.REDIS_URL, strict=s.ACIE_ENV.strict)
        except BaseException:
            queue.close()
            raise
        return queue
    return SQLiteJobQueue(engine, **opts)
