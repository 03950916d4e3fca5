"""The Python SDK against a live server: both protocols, errors, retries, blind inference, search."""

from __future__ import annotations

import json
import socket
import threading
import time

import numpy as np
import pytest

from acie.client import GrpcClient, RestClient, RetryPolicy
from acie.errors import (
    AuthorizationError,
    BackendUnavailableError,
    InputValidationError,
    KeyMismatchError,
    PhysicsViolationError,
    RateLimitError,
)
from tests.serve.engine64 import engine64, server64  # noqa: F401 (fixtures)

LOOSE = 1e9


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_rest_client_round_trip_jobs_and_search(server64, token, engine64):  # noqa: F811
    from acie.embedding.embedder import load_default_embedder
    from acie.galaxy.simulator import GalaxySimulator

    server = server64  # images of the served galaxy embedder's shape: finished jobs are indexed
    obs = GalaxySimulator().sample(2, seed=3).images.astype(np.float32)
    with RestClient(server.http_url, token=token()) as c:
        assert c.health()["status"] == "SERVING"
        assert c.models()[0]["version"] == engine64.model_version
        ans = c.counterfactual(obs, {"log_stellar_mass": 10.2}, physics_tolerance=LOOSE)
        assert ans.images.shape == (2, 3, 64, 64)
        assert ans.images.dtype == np.float32
        assert ans.counterfactual_properties["log_stellar_mass"] == pytest.approx([10.2, 10.2])
        job = c.submit_job(
            obs, {"log_stellar_mass": 10.2}, physics_tolerance=LOOSE, request_id="sdk-job"
        )
        states = [m["state"] for m in c.progress(job["job_id"]) if not m.get("final")]
        assert states == ["QUEUED", "PROCESSING", "PHYSICS_CHECK", "COMPLETE"]
        done = c.wait(job["job_id"])
        assert done.images.shape == (2, 3, 64, 64)
        assert [j["job_id"] for j in c.jobs()] == [job["job_id"]]
        # the finished job's images are in the kNN index: searching with the first
        # image's galaxy-embedder vector finds it at distance ~0 (float32 round-off)
        query = load_default_embedder().embed(obs[:1])[0]
        hits = c.search(query, k=2)
        assert hits[0]["metadata"]["job_id"] == job["job_id"]
        assert hits[0]["metadata"]["image"] == 0
        assert hits[0]["distance"] < 1e-3
        # filters on the stored factual properties
        lo = c.search(query, k=2, filter={"log_stellar_mass": {"<": -100.0}})
        assert lo == []
    with RestClient(server.http_url, token=token(sub="eve")) as c:
        assert c.search(query, k=5) == []  # other users' images are not searchable


def test_rest_client_raises_typed_errors(server, token, make_obs):
    with RestClient(server.http_url, token=token(), retry=RetryPolicy(max_attempts=1)) as c:
        with pytest.raises(PhysicsViolationError, match="FAILED_PRECONDITION"):
            c.counterfactual(make_obs(), {}, physics_tolerance=1e-12, physics_steps=0)
        with pytest.raises(InputValidationError, match="INVALID_ARGUMENT"):
            c.counterfactual(np.zeros((1, 2, 16, 16)), {})
    with (
        RestClient(server.http_url, token=token(role="collaborator")) as c,
        pytest.raises(AuthorizationError),
    ):
        c.counterfactual(make_obs(), {})


def test_grpc_client_round_trip_and_stream(server, token, make_obs):
    with GrpcClient(f"127.0.0.1:{server.grpc_port}", token=token()) as c:
        assert c.health()["status"] == "SERVING"
        ans = c.counterfactual(make_obs(3), {"log_halo_mass": 12.5}, physics_tolerance=LOOSE)
        assert ans.images.shape == (3, 1, 16, 16)
        assert len(ans.confidence) == 3
        out = list(
            c.stream(
                [
                    {
                        "observation": make_obs(1),
                        "interventions": {},
                        "request_id": "a",
                        "physics_tolerance": LOOSE,
                    },
                    {"observation": make_obs(1), "interventions": {"nope": 1.0}, "request_id": "b"},
                ]
            )
        )
        by_id = {getattr(x, "request_id", None): x for x in out}
        assert by_id["a"].images.shape == (1, 1, 16, 16)
        assert isinstance(by_id["b"], InputValidationError)
        assert "'nope'" in str(by_id["b"])
        with pytest.raises(PhysicsViolationError):
            c.counterfactual(make_obs(), {}, physics_tolerance=1e-12, physics_steps=0)


