"""The gRPC service end to end: real server on a free port, real channels, TLS and mutual TLS."""

from __future__ import annotations

import threading
import time

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from acie.serve.tls import TlsConfig
from acie.wire.proto import inference_pb2 as pb
from acie.wire.proto import inference_pb2_grpc as pb_grpc

LOOSE = 1e9
C = grpc.StatusCode


def _req(make_obs, request_id="g1", n=1, shape=None, **kw):
    obs = make_obs(n)
    if shape is not None:
        obs = np.zeros(shape, np.float32)
    fields = {"interventions": {"log_stellar_mass": 10.5}, "physics_tolerance": LOOSE}
    fields.update(kw)
    return pb.CounterfactualRequest(
        request_id=request_id,
        observation=pb.Tensor(
            shape=list(obs.shape), dtype="float32", data=obs.astype("<f4").tobytes()
        ),
        **fields,
    )


def _md(tok):
    return (("authorization", f"Bearer {tok}"),)


@pytest.fixture
def stub(server):
    ch = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
    yield pb_grpc.InferenceServiceStub(ch)
    ch.close()


def _code(fn):
    with pytest.raises(grpc.RpcError) as info:
        fn()
    return info.value.code(), info.value.details()


def _hold(server, make_obs, owner="holder", request_id="hold"):
    core = server.runtime.core
    release, started = threading.Event(), threading.Event()

    def stage(s):
        if s == "PROCESSING":
            started.set()
            release.wait(10)

    call = core.validate(
        request_id=request_id, observation=make_obs(1), interventions={}, physics_tolerance=LOOSE
    )
    fut = core.submit(owner, call, on_stage=stage)
    assert started.wait(10)
    return release, fut


def test_unary_ok_with_trace_id(stub, token, make_obs, tiny_engine):
    resp, call = stub.CounterfactualInference.with_call(
        _req(make_obs, n=3), metadata=(*_md(token()), ("x-trace-id", "grpc-trace-0001"))
    )
    assert resp.request_id == "g1"
    assert list(resp.counterfactual.shape) == [3, 1, 16, 16]
    images = np.frombuffer(resp.counterfactual.data, "<f4").reshape(3, 1, 16, 16)
    assert np.all(np.isfinite(images))
    assert len(resp.confidence) == 3
    assert all(0 <= c <= 1 for c in resp.confidence)
    assert len(resp.violation_score) == 3
    assert resp.latency_ms > 0
    assert resp.model_version == tiny_engine.model_version
    assert resp.counterfactual_properties_mean["log_stellar_mass"] == pytest.approx(10.5, abs=1e-6)
    assert dict(call.trailing_metadata())["x-trace-id"] == "grpc-trace-0001" == resp.trace_id


def test_invalid_argument_names_the_problem(stub, token, make_obs):
    code, details = _code(
        lambda: stub.CounterfactualInference(
            _req(make_obs, shape=(1, 3, 16, 16)), metadata=_md(token())
        )
    )
    assert code is C.INVALID_ARGUMENT
    assert "(n, 1, 16, 16)" in details
    code, details = _code(
        lambda: stub.CounterfactualInference(
            _req(make_obs, interventions={"phlogiston": 1.0}), metadata=_md(token())
        )
    )
    assert code is C.INVALID_ARGUMENT
    assert "'phlogiston'" in details
    code, _ = _code(
        lambda: stub.CounterfactualInference(
            _req(make_obs, interventions={"log_stellar_mass": -1.0}), metadata=_md(token())
        )
    )
    assert code is C.INVALID_ARGUMENT  # outside the calibrated range


def test_already_exists_while_in_flight(server, stub, token, make_obs):
    release, fut = _hold(server, make_obs, owner="alice", request_id="same")
    try:
        code, details = _code(
            lambda: stub.CounterfactualInference(
                _req(make_obs, request_id="same"), metadata=_md(token(sub="alice"))
            )
        )
    finally:
        release.set()
        fut.result(10)
    assert code is C.ALREADY_EXISTS
    assert "'same'" in details
    # once finished, the id may be used again
    stub.CounterfactualInference(
        _req(make_obs, request_id="same"), metadata=_md(token(sub="alice"))
    )


def test_resource_exhausted_queue_limit_and_rate_limit(server_factory, token, make_obs):
    server = server_factory(QUEUE_MAX_DEPTH=1, RATE_LIMIT_PER_MINUTE=3)
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as ch:
        stub = pb_grpc.InferenceServiceStub(ch)
        release, fut = _hold(server, make_obs)
        try:
            code, details = _code(
                lambda: stub.CounterfactualInference(_req(make_obs), metadata=_md(token()))
            )
        finally:
            release.set()
            fut.result(10)
        assert code is C.RESOURCE_EXHAUSTED
        assert "queue is full" in details
        stub.CounterfactualInference(_req(make_obs, request_id="a"), metadata=_md(token()))
        stub.CounterfactualInference(_req(make_obs, request_id="b"), metadata=_md(token()))
        code, details = _code(
            lambda: stub.CounterfactualInference(
                _req(make_obs, request_id="c"), metadata=_md(token())
            )
        )
        assert code is C.RESOURCE_EXHAUSTED
        assert "rate limit" in details


