"""The cached report server: ``/report``, ``/metrics`` and ``/health``.

A background thread recomputes the report every ``OPS_REFRESH_INTERVAL_S`` seconds and
stores the responses as pre-rendered bytes, so a request only hands those bytes out
(the benchmark measures well under a millisecond of handler time). A failed refresh
keeps the last good report and is counted and shown in ``/health``.

:func:`create_router` gives a FastAPI router to mount in another app (``acie serve``
mounts it under ``/ops``); :func:`create_app` wraps it as the standalone server of
``acie ops serve``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from acie.ops.collector import Grade, OpsReport
from acie.ops.report import report_json

__all__ = ["METRIC_NAMES", "ReportCache", "create_app", "create_router", "render_metrics"]

log = logging.getLogger(__name__)

#: every metric family the report server exports (provisioning files are tested against it)
METRIC_NAMES = (
    "acie_ops_fti",
    "acie_ops_grade",
    "acie_ops_lambda_sibg",
    "acie_ops_lambda_effective",
    "acie_ops_days_since_change",
    "acie_ops_qps_median",
    "acie_ops_latency_p95_ms_median",
    "acie_ops_infra_cost_usd_median",
    "acie_ops_records",
    "acie_ops_lines_skipped",
    "acie_ops_report_age_seconds",
    "acie_ops_refresh_failures_total",
)


def render_metrics(report: OpsReport, *, age_s: float = 0.0, failures: int | None = 0) -> bytes:
    """The report in the Prometheus text exposition format.

    ``failures=None`` leaves the refresh-failure counter out: :class:`ReportCache` keeps
    one counter for its whole life and appends it itself (a counter made anew at every
    render would look to Prometheus like a counter reset each scrape).
    """
    reg = CollectorRegistry(auto_describe=False)
    labels = ["experiment"]
    fti = Gauge("acie_ops_fti", "FTI of the current window (dimensionless)", labels, registry=reg)
    grade = Gauge(
        "acie_ops_grade", "1 for the experiment's current grade", [*labels, "grade"], registry=reg
    )
    sibg = Gauge("acie_ops_lambda_sibg", "FTI improvement of the last change", labels, registry=reg)
    leff = Gauge("acie_ops_lambda_effective", "lambda_SIBG decayed to now", labels, registry=reg)
    days = Gauge("acie_ops_days_since_change", "days since the last change", labels, registry=reg)
    qps = Gauge(
        "acie_ops_qps_median", "median throughput of the current window (1/s)", labels, registry=reg
    )
    lat = Gauge(
        "acie_ops_latency_p95_ms_median",
        "median p95 latency of the current window (ms)",
        labels,
        registry=reg,
    )
    cost = Gauge(
        "acie_ops_infra_cost_usd_median",
        "median cost of the current window (USD)",
        labels,
        registry=reg,
    )
    recs = Gauge("acie_ops_records", "valid records read", labels, registry=reg)
    skipped = Gauge("acie_ops_lines_skipped", "lines skipped, by reason", ["reason"], registry=reg)
    age = Gauge(
        "acie_ops_report_age_seconds", "seconds since the report was computed", registry=reg
    )
    for e in report.experiments:
        fti.labels(e.experiment).set(e.current.fti)
        for g in Grade:
            grade.labels(e.experiment, g.value).set(1.0 if e.grade is g else 0.0)
        sibg.labels(e.experiment).set(e.lambda_sibg)
        leff.labels(e.experiment).set(e.lambda_effective)
        days.labels(e.experiment).set(e.days_since_change)
        qps.labels(e.experiment).set(e.current.qps)
        lat.labels(e.experiment).set(e.current.latency_p95_ms)
        cost.labels(e.experiment).set(e.current.infra_cost_usd)
        recs.labels(e.experiment).set(e.n_records)
    for reason in ("malformed", "undecryptable", "truncated", "corrupt"):
        skipped.labels(reason).set(report.skipped.get(reason, 0))
    age.set(age_s)
    for u in report.unrated:
        recs.labels(u.experiment).set(u.n_records)
    if failures is not None:
        _failure_counter(reg).inc(failures)
    return generate_latest(reg)


def _failure_counter(registry: CollectorRegistry) -> Counter:
    return Counter("acie_ops_refresh_failures", "report refreshes that failed", registry=registry)


@dataclass(frozen=True)
class _Snapshot:
    report: OpsReport
    report_body: bytes
    computed_at: float  # time.monotonic()
    computed_wall: float  # time.time()


class ReportCache:
    """Keeps the latest report as ready-to-send bytes, refreshed by a background thread.

    Parameters
    ----------
    compute : callable returning OpsReport
        Builds a fresh report (e.g. ``lambda: collect_files(paths)``).
    interval_s : float
        Seconds between refreshes.
    """

    def __init__(self, compute: Callable[[], OpsReport], *, interval_s: float) -> None:
        if not interval_s > 0:
            raise ValueError(f"interval_s must be > 0 seconds; got {interval_s!r}")
        self._compute = compute
        self.interval_s = float(interval_s)
        self._snapshot: _Snapshot | None = None
        self._metrics: bytes = b""
        self._metrics_at = -1.0
        self.failures = 0
        self._counters = CollectorRegistry(auto_describe=False)
        self._failures_total = _failure_counter(self._counters)  # once, for the cache's life
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Recompute now; on failure keep the last good report and count the failure."""
        try:
            report = self._compute()
            snap = _Snapshot(report, report_json(report), time.monotonic(), time.time())
        except Exception as exc:  # any failure of the source must not kill the server
            with self._lock:
                self.failures += 1
                self._failures_total.inc()
                self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("ops report refresh failed: %s", exc)
            return
        with self._lock:
            self._snapshot = snap
            self.last_error = None
            self._metrics = self._render(snap.report, 0.0)
            self._metrics_at = snap.computed_at

    def _render(self, report: OpsReport, age_s: float) -> bytes:
        return render_metrics(report, age_s=age_s, failures=None) + generate_latest(self._counters)

    def start(self) -> None:
        """Compute once synchronously, then refresh in a daemon thread."""
        self.refresh()
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="acie-ops-report", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the refresh thread (waits up to 5 s for it); the last report stays served."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.refresh()

    @property
    def age_s(self) -> float | None:
        """Seconds since the cached report was computed; None before the first."""
        snap = self._snapshot
        return None if snap is None else time.monotonic() - snap.computed_at

    def report_body(self) -> bytes | None:
        """The cached report as JSON bytes; None before the first computation."""
        snap = self._snapshot
        return None if snap is None else snap.report_body

    def metrics_body(self) -> bytes:
        """Metrics text; the age gauge is the one value re-rendered, at most once a second."""
        snap = self._snapshot
        if snap is None:
            return b""
        now = time.monotonic()
        if now - self._metrics_at >= 1.0:
            with self._lock:
                self._metrics = self._render(snap.report, now - snap.computed_at)
                self._metrics_at = now
        return self._metrics

    def health(self) -> dict[str, object]:
        """Health document: status, cache age [s], refresh interval [s] and failures."""
        snap = self._snapshot
        return {
            "status": "ok" if snap is not None else "starting",
            "cache_age_s": None if snap is None else round(time.monotonic() - snap.computed_at, 3),
            "computed_at_unix": None if snap is None else snap.computed_wall,
            "refresh_interval_s": self.interval_s,
            "refresh_failures": self.failures,
            "last_error": self.last_error,
        }


