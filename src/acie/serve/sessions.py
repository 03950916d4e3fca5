"""Browser sessions of the explorer: local sign-in, cookies, silent refresh and CSRF.

A browser signs in once (``POST /v1/session/login``, :mod:`acie.serve.routes.session`)
with a local account (:mod:`acie.store.users`) and then carries three cookies, all
``SameSite=Strict`` and ``Secure`` when the server speaks TLS:

==================  =========  ===========================================================
cookie              HttpOnly   holds
==================  =========  ===========================================================
``acie_access``     yes        a short-lived JWT (``SESSION_ACCESS_TTL_S``) minted by
                               :func:`acie.serve.auth.mint_token`, verified like a bearer
``acie_refresh``    yes        a JWT with only the scope ``session:refresh``
                               (``SESSION_REFRESH_TTL_S``), path ``/v1/session``
``acie_csrf``       no         the double-submit token the page echoes in ``X-CSRF-Token``
==================  =========  ===========================================================

:func:`require_session` is the dependency of routes that browsers call: a request with
an ``Authorization: Bearer`` header is handled exactly like :func:`acie.serve.deps.require`
(API clients are unchanged); otherwise the access cookie is verified, the account is
looked up (a disabled or deleted user is refused at once, whatever the token's lifetime;
the role is the account's current one), and unsafe methods must send ``X-CSRF-Token``
equal to the ``acie_csrf`` cookie. Failed sign-ins are limited per address
(``AUTH_FAILURES_PER_MINUTE``) and per user name (``LOGIN_FAILURES_PER_USER_PER_MINUTE``);
refusals are 401/429 and audited by the middleware like every other refusal.
"""

from __future__ import annotations

import contextlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

import jwt
from fastapi import Depends, Request, WebSocket
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.responses import Response

from acie.errors import (
    AcieError,
    AuthenticationError,
    AuthorizationError,
    BackendUnavailableError,
)
from acie.serve.auth import (
    SCOPE_INFERENCE_READ,
    SCOPE_INFERENCE_WRITE,
    Action,
    Principal,
    Role,
    authorize,
    mint_token,
)
from acie.serve.deps import authenticate, client_address, require, runtime_of
from acie.serve.ratelimit import MemoryRateLimiter
from acie.serve.runtime import ServingRuntime

__all__ = [
    "ACCESS_COOKIE",
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "REFRESH_COOKIE",
    "ROLE_SCOPES",
    "SCOPE_SESSION_REFRESH",
    "SessionService",
    "require_session",
    "session_principal",
    "sessions_of",
]

ACCESS_COOKIE = "acie_access"
REFRESH_COOKIE = "acie_refresh"
CSRF_COOKIE = "acie_csrf"
CSRF_HEADER = "X-CSRF-Token"
SCOPE_SESSION_REFRESH = "session:refresh"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: the scopes a session of each role gets (its role then decides, as for any token)
ROLE_SCOPES = {
    Role.researcher: (SCOPE_INFERENCE_READ, SCOPE_INFERENCE_WRITE),
    Role.collaborator: (SCOPE_INFERENCE_READ,),
    Role.admin: (SCOPE_INFERENCE_READ, SCOPE_INFERENCE_WRITE),
}
_WRONG = "the user name or password is wrong, or the account is disabled"
_bearer = HTTPBearer(auto_error=False, description="JWT from `acie auth token`")
_lock = threading.Lock()


