"""The API's Prometheus alert rules and Grafana dashboard name only metrics the server exports."""

import json
import re
from pathlib import Path

import yaml

from acie.serve.metrics import ServiceMetrics
from acie.serve.saturation import SATURATION_METRICS

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PROMQL_WORDS = {
    "sum", "max", "min", "avg", "rate", "irate", "increase", "by", "on", "without", "ignoring",
    "histogram_quantile", "clamp_min", "clamp_max", "and", "or", "unless", "bool", "count",
}  # fmt: skip


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression (label matchers, ranges and groupings removed)."""
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(by|on|without|ignoring)\s*\([^)]*\)", "", expr)
    words = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr))
    return {w for w in words if w not in PROMQL_WORDS and not re.fullmatch(r"e\d*", w)}


def exported() -> set[str]:
    m = ServiceMetrics()
    m.observe_request(protocol="rest", method="GET /healthz", code="200", seconds=0.01)
    m.violation_score.observe(0.01)
    m.queue_depth.labels("jobs").set(1)
    m.rate_limited.labels("rest").inc()  # labelled series exist once used
    names = {s.name for fam in m.registry.collect() for s in fam.samples}
    return names | set(SATURATION_METRICS) | {"up"}  # GPU series appear only with CUDA


def test_metric_name_parser_finds_names():
    assert metric_names('sum by (le) (rate(a_b_bucket{x="y"}[5m])) / c_total > 1e-9') == {
        "a_b_bucket",
        "c_total",
    }


def test_api_alert_rules_use_exported_metrics():
    rules = yaml.safe_load((DEPLOY / "prometheus" / "api-rules.yml").read_text())
    names = exported()
    alerts = [r for g in rules["groups"] for r in g["rules"]]
    assert len(alerts) >= 6
    for rule in alerts:
        used = metric_names(rule["expr"])
        assert used, rule["alert"]
        assert used <= names, f"{rule['alert']} uses unknown {used - names}"
    covered = set().union(*(metric_names(r["expr"]) for r in alerts))
    assert {"process_cpu_seconds_total", "process_resident_memory_bytes"} <= covered
    assert "inference_queue_depth" in covered


def test_api_dashboard_uses_exported_metrics():
    dash = json.loads((DEPLOY / "grafana" / "dashboards" / "acie-api.json").read_text())
    names = exported()
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)) >= 8
    for panel in dash["panels"]:
        assert panel["datasource"]["uid"] == "acie-prometheus"
        for target in panel["targets"]:
            used = metric_names(target["expr"])
            assert used, panel["title"]
            assert used <= names, f"panel {panel['title']!r} uses unknown {used - names}"


def test_prometheus_loads_both_rule_files():
    prom = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert set(prom["rule_files"]) == {
        "/etc/prometheus/rules.yml",
        "/etc/prometheus/api-rules.yml",
    }
