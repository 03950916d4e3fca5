"""Errors on REST: one JSON body for every failure, with the gRPC code name.

Every error leaves the REST gateway as ``{"error": {"code", "message", "trace_id"}}``
with the HTTP status of :mod:`acie.serve.status_codes` (the same table as gRPC), plus
``Retry-After`` when the error says when to retry. :func:`install_error_handlers` puts
the handlers on an app; :func:`error_response` is also used by the middleware (413).
"""

from __future__ import annotations

from typing import Any

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from acie.errors import AcieError
from acie.serve.schemas import ErrorResponse
from acie.serve.status_codes import code_for, http_status_for, public_message
from acie.serve.tracing import current_trace_id

__all__ = [
    "ERROR_RESPONSES",
    "error_response",
    "install_error_handlers",
    "internal_error_response",
]

#: the error statuses every ``/v1`` route may answer (for the OpenAPI document)
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
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
        503: "UNAVAILABLE: backend not configured, feature turned off, or server shutting down",
        504: "DEADLINE_EXCEEDED: request took longer than REQUEST_TIMEOUT_S",
    }.items()
}

_HTTP_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "UNIMPLEMENTED",
    409: "ALREADY_EXISTS",
    413: "RESOURCE_EXHAUSTED",
    422: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
#: what FastAPI says when a body cannot be parsed at all (too deep, not UTF-8, ...)
_PARSE_FAILURE = "There was an error parsing the body"


def _body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "trace_id": current_trace_id()}}


def error_response(exc: BaseException, *, status: int | None = None) -> JSONResponse:
    """The JSON response of an exception (status from the shared table unless given)."""
    code = code_for(exc)
    headers = {}
    retry = getattr(exc, "retry_after_s", None)
    if retry is not None:
        headers["Retry-After"] = str(max(1, int(retry + 0.999)))
    return JSONResponse(
        _body(code.name, public_message(exc, code, current_trace_id())),
        status_code=status or http_status_for(code),
        headers=headers,
    )


async def _acie_error(_request: Request, exc: Exception) -> JSONResponse:
    return error_response(exc)


async def _invalid(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{loc}: {err.get('msg')}")
    return JSONResponse(
        _body("INVALID_ARGUMENT", "invalid request: " + "; ".join(parts)), status_code=400
    )


def internal_error_response() -> JSONResponse:
    """The 500 answer to an unhandled exception: code INTERNAL, nothing but the trace id."""
    tid = current_trace_id()
    return JSONResponse(
        _body("INTERNAL", public_message(RuntimeError(), grpc.StatusCode.INTERNAL, tid)),
        status_code=500,
    )


async def _http(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = str(exc.detail)
    if exc.status_code == 400 and message == _PARSE_FAILURE:
        cause = exc.__cause__
        why = {RecursionError: "nested too deeply", UnicodeDecodeError: "not UTF-8"}.get(
            type(cause), "not parseable"
        )
        message = f"the request body must be well-formed UTF-8 JSON; got one {why}"
    return JSONResponse(
        _body(_HTTP_NAMES.get(exc.status_code, "UNKNOWN"), message),
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


def install_error_handlers(app: FastAPI) -> None:
    """ACIE errors, timeouts, invalid bodies and Starlette's HTTP errors as JSON errors."""
    app.add_exception_handler(AcieError, _acie_error)
    app.add_exception_handler(TimeoutError, _acie_error)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(StarletteHTTPException, _http)
