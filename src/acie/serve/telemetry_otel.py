"""OpenTelemetry traces of the serving layer: REST, gRPC, the job queue, the worker, the database.

Off by default. On when ``OTEL_ENABLED`` is true or ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set, unless ``OTEL_SDK_DISABLED=true``. The OTLP
exporter (HTTP/protobuf) and the resource are configured by the standard ``OTEL_*``
variables (``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_EXPORTER_OTLP_*``,
``OTEL_TRACES_SAMPLER``…), read by the SDK itself. Needs the ``otel`` extra.

What is traced, with the field's standard instrumentations:

- REST: ``opentelemetry-instrumentation-fastapi`` on the app (server spans; ``traceparent``
  from callers is honoured);
- gRPC: the server interceptor of ``opentelemetry-instrumentation-grpc``;
- database: ``opentelemetry-instrumentation-sqlalchemy`` on the engine (the SQL job queue,
  audit log, registry);
- Redis: ``opentelemetry-instrumentation-redis`` (job streams, rate limits);
- the queue and the worker: a PRODUCER span around each submission whose context travels in
  the job's payload, and a CONSUMER span around each job the worker runs
  (:mod:`acie.jobs.trace_propagation`).

The log's ``trace_id`` is the OTel trace id (:func:`acie.serve.tracing.parse_trace_id`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from acie.errors import ConfigurationError

__all__ = [
    "grpc_interceptors",
    "instrument_app",
    "instrument_backends",
    "otel_enabled",
    "producer_span",
    "tracer_provider",
]

_lock = threading.Lock()
_redis_done = False


def otel_enabled(settings: Any) -> bool:
    """Whether traces are on for these settings and this environment."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return bool(
        getattr(settings, "OTEL_ENABLED", False)
        or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def tracer_provider() -> Any:
    """The process's SDK tracer provider, made on first use with an OTLP batch exporter.

    A provider already installed (by the application or a test) is used as it is.
    """
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
    except ImportError as exc:
        raise ConfigurationError(
            "OpenTelemetry is enabled (OTEL_ENABLED or OTEL_EXPORTER_OTLP_ENDPOINT) but the "
            f"otel extra is not installed: pip install 'acie[otel]' (got {exc})"
        ) from exc
    with _lock:
        current = trace.get_tracer_provider()
        if isinstance(current, TracerProvider):
            return current
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider = TracerProvider(resource=Resource.create())
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)
        return trace.get_tracer_provider()


def instrument_app(app: Any, settings: Any) -> None:
    """Trace the REST app's calls (health and metrics scrapes excluded)."""
    if not otel_enabled(settings):
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=tracer_provider(), excluded_urls="/healthz,/metrics"
    )


def grpc_interceptors(settings: Any) -> list[Any]:
    """Server interceptors that trace gRPC calls (first in the chain), or none."""
    if not otel_enabled(settings):
        return []
    from opentelemetry.instrumentation.grpc import server_interceptor

    return [server_interceptor(tracer_provider=tracer_provider())]


def instrument_backends(settings: Any, engine: Any) -> None:
    """Trace the SQLAlchemy ``engine``'s statements and, once per process, Redis commands."""
    global _redis_done
    if not otel_enabled(settings):
        return
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    provider = tracer_provider()
    # skip_dep_check: the instrumentation declares sqlalchemy < 2.1 but works through the
    # engine events 2.1 keeps (tests/serve/test_otel_trace.py shows the spans)
    SQLAlchemyInstrumentor().instrument(
        engine=engine, tracer_provider=provider, skip_dep_check=True
    )
    if settings.REDIS_URL:
        with _lock:
            if not _redis_done:
                from opentelemetry.instrumentation.redis import RedisInstrumentor

                RedisInstrumentor().instrument(tracer_provider=provider)
                _redis_done = True


@contextmanager
def producer_span(name: str, **attributes: Any) -> Iterator[Any]:
    """A PRODUCER span (a job entering the queue) when a trace is being recorded, else None."""
    from acie.serve.tracing import otel_trace_id

    if otel_trace_id() is None:  # no current trace: nothing to continue
        yield None
        return
    from opentelemetry import trace

    tracer = trace.get_tracer("acie.serve")
    with tracer.start_as_current_span(
        name, kind=trace.SpanKind.PRODUCER, attributes=attributes
    ) as span:
        yield span
