"""`acie auth` and `acie serve` as a user runs them: a fresh data directory, no configuration."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest
from typer.testing import CliRunner

from acie.cli.main import app

runner = CliRunner()


def _clean_env(data_dir) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "JWT_SECRET",
            "JWKS_FILE",
            "ACIE_DATABASE_URL",
            "REDIS_URL",
            "ACIE_SETTINGS_FILE",
            "HTTP_PORT",
            "GRPC_PORT",
        }
    }
    env["ACIE_DATA_DIR"] = str(data_dir)
    return env


def test_auth_token_and_verify_with_the_local_secret(tmp_path, monkeypatch):
    from acie.config import get_settings

    for k in ("JWT_SECRET", "JWKS_FILE", "ACIE_SETTINGS_FILE"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("ACIE_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        r = runner.invoke(
            app,
            [
                "auth",
                "token",
                "--sub",
                "alice",
                "--role",
                "collaborator",
                "--scope",
                "inference:read",
                "--ttl",
                "60",
                "--json",
            ],
        )
        assert r.exit_code == 0, r.output
        out = json.loads(r.output)
        assert out["sub"] == "alice"
        assert out["scopes"] == ["inference:read"]
        assert out["expires_at"] - time.time() <= 60
        assert "jwt_secret" in out["signed_with"]
        assert (tmp_path / "jwt_secret").exists()
        v = runner.invoke(app, ["auth", "verify", out["token"]])
        assert v.exit_code == 0, v.output
        assert json.loads(v.output) == {
            "sub": "alice",
            "role": "collaborator",
            "scopes": ["inference:read"],
        }
        bad = runner.invoke(app, ["auth", "token", "--sub", "a", "--role", "root"])
        assert bad.exit_code != 0
    finally:
        get_settings.cache_clear()


def test_auth_token_rs256_with_a_private_key(tmp_path, monkeypatch):
    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from acie.config import get_settings

    monkeypatch.setenv("ACIE_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "signing.pem"
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    try:
        r = runner.invoke(
            app,
            ["auth", "token", "--sub", "bob", "--private-key", str(pem), "--kid", "k1", "--json"],
        )
    finally:
        get_settings.cache_clear()
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["signed_with"] == f"RS256 key {pem}"
    assert jwt.get_unverified_header(out["token"]) == {"alg": "RS256", "kid": "k1", "typ": "JWT"}
    claims = jwt.decode(out["token"], key.public_key(), algorithms=["RS256"], audience="acie")
    assert claims["sub"] == "bob"
    assert not (tmp_path / "jwt_secret").exists()  # no local HS256 secret was made


def test_serve_help():
    r = runner.invoke(app, ["serve", "--help"])
    assert r.exit_code == 0
    assert "--grpc-port" in r.output
    assert "--tls-client-ca" in r.output


@pytest.mark.slow
def test_acie_serve_fresh_machine_then_graceful_sigterm(tmp_path, tiny_checkpoint):
    """No JWT_SECRET, no database URL: the server makes what it needs in ACIE_DATA_DIR.

    The real ``acie serve`` (free ports, a temporary data folder) publishes a valid
    OpenAPI document, interactive docs and the ops report, and stops on SIGTERM.
    """
    import schemathesis

    env = _clean_env(tmp_path / "data")
    from acie.ops.emitter import TelemetryEmitter
    from acie.ops.simulate import simulate_telemetry

    with TelemetryEmitter(tmp_path / "telemetry.jsonl") as em:  # the ops report, mounted at /ops
        for record in simulate_telemetry(n=30, seed=0, randomise=False, cache_on_step=15):
            em.emit(record)
    env["OPS_TELEMETRY_FILES"] = str(tmp_path / "*.jsonl")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "acie",
            "serve",
            "--http-port",
            "0",
            "--grpc-port",
            "0",
            "--model",
            str(tiny_checkpoint),
            "--drain",
            "0.2",
            "--grace",
            "1",
        ],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    lines: queue.Queue = queue.Queue()
    log: list[str] = []

    def pump():
        for line in proc.stderr:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        url = None
        deadline = time.monotonic() + 120
        while url is None and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                assert proc.poll() is None, "".join(log)
                continue
            log.append(line)
            m = re.search(r"REST (http://\S+)", line)
            if m:
                url = m.group(1)
        assert url, "".join(log)
        assert (tmp_path / "data" / "jwt_secret").exists()
        assert (tmp_path / "data" / "acie.sqlite3").exists()
        generated = [json.loads(x) for x in log if x.startswith("{")]
        assert any("generated a local HS256 secret" in x["message"] for x in generated)
        tok = subprocess.run(
            [sys.executable, "-m", "acie", "auth", "token", "--sub", "op"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        with httpx.Client(base_url=url, timeout=30) as c:
            assert c.get("/healthz").json()["status"] == "SERVING"
            assert (
                c.get("/v1/models", headers={"Authorization": f"Bearer {tok}"}).status_code == 200
            )
            ops = c.get("/ops/report").json()
            assert ops["lines"] == 30
            assert ops["experiments"][0]["current"]["label"] == "enable_cache"
            assert "acie_ops_fti{" in c.get("/ops/metrics").text
            assert c.get("/ops/health").json()["status"] == "ok"
            spec = c.get("/openapi.json")
            assert spec.status_code == 200, spec.text[:500]
            schemathesis.openapi.from_dict(spec.json()).validate()  # a valid OpenAPI document
            assert {"/v1/counterfactual", "/ops/report"} <= set(spec.json()["paths"])
            docs = c.get("/docs")
            assert docs.status_code == 200
            assert "/openapi.json" in docs.text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    while not lines.empty():
        log.append(lines.get())
    messages = [json.loads(x)["message"] for x in log if x.startswith("{")]
    assert "shutting down: health is NOT_SERVING" in messages
    assert messages.index("shutting down: health is NOT_SERVING") < messages.index("stopped")
