"""Counterfactual jobs on the platform job queue: submit, read, list, and the worker's handler.

A job's ``request_id`` in the queue is namespaced by its owner
(``"<len(sub)>:<sub>/<request_id>"``), so two users never collide and one user's
request id never finds another user's job. The payload keeps what the worker needs
(observation, interventions, physics settings, ``retrieve_k`` and ``retrieve_filter``),
who owns the job and with which role it was submitted (the neighbours a job retrieves
are those its owner may see), whether it is shared with collaborators, and the trace id
of the submitting call, which the worker restores so the job's log lines carry it.

Everything the worker embeds (dataset uploads, a job's ``retrieve_k`` neighbours, the
images of finished jobs) goes through the served galaxy embedder and its index
(:mod:`acie.serve.embedding_index`), the one ``POST /v1/search`` queries.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sqlalchemy import select

from acie import errors
from acie.errors import NotFoundError, PhysicsViolationError
from acie.jobs.ingest import INGEST_KIND, handle_ingest
from acie.jobs.progress import record_progress
from acie.jobs.trace_propagation import inject_trace_context
from acie.serve.auth import Principal, Role, can_read_job
from acie.serve.calls import result_payload
from acie.serve.embedding_index import EmbedderMismatchError, ServedEmbedding, served_of
from acie.serve.explorer_selection import SELECTION_KIND, run_selection
from acie.serve.inference import InferenceCore
from acie.serve.job_reindex import index_job_images
from acie.serve.retrieval import job_neighbours
from acie.serve.status_codes import code_for_class
from acie.serve.telemetry_otel import producer_span
from acie.serve.tracing import trace_context
from acie.wire.tensors import decode_b64

__all__ = [
    "JobRunner",
    "WatcherSlots",
    "get_job",
    "job_events",
    "parse_error",
    "queue_request_id",
    "recent_jobs",
    "search",
    "submit_job",
]

log = logging.getLogger("acie.serve.jobs")


def queue_request_id(owner: str, request_id: str) -> str:
    """The queue's request id of ``owner``'s ``request_id`` (unambiguous for any owner)."""
    return f"{len(owner)}:{owner}/{request_id}"


def submit_job(
    queue: Any,
    *,
    owner: str,
    body: Mapping[str, Any],
    trace_id: str | None,
    role: str = Role.researcher.value,
) -> Any:
    """Queue a counterfactual job (``body``: a validated :class:`JobSubmitRequest` dump).

    ``role`` is the submitter's: the job's ``retrieve_k`` neighbours are searched under
    the visibility rules of that role (researchers: their own images).
    """
    payload = {
        "kind": "counterfactual",
        "request_id": body["request_id"],
        "observation": dict(body["observation"]),
        "interventions": dict(body.get("interventions") or {}),
        "physics_tolerance": body.get("physics_tolerance"),
        "physics_steps": body.get("physics_steps"),
        "n_particles": int(body.get("n_particles") or 0),
        "expected_draws": int(body.get("expected_draws") or 0),
        "all_or_nothing": bool(body.get("all_or_nothing", False)),
        "retrieve_k": int(body.get("retrieve_k") or 0),
        "retrieve_filter": dict(body.get("retrieve_filter") or {}),
        "role": Role(role).value,
        "shared": bool(body.get("shared", False)),
        "trace_id": trace_id,
    }
    with producer_span("job enqueue", **{"acie.job.kind": "counterfactual"}):
        inject_trace_context(payload)  # the worker's span joins this trace
        return queue.submit(queue_request_id(owner, body["request_id"]), payload, user_sub=owner)


def get_job(queue: Any, job_id: str) -> Any:
    """The job with this UUID (request ids are not accepted here); NotFoundError otherwise."""
    try:
        uid = uuid.UUID(str(job_id))
    except ValueError:
        raise NotFoundError(f"job ids are UUIDs; got {job_id!r}") from None
    return queue.get(uid)


def job_events(queue: Any, job: Any) -> list[dict[str, Any]]:
    """The job's state changes, oldest first: ``{"to": state, "at": ISO 8601 UTC}``.

    Read after the job snapshot, so a terminal snapshot's events are all included.
    """
    events = queue.events(job.id)
    return [{"to": e["to"], "at": e["at"].isoformat() if e.get("at") else None} for e in events]


def recent_jobs(queue: Any, principal: Principal, *, limit: int = 20) -> list[Any]:
    """Newest jobs ``principal`` may see, at most ``limit``.

    The visibility rule of :func:`~acie.serve.auth.can_read_job` is applied in the
    query (researchers: their own jobs; collaborators: shared jobs; admins: all), so
    the newest ``limit`` visible jobs are found however many others are newer.
    """
    from sqlalchemy import true

    from acie.jobs.job import to_job
    from acie.store.schema import Job as JobRow

    stmt = select(JobRow).order_by(JobRow.created_at.desc(), JobRow.id).limit(limit)
    if principal.role is Role.researcher:
        stmt = stmt.where(JobRow.user_sub == principal.subject)
    elif principal.role is not Role.admin:
        stmt = stmt.where(JobRow.payload["shared"].as_boolean() == true())
    with queue.engine.connect() as conn:
        jobs = [to_job(r) for r in conn.execute(stmt).all()]
    # the same rule once more, on the decoded rows (defence in depth)
    return [
        j
        for j in jobs
        if can_read_job(
            principal, owner=j.user_sub or "", shared=bool((j.payload or {}).get("shared"))
        )
    ]


class WatcherSlots:
    """How many progress watchers each user has open, capped at ``limit`` per user.

    Parameters
    ----------
    limit : int
        ``WS_MAX_WATCHERS_PER_USER``.
    """

    def __init__(self, limit: int) -> None:
        self.limit = int(limit)
        self._open: dict[str, int] = {}
        self._lock = threading.Lock()

    def acquire(self, subject: str) -> None:
        """Take a slot for ``subject``; :class:`~acie.errors.RateLimitError` when all are taken."""
        with self._lock:
            n = self._open.get(subject, 0)
            if n >= self.limit:
                raise errors.RateLimitError(
                    f"{n} progress watchers are open for {subject!r}; "
                    f"WS_MAX_WATCHERS_PER_USER is {self.limit}: close one first"
                )
            self._open[subject] = n + 1

    def release(self, subject: str | None) -> None:
        """Give ``subject``'s slot back (None: nothing was taken)."""
        if subject is None:
            return
        with self._lock:
            n = self._open.get(subject, 0) - 1
            if n > 0:
                self._open[subject] = n
            else:
                self._open.pop(subject, None)

    def open(self, subject: str) -> int:
        """Watchers ``subject`` has open now."""
        with self._lock:
            return self._open.get(subject, 0)


