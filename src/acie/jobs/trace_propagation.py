"""W3C trace context carried in a job's payload, so the worker's span joins the request's trace.

The submitting side calls :func:`inject_trace_context` on the payload it queues (the
context of the current OpenTelemetry span, as ``traceparent``/``tracestate`` strings under
``otel_context``); the worker runs each job inside :func:`job_span`, a CONSUMER span whose
parent is that context. Without OpenTelemetry, or for a payload with no context, both are
no-ops, so jobs from older submitters run exactly as before.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

__all__ = ["TRACE_CONTEXT_KEY", "inject_trace_context", "job_span"]

TRACE_CONTEXT_KEY = "otel_context"


def inject_trace_context(payload: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Add the current span's W3C trace context to ``payload`` (in place; returned)."""
    try:
        from opentelemetry import propagate
    except ImportError:  # OpenTelemetry not installed: nothing to carry
        return payload
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    if carrier:
        payload[TRACE_CONTEXT_KEY] = carrier
    return payload


@contextmanager
def job_span(job: Any) -> Iterator[Any]:
    """Run a block inside a span that continues the trace stored in ``job.payload``.

    Yields the span, or ``None`` when the payload carries no trace context.
    """
    payload = getattr(job, "payload", None) or {}
    carrier = payload.get(TRACE_CONTEXT_KEY) if isinstance(payload, dict) else None
    if not isinstance(carrier, dict) or not carrier:
        yield None
        return
    try:
        from opentelemetry import propagate, trace
    except ImportError:
        yield None
        return
    parent = propagate.extract({str(k): str(v) for k, v in carrier.items()})
    tracer = trace.get_tracer("acie.jobs")
    with tracer.start_as_current_span(
        f"job {payload.get('kind', 'run')}",
        context=parent,
        kind=trace.SpanKind.CONSUMER,
        attributes={
            "messaging.operation.type": "process",
            "acie.job.id": str(getattr(job, "id", "")),
            "acie.job.attempt": int(getattr(job, "attempts", 0) or 0),
        },
    ) as span:
        yield span
