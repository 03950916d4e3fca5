"""The expected answer over REST, as ``acie serve`` builds the server: ``expected_draws``.

The served answer is the engine's own (:meth:`CounterfactualEngine.counterfactual` with
``expected_draws``, the server's settings and watermark), for a synchronous request and a
job; bounds are refused with typed errors before anything runs.
"""

from __future__ import annotations

import time

import httpx
import numpy as np
import pytest

from acie.wire.tensors import decode_b64, encode_b64

IV = {"log_stellar_mass": {"factor": 2.0}}


@pytest.fixture(scope="module")
def shipped_engine():
    from acie.deepscm.engine import load_default_model

    return load_default_model()


@pytest.fixture(scope="module")
def galaxies():
    from acie.galaxy.simulator import GalaxySimulator

    # held-out galaxies (the evaluation's seed) of which some have an uncertain branch
    # (star-forming or quenched) under M* x 2, so the expected answer differs from the point
    return GalaxySimulator().sample(8, seed=12345).images.astype(np.float32)


def _auth(tok):
    return {"Authorization": f"Bearer {tok}"}


def _body(obs, request_id, **extra):
    return {
        "request_id": request_id,
        "observation": encode_b64(obs),
        "interventions": IV,
        "physics_tolerance": 1e9,
        **extra,
    }


def test_rest_expected_answer_is_the_engines(server_factory, shipped_engine, galaxies, token):
    server = server_factory(model=shipped_engine)
    steps = server.runtime.settings.PHYSICS_STEPS
    with httpx.Client(base_url=server.http_url, headers=_auth(token()), timeout=120) as c:
        exp = c.post("/v1/counterfactual", json=_body(galaxies, "e", expected_draws=8))
        point = c.post("/v1/counterfactual", json=_body(galaxies, "p"))
    assert exp.status_code == 200, exp.text
    body = exp.json()
    assert body["expected_draws"] == 8
    assert point.json()["expected_draws"] == 0
    got = decode_b64(**body["counterfactual"], allow_nan=True)
    want = shipped_engine.counterfactual(
        galaxies, IV, physics_tolerance=1e9, physics_steps=steps, per_galaxy=True, expected_draws=8
    )
    np.testing.assert_allclose(got, want.images, rtol=1e-5, atol=1e-6)
    for k, v in want.counterfactual_properties.items():
        np.testing.assert_allclose(body["counterfactual_properties"][k], v, rtol=1e-9)
    sfr_exp = np.asarray(body["counterfactual_properties"]["log_sfr"], dtype=float)
    sfr_pt = np.asarray(point.json()["counterfactual_properties"]["log_sfr"], dtype=float)
    assert np.abs(sfr_exp - sfr_pt).max() > 0.05  # a hedged branch


def test_job_expected_answer(server_factory, shipped_engine, galaxies, token):
    server = server_factory(model=shipped_engine)
    with httpx.Client(base_url=server.http_url, headers=_auth(token()), timeout=120) as c:
        r = c.post("/v1/jobs", json=_body(galaxies[:1], "job-e", expected_draws=4))
        assert r.status_code in (200, 202), r.text
        job_id = r.json()["job_id"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            view = c.get(f"/v1/jobs/{job_id}").json()
            if view["state"] in ("COMPLETE", "FAILED"):
                break
            time.sleep(0.2)
    assert view["state"] == "COMPLETE", view
    assert view["result"]["expected_draws"] == 4


@pytest.mark.parametrize(
    ("extra", "n", "status", "fragment"),
    [
        ({"expected_draws": 65}, 1, 400, "expected_draws"),
        ({"expected_draws": True}, 1, 400, "expected_draws"),
        ({"expected_draws": 1.5}, 1, 400, "expected_draws"),
        ({"expected_draws": 40, "n_particles": 40}, 13, 400, "n_particles + expected_draws"),
    ],
)
def test_bad_expected_draws_is_refused(server, token, make_obs, extra, n, status, fragment):
    with httpx.Client(base_url=server.http_url, headers=_auth(token()), timeout=60) as c:
        r = c.post("/v1/counterfactual", json=_body(make_obs(n), "bad", **extra))
    assert r.status_code == status, r.text
    assert fragment in r.text


def test_clients_over_both_protocols_get_the_same_expected_answer(
    server_factory, shipped_engine, galaxies, token
):
    from acie.client import GrpcClient, RestClient

    server = server_factory(model=shipped_engine)
    obs = galaxies
    with RestClient(server.http_url, token=token(), timeout_s=120) as c:
        rest = c.counterfactual(obs, IV, physics_tolerance=1e9, expected_draws=6)
        job = c.submit_job(obs, IV, physics_tolerance=1e9, expected_draws=6, request_id="j6")
    with GrpcClient(f"127.0.0.1:{server.grpc_port}", token=token(), timeout_s=120) as g:
        grpc_ans = g.counterfactual(obs, IV, physics_tolerance=1e9, expected_draws=6)
        point = g.counterfactual(obs, IV, physics_tolerance=1e9)
        streamed = list(
            g.stream(
                [
                    {
                        "observation": obs,
                        "interventions": IV,
                        "physics_tolerance": 1e9,
                        "expected_draws": 6,
                    }
                ]
            )
        )
    assert rest.expected_draws == grpc_ans.expected_draws == streamed[0].expected_draws == 6
    assert point.expected_draws == 0
    assert job["state"] in ("QUEUED", "PROCESSING", "COMPLETE")
    np.testing.assert_allclose(grpc_ans.images, rest.images, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(streamed[0].images, rest.images, rtol=1e-6, atol=1e-7)
    for k, v in rest.counterfactual_properties.items():
        np.testing.assert_allclose(grpc_ans.counterfactual_properties[k], v, rtol=1e-9)
    moved = rest.counterfactual_properties["log_sfr"] - point.counterfactual_properties["log_sfr"]
    assert np.abs(moved).max() > 0.05
