"""An attacker's session against the server exactly as ``acie serve`` builds it.

One live server (REST + gRPC + worker, :func:`acie.serve.app.create_app`, ops report
mounted, telemetry encrypted) takes every attack of issue 14 in turn over real sockets.
Each refusal is checked for its status and error code; afterwards the server must still
answer health checks on both protocols, and its threads, memory, metric series and
audit rows must have stayed bounded, and it must be idle again (CPU seconds).
"""

from __future__ import annotations

import base64
import concurrent.futures
import threading
import time

import grpc
import httpx
import jwt
import numpy as np
import pytest

from acie.wire.proto import inference_pb2 as pb
from acie.wire.proto import inference_pb2_grpc as pb_grpc

TELEMETRY_KEY = base64.b64encode(bytes(range(32))).decode()


def _rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def _auth(tok):
    return {"Authorization": f"Bearer {tok}"}


def _obs(value=None):
    img = (
        np.full((1, 1, 16, 16), value, "<f4")
        if value is not None
        else np.random.default_rng(0).gamma(2.0, 10.0, size=(1, 1, 16, 16)).astype("<f4")
    )
    return img


def _json_tensor(img):
    return {
        "shape": list(img.shape),
        "dtype": "float32",
        "data": base64.b64encode(img.tobytes()).decode(),
    }


def _series(text):
    return [line for line in text.splitlines() if line.startswith("acie_requests_total{")]


@pytest.fixture
def target(server_factory):
    return server_factory(
        TELEMETRY_KEY=TELEMETRY_KEY,
        MAX_REQUEST_BYTES=64 * 1024,
        AUTH_FAILURES_PER_MINUTE=30,
        AUDIT_AGGREGATE_WINDOW_S=600,
    )


