r"""The production job queue: a Redis Streams consumer group, with the database row as truth.

* ``submit`` commits the job row (QUEUED) and then ``XADD``\s its id to the stream; if
  Redis cannot take it the row is removed again and
  :class:`~acie.errors.BackendUnavailableError` is raised, so a job the caller saw
  accepted is always in the stream. Run Redis with ``appendonly yes`` and
  ``appendfsync always`` (:mod:`acie.jobs.durability` checks) so an acknowledged
  ``XADD`` survives a crash.
* ``lease`` first claims entries whose consumer went quiet for longer than the lease
  (``XAUTOCLAIM``, paging through the whole pending list with the returned cursor),
  then reads new ones (``XREADGROUP``). A job delivered ``max_attempts`` times is
  moved to the dead-letter stream ``<stream>:dead`` and FAILED.
* ``complete``/``fail`` move the row by compare-and-set, then ``XACK``. An entry whose
  row is already finished is simply acknowledged, so redelivery never repeats a result.
* ``extend_lease`` re-claims the entry for the same consumer (``XCLAIM … 0``), which
  resets its idle time.
* If Redis comes back empty (its data lost), the next call that meets ``NOGROUP``
  recreates the group and runs :meth:`RedisJobQueue.reconcile`, which re-enqueues
  every unfinished row that no stream entry and no live lease covers
  (:mod:`acie.jobs.reconcile`); workers also reconcile at start and periodically.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine, delete, select, update

from acie.errors import BackendUnavailableError, ConflictError, InputValidationError
from acie.jobs.admission import admit, existing_for_duplicate
from acie.jobs.job import Job
from acie.jobs.notify import RedisProgressNotifier
from acie.jobs.reconcile import reconcile_stream, trim_stream
from acie.jobs.redis_stream import claim_idle, create_group, is_nogroup, redis_errors
from acie.jobs.state import TERMINAL_STATES, JobState
from acie.jobs.table import JobTable
from acie.store.database import translate_errors
from acie.store.schema import Job as JobRow
from acie.store.schema import JobEvent

__all__ = ["RedisJobQueue"]

log = logging.getLogger(__name__)


class RedisJobQueue(JobTable):
    """Job queue on a Redis stream consumer group; job state lives in the database.

    Parameters
    ----------
    engine : Engine
        A migrated database holding the ``jobs`` table.
    redis_url : str
        ``redis://host:port/db``.
    stream : str
        Stream key (the dead-letter stream is ``<stream>:dead``).
    group : str
        Consumer group name; every worker is a consumer in it.
    lease_s, max_attempts, max_depth, max_per_user
        As for :class:`~acie.jobs.table.JobTable`.
    retention_s : float [s]
        How long acknowledged entries stay in the stream before :meth:`trim` removes
        them (``JOB_STREAM_RETENTION_S``).
    """

    backend_name = "redis"

    def __init__(
        self,
        engine: Engine,
        redis_url: str,
        *,
        stream: str = "acie:jobs",
        group: str = "acie-workers",
        lease_s: float = 30.0,
        max_attempts: int = 5,
        max_depth: int = 1000,
        max_per_user: int | None = None,
        retention_s: float = 3600.0,
    ) -> None:
        import redis

        limits = {"max_attempts": max_attempts, "max_depth": max_depth}
        super().__init__(engine, lease_s=lease_s, max_per_user=max_per_user, **limits)
        if not (isinstance(retention_s, int | float) and retention_s >= 0):
            raise InputValidationError(
                f"retention_s must be a number of seconds ≥ 0; got {retention_s!r}"
            )
        self.retention_s = float(retention_s)
        if not isinstance(redis_url, str) or not redis_url.startswith(
            ("redis://", "rediss://", "unix://")
        ):
            raise InputValidationError(
                f"redis_url must look like redis://host:port/db; got {redis_url!r}"
            )
        self.redis_url = redis_url
        self.stream = stream
        self.dead_stream = f"{stream}:dead"
        self.group = group
        self.client = redis.Redis.from_url(
            redis_url, socket_connect_timeout=2.0, socket_timeout=None, decode_responses=True
        )
        self._group_ready = False
        self._next_claim_scan = 0.0
        self.notifier = RedisProgressNotifier(self.client, f"{stream}:progress")

    # ------------------------------------------------------------------ redis helpers
    def _ensure_group(self, *, force: bool = False) -> None:
        if self._group_ready and not force:
            return
        create_group(self.client, self.stream, self.group, self.redis_url)
        self._group_ready = True

    def _xadd(self, job: Job) -> str:
        self._ensure_group()
        with redis_errors(self.redis_url):
            return str(
                self.client.xadd(self.stream, {"job_id": str(job.id), "request_id": job.request_id})
            )

    def _ack(self, delivery_id: str | None) -> None:
        if not delivery_id:
            return
        import redis

        try:
            with redis_errors(self.redis_url):
                self.client.xack(self.stream, self.group, delivery_id)
        except (BackendUnavailableError, redis.exceptions.ResponseError) as err:
            # the row is already final; the entry will be redelivered, seen final and
            # acked (or, if Redis lost the group, it is gone anyway)
            log.warning("could not acknowledge %s: %s", delivery_id, err)

    def _group_lost(self, err: BaseException) -> None:
        """Redis answered NOGROUP: it lost its data. Recreate the group, re-enqueue."""
        log.warning(
            "Redis at %s has no group %s on %s (%s): it lost its data; recreating the "
            "group and re-enqueueing unfinished jobs",
            self.redis_url,
            self.group,
            self.stream,
            err,
        )
        self._ensure_group(force=True)
        # no grace: a duplicate entry of a submit in progress is seen stale and acked
        self.reconcile(grace_s=0.0)

    # ------------------------------------------------------------------ interface
    def submit(
        self,
        request_id: str,
        payload: Mapping[str, Any],
        *,
        user_sub: str | None = None,
        model_id: int | None = None,
    ) -> Job:
        """Queue a job: commit its row, then add it to the stream.

        Raises
        ------
        ConflictError
            The request_id is already in flight.
        RateLimitError
            ``max_depth`` jobs are queued, or the user has ``max_per_user`` unfinished
            jobs (checked after the idempotent replay).
        BackendUnavailableError
            Redis cannot be reached; nothing was queued.
        """
        replay = admit(self, request_id, payload, user_sub)
        if replay is not None:
            return replay
        try:
            with translate_errors(), self._write_conn() as conn, conn.begin():
                job = self._insert(conn, request_id, payload, user_sub, model_id)
        except ConflictError:
            return existing_for_duplicate(self, request_id)
        try:
            delivery = self._xadd(job)
        except BackendUnavailableError:
            with translate_errors(), self._write_conn() as conn, conn.begin():
                conn.execute(delete(JobEvent).where(JobEvent.job_id == job.id))
                conn.execute(delete(JobRow).where(JobRow.id == job.id))
            raise
        with translate_errors(), self._write_conn() as conn, conn.begin():
            conn.execute(update(JobRow).where(JobRow.id == job.id).values(delivery_id=delivery))
        self._notify(job.id)
        return self.get(job.id)

    def reconcile(self, *, grace_s: float | None = None) -> int:
        """Re-enqueue every unfinished row that no stream entry and no live lease covers.

        Such rows are left when a submitter crashed between commit and ``XADD``, or when
        Redis lost its data. Rows changed less than ``grace_s`` (default: the lease
        length) ago are left alone, so a submit in progress is not published twice.
        Acknowledged entries older than ``retention_s`` are trimmed afterwards.

        Returns
        -------
        int
            How many rows were re-enqueued.
        """
        # XGROUP CREATE every time: cheap, and the group may have vanished with the data
        self._ensure_group(force=True)
        with redis_errors(self.redis_url):
            n = reconcile_stream(self, self.lease_s if grace_s is None else grace_s)
            trim_stream(self)
        return n

    def trim(self) -> int:
        """Delete acknowledged entries older than ``retention_s``; returns how many."""
        self._ensure_group()
        with redis_errors(self.redis_url):
            return trim_stream(self)

    def lease(self, worker_id: str, *, timeout: float = 0.0) -> Job | None:
        """Lease the next job for consumer ``worker_id``, waiting up to ``timeout`` seconds.

        Entries idle longer than the lease (their worker died) are claimed first.
        """
        if not isinstance(worker_id, str) or not worker_id:
            raise InputValidationError(f"worker_id must be a non-empty string; got {worker_id!r}")
        self._ensure_group()
        deadline = time.monotonic() + max(0.0, float(timeout))
        lease_ms = int(self.lease_s * 1000)
        while True:
            entries: list[Any]
            try:
                entries = self._claim_idle(worker_id, lease_ms)
                if not entries:
                    block_ms = int(max(0.0, deadline - time.monotonic()) * 1000)
                    with redis_errors(self.redis_url):
                        got: Any = self.client.xreadgroup(
                            self.group,
                            worker_id,
                            {self.stream: ">"},
                            count=1,
                            block=block_ms if block_ms > 0 else None,
                        )
                    entries = got[0][1] if got else []
            except Exception as err:
                if not is_nogroup(err):
                    raise
                self._group_lost(err)
                continue
            for entry_id, fields in entries:
                if fields is None:  # entry deleted from the stream
                    self._ack(entry_id)
                    continue
                job = self._deliver(entry_id, fields, worker_id)
                if job is not None:
                    return job
            if time.monotonic() >= deadline and not entries:
                return None

    def _claim_idle(self, worker_id: str, lease_ms: int) -> list[Any]:
        # an empty full scan is not repeated for a quarter of the lease (nothing can
        # become idle faster than that)
        now = time.monotonic()
        if now < self._next_claim_scan:
            return []
        got = claim_idle(self.client, self.stream, self.group, worker_id, lease_ms, self.redis_url)
        if not got:
            self._next_claim_scan = now + min(self.lease_s / 4.0, 1.0)
        return got

    def _deliver(self, entry_id: str, fields: Mapping[str, str], worker_id: str) -> Job | None:
        try:
            job_id = uuid.UUID(fields.get("job_id", ""))
        except ValueError:
            log.warning("stream entry %s has no valid job_id: %r", entry_id, fields)
            self._ack(entry_id)
            return None
        with translate_errors(), self._write_conn() as conn, conn.begin():
            row = conn.execute(select(JobRow).where(JobRow.id == job_id)).first()
            # finished, or a stale entry of a row re-enqueued under a newer entry
            stale = row is not None and row.delivery_id not in (None, entry_id)
            if row is None or JobState(row.state) in TERMINAL_STATES or stale:
                job = None
                finished = True
            else:
                finished = False
                job = self._take(conn, row, worker_id, delivery_id=entry_id)
                dead = job is None
        if finished:
            self._ack(entry_id)
            return None
        self._notify(job_id)
        if job is None and dead:
            self._to_dead_stream(entry_id, fields, self.get(job_id).error)
        return job

    def _to_dead_stream(self, entry_id: str, fields: Mapping[str, str], error: str | None) -> None:
        with redis_errors(self.redis_url):
            entry: dict[Any, Any] = {**fields, "entry_id": entry_id, "error": error or ""}
            self.client.xadd(self.dead_stream, entry)
        self._ack(entry_id)

    def _xclaim(self, delivery_id: str, worker_id: str, **kw: Any) -> list[Any]:
        """``XCLAIM`` the entry for ``worker_id``; [] when it is gone (group lost: recreated)."""
        try:
            with redis_errors(self.redis_url):
                got = self.client.xclaim(
                    self.stream, self.group, worker_id, 0, [delivery_id], justid=True, **kw
                )
        except Exception as err:
            if not is_nogroup(err):
                raise
            self._group_lost(err)
            return []
        return list(got or [])

    def extend_lease(
        self,
        job_id: uuid.UUID | str,
        worker_id: str,
        seconds: float | None = None,
        *,
        token: int | None = None,
    ) -> Job:
        """Reset the entry's idle time and push the row's lease ahead."""
        job = self.extend_lease_row(job_id, worker_id, seconds, token=token)
        if job.delivery_id and not self._xclaim(job.delivery_id, worker_id):
            raise ConflictError(f"the stream entry of job {job.id} is no longer pending")
        return job

    def release(
        self,
        job_id: uuid.UUID | str,
        worker_id: str,
        *,
        token: int | None = None,
        error: str | None = None,
    ) -> None:
        """Give the lease back so the next ``lease`` call claims the job at once."""
        job = self.extend_lease_row(job_id, worker_id, seconds=-1.0, token=token, error=error)
        self._next_claim_scan = 0.0
        if job.delivery_id:
            self._xclaim(job.delivery_id, worker_id, idle=int(self.lease_s * 1000) + 1)

    def complete(
        self,
        job_id: uuid.UUID | str,
        result: Mapping[str, Any],
        *,
        worker_id: str | None = None,
        token: int | None = None,
    ) -> Job:
        """PHYSICS_CHECK → COMPLETE (fenced by ``token``), then acknowledge the entry."""
        job = self.complete_row(job_id, result, worker_id=worker_id, token=token)
        self._ack(job.delivery_id)
        return job

    def fail(
        self,
        job_id: uuid.UUID | str,
        error: str,
        *,
        worker_id: str | None = None,
        token: int | None = None,
    ) -> Job:
        """Any non-terminal state → FAILED, then acknowledge the stream entry."""
        job = self.fail_row(job_id, error, worker_id=worker_id, token=token)
        self._ack(job.delivery_id)
        return job

    def dead_letter(
        self, job_id: uuid.UUID | str, error: str, *, worker_id: str, token: int | None = None
    ) -> Job:
        """FAILED as a dead letter, copied to ``<stream>:dead`` with its last error."""
        job = self.dead_letter_row(job_id, error, worker_id=worker_id, token=token)
        if job.delivery_id:
            fields = {"job_id": str(job.id), "request_id": job.request_id}
            self._to_dead_stream(job.delivery_id, fields, job.error)
        return job

    def pending(self) -> int:
        """Entries delivered but not yet acknowledged (Redis' own count)."""
        self._ensure_group()
        with redis_errors(self.redis_url):
            return int(self.client.xpending(self.stream, self.group)["pending"])

    def drop_streams(self) -> None:
        """Delete this queue's streams (tests and tear-down)."""
        with redis_errors(self.redis_url):
            self.client.delete(self.stream, self.dead_stream)
        self._group_ready = False

    def close(self) -> None:
        """Stop the progress listener and close the Redis connection pool."""
        self.notifier.close()
        self.client.close()
