"""PoolCache: per-key randomness pools bounded in keys and bytes, one refill thread (issue 14)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from acie.errors import InputValidationError
from acie.privacy.blind import BlindInferenceClient, BlindInferenceServer
from acie.privacy.linear import EncryptedLinearLayer, check_deadline
from acie.privacy.paillier import generate_keypair
from acie.privacy.pool_cache import PoolCache, value_bytes


@pytest.fixture(scope="module")
def five_keys():
    return [generate_keypair(256)[0] for _ in range(5)]


def _refill_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "acie-pool-refill"]


def test_lru_eviction_by_key_count(five_keys):
    cache = PoolCache(capacity_per_key=4, max_keys=2)
    a, b, c = five_keys[:3]
    pa = cache.get(a)
    cache.get(b)
    assert cache.get(a) is pa  # a is now the most recent
    cache.get(c)  # evicts b
    assert a.fingerprint in cache
    assert b.fingerprint not in cache
    assert c.fingerprint in cache
    assert cache.keys == 2
    assert cache.evictions == 1


def test_memory_cap_bounds_pooled_bytes(five_keys):
    vb = value_bytes(five_keys[0])  # 64 bytes for a 256-bit key
    cache = PoolCache(capacity_per_key=100, max_keys=100, max_bytes=10 * vb)
    for pk in five_keys:
        cache.get(pk).fill()
        assert cache.nbytes <= 10 * vb
    assert cache.keys == 1  # each pool is capped at 10 values, so one fits
    cache.configure(max_bytes=vb)
    assert cache.keys == 0


def test_one_refill_thread_for_all_keys(five_keys):
    cache = PoolCache(capacity_per_key=8, max_keys=10)
    for pk in five_keys:
        cache.get(pk)
        cache.request_refill(pk)
        cache.request_refill(pk)  # queued once
        assert len(_refill_threads()) <= 1
    assert cache.join_refill(timeout=60)
    assert all(cache.get(pk).available == 8 for pk in five_keys)
    deadline = time.monotonic() + 5
    while _refill_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _refill_threads()  # the thread ends when its queue is empty


def test_bad_bounds_are_refused():
    with pytest.raises(InputValidationError, match="max_keys"):
        PoolCache(max_keys=0)
    with pytest.raises(InputValidationError, match="max_bytes"):
        PoolCache(max_bytes=-1)


def test_deadline_stops_the_encrypted_work(keys512):
    _pk, sk = keys512
    rng = np.random.default_rng(3)
    layer = EncryptedLinearLayer(rng.normal(size=(4, 16)), precision=12)
    server = BlindInferenceServer(layer=layer)
    request = BlindInferenceClient(private_key=sk).request(rng.normal(size=16))
    with pytest.raises(TimeoutError, match="deadline"):
        server.evaluate(request, deadline=time.monotonic() - 1.0)
    assert server.cancelled == 1
    assert server.evaluate(request, deadline=time.monotonic() + 600)["format"]
    check_deadline(None)
