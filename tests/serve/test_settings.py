"""Each serving setting does what docs/configuration.md says; each test fails if it is ignored.

ACIE_ENV (production and staging checks), MAX_STEPS, PAILLIER_PUB_KEY, FLAGS_FILE and the
TLS_* files.
"""

from __future__ import annotations

import json
import os
import ssl
import time

import grpc
import httpx
import pytest
from typer.testing import CliRunner

from acie.client import GrpcClient, RestClient, RetryPolicy
from acie.errors import (
    BackendUnavailableError,
    ConfigurationError,
    CryptoError,
    InputValidationError,
)
from acie.wire.proto import inference_pb2 as pb
from acie.wire.proto import inference_pb2_grpc as pb_grpc

LOOSE = 1e9


def _auth(tok: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tok}"}


def _write(path, data) -> None:
    """Write a flags file and move its mtime forward (the reader compares mtimes)."""
    path.write_text(json.dumps(data))
    later = time.time_ns() + 10_000_000 * (1 + len(str(data)))
    os.utime(path, ns=(later, later))


# -- MAX_STEPS ---------------------------------------------------------------------------------


def test_max_steps_bounds_a_requests_physics_steps(server_factory, token, make_obs, tensor_json):
    server = server_factory(MAX_STEPS=5, PHYSICS_STEPS=2)

    def body(steps):
        return {
            "request_id": f"steps-{steps}",
            "observation": tensor_json(make_obs(1)),
            "interventions": {"log_stellar_mass": 10.5},
            "physics_tolerance": LOOSE,
            "physics_steps": steps,
        }

    with httpx.Client(base_url=server.http_url, headers=_auth(token())) as c:
        ok = c.post("/v1/counterfactual", json=body(5))
        over = c.post("/v1/counterfactual", json=body(6))
        job = c.post("/v1/jobs", json=body(6))
    assert ok.status_code == 200, ok.text
    assert over.status_code == 400
    assert job.status_code == 400
    err = over.json()["error"]
    assert err["code"] == "INVALID_ARGUMENT", err
    assert "MAX_STEPS" in err["message"], err
    obs = make_obs(1)
    with (
        grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as ch,
        pytest.raises(grpc.RpcError) as info,
    ):
        pb_grpc.InferenceServiceStub(ch).CounterfactualInference(
            pb.CounterfactualRequest(
                request_id="g",
                observation=pb.Tensor(shape=list(obs.shape), dtype="float32", data=obs.tobytes()),
                physics_steps=6,
            ),
            metadata=(("authorization", f"Bearer {token()}"),),
            timeout=30,
        )
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "MAX_STEPS" in info.value.details()


# -- FLAGS_FILE --------------------------------------------------------------------------------


def test_feature_flags_switch_features_without_restart(
    server_factory, token, make_obs, tmp_path, caplog
):
    flags = tmp_path / "flags.json"  # absent: every feature at its default (on)
    server = server_factory(FLAGS_FILE=flags)
    stream_request = [{"observation": make_obs(1), "request_id": "s1", "physics_tolerance": LOOSE}]
    with (
        RestClient(server.http_url, token=token(), retry=RetryPolicy(max_attempts=1)) as rest,
        GrpcClient(
            f"127.0.0.1:{server.grpc_port}", token=token(), retry=RetryPolicy(max_attempts=1)
        ) as g,
    ):
        assert rest.blind_layer()["in_features"] > 0
        assert [a.request_id for a in g.stream(stream_request)] == ["s1"]

        _write(flags, {"blind_inference": False})
        with pytest.raises(BackendUnavailableError, match="blind_inference"):
            rest.blind_layer()
        with httpx.Client(base_url=server.http_url, headers=_auth(token())) as h:
            r = h.post("/v1/blind/infer", json={"request_id": "b", "encrypted_input": {}})
        assert r.status_code == 503
        assert r.json()["error"]["code"] == "UNAVAILABLE"
        assert [a.request_id for a in g.stream(stream_request)] == ["s1"]  # untouched

        _write(flags, {"blind_inference": True, "grpc_streaming": False})
        assert rest.blind_layer()["in_features"] > 0
        with pytest.raises(BackendUnavailableError, match="grpc_streaming"):
            list(g.stream(stream_request))
        assert g.counterfactual(make_obs(1), {}, physics_tolerance=LOOSE).images.shape[0] == 1

        # a bad edit is logged and the last good flags stay in force
        _write(flags, {"grpc_streaming": "yes"})
        with pytest.raises(BackendUnavailableError, match="grpc_streaming"):
            list(g.stream(stream_request))
        assert "feature flags not reloaded" in caplog.text
        assert rest.blind_layer()["in_features"] > 0

        _write(flags, {})
        assert [a.request_id for a in g.stream(stream_request)] == ["s1"]


