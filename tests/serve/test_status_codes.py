"""The one error table shared by gRPC and REST."""

from __future__ import annotations

import grpc
import pytest

from acie import errors
from acie.serve.status_codes import code_for, code_for_class, http_status_for, public_message

C = grpc.StatusCode


@pytest.mark.parametrize(
    ("exc", "code", "http"),
    [
        (errors.ShapeError("x"), C.INVALID_ARGUMENT, 400),
        (errors.UnknownNodeError("z", ["a"]), C.INVALID_ARGUMENT, 400),
        (errors.NonPhysicalValueError("x"), C.INVALID_ARGUMENT, 400),
        (errors.DataFormatError("x"), C.INVALID_ARGUMENT, 400),
        (errors.KeyMismatchError("x"), C.INVALID_ARGUMENT, 400),
        (errors.ConflictError("x"), C.ALREADY_EXISTS, 409),
        (errors.RateLimitError("x"), C.RESOURCE_EXHAUSTED, 429),
        (errors.PhysicsViolationError("x", score=1.0, tolerance=0.1), C.FAILED_PRECONDITION, 422),
        (errors.AuthenticationError("x"), C.UNAUTHENTICATED, 401),
        (errors.AuthorizationError("x"), C.PERMISSION_DENIED, 403),
        (errors.NotFoundError("x"), C.NOT_FOUND, 404),
        (TimeoutError("x"), C.DEADLINE_EXCEEDED, 504),
        (errors.BackendUnavailableError("x"), C.UNAVAILABLE, 503),
        (KeyError("secret internals"), C.INTERNAL, 500),
    ],
)
def test_error_table(exc, code, http):
    assert code_for(exc) is code
    assert code_for_class(type(exc)) is code
    assert http_status_for(code) == http


def test_internal_errors_do_not_leak_their_message():
    msg = public_message(KeyError("db password"), C.INTERNAL, "t123")
    assert "password" not in msg
    assert "t123" in msg
    assert public_message(errors.ShapeError("bad shape"), C.INVALID_ARGUMENT, "t") == "bad shape"
