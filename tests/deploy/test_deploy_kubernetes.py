"""deploy/kubernetes: every overlay renders, validates against the Kubernetes schemas
(kubernetes-validate, offline, strict) and keeps the deployment's invariants."""

import re
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "kubernetes"
OVERLAYS = ["dev", "production"]
K8S_VERSION = "1.31.0"  # oldest schema set the manifests must pass (grpc probes are GA in 1.27)
INFERENCE = {"app.kubernetes.io/name": "acie", "app.kubernetes.io/component": "inference"}


def render(overlay: str) -> list[dict]:
    kubectl = shutil.which("kubectl")
    if kubectl:
        cmd = [kubectl, "kustomize", str(K8S / "overlays" / overlay)]
    else:
        cmd = ["kustomize", "build", str(K8S / "overlays" / overlay)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout
    return [d for d in yaml.safe_load_all(out) if d]


@pytest.fixture(scope="module", params=OVERLAYS)
def manifests(request):
    return request.param, render(request.param)


def one(docs, kind, name):
    (found,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def pod_specs(docs):
    for d in docs:
        if d["kind"] in {"Deployment", "StatefulSet", "Job"}:
            yield d, d["spec"]["template"]["spec"]


def test_every_manifest_passes_the_kubernetes_schema(manifests):
    _, docs = manifests
    assert len(docs) >= 15
    for d in docs:
        kubernetes_validate.validate(d, K8S_VERSION, strict=True)


def test_the_schema_check_can_fail():
    bad = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}}
    bad["spec"] = {"replicas": "three", "selector": {}, "template": {}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)


def test_inference_replicas_spread_and_disruption_budget(manifests):
    overlay, docs = manifests
    dep = one(docs, "Deployment", "acie-inference")
    assert dep["spec"]["replicas"] >= 3
    spec = dep["spec"]["template"]["spec"]
    anti = spec["affinity"]["podAntiAffinity"]
    terms = anti.get("requiredDuringSchedulingIgnoredDuringExecution") or [
        t["podAffinityTerm"] for t in anti["preferredDuringSchedulingIgnoredDuringExecution"]
    ]
    assert any(t["topologyKey"] == "kubernetes.io/hostname" for t in terms)
    if overlay == "production":
        assert anti.get("requiredDuringSchedulingIgnoredDuringExecution")
    keys = {c["topologyKey"]: c for c in spec["topologySpreadConstraints"]}
    assert {"kubernetes.io/hostname", "topology.kubernetes.io/zone"} <= set(keys)
    for c in keys.values():
        assert c["labelSelector"]["matchLabels"] == INFERENCE
    pdb = one(docs, "PodDisruptionBudget", "acie-inference")
    assert pdb["spec"]["selector"]["matchLabels"] == INFERENCE
    assert 1 <= pdb["spec"]["minAvailable"] < dep["spec"]["replicas"]
    assert (
        dep["spec"]["template"]["metadata"]["labels"]
        == INFERENCE | dep["spec"]["template"]["metadata"]["labels"]
    )


def test_inference_probes_use_the_grpc_health_service(manifests):
    overlay, docs = manifests
    (c,) = one(docs, "Deployment", "acie-inference")["spec"]["template"]["spec"]["containers"]
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        p = c[probe]
        if overlay == "production":  # TLS listeners: kubelet's grpc probe cannot connect
            assert p["exec"]["command"] == ["python", "-m", "acie.serve.healthcheck"]
            assert "grpc" not in p
        else:
            assert p["grpc"]["port"] == 50051
    env = {e["name"] for e in c["env"]}
    assert {"JWT_SECRET", "ACIE_DATABASE_URL", "REDIS_URL"} <= env
    assert c["command"][:3] == ["acie", "serve", "--no-worker"]


def test_production_serves_mutual_tls_from_the_tls_secret():
    docs = render("production")
    cfg = one(
        docs,
        "ConfigMap",
        next(
            d["metadata"]["name"]
            for d in docs
            if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("acie-config")
        ),
    )["data"]
    assert cfg["ACIE_ENV"] == "production"
    mounted = "/etc/acie/tls"
    for key in ("TLS_CERT_FILE", "TLS_KEY_FILE", "TLS_CLIENT_CA_FILE"):
        assert cfg[key].startswith(mounted + "/"), key
    spec = one(docs, "Deployment", "acie-inference")["spec"]["template"]["spec"]
    (vol,) = [v for v in spec["volumes"] if v["name"] == "tls"]
    assert vol["secret"]["secretName"] == "acie-tls"
    assert {"mountPath": mounted, "name": "tls", "readOnly": True} in spec["containers"][0][
        "volumeMounts"
    ]
    # the settings accept what the overlay sets (cert and key together, CA needs both)
    from acie.config import load_settings

    s = load_settings(
        **{k: v for k, v in cfg.items() if k.startswith("TLS_") and k != "TLS_SERVER_NAME"}
    )
    assert s.TLS_CLIENT_CA_FILE is not None


