"""System-wide alerts of one server: physics-violation rate, queue depth, model change.

:class:`AlertMonitor` is evaluated by every alerts stream (``WS /v1/alerts``,
:mod:`acie.serve.routes.alerts`) at most once per ``ALERT_POLL_INTERVAL_S``. It reads
the server's own metrics and state, nothing external:

===================  ==========================================================  ========
kind                 active while                                                level
===================  ==========================================================  ========
``violation_rate``   of the counterfactuals physics-scored in the last             warning
                     ``ALERT_WINDOW_S``, more than ``ALERT_VIOLATION_RATE`` were
                     refused, and at least ``ALERT_VIOLATION_MIN_COUNT`` were scored
``queue_depth``      queued jobs plus admitted requests > ``ALERT_QUEUE_DEPTH``    warning
``model_changed``    the served model's version differs from the one at start, for  info
                     ``ALERT_WINDOW_S`` after the change was seen
===================  ==========================================================  ========
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

from acie.serve.runtime import ServingRuntime

__all__ = ["Alert", "AlertMonitor"]


@dataclass(frozen=True)
class Alert:
    """One active alert: kind, level, message, the measured value and its threshold."""

    kind: str
    level: str
    message: str
    value: float | str
    threshold: float | str
    since: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


class AlertMonitor:
    """Evaluates the alerts of ``runtime`` (thread-safe; results reused within a poll).

    Parameters
    ----------
    runtime : ServingRuntime
    clock : callable
        Seconds (``time.time`` by default; injectable for tests).
    """

    def __init__(self, runtime: ServingRuntime, clock: Any = time.time) -> None:
        s = runtime.settings
        self.runtime = runtime
        self.rate_threshold = float(s.ALERT_VIOLATION_RATE)
        self.min_count = int(s.ALERT_VIOLATION_MIN_COUNT)
        self.window_s = float(s.ALERT_WINDOW_S)
        self.queue_threshold = int(s.ALERT_QUEUE_DEPTH)
        self.poll_s = float(s.ALERT_POLL_INTERVAL_S)
        self._clock = clock
        self._lock = threading.Lock()
        self._samples: deque[tuple[float, float, float]] = deque()
        self._model_version = runtime.model_version
        self._changed: tuple[float, str, str] | None = None
        self._since: dict[str, float] = {}
        self._last: tuple[float, list[Alert]] | None = None
        self._samples.append((clock(), *self._counts()))  # counts from now on

    def _counts(self) -> tuple[float, float]:
        reg = self.runtime.metrics.registry
        refused = reg.get_sample_value("acie_physics_violations_total") or 0.0
        scored = reg.get_sample_value("acie_physics_violation_score_count") or 0.0
        return refused, scored

    def _violation(self, now: float) -> Alert | None:
        refused, scored = self._counts()
        self._samples.append((now, refused, scored))
        while len(self._samples) > 1 and self._samples[1][0] <= now - self.window_s:
            self._samples.popleft()
        _, r0, s0 = self._samples[0]  # the last look at or before the window's start
        d_refused, d_scored = refused - r0, scored - s0
        if d_scored < self.min_count:
            return None
        rate = d_refused / d_scored
        if rate <= self.rate_threshold:
            return None
        return self._alert(
            "violation_rate",
            "warning",
            f"{rate:.0%} of the last {int(d_scored)} counterfactuals failed the physics check "
            f"(threshold {self.rate_threshold:.0%})",
            round(rate, 4),
            self.rate_threshold,
            now,
        )

    def _queue(self, now: float) -> Alert | None:
        depth = self.runtime.queue_depth()
        if depth <= self.queue_threshold:
            return None
        return self._alert(
            "queue_depth",
            "warning",
            f"{depth} requests are waiting (threshold {self.queue_threshold}); "
            "results will be slow",
            float(depth),
            float(self.queue_threshold),
            now,
        )

    def _model(self, now: float) -> Alert | None:
        version = self.runtime.model_version
        if version != self._model_version:
            self._changed = (now, self._model_version, version)
            self._model_version = version
        if self._changed is None or now - self._changed[0] > self.window_s:
            return None
        at, old, new = self._changed
        return self._alert(
            "model_changed",
            "info",
            f"the served model changed from {old[:12] or 'none'} to {new[:12] or 'none'}; "
            "maps and results made before are of the old model",
            new,
            old,
            at,
        )

    def _alert(
        self, kind: str, level: str, msg: str, value: float | str, thr: float | str, now: float
    ) -> Alert:
        since = self._since.setdefault(kind, now)
        return Alert(kind, level, msg, value, thr, since)

    def evaluate(self) -> list[Alert]:
        """The active alerts now (recomputed at most once per ``ALERT_POLL_INTERVAL_S``)."""
        now = self._clock()
        with self._lock:
            if self._last is not None and now - self._last[0] < self.poll_s / 2:
                return self._last[1]
            alerts = [a for a in (self._violation(now), self._queue(now), self._model(now)) if a]
            active = {a.kind for a in alerts}
            for kind in [k for k in self._since if k not in active]:
                del self._since[kind]
            self._last = (now, alerts)
            return alerts
