"""Reconciling the Redis stream with the ``jobs`` table (the truth), and trimming it.

Redis can lose entries: a submitter dies between its commit and its ``XADD``, or Redis
itself comes back empty (no AOF, a lost disk, a failover to a stale replica). The
database still holds every job a caller was told was accepted, so the reconciler walks
the unfinished rows and re-enqueues each one that nothing covers:

* a row whose stream entry still exists is covered (it is pending or not yet read,
  and ``XAUTOCLAIM`` or ``XREADGROUP`` will deliver it);
* a row with a live lease is covered (a worker holds it; if that worker dies the
  lease runs out and the next reconciliation re-enqueues the row).

Trimming removes only entries that are acknowledged: those older than both the oldest
pending entry and the group's last-delivered id, and older than the retention time.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from acie.jobs.state import TERMINAL_STATES
from acie.store.database import translate_errors
from acie.store.schema import Job as JobRow
from acie.store.schema import utcnow

__all__ = ["reconcile_stream", "trim_stream"]

log = logging.getLogger(__name__)


def reconcile_stream(queue: Any, grace_s: float) -> int:
    """Re-enqueue the unfinished rows of ``queue`` that no entry or live lease covers.

    Parameters
    ----------
    queue : acie.jobs.RedisJobQueue
    grace_s : float [s]
        Rows changed less than this long ago are skipped (a submit may be between its
        commit and its ``XADD``).

    Returns
    -------
    int
        Rows re-enqueued.
    """
    now = utcnow()
    cutoff = now - timedelta(seconds=grace_s)
    with translate_errors(), queue.engine.connect() as conn:
        rows = conn.execute(
            select(JobRow.id, JobRow.request_id, JobRow.delivery_id, JobRow.lease_expires_at)
            .where(
                JobRow.state.not_in([s.value for s in TERMINAL_STATES]),
                JobRow.updated_at < cutoff,
            )
            .order_by(JobRow.created_at)
        ).all()
    # a live lease covers a row
    candidates = [r for r in rows if r.lease_expires_at is None or r.lease_expires_at <= now]
    with_entry = [r for r in candidates if r.delivery_id]
    exists: dict[Any, bool] = {}
    if with_entry:
        pipe = queue.client.pipeline(transaction=False)
        for r in with_entry:
            pipe.xrange(queue.stream, r.delivery_id, r.delivery_id, count=1)
        exists = {r.id: bool(found) for r, found in zip(with_entry, pipe.execute(), strict=True)}
    n = 0
    for r in candidates:
        if exists.get(r.id):
            continue
        entry = queue.client.xadd(queue.stream, {"job_id": str(r.id), "request_id": r.request_id})
        with translate_errors(), queue._write_conn() as conn, conn.begin():
            moved = conn.execute(
                update(JobRow)
                .where(
                    JobRow.id == r.id,
                    JobRow.delivery_id.is_(None)
                    if r.delivery_id is None
                    else JobRow.delivery_id == r.delivery_id,
                )
                .values(delivery_id=str(entry))
            ).rowcount
        if not moved:  # the row moved meanwhile: the new entry will be seen stale and acked
            log.info("job %s changed while it was re-enqueued", r.id)
        n += 1
    if n:
        log.warning(
            "re-enqueued %d unfinished jobs that no stream entry or lease covered on %s",
            n,
            queue.stream,
        )
    return n


def _parse(entry_id: str) -> tuple[int, int]:
    ms, _, seq = str(entry_id).partition("-")
    return int(ms), int(seq or 0)


def trim_stream(queue: Any) -> int:
    """Delete the acknowledged entries of ``queue.stream`` older than ``queue.retention_s``.

    Returns
    -------
    int
        Entries deleted.
    """
    cutoff_ms = max(0, int(time.time() * 1000) - int(queue.retention_s * 1000))
    bound = (cutoff_ms, 0)
    summary = queue.client.xpending(queue.stream, queue.group)
    if summary.get("pending") and summary.get("min"):
        bound = min(bound, _parse(summary["min"]))
    last = None
    for g in queue.client.xinfo_groups(queue.stream):
        if g.get("name") == queue.group:
            last = g.get("last-delivered-id")
    if last is None:
        return 0  # no group: nothing is known to be acknowledged
    ms, seq = _parse(last)
    bound = min(bound, (ms, seq + 1))  # entries after last-delivered are not yet read
    return int(queue.client.xtrim(queue.stream, minid=f"{bound[0]}-{bound[1]}", approximate=False))