# -- PAILLIER_PUB_KEY --------------------------------------------------------------------------


def test_paillier_pub_key_is_the_only_client_key_accepted(
    server_factory, token, make_obs, tiny_engine, tmp_path
):
    from acie.privacy import generate_keypair
    from acie.serve.blind import encoder_features

    configured_pub, configured = generate_keypair(512)
    _, stranger = generate_keypair(512)
    configured_pub.save(tmp_path / "client.pub.json")
    server = server_factory(PAILLIER_PUB_KEY=tmp_path / "client.pub.json", BLIND_MIN_KEY_BITS=512)
    feats = encoder_features(tiny_engine, make_obs(1))[0]
    with RestClient(server.http_url, token=token(), retry=RetryPolicy(max_attempts=1)) as c:
        layer = c.blind_layer()
        assert layer["client_key_fingerprint"] == configured_pub.fingerprint
        assert c.blind_infer(feats, private_key=configured).shape == (layer["out_features"],)
        with pytest.raises(InputValidationError, match="server expects"):
            c.blind_infer(feats, private_key=stranger)


def test_unreadable_paillier_pub_key_stops_the_start(settings_factory, tiny_engine, tmp_path):
    from acie.serve.server import build_runtime

    with pytest.raises(ConfigurationError, match="PAILLIER_PUB_KEY"):
        build_runtime(
            settings_factory(PAILLIER_PUB_KEY=tmp_path / "missing.json"), model=tiny_engine
        )


# -- ACIE_ENV ----------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ["production", "staging"])
def test_production_refuses_a_generated_jwt_secret(settings_factory, env):
    from acie.serve.server import resolve_jwt_secret

    strict = settings_factory(ACIE_ENV=env, JWT_SECRET=None)
    with pytest.raises(ConfigurationError, match=f"ACIE_ENV={env}.*JWT_SECRET"):
        resolve_jwt_secret(strict)
    assert not (strict.ACIE_DATA_DIR / "jwt_secret").exists()
    assert resolve_jwt_secret(settings_factory(ACIE_ENV=env)).startswith("test-secret-")
    relaxed = settings_factory(ACIE_ENV="development", JWT_SECRET=None)
    assert resolve_jwt_secret(relaxed)
    assert (relaxed.ACIE_DATA_DIR / "jwt_secret").exists()


@pytest.mark.parametrize("env", ["production", "staging"])
def test_production_refuses_small_paillier_keys(settings_factory, tiny_engine, tmp_path, env):
    from acie.privacy import generate_keypair
    from acie.privacy.blind import BlindInferenceClient
    from acie.serve.server import build_runtime

    pub, private = generate_keypair(512)
    pub.save(tmp_path / "small.pub.json")
    with pytest.raises(ConfigurationError, match="512-bit Paillier key"):
        build_runtime(
            settings_factory(ACIE_ENV=env, PAILLIER_PUB_KEY=tmp_path / "small.pub.json"),
            model=tiny_engine,
        )
    rt = build_runtime(settings_factory(ACIE_ENV=env), model=tiny_engine)
    try:
        request = BlindInferenceClient(private_key=private).request([0.0] * 8)
        with pytest.raises(CryptoError, match="at least 2048 bits"):
            rt.blind_layer.apply_json(request)
    finally:
        rt.close()
    rt = build_runtime(settings_factory(), model=tiny_engine)  # development: any size
    try:
        n = rt.blind_layer.layer.in_features
        request = BlindInferenceClient(private_key=private).request([0.0] * n)
        assert "output" in rt.blind_layer.apply_json(request)
    finally:
        rt.close()


