"""Randomness pool: single use, no pickling, fork safety; distinct randomness across processes."""

from __future__ import annotations

import copy
import json
import multiprocessing
import pickle
import subprocess
import sys

import gmpy2
import pytest

from acie.errors import CryptoError, InputValidationError, KeyMismatchError
from acie.privacy.paillier import PaillierCiphertext
from acie.privacy.pool import RandomnessPool

ENCRYPT_ZERO = """
import json, sys
from acie.privacy.paillier import PaillierPrivateKey
from acie.privacy.pool import RandomnessPool
sk = PaillierPrivateKey.load(sys.argv[1])
pool = RandomnessPool(sk.public_key, capacity=4)
pool.fill()
out = [int(sk.encrypt(0).value) for _ in range(4)]
out += [int(sk.public_key.encrypt(0).value) for _ in range(2)]
out += [int(sk.public_key.encrypt(0, pool=pool).value) for _ in range(4)]
print(json.dumps([str(v) for v in out]))
"""


def test_take_is_single_use(keys512):
    pk, sk = keys512
    pool = RandomnessPool(pk, capacity=8)
    assert pool.fill() == 8
    assert pool.available == 8
    assert pool.fill() == 0  # full
    values = [pool.take() for _ in range(10)]
    assert pool.taken == 8
    assert pool.misses == 2
    assert pool.available == 0
    assert len(set(values)) == 10
    lam = (sk.p - 1) * (sk.q - 1)
    assert all(gmpy2.powmod(v, lam, pk.nsquare) == 1 for v in values)  # n-th residues
    assert pool.fill(3) == 3
    assert pool.available == 3


def test_key_holder_pool(keys512):
    pk, sk = keys512
    pool = RandomnessPool(pk, private_key=sk, capacity=5)
    pool.fill()
    assert sk.decrypt(pk.encrypt(-9, pool=pool)) == -9
    with pytest.raises(InputValidationError, match="capacity"):
        RandomnessPool(pk, capacity=0)


def test_pool_key_mismatch(keys512, other_keys512):
    with pytest.raises(CryptoError, match="does not belong"):
        RandomnessPool(keys512[0], private_key=other_keys512[1])
    foreign = RandomnessPool(other_keys512[0], capacity=1)
    pk, sk = keys512
    with pytest.raises(KeyMismatchError, match="pool belongs to another key"):
        pk.encrypt(1, pool=foreign)
    with pytest.raises(KeyMismatchError):
        sk.encrypt(1).rerandomize(pool=foreign)


def test_pool_cannot_be_pickled_or_copied(keys512):
    pool = RandomnessPool(keys512[0], capacity=2)
    with pytest.raises(TypeError, match="pickled"):
        pickle.dumps(pool)
    with pytest.raises(TypeError, match="copied"):
        copy.copy(pool)
    with pytest.raises(TypeError, match="copied"):
        copy.deepcopy(pool)


def _child_take(pool, conn):
    conn.send([str(int(pool.take())) for _ in range(3)] + [pool.misses])
    conn.close()


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_forked_child_never_reuses_parent_values(keys512):
    pk, _ = keys512
    pool = RandomnessPool(pk, capacity=6)
    pool.fill()
    parent_values = {str(int(v)) for v in list(pool._values)}
    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child_take, args=(pool, send))
    proc.start()
    got = recv.recv()
    proc.join(timeout=30)
    assert proc.exitcode == 0
    child_values, misses = got[:3], got[3]
    assert misses == 3  # the child started with an empty pool
    assert not parent_values & set(child_values)
    assert pool.available == 6  # the parent keeps its own values


def test_distinct_randomness_across_processes(keys512, tmp_path):
    """Same key, same plaintext (0) in three separate interpreters: all ciphertexts differ."""
    _, sk = keys512
    key_file = tmp_path / "k.key.json"
    sk.save(key_file)
    outs = []
    for _ in range(3):
        res = subprocess.run(
            [sys.executable, "-c", ENCRYPT_ZERO, str(key_file)],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        outs.extend(json.loads(res.stdout))
    assert len(outs) == 30
    assert len(set(outs)) == 30
    assert all(sk.decrypt(PaillierCiphertext(sk.public_key, int(v))) == 0 for v in outs)
