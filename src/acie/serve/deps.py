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

from acie.errors import AcieError, BackendUnavailableError
from acie.serve.auth import Action, Principal, authorize
from acie.serve.runtime import ServingRuntime

__all__ = ["require", "runtime_of"]

_bearer = HTTPBearer(auto_error=False, description="JWT from `acie auth token`")


def runtime_of(request: Request | WebSocket) -> ServingRuntime:
    """The runtime of the app serving ``request``."""
    return request.app.state.runtime


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