def test_resource_exhausted_message_size(server_factory, token, make_obs):
    server = server_factory(MAX_REQUEST_BYTES=4096)
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as ch:
        stub = pb_grpc.InferenceServiceStub(ch)
        code, _ = _code(
            lambda: stub.CounterfactualInference(_req(make_obs, n=8), metadata=_md(token()))
        )
    assert code is C.RESOURCE_EXHAUSTED


def test_failed_precondition_on_physics_violation(stub, token, make_obs):
    code, details = _code(
        lambda: stub.CounterfactualInference(
            _req(make_obs, physics_tolerance=1e-12, physics_steps=0), metadata=_md(token())
        )
    )
    assert code is C.FAILED_PRECONDITION
    assert "tolerance" in details


def test_unauthenticated_and_permission_denied(stub, token, make_obs):
    from acie.serve.auth import mint_token

    assert _code(lambda: stub.CounterfactualInference(_req(make_obs)))[0] is C.UNAUTHENTICATED
    expired = token(ttl_s=1, now=time.time() - 60)
    assert (
        _code(lambda: stub.CounterfactualInference(_req(make_obs), metadata=_md(expired)))[0]
        is C.UNAUTHENTICATED
    )
    forged = mint_token(subject="alice", secret="q" * 48)
    assert (
        _code(lambda: stub.CounterfactualInference(_req(make_obs), metadata=_md(forged)))[0]
        is C.UNAUTHENTICATED
    )
    code, details = _code(
        lambda: stub.CounterfactualInference(
            _req(make_obs), metadata=_md(token(role="collaborator"))
        )
    )
    assert code is C.PERMISSION_DENIED
    assert "collaborator" in details
    code, details = _code(
        lambda: stub.CounterfactualInference(
            _req(make_obs), metadata=_md(token(scopes=("inference:read",)))
        )
    )
    assert code is C.PERMISSION_DENIED
    assert "inference:write" in details
    # streams are guarded by the same interceptor
    code, _ = _code(lambda: list(stub.StreamInference(iter([_req(make_obs)]))))
    assert code is C.UNAUTHENTICATED


def test_deadline_exceeded(server_factory, token, make_obs):
    server = server_factory(WORKER_THREADS=1, REQUEST_TIMEOUT_S=0.3)
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as ch:
        stub = pb_grpc.InferenceServiceStub(ch)
        release, fut = _hold(server, make_obs)
        try:
            server_side = _code(
                lambda: stub.CounterfactualInference(
                    _req(make_obs, request_id="slow1"), metadata=_md(token())
                )
            )
            client_side = _code(
                lambda: stub.CounterfactualInference(
                    _req(make_obs, request_id="slow2"), metadata=_md(token()), timeout=0.1
                )
            )
        finally:
            release.set()
            fut.result(10)
    assert server_side[0] is C.DEADLINE_EXCEEDED
    assert "REQUEST_TIMEOUT_S" in server_side[1]
    assert client_side[0] is C.DEADLINE_EXCEEDED


def test_stream_answers_out_of_order_matched_by_request_id(server, stub, token, make_obs):
    # both inference workers are busy, so the valid requests wait while the malformed one
    # is answered at once: the first answer is for the second request sent
    holds = [_hold(server, make_obs, request_id=f"hold-{i}") for i in range(2)]
    requests = [
        _req(make_obs, request_id="first", n=2),
        _req(make_obs, request_id="bad-shape", shape=(1, 1, 4, 4)),
        *[_req(make_obs, request_id=f"ok-{i}", n=1) for i in range(6)],
    ]
    responses = []
    try:
        for r in stub.StreamInference(iter(requests), metadata=_md(token())):
            responses.append(r)
            if len(responses) == 1:
                for release, _ in holds:
                    release.set()
    finally:
        for release, fut in holds:
            release.set()
            fut.result(10)
    by_id = {r.request_id: r for r in responses}
    assert sorted(by_id) == sorted(r.request_id for r in requests)
    assert responses[0].request_id == "bad-shape"
    assert by_id["bad-shape"].status.code == C.INVALID_ARGUMENT.value[0]
    assert list(by_id["first"].counterfactual.shape) == [2, 1, 16, 16]
    for i in range(6):
        ok = by_id[f"ok-{i}"]
        assert ok.status.code == 0
        assert list(ok.counterfactual.shape) == [1, 1, 16, 16]


def test_stream_duplicate_request_id_in_flight(server, stub, token, make_obs):
    release, fut = _hold(server, make_obs, owner="alice", request_id="dup")
    try:
        responses = list(
            stub.StreamInference(
                iter([_req(make_obs, request_id="dup"), _req(make_obs, request_id="fresh")]),
                metadata=_md(token(sub="alice")),
            )
        )
    finally:
        release.set()
        fut.result(10)
    codes = {r.request_id: r.status.code for r in responses}
    assert codes == {"dup": C.ALREADY_EXISTS.value[0], "fresh": 0}