def test_attacks_are_refused_typed_and_leave_the_server_bounded(target, token):
    rt = target.runtime
    url = target.http_url
    md = (("authorization", f"Bearer {token()}"),)
    ch = grpc.insecure_channel(f"127.0.0.1:{target.grpc_port}")
    stub = pb_grpc.InferenceServiceStub(ch)
    c = httpx.Client(base_url=url, timeout=30)

    # warm: a legitimate call on each protocol, then the baseline
    ok = c.post(
        "/v1/counterfactual",
        json={"request_id": "ok", "observation": _json_tensor(_obs()), "physics_tolerance": 1e9},
        headers=_auth(token()),
    )
    assert ok.status_code == 200
    threads0 = sum(
        not t.name.startswith(("AnyIO worker thread", "acie-grpc")) for t in threading.enumerate()
    )
    rss0 = _rss_mib()
    audit0 = rt.audit.audit_log.count()
    series0 = len(_series(c.get("/metrics").text))

    def expect(r, status, code):
        assert r.status_code == status, r.text
        assert r.json()["error"]["code"] == code
        assert r.json()["error"]["trace_id"] == r.headers["x-trace-id"]

    def expect_grpc(fn, code):
        with pytest.raises(grpc.RpcError) as info:
            fn()
        assert info.value.code() is code, info.value.details()

    # 1. a constant image without projection: never a non-finite answer
    r = c.post(
        "/v1/counterfactual",
        json={"request_id": "c20", "observation": _json_tensor(_obs(20.0)), "physics_steps": 0},
        headers=_auth(token()),
    )
    assert r.status_code in (200, 422), r.text
    if r.status_code == 200:
        assert all(v is not None for v in r.json()["violation_score"])
    # 2. shapes that overflow or hide behind a zero
    for shape in ([0, 1 << 20, 1 << 20, 1 << 20, 1 << 20], [1 << 20] * 4, [0] * 9):
        expect(
            c.post(
                "/v1/counterfactual",
                json={"request_id": "s", "observation": {"shape": shape, "data": ""}},
                headers=_auth(token()),
            ),
            400,
            "INVALID_ARGUMENT",
        )
        expect_grpc(
            lambda shape=shape: stub.CounterfactualInference(
                pb.CounterfactualRequest(
                    request_id="s", observation=pb.Tensor(shape=shape, dtype="float32")
                ),
                metadata=md,
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
    # 3. deeply nested JSON, truncated JSON, bytes that are not UTF-8
    for body in (b"[" * 30_000 + b"]" * 30_000, b'{"request_id": "x", ', b"\xff\xfe\xfd"):
        expect(
            c.post(
                "/v1/counterfactual",
                content=body,
                headers={**_auth(token()), "content-type": "application/json"},
            ),
            400,
            "INVALID_ARGUMENT",
        )
    # 4. bodies over MAX_REQUEST_BYTES on both protocols
    expect(
        c.post("/v1/jobs", content=b"{" + b" " * 100_000 + b"}", headers=_auth(token())),
        413,
        "RESOURCE_EXHAUSTED",
    )
    big = np.zeros((64, 1, 16, 16), "<f4")
    expect_grpc(
        lambda: stub.CounterfactualInference(
            pb.CounterfactualRequest(
                request_id="big",
                observation=pb.Tensor(shape=list(big.shape), dtype="float32", data=big.tobytes()),
            ),
            metadata=md,
        ),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    )
    # 5. invented HTTP methods and paths: no new metric series
    for i in range(30):
        c.request(f"X{i}", "/healthz")
        c.get(f"/v1/scan-{i}")
    # 6. the ops report holds decrypted telemetry: no token, no report
    expect(c.get("/ops/report"), 401, "UNAUTHENTICATED")
    expect(c.get("/ops/report", headers=_auth(token())), 403, "PERMISSION_DENIED")
    assert c.get("/ops/report", headers=_auth(token(scopes=("ops:read",)))).status_code == 200
    # 7. tokens: alg none, wrong audience, expired
    none_tok = jwt.encode({"sub": "eve", "aud": "acie", "exp": 4102444800}, None, algorithm="none")
    for bad in (none_tok, token(audience="other"), token(ttl_s=-10)):
        expect(c.get("/v1/models", headers=_auth(bad)), 401, "UNAUTHENTICATED")

    # 8. a flood of forged tokens from one address, on both protocols
    def flood(i):
        with httpx.Client(base_url=url) as fc:
            return [
                fc.get("/v1/models", headers=_auth(f"x.{i}.{k}")).status_code for k in range(40)
            ]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = [code for batch in pool.map(flood, range(8)) for code in batch]
    grpc_codes = []
    for i in range(60):
        try:
            stub.HealthCheck(pb.HealthCheckRequest(), metadata=(("authorization", f"Bearer x{i}"),))
            stub.CounterfactualInference(
                pb.CounterfactualRequest(), metadata=(("authorization", f"Bearer x{i}"),)
            )
        except grpc.RpcError as exc:
            grpc_codes.append(exc.code())
    assert codes.count(429) >= len(codes) - 60
    assert set(codes) <= {401, 429}
    assert grpc_codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) >= 50
    limited = c.get("/v1/models", headers=_auth(token()))
    expect(limited, 429, "RESOURCE_EXHAUSTED")
    assert int(limited.headers["retry-after"]) >= 1

    # the server is still healthy ...
    health = c.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "SERVING"
    assert (
        stub.HealthCheck(pb.HealthCheckRequest(), timeout=10).status
        == pb.HealthCheckResponse.SERVING
    )
    # ... and bounded: threads, memory, metric series, audit rows
    metrics = c.get("/metrics").text
    series = _series(metrics)
    assert not [s for s in series if "scan-" in s or 'method="X' in s]
    assert len(series) - series0 < 25, series
    assert rt.audit.flush()
    rows = rt.audit.audit_log.count() - audit0
    attempts = len(codes) + len(grpc_codes) + 60
    assert rows < 60, f"{rows} audit rows for {attempts} attacking calls"
    assert rt.audit.audit_log.verify().ok
    names = [t.name for t in threading.enumerate()]
    pooled = {"AnyIO worker thread": 40, "acie-grpc": 64}  # bounded pools, idle threads expire
    for prefix, most in pooled.items():
        assert sum(n.startswith(prefix) for n in names) <= most
    others = [n for n in names if not n.startswith(tuple(pooled))]
    assert len(others) <= threads0 + 2, sorted(others)
    assert _rss_mib() - rss0 < 300
    # ... and idle: nothing the attacks started keeps burning CPU (a resource bound, with
    # a wide margin: the worker's and writers' idle polling costs milliseconds a second)
    cpu0 = time.process_time()
    time.sleep(1.0)
    assert time.process_time() - cpu0 < 0.5
    c.close()
    ch.close()
