"""FastAPI dependencies of the REST routes: the runtime, the caller, feature flags.

Every route reaches the shared :class:`~acie.serve.runtime.ServingRuntime` through
:func:`runtime_of` (it lives on ``app.state.runtime``), and protects itself with
``Depends(require(Action.read))`` or ``Depends(require(Action.submit))``: the bearer
token is verified, scope and role are checked, and one rate-limit token is taken.
Routers mounted from outside (``extra_routers`` of :func:`acie.serve.app.create_app`)
use the same :func:`require`.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, Request, WebSocket
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from acie.errors import AcieError, AuthenticationError, BackendUnavailableError
from acie.serve.auth import Action, Principal, authorize
from acie.serve.runtime import ServingRuntime

__all__ = ["authenticate", "client_address", "require", "require_ops", "runtime_of"]

_bearer = HTTPBearer(auto_error=False, description="JWT from `acie auth token`")


def runtime_of(request: Request | WebSocket) -> ServingRuntime:
    """The runtime of the app serving ``request``."""
    return request.app.state.runtime


def client_address(request: Request | WebSocket) -> str | None:
    """The caller's IP address as the server saw it (``None`` when unknown)."""
    return request.client.host if request.client else None


def authenticate(rt: ServingRuntime, token: str | None, address: str | None) -> Principal:
    """Verify ``token`` under the per-address failed-authentication limit.

    An address over ``AUTH_FAILURES_PER_MINUTE`` is refused (RESOURCE_EXHAUSTED) before
    its token is parsed; each failed verification counts against it.
    """
    limits = rt.address_limits
    if limits is None:
        return rt.verifier.verify(token)
    try:
        limits.may_authenticate(address)
    except AcieError:
        rt.metrics.rate_limited.labels("rest").inc()
        raise
    try:
        return rt.verifier.verify(token)
    except AuthenticationError:
        limits.failed(address)
        raise


def require_ops(
    request: Request, creds: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> None:
    """Guard of ``/ops/*``: a token with the scope ``ops:read``, unless the ops report is open.

    Open when ``OPS_OPEN`` is set, or when no ``TELEMETRY_KEY`` is configured (then the
    report holds no decrypted telemetry).
    """
    rt = runtime_of(request)
    settings = rt.settings
    if settings.OPS_OPEN or settings.TELEMETRY_KEY is None:
        return
    principal = authenticate(rt, creds.credentials if creds else None, client_address(request))
    request.state.principal = principal
    authorize(principal, Action.ops)
    try:
        rt.rate_limiter.hit(principal.subject)
    except AcieError:
        rt.metrics.rate_limited.labels("rest").inc()
        raise


def require(action: Action) -> Callable[..., Principal]:
    """A FastAPI dependency: verify the bearer token, check scope and role, take a rate token.

    Parameters
    ----------
    action : Action
        What the route does (``read`` or ``submit``).

    Returns
    -------
    callable
        The dependency; it returns the caller's :class:`~acie.serve.auth.Principal` and
        records it on ``request.state.principal`` (the audit log reads it there).
    """

    def dependency(
        request: Request, creds: HTTPAuthorizationCredentials | None = Depends(_bearer)
    ) -> Principal:
        rt = runtime_of(request)
        if not rt.serving:
            raise BackendUnavailableError("the server is shutting down; retry on another replica")
        principal = authenticate(rt, creds.credentials if creds else None, client_address(request))
        request.state.principal = principal
        authorize(principal, action)
        try:
            rt.rate_limiter.hit(principal.subject)
        except AcieError:
            rt.metrics.rate_limited.labels("rest").inc()
            raise
        return principal

    return dependency
