import json

from typer.testing import CliRunner

from acie.cli.main import app

runner = CliRunner()


def test_simulate_validate_collect_gate_analyze(tmp_path, key_b64):
    f = tmp_path / "t.jsonl"
    env = {"TELEMETRY_KEY": key_b64}
    r = runner.invoke(
        app, ["ops", "simulate", "--out", str(f), "--n", "60", "--rollout", "--encrypt"], env=env
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["ops", "validate", str(f)], env=env)
    assert r.exit_code == 0
    assert "60/60 lines valid" in r.output
    r = runner.invoke(app, ["ops", "validate", str(f)], env={"TELEMETRY_KEY": ""})
    assert r.exit_code == 1
    assert "no key was given" in r.output

    r = runner.invoke(app, ["ops", "collect", str(f), "--json"], env=env)
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    (exp,) = report["experiments"]
    assert exp["grade"] in {"OK", "WARN", "FAIL"}

    r = runner.invoke(app, ["ops", "collect", str(f), "--gate"], env=env)
    assert r.exit_code == (1 if exp["grade"] == "FAIL" else 0)

    out = tmp_path / "analysis"
    r = runner.invoke(
        app, ["ops", "analyze", str(f), "--out", str(out), "--method", "ols"], env=env
    )
    assert r.exit_code == 0, r.output
    assert (out / "report.md").exists()
    assert (out / "effects.png").exists()
    assert json.loads((out / "effects.json").read_text())["method"] == "ols"
    # every verdict is explained, in the terminal and in report.md
    for text in (r.output, (out / "report.md").read_text()):
        assert "## How to read this" in text
        assert "- **changed** — " in text
        assert "the test of no effect" in text
        assert "- **path in graph** — n/a: no causal graph was discovered" in text


def test_gate_fails_on_fail_grade(tmp_path):
    f = tmp_path / "t.jsonl"
    lines = []
    for i, cost in enumerate([10, 10, 10, 13, 13, 13]):
        lines.append(
            json.dumps(
                {
                    "schema_version": "1.0",
                    "timestamp": f"2026-01-01T00:0{i}:00Z",
                    "experiment": "e",
                    "domain": "d",
                    "step": i,
                    "intervention": None if i < 3 else "pricier",
                    "infra_cost_usd": cost,
                    "qps": 100,
                    "latency_p95_ms": 50,
                }
            )
        )
    f.write_text("\n".join(lines) + "\n")
    r = runner.invoke(app, ["ops", "collect", str(f), "--gate"])
    assert r.exit_code == 1
    assert "FAIL" in r.output
