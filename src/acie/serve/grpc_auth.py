"""The gRPC interceptor: one guard around every call, unary or streaming.

:class:`AuthInterceptor` reads the ``authorization: Bearer …`` metadata, verifies the
token, checks the method's scope and role, takes a rate-limit token, writes an audit
record, sets the trace id (``x-trace-id`` metadata in, the same key in the trailing
metadata out), records the call's metrics and turns ACIE errors raised by the servicer
into status codes (:mod:`acie.serve.status_codes`). ``HealthCheck`` and
``grpc.health.v1`` are open. The servicer reads its caller with
:func:`current_principal`.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import grpc

from acie.errors import (
    AcieError,
    AuthenticationError,
    BackendUnavailableError,
    RateLimitError,
)
from acie.serve.auth import Action, Principal, authorize
from acie.serve.status_codes import code_for, public_message
from acie.serve.tracing import parse_trace_id, trace_context
from acie.wire.proto import SERVICE_NAME

if TYPE_CHECKING:
    from acie.serve.runtime import ServingRuntime

__all__ = ["AuthInterceptor", "current_principal", "peer_address"]

log = logging.getLogger("acie.serve.grpc")

_METHOD_ACTIONS: dict[str, Action | None] = {
    f"/{SERVICE_NAME}/CounterfactualInference": Action.submit,
    f"/{SERVICE_NAME}/StreamInference": Action.submit,
    f"/{SERVICE_NAME}/HealthCheck": None,
    f"/{SERVICE_NAME}/OpenBlindSession": Action.submit,
    f"/{SERVICE_NAME}/BlindRound": Action.submit,
    f"/{SERVICE_NAME}/Search": Action.read,
}
#: refusals audited aggregated (a flood of them must not grow the audit log one row each)
_REFUSED = frozenset(
    {
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
)
_principal: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "acie_grpc_principal", default=None
)


def current_principal() -> Principal:
    """The caller of the running gRPC method (set by :class:`AuthInterceptor`)."""
    p = _principal.get()
    if p is None:
        raise AuthenticationError("no authenticated caller on this call")
    return p


def _bearer(metadata: dict[str, str]) -> str | None:
    value = metadata.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class AuthInterceptor(grpc.ServerInterceptor):
    """Authentication, authorisation, rate limit, audit, trace id and error mapping.

    Unary and streaming methods go through the same :meth:`_guard`; they differ only in
    when the call is audited (a unary call when it is answered, a stream when it opens:
    each request on a stream is audited by the servicer).
    """

    def __init__(
        self, runtime: ServingRuntime, *, client_of: Callable[[int], str | None] | None = None
    ) -> None:
        self.runtime = runtime
        self.client_of = client_of  # TLS front: loopback port -> client address

    def _peer(self, context: Any) -> str | None:
        """The client address; behind the TLS front, the one the front relayed."""
        peer = peer_address(context)
        if self.client_of is None:
            return peer
        try:
            port = int(str(context.peer()).rsplit(":", 1)[1])
        except (ValueError, IndexError):
            return None
        return self.client_of(port)

    def _admit(self, method: str, metadata: dict[str, str], peer: str | None) -> Principal | None:
        if method not in _METHOD_ACTIONS:
            return None  # grpc.health.v1, reflection: open
        action = _METHOD_ACTIONS[method]
        if action is None:
            return None
        rt = self.runtime
        if not rt.serving:
            raise BackendUnavailableError("the server is shutting down; retry on another replica")
        if self.client_of is not None and peer is None:
            raise AuthenticationError(
                "this port takes calls relayed by the TLS front only; connect with TLS"
            )
        limits = rt.address_limits
        if limits is not None:  # before the token is even parsed
            try:
                limits.request(peer)
                limits.may_authenticate(peer)
            except AcieError:
                rt.metrics.rate_limited.labels("grpc").inc()
                raise
        try:
            principal = rt.verifier.verify(_bearer(metadata))
        except AuthenticationError:
            if limits is not None:
                limits.failed(peer)
            raise
        authorize(principal, action)
        try:
            rt.rate_limiter.hit(principal.subject)
        except AcieError:
            rt.metrics.rate_limited.labels("grpc").inc()
            raise
        return principal

    @contextlib.contextmanager
    def _guard(
        self, method: str, metadata: dict[str, str], context: Any, *, streaming: bool
    ) -> Iterator[dict[str, Any]]:
        """Around one call: trace id, admission, caller, audit, metrics, error to status.

        Yields a dict with the caller (``principal``); a unary call puts its ``request``
        there once received and is audited when it is answered, with its request id and
        duration; a stream is audited when it opens (each of its requests by the servicer).
        Refusals are audited aggregated (:meth:`AuditWriter.refused`).
        """
        rt = self.runtime
        short = method.rsplit("/", 1)[-1]
        tid = parse_trace_id(metadata.get("x-trace-id"), metadata.get("traceparent"))
        context.set_trailing_metadata((("x-trace-id", tid),))
        t0 = time.perf_counter()
        code = grpc.StatusCode.OK
        subject = None
        peer = self._peer(context)
        call: dict[str, Any] = {"principal": None, "request": None}

        def audit(outcome: str, **extra: Any) -> None:
            rt.audit.record(
                actor=subject,
                action=f"grpc.{short}",
                outcome=outcome,
                resource=f"model/{rt.model_version}",
                ip=peer,
                **extra,
            )

        with trace_context(tid):
            try:
                principal = self._admit(method, metadata, peer)
                call["principal"] = principal
                subject = principal.subject if principal else None
                if principal is not None and streaming:
                    audit("OPENED")
                tok = _principal.set(principal)
                try:
                    yield call
                finally:
                    _principal.reset(tok)
                if principal is not None and not streaming:
                    audit(
                        "OK",
                        request_id=getattr(call["request"], "request_id", None) or None,
                        duration_ms=(time.perf_counter() - t0) * 1e3,
                    )
            except Exception as exc:  # every error leaves as a status code
                code = code_for(exc)
                if code is grpc.StatusCode.INTERNAL:
                    log.exception("internal error in %s", short)
                if code in _REFUSED:
                    rt.audit.refused(
                        actor=subject,
                        action=f"grpc.{short}",
                        outcome=code.name,
                        ip=peer,
                        resource=f"model/{rt.model_version}",
                    )
                else:
                    audit(code.name)
                context.abort(code, public_message(exc, code, tid))
            finally:
                rt.metrics.observe_request(
                    protocol="grpc",
                    method=short,
                    code=code.name,
                    seconds=time.perf_counter() - t0,
                )

    def intercept_service(self, continuation, handler_call_details):
        """Wrap the method's handler in the guard (auth, trace id, metrics, status codes).

        A unary method is served as stream-unary, so that a request message the server
        refuses to receive (larger than ``MAX_REQUEST_BYTES``) reaches the guard and is
        audited instead of vanishing inside the gRPC runtime.
        """
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method: str = handler_call_details.method
        metadata = {
            k: v for k, v in (handler_call_details.invocation_metadata or ()) if isinstance(v, str)
        }
        guard = self._guard
        limit = self.runtime.settings.MAX_REQUEST_BYTES
        if handler.unary_unary is not None:
            inner = handler.unary_unary

            def unary(request_iterator, context):
                with guard(method, metadata, context, streaming=False) as call:
                    call["request"] = _one_request(request_iterator, limit)
                    return inner(call["request"], context)

            return grpc.stream_unary_rpc_method_handler(
                unary,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_stream is not None:
            inner_s = handler.stream_stream

            def stream(request_iterator, context):
                with guard(method, metadata, context, streaming=True) as call:
                    principal = call["principal"]
                    if principal is None:
                        yield from inner_s(request_iterator, context)
                        return
                    expired = threading.Event()
                    for response in inner_s(
                        _until_expired(request_iterator, principal, expired), context
                    ):
                        principal.check_expiry()
                        yield response
                    if expired.is_set():
                        raise AuthenticationError(
                            "the token expired while the stream was open; "
                            "open a new stream with a fresh token"
                        )

            return grpc.stream_stream_rpc_method_handler(
                stream,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler


def peer_address(context: Any) -> str | None:
    """The client's IP address of a gRPC call (``ipv4:1.2.3.4:5`` → ``1.2.3.4``)."""
    try:
        peer = str(context.peer())
    except Exception:
        return None
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rsplit(":", 1)[0]
    if kind == "ipv6":
        return rest.rsplit(":", 1)[0].strip("[]")
    return rest or None


def _one_request(request_iterator: Iterator[Any], limit: int) -> Any:
    """The single request of a unary call; a refused (oversized) message is an error.

    A gRPC client always sends a unary call's one message, so a read that fails
    (``RpcError``) or a stream that ends empty means the runtime refused the message (it
    has already answered RESOURCE_EXHAUSTED; which of the two the handler sees is a race
    inside gRPC, seen in CI) or the client cancelled: both are audited RESOURCE_EXHAUSTED.
    """
    try:
        return next(request_iterator)
    except (StopIteration, grpc.RpcError):
        raise RateLimitError(
            f"the request message was not received: larger than {limit} bytes "
            "(MAX_REQUEST_BYTES), or the client cancelled the call"
        ) from None


def _until_expired(
    request_iterator: Iterator[Any], principal: Principal, expired: threading.Event
) -> Iterator[Any]:
    """The stream's requests while the caller's token is valid (checked per message)."""
    for request in request_iterator:
        try:
            principal.check_expiry()
        except AuthenticationError:
            expired.set()
            return
        yield request
