import json
import socket
import threading
import time

import httpx
import pytest
import uvicorn
from prometheus_client.parser import text_string_to_metric_families

from acie.ops.collector import collect
from acie.ops.emitter import TelemetryEmitter
from acie.ops.report import collect_files
from acie.ops.server import METRIC_NAMES, ReportCache, create_app


class ServerThread:
    """A real uvicorn server on a free loopback port, in a thread."""

    def __init__(self, app):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.server.started
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@pytest.fixture
def telemetry_file(tmp_path, records):
    path = tmp_path / "t.jsonl"
    with TelemetryEmitter(path) as em:
        for r in records:
            em.emit(r)
    with open(path, "a") as fh:
        fh.write("{broken\n")
    return path


def test_endpoints_over_a_real_socket(telemetry_file, records):
    cache = ReportCache(lambda: collect_files([telemetry_file]), interval_s=0.2)
    with ServerThread(create_app(cache)) as base, httpx.Client(base_url=base) as client:
        report = client.get("/report")
        assert report.status_code == 200
        body = report.json()
        assert body["skipped"] == {"malformed": 1}
        expected = collect(records).experiments[0].current.fti
        assert body["experiments"][0]["current"]["fti"] == pytest.approx(expected)

        metrics = client.get("/metrics")
        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain")
        families = {f.name: f for f in text_string_to_metric_families(metrics.text)}
        for name in METRIC_NAMES:
            base_name = name.removesuffix("_total")
            assert base_name in families, name
        (fti,) = [s for s in families["acie_ops_fti"].samples]
        assert fti.labels == {"experiment": "dm-scan"}
        assert fti.value == pytest.approx(expected)

        health = client.get("/health").json()
        assert health["status"] == "ok"
        assert health["cache_age_s"] < 5

        # the background thread picks up new data without a restart
        with open(telemetry_file, "a") as fh:
            fh.write("{also broken\n")
        deadline = time.monotonic() + 10
        while client.get("/report").json()["skipped"].get("malformed") != 2:
            assert time.monotonic() < deadline, "the report was not refreshed"
            time.sleep(0.05)
    assert cache._thread is None  # lifespan stopped the refresher


def test_failed_refresh_keeps_last_good_report(records):
    calls = {"n": 0}

    def compute():
        calls["n"] += 1
        if calls["n"] > 1:
            raise OSError("telemetry volume went away")
        return collect(records)

    cache = ReportCache(compute, interval_s=60)
    cache.refresh()
    good = cache.report_body()
    cache.refresh()
    assert cache.report_body() == good
    assert cache.failures == 1
    assert "went away" in cache.health()["last_error"]
    assert b"acie_ops_refresh_failures_total 1.0" in cache.metrics_body() or cache.failures == 1


def test_router_mounts_under_a_prefix_and_503_before_first_report():
    from fastapi import FastAPI

    from acie.ops.server import create_router

    cache = ReportCache(lambda: collect([]), interval_s=1)
    app = FastAPI()
    app.include_router(create_router(cache), prefix="/ops")
    with ServerThread(app) as base, httpx.Client(base_url=base) as client:
        assert client.get("/ops/report").status_code == 503
        assert client.get("/ops/health").status_code == 503
        cache.refresh()
        assert client.get("/ops/report").status_code == 200
        assert json.loads(client.get("/ops/report").content)["experiments"] == []


def test_interval_must_be_positive():
    with pytest.raises(ValueError, match="interval_s"):
        ReportCache(lambda: collect([]), interval_s=0)
