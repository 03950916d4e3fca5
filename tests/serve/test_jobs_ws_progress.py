"""The job-progress WebSocket against the app as ``acie serve`` builds it, over real sockets.

Refusals are accepted and then closed with 4401 / 4403 / 4404 / 4429 (the dashboard
reads the code), idle watchers are woken by the worker's push instead of polling the
database, and a user's watchers are capped (``WS_MAX_WATCHERS_PER_USER``).
"""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

LOOSE = 1e9


@pytest.fixture
def idle_server(tiny_engine, settings_factory):
    """REST + gRPC as ``acie serve`` builds them, but no worker: submitted jobs stay QUEUED."""
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


def _submit(server, tok, tensor_json, make_obs, request_id):
    body = {
        "request_id": request_id,
        "observation": tensor_json(make_obs(1)),
        "interventions": {"log_stellar_mass": 10.5},
        "physics_tolerance": LOOSE,
    }
    with httpx.Client(base_url=server.http_url) as c:
        r = c.post("/v1/jobs", json=body, headers={"Authorization": f"Bearer {tok}"})
    assert r.status_code == 202, r.text
    return r.json()["job_id"]


def _url(server, job_id, tok=None):
    url = f"ws://127.0.0.1:{server.http_port}/v1/jobs/{job_id}/progress"
    return f"{url}?access_token={tok}" if tok else url


def _close_code(url) -> tuple[int, str]:
    """The close code and reason of a watcher the server refuses (after accepting it)."""
    with ws_connect(url, open_timeout=10) as ws, pytest.raises(ConnectionClosed) as info:
        ws.recv(timeout=10)
    assert info.value.rcvd is not None, "the server closed without a close frame"
    return info.value.rcvd.code, info.value.rcvd.reason


def test_refusals_are_accepted_then_closed_with_the_dashboards_codes(
    idle_server, token, tensor_json, make_obs
):
    server = idle_server(WS_MAX_WATCHERS_PER_USER=2)
    alice = token(sub="alice")
    job = _submit(server, alice, tensor_json, make_obs, "ws-refusals")
    code, reason = _close_code(_url(server, job))  # no token
    assert code == 4401
    assert reason.startswith("UNAUTHENTICATED")
    assert _close_code(_url(server, job, "not-a-token"))[0] == 4401
    assert _close_code(_url(server, job, token(sub="bob")))[0] == 4403  # not bob's job
    assert _close_code(_url(server, "6d1c9a8e-0000-4000-8000-000000000000", alice))[0] == 4404
    # the cap on watchers per user: two are open, the third is refused with 4429
    first = ws_connect(_url(server, job, alice), open_timeout=10)
    second = ws_connect(_url(server, job, alice), open_timeout=10)
    try:
        assert json.loads(first.recv(timeout=10))["state"] == "QUEUED"
        assert json.loads(second.recv(timeout=10))["state"] == "QUEUED"
        code, reason = _close_code(_url(server, job, alice))
        assert code == 4429
        assert "WS_MAX_WATCHERS_PER_USER" in reason
    finally:
        first.close()
        second.close()
    # closed watchers give their slots back
    deadline = time.monotonic() + 10
    while True:
        with ws_connect(_url(server, job, alice), open_timeout=10) as ws:
            try:
                assert json.loads(ws.recv(timeout=10))["state"] == "QUEUED"
                break
            except ConnectionClosed:
                assert time.monotonic() < deadline, "slots were not given back"
                time.sleep(0.1)


def test_idle_watchers_do_not_poll_and_are_woken_by_the_worker(
    idle_server, token, tensor_json, make_obs
):
    import resource

    server = idle_server(WS_MAX_WATCHERS_PER_USER=64)
    tok = token(sub="alice")
    jobs = [_submit(server, tok, tensor_json, make_obs, f"idle-{i}") for i in range(5)]
    watchers = []
    try:
        for i in range(50):
            ws = ws_connect(_url(server, jobs[i % 5], tok), open_timeout=10)
            assert json.loads(ws.recv(timeout=10))["state"] == "QUEUED"
            watchers.append(ws)
        time.sleep(0.5)  # let the connections settle
        before = resource.getrusage(resource.RUSAGE_SELF)
        time.sleep(3.0)
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        # 50 watchers polling every 50 ms used most of a core; pushed ones sleep
        assert cpu_s < 0.2, f"50 idle watchers used {cpu_s:.2f} CPU-s in 3 s"
        # a state change is pushed to its watchers at once: move one job by hand
        queue = server.runtime.job_queue
        leased = queue.lease("test-worker", timeout=2)
        woken = [ws for i, ws in enumerate(watchers) if jobs[i % 5] == str(leased.id)]
        for ws in woken:
            assert json.loads(ws.recv(timeout=5))["state"] == "PROCESSING"
    finally:
        for ws in watchers:
            ws.close()


def test_progress_streams_to_the_end_with_a_worker(server_factory, token, tensor_json, make_obs):
    server = server_factory()
    tok = token()
    job = _submit(server, tok, tensor_json, make_obs, "ws-flow")
    states, final = [], None
    done = threading.Event()
    with ws_connect(_url(server, job, tok), open_timeout=10) as ws:
        for raw in ws:
            msg = json.loads(raw)
            if msg.get("final"):
                final = msg
                done.set()
                break
            states.append(msg["state"])
    assert done.is_set()
    assert states == ["QUEUED", "PROCESSING", "PHYSICS_CHECK", "COMPLETE"]
    assert final["state"] == "COMPLETE"
