"""Audit records of every API call, written by one background thread.

Each call (allowed or refused) produces one row in the hash-chained audit log
(:class:`acie.store.audit.AuditLog`). The row is appended by a single writer thread
so that request threads never wait on the database lock; :meth:`AuditWriter.flush`
waits until everything recorded so far is stored, and :meth:`AuditWriter.close`
drains the queue on shutdown. Records still queued when the process is killed
(SIGKILL, power loss) are lost: the log is complete up to the last flush.

Under load the writer takes every waiting record at once; when the log offers
``append_many`` (one transaction for many rows) it is used, else rows are appended one
by one.

The ``action`` column reads ``<protocol>.<method>:<outcome>``, for example
``grpc.CounterfactualInference:OK`` or ``rest.POST /v1/jobs:PERMISSION_DENIED``.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from acie.serve.tracing import current_trace_id, new_trace_id

__all__ = ["AuditWriter"]

log = logging.getLogger("acie.serve.audit")
_STOP = object()


class AuditWriter:
    """Queue audit records and append them to an audit log in a background thread.

    Parameters
    ----------
    audit_log : acie.store.audit.AuditLog
        The log to append to.
    max_queue : int
        Records waiting before :meth:`record` blocks (back-pressure instead of loss).
    """

    def __init__(self, *, audit_log: Any, max_queue: int = 100_000) -> None:
        self.audit_log = audit_log
        self.failures = 0
        self._queue: queue.Queue = queue.Queue(maxsize=max_queue)
        self._thread = threading.Thread(target=self._loop, name="acie-audit", daemon=True)
        self._thread.start()

    def record(
        self,
        *,
        actor: str | None,
        action: str,
        outcome: str,
        request_id: str | None = None,
        resource: str | None = None,
        duration_ms: float | None = None,
        violation_score: float | None = None,
        ip: str | None = None,
    ) -> None:
        """Queue one audit row (returns at once)."""
        self._queue.put(
            {
                "request_id": request_id or current_trace_id() or new_trace_id(),
                "user_sub": actor,
                "action": f"{action}:{outcome}"[:200],
                "resource": resource,
                "compute_duration_ms": duration_ms,
                "physics_violation_score": violation_score,
                "ip": ip,
            }
        )

    def _store(self, records: list[dict[str, Any]]) -> None:
        many = getattr(self.audit_log, "append_many", None)
        try:
            if many is not None and len(records) > 1:
                many(records)  # one transaction for the lot, when the log offers it
            else:
                for rec in records:
                    self.audit_log.append(**rec)
        except Exception:  # keep serving; the failure is logged and counted
            self.failures += len(records)
            log.exception("audit append failed", extra={"records": len(records)})

    def _loop(self) -> None:
        stop = False
        while not stop:
            items = [self._queue.get()]
            while len(items) < 256:  # drain what is waiting: fewer, larger writes under load
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            records: list[dict[str, Any]] = []
            for item in items:
                if item is _STOP:
                    stop = True
                elif isinstance(item, threading.Event):
                    self._store(records)  # everything queued before the flush first
                    records = []
                    item.set()
                else:
                    records.append(item)
            self._store(records)
            for _ in items:
                self._queue.task_done()

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Wait until every record queued before this call is stored."""
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def close(self, timeout: float | None = 10.0) -> None:
        """Store what is queued and stop the writer thread."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)
