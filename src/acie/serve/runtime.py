"""Everything a running server shares: settings, model, auth, limits, metrics, audit, backends.

One :class:`ServingRuntime` is built per server process and handed to the REST app
(:func:`acie.serve.app.create_app`), the gRPC server (:class:`acie.serve.grpc_server.GrpcServer`)
and the job worker, so the three see the same rules, the same metrics registry and the same
health flag.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from typing import Any

from acie.serve.audit_writer import AuditWriter
from acie.serve.auth import TokenVerifier
from acie.serve.inference import CounterfactualModel, InferenceCore
from acie.serve.metrics import ServiceMetrics
from acie.serve.ratelimit import AddressLimits, RateLimiter, open_rate_limiter

__all__ = ["ServingRuntime"]

log = logging.getLogger("acie.serve.runtime")


@dataclass(kw_only=True)
class ServingRuntime:
    """The shared state of one server process.

    Parameters
    ----------
    settings : acie.config.Settings
    model : CounterfactualModel
        The served counterfactual model.
    verifier : TokenVerifier
    audit : AuditWriter
    rate_limiter : RateLimiter
    metrics : ServiceMetrics
    core : InferenceCore
    job_queue : acie.jobs.JobQueue or None
        Backend of asynchronous jobs (``None``: the job endpoints answer UNAVAILABLE).
    vector_index : object or None
        kNN index of galaxy embeddings (``None``: search answers UNAVAILABLE).
    blind_layer : acie.serve.blind.BlindLayer or None
        Plaintext-weight linear layer applied to encrypted vectors in blind inference.
    model_name : str
        Name under which the model is listed.
    flags : acie.config.FeatureFlags or None
        Feature flags read per request (``FLAGS_FILE``; :mod:`acie.serve.features`);
        ``None``: every feature at its default.
    address_limits : AddressLimits or None
        Limits per client address applied before token verification (``None``: none).
    """

    settings: Any
    model: CounterfactualModel
    verifier: TokenVerifier
    audit: AuditWriter
    rate_limiter: RateLimiter
    metrics: ServiceMetrics
    core: InferenceCore
    job_queue: Any = None
    vector_index: Any = None
    #: why ``vector_index`` is None (e.g. stored vectors of another embedder), for answers
    vector_index_problem: str | None = None
    blind_layer: Any = None
    model_name: str = "galaxy-deepscm"
    flags: Any = None
    address_limits: AddressLimits | None = None
    serving: bool = True
    _closers: list[Any] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        *,
        settings: Any,
        model: CounterfactualModel,
        audit_log: Any,
        secret: str | None = None,
        job_queue: Any = None,
        vector_index: Any = None,
        blind_layer: Any = None,
        rate_limiter: RateLimiter | None = None,
        model_name: str = "galaxy-deepscm",
    ) -> ServingRuntime:
        """Assemble a runtime from settings and already-opened backends."""
        from acie.serve.features import open_flags

        metrics = ServiceMetrics()
        core = InferenceCore(
            model=model,
            metrics=metrics,
            max_concurrency=settings.WORKER_THREADS,
            max_pending=settings.QUEUE_MAX_DEPTH,
            timeout_s=settings.REQUEST_TIMEOUT_S,
            physics_tolerance=settings.PHYSICS_TOLERANCE,
            physics_steps=settings.PHYSICS_STEPS,
            max_steps=settings.MAX_STEPS,
        )
        return cls(
            settings=settings,
            model=model,
            verifier=TokenVerifier.from_settings(settings, secret=secret),
            audit=AuditWriter(audit_log=audit_log, window_s=settings.AUDIT_AGGREGATE_WINDOW_S),
            rate_limiter=rate_limiter
            or open_rate_limiter(
                per_minute=settings.RATE_LIMIT_PER_MINUTE, redis_url=settings.REDIS_URL
            ),
            metrics=metrics,
            core=core,
            job_queue=job_queue,
            vector_index=vector_index,
            blind_layer=blind_layer,
            model_name=model_name,
            flags=open_flags(settings),
            address_limits=AddressLimits(
                per_minute=settings.ADDRESS_RATE_LIMIT_PER_MINUTE,
                failures_per_minute=settings.AUTH_FAILURES_PER_MINUTE,
            ),
        )

    @property
    def model_version(self) -> str:
        """The served model's version (SHA-256 of its weights), ``""`` when it has none."""
        return str(getattr(self.model, "model_version", ""))

    def gpu_count(self) -> int:
        """CUDA devices visible to this process (0 without torch or CUDA; never imports torch)."""
        torch = sys.modules.get("torch")
        if torch is None:
            return 0
        try:
            return int(torch.cuda.device_count())
        except Exception:  # a broken CUDA install must not break health checks
            return 0

    def queue_depth(self) -> int:
        """Jobs waiting in the job queue plus requests admitted to the inference pool."""
        jobs = 0
        if self.job_queue is not None:
            try:
                jobs = int(self.job_queue.depth())
            except Exception:
                log.warning("job queue depth unavailable", exc_info=True)
        self.metrics.queue_depth.labels("jobs").set(jobs)
        return jobs + self.core.pending

    def on_close(self, fn: Any) -> None:
        """Call ``fn()`` on :meth:`close` (in reverse order of registration)."""
        self._closers.append(fn)

    def close(self) -> None:
        """Stop serving: health NOT_SERVING, drain inference, flush the audit log."""
        self.serving = False
        self.core.close(wait=True)
        self.audit.close()
        for fn in reversed(self._closers):
            try:
                fn()
            except Exception:
                log.warning("error while closing", exc_info=True)
