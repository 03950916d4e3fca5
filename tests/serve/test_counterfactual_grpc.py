"""Relative interventions, particles and per-galaxy outcomes over gRPC and the SDKs (issue 16)."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from acie.client import GrpcClient, RestClient
from acie.errors import InputValidationError, OutOfRangeError, PhysicsViolationError
from acie.wire.proto import inference_pb2 as pb
from acie.wire.proto import inference_pb2_grpc as pb_grpc

IV = {"log_stellar_mass": 10.5}


@pytest.fixture
def split_tolerance(tiny_engine, make_obs):
    """Two images and a tolerance between their violation scores under ``IV`` (no projection)."""
    for seed in range(20):
        obs = make_obs(2, seed=seed)
        r = tiny_engine.counterfactual(obs, IV, physics_tolerance=1e9, physics_steps=0)
        lo, hi = sorted(r.violation_score)
        if np.isfinite(hi) and hi - lo > 1e-3:
            return obs, 0.5 * (lo + hi), int(np.argmax(r.violation_score))
    pytest.skip("no pair of images with distinct violation scores")


def test_grpc_per_galaxy_outcomes(server, token, split_tolerance):
    # regression (issue 16): gRPC refused the whole request when one galaxy failed
    obs, tol, bad = split_tolerance
    with GrpcClient(f"127.0.0.1:{server.grpc_port}", token=token()) as c:
        ans = c.counterfactual(obs, IV, physics_tolerance=tol, physics_steps=0)
        assert ans.status[bad] == "refused"
        assert ans.status[1 - bad] == "ok"
        assert "tolerance" in ans.reason[bad]
        assert np.all(np.isnan(ans.images[bad]))
        assert np.all(np.isfinite(ans.images[1 - bad]))
        # per galaxy, not batch means: the accepted galaxy's own properties
        assert ans.factual_properties["log_stellar_mass"].shape == (2,)
        assert np.isnan(ans.counterfactual_properties["log_stellar_mass"][bad])
        with pytest.raises(PhysicsViolationError, match="all_or_nothing"):
            c.counterfactual(obs, IV, physics_tolerance=tol, physics_steps=0, all_or_nothing=True)


def test_grpc_relative_intervention_and_particles(server, token, make_obs):
    obs = make_obs(2)
    with GrpcClient(f"127.0.0.1:{server.grpc_port}", token=token()) as c:
        ans = c.counterfactual(
            obs, {"log_stellar_mass": {"factor": 2.0}}, physics_tolerance=1e9, n_particles=6
        )
    np.testing.assert_allclose(
        ans.targets["log_stellar_mass"],
        ans.factual_properties["log_stellar_mass"] + np.log10(2.0),
        rtol=0,
        atol=1e-9,
    )
    assert list(ans.status) == ["ok", "ok"]
    assert ans.uncertainty is not None
    assert ans.uncertainty.shape == obs.shape
    q = ans.intervals["log_stellar_mass"]
    assert set(q) == {"p2.5", "p16", "p50", "p84", "p97.5"}
    assert np.all(q["p16"] <= q["p84"])


def test_rest_client_relative_intervention_and_particles(server, token, make_obs):
    obs = make_obs(2)
    with RestClient(server.http_url, token=token()) as c:
        ans = c.counterfactual(
            obs, {"log_stellar_mass": {"shift": 0.3}}, physics_tolerance=1e9, n_particles=4
        )
    np.testing.assert_allclose(
        ans.targets["log_stellar_mass"], ans.factual_properties["log_stellar_mass"] + 0.3
    )
    assert ans.uncertainty.shape == obs.shape
    assert ans.intervals["log_stellar_mass"]["p50"].shape == (2,)


def test_grpc_old_requests_still_work(server, token, make_obs):
    """A request with only the absolute map (older clients) gets the same answer."""
    obs = np.ascontiguousarray(make_obs(1), dtype="<f4")
    req = pb.CounterfactualRequest(
        request_id="old-1",
        observation=pb.Tensor(shape=list(obs.shape), dtype="float32", data=obs.tobytes()),
        interventions=IV,
        physics_tolerance=1e9,
    )
    ch = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
    try:
        stub = pb_grpc.InferenceServiceStub(ch)
        md = (("authorization", f"Bearer {token()}"),)
        resp = stub.CounterfactualInference(req, metadata=md)
        assert resp.galaxies[0].status == "ok"
        assert resp.galaxies[0].targets["log_stellar_mass"] == pytest.approx(10.5)
        assert not resp.HasField("uncertainty")
        # the same name in both maps is ambiguous: refused
        both = pb.CounterfactualRequest()
        both.CopyFrom(req)
        both.request_id = "old-2"
        both.intervention_specs["log_stellar_mass"].shift = 0.3
        with pytest.raises(grpc.RpcError) as info:
            stub.CounterfactualInference(both, metadata=md)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        # an empty oneof is refused
        empty = pb.CounterfactualRequest()
        empty.CopyFrom(req)
        empty.request_id = "old-3"
        del empty.interventions["log_stellar_mass"]
        empty.intervention_specs["log_stellar_mass"].SetInParent()
        with pytest.raises(grpc.RpcError) as info:
            stub.CounterfactualInference(empty, metadata=md)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        ch.close()


@pytest.mark.parametrize("n", [65, -1, 2**31 - 1])
def test_grpc_hostile_particle_counts(server, token, make_obs, n):
    with (
        GrpcClient(f"127.0.0.1:{server.grpc_port}", token=token()) as c,
        pytest.raises(InputValidationError, match="n_particles"),
    ):
        c.counterfactual(make_obs(1), {}, n_particles=n)


def test_grpc_relative_target_out_of_range(server, token, make_obs):
    with (
        GrpcClient(f"127.0.0.1:{server.grpc_port}", token=token()) as c,
        pytest.raises(InputValidationError, match="outside the calibrated range"),
    ):
        c.counterfactual(make_obs(2), {"log_stellar_mass": {"shift": 6.0}}, physics_tolerance=1e9)
    assert issubclass(OutOfRangeError, InputValidationError)


def test_grpc_stream_carries_relative_forms(server, token, make_obs):
    reqs = [
        {
            "observation": make_obs(1, seed=i),
            "interventions": {"log_stellar_mass": {"shift": 0.1 * i}},
            "physics_tolerance": 1e9,
            "request_id": f"s{i}",
            "n_particles": 2,
        }
        for i in range(3)
    ]
    with GrpcClient(f"127.0.0.1:{server.grpc_port}", token=token()) as c:
        answers = list(c.stream(reqs))
    got = {a.request_id: a for a in answers if not isinstance(a, BaseException)}
    assert set(got) == {"s0", "s1", "s2"}, answers
    for i in range(3):
        a = got[f"s{i}"]
        np.testing.assert_allclose(
            a.targets["log_stellar_mass"], a.factual_properties["log_stellar_mass"] + 0.1 * i
        )
        assert a.uncertainty is not None
