"""EncryptedVector: batch encryption, arithmetic, JSON form."""

from __future__ import annotations

import contextlib
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acie.errors import (
    DataFormatError,
    EncodingOverflowError,
    InputValidationError,
    KeyMismatchError,
    ShapeError,
)
from acie.privacy.pool import RandomnessPool
from acie.privacy.vector import EncryptedVector


def test_encrypt_decrypt_with_either_key(keys512):
    pk, sk = keys512
    rng = np.random.default_rng(0)
    x = rng.normal(scale=100.0, size=12)
    pool = RandomnessPool(pk, capacity=12)
    pool.fill()
    for ev in (
        EncryptedVector.encrypt(sk, x),
        EncryptedVector.encrypt(pk, x),
        EncryptedVector.encrypt(pk, x, pool=pool),
    ):
        assert len(ev) == 12
        assert ev.precision == 24
        np.testing.assert_allclose(
            ev.decrypt(sk), x, rtol=0, atol=2.0**-25
        )  # half a step at 24 bits
    assert pool.available == 0
    assert pool.misses == 0


@pytest.mark.parametrize("encoding", ["base64", "decimal"])
def test_json_round_trip(keys512, encoding):
    pk, sk = keys512
    x = np.array([0.5, -1.25, 3.0e3])
    ev = EncryptedVector.encrypt(sk, x, precision=16, value_bound=1e4)
    payload = json.loads(json.dumps(ev.to_dict(ciphertext_encoding=encoding)))
    assert payload["key_fingerprint"] == pk.fingerprint
    assert payload["precision"] == 16
    assert payload["bound"] == str(10_000 * 2**16)
    back = EncryptedVector.from_dict(payload, pk)
    assert back.ciphertexts == ev.ciphertexts
    assert back.bound == ev.bound
    np.testing.assert_array_equal(back.decrypt(sk), x)


def test_from_dict_errors(keys512, other_keys512):
    pk, sk = keys512
    pk2, _ = other_keys512
    good = EncryptedVector.encrypt(sk, [1.0, 2.0]).to_dict()
    with pytest.raises(KeyMismatchError, match="expected"):
        EncryptedVector.from_dict(good, pk2)
    with pytest.raises(DataFormatError, match="format"):
        EncryptedVector.from_dict({**good, "format": "x"}, pk)
    with pytest.raises(DataFormatError, match="base64"):
        EncryptedVector.from_dict({**good, "ciphertexts": ["***"]}, pk)
    with pytest.raises(DataFormatError, match=r"\(0, n²\)"):
        EncryptedVector.from_dict(
            {**good, "ciphertext_encoding": "decimal", "ciphertexts": ["0"]}, pk
        )
    with pytest.raises(DataFormatError, match="precision"):
        EncryptedVector.from_dict({**good, "precision": -1}, pk)
    with pytest.raises(DataFormatError, match="bound"):
        EncryptedVector.from_dict({**good, "bound": 5}, pk)
    with pytest.raises(EncodingOverflowError, match="plaintext space"):
        EncryptedVector.from_dict({**good, "bound": str(int(pk.n))}, pk)
    with pytest.raises(DataFormatError, match="JSON object"):
        EncryptedVector.from_dict([1], pk)


def test_arithmetic_and_bounds(keys512, other_keys512):
    pk, sk = keys512
    a, b = np.array([1.5, -2.0, 0.25]), np.array([-0.5, 4.0, 1.0])
    ea = EncryptedVector.encrypt(sk, a, value_bound=8.0)
    eb = EncryptedVector.encrypt(pk, b, value_bound=8.0)
    np.testing.assert_array_equal((ea + eb).decrypt(sk), a + b)
    np.testing.assert_array_equal((ea - eb).decrypt(sk), a - b)
    np.testing.assert_array_equal((-ea).decrypt(sk), -a)
    np.testing.assert_array_equal((ea + b).decrypt(sk), a + b)
    np.testing.assert_array_equal((ea + 1.0).decrypt(sk), a + 1.0)
    np.testing.assert_array_equal(ea.scale_by(np.array([2, -3, 4])).decrypt(sk), a * [2, -3, 4])
    assert (ea + eb).bound == 2 * ea.bound
    r = ea.rerandomize()
    assert r.ciphertexts != ea.ciphertexts
    np.testing.assert_array_equal(r.decrypt(sk), a)
    with pytest.raises(ShapeError):
        ea + np.zeros(2)
    with pytest.raises(KeyMismatchError):
        ea + EncryptedVector.encrypt(other_keys512[1], a)
    with pytest.raises(InputValidationError, match="precisions must match"):
        ea + EncryptedVector.encrypt(sk, a, precision=8)
    with pytest.raises(KeyMismatchError):
        ea.decrypt(other_keys512[1])
    with pytest.raises(InputValidationError, match="integers"):
        ea.scale_by(np.array([0.5, 1, 1]))


def test_declared_bound_is_enforced(keys512):
    pk, sk = keys512
    with pytest.raises(EncodingOverflowError, match="value_bound"):
        EncryptedVector.encrypt(sk, [1.0, 300.0], value_bound=100.0)
    # a bound beyond the plaintext space of a 512-bit key is refused before encrypting
    with pytest.raises(EncodingOverflowError):
        EncryptedVector.encrypt(sk, [1.0], precision=600, value_bound=1.0)
    # a value that exceeds its declared bound after decryption is refused (altered data)
    ev = EncryptedVector.encrypt(sk, [1.0, 2.0], value_bound=4.0)
    forged = EncryptedVector(public_key=pk, ciphertexts=ev.ciphertexts, precision=24, bound=2**24)
    with pytest.raises(EncodingOverflowError, match="bound"):
        forged.decrypt(sk)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)


@given(
    field=st.sampled_from(
        ["format", "key_fingerprint", "precision", "bound", "ciphertext_encoding", "ciphertexts"]
    ),
    value=json_values,
)
@settings(max_examples=150, deadline=None)
def test_from_dict_fuzz_only_typed_errors(keys512, field, value):
    """Any JSON value in any field gives a typed ACIE error or a valid vector, nothing else."""
    pk, sk = keys512
    payload = {**_payload(sk), field: value}
    with contextlib.suppress(DataFormatError, KeyMismatchError, EncodingOverflowError):
        EncryptedVector.from_dict(payload, pk)


_PAYLOADS: dict[str, dict] = {}


def _payload(sk):
    if sk.fingerprint not in _PAYLOADS:
        _PAYLOADS[sk.fingerprint] = EncryptedVector.encrypt(
            sk, [1.0, -1.0], precision=8, value_bound=2.0
        ).to_dict()
    return _PAYLOADS[sk.fingerprint]
