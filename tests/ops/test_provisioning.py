import json
import re
from pathlib import Path

import yaml

from acie.ops.collector import collect
from acie.ops.server import METRIC_NAMES, render_metrics
from acie.ops.simulate import simulate_telemetry

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
METRIC_RE = re.compile(r"\b(acie_[a-z0-9_]+)")


def exported_ops_metrics() -> set[str]:
    text = render_metrics(collect(simulate_telemetry(n=20, seed=0))).decode()
    return {
        line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and line[0] != "#"
    }


def test_prometheus_config_parses_and_scrapes_the_ops_server():
    cfg = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    jobs = {j["job_name"]: j for j in cfg["scrape_configs"]}
    assert jobs["acie-ops"]["metrics_path"] == "/metrics"
    assert jobs["acie-ops"]["static_configs"][0]["targets"] == ["acie-ops:9108"]


def test_alert_rules_reference_exported_metrics():
    rules = yaml.safe_load((DEPLOY / "prometheus" / "rules.yml").read_text())
    exported = exported_ops_metrics()
    for group in rules["groups"]:
        for rule in group["rules"]:
            for name in METRIC_RE.findall(rule["expr"]):
                assert name in exported, f"rule {rule['alert']} uses unknown metric {name}"


def test_grafana_dashboard_and_datasource():
    ds = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/datasource.yml").read_text())
    (source,) = ds["datasources"]
    assert source["type"] == "prometheus"
    dash = json.loads((DEPLOY / "grafana/dashboards/acie-ops.json").read_text())
    exported = exported_ops_metrics()
    used = set()
    for panel in dash["panels"]:
        assert panel["datasource"]["uid"] == source["uid"]
        for target in panel["targets"]:
            names = METRIC_RE.findall(target["expr"])
            assert names, target
            for name in names:
                assert name in exported, f"panel {panel['title']!r} uses unknown metric {name}"
                used.add(name)
    assert len(used) >= 8
    assert set(exported) >= {n for n in METRIC_NAMES if not n.endswith("_total")}


def test_docker_compose_wires_the_stack():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"acie-ops", "prometheus", "grafana"} <= set(services)
    assert "acie ops serve" in services["acie-ops"]["command"]
    mounts = " ".join(services["prometheus"]["volumes"])
    assert "prometheus.yml" in mounts
    for vol in services["grafana"]["volumes"]:
        assert (DEPLOY / vol.split(":")[0].removeprefix("./")).exists(), vol
