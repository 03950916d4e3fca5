"""Trace ids and structured JSON logs.

A trace id follows one request through REST (``X-Trace-Id`` header, or the trace id of a
W3C ``traceparent``), gRPC (``x-trace-id`` metadata) and jobs (stored with the job and
restored by the worker). It lives in a context variable, and :class:`JsonFormatter`
writes it into every log line as ``trace_id``.

With OpenTelemetry on (:mod:`acie.serve.telemetry_otel`) the trace id *is* the OTel trace
id: inside a span, :func:`parse_trace_id` returns the span's trace id (32 hex digits), so
logs, ``X-Trace-Id`` answers, job results and exported spans all name one trace.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import secrets
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = [
    "JsonFormatter",
    "configure_logging",
    "current_trace_id",
    "new_trace_id",
    "otel_trace_id",
    "parse_trace_id",
    "trace_context",
]

_trace_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "acie_trace_id", default=None
)
_VALID = re.compile(r"^[0-9A-Za-z._-]{8,64}$")
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")


def new_trace_id() -> str:
    """A fresh random trace id (32 hex digits, the W3C trace-context size)."""
    return secrets.token_hex(16)


def otel_trace_id() -> str | None:
    """The trace id of the current OpenTelemetry span (32 hex digits), if there is one.

    Never imports OpenTelemetry: without it loaded there is no span and the answer is None.
    """
    otel = sys.modules.get("opentelemetry.trace")
    if otel is None:
        return None
    ctx = otel.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


def parse_trace_id(value: str | None, traceparent: str | None = None) -> str:
    """The trace id of a call: the current OTel span's, else the caller's, else a new one.

    A caller's id is used only when well formed (never trust arbitrary text).
    """
    span_tid = otel_trace_id()
    if span_tid:
        return span_tid
    if value and _VALID.match(value):
        return value
    if traceparent:
        m = _TRACEPARENT.match(traceparent.strip())
        if m:
            return m.group(1)
    return new_trace_id()


def current_trace_id() -> str | None:
    """The trace id of the running request (or of the current OTel span), if any."""
    return _trace_id.get() or otel_trace_id()


@contextmanager
def trace_context(trace_id: str | None) -> Iterator[str]:
    """Run a block with ``trace_id`` (or a new one) as the current trace id."""
    tid = trace_id or new_trace_id()
    token = _trace_id.set(tid)
    try:
        yield tid
    finally:
        _trace_id.reset(token)


_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, trace_id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON, with its trace id, extra fields and exception text."""
        out = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        tid = getattr(record, "trace_id", None) or _trace_id.get() or otel_trace_id()
        if tid:
            out["trace_id"] = tid
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in out:
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def configure_logging(level: str = "INFO", stream=None) -> None:
    """Send the ``acie`` loggers to ``stream`` (stderr) as JSON lines; idempotent."""
    logger = logging.getLogger("acie")
    logger.setLevel(level)
    for h in list(logger.handlers):
        if getattr(h, "_acie_json", False):
            logger.removeHandler(h)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler._acie_json = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.propagate = False