def parse_error(error: str) -> tuple[str, str]:
    """``(gRPC code name, message)`` of a job's stored error ``"<ErrorClass>: message"``."""
    name, sep, message = error.partition(": ")
    own = {EmbedderMismatchError.__name__: EmbedderMismatchError}
    cls = (own.get(name) or getattr(errors, name, None)) if sep else None
    if isinstance(cls, type) and issubclass(cls, BaseException):
        return code_for_class(cls).name, message
    if name.startswith("dead letter"):
        return "ABORTED", error
    return "INTERNAL", error


def search(
    index: Any,
    principal: Principal,
    vector: Sequence[float],
    *,
    k: int,
    where: Mapping[str, Any] | None,
) -> list[dict[str, Any]]:
    """The ``k`` nearest neighbours of ``vector`` that ``principal`` may see, as JSON-ready hits.

    Researchers search their own jobs' images, collaborators the shared ones, admins all.
    """
    from acie.errors import ShapeError

    if len(vector) != index.dim:
        raise ShapeError(
            f"search vector must have {index.dim} elements (the index dimension); got {len(vector)}"
        )
    filters = dict(where or {})
    for reserved in ("owner", "shared"):
        filters.pop(reserved, None)
    if principal.role is Role.researcher:
        filters["owner"] = principal.subject
    elif principal.role is Role.collaborator:
        filters["shared"] = True
    hits = index.search(np.asarray(vector, dtype=np.float32), k=k, filters=filters)
    return [
        {"id": str(h.id), "distance": float(h.distance), "metadata": dict(h.metadata or {})}
        for h in hits
    ]


