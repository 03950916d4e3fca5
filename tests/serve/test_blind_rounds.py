"""Blind inference of the whole property head in rounds, over the real server (issue 14).

The server evaluates each linear layer on ciphertexts; the client decrypts, applies the
non-linearity and re-encrypts. Result = plaintext head within the fixed-point tolerance
of ``tests/privacy/test_network.py`` (weights, inputs and biases rounded; SiLU Lipschitz
1.1); the server holds only ciphertexts, the public key and the permutation.
"""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest
import torch

from acie.client import RestClient
from acie.privacy import generate_keypair
from acie.privacy.network import ROUND_FORMAT, SESSION_FORMAT, BlindNetworkClient
from acie.serve.blind import encoder_features, trunk_features
from tests.privacy.test_network import fixed_point_tolerance


@pytest.fixture(scope="module")
def keys():
    return generate_keypair(512)  # small key: fast test; servers default to 2048-4096 bits


@pytest.fixture
def srv(server_factory):
    return server_factory(BLIND_MIN_KEY_BITS=512)


def _plain_posterior(engine, feats: np.ndarray) -> np.ndarray:
    head = engine.checkpoint.model.encoder.property_head
    with torch.no_grad():
        return (head.weight.double() @ torch.from_numpy(feats) + head.bias.double()).numpy()


def test_property_head_end_to_end(srv, token, keys, make_obs, tiny_engine):
    _, sk = keys
    feats = encoder_features(tiny_engine, make_obs(1, seed=4))[0]
    with RestClient(srv.http_url, token=token()) as c:
        out = c.blind_head(feats, private_key=sk, head="property")
    net = srv.runtime.blind_layer.head("property")
    expected = _plain_posterior(tiny_engine, feats)
    assert np.all(np.abs(out["output"] - expected) <= fixed_point_tolerance(net, feats))
    d = expected.size // 2
    np.testing.assert_array_equal(out["mean"], out["output"][:d])
    assert np.all((out["logvar"] >= -12.0) & (out["logvar"] <= 6.0))


def test_encoder_head_in_two_rounds(srv, token, keys, make_obs, tiny_engine):
    """Feature layer, SiLU at the client, property head: equals the model's own encoder."""
    _, sk = keys
    obs = make_obs(1, seed=9)
    trunk = trunk_features(tiny_engine, obs)[0]
    with RestClient(srv.http_url, token=token()) as c:
        out = c.blind_head(trunk, private_key=sk, head="encoder")
    net = srv.runtime.blind_layer.head("encoder")
    assert net.rounds == 2
    feats = encoder_features(tiny_engine, obs)[0]  # the model's SiLU(features(trunk))
    expected = _plain_posterior(tiny_engine, feats)
    tol = fixed_point_tolerance(net, trunk)
    assert np.all(np.abs(out["output"] - expected) <= tol + 1e-5)  # + float32 model rounding
    # the client learned the hidden activations, but in the server's secret order
    assert out["activations"].shape == (1, feats.size)
    np.testing.assert_allclose(np.sort(out["activations"][0]), np.sort(feats), atol=1e-3)


def _post(h, path, body, tok):
    return h.post(path, json=body, headers={"Authorization": f"Bearer {tok}"})


def test_sessions_are_owned_ordered_and_retry_safe(srv, token, keys, make_obs, tiny_engine):
    pk, sk = keys
    rounds = srv.runtime.blind_layer.describe()["heads"]["encoder"]["rounds"]
    client = BlindNetworkClient(private_key=sk, rounds=rounds)
    trunk = trunk_features(tiny_engine, make_obs(1))[0]
    session = {
        "format": SESSION_FORMAT,
        "head": "encoder",
        "public_key": pk.to_dict(),
        "input": client.encrypt_round(0, trunk).to_dict(),
    }
    with httpx.Client(base_url=srv.http_url, timeout=60) as h:
        r = _post(h, "/v1/blind/sessions", {"request_id": "s0", "session": session}, token())
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["round"], body["rounds"], body["done"]) == (0, 2, False)
        # nothing secret went to the server, nothing plaintext came back
        assert not {"p", "q"} & set(session["public_key"])
        from acie.privacy.vector import EncryptedVector

        z = EncryptedVector.from_dict(body["encrypted_output"]["output"], pk)
        nxt = client.next_input(0, z)
        rnd = {"format": ROUND_FORMAT, "round": 1, "input": nxt.to_dict()}
        path = f"/v1/blind/sessions/{body['session_id']}/rounds"
        # another user cannot continue the session
        r = _post(h, path, {"request_id": "s1", "round": rnd}, token(sub="mallory"))
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "NOT_FOUND"
        # out of order
        bad = {**rnd, "round": 2}
        r = _post(h, path, {"request_id": "s1", "round": bad}, token())
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "INVALID_ARGUMENT"
        r1 = _post(h, path, {"request_id": "s1", "round": rnd}, token())
        assert r1.status_code == 200, r1.text
        assert r1.json()["done"] is True
        r2 = _post(h, path, {"request_id": "s1", "round": rnd}, token())  # retried: same answer
        assert r2.json()["encrypted_output"] == r1.json()["encrypted_output"]
        # the server's session state: public key, round counter, permutation; no plaintext
        entry = next(iter(srv.runtime.blind_layer.sessions._entries.values()))
        state = vars(entry.session)
        assert set(state) == {"network", "public_key", "permutations", "next_round"}
        assert sorted(state["permutations"][0]) == list(range(len(z)))
        unknown = "/v1/blind/sessions/" + "0" * 32 + "/rounds"
        r = _post(h, unknown, {"request_id": "s2", "round": rnd}, token())
        assert r.status_code == 404


def test_session_key_limits_and_unknown_head(server, srv, token, keys, make_obs, tiny_engine):
    pk, sk = keys  # 512 bits: under the default BLIND_MIN_KEY_BITS of 2048
    feats = encoder_features(tiny_engine, make_obs(1))[0]
    rounds = server.runtime.blind_layer.describe()["heads"]["property"]["rounds"]
    x = BlindNetworkClient(private_key=sk, rounds=rounds).encrypt_round(0, feats).to_dict()
    session = {"format": SESSION_FORMAT, "public_key": pk.to_dict(), "input": x}
    with httpx.Client(base_url=server.http_url, timeout=60) as h:
        r = _post(h, "/v1/blind/sessions", {"request_id": "k", "session": session}, token())
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "INVALID_ARGUMENT"
        assert "2048" in r.json()["error"]["message"]
    with httpx.Client(base_url=srv.http_url, timeout=60) as h:  # 512-bit keys allowed here
        session = {**session, "head": "nope"}
        r = _post(h, "/v1/blind/sessions", {"request_id": "k", "session": session}, token())
        assert r.status_code == 400
        assert "nope" in json.dumps(r.json())


def test_session_rounds_refill_the_key_pool(srv, token, keys, make_obs, tiny_engine):
    _, sk = keys
    feats = encoder_features(tiny_engine, make_obs(1))[0]
    with RestClient(srv.http_url, token=token()) as c:
        c.blind_head(feats, private_key=sk)
    pools = srv.runtime.blind_layer.server.pools
    assert pools.join_refill(timeout=60)
    pool = pools.get(sk.public_key)
    assert pool.available == pool.capacity  # refilled off the request path after the round
