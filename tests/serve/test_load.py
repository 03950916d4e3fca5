"""A bounded load test on loopback: many concurrent clients, both protocols, nothing lost.

Every request is counted (metrics and audit) before its response completes, so the counts
read right after the last answer are exact (no wait, no poll).
"""

from __future__ import annotations

import threading

import grpc
import httpx
import numpy as np

from acie.wire.proto import inference_pb2 as pb
from acie.wire.proto import inference_pb2_grpc as pb_grpc

CLIENTS = 12
PER_CLIENT = 15  # 180 requests in all: a few seconds on 2 cores


def test_concurrent_clients_all_answered_once(server, token, make_obs, tensor_json):
    tok = token(sub="loader")
    obs = make_obs(1)
    answers: dict[str, str] = {}
    failures: list[str] = []
    lock = threading.Lock()
    channel = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
    stub = pb_grpc.InferenceServiceStub(channel)
    http = httpx.Client(
        base_url=server.http_url, headers={"Authorization": f"Bearer {tok}"}, timeout=60
    )

    def client(k: int) -> None:
        for i in range(PER_CLIENT):
            rid = f"c{k}-{i}"
            value = 9.0 + 0.1 * ((k + i) % 20)  # differing values: exercises batching
            try:
                if (k + i) % 2:
                    resp = stub.CounterfactualInference(
                        pb.CounterfactualRequest(
                            request_id=rid,
                            observation=pb.Tensor(
                                shape=list(obs.shape), dtype="float32", data=obs.tobytes()
                            ),
                            interventions={"log_stellar_mass": value},
                            physics_tolerance=1e9,
                        ),
                        metadata=(("authorization", f"Bearer {tok}"),),
                        timeout=60,
                    )
                    got, cf = (
                        resp.request_id,
                        resp.counterfactual_properties_mean["log_stellar_mass"],
                    )
                else:
                    r = http.post(
                        "/v1/counterfactual",
                        json={
                            "request_id": rid,
                            "observation": tensor_json(obs),
                            "interventions": {"log_stellar_mass": value},
                            "physics_tolerance": 1e9,
                        },
                    )
                    r.raise_for_status()
                    got = r.json()["request_id"]
                    cf = r.json()["counterfactual_properties"]["log_stellar_mass"][0]
                # each answer belongs to its own request, even when batched with others
                assert got == rid, (rid, got)
                assert abs(cf - value) < 1e-6, (rid, cf, value)
                with lock:
                    answers[rid] = got
            except Exception as exc:  # collected, asserted below
                with lock:
                    failures.append(f"{rid}: {exc!r}")

    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    http.close()
    channel.close()
    assert not failures, failures[:5]
    assert len(answers) == CLIENTS * PER_CLIENT
    text = server.runtime.metrics.render().decode()
    grpc_ok = float(
        text.split(
            'acie_requests_total{code="OK",method="CounterfactualInference",protocol="grpc"} '
        )[1].split()[0]
    )
    rest_ok = float(
        text.split(
            'acie_requests_total{code="200",method="POST /v1/counterfactual",protocol="rest"} '
        )[1].split()[0]
    )
    assert grpc_ok + rest_ok == CLIENTS * PER_CLIENT
    assert server.runtime.core.pending == 0
    assert server.runtime.audit.flush()
    actions = [r.action for r in server.runtime.audit.audit_log.records()]
    assert actions.count("grpc.CounterfactualInference:OK") == grpc_ok
    assert actions.count("rest.POST /v1/counterfactual:200") == rest_ok
    assert np.isfinite(grpc_ok)


def test_a_request_is_counted_before_its_response_completes(tiny_engine, settings_factory):
    """The race behind a flaky load test: a client that has its answer must find it counted.

    Drives the ASGI app directly and reads the metrics at the moment the last body chunk
    is handed to the server, i.e. before any client could have read the whole response.
    """
    import asyncio

    from acie.serve.app import create_app
    from acie.serve.server import build_runtime

    rt = build_runtime(settings_factory(), model=tiny_engine)
    try:
        app = create_app(rt)
        seen: list[str] = []
        counted = 'acie_requests_total{code="200",method="GET /healthz",protocol="rest"} 1.0'

        async def receive() -> dict:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body"):
                seen.append(rt.metrics.render().decode())

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/healthz",
            "raw_path": b"/healthz",
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"testserver")],
            "client": ("127.0.0.1", 1234),
            "server": ("testserver", 80),
        }
        asyncio.run(app(scope, receive, send))
        assert len(seen) == 1
        assert counted in seen[0]
    finally:
        rt.close()