def create_router(cache: ReportCache):  # -> fastapi.APIRouter
    """A FastAPI router with ``/report``, ``/metrics`` and ``/health`` served from ``cache``."""
    from fastapi import APIRouter, Response
    from fastapi.responses import JSONResponse, PlainTextResponse

    router = APIRouter(tags=["ops"])

    # response_model=None: the return annotations name Response, imported in this function,
    # which FastAPI cannot resolve under `from __future__ import annotations`
    @router.get("/report", summary="Latest telemetry report (JSON)", response_model=None)
    def report() -> Response:
        body = cache.report_body()
        if body is None:
            return JSONResponse(
                {"detail": "the first report is still being computed"}, status_code=503
            )
        return Response(content=body, media_type="application/json")

    @router.get(
        "/metrics",
        summary="Report as Prometheus metrics",
        response_model=None,
        response_class=PlainTextResponse,  # documented as text/plain, as it is served
    )
    def metrics() -> Response:
        return Response(content=cache.metrics_body(), media_type=CONTENT_TYPE_LATEST)

    @router.get("/health", summary="Cache age and refresh status", response_model=None)
    def health() -> JSONResponse:
        h = cache.health()
        return JSONResponse(h, status_code=200 if h["status"] == "ok" else 503)

    return router


def create_app(cache: ReportCache):  # -> fastapi.FastAPI
    """The standalone report server; starts and stops the refresh thread with the app."""
    from fastapi import FastAPI

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        cache.start()
        try:
            yield
        finally:
            cache.stop()

    app = FastAPI(title="ACIE ops report", version="1", lifespan=lifespan)
    app.include_router(create_router(cache))
    return app