def _hold_pool(server, make_obs):
    core = server.runtime.core
    release, started = threading.Event(), threading.Event()

    def stage(s):
        if s == "PROCESSING":
            started.set()
            release.wait(10)

    call = core.validate(
        request_id="hold", observation=make_obs(1), interventions={}, physics_tolerance=LOOSE
    )
    fut = core.submit("holder", call, on_stage=stage)
    assert started.wait(10)
    return release, fut


@pytest.mark.parametrize("protocol", ["rest", "grpc"])
def test_retry_with_backoff_on_resource_exhausted(server_factory, token, make_obs, protocol):
    server = server_factory(QUEUE_MAX_DEPTH=1)
    release, fut = _hold_pool(server, make_obs)
    waits = []

    def sleep(s):  # the queue drains while the client backs off
        waits.append(s)
        release.set()
        fut.result(10)

    policy = RetryPolicy(max_attempts=4, initial_backoff_s=0.05, jitter=0.0, sleep=sleep)
    if protocol == "rest":
        client = RestClient(server.http_url, token=token(), retry=policy)
    else:
        client = GrpcClient(f"127.0.0.1:{server.grpc_port}", token=token(), retry=policy)
    with client:
        ans = client.counterfactual(make_obs(), {}, physics_tolerance=LOOSE)
    assert ans.images.shape == (1, 1, 16, 16)
    assert client.attempts == 2
    assert waits == [0.05]


@pytest.mark.parametrize("protocol", ["rest", "grpc"])
def test_retry_gives_up_on_unavailable_with_exponential_waits(token, make_obs, protocol):
    port = _free_port()  # nothing listens here
    waits = []
    policy = RetryPolicy(
        max_attempts=4, initial_backoff_s=0.1, multiplier=2.0, jitter=0.0, sleep=waits.append
    )
    if protocol == "rest":
        client = RestClient(f"http://127.0.0.1:{port}", token=token(), retry=policy, timeout_s=5)
    else:
        client = GrpcClient(f"127.0.0.1:{port}", token=token(), retry=policy, timeout_s=5)
    with client, pytest.raises(BackendUnavailableError):
        client.counterfactual(make_obs(), {})
    assert client.attempts == 4
    assert waits == pytest.approx([0.1, 0.2, 0.4])


@pytest.mark.parametrize("protocol", ["rest", "grpc"])
def test_health_waits_for_a_server_that_is_still_starting(
    tiny_engine, settings_factory, token, protocol
):
    """What the README's serving block relies on: ask before the server listens, get SERVING."""
    from acie.serve.server import Server, build_runtime

    http_port, grpc_port = _free_port(), _free_port()
    if protocol == "rest":
        client = RestClient(
            f"http://127.0.0.1:{http_port}", token=token(), retry=RetryPolicy(max_attempts=1)
        )
    else:
        client = GrpcClient(f"127.0.0.1:{grpc_port}", token=token())
    started = []

    def start_later():
        time.sleep(1.0)
        rt = build_runtime(settings_factory(), model=tiny_engine)
        started.append(Server(rt, http_port=http_port, grpc_port=grpc_port).start())

    with client:
        with pytest.raises(BackendUnavailableError):  # nothing listens yet: no wait, no answer
            client.health()
        thread = threading.Thread(target=start_later)
        thread.start()
        try:
            health = client.health(wait=120)
        finally:
            thread.join(120)
            for srv in started:
                srv.stop(grace_s=0.5)
    assert health["status"] == "SERVING"
    assert started


@pytest.mark.parametrize("protocol", ["rest", "grpc"])
def test_health_wait_gives_up_at_its_deadline(token, protocol):
    port = _free_port()  # nothing listens here
    if protocol == "rest":
        client = RestClient(f"http://127.0.0.1:{port}", token=token())
    else:
        client = GrpcClient(f"127.0.0.1:{port}", token=token())
    t0 = time.monotonic()
    with client, pytest.raises(BackendUnavailableError, match="after waiting 1 s"):
        client.health(wait=1.0)
    assert 0.9 <= time.monotonic() - t0 < 10


