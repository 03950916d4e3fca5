"""Blind inference of a head in rounds over gRPC (OpenBlindSession, BlindRound), real server."""

from __future__ import annotations

import json

import grpc
import numpy as np
import pytest

from acie.client import GrpcClient, RestClient
from acie.errors import InputValidationError
from acie.privacy import generate_keypair
from acie.serve.blind import encoder_features, trunk_features
from acie.wire.proto import inference_pb2 as pb
from acie.wire.proto import inference_pb2_grpc as pb_grpc
from tests.privacy.test_network import fixed_point_tolerance


@pytest.fixture(scope="module")
def keys():
    return generate_keypair(512)


def test_encoder_head_over_grpc_matches_rest_and_plaintext(
    server_factory, token, keys, make_obs, tiny_engine
):
    _, sk = keys
    srv = server_factory(BLIND_MIN_KEY_BITS=512)
    obs = make_obs(1, seed=3)
    trunk = trunk_features(tiny_engine, obs)[0]
    with RestClient(srv.http_url, token=token()) as rest:
        spec = rest.blind_layer()["heads"]["encoder"]
        via_rest = rest.blind_head(trunk, private_key=sk, head="encoder")
    with GrpcClient(f"127.0.0.1:{srv.grpc_port}", token=token()) as c:
        out = c.blind_head(trunk, private_key=sk, spec=spec, head="encoder")
    net = srv.runtime.blind_layer.head("encoder")
    feats = encoder_features(tiny_engine, obs)[0]
    head = tiny_engine.checkpoint.model.encoder.property_head
    expected = head.weight.detach().double().numpy() @ feats + head.bias.detach().double().numpy()
    tol = fixed_point_tolerance(net, trunk) + 1e-5
    assert np.all(np.abs(out["output"] - expected) <= tol)
    assert np.all(np.abs(out["output"] - via_rest["output"]) <= 2 * tol)


def test_grpc_blind_refusals(server_factory, token, keys, make_obs, tiny_engine):
    pk, sk = keys
    srv = server_factory()  # default key sizes: 2048-4096 bits
    feats = encoder_features(tiny_engine, make_obs(1))[0]
    spec = srv.runtime.blind_layer.describe()["heads"]["property"]
    target = f"127.0.0.1:{srv.grpc_port}"
    with GrpcClient(target, token=token()) as c, pytest.raises(InputValidationError, match="2048"):
        c.blind_head(feats, private_key=sk, spec=spec)
    with grpc.insecure_channel(target) as channel:
        stub = pb_grpc.InferenceServiceStub(channel)
        md = (("authorization", f"Bearer {token()}"),)
        with pytest.raises(grpc.RpcError) as err:
            stub.OpenBlindSession(
                pb.BlindSessionRequest(request_id="x", session_json="[[[["), metadata=md
            )
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        deep = "[" * 100_000 + "]" * 100_000
        with pytest.raises(grpc.RpcError) as err:
            stub.OpenBlindSession(
                pb.BlindSessionRequest(request_id="x", session_json=deep), metadata=md
            )
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(grpc.RpcError) as err:
            stub.BlindRound(
                pb.BlindRoundRequest(request_id="x", session_id="ab" * 16, round_json="{}"),
                metadata=md,
            )
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.RpcError) as err:  # no token: refused before any work
            stub.OpenBlindSession(pb.BlindSessionRequest(request_id="x", session_json="{}"))
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    # a session opened by alice (over REST: the sessions are the same) is not mallory's
    small = server_factory(BLIND_MIN_KEY_BITS=512)
    from acie.privacy.network import SESSION_FORMAT, BlindNetworkClient

    x = BlindNetworkClient(private_key=sk, rounds=spec["rounds"]).encrypt_round(0, feats)
    session = {"format": SESSION_FORMAT, "public_key": pk.to_dict(), "input": x.to_dict()}
    with grpc.insecure_channel(f"127.0.0.1:{small.grpc_port}") as channel:
        stub = pb_grpc.InferenceServiceStub(channel)
        opened = stub.OpenBlindSession(
            pb.BlindSessionRequest(request_id="a", session_json=json.dumps(session)),
            metadata=(("authorization", f"Bearer {token()}"),),
        )
        assert opened.done
        assert json.loads(opened.output_json)["session_id"] == opened.session_id
        with pytest.raises(grpc.RpcError) as err:
            stub.BlindRound(
                pb.BlindRoundRequest(request_id="m", session_id=opened.session_id, round_json="{}"),
                metadata=(("authorization", f"Bearer {token(sub='mallory')}"),),
            )
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
