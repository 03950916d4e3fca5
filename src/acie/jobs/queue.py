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
    """What both queue backends offer (see :class:`~acie.jobs.sql_queue.SQLiteJobQueue`
    and :class:`~acie.jobs.redis_queue.RedisJobQueue`)."""

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
    ) -> Job: ...

    def lease(self, worker_id: str, *, timeout: float = 0.0) -> Job | None: ...

    def extend_lease(
        self, job_id: uuid.UUID | str, worker_id: str, seconds: float | None = None
    ) -> Job: ...

    def release(self, job_id: uuid.UUID | str, worker_id: str) -> None: ...

    def transition(
        self, job_id: uuid.UUID | str, expected: Any, new: Any, *, worker_id: str | None = None
    ) -> Job: ...

    def complete(
        self, job_id: uuid.UUID | str, result: Mapping[str, Any], *, worker_id: str | None = None
    ) -> Job: ...

    def fail(self, job_id: uuid.UUID | str, error: str, *, worker_id: str | None = None) -> Job: ...

    def get(self, job_id_or_request_id: uuid.UUID | str) -> Job: ...

    def depth(self) -> int: ...

    def counts(self) -> dict[str, int]: ...

    def events(self, job_id: uuid.UUID | str) -> list[dict[str, Any]]: ...

    def recent(self, limit: int = 20, *, user_sub: str | None = None) -> list[Job]: ...

    def dead_letters(self) -> list[Job]: ...

    def close(self) -> None: ...


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