def test_rate_limit_retry_respects_retry_after(server_factory, token):
    server = server_factory(RATE_LIMIT_PER_MINUTE=1)
    waits = []
    with RestClient(
        server.http_url,
        token=token(),
        retry=RetryPolicy(
            max_attempts=2, initial_backoff_s=0.01, max_backoff_s=30, jitter=0.0, sleep=waits.append
        ),
    ) as c:
        c.models()
        with pytest.raises(RateLimitError):
            c.models()
    # one token per minute: the server asks for ~60 s, and the client waits that long
    assert len(waits) == 1
    assert 30 <= waits[0] <= 60


def test_jitter_is_seeded_and_bounded():
    a = RetryPolicy(seed=1, jitter=0.5, initial_backoff_s=1.0)
    b = RetryPolicy(seed=1, jitter=0.5, initial_backoff_s=1.0)
    xs = [a.backoff(k) for k in range(1, 6)]
    assert xs == [b.backoff(k) for k in range(1, 6)]
    for k, x in enumerate(xs, start=1):
        base = min(10.0, 2.0 ** (k - 1))
        assert 0.5 * base <= x <= 1.5 * base


def test_blind_inference_end_to_end(server_factory, token, make_obs, tiny_engine):
    """Client-side encryption: the server computes the property head on ciphertexts only."""
    server = server_factory(BLIND_MIN_KEY_BITS=512)  # small keys: fast test
    import torch

    from acie.privacy import generate_keypair
    from acie.serve.blind import encoder_features

    _, private = generate_keypair(512)  # small key: fast test; real use needs >= 2048 bits
    feats = encoder_features(tiny_engine, make_obs(1, seed=7))[0]
    with RestClient(server.http_url, token=token()) as c:
        layer = c.blind_layer()
        out = c.blind_infer(feats, private_key=private)
    head = tiny_engine.checkpoint.model.encoder.property_head
    d = layer["out_features"]
    with torch.no_grad():
        expected = (
            head.weight[:d].double() @ torch.from_numpy(feats) + head.bias[:d].double()
        ).numpy()
    # fixed-point error bound: weights rounded at 2^-p_w, inputs at 2^-24 (privacy defaults),
    # each contributing half a unit per term
    w = head.weight[:d].detach().double().numpy()
    bound = (
        np.abs(feats).sum() * 2.0 ** -(layer["weight_precision_bits"] + 1)
        + np.abs(w).sum(axis=1) * 2.0**-25
        + 2.0**-24
    )
    assert out.shape == (d,)
    assert layer["in_features"] == feats.size
    assert np.all(np.abs(out - expected) <= bound)


def test_blind_inference_reveals_nothing_to_the_server(
    server_factory, token, make_obs, tiny_engine
):
    """The request carries the public key only; the answer is useless without the private key."""
    server = server_factory(BLIND_MIN_KEY_BITS=512)  # small keys: fast test
    import httpx

    from acie.privacy import generate_keypair
    from acie.privacy.blind import BlindInferenceClient
    from acie.serve.blind import encoder_features

    _, private = generate_keypair(512)
    feats = encoder_features(tiny_engine, make_obs(1))[0]
    client = BlindInferenceClient(private_key=private)
    request = client.request(feats)
    assert not {"p", "q", "lambda", "mu"} & set(request["public_key"])
    with httpx.Client(base_url=server.http_url) as h:
        r = h.post(
            "/v1/blind/infer",
            json={"request_id": "b1", "encrypted_input": request},
            headers={"Authorization": f"Bearer {token(role='admin', sub='root')}"},
        )
    assert r.status_code == 200
    text = json.dumps(r.json())
    assert str(int(private.p)) not in text
    assert str(int(private.q)) not in text
    _, other = generate_keypair(512)
    with pytest.raises(KeyMismatchError, match="expected"):  # a wrong key must not decrypt
        BlindInferenceClient(private_key=other).decrypt(r.json()["encrypted_output"])