def test_health_services_and_graceful_shutdown(server_factory, make_obs, token):
    server = server_factory()
    ch = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
    health = health_pb2_grpc.HealthStub(ch)
    stub = pb_grpc.InferenceServiceStub(ch)
    check = health_pb2.HealthCheckRequest(service="acie.v1.InferenceService")
    assert health.Check(check).status == health_pb2.HealthCheckResponse.SERVING
    assert stub.HealthCheck(pb.HealthCheckRequest()).status == pb.HealthCheckResponse.SERVING
    release, fut = _hold(server, make_obs)
    stopper = threading.Thread(target=server.stop, kwargs={"grace_s": 5.0, "drain_s": 3.0})
    stopper.start()
    try:
        seen = None
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            seen = health.Check(check).status
            if seen == health_pb2.HealthCheckResponse.NOT_SERVING:
                break
            time.sleep(0.02)
        assert seen == health_pb2.HealthCheckResponse.NOT_SERVING
        assert (
            stub.HealthCheck(pb.HealthCheckRequest()).status == pb.HealthCheckResponse.NOT_SERVING
        )
        # while draining, new work is refused with UNAVAILABLE (clients retry elsewhere)
        code, _ = _code(lambda: stub.CounterfactualInference(_req(make_obs), metadata=_md(token())))
        assert code is C.UNAVAILABLE
    finally:
        release.set()
    # the call admitted before shutdown still finishes
    assert fut.result(10).images.shape == (1, 1, 16, 16)
    stopper.join(20)
    assert not stopper.is_alive()
    ch.close()


def test_tls(server_factory, pki, token, make_obs):
    server = server_factory(
        grpc_tls=TlsConfig(certificate_chain=pki["server_cert"], private_key=pki["server_key"])
    )
    creds = grpc.ssl_channel_credentials(root_certificates=pki["ca"])
    with grpc.secure_channel(f"localhost:{server.grpc_port}", creds) as ch:
        resp = pb_grpc.InferenceServiceStub(ch).CounterfactualInference(
            _req(make_obs), metadata=_md(token()), timeout=20
        )
        assert resp.request_id == "g1"
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as ch:  # plaintext refused
        code, _ = _code(
            lambda: pb_grpc.InferenceServiceStub(ch).HealthCheck(pb.HealthCheckRequest(), timeout=5)
        )
        assert code is C.UNAVAILABLE


def test_mutual_tls(server_factory, pki, token, make_obs):
    server = server_factory(
        grpc_tls=TlsConfig(
            certificate_chain=pki["server_cert"], private_key=pki["server_key"], client_ca=pki["ca"]
        )
    )
    target = f"localhost:{server.grpc_port}"
    good = grpc.ssl_channel_credentials(
        root_certificates=pki["ca"],
        private_key=pki["client_key"],
        certificate_chain=pki["client_cert"],
    )
    with grpc.secure_channel(target, good) as ch:
        resp = pb_grpc.InferenceServiceStub(ch).CounterfactualInference(
            _req(make_obs), metadata=_md(token()), timeout=20
        )
        assert resp.request_id == "g1"
    for creds in (
        grpc.ssl_channel_credentials(root_certificates=pki["ca"]),  # no client cert
        grpc.ssl_channel_credentials(
            root_certificates=pki["ca"],
            private_key=pki["rogue_client_key"],
            certificate_chain=pki["rogue_client_cert"],
        ),
    ):
        with grpc.secure_channel(target, creds) as ch:
            code, _ = _code(
                lambda ch=ch: pb_grpc.InferenceServiceStub(ch).HealthCheck(
                    pb.HealthCheckRequest(), timeout=5
                )
            )
            assert code is C.UNAVAILABLE


def test_grpc_calls_are_audited_and_counted(server, stub, token, make_obs):
    stub.CounterfactualInference(
        _req(make_obs, request_id="aud-1"), metadata=_md(token(sub="gina"))
    )
    _code(lambda: stub.CounterfactualInference(_req(make_obs, request_id="aud-2")))
    assert server.runtime.audit.flush()
    rows = [(r.user_sub, r.action, r.request_id) for r in server.runtime.audit.audit_log.records()]
    assert ("gina", "grpc.CounterfactualInference:OK", "aud-1") in rows
    assert any(
        a == "grpc.CounterfactualInference:UNAUTHENTICATED" and u is None for u, a, _ in rows
    )
    text = server.runtime.metrics.render().decode()
    assert (
        'acie_requests_total{code="OK",method="CounterfactualInference",protocol="grpc"} 1.0'
        in text
    )
    assert 'code="UNAUTHENTICATED",method="CounterfactualInference",protocol="grpc"' in text
