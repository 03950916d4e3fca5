"""Limits at the edge, over real sockets: floods before authentication, bounded metric
labels, audit records of refusals, token expiry on open streams, the ops report's guard."""

from __future__ import annotations

import concurrent.futures
import time

import grpc
import httpx
import numpy as np
import pytest

from acie.wire.proto import inference_pb2 as pb
from acie.wire.proto import inference_pb2_grpc as pb_grpc

LOOSE = 1e9


def _auth(tok):
    return {"Authorization": f"Bearer {tok}"}


def _grpc_req(request_id="g", n=1, extra_bytes=0):
    obs = np.random.default_rng(0).gamma(2.0, 10.0, size=(n, 1, 16, 16)).astype("<f4")
    return pb.CounterfactualRequest(
        request_id=request_id,
        observation=pb.Tensor(shape=list(obs.shape), dtype="float32", data=obs.tobytes()),
        physics_tolerance=LOOSE,
        interventions={"x" * 8: 1.0} if extra_bytes else {},
    )


def _rows(rt, before):
    assert rt.audit.flush()
    return list(rt.audit.audit_log.records(after_seq=before))


def test_bad_token_flood_gets_429_and_bounded_audit_rows(server_factory, token):
    server = server_factory(RATE_LIMIT_PER_MINUTE=600, AUDIT_AGGREGATE_WINDOW_S=300)
    rt = server.runtime
    before = rt.audit.audit_log.count()
    limit = rt.settings.AUTH_FAILURES_PER_MINUTE

    def hit(i):
        with httpx.Client(base_url=server.http_url) as c:
            return [
                c.get("/v1/models", headers=_auth(f"forged.{i}.{k}")).status_code for k in range(60)
            ]

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        codes = [c for batch in pool.map(hit, range(10)) for c in batch]
    assert len(codes) == 600
    assert set(codes) <= {401, 429}
    # the bucket refills ~1/s while the flood runs; 10 clients may race past it at once
    assert codes.count(401) <= limit + 15
    assert codes.count(429) >= 600 - limit - 15
    rows = _rows(rt, before)
    assert len(rows) <= 4, [r.action for r in rows]  # first 401, first 429, their counts
    counted = sum(int(r.action.rsplit("*", 1)[1]) for r in rows if "*" in r.action)
    assert counted + sum("*" not in r.action for r in rows) == 600
    with httpx.Client(base_url=server.http_url) as c:
        more = [c.get("/v1/models", headers=_auth(f"again.{k}")) for k in range(5)]
        health = c.get("/healthz")
    refused = [r for r in more if r.status_code == 429]
    assert refused, [r.status_code for r in more]
    assert refused[0].json()["error"]["code"] == "RESOURCE_EXHAUSTED"
    assert "AUTH_FAILURES_PER_MINUTE" in refused[0].json()["error"]["message"]
    assert int(refused[0].headers["retry-after"]) >= 1
    assert health.status_code == 200


def test_address_request_limit_applies_before_authentication(server_factory, token):
    server = server_factory(ADDRESS_RATE_LIMIT_PER_MINUTE=5)
    with httpx.Client(base_url=server.http_url) as c:
        codes = [c.get("/v1/models", headers=_auth(token())).status_code for _ in range(8)]
        health = c.get("/healthz")  # open routes are not limited per address
    assert codes[:5] == [200] * 5
    assert codes[5:] == [429] * 3
    assert health.status_code == 200


def _md(tok):
    return (("authorization", f"Bearer {tok}"),)


def test_grpc_bad_token_flood_is_limited_and_aggregated(server_factory):
    server = server_factory(AUTH_FAILURES_PER_MINUTE=10, AUDIT_AGGREGATE_WINDOW_S=300)
    rt = server.runtime
    before = rt.audit.audit_log.count()
    ch = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
    stub = pb_grpc.InferenceServiceStub(ch)
    codes = []
    for i in range(100):
        try:
            stub.CounterfactualInference(_grpc_req(), metadata=_md(f"bad-{i}"))
        except grpc.RpcError as exc:
            codes.append(exc.code())
    ch.close()
    assert codes.count(grpc.StatusCode.UNAUTHENTICATED) <= 12
    assert codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) >= 88
    rows = _rows(rt, before)
    assert len(rows) <= 4, [r.action for r in rows]


def test_invented_methods_create_no_metric_series(server):
    with httpx.Client(base_url=server.http_url) as c:
        for i in range(20):
            c.request(f"FOO{i}", "/healthz")
        for i in range(20):
            c.get(f"/v1/nothing-{i}")
        text = c.get("/metrics").text
    assert "FOO" not in text
    assert "nothing-" not in text
    series = [line for line in text.splitlines() if line.startswith("acie_requests_total{")]
    assert any('method="OTHER /healthz"' in line for line in series)
    assert len(series) < 10


def test_413_leaves_an_audit_record(server_factory, token):
    server = server_factory(MAX_REQUEST_BYTES=4096)
    rt = server.runtime
    before = rt.audit.audit_log.count()
    with httpx.Client(base_url=server.http_url) as c:
        r = c.post(
            "/v1/counterfactual",
            content=b"{" + b" " * 10_000 + b"}",
            headers={**_auth(token()), "Content-Type": "application/json"},
        )
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "RESOURCE_EXHAUSTED"
    actions = [row.action for row in _rows(rt, before)]
    assert "rest.POST /v1/counterfactual:413" in actions


