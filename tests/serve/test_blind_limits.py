"""Blind inference under hostile keys and load, over the real server (issue 14).

Key sizes are bounded by BLIND_MIN_KEY_BITS / BLIND_MAX_KEY_BITS and checked before any
exponentiation or int/str conversion; randomness pools are an LRU bounded in keys and
bytes with one refill thread; REQUEST_TIMEOUT_S cancels the encrypted work itself.
"""

from __future__ import annotations

import base64
import hashlib
import random
import threading

import gmpy2
import httpx
import pytest

from acie.privacy import generate_keypair
from acie.privacy.blind import BlindInferenceClient
from acie.serve.blind import encoder_features


def _post(server, body: dict, token: str) -> httpx.Response:
    with httpx.Client(base_url=server.http_url, timeout=60) as h:
        return h.post(
            "/v1/blind/infer",
            json={"request_id": "blind-1", "encrypted_input": body},
            headers={"Authorization": f"Bearer {token}"},
        )


def _made_up_request(bits: int, count: int, seed: int = 0) -> dict:
    """A request under a made-up odd modulus of ``bits`` bits with ``count`` random ciphertexts."""
    rng = random.Random(seed)
    n = rng.getrandbits(bits) | (1 << (bits - 1)) | 1
    nbytes = (2 * bits + 7) // 8
    cts = [base64.b64encode(rng.randbytes(nbytes)).decode() for _ in range(count)]
    fingerprint = hashlib.sha256(
        b"acie.paillier.n/v1\x00" + n.to_bytes((bits + 7) // 8, "big")
    ).hexdigest()
    return {
        "format": "acie.blind.request/v1",
        # decimal digits without str(int) (which Python limits to 4300 digits)
        "public_key": {"kind": "acie.paillier.public/v1", "n": gmpy2.mpz(n).digits(10), "g": "n+1"},
        "input": {
            "format": "acie.paillier.vector/v1",
            "key_fingerprint": fingerprint,
            "precision": 24,
            "bound": str(1 << 40),
            "ciphertext_encoding": "base64",
            "ciphertexts": cts,
        },
    }


def _assert_error(r: httpx.Response, status: int, code: str, *words: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()["error"]
    assert body["code"] == code
    assert body["trace_id"]
    for w in words:
        assert w in body["message"]


def _pool_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("acie-pool")]


def test_oversize_made_up_key_is_refused_before_any_work(server, token):
    """12,300-bit modulus, 128 ciphertexts: before the fix, 13 s of CPU and a 200/500."""
    r = _post(server, _made_up_request(12_300, 128), token())
    _assert_error(r, 400, "INVALID_ARGUMENT", "12300 bits", "4096")
    layer = server.runtime.blind_layer
    assert layer.server.pools.keys == 0  # no pool created, so no exponentiation started
    assert not _pool_threads()
    with httpx.Client(base_url=server.http_url) as h:
        assert h.get("/healthz").status_code == 200


def test_key_beyond_the_int_to_str_limit_is_invalid_argument_not_500(server, token):
    r = _post(server, _made_up_request(16_000, 2), token())  # 4817 decimal digits
    _assert_error(r, 400, "INVALID_ARGUMENT", "4096")
    r = _post(server, _made_up_request(60_000, 1), token())
    _assert_error(r, 400, "INVALID_ARGUMENT", "4096")


def test_undersize_key_is_refused(server, token, make_obs, tiny_engine):
    _, private = generate_keypair(1024)
    feats = encoder_features(tiny_engine, make_obs(1))[0]
    r = _post(server, BlindInferenceClient(private_key=private).request(feats), token())
    _assert_error(r, 400, "INVALID_ARGUMENT", "1024 bits", "2048")


def test_key_limits_are_settings(server_factory, token, make_obs, tiny_engine):
    srv = server_factory(BLIND_MIN_KEY_BITS=512, BLIND_MAX_KEY_BITS=768)
    feats = encoder_features(tiny_engine, make_obs(1))[0]
    _, small = generate_keypair(512)
    client = BlindInferenceClient(private_key=small)
    r = _post(srv, client.request(feats), token())
    assert r.status_code == 200, r.text
    assert client.decrypt(r.json()["encrypted_output"]).shape == (
        srv.runtime.blind_layer.layer.out_features,
    )
    _, big = generate_keypair(1024)
    r = _post(srv, BlindInferenceClient(private_key=big).request(feats), token())
    _assert_error(r, 400, "INVALID_ARGUMENT", "1024 bits", "768")


def test_pools_are_an_lru_bounded_in_keys_with_one_refill_thread(
    server_factory, token, make_obs, tiny_engine
):
    srv = server_factory(BLIND_MIN_KEY_BITS=512, BLIND_POOL_MAX_KEYS=2)
    feats = encoder_features(tiny_engine, make_obs(1))[0]
    keys = [generate_keypair(512)[1] for _ in range(5)]
    for sk in keys:
        client = BlindInferenceClient(private_key=sk)
        r = _post(srv, client.request(feats), token())
        assert r.status_code == 200, r.text
        assert client.decrypt(r.json()["encrypted_output"]).size > 0
        assert len(_pool_threads()) <= 1
    pools = srv.runtime.blind_layer.server.pools
    assert pools.keys <= 2
    assert pools.evictions >= 3
    assert keys[-1].fingerprint in pools  # the most recent key is kept
    assert keys[0].fingerprint not in pools


def test_pool_memory_cap_is_a_setting(server_factory, token, make_obs, tiny_engine):
    # 512-bit key: 128 bytes per value; a 4 KiB cap holds at most 32 values in all
    srv = server_factory(BLIND_MIN_KEY_BITS=512, BLIND_POOL_MAX_BYTES=4096)
    feats = encoder_features(tiny_engine, make_obs(1))[0]
    for _ in range(3):
        sk = generate_keypair(512)[1]
        r = _post(srv, BlindInferenceClient(private_key=sk).request(feats), token())
        assert r.status_code == 200, r.text
    pools = srv.runtime.blind_layer.server.pools
    pools.join_refill(timeout=30)
    assert pools.nbytes <= 4096


def test_request_timeout_cancels_the_encrypted_work(server_factory, token, make_obs, tiny_engine):
    # a deadline of 1 ns has passed before the first unit of work, whatever the machine
    srv = server_factory(REQUEST_TIMEOUT_S=1e-9, BLIND_MIN_KEY_BITS=512)
    _, sk = generate_keypair(512)
    feats = encoder_features(tiny_engine, make_obs(1))[0]
    r = _post(srv, BlindInferenceClient(private_key=sk).request(feats), token())
    _assert_error(r, 504, "DEADLINE_EXCEEDED", "REQUEST_TIMEOUT_S")
    layer = srv.runtime.blind_layer
    assert layer.cancelled == 1  # the evaluation itself stopped, not just the wait
    assert layer.server.cancelled == 1
    with httpx.Client(base_url=srv.http_url) as h:
        assert h.get("/healthz").status_code == 200


@pytest.mark.parametrize("bits", [0, -5, 10**6])
def test_claimed_bits_field_does_not_matter(server, token, bits):
    body = _made_up_request(12_300, 1)
    body["public_key"]["bits"] = bits
    r = _post(server, body, token())
    _assert_error(r, 400, "INVALID_ARGUMENT", "4096")
