"""The REST gateway end to end: a real uvicorn server on a free port, real HTTP and WebSockets."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
import uuid

import httpx
import numpy as np
import pytest
from fastapi import APIRouter, Depends
from websockets.sync.client import connect as ws_connect

from acie.serve.auth import Action, Principal
from acie.serve.deps import require
from acie.serve.tracing import JsonFormatter

LOOSE = 1e9


def _body(tensor_json, make_obs, request_id="r1", n=1, **kw):
    body = {
        "request_id": request_id,
        "observation": tensor_json(make_obs(n)),
        "interventions": {"log_stellar_mass": 10.5},
        "physics_tolerance": LOOSE,
    }
    body.update(kw)
    return body


def _auth(tok):
    return {"Authorization": f"Bearer {tok}"}


class Hold:
    """Occupy inference slots with requests that wait until released (deterministic load)."""

    def __init__(self, server, make_obs, count=1, owner="holder"):
        self.release = threading.Event()
        self.started = threading.Semaphore(0)
        self.futures = []
        core = server.runtime.core
        for i in range(count):
            call = core.validate(
                request_id=f"hold-{i}",
                observation=make_obs(1),
                interventions={},
                physics_tolerance=LOOSE,
            )

            def stage(_s, release=self.release, started=self.started):
                if _s == "PROCESSING":
                    started.release()
                    release.wait(10)

            self.futures.append(core.submit(owner, call, on_stage=stage))

    def wait_started(self, n=1):
        for _ in range(n):
            assert self.started.acquire(timeout=10)

    def done(self):
        self.release.set()
        for f in self.futures:
            f.result(10)


def _wait_job(client, job_id, tok, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = client.get(f"/v1/jobs/{job_id}", headers=_auth(tok))
        if r.json()["state"] in ("COMPLETE", "FAILED"):
            return r.json()
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


def test_counterfactual_200_with_trace_id(server, token, tensor_json, make_obs, tiny_engine):
    with httpx.Client(base_url=server.http_url) as c:
        r = c.post(
            "/v1/counterfactual",
            json=_body(tensor_json, make_obs, n=2),
            headers={**_auth(token()), "X-Trace-Id": "trace-test-0001"},
        )
    assert r.status_code == 200, r.text
    body = r.json()
    assert r.headers["x-trace-id"] == "trace-test-0001" == body["trace_id"]
    assert body["counterfactual"]["shape"] == [2, 1, 16, 16]
    assert len(body["confidence"]) == 2
    assert all(0.0 <= c <= 1.0 for c in body["confidence"])
    assert len(body["violation_score"]) == 2
    assert body["model_version"] == tiny_engine.model_version
    assert len(body["model_version"]) == 64
    # the intervened property takes the value asked for (abduction-action-prediction)
    assert body["counterfactual_properties"]["log_stellar_mass"] == pytest.approx(
        [10.5, 10.5], abs=1e-6
    )


def test_models_and_health(server, token, tiny_engine):
    with httpx.Client(base_url=server.http_url) as c:
        m = c.get("/v1/models", headers=_auth(token())).json()["models"][0]
        h = c.get("/healthz")
    assert m["version"] == tiny_engine.model_version
    assert m["image_shape"] == [1, 16, 16]
    assert "log_stellar_mass" in m["property_names"]
    assert h.status_code == 200
    assert h.json()["status"] == "SERVING"
    assert h.json()["gpu_count"] >= 0


def test_400_bad_shape_names_expected_shape(server, token, tensor_json, make_obs):
    bad = np.zeros((1, 1, 8, 8), np.float32)
    with httpx.Client(base_url=server.http_url) as c:
        r = c.post(
            "/v1/counterfactual",
            json=_body(tensor_json, make_obs) | {"observation": tensor_json(bad)},
            headers=_auth(token()),
        )
        r2 = c.post(
            "/v1/counterfactual",
            json=_body(tensor_json, make_obs)
            | {"observation": {"shape": [1, 1, 16, 16], "dtype": "float32", "data": "AAAA"}},
            headers=_auth(token()),
        )
        r3 = c.post(
            "/v1/counterfactual",
            content=b"{not json",
            headers={**_auth(token()), "Content-Type": "application/json"},
        )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "INVALID_ARGUMENT"
    assert "(n, 1, 16, 16)" in r.json()["error"]["message"]
    assert "(1, 1, 8, 8)" in r.json()["error"]["message"]
    assert r2.status_code == 400
    assert "1024 bytes" in r2.json()["error"]["message"]
    assert r3.status_code == 400


def test_400_unknown_intervention_is_named(server, token, tensor_json, make_obs):
    with httpx.Client(base_url=server.http_url) as c:
        r = c.post(
            "/v1/counterfactual",
            json=_body(tensor_json, make_obs, interventions={"dark_energy": 1.0}),
            headers=_auth(token()),
        )
    assert r.status_code == 400
    assert "'dark_energy'" in r.json()["error"]["message"]


def test_401_missing_expired_and_forged_tokens(server, token, tensor_json, make_obs):
    from acie.serve.auth import mint_token

    expired = token(ttl_s=1, now=time.time() - 100)
    forged = mint_token(subject="alice", role="admin", secret="z" * 48)
    with httpx.Client(base_url=server.http_url) as c:
        for headers in ({}, _auth(expired), _auth(forged), {"Authorization": "Basic abc"}):
            r = c.post("/v1/counterfactual", json=_body(tensor_json, make_obs), headers=headers)
            assert r.status_code == 401, r.text
            assert r.json()["error"]["code"] == "UNAUTHENTICATED"


def test_403_collaborator_cannot_submit_and_scope_is_required(server, token, tensor_json, make_obs):
    with httpx.Client(base_url=server.http_url) as c:
        r = c.post(
            "/v1/counterfactual",
            json=_body(tensor_json, make_obs),
            headers=_auth(token(sub="carol", role="collaborator")),
        )
        r2 = c.post(
            "/v1/counterfactual",
            json=_body(tensor_json, make_obs),
            headers=_auth(token(scopes=("inference:read",))),
        )
        r3 = c.get("/v1/models", headers=_auth(token(scopes=("inference:write",))))
    assert r.status_code == 403
    assert "collaborator" in r.json()["error"]["message"]
    assert r2.status_code == 403
    assert "inference:write" in r2.json()["error"]["message"]
    assert r3.status_code == 403
    assert "inference:read" in r3.json()["error"]["message"]


def test_404_unknown_job(server, token):
    with httpx.Client(base_url=server.http_url) as c:
        r = c.get(f"/v1/jobs/{uuid.uuid4()}", headers=_auth(token()))
        r2 = c.get("/v1/jobs/not-a-uuid", headers=_auth(token()))
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "NOT_FOUND"
    assert r2.status_code == 404


def test_409_request_id_in_flight(server, token, tensor_json, make_obs):
    core = server.runtime.core
    release = threading.Event()
    started = threading.Event()

    def stage(s):
        if s == "PROCESSING":
            started.set()
            release.wait(10)

    call = core.validate(
        request_id="dup-1", observation=make_obs(1), interventions={}, physics_tolerance=LOOSE
    )
    fut = core.submit("alice", call, on_stage=stage)
    assert started.wait(10)
    try:
        with httpx.Client(base_url=server.http_url) as c:
            r = c.post(
                "/v1/counterfactual",
                json=_body(tensor_json, make_obs, request_id="dup-1"),
                headers=_auth(token(sub="alice")),
            )
            # another user may use the same request id
            other = c.post(
                "/v1/counterfactual",
                json=_body(tensor_json, make_obs, request_id="dup-1"),
                headers=_auth(token(sub="bob")),
            )
    finally:
        release.set()
        fut.result(10)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "ALREADY_EXISTS"
    assert "dup-1" in r.json()["error"]["message"]
    assert other.status_code == 200


def test_413_request_too_large(server_factory, token, tensor_json, make_obs):
    server = server_factory(MAX_REQUEST_BYTES=4096)
    big = _body(tensor_json, make_obs, n=4)  # 4 KiB of pixels, ~5.5 KiB of base64
    with httpx.Client(base_url=server.http_url) as c:
        r = c.post("/v1/counterfactual", json=big, headers=_auth(token()))

        def chunks():
            data = json.dumps(big).encode()
            for i in range(0, len(data), 1000):
                yield data[i : i + 1000]

        r2 = c.post(
            "/v1/counterfactual",
            content=chunks(),
            headers={**_auth(token()), "Content-Type": "application/json"},
        )
        ok = c.post(
            "/v1/counterfactual", json=_body(tensor_json, make_obs, n=1), headers=_auth(token())
        )
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "RESOURCE_EXHAUSTED"
    assert r2.status_code == 413  # chunked upload without Content-Length
    assert ok.status_code == 200


def test_422_physics_violation(server, token, tensor_json, make_obs):
    with httpx.Client(base_url=server.http_url) as c:
        r = c.post(
            "/v1/counterfactual",
            json=_body(tensor_json, make_obs, physics_tolerance=1e-12, physics_steps=0),
            headers=_auth(token()),
        )
        metrics = c.get("/metrics").text
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "FAILED_PRECONDITION"
    assert "tolerance" in r.json()["error"]["message"]
    assert "acie_physics_violations_total 1.0" in metrics


def test_429_rate_limit_with_retry_after(server_factory, token):
    server = server_factory(RATE_LIMIT_PER_MINUTE=2)
    with httpx.Client(base_url=server.http_url) as c:
        codes = [c.get("/v1/models", headers=_auth(token())).status_code for _ in range(3)]
        r = c.get("/v1/models", headers=_auth(token()))
        other = c.get("/v1/models", headers=_auth(token(sub="someone-else")))
    assert codes == [200, 200, 429]
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) >= 1
    assert other.status_code == 200


def test_429_queue_limit(server_factory, token, tensor_json, make_obs):
    server = server_factory(QUEUE_MAX_DEPTH=1)
    hold = Hold(server, make_obs)
    hold.wait_started()
    try:
        with httpx.Client(base_url=server.http_url) as c:
            r = c.post(
                "/v1/counterfactual", json=_body(tensor_json, make_obs), headers=_auth(token())
            )
    finally:
        hold.done()
    assert r.status_code == 429
    assert "queue is full" in r.json()["error"]["message"]


def test_503_while_shutting_down(server, token, tensor_json, make_obs):
    with httpx.Client(base_url=server.http_url) as c:
        server.runtime.serving = False  # what Server.stop does first
        try:
            r = c.post(
                "/v1/counterfactual", json=_body(tensor_json, make_obs), headers=_auth(token())
            )
            h = c.get("/healthz")
        finally:
            server.runtime.serving = True
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "UNAVAILABLE"
    assert "shutting down" in r.json()["error"]["message"]
    assert h.status_code == 503
    assert h.json()["status"] == "NOT_SERVING"


def test_504_request_timeout(server_factory, token, tensor_json, make_obs):
    server = server_factory(WORKER_THREADS=1, REQUEST_TIMEOUT_S=0.3)
    hold = Hold(server, make_obs)
    hold.wait_started()
    try:
        with httpx.Client(base_url=server.http_url, timeout=10) as c:
            t0 = time.perf_counter()
            r = c.post(
                "/v1/counterfactual", json=_body(tensor_json, make_obs), headers=_auth(token())
            )
            waited = time.perf_counter() - t0
    finally:
        hold.done()
    assert r.status_code == 504
    assert r.json()["error"]["code"] == "DEADLINE_EXCEEDED"
    assert waited < 5.0


def test_job_progress_over_websocket(server, token, tensor_json, make_obs):
    tok = token()
    with httpx.Client(base_url=server.http_url) as c:
        r = c.post(
            "/v1/jobs", json=_body(tensor_json, make_obs, request_id="job-ws"), headers=_auth(tok)
        )
        assert r.status_code == 202, r.text
        job_id = r.json()["job_id"]
    url = f"ws://127.0.0.1:{server.http_port}/v1/jobs/{job_id}/progress?access_token={tok}"
    states, final = [], None
    with ws_connect(url, open_timeout=10) as ws:
        for raw in ws:
            msg = json.loads(raw)
            if msg.get("final"):
                final = msg
                break
            states.append(msg["state"])
    assert states == ["QUEUED", "PROCESSING", "PHYSICS_CHECK", "COMPLETE"]
    assert final["state"] == "COMPLETE"
    assert final["result"]["counterfactual"]["shape"] == [
        1,
        1,
        16,
        16,
    ]


def test_websocket_refuses_missing_token(server, token, tensor_json, make_obs):
    from websockets.exceptions import ConnectionClosed

    with httpx.Client(base_url=server.http_url) as c:
        job_id = c.post(
            "/v1/jobs",
            json=_body(tensor_json, make_obs, request_id="job-ws2"),
            headers=_auth(token()),
        ).json()["job_id"]
    url = f"ws://127.0.0.1:{server.http_port}/v1/jobs/{job_id}/progress"
    # accepted, then closed with 4401 (the dashboard tells refusals apart by the code)
    with pytest.raises(ConnectionClosed) as info, ws_connect(url, open_timeout=10) as ws:
        ws.recv(timeout=10)
    assert info.value.rcvd.code == 4401


def test_job_roles_and_sharing(server, token, tensor_json, make_obs):
    alice, bob = token(sub="alice"), token(sub="bob")
    carol = token(sub="carol", role="collaborator")
    admin = token(sub="root", role="admin")
    with httpx.Client(base_url=server.http_url) as c:
        private = c.post(
            "/v1/jobs", json=_body(tensor_json, make_obs, request_id="p1"), headers=_auth(alice)
        ).json()["job_id"]
        shared = c.post(
            "/v1/jobs",
            json=_body(tensor_json, make_obs, request_id="s1", shared=True),
            headers=_auth(alice),
        ).json()["job_id"]
        assert _wait_job(c, private, alice)["state"] == "COMPLETE"
        assert _wait_job(c, shared, alice)["state"] == "COMPLETE"
        assert c.get(f"/v1/jobs/{private}", headers=_auth(bob)).status_code == 403
        assert c.get(f"/v1/jobs/{private}", headers=_auth(carol)).status_code == 403
        assert c.get(f"/v1/jobs/{private}", headers=_auth(admin)).status_code == 200
        assert c.get(f"/v1/jobs/{shared}", headers=_auth(carol)).status_code == 200
        assert c.get(f"/v1/jobs/{shared}", headers=_auth(bob)).status_code == 403
        assert (
            c.post(
                "/v1/jobs", json=_body(tensor_json, make_obs, request_id="c1"), headers=_auth(carol)
            ).status_code
            == 403
        )
        listed = {
            who: {j["job_id"] for j in c.get("/v1/jobs", headers=_auth(t)).json()["jobs"]}
            for who, t in (("alice", alice), ("bob", bob), ("carol", carol), ("admin", admin))
        }
    assert listed["alice"] == {private, shared}
    assert listed["bob"] == set()
    assert listed["carol"] == {shared}
    assert listed["admin"] >= {private, shared}


def test_failed_job_carries_the_status_code(server, token, tensor_json, make_obs):
    tok = token()
    with httpx.Client(base_url=server.http_url) as c:
        job_id = c.post(
            "/v1/jobs",
            json=_body(
                tensor_json,
                make_obs,
                request_id="bad-phys",
                physics_tolerance=1e-12,
                physics_steps=0,
            ),
            headers=_auth(tok),
        ).json()["job_id"]
        job = _wait_job(c, job_id, tok)
        again = c.post(
            "/v1/jobs", json=_body(tensor_json, make_obs, request_id="bad-phys"), headers=_auth(tok)
        )
    assert job["state"] == "FAILED"
    assert job["error"]["code"] == "FAILED_PRECONDITION"
    assert again.json()["job_id"] == job_id  # finished request ids replay the stored job


def test_trace_id_reaches_the_worker_logs(server, token, tensor_json, make_obs):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("acie.serve.jobs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with httpx.Client(base_url=server.http_url) as c:
            tok = token()
            job_id = c.post(
                "/v1/jobs",
                json=_body(tensor_json, make_obs, request_id="traced"),
                headers={**_auth(tok), "X-Trace-Id": "trace-job-000042"},
            ).json()["job_id"]
            _wait_job(c, job_id, tok)
    finally:
        logger.removeHandler(handler)
    lines = [json.loads(x) for x in stream.getvalue().splitlines()]
    started = [x for x in lines if x["message"] == "job started"]
    assert started
    assert started[0]["trace_id"] == "trace-job-000042"
    assert started[0]["job_id"] == job_id


def test_every_call_is_audited(server, token, tensor_json, make_obs):
    rt = server.runtime
    before = rt.audit.audit_log.count()
    with httpx.Client(base_url=server.http_url) as c:
        c.get("/v1/models", headers=_auth(token(sub="auditee")))
        c.get("/v1/models")
        c.post(
            "/v1/counterfactual",
            json=_body(tensor_json, make_obs),
            headers=_auth(token(sub="auditee")),
        )
        c.get("/healthz")  # not an API call: not audited
    assert rt.audit.flush()
    rows = list(rt.audit.audit_log.records(after_seq=before))
    assert [(r.user_sub, r.action) for r in rows] == [
        ("auditee", "rest.GET /v1/models:200"),
        (None, "rest.GET /v1/models:401"),
        ("auditee", "rest.POST /v1/counterfactual:200"),
    ]
    assert rt.audit.audit_log.verify().ok


def test_metrics_count_requests_by_method_and_code(server, token):
    with httpx.Client(base_url=server.http_url) as c:
        c.get("/v1/models", headers=_auth(token()))
        c.get("/v1/models")
        text = c.get("/metrics").text
    assert 'acie_requests_total{code="200",method="GET /v1/models",protocol="rest"} 1.0' in text
    assert 'acie_requests_total{code="401",method="GET /v1/models",protocol="rest"} 1.0' in text
    assert 'inference_queue_depth{queue="jobs"}' in text
    assert "acie_request_latency_seconds_bucket" in text


def test_old_dashboard_urls_redirect_to_the_explorer(server):
    with httpx.Client(base_url=server.http_url) as c:
        root = c.get("/", follow_redirects=False)
        old = [
            c.get(p, follow_redirects=False)
            for p in ("/dashboard", "/dashboard/", "/dashboard/app.js")
        ]
        page = c.get("/explorer/")
        metrics = c.get("/metrics").text
    assert root.status_code in (302, 307)
    assert root.headers["location"] == "/explorer/"
    for r in old:
        assert r.status_code == 307, r.text
        assert r.headers["location"] == "/explorer/"
    # the shipped bundle is served without Node, and counted under one bounded label
    assert page.status_code == 200
    assert "<html" in page.text.lower()
    assert 'method="GET /explorer/*"' in metrics


def test_extra_routers_are_mounted_with_the_same_auth(server_factory, token):
    router = APIRouter(prefix="/v1/extra")

    @router.get("/whoami")
    def whoami(p: Principal = Depends(require(Action.read))) -> dict:
        return {"sub": p.subject}

    server = server_factory(extra_routers=[router])
    with httpx.Client(base_url=server.http_url) as c:
        ok = c.get("/v1/extra/whoami", headers=_auth(token(sub="ops")))
        denied = c.get("/v1/extra/whoami")
        spec = c.get("/openapi.json").json()
    assert ok.json() == {"sub": "ops"}
    assert denied.status_code == 401
    assert "/v1/extra/whoami" in spec["paths"]


def test_the_served_openapi_document_includes_every_router(server):
    """The app under test is the app ``acie serve`` serves (ops report included)."""
    with httpx.Client(base_url=server.http_url) as c:
        spec = c.get("/openapi.json")
        docs = c.get("/docs")
    assert spec.status_code == 200, spec.text[:300]
    paths = set(spec.json()["paths"])
    assert {"/healthz", "/v1/counterfactual", "/v1/blind/infer", "/ops/report"} <= paths
    assert docs.status_code == 200
    assert "/openapi.json" in docs.text


def test_docs_page_loads_nothing_from_the_internet(server):
    """``/docs`` works offline: every script, style and icon it names is served by us."""
    import re

    with httpx.Client(base_url=server.http_url) as c:
        page = c.get("/docs").text
        urls = re.findall(r'(?:src|href)=["\']([^"\']+)["\']', page)
        assets = {u: c.get(u) for u in urls}
    assert not [u for u in urls if "://" in u or u.startswith("//")], urls
    assert any(u.endswith("swagger-ui-bundle.js") for u in urls), urls
    assert any(u.endswith("swagger-ui.css") for u in urls), urls
    for url, resp in assets.items():
        assert resp.status_code == 200, url
        assert len(resp.content) > 100, url
