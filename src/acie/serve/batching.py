"""Adaptive micro-batching of counterfactual requests.

Requests wait in one FIFO queue served by a few worker threads. A worker takes the
oldest request and, without waiting, every other queued request that can share a model
call with it: the same intervened variables (their values may differ per image, the
model takes one value per image), the same physics tolerance and projection steps, up
to ``max_images`` images in all. At low load every batch holds one request, so nothing
waits for company; under load the batches grow, and one forward pass over many images
costs far less than as many single passes.

A failure of a shared call (for example one request's counterfactual violating the
physics tolerance) must not fail its neighbours, so a batch that raises is re-run one
request at a time and each request gets its own result or error.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["BatchItem", "MicroBatcher", "split_result"]

log = logging.getLogger("acie.serve.batching")


@dataclass(eq=False)
class BatchItem:
    """One queued request: its images, interventions, settings and future."""

    images: np.ndarray
    interventions: dict[str, Any]  # name -> value, or name -> {kind: amount}
    tolerance: float
    steps: int
    future: Future
    context: Any = None  # passed back to the runner (trace id, stage callback…)
    options: tuple[Any, ...] = ()  # further model options requests must share (particles)

    @property
    def key(self) -> tuple[Any, ...]:
        """What requests must share to run in one batch.

        The intervened properties and their kinds (absolute or relative), the physics
        settings, the options and the image shape.
        """
        kinds = frozenset((k, _kind(v)) for k, v in self.interventions.items())
        return (kinds, self.tolerance, self.steps, self.options, self.images.shape[1:])


def _kind(value: Any) -> str | None:
    """``None`` for an absolute value, else the kind of a ``{kind: amount}`` intervention."""
    return next(iter(value)) if isinstance(value, dict) else None


def _per_image(value: Any, n: int) -> np.ndarray:
    amount = next(iter(value.values())) if isinstance(value, dict) else value
    return np.full(n, amount, dtype=np.float64)


def split_result(result: Any, sizes: list[int]) -> list[Any]:
    """Cut a batched model result into per-request results (``sizes`` images each)."""
    out = []
    start = 0
    for n in sizes:
        sl = slice(start, start + n)
        parts = {
            "images": np.asarray(result.images)[sl],
            "factual_properties": {
                k: np.asarray(v)[sl] for k, v in (result.factual_properties or {}).items()
            },
            "counterfactual_properties": {
                k: np.asarray(v)[sl] for k, v in (result.counterfactual_properties or {}).items()
            },
            "violation_score": np.atleast_1d(np.asarray(result.violation_score))[sl],
            "confidence": np.atleast_1d(np.asarray(result.confidence))[sl],
        }
        if callable(getattr(result, "rows", None)):  # the engine's result splits itself
            out.append(result.rows(sl))
            start += n
            continue
        if dataclasses.is_dataclass(result) and not isinstance(result, type):
            extra = {}
            if hasattr(result, "projected"):
                extra["projected"] = np.atleast_1d(np.asarray(result.projected))[sl]
            if hasattr(result, "status"):  # per-galaxy physics outcome
                extra["status"] = np.atleast_1d(np.asarray(result.status))[sl]
            out.append(dataclasses.replace(result, **parts, **extra))
        else:
            out.append(type(result)(**{**vars(result), **parts}))
        start += n
    return out


class MicroBatcher:
    """Worker threads that run queued requests in compatible batches.

    Parameters
    ----------
    run : callable(images, interventions, tolerance, steps, items) -> result
        Runs the model on concatenated images with per-image intervention arrays.
    workers : int
        Worker threads (concurrent model calls).
    max_images : int
        Largest batch, images.
    on_start : callable, optional
        Run once in each worker thread before it takes work (per-thread warm-up: the
        first model call in a new thread is several times slower than later ones).
    """

    def __init__(
        self,
        *,
        run: Callable[..., Any],
        workers: int = 2,
        max_images: int = 64,
        on_start: Callable[[], Any] | None = None,
    ) -> None:
        self._run = run
        self._on_start = on_start
        self.max_images = max_images
        self._started = threading.Semaphore(0)
        self.workers = workers
        self._queue: deque[BatchItem] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self.batches = 0
        self.batched_requests = 0
        self._threads = [
            threading.Thread(target=self._loop, name=f"acie-infer-{i}", daemon=True)
            for i in range(workers)
        ]
        for t in self._threads:
            t.start()

    def submit(self, item: BatchItem) -> Future:
        """Queue ``item``; its future gets the per-request result or exception."""
        with self._cond:
            if self._closed:
                raise RuntimeError("the inference pool is shut down")
            self._queue.append(item)
            self._cond.notify()
        return item.future

    def __len__(self) -> int:
        return len(self._queue)

    def _take(self) -> list[BatchItem] | None:
        with self._cond:
            while not self._queue:
                if self._closed:
                    return None
                self._cond.wait()
            first = self._queue.popleft()
            batch, images = [first], first.images.shape[0]
            key = first.key
            keep: deque[BatchItem] = deque()
            while self._queue:
                it = self._queue.popleft()
                if it.key == key and images + it.images.shape[0] <= self.max_images:
                    batch.append(it)
                    images += it.images.shape[0]
                else:
                    keep.append(it)
            self._queue = keep
        # futures cancelled while queued (caller timed out) are dropped here
        return [it for it in batch if it.future.set_running_or_notify_cancel()]

    def _execute(self, batch: list[BatchItem]) -> None:
        images = np.concatenate([it.images for it in batch]) if len(batch) > 1 else batch[0].images
        sizes = [it.images.shape[0] for it in batch]
        ivs: dict[str, Any] = {}
        for name, first in batch[0].interventions.items():
            values = np.concatenate(
                [_per_image(it.interventions[name], it.images.shape[0]) for it in batch]
            )
            kind = _kind(first)
            ivs[name] = values if kind is None else {kind: values}
        result = self._run(images, ivs, batch[0].tolerance, batch[0].steps, batch)
        for it, part in zip(batch, split_result(result, sizes), strict=True):
            it.future.set_result(part)

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until every worker thread has finished its ``on_start``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for _ in range(self.workers):
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not self._started.acquire(timeout=left):
                return False
        for _ in range(self.workers):
            self._started.release()  # later callers see ready at once
        return True

    def _loop(self) -> None:
        if self._on_start is not None:
            try:
                self._on_start()
            except Exception:
                log.warning("worker start-up hook failed", exc_info=True)
        self._started.release()
        while True:
            batch = self._take()
            if batch is None:
                return
            if not batch:
                continue
            self.batches += 1
            self.batched_requests += len(batch)
            try:
                self._execute(batch)
            except BaseException as exc:
                if len(batch) == 1:
                    batch[0].future.set_exception(exc)
                    continue
                for it in batch:  # isolate: each request alone gets its own outcome
                    try:
                        self._execute([it])
                    except BaseException as single:
                        it.future.set_exception(single)

    def close(self, *, wait: bool = True) -> None:
        """Stop; with ``wait`` the queued requests are still run, else they are cancelled."""
        with self._cond:
            self._closed = True
            if not wait:
                while self._queue:
                    self._queue.popleft().future.cancel()
            self._cond.notify_all()
        if wait:
            for t in self._threads:
                t.join()
