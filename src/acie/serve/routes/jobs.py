"""Counterfactual jobs: submit (202), list, read one, and follow its progress over a WebSocket."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, WebSocket, WebSocketDisconnect

from acie.errors import AcieError, AuthorizationError, BackendUnavailableError
from acie.jobs.progress import job_progress
from acie.serve import job_service
from acie.serve.auth import Action, Principal, authorize, can_read_job
from acie.serve.deps import require, runtime_of
from acie.serve.http_errors import ERROR_RESPONSES
from acie.serve.retrieval import check_retrieval
from acie.serve.routes.alerts import cookie_principal
from acie.serve.runtime import ServingRuntime
from acie.serve.schemas import (
    CounterfactualResponse,
    ErrorBody,
    JobList,
    JobSubmitRequest,
    JobView,
)
from acie.serve.sessions import ACCESS_COOKIE, require_session
from acie.serve.status_codes import code_for, http_status_for, public_message
from acie.serve.tracing import current_trace_id
from acie.wire.tensors import decode_b64

__all__ = ["job_view", "router"]

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)


def _queue(rt: ServingRuntime) -> Any:
    if rt.job_queue is None:
        raise BackendUnavailableError("this server runs no job queue")
    return rt.job_queue


def job_view(job: Any) -> JobView:
    """The API view of a queued job (its result once COMPLETE, its error once FAILED)."""
    payload = job.payload or {}
    result = None
    error = None
    counterfactual = payload.get("kind", "counterfactual") == "counterfactual"
    if (
        counterfactual
        and job.result is not None
        and job.state.value == "COMPLETE"
        and "dataset" not in job.result
    ):
        result = CounterfactualResponse(**job.result)
    if job.error:
        err = job_service.parse_error(job.error)
        error = ErrorBody(code=err[0], message=err[1], trace_id=payload.get("trace_id"))
    return JobView(
        job_id=str(job.id),
        request_id=payload.get("request_id", job.request_id),
        state=job.state.value,
        owner=job.user_sub,
        shared=bool(payload.get("shared")),
        created_at=job.created_at.isoformat() if job.created_at else None,
        updated_at=job.updated_at.isoformat() if job.updated_at else None,
        result=result,
        error=error,
    )


def _visible_job(rt: ServingRuntime, principal: Principal, job_id: str) -> Any:
    job = job_service.get_job(_queue(rt), job_id)
    if not can_read_job(
        principal, owner=job.user_sub or "", shared=bool((job.payload or {}).get("shared"))
    ):
        raise AuthorizationError(
            f"job {job_id} belongs to another user and is not shared with your role "
            f"({principal.role.value})"
        )
    return job


@router.post(
    "/jobs",
    response_model=JobView,
    status_code=202,
    summary="Submit a counterfactual job to the queue",
)
def submit_job(
    body: JobSubmitRequest,
    request: Request,
    principal: Principal = Depends(require(Action.submit)),
) -> JobView:
    rt = runtime_of(request)
    queue = _queue(rt)
    obs = decode_b64(body.observation.shape, body.observation.dtype, body.observation.data)
    check_retrieval(rt, body.retrieve_k, int(obs.shape[0]), body.retrieve_filter)
    rt.core.validate(
        request_id=body.request_id,
        observation=obs,
        interventions=body.interventions,
        physics_tolerance=body.physics_tolerance,
        physics_steps=body.physics_steps,
        n_particles=body.n_particles,
        expected_draws=body.expected_draws,
        all_or_nothing=body.all_or_nothing,
    )
    job = job_service.submit_job(
        queue,
        owner=principal.subject,
        body=body.model_dump(),
        trace_id=current_trace_id(),
        role=principal.role.value,
    )
    rt.queue_depth()
    return job_view(job)


@router.get("/jobs", response_model=JobList, summary="Recent jobs you may see")
def list_jobs(
    request: Request,
    limit: int = Query(20, ge=1, le=200),
    principal: Principal = Depends(require_session(Action.read)),  # the explorer's jobs page
) -> JobList:
    rt = runtime_of(request)
    jobs = job_service.recent_jobs(_queue(rt), principal, limit=limit)
    return JobList(jobs=[job_view(j) for j in jobs])


@router.get("/jobs/{job_id}", response_model=JobView, summary="State and result of a job")
def get_job(
    job_id: str,
    request: Request,
    principal: Principal = Depends(require_session(Action.read)),
) -> JobView:
    return job_view(_visible_job(runtime_of(request), principal, job_id))


@router.websocket("/jobs/{job_id}/progress")
async def progress(
    websocket: WebSocket, job_id: str, access_token: str | None = Query(None)
) -> None:
    """Stream the job's states as JSON messages until COMPLETE or FAILED.

    A long job's progress within a state (an ingestion's batches embedded) comes as
    ``{"job_id", "state", "progress": {"done", "total", "unit"}}`` messages whenever the
    count changed since the last read (:mod:`acie.jobs.progress`).

    Browsers cannot set headers on a WebSocket, so the token may come as the
    ``access_token`` query parameter as well as an ``Authorization`` header. A refused
    watcher is accepted and then closed with ``4000 + HTTP status`` (4401 no or bad
    token, 4403 not allowed, 4404 no such job, 4429 too many watchers or calls) and
    the error code and message as the reason. The worker pushes each state change
    (:mod:`acie.jobs.notify`); a watcher reads the database only when woken, and
    every :data:`RECHECK_S` seconds in case a push was lost.
    """
    rt = runtime_of(websocket)
    header = websocket.headers.get("authorization", "")
    token = header.partition(" ")[2].strip() if header.lower().startswith("bearer ") else None
    await websocket.accept()
    slots = _watcher_slots(websocket, rt)
    subject: str | None = None
    try:
        if token is None and access_token is None and ACCESS_COOKIE in websocket.cookies:
            principal = await asyncio.to_thread(cookie_principal, websocket)  # a browser
        else:
            principal = rt.verifier.verify(token or access_token)
        websocket.scope.setdefault("state", {})["principal"] = principal
        authorize(principal, Action.read)
        rt.rate_limiter.hit(principal.subject)
        job = await asyncio.to_thread(_visible_job, rt, principal, job_id)
        slots.acquire(principal.subject)
        subject = principal.subject
    except AcieError as exc:
        code = code_for(exc)
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            await websocket.close(
                code=4000 + http_status_for(code),
                reason=f"{code.name}: {public_message(exc, code, None)}"[:120],
            )
        return
    try:
        await _follow(websocket, rt, job)
    except WebSocketDisconnect:
        return
    finally:
        slots.release(subject)


#: seconds between a watcher's own re-reads of the job when no push arrives
RECHECK_S = 10.0


async def _follow(websocket: WebSocket, rt: ServingRuntime, job: Any) -> None:
    # replay the job's recorded state changes in order (none is skipped, however fast
    # the worker), then follow new ones until the job is COMPLETE or FAILED
    queue = _queue(rt)
    sent = 0
    last_progress: dict[str, Any] | None = None
    deadline = time.monotonic() + max(rt.core.timeout_s, 60.0) * 10
    gone = asyncio.ensure_future(_disconnected(websocket))
    try:
        with queue.notifier.subscribe(job.id) as waiter:
            while time.monotonic() < deadline:
                waiter.clear()  # a change after this point wakes the wait below
                job = await asyncio.to_thread(job_service.get_job, queue, str(job.id))
                events = await asyncio.to_thread(job_service.job_events, queue, job)
                for ev in events[sent:]:
                    await websocket.send_json(
                        {"job_id": str(job.id), "state": ev["to"], "at": ev["at"]}
                    )
                sent = len(events)
                step = job_progress(job)
                if step is not None and step != last_progress:
                    await websocket.send_json(
                        {"job_id": str(job.id), "state": job.state.value, "progress": step}
                    )
                    last_progress = step
                if job.terminal:
                    view = job_view(job)
                    await websocket.send_json({"final": True, **json.loads(view.model_dump_json())})
                    break
                woken = asyncio.ensure_future(
                    waiter.wait(min(RECHECK_S, max(0.0, deadline - time.monotonic())))
                )
                await asyncio.wait({woken, gone}, return_when=asyncio.FIRST_COMPLETED)
                if gone.done():  # the client left: free its slot now, not at the next push
                    woken.cancel()
                    return
    finally:
        gone.cancel()
    await websocket.close()


async def _disconnected(websocket: WebSocket) -> None:
    """Return when the client closes (watchers send nothing, so anything else is ignored)."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


def _watcher_slots(websocket: WebSocket, rt: ServingRuntime) -> job_service.WatcherSlots:
    """The app's per-user count of open progress watchers (created on first use)."""
    state = websocket.app.state
    slots = getattr(state, "job_watchers", None)
    if slots is None:
        slots = job_service.WatcherSlots(rt.settings.WS_MAX_WATCHERS_PER_USER)
        state.job_watchers = slots
    return slots
