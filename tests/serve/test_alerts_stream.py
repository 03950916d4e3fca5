"""``WS /v1/alerts`` on the app as ``acie serve`` builds it: each alert is triggered for real.

No worker runs (submitted jobs stay queued, so the queue depth grows); physics refusals
come from synchronous counterfactuals with a tolerance no model meets; the model change
is a new model version on the runtime, as a reload would leave it.
"""

from __future__ import annotations

import json
import types

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

PASSWORD = "correct horse battery"


@pytest.fixture
def idle_server(tiny_engine, settings_factory):
    from acie.serve.server import Server, build_runtime

    made = []

    def make(**overrides):
        rt = build_runtime(settings_factory(**overrides), model=tiny_engine)
        srv = Server(rt, run_worker=False).start()
        made.append(srv)
        return srv

    yield make
    for srv in made:
        srv.stop(grace_s=0.5)


def _next(ws, kind_type, timeout=20.0):
    """The next message of ``kind_type`` (other messages are skipped)."""
    while True:
        msg = json.loads(ws.recv(timeout=timeout))
        if msg["type"] == kind_type:
            return msg


def _auth(tok):
    return {"Authorization": f"Bearer {tok}"}


def test_each_alert_is_pushed_to_a_signed_in_browser(
    idle_server, token, tensor_json, make_obs, tiny_engine
):
    from acie.store.database import create_engine_for
    from acie.store.users import add_user

    srv = idle_server(
        ALERT_POLL_INTERVAL_S=0.2,
        ALERT_QUEUE_DEPTH=1,
        ALERT_VIOLATION_MIN_COUNT=2,
        ALERT_VIOLATION_RATE=0.5,
    )
    engine = create_engine_for(srv.runtime.settings.database_url)
    add_user(engine, "hana", PASSWORD)
    engine.dispose()
    with httpx.Client(base_url=srv.http_url, timeout=30) as c:
        r = c.post("/v1/session/login", json={"username": "hana", "password": PASSWORD})
        assert r.status_code == 200, r.text
        cookie = f"acie_access={c.cookies['acie_access']}"
        url = f"ws://127.0.0.1:{srv.http_port}/v1/alerts"
        origin = f"http://127.0.0.1:{srv.http_port}"
        with ws_connect(
            url, additional_headers={"Cookie": cookie}, origin=origin, open_timeout=10
        ) as ws:
            assert _next(ws, "snapshot")["alerts"] == []

            # queue depth: two queued jobs (no worker) against a threshold of 1
            for i in range(2):
                body = {
                    "request_id": f"q{i}",
                    "observation": tensor_json(make_obs(1)),
                    "interventions": {"log_stellar_mass": 10.5},
                    "physics_tolerance": 1e9,
                }
                assert c.post("/v1/jobs", json=body, headers=_auth(token())).status_code == 202
            alert = _next(ws, "alert")["alert"]
            assert alert["kind"] == "queue_depth"
            assert alert["value"] == 2.0
            assert alert["level"] == "warning"

            # physics-violation rate: every scored counterfactual refused (rate 1 > 0.5)
            for i in range(2):
                body = {
                    "request_id": f"v{i}",
                    "observation": tensor_json(make_obs(1, seed=i)),
                    "interventions": {"log_stellar_mass": 10.5},
                    "physics_tolerance": 1e-12,
                    "physics_steps": 0,
                }
                r = c.post("/v1/counterfactual", json=body, headers=_auth(token()))
                assert r.status_code == 422, r.text
            alert = _next(ws, "alert")["alert"]
            assert alert["kind"] == "violation_rate"
            assert alert["value"] == 1.0

            # model changed: the runtime now serves another version
            old = srv.runtime.model_version
            srv.runtime.model = types.SimpleNamespace(model_version="f" * 64)
            try:
                alert = _next(ws, "alert")["alert"]
            finally:
                srv.runtime.model = tiny_engine
            assert alert["kind"] == "model_changed"
            assert alert["value"] == "f" * 64
            assert alert["threshold"] == old


def test_alerts_socket_refusals(idle_server, token):
    srv = idle_server()
    url = f"ws://127.0.0.1:{srv.http_port}/v1/alerts"

    def close_code(target, **kw):
        with ws_connect(target, open_timeout=10, **kw) as ws, pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
        return ws.close_code

    assert close_code(url) == 4401
    assert close_code(f"{url}?access_token=forged") == 4401
    # a cookie sent from another site's page is refused (cross-site WebSocket hijacking)
    assert (
        close_code(
            url, additional_headers={"Cookie": "acie_access=x"}, origin="http://evil.example"
        )
        == 4403
    )
    with ws_connect(f"{url}?access_token={token()}", open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "snapshot"
