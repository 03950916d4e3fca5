"""The REST gateway's ASGI middleware: trace id, request size limit, metrics, audit.

Every HTTP request and WebSocket passes :class:`Observability`. It reads or makes the
trace id (``X-Trace-Id`` or W3C ``traceparent``) and returns it as ``x-trace-id``,
refuses bodies over ``MAX_REQUEST_BYTES`` (413, also when chunked), and records the
request in the metrics and (for ``/v1/`` routes) the audit log. The record is written
when the response's last body chunk is handed to the server, before the client can have
read the whole response, so a client that has its answer also finds it counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from acie.errors import RateLimitError
from acie.serve.http_errors import error_response
from acie.serve.runtime import ServingRuntime
from acie.serve.tracing import parse_trace_id, trace_context

__all__ = ["Observability"]

_OPEN_PATHS = ("/openapi.json", "/docs")


class Observability:
    """Pure ASGI middleware: trace id, request size limit, metrics and audit of every call.

    Parameters
    ----------
    app : ASGI application
    runtime : ServingRuntime
        Where the limit, the metrics registry and the audit writer come from.
    """

    def __init__(self, app: Any, runtime: ServingRuntime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        """Handle one ASGI call: HTTP and WebSocket calls are measured, others pass through."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        tid = parse_trace_id(headers.get("x-trace-id"), headers.get("traceparent"))
        t0 = time.perf_counter()
        state = {"code": 500, "recorded": False}

        def record() -> None:
            if not state["recorded"]:
                state["recorded"] = True
                self._record(scope, int(state["code"]), time.perf_counter() - t0)

        async def send_wrapper(message: dict) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                state["code"] = message["status"]
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
                    limited = await self._limit_body(scope, headers, receive, send_wrapper)
                    if limited is None:
                        return
                    receive = limited
                await self.app(scope, receive, send_wrapper)
            finally:
                record()  # WebSockets, and requests that ended without a complete response

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

    def _record(self, scope: dict, status: int, seconds: float) -> None:
        route = scope.get("route")
        path = getattr(route, "path", None)
        if path is None:
            raw = scope.get("path", "")
            path = (
                "/dashboard/*"
                if raw.startswith("/dashboard")
                else "/docs/assets/*"
                if raw.startswith("/docs/assets/")
                else (raw if raw in _OPEN_PATHS else "unmatched")
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
