"""OpenTelemetry: one job request is one connected trace from the REST gateway to the worker,
through the queue and the database, against the app as ``acie serve`` builds it."""

from __future__ import annotations

import time

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from acie.serve.telemetry_otel import otel_enabled

LOOSE = 1e9


def _reset_global_tracer_provider():
    """Forget the global tracer provider (what opentelemetry-test-utils' reset does)."""
    from opentelemetry.util._once import Once

    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None


@pytest.fixture
def spans():
    """A global SDK tracer provider with an in-memory exporter, for this test only.

    FastAPI traces every app natively once a global SDK provider exists, so it must not
    outlive the test (other tests' servers have OpenTelemetry off).
    """
    assert not isinstance(trace.get_tracer_provider(), TracerProvider)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    yield exporter
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    sqla = SQLAlchemyInstrumentor()
    if sqla.is_instrumented_by_opentelemetry:  # unwrap create_engine and engine events
        sqla.uninstrument()
    provider.shutdown()
    _reset_global_tracer_provider()
    assert not isinstance(trace.get_tracer_provider(), TracerProvider)


def test_off_by_default(settings_factory, monkeypatch):
    for name in (
        "OTEL_ENABLED",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ):
        monkeypatch.delenv(name, raising=False)
    assert not otel_enabled(settings_factory())
    assert otel_enabled(settings_factory(OTEL_ENABLED=True))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    assert otel_enabled(settings_factory())
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert not otel_enabled(settings_factory())


def _parents(spans_by_id, span):
    """The chain of ancestors of ``span`` among the exported spans (nearest first)."""
    chain = []
    while span.parent is not None and span.parent.span_id in spans_by_id:
        span = spans_by_id[span.parent.span_id]
        chain.append(span)
    return chain


def test_a_job_is_one_trace_from_gateway_to_worker(
    spans, server_factory, token, tensor_json, make_obs, monkeypatch
):
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    server = server_factory(OTEL_ENABLED=True)
    tok = token()
    body = {
        "request_id": "otel-1",
        "observation": tensor_json(make_obs(1)),
        "interventions": {"log_stellar_mass": 10.5},
        "physics_tolerance": LOOSE,
    }
    auth = {"Authorization": f"Bearer {tok}"}
    with httpx.Client(base_url=server.http_url, headers=auth, timeout=30) as c:
        r = c.post("/v1/jobs", json=body)
        assert r.status_code == 202, r.text
        job_id, header_tid = r.json()["job_id"], r.headers["x-trace-id"]
        deadline = time.monotonic() + 60
        while True:
            view = c.get(f"/v1/jobs/{job_id}").json()
            if view["state"] in ("COMPLETE", "FAILED") or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    assert view["state"] == "COMPLETE", view
    time.sleep(0.2)  # the worker's span ends just after the job's state is written

    finished = spans.get_finished_spans()
    by_id = {s.context.span_id: s for s in finished}
    (gateway,) = [
        s
        for s in finished
        if s.kind is trace.SpanKind.SERVER
        and s.attributes.get("http.route") == "/v1/jobs"
        and s.attributes.get("http.request.method", s.attributes.get("http.method")) == "POST"
    ]
    tid = gateway.context.trace_id
    # the log's / header's / result's trace id is the OTel trace id
    assert header_tid == format(tid, "032x")
    assert view["result"]["trace_id"] == header_tid
    (enqueue,) = [s for s in finished if s.name == "job enqueue"]
    (work,) = [s for s in finished if s.name == "job counterfactual"]
    assert enqueue.kind is trace.SpanKind.PRODUCER
    assert work.kind is trace.SpanKind.CONSUMER
    assert gateway in _parents(by_id, enqueue)
    assert work.parent.span_id == enqueue.context.span_id  # joined across the queue
    assert work.context.trace_id == tid
    # database statements of the submission and of the worker's writes, in the same trace
    db = [s for s in finished if s.context.trace_id == tid and "db.system" in s.attributes]
    assert any(gateway in _parents(by_id, s) for s in db)
    assert any(work in _parents(by_id, s) for s in db)


def test_grpc_calls_continue_the_callers_trace(spans, server_factory, monkeypatch):
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    server = server_factory(OTEL_ENABLED=True)
    caller_tid = "4bf92f3577b34da6a3ce929d0e0e4736"
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        stub.Check(
            health_pb2.HealthCheckRequest(),
            metadata=(("traceparent", f"00-{caller_tid}-00f067aa0ba902b7-01"),),
            timeout=10,
        )
    grpc_spans = [s for s in spans.get_finished_spans() if "Health/Check" in s.name]
    assert grpc_spans
    assert format(grpc_spans[-1].context.trace_id, "032x") == caller_tid
    assert grpc_spans[-1].kind is trace.SpanKind.SERVER
