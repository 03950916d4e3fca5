"""The ``jobs`` table operations both queue backends share.

The row is the truth for a job's state. Every state change is a compare-and-set
(``UPDATE … WHERE id = :id AND state = :expected``) and writes a ``job_events`` row in
the same transaction, so a redelivered or late worker can never move a job backwards
or complete it twice.

This module is longer than ~400 lines because :class:`JobTable` is one concept, the
base class both queue backends inherit: its reads and its compare-and-set writes share
the connection discipline, the event log and the lease rules, and splitting the class
into mixins would hide which method a queue inherits from where.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update

from acie.errors import (
    ConflictError,
    InputValidationError,
    NotFoundError,
)
from acie.jobs.job import Job, to_job
from acie.jobs.notify import ProgressNotifier
from acie.jobs.state import TERMINAL_STATES, JobState, check_transition
from acie.store.database import Backend, backend_of, translate_errors
from acie.store.schema import Job as JobRow
from acie.store.schema import JobEvent, utcnow

__all__ = ["DEAD_LETTER_PREFIX", "JobTable"]

DEAD_LETTER_PREFIX = "dead letter"


def _as_uuid(job_id: uuid.UUID | str) -> uuid.UUID | None:
    if isinstance(job_id, uuid.UUID):
        return job_id
    try:
        return uuid.UUID(str(job_id))
    except ValueError:
        return None


class JobTable:
    """State operations on the ``jobs`` table (the truth), shared by both queues.

    Parameters
    ----------
    engine : Engine
        A migrated database.
    lease_s : float [s]
        Lease length; a job whose lease runs out is delivered again.
    max_attempts : int
        Deliveries before a job is dead-lettered (FAILED, error ``"dead letter: …"``).
    max_depth : int
        Queued jobs above which :meth:`submit` raises :class:`~acie.errors.RateLimitError`.
    max_per_user : int or None
        Unfinished jobs one user may have before :meth:`submit` refuses theirs
        (``QUEUE_MAX_PER_USER``); None: no per-user quota.

    Every write a worker makes may carry a *fencing token*, the ``attempts`` count of
    the delivery it holds: the compare-and-set then also requires that the row is still
    at that attempt and that its lease has not run out, so a worker whose lease expired
    (and was perhaps taken over) cannot move or complete the job with a stale result.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        lease_s: float = 30.0,
        max_attempts: int = 5,
        max_depth: int = 1000,
        max_per_user: int | None = None,
    ) -> None:
        if not (isinstance(lease_s, int | float) and math.isfinite(lease_s) and lease_s > 0):
            raise InputValidationError(
                f"lease_s must be a positive number of seconds; got {lease_s!r}"
            )
        if not isinstance(max_attempts, int) or max_attempts < 1:
            raise InputValidationError(f"max_attempts must be an integer ≥ 1; got {max_attempts!r}")
        if not isinstance(max_depth, int) or max_depth < 1:
            raise InputValidationError(f"max_depth must be an integer ≥ 1; got {max_depth!r}")
        if max_per_user is not None and (not isinstance(max_per_user, int) or max_per_user < 1):
            raise InputValidationError(
                f"max_per_user must be an integer ≥ 1 or None; got {max_per_user!r}"
            )
        self.engine = engine
        self.max_per_user = max_per_user
        #: told the job's id after each committed state change (progress push)
        self.notifier: ProgressNotifier = ProgressNotifier()
        self.lease_s = float(lease_s)
        self.max_attempts = max_attempts
        self.max_depth = max_depth
        self._backend = backend_of(engine)

    # ------------------------------------------------------------------ helpers
    #: SQLite ``synchronous`` level of job writes; None: FULL (write transactions of
    #: :mod:`acie.store.database`); ``"NORMAL"`` only to measure what FULL costs
    sqlite_synchronous: str | None = None

    def _write_conn(self) -> Connection:
        conn = self.engine.connect()
        if self._backend is Backend.sqlite:
            conn = conn.execution_options(
                sqlite_begin="IMMEDIATE", sqlite_synchronous=self.sqlite_synchronous
            )
        return conn

    @staticmethod
    def _event(
        conn: Connection,
        job_id: uuid.UUID,
        old: JobState | None,
        new: JobState,
        worker_id: str | None,
        attempt: int,
    ) -> None:
        conn.execute(
            insert(JobEvent).values(
                job_id=job_id,
                from_state=None if old is None else old.value,
                to_state=new.value,
                worker_id=worker_id,
                attempt=attempt,
                at=utcnow(),
            )
        )

    def _insert(
        self,
        conn: Connection,
        request_id: str,
        payload: Mapping[str, Any],
        user_sub: str | None,
        model_id: int | None,
    ) -> Job:
        now = utcnow()
        job_id = uuid.uuid4()
        conn.execute(
            insert(JobRow).values(
                id=job_id,
                request_id=request_id,
                user_sub=user_sub,
                state=JobState.QUEUED.value,
                payload=dict(payload),
                attempts=0,
                model_id=model_id,
                created_at=now,
                updated_at=now,
            )
        )
        self._event(conn, job_id, None, JobState.QUEUED, None, 0)
        return Job(
            id=job_id,
            request_id=request_id,
            state=JobState.QUEUED,
            payload=dict(payload),
            user_sub=user_sub,
            model_id=model_id,
            created_at=now,
            updated_at=now,
        )

    def _notify(self, job_id: uuid.UUID) -> None:
        self.notifier.publish(job_id)

    # ------------------------------------------------------------------ reads
    def get(self, job_id_or_request_id: uuid.UUID | str) -> Job:
        """The job with this id (UUID) or request_id; :class:`NotFoundError` if none."""
        as_id = _as_uuid(job_id_or_request_id)
        with translate_errors(), self.engine.connect() as conn:
            row = None
            if as_id is not None:
                row = conn.execute(select(JobRow).where(JobRow.id == as_id)).first()
            if row is None:
                row = conn.execute(
                    select(JobRow).where(JobRow.request_id == str(job_id_or_request_id))
                ).first()
        if row is None:
            raise NotFoundError(f"no job with id or request_id {str(job_id_or_request_id)!r}")
        return to_job(row)

    def depth(self) -> int:
        """Number of jobs waiting (state QUEUED): the queue-depth metric."""
        with translate_errors(), self.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(JobRow)
                    .where(JobRow.state == JobState.QUEUED.value)
                ).scalar_one()
            )

    def counts(self) -> dict[str, int]:
        """Number of jobs in each state."""
        with translate_errors(), self.engine.connect() as conn:
            rows = conn.execute(select(JobRow.state, func.count()).group_by(JobRow.state)).all()
        out = {s.value: 0 for s in JobState}
        out.update({r[0]: int(r[1]) for r in rows})
        return out

    def events(self, job_id: uuid.UUID | str) -> list[dict[str, Any]]:
        """The job's state changes, oldest first."""
        job = self.get(job_id)
        with translate_errors(), self.engine.connect() as conn:
            rows = conn.execute(
                select(JobEvent).where(JobEvent.job_id == job.id).order_by(JobEvent.id)
            ).all()
        return [
            {
                "from": r.from_state,
                "to": r.to_state,
                "worker_id": r.worker_id,
                "attempt": r.attempt,
                "at": r.at,
            }
            for r in rows
        ]

    def recent(self, limit: int = 20, *, user_sub: str | None = None) -> list[Job]:
        """The newest jobs (of one user when ``user_sub`` is given), newest first."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InputValidationError(f"limit must be a positive integer; got {limit!r}")
        stmt = select(JobRow).order_by(JobRow.created_at.desc()).limit(limit)
        if user_sub is not None:
            stmt = stmt.where(JobRow.user_sub == user_sub)
        with translate_errors(), self.engine.connect() as conn:
            return [to_job(r) for r in conn.execute(stmt).all()]

    def dead_letters(self) -> list[Job]:
        """Jobs failed because they were delivered ``max_attempts`` times."""
        with translate_errors(), self.engine.connect() as conn:
            rows = conn.execute(
                select(JobRow)
                .where(
                    JobRow.state == JobState.FAILED.value,
                    JobRow.error.startswith(DEAD_LETTER_PREFIX),
                )
                .order_by(JobRow.updated_at)
            ).all()
        return [to_job(r) for r in rows]

    # ------------------------------------------------------------------ writes
    def _cas(
        self,
        conn: Connection,
        job_id: uuid.UUID,
        expected: JobState,
        new: JobState,
        worker_id: str | None,
        token: int | None = None,
        **values: Any,
    ) -> Job:
        now = utcnow()
        stmt = update(JobRow).where(JobRow.id == job_id, JobRow.state == expected.value)
        if token is not None:
            stmt = stmt.where(*self._fence(token, now))
        res = conn.execute(stmt.values(state=new.value, updated_at=now, **values).returning(JobRow))
        row = res.first()
        if row is None:
            cur = conn.execute(select(JobRow).where(JobRow.id == job_id)).first()
            if cur is None:
                raise NotFoundError(f"no job with id {job_id}")
            current = cur.state
            if token is not None and current == expected.value:
                raise ConflictError(
                    f"job {job_id}: fencing token {token} is stale (the job is at attempt "
                    f"{cur.attempts}, leased by {cur.lease_owner!r} until "
                    f"{cur.lease_expires_at}): {expected.value} → {new.value} refused"
                )
            raise ConflictError(
                f"job {job_id} is in state {current}, not {expected.value}: "
                f"compare-and-set {expected.value} → {new.value} refused"
            )
        self._event(conn, job_id, expected, new, worker_id, row.attempts)
        return to_job(row)

    @staticmethod
    def _fence(token: int, now: Any) -> tuple[Any, ...]:
        """Conditions of a write fenced by ``token``: same attempt, lease not run out."""
        if isinstance(token, bool) or not isinstance(token, int):
            raise InputValidationError(f"a fencing token is an attempt number; got {token!r}")
        return (JobRow.attempts == token, JobRow.lease_expires_at > now)

    def transition(
        self,
        job_id: uuid.UUID | str,
        expected: JobState | str,
        new: JobState | str,
        *,
        worker_id: str | None = None,
        token: int | None = None,
    ) -> Job:
        """Move a job ``expected → new`` by compare-and-set (fenced by ``token`` if given).

        Raises
        ------
        InvalidTransitionError
            The state machine forbids ``expected → new``.
        ConflictError
            The job is not in ``expected`` any more (another worker moved it), or the
            fencing token is stale (the lease ran out or another delivery holds it).
        NotFoundError
            No such job.
        """
        old, new_state = check_transition(expected, new)
        jid = self.get(job_id).id
        if new_state in TERMINAL_STATES:
            raise ConflictError(f"use complete() or fail() to finish job {jid}")
        with translate_errors(), self._write_conn() as conn, conn.begin():
            job = self._cas(conn, jid, old, new_state, worker_id, token)
        self._notify(jid)
        return job

    def _finish(
        self,
        job_id: uuid.UUID | str,
        new: JobState,
        *,
        expected: JobState | None,
        worker_id: str | None,
        token: int | None = None,
        **values: Any,
    ) -> Job:
        jid = self.get(job_id).id
        with translate_errors(), self._write_conn() as conn, conn.begin():
            if expected is None:
                cur = conn.execute(select(JobRow.state).where(JobRow.id == jid)).scalar_one()
                expected = JobState(cur)
                if expected in TERMINAL_STATES:
                    raise ConflictError(f"job {jid} already finished ({expected.value})")
            check_transition(expected, new)
            job = self._cas(
                conn,
                jid,
                expected,
                new,
                worker_id,
                token,
                lease_owner=None,
                lease_expires_at=None,
                **values,
            )
        self._notify(jid)
        return job

    def complete_row(
        self,
        job_id: uuid.UUID | str,
        result: Mapping[str, Any],
        *,
        worker_id: str | None = None,
        token: int | None = None,
    ) -> Job:
        """PHYSICS_CHECK → COMPLETE with the result; ConflictError if finished or fenced off."""
        if not isinstance(result, Mapping):
            raise InputValidationError(
                f"a job result must be a JSON object (a mapping); got {type(result).__name__}"
            )
        return self._finish(
            job_id,
            JobState.COMPLETE,
            expected=JobState.PHYSICS_CHECK,
            worker_id=worker_id,
            token=token,
            result=dict(result),
            error=None,
        )

    def fail_row(
        self,
        job_id: uuid.UUID | str,
        error: str,
        *,
        worker_id: str | None = None,
        token: int | None = None,
    ) -> Job:
        """Any non-terminal state → FAILED with the error message."""
        return self._finish(
            job_id,
            JobState.FAILED,
            expected=None,
            worker_id=worker_id,
            token=token,
            error=str(error),
        )

    def dead_letter_message(self, attempts: int, last_error: str | None) -> str:
        """The stored error of a dead-lettered job (it starts with ``"dead letter"``)."""
        msg = (
            f"{DEAD_LETTER_PREFIX}: delivered {attempts} times "
            f"(JOB_MAX_ATTEMPTS={self.max_attempts}) without finishing"
        )
        return f"{msg}; last error: {last_error}" if last_error else msg

    def dead_letter_row(
        self, job_id: uuid.UUID | str, error: str, *, worker_id: str, token: int | None = None
    ) -> Job:
        """FAILED as a dead letter (attempts used up), keeping ``error`` as the last error."""
        job = self.get(job_id)
        return self.fail_row(
            job.id,
            self.dead_letter_message(job.attempts, error),
            worker_id=worker_id,
            token=token,
        )

    def extend_lease_row(
        self,
        job_id: uuid.UUID | str,
        worker_id: str,
        seconds: float | None = None,
        *,
        token: int | None = None,
        error: str | None = None,
    ) -> Job:
        """Push the lease of a job this worker holds ``seconds`` (default lease_s) ahead.

        With ``token`` the row must still be at that attempt; ``error`` (a handler's
        error before a retry) is kept on the row as its last error.
        """
        jid = self.get(job_id).id
        until = utcnow() + timedelta(seconds=self.lease_s if seconds is None else seconds)
        stmt = update(JobRow).where(
            JobRow.id == jid,
            JobRow.lease_owner == worker_id,
            JobRow.state.in_([JobState.PROCESSING.value, JobState.PHYSICS_CHECK.value]),
        )
        if token is not None:
            stmt = stmt.where(JobRow.attempts == token)
        values: dict[str, Any] = {"lease_expires_at": until}
        if error is not None:
            values["error"] = str(error)
        with translate_errors(), self._write_conn() as conn, conn.begin():
            row = conn.execute(stmt.values(**values).returning(JobRow)).first()
        if row is None:
            raise ConflictError(
                f"worker {worker_id!r} does not hold the lease of job {jid} "
                f"(expired and taken by another worker, or finished)"
            )
        return to_job(row)

    def _take(self, conn: Connection, row: Any, worker_id: str, **values: Any) -> Job | None:
        """Lease ``row`` to ``worker_id`` inside the caller's locked transaction.

        A row that has used up its attempts is dead-lettered instead (returns None then).
        """
        state = JobState(row.state)
        now = utcnow()
        if row.attempts >= self.max_attempts:
            msg = self.dead_letter_message(row.attempts, row.error)
            self._cas(
                conn,
                row.id,
                state,
                JobState.FAILED,
                worker_id,
                error=msg,
                lease_owner=None,
                lease_expires_at=None,
            )
            return None
        lease = dict(
            attempts=row.attempts + 1,
            lease_owner=worker_id,
            lease_expires_at=now + timedelta(seconds=self.lease_s),
            **values,
        )
        if state is JobState.QUEUED:
            return self._cas(conn, row.id, state, JobState.PROCESSING, worker_id, **lease)
        # redelivery: the state stays where it is (never backwards)
        got = conn.execute(
            update(JobRow)
            .where(JobRow.id == row.id, JobRow.state == state.value)
            .values(updated_at=now, **lease)
            .returning(JobRow)
        ).first()
        return None if got is None else to_job(got)