class SessionService:
    """Sign-in, token minting, refresh-token revocation and account checks of one server.

    Parameters
    ----------
    runtime : ServingRuntime
        Settings (TTLs, limits, database URL), the token verifier and the address limits.
    secret : str
        The HS256 secret the session tokens are signed with (the verifier's).
    """

    def __init__(self, runtime: ServingRuntime, secret: str) -> None:
        from acie.store.database import create_engine_for
        from acie.store.users import prepare_hashing

        s = runtime.settings
        self.runtime = runtime
        self._secret = secret
        self.access_ttl_s = float(s.SESSION_ACCESS_TTL_S)
        self.refresh_ttl_s = float(s.SESSION_REFRESH_TTL_S)
        self.user_failures = MemoryRateLimiter(per_minute=s.LOGIN_FAILURES_PER_USER_PER_MINUTE)
        self.engine = create_engine_for(s.database_url)
        self._revoked: dict[str, float] = {}  # refresh-token jti -> its exp
        self._revoked_lock = threading.Lock()
        runtime.on_close(self.engine.dispose)
        prepare_hashing()  # an unknown user's first sign-in must not take longer than others'

    # -- sign-in ---------------------------------------------------------------------
    def login(self, username: str, password: str, address: str | None) -> Role:
        """Check a user name and password under the failure limits; the account's role.

        Raises
        ------
        RateLimitError
            The address or the user name has too many recent failures.
        AuthenticationError
            Wrong password, unknown user or disabled account (one message for all three).
        """
        from acie.store.users import check_password

        rt = self.runtime
        key = f"user:{username}"
        try:
            if rt.address_limits is not None:
                rt.address_limits.may_authenticate(address)
            self.user_failures.peek(key)
        except AcieError:
            rt.metrics.rate_limited.labels("rest").inc()
            raise
        role = check_password(self.engine, username, password)
        if role is None:
            if rt.address_limits is not None:
                rt.address_limits.failed(address)
            with contextlib.suppress(AcieError):  # counted; the next try is refused by peek()
                self.user_failures.hit(key)
            raise AuthenticationError(_WRONG)
        return Role(role)

    def account_role(self, username: str) -> Role:
        """The current role of an active account; :class:`AuthenticationError` otherwise."""
        from acie.store.users import active_role

        role = active_role(self.engine, username)
        if role is None:
            raise AuthenticationError(
                f"the session of {username!r} is no longer valid: the account is disabled "
                "or gone; sign in again"
            )
        return Role(role)

    # -- tokens -----------------------------------------------------------------------
    def _mint(self, username: str, scopes: tuple[str, ...], ttl_s: float, role: Role) -> str:
        s = self.runtime.settings
        return mint_token(
            subject=username,
            role=role,
            scopes=scopes,
            audience=s.JWT_AUDIENCE,
            issuer=s.JWT_ISSUER,
            ttl_s=ttl_s,
            secret=self._secret,
        )

    def issue(self, response: Response, username: str, role: Role, *, secure: bool) -> str:
        """Set the three session cookies on ``response``; returns the CSRF token."""
        access = self._mint(username, ROLE_SCOPES[role], self.access_ttl_s, role)
        refresh = self._mint(username, (SCOPE_SESSION_REFRESH,), self.refresh_ttl_s, role)
        csrf = secrets.token_urlsafe(32)
        common: dict[str, Any] = {"secure": secure, "samesite": "strict"}
        response.set_cookie(
            ACCESS_COOKIE, access, max_age=int(self.access_ttl_s), httponly=True, path="/", **common
        )
        response.set_cookie(
            REFRESH_COOKIE,
            refresh,
            max_age=int(self.refresh_ttl_s),
            httponly=True,
            path="/v1/session",
            **common,
        )
        response.set_cookie(
            CSRF_COOKIE, csrf, max_age=int(self.refresh_ttl_s), httponly=False, path="/", **common
        )
        return csrf

    @staticmethod
    def clear(response: Response, *, secure: bool) -> None:
        """Expire the three session cookies on ``response``."""
        for name, path in (
            (ACCESS_COOKIE, "/"),
            (REFRESH_COOKIE, "/v1/session"),
            (CSRF_COOKIE, "/"),
        ):
            response.delete_cookie(name, path=path, secure=secure, samesite="strict")

    def check_refresh(self, token: str | None) -> tuple[str, str, float]:
        """Verify a refresh token; ``(subject, jti, exp)``. Revoked ones are refused."""
        if not token:
            raise AuthenticationError(f"the {REFRESH_COOKIE} cookie is required; got none")
        principal = self.runtime.verifier.verify(token)
        if SCOPE_SESSION_REFRESH not in principal.scopes:
            raise AuthenticationError("the refresh cookie does not hold a refresh token")
        claims = jwt.decode(token, options={"verify_signature": False})  # verified above
        jti = str(claims.get("jti", ""))
        with self._revoked_lock:
            if jti in self._revoked:
                raise AuthenticationError("the session was signed out; sign in again")
        return principal.subject, jti, float(claims.get("exp", time.time()))

    def revoke(self, jti: str, exp: float) -> None:
        """Refuse the refresh token ``jti`` from now on (until it expires anyway)."""
        now = time.time()
        with self._revoked_lock:
            for k in [k for k, e in self._revoked.items() if e < now]:
                del self._revoked[k]
            self._revoked[jti] = exp