class JobRunner:
    """The worker's handler and physics check for counterfactual jobs.

    Parameters
    ----------
    core : InferenceCore
        Runs the model (in the worker's own thread, not the request pool).
    vector_index : optional
        The server's index (``ServingRuntime.vector_index``: the served galaxy embedder's,
        opened by :func:`acie.serve.embedding_index.served_embedding`). When given, the
        embedder and this index ingest datasets, find the ``retrieve_k`` neighbours of jobs, and index the
        observations of every job that passes the physics check (when the embedder takes
        their shape), with the job's id, owner, sharing and factual properties as
        metadata (for ``POST /v1/search``).
    queue : JobQueue, optional
        The queue the jobs come from: long jobs (dataset ingestion) record their
        progress on it (:func:`acie.jobs.progress.record_progress`) for the WebSocket,
        and neighbours are audited in its database.
    """

    def __init__(
        self,
        *,
        core: InferenceCore,
        vector_index: Any = None,
        queue: Any = None,
    ) -> None:
        self.core = core
        self.queue = queue
        self.vector_index = vector_index

    def served(self) -> ServedEmbedding | None:
        """The served galaxy embedder and its index (None without a vector index)."""
        return served_of(self.vector_index)

    def handle(self, job: Any) -> dict[str, Any]:
        """Run one job's counterfactual; returns the JSON result stored with the job."""
        p = job.payload or {}
        if p.get("kind") == INGEST_KIND:  # a dataset upload (acie.jobs.ingest)
            queue = self.queue
            served = self.served()
            if served is None:
                raise errors.BackendUnavailableError(
                    "this worker has no embedding index to ingest into"
                )
            return handle_ingest(
                job,
                target=served.target,
                progress=None
                if queue is None
                else lambda d, t: record_progress(queue, job, d, t, unit="batches"),
            )
        if p.get("kind") == SELECTION_KIND:  # the explorer's selection counterfactual
            with trace_context(p.get("trace_id")):
                return run_selection(
                    p,
                    self.core.model,
                    tolerance=p.get("physics_tolerance") or self.core.physics_tolerance,
                    steps=self.core.physics_steps,
                )
        with trace_context(p.get("trace_id")):
            t0 = time.perf_counter()
            obs = p["observation"]
            call = self.core.validate(
                request_id=p["request_id"],
                observation=decode_b64(obs["shape"], obs.get("dtype", "float32"), obs["data"]),
                interventions=p.get("interventions") or {},
                physics_tolerance=p.get("physics_tolerance"),
                physics_steps=p.get("physics_steps"),
                n_particles=int(p.get("n_particles") or 0),
                expected_draws=int(p.get("expected_draws") or 0),
                all_or_nothing=bool(p.get("all_or_nothing", False)),
            )
            log.info("job started", extra={"job_id": str(job.id), "attempt": job.attempts})
            result = self.core.run(call)
            if int(p.get("retrieve_k") or 0):
                served = self.served()
                if served is None:
                    raise errors.BackendUnavailableError(
                        "retrieve_k needs the server's embedding index, which this worker lacks"
                    )
                audit_engine = getattr(self.queue, "engine", None) or served.index.engine
                result, hits, info = job_neighbours(
                    served, self.core.model, job, call, result, audit_engine
                )
            payload = result_payload(
                call.request_id, result, (time.perf_counter() - t0) * 1e3, p.get("trace_id")
            )
            if int(p.get("retrieve_k") or 0):
                payload["neighbours"], payload["retrieval"] = hits, info
            payload["physics_tolerance"] = call.physics_tolerance or self.core.physics_tolerance
            return payload

    def physics_check(self, job: Any, result: Mapping[str, Any]) -> None:
        """Re-check the stored violation scores against the tolerance the job ran with."""
        if (job.payload or {}).get("kind") == INGEST_KIND:
            return  # no counterfactual to check
        tol = float(result["physics_tolerance"])
        status = result.get("status") or ["ok"] * len(result["violation_score"])
        # galaxies refused by themselves carry their refusal in the result; the others
        # must be within the tolerance (a null score of an accepted galaxy is a violation)
        scores = [
            s for s, st in zip(result["violation_score"], status, strict=True) if st != "refused"
        ]
        worst = max((s for s in scores if s is not None), default=0.0)
        if any(s is None for s in scores):
            worst = float("nan")
        if not worst <= tol:
            raise PhysicsViolationError(
                f"job {job.id}: physics violation score {worst:.4g} above tolerance {tol:.4g}",
                score=worst,
                tolerance=tol,
            )
        if (job.payload or {}).get("kind") == SELECTION_KIND:
            return  # catalogue galaxies, not the user's images: nothing to index
        served = self.served()
        if served is not None:
            index_job_images(served, job, result)
