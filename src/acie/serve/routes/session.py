"""Browser sessions: ``POST /v1/session/login``, ``/refresh``, ``/logout``, ``GET /v1/session``.

The cookies, the CSRF rule and the limits are described in :mod:`acie.serve.sessions`.
``login`` takes ``username`` and ``password`` as JSON or as an HTML form
(``application/x-www-form-urlencoded``). A wrong password, an unknown user and a
disabled account get the same 401 body, and take the same argon2 work.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from acie.errors import AcieError, AuthorizationError, InputValidationError
from acie.serve.auth import Action, Principal, Role, authorize
from acie.serve.deps import client_address
from acie.serve.http_errors import ERROR_RESPONSES
from acie.serve.sessions import (
    REFRESH_COOKIE,
    ROLE_SCOPES,
    check_csrf,
    is_tls,
    require_session,
    sessions_of,
)

__all__ = ["router"]

router = APIRouter(prefix="/v1/session", responses=ERROR_RESPONSES, tags=["session"])

_MAX_FIELD = 1024


class SessionInfo(BaseModel):
    """The signed-in user, and the CSRF token to echo in ``X-CSRF-Token``."""

    username: str
    role: str
    csrf_token: str | None = None
    access_expires_in_s: float | None = None
    actions: list[str] = []  # what the role may do (``submit``, ``read``): what the UI offers


def _actions(principal: Principal) -> list[str]:
    allowed = []
    for action in (Action.submit, Action.read):
        try:
            authorize(principal, action)
        except AuthorizationError:
            continue
        allowed.append(action.value)
    return allowed


def _info(
    username: str, role: Role, csrf: str | None = None, ttl: float | None = None
) -> SessionInfo:
    principal = Principal(subject=username, role=role, scopes=frozenset(ROLE_SCOPES[role]))
    return SessionInfo(
        username=username,
        role=role.value,
        csrf_token=csrf,
        access_expires_in_s=ttl,
        actions=_actions(principal),
    )


def _field(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if isinstance(value, list):
        value = value[0] if len(value) == 1 else None
    if not isinstance(value, str) or not value or len(value) > _MAX_FIELD:
        raise InputValidationError(
            f"the sign-in needs {name!r} as a non-empty string of at most {_MAX_FIELD} "
            f"characters; got {type(value).__name__ if value is not None else 'none'}"
        )
    return value


async def _credentials(request: Request) -> tuple[str, str]:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    data: Any
    if ctype == "application/json":
        try:
            data = json.loads(raw or b"null")
        except ValueError as exc:
            raise InputValidationError(f"the sign-in body is not valid JSON: {exc}") from None
    elif ctype == "application/x-www-form-urlencoded":
        data = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
    else:
        raise InputValidationError(
            "the sign-in body must be application/json or application/x-www-form-urlencoded; "
            f"got {ctype or 'no content type'}"
        )
    if not isinstance(data, dict):
        raise InputValidationError(
            f"the sign-in body must be an object with username and password; got {data!r:.40}"
        )
    return _field(data, "username"), _field(data, "password")


@router.post("/login", response_model=SessionInfo, summary="sign in with a local account")
async def login(request: Request, response: Response) -> SessionInfo:
    username, password = await _credentials(request)
    service = sessions_of(request)
    # argon2 verification takes tens of milliseconds: off the event loop
    role = await run_in_threadpool(service.login, username, password, client_address(request))
    request.state.principal = Principal(subject=username, role=role, scopes=frozenset())
    csrf = service.issue(response, username, role, secure=is_tls(request))
    return _info(username, role, csrf, service.access_ttl_s)


@router.post("/refresh", response_model=SessionInfo, summary="new session cookies (silent)")
def refresh(request: Request, response: Response) -> SessionInfo:
    service = sessions_of(request)
    check_csrf(request)
    subject, jti, exp = service.check_refresh(request.cookies.get(REFRESH_COOKIE))
    role = service.account_role(subject)  # a disabled account gets no new access token
    service.revoke(jti, exp)  # refresh tokens rotate: each one is good for one refresh
    request.state.principal = Principal(subject=subject, role=role, scopes=frozenset())
    csrf = service.issue(response, subject, role, secure=is_tls(request))
    return _info(subject, role, csrf, service.access_ttl_s)


@router.post("/logout", status_code=204, summary="sign out (cookies cleared, refresh revoked)")
def logout(request: Request) -> Response:
    service = sessions_of(request)
    check_csrf(request)
    token = request.cookies.get(REFRESH_COOKIE)
    if token:
        try:
            _, jti, exp = service.check_refresh(token)
        except AcieError:
            pass  # an expired or already revoked session is signed out all the same
        else:
            service.revoke(jti, exp)
    response = Response(status_code=204)
    service.clear(response, secure=is_tls(request))
    return response


@router.get("", response_model=SessionInfo, summary="who is signed in")
def whoami(principal: Principal = Depends(require_session(Action.read))) -> SessionInfo:
    info = _info(principal.subject, principal.role)
    info.actions = _actions(principal)  # a bearer token's own scopes
    return info