def test_production_refuses_plaintext_and_serves_tls(
    tiny_engine, settings_factory, pki, token, tmp_path
):
    from acie.serve.server import Server, build_runtime
    from acie.serve.tls import TlsConfig, tls_from_settings

    for name in ("server_cert", "server_key"):
        (tmp_path / f"{name}.pem").write_bytes(pki[name])
    settings = settings_factory(
        ACIE_ENV="production",
        TLS_CERT_FILE=tmp_path / "server_cert.pem",
        TLS_KEY_FILE=tmp_path / "server_key.pem",
    )
    rt = build_runtime(settings, model=tiny_engine)
    try:
        with pytest.raises(ConfigurationError, match="plaintext REST and gRPC"):
            Server(rt)
        with pytest.raises(ConfigurationError, match="plaintext REST"):
            Server(rt, grpc_tls=TlsConfig(pki["server_cert"], pki["server_key"]))
        tls = tls_from_settings(settings)
        assert tls is not None
        assert tls.private_key == pki["server_key"]
        server = Server(rt, grpc_tls=tls, http_tls=tls).start()
    except BaseException:
        rt.close()
        raise
    try:
        assert server.http_url.startswith("https://")
        ctx = ssl.create_default_context(cadata=pki["ca"].decode())
        with httpx.Client(base_url=server.http_url, verify=ctx) as c:
            assert c.get("/healthz").json()["status"] == "SERVING"
            assert c.get("/v1/models", headers=_auth(token())).status_code == 200
        with pytest.raises(httpx.HTTPError):  # no plaintext on the TLS port
            httpx.get(f"http://127.0.0.1:{server.http_port}/healthz", timeout=5)
        with GrpcClient(
            f"localhost:{server.grpc_port}", token=token(), root_certificates=pki["ca"]
        ) as g:
            assert g.health()["status"] == "SERVING"
    finally:
        server.stop(grace_s=0.5)


def test_acie_serve_in_production_refuses_plaintext_before_loading_a_model(tmp_path, monkeypatch):
    from acie.cli.main import app
    from acie.config import get_settings

    monkeypatch.setenv("ACIE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ACIE_ENV", "production")
    monkeypatch.setenv("JWT_SECRET", "x" * 48)
    for name in ("TLS_CERT_FILE", "TLS_KEY_FILE", "ACIE_SETTINGS_FILE"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    try:
        r = CliRunner().invoke(app, ["serve", "--http-port", "0", "--grpc-port", "0"])
    finally:
        get_settings.cache_clear()
    assert isinstance(r.exception, ConfigurationError), r.output
    assert "refuses plaintext REST and gRPC" in str(r.exception)
    assert not (tmp_path / "acie.sqlite3").exists()  # stopped before opening anything


@pytest.mark.parametrize(
    ("args", "what"),
    [
        (["auth", "token", "--sub", "op"], "JWT_SECRET"),
        (["keys", "paillier", "--bits", "1024", "--out", "KEYS"], "under 2048 bits"),
    ],
)
def test_the_cli_applies_the_production_checks(tmp_path, monkeypatch, args, what):
    from acie.cli.main import app
    from acie.config import get_settings

    monkeypatch.setenv("ACIE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ACIE_ENV", "production")
    for name in ("JWT_SECRET", "JWKS_FILE", "ACIE_SETTINGS_FILE"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    try:
        r = CliRunner().invoke(app, [str(tmp_path / "keys") if a == "KEYS" else a for a in args])
    finally:
        get_settings.cache_clear()
    assert r.exception is not None, r.output
    assert what in str(r.exception), r.output
    assert not (tmp_path / "jwt_secret").exists()
    assert not (tmp_path / "keys").exists()


def test_paillier_pub_key_outside_the_blind_key_range_stops_the_start(
    settings_factory, tiny_engine, tmp_path
):
    """A configured client key every blind request would refuse is refused at start-up."""
    from acie.privacy import generate_keypair
    from acie.serve.server import build_runtime

    pub, _ = generate_keypair(512)
    pub.save(tmp_path / "small.pub.json")
    with pytest.raises(ConfigurationError, match=r"512-bit.*BLIND_MIN_KEY_BITS=1024"):
        build_runtime(
            settings_factory(PAILLIER_PUB_KEY=tmp_path / "small.pub.json", BLIND_MIN_KEY_BITS=1024),
            model=tiny_engine,
        )
    with pytest.raises(ConfigurationError, match=r"512-bit.*BLIND_MAX_KEY_BITS=384"):
        build_runtime(
            settings_factory(
                PAILLIER_PUB_KEY=tmp_path / "small.pub.json",
                BLIND_MIN_KEY_BITS=256,
                BLIND_MAX_KEY_BITS=384,
            ),
            model=tiny_engine,
        )
