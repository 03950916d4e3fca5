"""Prometheus metrics of the serving layer.

Each :class:`ServiceMetrics` owns its own registry, so several servers (for example in
tests) never collide on metric names. Exposed at ``GET /metrics`` in the text format.

========================================  =========  =============================================
name                                      type       labels
========================================  =========  =============================================
``acie_requests_total``                   counter    protocol (rest/grpc), method, code
``acie_request_latency_seconds``          histogram  protocol, method
``inference_queue_depth``                 gauge      queue (jobs: the job queue; inflight: requests
                                                     admitted to the inference pool)
``acie_physics_violations_total``         counter    —  counterfactuals refused for physics
``acie_physics_violation_score``          histogram  —  violation score of every counterfactual
``acie_rate_limited_total``               counter    protocol
``acie_model_cpu_seconds_total``          counter    —  CPU of the model's own calls (so the
                                                     serving overhead is the rest)
========================================  =========  =============================================
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from acie.serve.saturation import register_saturation

__all__ = ["CONTENT_TYPE_LATEST", "ServiceMetrics"]

# seconds; resolves the 100 ms goal and the slow tail of physics projection
_LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)
_SCORE_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


class ServiceMetrics:
    """The metrics of one server process (one registry)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "acie_requests_total",
            "Requests by protocol, method and status code",
            ["protocol", "method", "code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "acie_request_latency_seconds",
            "Request latency, seconds",
            ["protocol", "method"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "inference_queue_depth",
            "Work waiting: queued jobs, or requests in the inference pool",
            ["queue"],
            registry=self.registry,
        )
        self.physics_violations = Counter(
            "acie_physics_violations_total",
            "Counterfactuals refused because the physics violation score stayed above tolerance",
            registry=self.registry,
        )
        self.violation_score = Histogram(
            "acie_physics_violation_score",
            "Physics violation score of counterfactuals (dimensionless)",
            buckets=_SCORE_BUCKETS,
            registry=self.registry,
        )
        self.model_cpu = Counter(
            "acie_model_cpu_seconds_total",
            "CPU seconds spent inside the model's counterfactual calls (inference threads)",
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "acie_rate_limited_total",
            "Requests refused by the rate limit",
            ["protocol"],
            registry=self.registry,
        )
        register_saturation(self.registry)  # CPU, memory, GPU: acie.serve.saturation

    def observe_request(self, *, protocol: str, method: str, code: str, seconds: float) -> None:
        """Count one finished request and record its latency."""
        self.requests.labels(protocol, method, code).inc()
        self.latency.labels(protocol, method).observe(seconds)

    def render(self) -> bytes:
        """The registry in the Prometheus text exposition format."""
        return generate_latest(self.registry)
