"""``WS /v1/alerts``: system-wide warnings pushed to every signed-in page.

The socket authenticates with the session cookie (browsers), an ``Authorization:
Bearer`` header or the ``access_token`` query parameter, and needs the ``read``
permission. A browser's ``Origin`` must be this server's own (cross-site WebSocket
hijacking). A refused socket is accepted and closed with ``4000 + HTTP status``
(4401, 4403, 4429), as the job-progress socket does.

Messages are JSON: first ``{"type": "snapshot", "alerts": [...]}`` with the alerts
active now, then ``{"type": "alert", "alert": {...}}`` when one becomes active (or its
message changes) and ``{"type": "cleared", "kind": ...}`` when one ends
(:class:`acie.serve.alerts.AlertMonitor`, every ``ALERT_POLL_INTERVAL_S``).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from urllib.parse import urlsplit

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect

from acie.errors import AcieError, AuthorizationError
from acie.serve.alerts import AlertMonitor
from acie.serve.auth import Action, Principal, authorize
from acie.serve.deps import authenticate, client_address, runtime_of
from acie.serve.sessions import ACCESS_COOKIE, session_principal
from acie.serve.status_codes import code_for, http_status_for, public_message

__all__ = ["cookie_principal", "monitor_of", "router"]

router = APIRouter(prefix="/v1")
_lock = threading.Lock()


def monitor_of(websocket: WebSocket) -> AlertMonitor:
    """The app's :class:`AlertMonitor` (created on first use)."""
    state = websocket.app.state
    with _lock:
        monitor = getattr(state, "alert_monitor", None)
        if monitor is None:
            monitor = state.alert_monitor = AlertMonitor(runtime_of(websocket))
    return monitor


def _check_origin(websocket: WebSocket) -> None:
    origin = websocket.headers.get("origin")
    if origin is None:
        return  # not a browser
    host = websocket.headers.get("host", "")
    if urlsplit(origin).netloc != host:
        raise AuthorizationError(
            f"the WebSocket's Origin must be this server ({host}); got {origin}"
        )


def cookie_principal(websocket: WebSocket) -> Principal:
    """The signed-in user of a browser WebSocket (session cookie; same-origin only)."""
    _check_origin(websocket)
    return session_principal(websocket)


def _principal(websocket: WebSocket, access_token: str | None) -> Principal:
    rt = runtime_of(websocket)
    header = websocket.headers.get("authorization", "")
    token = header.partition(" ")[2].strip() if header.lower().startswith("bearer ") else None
    token = token or access_token
    if token is None and ACCESS_COOKIE in websocket.cookies:
        return cookie_principal(websocket)
    return authenticate(rt, token, client_address(websocket))


@router.websocket("/alerts")
async def alerts(websocket: WebSocket, access_token: str | None = Query(None)) -> None:
    """Push the server's alerts (see the module docstring) until the client leaves."""
    rt = runtime_of(websocket)
    await websocket.accept()
    try:
        principal = await asyncio.to_thread(_principal, websocket, access_token)
        websocket.scope.setdefault("state", {})["principal"] = principal
        authorize(principal, Action.read)
        rt.rate_limiter.hit(principal.subject)
    except AcieError as exc:
        code = code_for(exc)
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            await websocket.close(
                code=4000 + http_status_for(code),
                reason=f"{code.name}: {public_message(exc, code, None)}"[:120],
            )
        return
    monitor = monitor_of(websocket)
    gone = asyncio.ensure_future(_disconnected(websocket))
    try:
        current = {a.kind: a for a in await asyncio.to_thread(monitor.evaluate)}
        await websocket.send_json(
            {"type": "snapshot", "alerts": [a.as_dict() for a in current.values()]}
        )
        while rt.serving:
            await asyncio.wait({gone}, timeout=monitor.poll_s)
            if gone.done():
                return
            now = {a.kind: a for a in await asyncio.to_thread(monitor.evaluate)}
            for kind, alert in now.items():
                if kind not in current or current[kind].message != alert.message:
                    await websocket.send_json({"type": "alert", "alert": alert.as_dict()})
            for kind in current.keys() - now.keys():
                await websocket.send_json({"type": "cleared", "kind": kind})
            current = now
        await websocket.close(code=1001)
    except (WebSocketDisconnect, RuntimeError):
        return
    finally:
        gone.cancel()


async def _disconnected(websocket: WebSocket) -> None:
    """Return when the client closes (anything it sends is ignored)."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
