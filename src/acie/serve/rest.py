"""The REST gateway (FastAPI): the same operations as gRPC, plus jobs, progress, search, blind inference.

Routes (the OpenAPI document is at ``/openapi.json``, interactive docs at ``/docs``):

======================================  =========  ==============================================
route                                   needs      what
======================================  =========  ==============================================
``GET /healthz``                        —          SERVING/NOT_SERVING (503 while shutting down)
``GET /metrics``                        —          Prometheus text format
``GET /dashboard/``                     —          web dashboard (static HTML + JS)
``GET /v1/models``                      read       served models with SHA-256 versions
``POST /v1/counterfactual``             submit     synchronous counterfactual
``POST /v1/jobs``                       submit     asynchronous counterfactual job (202)
``GET /v1/jobs``                        read       recent jobs the caller may see
``GET /v1/jobs/{job_id}``               read       state and result of one job
``WS /v1/jobs/{job_id}/progress``       read       QUEUED → PROCESSING → PHYSICS_CHECK → COMPLETE
``POST /v1/search``                     read       k nearest neighbours in the embedding index
``POST /v1/blind/infer``                submit     encrypted vector in, encrypted vector out
``GET /v1/blind/layer``                 read       what the blind layer computes (names, sizes)
======================================  =========  ==============================================

Extra routers (for example the operations report) are passed to :func:`create_app` as
``extra_routers``; they can protect their routes with :func:`require`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from acie import __version__
from acie.errors import (
    AcieError,
    AuthorizationError,
    BackendUnavailableError,
    RateLimitError,
)
from acie.serve import job_service as serve_jobs
from acie.serve.auth import Action, Principal, authorize, can_read_job
from acie.serve.inference import result_payload
from acie.serve.metrics import CONTENT_TYPE_LATEST
from acie.serve.runtime import ServingRuntime
from acie.serve.schemas import (
    BlindInferenceRequest,
    BlindInferenceResponse,
    CounterfactualRequest,
    CounterfactualResponse,
    ErrorBody,
    ErrorResponse,
    Health,
    JobList,
    JobSubmitRequest,
    JobView,
    ModelInfo,
    ModelList,
    SearchHit,
    SearchRequest,
    SearchResponse,
)
from acie.serve.status_codes import code_for, http_status_for, public_message
from acie.serve.tracing import current_trace_id, parse_trace_id, trace_context
from acie.wire.tensors import decode_b64

__all__ = ["create_app", "require"]

log = logging.getLogger("acie.serve.rest")

DASHBOARD_DIR = Path(__file__).with_name("dashboard")
_bearer = HTTPBearer(auto_error=False, description="JWT from `acie auth token`")

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": desc}
    for code, desc in {
        400: "INVALID_ARGUMENT: malformed request, wrong shape, unknown intervention variable",
        401: "UNAUTHENTICATED: missing, expired or forged token",
        403: "PERMISSION_DENIED: missing scope or role",
        404: "NOT_FOUND",
        409: "ALREADY_EXISTS: request_id already in flight",
        413: "RESOURCE_EXHAUSTED: request larger than MAX_REQUEST_BYTES",
        422: "FAILED_PRECONDITION: physics violation above tolerance",
        429: "RESOURCE_EXHAUSTED: rate limit or queue limit",
        503: "UNAVAILABLE: backend not configured or server shutting down",
        504: "DEADLINE_EXCEEDED: request took longer than REQUEST_TIMEOUT_S",
    }.items()
}


def _runtime(request: Request | WebSocket) -> ServingRuntime:
    return request.app.state.runtime


def require(action: Action) -> Callable[..., Principal]:
    """A FastAPI dependency: verify the bearer token, check scope and role, take a rate token."""

    def dependency(
        request: Request, creds: HTTPAuthorizationCredentials | None = Depends(_bearer)
    ) -> Principal:
        rt = _runtime(request)
        if not rt.serving:
            raise BackendUnavailableError("the server is shutting down; retry on another replica")
        principal = rt.verifier.verify(creds.credentials if creds else None)
        request.state.principal = principal
        authorize(principal, action)
        try:
            rt.rate_limiter.hit(principal.subject)
        except AcieError:
            rt.metrics.rate_limited.labels("rest").inc()
            raise
        return principal

    return dependency


def _error_response(
    exc: BaseException, *, status: int | None = None, code_name: str | None = None
) -> JSONResponse:
    code = code_for(exc)
    tid = current_trace_id()
    body = {
        "error": {
            "code": code_name or code.name,
            "message": public_message(exc, code, tid),
            "trace_id": tid,
        }
    }
    headers = {}
    retry = getattr(exc, "retry_after_s", None)
    if retry is not None:
        headers["Retry-After"] = str(max(1, int(retry + 0.999)))
    return JSONResponse(body, status_code=status or http_status_for(code), headers=headers)


class _Observability:
    """Pure ASGI middleware: trace id, request size limit, metrics and audit of every call."""

    def __init__(self, app: Any, runtime: ServingRuntime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        tid = parse_trace_id(headers.get("x-trace-id"), headers.get("traceparent"))
        t0 = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: dict) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-trace-id", tid.encode())]
            elif message["type"] == "websocket.accept":
                status["code"] = 101
            elif message["type"] == "websocket.close" and status["code"] == 500:
                status["code"] = 403
            await send(message)

        with trace_context(tid):
            try:
                if scope["type"] == "http":
                    limited = await self._limit_body(scope, headers, receive, send_wrapper)
                    if limited is None:
                        return
                    receive = limited
                await self.app(scope, receive, send_wrapper)
            finally:
                self._record(scope, status["code"], time.perf_counter() - t0)

    async def _limit_body(
        self, scope: dict, headers: dict[str, str], receive: Callable, send: Callable
    ) -> Callable | None:
        limit = self.runtime.settings.MAX_REQUEST_BYTES
        declared = headers.get("content-length")
        too_big = RateLimitError(f"request body must be at most {limit} bytes (MAX_REQUEST_BYTES)")
        if declared is not None:
            if not declared.isdigit() or int(declared) > limit:
                await _error_response(too_big, status=413)(scope, receive, send)
                return None
            return receive
        if scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE"):
            return receive
        # no Content-Length (chunked): buffer up to the limit, then replay
        chunks, total = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            total += len(message.get("body", b""))
            if total > limit:
                await _error_response(too_big, status=413)(scope, receive, send)
                return None
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> dict:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay

    def _record(self, scope: dict, status: int, seconds: float) -> None:
        route = scope.get("route")
        path = getattr(route, "path", None)
        if path is None:
            raw = scope.get("path", "")
            path = (
                "/dashboard/*"
                if raw.startswith("/dashboard")
                else (raw if raw in ("/openapi.json", "/docs", "/redoc") else "unmatched")
            )
        method = scope.get("method", "WS")
        label = f"{method} {path}"
        rt = self.runtime
        rt.metrics.observe_request(protocol="rest", method=label, code=str(status), seconds=seconds)
        if path.startswith("/v1/"):
            principal = scope.get("state", {}).get("principal")
            client = scope.get("client")
            rt.audit.record(
                actor=principal.subject if principal else None,
                action=f"rest.{label}",
                outcome=str(status),
                resource=f"model/{rt.model_version}",
                duration_ms=seconds * 1e3,
                ip=client[0] if client else None,
            )


def _job_view(rt: ServingRuntime, job: Any) -> JobView:
    payload = job.payload or {}
    result = None
    error = None
    if job.result is not None and job.state.value == "COMPLETE":
        result = CounterfactualResponse(**job.result)
    if job.error:
        err = serve_jobs.parse_error(job.error)
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
    if rt.job_queue is None:
        raise BackendUnavailableError("this server runs no job queue")
    job = serve_jobs.get_job(rt.job_queue, job_id)
    if not can_read_job(
        principal, owner=job.user_sub or "", shared=bool((job.payload or {}).get("shared"))
    ):
        raise AuthorizationError(
            f"job {job_id} belongs to another user and is not shared with your role "
            f"({principal.role.value})"
        )
    return job


def _api_router() -> APIRouter:
    r = APIRouter(prefix="/v1", responses=_ERRORS)

    @r.get("/models", response_model=ModelList, summary="Served models")
    def models(request: Request, _p: Principal = Depends(require(Action.read))) -> ModelList:
        rt = _runtime(request)
        m = rt.model
        return ModelList(
            models=[
                ModelInfo(
                    name=rt.model_name,
                    version=rt.model_version,
                    property_names=list(m.property_names),
                    image_shape=list(m.image_shape),
                )
            ]
        )

    @r.post(
        "/counterfactual",
        response_model=CounterfactualResponse,
        summary="Counterfactual inference, answered when done",
    )
    async def counterfactual(
        body: CounterfactualRequest,
        request: Request,
        principal: Principal = Depends(require(Action.submit)),
    ) -> CounterfactualResponse:
        rt = _runtime(request)
        t0 = time.perf_counter()
        obs = decode_b64(body.observation.shape, body.observation.dtype, body.observation.data)
        call = rt.core.validate(
            request_id=body.request_id,
            observation=obs,
            interventions=body.interventions,
            physics_tolerance=body.physics_tolerance,
            physics_steps=body.physics_steps,
        )
        fut = rt.core.submit(principal.subject, call)
        try:
            result = await asyncio.wait_for(asyncio.wrap_future(fut), timeout=rt.core.timeout_s)
        except TimeoutError:
            raise TimeoutError(
                f"request {body.request_id!r} did not finish within "
                f"{rt.core.timeout_s:.3g} s (REQUEST_TIMEOUT_S)"
            ) from None
        return CounterfactualResponse(
            **result_payload(
                body.request_id, result, (time.perf_counter() - t0) * 1e3, current_trace_id()
            )
        )

    @r.post(
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
        rt = _runtime(request)
        if rt.job_queue is None:
            raise BackendUnavailableError("this server runs no job queue")
        obs = decode_b64(body.observation.shape, body.observation.dtype, body.observation.data)
        rt.core.validate(
            request_id=body.request_id,
            observation=obs,
            interventions=body.interventions,
            physics_tolerance=body.physics_tolerance,
            physics_steps=body.physics_steps,
        )
        job = serve_jobs.submit_job(
            rt.job_queue,
            owner=principal.subject,
            body=body.model_dump(),
            trace_id=current_trace_id(),
        )
        rt.queue_depth()
        return _job_view(rt, job)

    @r.get("/jobs", response_model=JobList, summary="Recent jobs you may see")
    def list_jobs(
        request: Request,
        limit: int = Query(20, ge=1, le=200),
        principal: Principal = Depends(require(Action.read)),
    ) -> JobList:
        rt = _runtime(request)
        if rt.job_queue is None:
            raise BackendUnavailableError("this server runs no job queue")
        jobs = serve_jobs.recent_jobs(rt.job_queue, principal, limit=limit)
        return JobList(jobs=[_job_view(rt, j) for j in jobs])

    @r.get("/jobs/{job_id}", response_model=JobView, summary="State and result of a job")
    def get_job(
        job_id: str, request: Request, principal: Principal = Depends(require(Action.read))
    ) -> JobView:
        rt = _runtime(request)
        return _job_view(rt, _visible_job(rt, principal, job_id))

    @r.websocket("/jobs/{job_id}/progress")
    async def progress(
        websocket: WebSocket, job_id: str, access_token: str | None = Query(None)
    ) -> None:
        """Stream the job's states as JSON messages until COMPLETE or FAILED.

        Browsers cannot set headers on a WebSocket, so the token may come as the
        ``access_token`` query parameter as well as an ``Authorization`` header.
        """
        rt = _runtime(websocket)
        header = websocket.headers.get("authorization", "")
        token = header.partition(" ")[2].strip() if header.lower().startswith("bearer ") else None
        try:
            principal = rt.verifier.verify(token or access_token)
            websocket.scope.setdefault("state", {})["principal"] = principal
            authorize(principal, Action.read)
            rt.rate_limiter.hit(principal.subject)
            job = await asyncio.to_thread(_visible_job, rt, principal, job_id)
        except AcieError as exc:
            code = code_for(exc)
            await websocket.close(
                code=4000 + http_status_for(code),
                reason=f"{code.name}: {public_message(exc, code, None)}"[:120],
            )
            return
        await websocket.accept()
        # replay the job's recorded state changes in order (none is skipped, however fast
        # the worker), then follow new ones until the job is COMPLETE or FAILED
        sent = 0
        deadline = time.monotonic() + max(rt.core.timeout_s, 60.0) * 10
        try:
            while time.monotonic() < deadline:
                events = await asyncio.to_thread(serve_jobs.job_events, rt.job_queue, job)
                for ev in events[sent:]:
                    await websocket.send_json(
                        {"job_id": str(job.id), "state": ev["to"], "at": ev["at"]}
                    )
                sent = len(events)
                if job.terminal:
                    view = _job_view(rt, job)
                    await websocket.send_json({"final": True, **json.loads(view.model_dump_json())})
                    break
                await asyncio.sleep(0.05)
                job = await asyncio.to_thread(serve_jobs.get_job, rt.job_queue, str(job.id))
            await websocket.close()
        except WebSocketDisconnect:
            return

    @r.post("/search", response_model=SearchResponse, summary="k nearest neighbours")
    def search(
        body: SearchRequest, request: Request, principal: Principal = Depends(require(Action.read))
    ) -> SearchResponse:
        rt = _runtime(request)
        if rt.vector_index is None:
            raise BackendUnavailableError("this server has no embedding index")
        hits = serve_jobs.search(
            rt.vector_index, principal, body.vector, k=body.k, where=body.filter
        )
        return SearchResponse(hits=[SearchHit(**h) for h in hits])

    @r.post(
        "/blind/infer",
        response_model=BlindInferenceResponse,
        summary="Blind inference: encrypted vector in, encrypted vector out",
    )
    def blind_infer(
        body: BlindInferenceRequest,
        request: Request,
        _p: Principal = Depends(require(Action.submit)),
    ) -> BlindInferenceResponse:
        rt = _runtime(request)
        if rt.blind_layer is None:
            raise BackendUnavailableError("this server has no blind-inference layer")
        out = rt.blind_layer.apply_json(body.encrypted_input)
        return BlindInferenceResponse(
            request_id=body.request_id,
            encrypted_output=out,
            output_names=list(rt.blind_layer.output_names),
            model_version=rt.blind_layer.version,
        )

    @r.get("/blind/layer", summary="Shape and meaning of the blind-inference layer")
    def blind_layer(request: Request, _p: Principal = Depends(require(Action.read))) -> dict:
        rt = _runtime(request)
        if rt.blind_layer is None:
            raise BackendUnavailableError("this server has no blind-inference layer")
        return rt.blind_layer.describe()

    return r


def create_app(runtime: ServingRuntime, *, extra_routers: Sequence[APIRouter] = ()) -> FastAPI:
    """The FastAPI application over ``runtime``.

    Parameters
    ----------
    runtime : ServingRuntime
    extra_routers : sequence of fastapi.APIRouter
        Mounted after the built-in routes (the operations report mounts here); they see
        the runtime as ``request.app.state.runtime`` and may use :func:`require`.
    """
    app = FastAPI(
        title="ACIE inference API",
        version=__version__,
        description="Counterfactual inference on galaxy images with physics checks, "
        "jobs, kNN search and blind (Paillier) inference. Errors carry "
        "the gRPC status code name; see docs/serving.md.",
    )
    app.state.runtime = runtime

    @app.exception_handler(AcieError)
    async def _acie_error(request: Request, exc: AcieError) -> JSONResponse:
        return _error_response(exc)

    @app.exception_handler(TimeoutError)
    async def _timeout(request: Request, exc: TimeoutError) -> JSONResponse:
        return _error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors()[:5]:
            loc = ".".join(str(p) for p in err.get("loc", ()))
            parts.append(f"{loc}: {err.get('msg')}")
        return JSONResponse(
            {
                "error": {
                    "code": "INVALID_ARGUMENT",
                    "message": "invalid request: " + "; ".join(parts),
                    "trace_id": current_trace_id(),
                }
            },
            status_code=400,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        names = {
            404: "NOT_FOUND",
            405: "UNIMPLEMENTED",
            401: "UNAUTHENTICATED",
            403: "PERMISSION_DENIED",
        }
        return JSONResponse(
            {
                "error": {
                    "code": names.get(exc.status_code, "UNKNOWN"),
                    "message": str(exc.detail),
                    "trace_id": current_trace_id(),
                }
            },
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.get(
        "/healthz",
        response_model=Health,
        responses={503: {"model": Health}},
        summary="Service health",
    )
    def healthz() -> Any:
        rt = runtime
        body = Health(
            status="SERVING" if rt.serving else "NOT_SERVING",
            gpu_count=rt.gpu_count(),
            model_version=rt.model_version,
            queue_depth=rt.queue_depth(),
        )
        return JSONResponse(body.model_dump(), status_code=200 if rt.serving else 503)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        runtime.queue_depth()
        return Response(runtime.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/dashboard/")

    app.include_router(_api_router())
    for router in extra_routers:
        app.include_router(router)
    app.mount("/dashboard", StaticFiles(directory=DASHBOARD_DIR, html=True), name="dashboard")
    app.add_middleware(_Observability, runtime=runtime)
    return app
