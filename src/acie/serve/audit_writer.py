"""Audit records of every API call, written by one background thread.

Each call (allowed or refused) produces one row in the hash-chained audit log
(:class:`acie.store.audit.AuditLog`). The row is appended by a single writer thread
so that request threads never wait on the database lock; :meth:`AuditWriter.flush`
waits until everything recorded so far is stored, and :meth:`AuditWriter.close`
drains the queue on shutdown. Records still queued when the process is killed
(SIGKILL, power loss) are lost: the log is complete up to the last flush.

The writer gathers records for up to 50 ms (``linger_s``) and takes every waiting
record at once; when the log offers ``append_many`` (one transaction for many rows) it
is used, else rows are appended one by one.

The ``action`` column reads ``<protocol>.<method>:<outcome>``, for example
``grpc.CounterfactualInference:OK`` or ``rest.POST /v1/jobs:PERMISSION_DENIED``.

Refused calls (bad or missing tokens, missing scopes, rate limits, oversized requests)
are aggregated so that a flood cannot grow the log without bound: the first refusal of
each (address, caller, action, outcome) in a window of ``window_s`` seconds
(``AUDIT_AGGREGATE_WINDOW_S``) is written as usual; the others are counted and written
as one row when the window closes, its action suffixed ``*<count>`` (for example
``rest.GET /v1/models:401*599``). At most ``max_keys`` distinct keys are tracked per
window; refusals beyond them are counted under one ``audit.overflow`` key.

:meth:`AuditWriter.record` never blocks (it runs on the REST event loop): when the
queue is full a record is counted instead, and the count is written as one
``audit.dropped:*<count>`` row as soon as there is room, and logged.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

from acie.serve.tracing import current_trace_id, new_trace_id

__all__ = ["AuditWriter"]

log = logging.getLogger("acie.serve.audit")
_STOP = object()


def _is_flush(item: Any) -> bool:
    return isinstance(item, threading.Event)


class AuditWriter:
    """Queue audit records and append them to an audit log in a background thread.

    Parameters
    ----------
    audit_log : acie.store.audit.AuditLog
        The log to append to.
    max_queue : int
        Records waiting; beyond it records are counted as dropped (never blocks).
    window_s : float
        Aggregation window of refused calls, seconds.
    max_keys : int
        Distinct refused-call keys tracked per window.
    linger_s : float
        How long the writer gathers records into one transaction (rows appear in the
        log at most that much later; :meth:`flush` does not wait for it).
    """

    def __init__(
        self,
        *,
        audit_log: Any,
        max_queue: int = 100_000,
        window_s: float = 10.0,
        max_keys: int = 10_000,
        linger_s: float = 0.05,
    ) -> None:
        self.audit_log = audit_log
        self.linger_s = linger_s
        self.failures = 0
        self.dropped = 0
        self.window_s = window_s
        self.max_keys = max_keys
        self._queue: queue.Queue = queue.Queue(maxsize=max_queue)
        self._agg_lock = threading.Lock()
        self._counts: dict[tuple, list] = {}  # key -> [count beyond the first, last record]
        self._window_end = time.monotonic() + window_s
        self._unreported_drops = 0
        self._thread = threading.Thread(target=self._loop, name="acie-audit", daemon=True)
        self._thread.start()

    def _put(self, item: Any) -> bool:
        try:
            self._queue.put_nowait(item)
            return True
        except queue.Full:
            with self._agg_lock:
                self.dropped += 1
                self._unreported_drops += 1
            return False

    def refused(
        self,
        *,
        actor: str | None,
        action: str,
        outcome: str,
        ip: str | None = None,
        resource: str | None = None,
    ) -> None:
        """Record a refused call, aggregated per window (returns at once)."""
        key: tuple = (ip, actor, action, outcome)
        with self._agg_lock:
            entry = self._counts.get(key)
            if entry is None and len(self._counts) >= self.max_keys:
                key = (None, None, "audit.overflow", "REFUSED")
                entry = self._counts.get(key)
            if entry is not None:
                entry[0] += 1
                return
            self._counts[key] = [0, resource]
        self.record(actor=actor, action=action, outcome=outcome, resource=resource, ip=ip)

    def _close_window(self, *, force: bool = False) -> list[dict[str, Any]]:
        """The summary rows of a closed window (and of dropped records)."""
        now = time.monotonic()
        with self._agg_lock:
            if not force and now < self._window_end:
                counts: dict[tuple, list] = {}
            else:
                counts, self._counts = self._counts, {}
                self._window_end = now + self.window_s
            drops, self._unreported_drops = self._unreported_drops, 0
        rows = [
            {
                "request_id": new_trace_id(),
                "user_sub": actor,
                "action": f"{action}:{outcome}"[:180] + f"*{n}",
                "resource": resource,
                "compute_duration_ms": None,
                "physics_violation_score": None,
                "ip": ip,
            }
            for (ip, actor, action, outcome), (n, resource) in counts.items()
            if n > 0
        ]
        if drops:
            log.error("audit queue full: %d records dropped", drops)
            rows.append(
                {
                    "request_id": new_trace_id(),
                    "user_sub": None,
                    "action": f"audit.dropped:*{drops}",
                    "resource": None,
                    "compute_duration_ms": None,
                    "physics_violation_score": None,
                    "ip": None,
                }
            )
        return rows

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
        """Queue one audit row (returns at once; counted as dropped when the queue is full)."""
        self._put(
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
            try:
                items = [self._queue.get(timeout=max(0.05, self._window_end - time.monotonic()))]
            except queue.Empty:
                self._store(self._close_window())
                continue
            # gather for up to linger_s (a flush or stop ends it): one transaction for many
            # rows costs ~0.1 ms of CPU a row on SQLite, one for each row ~1 ms
            until = time.monotonic() + self.linger_s
            while len(items) < 256 and not (items[-1] is _STOP or _is_flush(items[-1])):
                try:
                    items.append(self._queue.get(timeout=max(0.0, until - time.monotonic())))
                except queue.Empty:
                    break
            records: list[dict[str, Any]] = []
            for item in items:
                if item is _STOP:
                    stop = True
                elif isinstance(item, threading.Event):
                    # everything queued before the flush first, with the open window's counts
                    self._store(records + self._close_window(force=True))
                    records = []
                    item.set()
                else:
                    records.append(item)
            self._store(records + self._close_window(force=stop))
            for _ in items:
                self._queue.task_done()

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Wait until every record queued before this call is stored."""
        done = threading.Event()
        self._queue.put(done, timeout=timeout)  # a caller's thread, never the event loop
        return done.wait(timeout)

    def close(self, timeout: float | None = 10.0) -> None:
        """Store what is queued and stop the writer thread."""
        if self._thread.is_alive():
            self._queue.put(_STOP, timeout=timeout)
            self._thread.join(timeout)
