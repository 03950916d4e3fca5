"""The server on production settings: RS256 tokens from a JWKS file; PostgreSQL + Redis."""

from __future__ import annotations

import json
import time

import httpx
import jwt
import numpy as np
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from acie.serve.auth import mint_token
from tests.serve.engine64 import engine64  # noqa: F401 (fixture)


def test_rs256_tokens_from_a_jwks_file(server_factory, settings_factory, tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid="prod-1", use="sig", alg="RS256")
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [jwk]}))
    server = server_factory(settings=settings_factory(JWT_SECRET=None, JWKS_FILE=jwks))
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    good = mint_token(subject="alice", private_key=pem, kid="prod-1")
    hs = mint_token(subject="alice", secret="h" * 48)
    with httpx.Client(base_url=server.http_url) as c:
        assert c.get("/v1/models", headers={"Authorization": f"Bearer {good}"}).status_code == 200
        r = c.get("/v1/models", headers={"Authorization": f"Bearer {hs}"})
    assert r.status_code == 401
    assert "RS256" in r.json()["error"]["message"]
    # no local secret is generated when a JWKS is configured
    assert not (tmp_path / "data" / "jwt_secret").exists()


@pytest.mark.postgres
@pytest.mark.redis
def test_postgres_and_redis_backends(
    postgres_url,
    redis_url,
    unique_name,
    engine64,  # noqa: F811
    settings_factory,
    tensor_json,
):
    from acie.embedding.embedder import load_default_embedder
    from acie.galaxy.simulator import GalaxySimulator
    from acie.jobs import RedisJobQueue
    from acie.serve.embedding_index import served_for
    from acie.serve.server import Server, build_runtime
    from acie.store.database import create_engine_for, migrate

    from .conftest import SECRET

    settings = settings_factory(ACIE_DATABASE_URL=postgres_url, REDIS_URL=redis_url)
    engine = create_engine_for(postgres_url)
    migrate(postgres_url, engine=engine)
    queue = RedisJobQueue(engine, redis_url, stream=f"{unique_name}:jobs", group=unique_name)
    server = Server(build_runtime(settings, model=engine64, job_queue=queue)).start()
    sub = f"{unique_name}-alice"  # the Redis rate-limit bucket is keyed by user
    tok = mint_token(subject=sub, secret=SECRET)
    try:
        assert type(server.runtime.vector_index).__name__ == "PgVectorIndex"
        assert type(served_for(server.runtime).index).__name__ == "PgVectorIndex"
        assert type(server.runtime.rate_limiter).__name__ == "RedisRateLimiter"
        obs = GalaxySimulator().sample(1, seed=5).images.astype(np.float32)
        with httpx.Client(
            base_url=server.http_url, headers={"Authorization": f"Bearer {tok}"}, timeout=30
        ) as c:
            job = c.post(
                "/v1/jobs",
                json={
                    "request_id": "pg-1",
                    "observation": tensor_json(obs),
                    "interventions": {"log_stellar_mass": 10.0},
                    "physics_tolerance": 1e9,
                },
            ).json()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                state = c.get(f"/v1/jobs/{job['job_id']}").json()
                if state["state"] in ("COMPLETE", "FAILED"):
                    break
                time.sleep(0.1)
            assert state["state"] == "COMPLETE", state
            # the job's galaxy, indexed by the served galaxy embedder
            query = load_default_embedder().embed(obs)[0].tolist()
            hits = c.post("/v1/search", json={"vector": query, "k": 1}).json()["hits"]
        assert hits[0]["metadata"]["job_id"] == job["job_id"]
        assert hits[0]["distance"] < 1e-3
        assert server.runtime.audit.flush()
        assert server.runtime.audit.audit_log.verify().ok
        assert any(r.user_sub == sub for r in server.runtime.audit.audit_log.records())
    finally:
        server.stop(grace_s=0.5)
        import redis

        r = redis.Redis.from_url(redis_url)
        r.delete(f"{unique_name}:jobs", f"{unique_name}:jobs:dead", f"acie:ratelimit:{sub}")
        r.close()
        engine.dispose()