def sessions_of(request: Request | WebSocket) -> SessionService:
    """The app's :class:`SessionService`, made on first use.

    Raises
    ------
    BackendUnavailableError
        The server verifies tokens with a JWKS only (no HS256 secret to sign sessions).
    """
    app = request.app
    service = getattr(app.state, "sessions", None)
    if service is not None:
        return service
    with _lock:
        service = getattr(app.state, "sessions", None)
        if service is None:
            from acie.serve.server import resolve_jwt_secret

            rt = runtime_of(request)
            secret = resolve_jwt_secret(rt.settings)
            if secret is None:
                raise BackendUnavailableError(
                    "local sign-in needs an HS256 secret (JWT_SECRET or the local secret); "
                    "this server verifies tokens with JWKS_FILE only"
                )
            service = SessionService(rt, secret)
            app.state.sessions = service
    return service


def is_tls(request: Request | WebSocket) -> bool:
    """Whether the request came over TLS (then cookies are ``Secure``)."""
    return request.url.scheme in ("https", "wss")


def session_principal(request: Request | WebSocket) -> Principal:
    """The principal of a request's access cookie, the account checked (no CSRF check).

    Raises
    ------
    AuthenticationError
        No cookie, a bad or expired token, a refresh token, or a disabled account.
    """
    rt = runtime_of(request)
    token = request.cookies.get(ACCESS_COOKIE)
    if not token:
        raise AuthenticationError(
            f"sign in first: a bearer token or the {ACCESS_COOKIE} session cookie is required"
        )
    principal = authenticate(rt, token, client_address(request))
    if SCOPE_SESSION_REFRESH in principal.scopes:
        raise AuthenticationError("a refresh token is not an access token")
    role = sessions_of(request).account_role(principal.subject)
    return Principal(
        subject=principal.subject,
        role=role,
        scopes=frozenset(ROLE_SCOPES[role]),
        expires_at=principal.expires_at,
    )


def check_csrf(request: Request) -> None:
    """Refuse an unsafe cookie-authenticated request without the matching CSRF header."""
    if request.method in _SAFE_METHODS:
        return
    cookie = request.cookies.get(CSRF_COOKIE, "")
    header = request.headers.get(CSRF_HEADER, "")
    if not cookie or not header or not hmac.compare_digest(cookie, header):
        raise AuthorizationError(
            f"a {request.method} with a session cookie needs the header {CSRF_HEADER} equal "
            f"to the {CSRF_COOKIE} cookie; got {'a different value' if header else 'none'}"
        )


def require_session(action: Action) -> Callable[..., Principal]:
    """A dependency: bearer token as :func:`acie.serve.deps.require`, else the session cookie.

    Parameters
    ----------
    action : Action
        What the route does.

    Returns
    -------
    callable
        The dependency; it returns the caller's principal and records it on
        ``request.state.principal``.
    """
    bearer_dependency = require(action)

    def dependency(
        request: Request, creds: HTTPAuthorizationCredentials | None = Depends(_bearer)
    ) -> Principal:
        if creds is not None:
            return bearer_dependency(request, creds)
        rt = runtime_of(request)
        if not rt.serving:
            raise BackendUnavailableError("the server is shutting down; retry on another replica")
        principal = session_principal(request)
        request.state.principal = principal
        check_csrf(request)
        authorize(principal, action)
        try:
            rt.rate_limiter.hit(principal.subject)
        except AcieError:
            rt.metrics.rate_limited.labels("rest").inc()
            raise
        return principal

    return dependency
