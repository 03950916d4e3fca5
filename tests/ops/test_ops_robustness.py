"""One odd experiment never takes the whole report down; times are explicit; counters persist."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from typer.testing import CliRunner

from acie.cli.main import app
from acie.errors import InputValidationError
from acie.ops.collector import collect
from acie.ops.emitter import TelemetryEmitter
from acie.ops.server import ReportCache

runner = CliRunner()


@pytest.fixture
def mixed(records):
    """The fixture records plus one contract-valid experiment that costs nothing."""
    free = [
        {**r, "experiment": "free-tier", "infra_cost_usd": 0.0, "intervention": None}
        for r in records[:6]
    ]
    return records + free


def test_a_zero_cost_experiment_is_noted_not_fatal(mixed):
    report = collect(mixed)
    assert [e.experiment for e in report.experiments] == ["dm-scan"]
    (unrated,) = report.unrated
    assert unrated.experiment == "free-tier"
    assert unrated.n_records == 6
    assert "cost" in unrated.note
    doc = report.to_dict()
    assert doc["unrated"][0]["experiment"] == "free-tier"


def test_cli_collect_grades_the_others_and_the_report_server_serves(tmp_path, mixed):
    path = tmp_path / "t.jsonl"
    with TelemetryEmitter(path) as em:
        for r in mixed:
            em.emit(r)
    r = runner.invoke(app, ["ops", "collect", str(path), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert [e["experiment"] for e in doc["experiments"]] == ["dm-scan"]
    assert doc["unrated"][0]["experiment"] == "free-tier"
    r = runner.invoke(app, ["ops", "collect", str(path)])
    assert r.exit_code == 0
    assert "free-tier" in r.output
    assert "not graded" in r.output
    cache = ReportCache(lambda: collect(mixed), interval_s=60)
    cache.refresh()
    assert cache.report_body() is not None
    assert cache.health()["status"] == "ok"


def test_a_timezone_less_now_is_refused(tmp_path, records):
    with pytest.raises(InputValidationError, match="timezone"):
        collect(records, now=datetime(2026, 1, 2, 0, 0))
    path = tmp_path / "t.jsonl"
    with TelemetryEmitter(path) as em:
        for r in records:
            em.emit(r)
    r = runner.invoke(app, ["ops", "collect", str(path), "--now", "2026-01-05T00:00:00"])
    # a typed error: `acie` prints it on one line and exits 2 (tests/test_cli.py)
    assert isinstance(r.exception, InputValidationError)
    assert "timezone" in str(r.exception)
    r = runner.invoke(app, ["ops", "collect", str(path), "--now", "2026-01-05T00:00:00Z", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["as_of"] == "2026-01-05T00:00:00+00:00"
    r = runner.invoke(
        app, ["ops", "collect", str(path), "--now", "2026-01-05T02:00:00+02:00", "--json"]
    )
    assert json.loads(r.output)["as_of"] == "2026-01-05T02:00:00+02:00"


def test_the_refresh_failure_counter_is_created_once(records, monkeypatch):
    import prometheus_client

    import acie.ops.server as server

    made: list[str] = []

    class CountingCounter(prometheus_client.Counter):
        def __init__(self, name, *args, **kwargs):
            made.append(name)
            super().__init__(name, *args, **kwargs)

    monkeypatch.setattr(server, "Counter", CountingCounter)
    calls = {"n": 0}

    def compute():
        calls["n"] += 1
        if calls["n"] in (2, 3):
            raise OSError("telemetry volume went away")
        return collect(records)

    cache = ReportCache(compute, interval_s=60)
    for _ in range(4):
        cache.refresh()
        cache._metrics_at = -1e9  # force the next /metrics to render again
        body = cache.metrics_body()
    # one counter for the cache's lifetime, however often /metrics renders
    assert made == ["acie_ops_refresh_failures"]
    assert b"acie_ops_refresh_failures_total 2.0" in body
