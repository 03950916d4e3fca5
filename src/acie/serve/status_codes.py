"""How ACIE errors become gRPC status codes and HTTP statuses — one table for both protocols.

=====================================================  ===================  ====
error                                                  gRPC                 HTTP
=====================================================  ===================  ====
ShapeError, other InputValidationError, UnknownName…,  INVALID_ARGUMENT     400
InvalidIntervention…, DataFormatError, CryptoError
ConflictError (request_id already in flight)           ALREADY_EXISTS       409
RateLimitError (rate limit or queue limit)             RESOURCE_EXHAUSTED   429
PhysicsViolationError (above tolerance)                FAILED_PRECONDITION  422
AuthenticationError (missing, expired, forged token)   UNAUTHENTICATED      401
AuthorizationError (missing scope or role)             PERMISSION_DENIED    403
NotFoundError                                          NOT_FOUND            404
TimeoutError (per-request timeout)                     DEADLINE_EXCEEDED    504
BackendUnavailableError, server shutting down          UNAVAILABLE          503
anything else                                          INTERNAL             500
=====================================================  ===================  ====

The HTTP column follows Google's published mapping of ``google.rpc.Code``
(googleapis/google/rpc/code.proto) except FAILED_PRECONDITION, which is 422 rather than
400 so that an HTTP client can tell a physics refusal from a malformed request without
reading the body. Every error body carries the gRPC code name as well.
"""

from __future__ import annotations

import grpc

from acie import errors

__all__ = ["code_for", "code_for_class", "http_status_for", "public_message"]

_TABLE: list[tuple[type[BaseException], grpc.StatusCode]] = [
    (errors.AuthenticationError, grpc.StatusCode.UNAUTHENTICATED),
    (errors.AuthorizationError, grpc.StatusCode.PERMISSION_DENIED),
    (errors.ConflictError, grpc.StatusCode.ALREADY_EXISTS),
    (errors.NotFoundError, grpc.StatusCode.NOT_FOUND),
    (errors.RateLimitError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (errors.PhysicsViolationError, grpc.StatusCode.FAILED_PRECONDITION),
    (errors.InputValidationError, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.UnknownNameError, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.InvalidInterventionError, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.DataFormatError, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.CryptoError, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.InvalidTransitionError, grpc.StatusCode.FAILED_PRECONDITION),
    (errors.BackendUnavailableError, grpc.StatusCode.UNAVAILABLE),
    (TimeoutError, grpc.StatusCode.DEADLINE_EXCEEDED),
]

_HTTP = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 422,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.INTERNAL: 500,
}


def code_for(exc: BaseException) -> grpc.StatusCode:
    """The gRPC status code of an exception (INTERNAL for anything not ours)."""
    for cls, code in _TABLE:
        if isinstance(exc, cls):
            return code
    return grpc.StatusCode.INTERNAL


def code_for_class(cls: type[BaseException]) -> grpc.StatusCode:
    """The gRPC status code of an exception class."""
    for base, code in _TABLE:
        if issubclass(cls, base):
            return code
    return grpc.StatusCode.INTERNAL


def http_status_for(code: grpc.StatusCode) -> int:
    """The HTTP status of a gRPC code."""
    return _HTTP.get(code, 500)


def public_message(exc: BaseException, code: grpc.StatusCode, trace_id: str | None) -> str:
    """What the caller is told: our own messages verbatim, internal errors only by trace id."""
    if code is grpc.StatusCode.INTERNAL:
        return f"internal server error (trace id {trace_id})"
    return str(exc) or type(exc).__name__
