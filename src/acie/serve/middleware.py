"""The REST gateway's ASGI middleware: trace id, request size limit, metrics, audit.

Every HTTP request and WebSocket passes :class:`Observability`. It reads or makes the
trace id (``X-Trace-Id`` or W3C ``traceparent``) and returns it as ``x-trace-id``,
applies the per-address request limit to the authenticated routes (``/v1/``, ``/ops/``)
before anything else (429, ``ADDRESS_RATE_LIMIT_PER_MINUTE``), refuses bodies over
``MAX_REQUEST_BYTES`` (413, also when chunked), turns an unhandled exception into the
documented JSON 500, and records the request in the metrics and (for ``/v1/`` and
``/ops/`` routes, refusals in the middleware included) the audit log, refused calls
aggregated (:meth:`acie.serve.audit_writer.AuditWriter.refused`). The record is written
when the response's last body chunk is handed to the server, before the client can have
read the whole response, so a client that has its answer also finds it counted.

Metric labels are bounded: the method is one of :data:`METHODS` (else ``OTHER``) and the
route is a route template of the app, a static mount, or ``unmatched``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from starlette.routing import compile_path

from acie.errors import AcieError, RateLimitError
from acie.serve.http_errors import error_response, internal_error_response
from acie.serve.runtime import ServingRuntime
from acie.serve.tracing import parse_trace_id, trace_context

__all__ = ["METHODS", "Observability"]

log = logging.getLogger("acie.serve.http")

_OPEN_PATHS = ("/openapi.json", "/docs")
#: HTTP methods that get their own metric label; any other is counted as ``OTHER``
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: statuses of refused calls: audited aggregated, not one row each
_REFUSED = frozenset({401, 403, 413, 429})
_GUARDED = ("/v1/", "/ops/")


class Observability:
    """Pure ASGI middleware: trace id, request size limit, metrics and audit of every call.

    Parameters
    ----------
    app : ASGI application
    runtime : ServingRuntime
        Where the limit, the metrics registry and the audit writer come from.
    templates : callable
        Returns the app's path templates (``/v1/jobs/{job_id}``): the route label of calls
        refused before routing (413, 429 per address).
    """

    def __init__(
        self,
        app: Any,
        runtime: ServingRuntime,
        templates: Callable[[], Iterable[str]] = tuple,
    ) -> None:
        self.app = app
        self.runtime = runtime
        self.templates = templates  # the app's path templates: name calls refused here
        self._compiled: list[tuple[Any, str]] | None = None

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        """Handle one ASGI call: HTTP and WebSocket calls are measured, others pass through."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        tid = parse_trace_id(headers.get("x-trace-id"), headers.get("traceparent"))
        t0 = time.perf_counter()
        state = {"code": 500, "recorded": False, "started": False}

        def record() -> None:
            if not state["recorded"]:
                state["recorded"] = True
                self._record(scope, int(state["code"]), time.perf_counter() - t0)

        async def send_wrapper(message: Any) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                state["code"] = message["status"]
                state["started"] = True
                message["headers"] = [*message.get("headers", []), (b"x-trace-id", tid.encode())]
            elif kind == "http.response.body" and not message.get("more_body", False):
                record()  # before the last chunk leaves: a client never sees an uncounted answer
            elif kind == "websocket.accept":
                state["code"] = 101
            elif kind == "websocket.close" and state["code"] == 500:
                state["code"] = 403
            await send(message)

        with trace_context(tid):
            try:
                if scope["type"] == "http":
                    if not await self._limit_address(scope, receive, send_wrapper):
                        return
                    limited = await self._limit_body(scope, headers, receive, send_wrapper)
                    if limited is None:
                        return
                    receive = limited
                await self.app(scope, receive, send_wrapper)
            except Exception:
                if scope["type"] != "http" or state["code"] != 500 or state["started"]:
                    raise
                log.exception("unhandled error in %s %s", scope.get("method"), scope.get("path"))
                await internal_error_response()(scope, receive, send_wrapper)
            finally:
                record()  # WebSockets, and requests that ended without a complete response

    async def _limit_address(self, scope: dict, receive: Callable, send: Callable) -> bool:
        """Per-address request limit on the authenticated routes, before any token is read."""
        limits = self.runtime.address_limits
        if limits is None or not scope.get("path", "").startswith(_GUARDED):
            return True
        client = scope.get("client")
        try:
            limits.request(client[0] if client else None)
        except AcieError as exc:
            self.runtime.metrics.rate_limited.labels("rest").inc()
            await error_response(exc)(scope, receive, send)
            return False
        return True

    async def _limit_body(
        self, scope: dict, headers: dict[str, str], receive: Callable, send: Callable
    ) -> Callable | None:
        limit = self.runtime.settings.MAX_REQUEST_BYTES
        declared = headers.get("content-length")
        too_big = RateLimitError(f"request body must be at most {limit} bytes (MAX_REQUEST_BYTES)")
        if declared is not None:
            if not declared.isdigit() or int(declared) > limit:
                await error_response(too_big, status=413)(scope, receive, send)
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
                await error_response(too_big, status=413)(scope, receive, send)
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

    def _route_of(self, scope: dict) -> str | None:
        """The route template of a call the app did not route (refused in the middleware)."""
        if self._compiled is None:
            try:
                self._compiled = [(compile_path(t)[0], t) for t in self.templates()]
            except Exception:  # no document: such calls are counted as unmatched
                log.warning("route templates unavailable", exc_info=True)
                self._compiled = []
        raw = scope.get("path", "")
        for regex, template in self._compiled:
            if regex.match(raw):
                return template
        return None

    def _record(self, scope: dict, status: int, seconds: float) -> None:
        route = scope.get("route")
        path = getattr(route, "path", None)
        raw = scope.get("path", "")
        if path is None and raw.startswith(_GUARDED):
            path = self._route_of(scope)
        if path is None:
            path = (
                "/explorer/*"
                if raw.startswith("/explorer")
                else "/docs/assets/*"
                if raw.startswith("/docs/assets/")
                else (raw if raw in _OPEN_PATHS else "unmatched")
            )
        method = scope.get("method", "WS")
        if method != "WS" and method not in METHODS:
            method = "OTHER"  # invented methods must not create metric series
        label = f"{method} {path}"
        rt = self.runtime
        rt.metrics.observe_request(protocol="rest", method=label, code=str(status), seconds=seconds)
        if path.startswith(_GUARDED) or (path == "unmatched" and raw.startswith(_GUARDED)):
            principal = scope.get("state", {}).get("principal")
            client = scope.get("client")
            actor = principal.subject if principal else None
            ip = client[0] if client else None
            resource = f"model/{rt.model_version}"
            if raw.startswith("/ops/") and principal is None and status not in _REFUSED:
                return  # the open ops report (no TELEMETRY_KEY, or OPS_OPEN): not an API call
            if status in _REFUSED:
                rt.audit.refused(
                    actor=actor,
                    action=f"rest.{label}",
                    outcome=str(status),
                    ip=ip,
                    resource=resource,
                )
            else:
                rt.audit.record(
                    actor=actor,
                    action=f"rest.{label}",
                    outcome=str(status),
                    resource=resource,
                    duration_ms=seconds * 1e3,
                    ip=ip,
                )
