"""The protocol-free core of counterfactual serving, shared by gRPC, REST and the job worker.

:class:`InferenceCore` validates a request against the served model, admits it to a
bounded pool of inference threads (which batch compatible requests into one model call,
:mod:`acie.serve.batching`), runs the model's counterfactual (abduction → action →
prediction → physics check) and returns the result. It enforces three of the
service's rules, whatever the protocol:

- a caller's ``request_id`` may be in flight only once (:class:`ConflictError`,
  ALREADY_EXISTS);
- at most ``max_pending`` requests wait or run at once (:class:`RateLimitError`,
  RESOURCE_EXHAUSTED, "queue limit");
- a request that takes longer than ``timeout_s`` is answered with :class:`TimeoutError`
  (DEADLINE_EXCEEDED); a request still queued then is dropped, one already running
  finishes in the background and is discarded;
- galaxies are refused one by one (``status``/``reason`` per galaxy in the answer); the
  request as a whole is refused only when every galaxy is, or, with ``all_or_nothing``,
  when any is (:func:`refuse_failed`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import numpy as np

from acie.errors import ConflictError, PhysicsViolationError, RateLimitError
from acie.serve.batching import BatchItem, MicroBatcher
from acie.serve.calls import CounterfactualCall, CounterfactualModel, validate_call
from acie.serve.metrics import ServiceMetrics
from acie.serve.outcomes import check_finite, checked_future, refuse_failed
from acie.serve.tracing import current_trace_id, trace_context

__all__ = [
    "CounterfactualCall",
    "CounterfactualModel",
    "InferenceCore",
    "check_finite",
    "refuse_failed",
]

log = logging.getLogger("acie.serve.inference")

#: most images in one micro-batch of several requests (CPU cost per image is lowest
#: around 8-32 images per call on the default model; larger batches only add latency)
MAX_MICRO_BATCH = 16


def _stage_name(stage: object) -> str:
    return str(getattr(stage, "value", stage)).upper()


class InferenceCore:
    """Admission, de-duplication, timeouts and metrics around one served model.

    Parameters
    ----------
    model : CounterfactualModel
        The served model.
    metrics : ServiceMetrics
        Where latencies, queue depth and physics violations are recorded.
    max_concurrency : int
        Inference threads.
    max_pending : int
        Requests admitted at once (running plus waiting); more are refused.
    timeout_s : float
        Per-request timeout, seconds.
    physics_tolerance : float
        Default largest violation score.
    physics_steps : int
        Default projection steps.
    max_steps : int
        Most projection steps a request may ask for (``MAX_STEPS``).
    max_batch_images : int
        Largest micro-batch, images (1 disables batching).
    warm_up : bool
        Each inference thread runs :meth:`warm_up` before taking requests
        (:meth:`wait_ready` waits for them).
    """

    def __init__(
        self,
        *,
        model: CounterfactualModel,
        metrics: ServiceMetrics,
        max_concurrency: int = 2,
        max_pending: int = 1000,
        timeout_s: float = 30.0,
        physics_tolerance: float = 0.05,
        physics_steps: int = 50,
        max_steps: int = 100_000,
        max_batch_images: int = MAX_MICRO_BATCH,
        warm_up: bool = True,
    ) -> None:
        self.model = model
        self.metrics = metrics
        self.max_pending = max_pending
        self.timeout_s = timeout_s
        self.physics_tolerance = physics_tolerance
        self.physics_steps = physics_steps
        self.max_steps = max_steps
        self._pool = MicroBatcher(
            run=self._run_batch,
            workers=max_concurrency,
            max_images=max(1, max_batch_images),
            on_start=self.warm_up if warm_up else None,
        )
        self._lock = threading.Lock()
        self._inflight: set[tuple[str, str]] = set()
        self._pending = 0

    # -- validation -------------------------------------------------------------------------
    def validate(
        self,
        *,
        request_id: str,
        observation: np.ndarray,
        interventions: Mapping[str, Any],
        physics_tolerance: float | None = None,
        physics_steps: int | None = None,
        n_particles: int | None = None,
        all_or_nothing: bool = False,
        expected_draws: int | None = None,
    ) -> CounterfactualCall:
        """Check a request against the served model.

        See :func:`acie.serve.calls.validate_call`; ``physics_steps`` above this core's
        ``max_steps`` is refused.
        """
        return validate_call(
            self.model,
            request_id=request_id,
            observation=observation,
            interventions=interventions,
            physics_tolerance=physics_tolerance,
            physics_steps=physics_steps,
            max_steps=self.max_steps,
            n_particles=n_particles,
            all_or_nothing=all_or_nothing,
            expected_draws=expected_draws,
        )

    # -- execution --------------------------------------------------------------------------
    @property
    def pending(self) -> int:
        """Requests admitted and not yet finished."""
        return self._pending

    def _admit(self, owner: str, request_id: str) -> None:
        with self._lock:
            key = (owner, request_id)
            if key in self._inflight:
                raise ConflictError(f"request_id {request_id!r} is already in flight")
            if self._pending >= self.max_pending:
                raise RateLimitError(
                    f"the inference queue is full: {self._pending} requests admitted, "
                    f"limit {self.max_pending} (QUEUE_MAX_DEPTH); retry later"
                )
            self._inflight.add(key)
            self._pending += 1
            self.metrics.queue_depth.labels("inflight").set(self._pending)

    def _release(self, owner: str, request_id: str) -> None:
        with self._lock:
            self._inflight.discard((owner, request_id))
            self._pending -= 1
            self.metrics.queue_depth.labels("inflight").set(self._pending)

    def _settings(self, call: CounterfactualCall) -> tuple[float, int]:
        tolerance = call.physics_tolerance or self.physics_tolerance
        steps = self.physics_steps if call.physics_steps is None else call.physics_steps
        return float(tolerance), int(steps)

    def _call_model(
        self,
        images: np.ndarray,
        interventions: Mapping[str, Any],
        tolerance: float,
        steps: int,
        stages: list[Callable[[str], None]],
        *,
        alone: bool,
        n_particles: int = 0,
        expected_draws: int = 0,
    ) -> Any:
        for cb in stages:
            cb("PROCESSING")

        def stage(s: object) -> None:
            for cb in stages:
                cb(_stage_name(s))

        cpu0 = time.thread_time()  # torch runs one intra-op thread per worker (acie serve)
        try:
            try:
                result = self.model.counterfactual(
                    images,
                    interventions,
                    physics_tolerance=tolerance,
                    physics_steps=steps,
                    watermark=True,
                    on_stage=stage,
                    per_galaxy=True,
                    **({"n_particles": n_particles} if n_particles else {}),
                    **({"expected_draws": expected_draws} if expected_draws else {}),
                )
            finally:
                self.metrics.model_cpu.inc(time.thread_time() - cpu0)
            check_finite(result)
        except PhysicsViolationError as exc:
            if alone:  # a shared batch that fails is re-run request by request: count once
                self.metrics.physics_violations.inc()
                if exc.score is not None and math.isfinite(exc.score):
                    self.metrics.violation_score.observe(float(exc.score))
                log.info(
                    "counterfactual refused: physics violation",
                    extra={"score": exc.score, "tolerance": tolerance},
                )
            raise
        status = getattr(result, "status", None)
        refused = 0 if status is None else int(np.sum(np.atleast_1d(status) == "refused"))
        if refused:
            self.metrics.physics_violations.inc(refused)
        for s in np.atleast_1d(np.asarray(result.violation_score, dtype=float)):
            if math.isfinite(s):
                self.metrics.violation_score.observe(float(s))
        return result

    def _run_batch(
        self,
        images: np.ndarray,
        interventions: Mapping[str, Any],
        tolerance: float,
        steps: int,
        items: list[BatchItem],
    ) -> Any:
        trace_id = items[0].context[0]
        with trace_context(trace_id):
            if len(items) > 1:
                log.debug("micro-batch", extra={"requests": len(items), "images": len(images)})
            stages = [it.context[1] for it in items if it.context[1] is not None]
            n_particles, expected_draws = (*items[0].options, 0, 0)[:2]
            return self._call_model(
                images,
                interventions,
                tolerance,
                steps,
                stages,
                alone=len(items) == 1,
                n_particles=n_particles,
                expected_draws=expected_draws,
            )

    def run(
        self, call: CounterfactualCall, *, on_stage: Callable[[str], None] | None = None
    ) -> Any:
        """Run ``call`` in the calling thread (the job worker), without admission control."""
        tolerance, steps = self._settings(call)
        result = self._call_model(
            call.observation,
            call.interventions,
            tolerance,
            steps,
            [on_stage] if on_stage else [],
            alone=True,
            n_particles=call.n_particles,
            expected_draws=call.expected_draws,
        )
        refuse_failed(result, all_or_nothing=call.all_or_nothing)
        return result

    def submit(
        self, owner: str, call: CounterfactualCall, *, on_stage: Callable[[str], None] | None = None
    ) -> Future:
        """Admit ``call`` for ``owner`` and queue it; the future holds the model's result.

        Raises :class:`ConflictError` or :class:`RateLimitError` at once if not admitted.
        """
        self._admit(owner, call.request_id)
        tolerance, steps = self._settings(call)
        item = BatchItem(
            images=call.observation,
            interventions=call.interventions,
            tolerance=tolerance,
            steps=steps,
            future=Future(),
            context=(current_trace_id(), on_stage),
            # a request with particles runs alone, so its seeded draws (and so its
            # uncertainty) do not depend on which requests it was batched with; one asking
            # for the expected answer batches only with requests asking for as many draws
            options=(call.n_particles, call.expected_draws, object())
            if call.n_particles
            else (0, call.expected_draws),
        )
        item.future.add_done_callback(lambda _f: self._release(owner, call.request_id))
        try:
            inner = self._pool.submit(item)
        except RuntimeError:  # pool shut down
            item.future.cancel()
            raise
        return checked_future(inner, call.all_or_nothing)

    def infer(
        self,
        owner: str,
        call: CounterfactualCall,
        *,
        timeout_s: float | None = None,
        on_stage: Callable[[str], None] | None = None,
    ) -> Any:
        """Run ``call`` and wait for the result (at most ``timeout_s``, else the default)."""
        t0 = time.perf_counter()
        fut = self.submit(owner, call, on_stage=on_stage)
        limit = self.timeout_s if timeout_s is None else min(timeout_s, self.timeout_s)
        try:
            return fut.result(timeout=limit)
        except FutureTimeout:
            fut.cancel()  # dropped if still queued
            raise TimeoutError(
                f"request {call.request_id!r} did not finish within {limit:.3g} s "
                f"(REQUEST_TIMEOUT_S); waited {time.perf_counter() - t0:.3g} s"
            ) from None

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until every inference thread is warmed up (``False`` on timeout)."""
        return self._pool.wait_ready(timeout)

    def warm_up(self) -> float:
        """Run the model a few times on a blank image so the first requests start fast.

        The runs pay the start-up costs (lazy imports, allocator and convolution caches),
        including interventions with the physics projection. Failures are logged, never
        raised: a model that cannot answer a blank image may still answer real ones.

        Returns
        -------
        float
            The seconds it took.
        """
        t0 = time.perf_counter()
        blank = np.zeros((1, *tuple(self.model.image_shape)), dtype=np.float32)
        try:
            first = self.model.counterfactual(
                blank, {}, physics_tolerance=float("inf"), physics_steps=0, watermark=False
            )
            name = next(iter(self.model.property_names))
            value = float(np.asarray(first.factual_properties[name]).ravel()[0])
            for _ in range(2):
                with contextlib.suppress(PhysicsViolationError):
                    self.model.counterfactual(
                        blank,
                        {name: value},
                        physics_tolerance=self.physics_tolerance,
                        physics_steps=self.physics_steps,
                        watermark=True,
                    )
        except Exception as exc:
            log.warning("model warm-up incomplete: %s", exc)
        return time.perf_counter() - t0

    def close(self, *, wait: bool = True) -> None:
        """Stop accepting work; with ``wait``, let queued and running requests finish."""
        self._pool.close(wait=wait)
