"""A worker: leases jobs, runs a handler, checks physics, completes exactly once.

Delivery is at-least-once, so a handler may run more than once for one request_id
(after a crash); it must be idempotent by ``job.request_id``. The worker guarantees the
job's *state* moves forward only and reaches COMPLETE at most once: every step is a
compare-and-set on the job row, and a step that finds the job already finished is
dropped. While the handler runs, a heartbeat thread extends the lease every third of
its length, so long jobs are not redelivered.

Every write the worker makes carries the job's ``attempts`` as a fencing token: once
its lease has run out (and perhaps been taken over), its result is refused rather
than stored. A handler that raises is retried until the job has been delivered
``max_attempts`` times; then the job is dead-lettered with the last error.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from acie.errors import (
    BackendUnavailableError,
    ConflictError,
    InputValidationError,
    NotFoundError,
    PhysicsViolationError,
    UnknownNameError,
)
from acie.jobs.job import Job
from acie.jobs.queue import JobQueue
from acie.jobs.state import JobState
from acie.jobs.trace_propagation import job_span

__all__ = ["Handler", "PhysicsCheck", "Worker", "load_handler"]

log = logging.getLogger(__name__)

Handler = Callable[[Job], Mapping[str, Any]]
PhysicsCheck = Callable[[Job, Mapping[str, Any]], Any]

#: errors that will not go away on a retry: the job fails at once
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (PhysicsViolationError, InputValidationError)


class Worker:
    """Run ``handler`` on jobs from ``queue``.

    Parameters
    ----------
    queue : JobQueue
    handler : callable(Job) -> mapping
        Produces the job's result (a JSON object). Must be idempotent by request_id.
    physics_check : callable(Job, result), optional
        Runs in state PHYSICS_CHECK; raising :class:`~acie.errors.PhysicsViolationError`
        fails the job.
    worker_id : str, optional
        Default ``<host>:<pid>:<n>``.
    heartbeat : bool
        Extend the lease while the handler runs.
    reconcile_s : float [s]
        How often :meth:`run` reconciles the queue with the database (re-enqueues jobs
        Redis lost); it also does so at start.
    """

    _counter = 0

    def __init__(
        self,
        queue: JobQueue,
        handler: Handler,
        *,
        physics_check: PhysicsCheck | None = None,
        worker_id: str | None = None,
        heartbeat: bool = True,
        reconcile_s: float = 60.0,
    ) -> None:
        if not callable(handler):
            raise InputValidationError(f"handler must be callable; got {handler!r}")
        Worker._counter += 1
        self.queue = queue
        self.handler = handler
        self.physics_check = physics_check
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{Worker._counter}"
        self.heartbeat = heartbeat
        self.reconcile_s = float(reconcile_s)
        self.processed = 0
        self._stop = threading.Event()

    def stop(self) -> None:
        """Ask :meth:`run` to return after the current job."""
        self._stop.set()

    def _beat(self, job: Job, done: threading.Event) -> None:
        period = max(self.queue.lease_s / 3.0, 0.01)
        while not done.wait(period):
            try:
                self.queue.extend_lease(job.id, self.worker_id, token=job.attempts)
            except (ConflictError, NotFoundError):
                log.warning("worker %s lost the lease of job %s", self.worker_id, job.id)
                return
            except BackendUnavailableError as err:
                log.warning("lease extension of job %s failed: %s", job.id, err)

    def process(self, job: Job) -> Job:
        """Run one leased job to COMPLETE or FAILED (or leave it for redelivery).

        Inside a span that continues the submitter's trace when the payload carries one
        (:mod:`acie.jobs.trace_propagation`).
        """
        with job_span(job):
            return self._process(job)

    def _process(self, job: Job) -> Job:
        done = threading.Event()
        beat = None
        if self.heartbeat:
            beat = threading.Thread(target=self._beat, args=(job, done), daemon=True)
            beat.start()
        try:
            try:
                result = self.handler(job)
                if not isinstance(result, Mapping):
                    raise InputValidationError(
                        f"the handler must return a mapping (JSON "
                        f"object); got {type(result).__name__}"
                    )
                token = job.attempts
                if job.state is JobState.PROCESSING:
                    self.queue.transition(
                        job.id,
                        JobState.PROCESSING,
                        JobState.PHYSICS_CHECK,
                        worker_id=self.worker_id,
                        token=token,
                    )
                if self.physics_check is not None:
                    self.physics_check(job, result)
                done.set()
                return self.queue.complete(job.id, result, worker_id=self.worker_id, token=token)
            except ConflictError as err:
                # another delivery finished (or moved) it, or our lease ran out (fenced):
                # this delivery's result is dropped
                log.warning("job %s: attempt %d dropped: %s", job.id, job.attempts, err)
                return self.queue.get(job.id)
            except PERMANENT_ERRORS as err:
                done.set()
                log.warning("job %s failed: %s", job.id, err)
                return self._fail(job, f"{type(err).__name__}: {err}")
            except BackendUnavailableError:
                raise
            except Exception as err:  # the handler crashed: retry (up to max_attempts)
                done.set()
                message = f"{type(err).__name__}: {err}"
                last = self.queue.max_attempts
                if job.attempts >= last:
                    log.error(
                        "job %s: handler raised on its final attempt (%d of %d); dead-lettered",
                        job.id,
                        job.attempts,
                        last,
                        exc_info=True,
                    )
                    try:
                        return self.queue.dead_letter(
                            job.id, message, worker_id=self.worker_id, token=job.attempts
                        )
                    except ConflictError:
                        return self.queue.get(job.id)
                log.exception(
                    "job %s: handler raised on attempt %d of %d; it will be delivered again",
                    job.id,
                    job.attempts,
                    last,
                )
                with contextlib.suppress(ConflictError):
                    self.queue.release(job.id, self.worker_id, token=job.attempts, error=message)
                return self.queue.get(job.id)
        finally:
            done.set()
            if beat is not None:
                beat.join()
            self.processed += 1

    def _fail(self, job: Job, message: str) -> Job:
        try:
            return self.queue.fail(job.id, message, worker_id=self.worker_id, token=job.attempts)
        except ConflictError:
            return self.queue.get(job.id)

    def _reconcile(self) -> None:
        """Re-enqueue jobs the queue lost (Redis data loss); never fatal."""
        try:
            getattr(self.queue, "reconcile", _noop)()
        except BackendUnavailableError as err:
            log.warning("worker %s: reconciliation skipped: %s", self.worker_id, err)

    def run_once(self, *, timeout: float = 1.0) -> Job | None:
        """Lease and process one job; None when none arrived within ``timeout`` seconds."""
        job = self.queue.lease(self.worker_id, timeout=timeout)
        if job is None:
            return None
        return self.process(job)

    def run(
        self, *, max_jobs: int | None = None, idle_exit_s: float | None = None, poll_s: float = 1.0
    ) -> int:
        """Process jobs until :meth:`stop`, ``max_jobs`` jobs, or ``idle_exit_s`` idle seconds.

        While the queue or the database is unreachable the worker waits (backing off up
        to 5 s) and tries again, rather than exiting.

        Returns
        -------
        int
            Jobs processed.
        """
        self._reconcile()
        next_reconcile = time.monotonic() + self.reconcile_s
        n = 0
        idle = 0.0
        backoff = 0.0
        while not self._stop.is_set() and (max_jobs is None or n < max_jobs):
            if time.monotonic() >= next_reconcile:
                self._reconcile()
                next_reconcile = time.monotonic() + self.reconcile_s
            try:
                job = self.run_once(timeout=poll_s)
            except BackendUnavailableError as err:
                # the queue or database is down: wait and retry; leases expire meanwhile
                backoff = min(5.0, max(0.1, 2 * backoff))
                log.warning("worker %s: %s; retrying in %.1f s", self.worker_id, err, backoff)
                self._stop.wait(backoff)
                continue
            backoff = 0.0
            if job is None:
                idle += poll_s
                if idle_exit_s is not None and idle >= idle_exit_s:
                    break
                continue
            idle = 0.0
            n += 1
        return n


def _noop() -> int:
    return 0


def load_handler(spec: str) -> Callable[..., Any]:
    """Load ``package.module:function`` or ``/path/to/file.py:function``."""
    if ":" not in spec:
        raise InputValidationError(
            f"a handler must be given as module:function or file.py:function; got {spec!r}"
        )
    target, _, attr = spec.rpartition(":")
    if target.endswith(".py"):
        path = Path(target)
        if not path.is_file():
            raise UnknownNameError(f"handler file {target!r} does not exist")
        mod_spec = importlib.util.spec_from_file_location(f"acie_handler_{path.stem}", path)
        if mod_spec is None or mod_spec.loader is None:
            raise UnknownNameError(f"handler file {target!r} cannot be imported")
        module = importlib.util.module_from_spec(mod_spec)
        mod_spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as err:
            raise UnknownNameError(f"handler module {target!r} cannot be imported: {err}") from err
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise UnknownNameError(f"handler {attr!r} is not a callable in {target!r}")
    return fn