def test_every_pod_is_non_root_with_requests_and_limits(manifests):
    _, docs = manifests
    kinds = set()
    for d, spec in pod_specs(docs):
        kinds.add(d["kind"])
        assert spec["securityContext"]["runAsNonRoot"] is True, d["metadata"]["name"]
        assert spec["securityContext"]["runAsUser"] != 0
        assert spec.get("automountServiceAccountToken") is False
        for c in spec["containers"]:
            res = c["resources"]
            assert {"cpu", "memory"} <= set(res["requests"]), c["name"]
            assert {"cpu", "memory"} <= set(res["limits"]), c["name"]
            assert c["securityContext"]["allowPrivilegeEscalation"] is False
            assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
            assert ":" in c["image"], c["image"]
            assert not c["image"].endswith(":latest"), c["image"]
    assert kinds == {"Deployment", "StatefulSet", "Job"}


def test_autoscalers_cpu_and_queue_depth_up_to_ten(manifests):
    _, docs = manifests
    metrics_src = (ROOT / "src/acie/serve/metrics.py").read_text()
    assert '"inference_queue_depth"' in metrics_src  # the metric the adapter exposes
    for name, kind in (("acie-inference", "Pods"), ("acie-worker", "External")):
        hpa = one(docs, "HorizontalPodAutoscaler", name)
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["maxReplicas"] == 10
        assert hpa["spec"]["scaleTargetRef"]["name"] == name
        by_type = {m["type"]: m for m in hpa["spec"]["metrics"]}
        cpu = by_type["Resource"]["resource"]
        assert cpu["name"] == "cpu"
        assert cpu["target"]["averageUtilization"] == 70
        custom = by_type[kind][kind.lower()]
        assert custom["metric"]["name"] == "inference_queue_depth"
        assert custom["target"] == {"type": "AverageValue", "averageValue": "100"}
    inference = one(docs, "HorizontalPodAutoscaler", "acie-inference")
    assert inference["spec"]["minReplicas"] >= 3


def test_prometheus_adapter_rules_expose_the_hpa_metrics():
    values = yaml.safe_load((K8S / "prometheus-adapter" / "values.yaml").read_text())
    rules = values["rules"]
    for section in ("custom", "external"):
        (rule,) = rules[section]
        assert rule["seriesQuery"].startswith("inference_queue_depth{")
        assert rule["name"]["as"] == "inference_queue_depth"
        assert "<<.LabelMatchers>>" in rule["metricsQuery"]
    assert set(rules["custom"][0]["resources"]["overrides"]) == {"namespace", "pod"}


def test_network_policies_default_deny_then_allow(manifests):
    _, docs = manifests
    pols = {d["metadata"]["name"]: d for d in docs if d["kind"] == "NetworkPolicy"}
    deny = pols["default-deny"]["spec"]
    assert deny["podSelector"] == {}
    assert set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny
    assert "egress" not in deny
    ports = {p["port"] for r in pols["inference-ingress"]["spec"]["ingress"] for p in r["ports"]}
    assert ports == {8000, 50051}
    pg = pols["postgres-ingress"]["spec"]["ingress"][0]["from"][0]["podSelector"]
    assert pg["matchLabels"] == {"app.kubernetes.io/name": "acie"}


def test_stateful_backends_and_migration_job(manifests):
    _, docs = manifests
    redis = one(docs, "StatefulSet", "redis")["spec"]["template"]["spec"]["containers"][0]
    args = redis["args"]
    assert args[args.index("--appendonly") + 1] == "yes"
    assert one(docs, "StatefulSet", "postgres")["spec"]["volumeClaimTemplates"]
    job = one(docs, "Job", "acie-migrate")["spec"]["template"]["spec"]["containers"][0]
    assert job["command"][:3] == ["acie", "admin", "migrate"]
    worker = one(docs, "Deployment", "acie-worker")["spec"]["template"]["spec"]["containers"][0]
    assert worker["command"][:3] == ["acie", "admin", "worker"]
    handler = worker["command"][worker["command"].index("--handler") + 1]
    module, func = handler.split(":")
    import importlib

    assert callable(getattr(importlib.import_module(module), func))


def test_no_secret_values_in_the_manifests(manifests):
    _, docs = manifests
    assert not [d for d in docs if d["kind"] == "Secret"]  # the operator creates them
    for _d, spec in pod_specs(docs):
        for c in spec["containers"]:
            for e in c.get("env", []):
                if re.search(r"SECRET|PASSWORD|TOKEN|KEY|DATABASE_URL|REDIS_URL", e["name"]):
                    assert "value" not in e, e
                    assert "secretKeyRef" in e["valueFrom"], e
    text = "\n".join(yaml.safe_dump(d) for d in docs)
    assert "PRIVATE KEY" not in text
    assert not re.search(r"://[^:/\s]+:[^@<\s]+@", text)


def test_secret_templates_hold_only_placeholders():
    docs = list(yaml.safe_load_all((K8S / "secrets" / "acie-secrets.template.yaml").read_text()))
    names = set()
    for d in docs:
        kubernetes_validate.validate(d, K8S_VERSION, strict=True)
        names.add(d["metadata"]["name"])
        assert "data" not in d
        for key, value in d["stringData"].items():
            assert value.startswith("<"), key
            assert value.endswith(">"), key
    referenced = set()
    for overlay in OVERLAYS:
        for _, spec in pod_specs(render(overlay)):
            for c in spec["containers"]:
                for e in c.get("env", []):
                    if "valueFrom" in e:
                        referenced.add(e["valueFrom"]["secretKeyRef"]["name"])
            for v in spec.get("volumes", []):
                if "secret" in v:
                    referenced.add(v["secret"]["secretName"])
    assert referenced == names