def test_oversized_grpc_message_leaves_an_audit_record(server_factory, token):
    server = server_factory(MAX_REQUEST_BYTES=4096)
    rt = server.runtime
    before = rt.audit.audit_log.count()
    ch = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
    try:
        stub = pb_grpc.InferenceServiceStub(ch)
        with pytest.raises(grpc.RpcError) as info:
            stub.CounterfactualInference(_grpc_req(n=8), metadata=_md(token(sub="big")))
        assert info.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        ok = stub.CounterfactualInference(_grpc_req(n=1), metadata=_md(token(sub="big")))
        assert ok.request_id == "g"
    finally:
        ch.close()
    rows = [(row.user_sub, row.action) for row in _rows(rt, before)]
    assert ("big", "grpc.CounterfactualInference:RESOURCE_EXHAUSTED") in rows
    assert ("big", "grpc.CounterfactualInference:OK") in rows


def test_open_stream_ends_unauthenticated_when_the_token_expires(server, token):
    tok = token(ttl_s=2.0)
    sent = []

    def requests():
        sent.append(1)
        yield _grpc_req("s1")
        time.sleep(3.0)  # the token expires while the stream is open
        sent.append(2)
        yield _grpc_req("s2")

    ch = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
    try:
        stub = pb_grpc.InferenceServiceStub(ch)
        got: list[str] = []

        def consume():
            got.extend(
                resp.request_id for resp in stub.StreamInference(requests(), metadata=_md(tok))
            )

        with pytest.raises(grpc.RpcError) as info:
            consume()
        assert info.value.code() is grpc.StatusCode.UNAUTHENTICATED
        assert "expired" in info.value.details()
        assert got == ["s1"]
    finally:
        ch.close()


def test_ops_report_needs_ops_read_when_telemetry_is_encrypted(server_factory, token):
    import base64

    key = base64.b64encode(bytes(range(32))).decode()
    server = server_factory(TELEMETRY_KEY=key)
    with httpx.Client(base_url=server.http_url) as c:
        anon = c.get("/ops/report")
        plain = c.get("/ops/report", headers=_auth(token()))
        ops = c.get("/ops/report", headers=_auth(token(scopes=("ops:read",))))
        forged = c.get("/ops/metrics", headers=_auth("not-a-token"))
    assert anon.status_code == 401
    assert anon.json()["error"]["code"] == "UNAUTHENTICATED"
    assert plain.status_code == 403
    assert "ops:read" in plain.json()["error"]["message"]
    assert ops.status_code == 200
    assert forged.status_code == 401
    opened = server_factory(TELEMETRY_KEY=key, OPS_OPEN=True)
    with httpx.Client(base_url=opened.http_url) as c:
        assert c.get("/ops/report").status_code == 200
    unkeyed = server_factory()
    with httpx.Client(base_url=unkeyed.http_url) as c:
        assert c.get("/ops/report").status_code == 200


class _StalledLog:
    """An audit log whose writes wait until released (a database that has stalled)."""

    def __init__(self):
        import threading

        self.release = threading.Event()
        self.rows = []

    def append(self, **rec):
        self.release.wait(30)
        self.rows.append(rec)

    def append_many(self, recs):
        self.release.wait(30)
        self.rows.extend(recs)


def test_audit_record_never_blocks_and_counts_what_it_drops():
    from acie.serve.audit_writer import AuditWriter

    log = _StalledLog()
    writer = AuditWriter(audit_log=log, max_queue=10, window_s=300)
    t0 = time.perf_counter()
    for i in range(500):  # the writer thread is stuck on the first batch
        writer.record(actor="a", action="rest.GET /v1/models", outcome="200", request_id=f"r{i}")
    assert time.perf_counter() - t0 < 5.0  # returns at once (a blocking put would hang here)
    assert writer.dropped >= 400
    log.release.set()
    assert writer.flush()
    actions = [r["action"] for r in log.rows]
    dropped = [a for a in actions if a.startswith("audit.dropped:*")]
    assert dropped
    assert sum(int(a.rsplit("*", 1)[1]) for a in dropped) == writer.dropped
    assert len(actions) - len(dropped) + writer.dropped == 500
    writer.close()


def test_refused_calls_are_aggregated_per_window():
    from acie.serve.audit_writer import AuditWriter

    log = _StalledLog()
    log.release.set()
    writer = AuditWriter(audit_log=log, window_s=300, max_keys=3)
    for ip in ("10.0.0.1", "10.0.0.2"):
        for _ in range(100):
            writer.refused(actor=None, action="rest.GET /v1/models", outcome="401", ip=ip)
    for k in range(50):  # more distinct keys than max_keys: counted under one overflow key
        writer.refused(actor=f"u{k}", action="grpc.X", outcome="RESOURCE_EXHAUSTED", ip="10.0.0.3")
    assert writer.flush()
    actions = sorted(r["action"] for r in log.rows)
    assert actions.count("rest.GET /v1/models:401") == 2
    assert actions.count("rest.GET /v1/models:401*99") == 2
    overflow = [a for a in actions if a.startswith("audit.overflow")]
    assert len(log.rows) <= 8, actions
    counted = sum(int(a.rsplit("*", 1)[1]) for a in actions if "*" in a)
    assert counted + sum("*" not in a for a in actions) == 250
    assert overflow
    writer.close()


def test_a_refused_message_that_ends_the_stream_is_audited_as_resource_exhausted():
    """The CI race of the test above: the runtime refused the oversized message and ended
    the request stream (no RpcError); that was audited INVALID_ARGUMENT while the client
    got RESOURCE_EXHAUSTED. A unary call's stream ends empty only when the message was
    refused or the client cancelled."""
    from acie.errors import RateLimitError
    from acie.serve.grpc_auth import _one_request

    with pytest.raises(RateLimitError, match="MAX_REQUEST_BYTES"):
        _one_request(iter(()), 4096)
    assert _one_request(iter(["m"]), 4096) == "m"
