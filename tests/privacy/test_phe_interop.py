"""Interoperability with the phe package, both ways."""

from __future__ import annotations

import numpy as np
import phe
import pytest

from acie.errors import InputValidationError, KeyMismatchError
from acie.privacy.paillier import PaillierCiphertext
from acie.privacy.phe_interop import (
    ciphertext_from_phe,
    ciphertext_to_phe,
    private_key_from_phe,
    private_key_to_phe,
    public_key_from_phe,
    public_key_to_phe,
    vector_from_phe,
    vector_to_phe,
)
from acie.privacy.vector import EncryptedVector


def test_keys_both_ways(keys512):
    pk, sk = keys512
    ppk, psk = public_key_to_phe(pk), private_key_to_phe(sk)
    assert ppk.n == int(pk.n)
    assert ppk.g == int(pk.n) + 1
    assert public_key_from_phe(ppk) == pk
    assert private_key_from_phe(psk) == sk
    phe_pub, phe_priv = phe.generate_paillier_keypair(n_length=512)
    ours = private_key_from_phe(phe_priv)
    assert ours.public_key == public_key_from_phe(phe_pub)


def test_ciphertexts_both_ways_with_arithmetic(keys512):
    pk, sk = keys512
    ppk, psk = public_key_to_phe(pk), private_key_to_phe(sk)
    ours = sk.encrypt(-1234)
    theirs = ppk.encrypt(1000)
    # phe arithmetic on our ciphertext, decrypted by phe
    assert psk.decrypt(ciphertext_to_phe(ours) * 3 + theirs) == -2702
    # our arithmetic on phe's ciphertext, decrypted by us
    assert sk.decrypt(ciphertext_from_phe(theirs, public_key=pk, bound=1000) * -2 + ours) == -3234
    assert isinstance(ciphertext_from_phe(theirs), PaillierCiphertext)
    with pytest.raises(InputValidationError, match="exponent 0"):
        ciphertext_from_phe(ppk.encrypt(0.5))


def test_vectors_both_ways(keys512, other_keys512):
    pk, sk = keys512
    ppk, psk = public_key_to_phe(pk), private_key_to_phe(sk)
    x = np.array([1.25, -3.5, 1e-3])
    ev = EncryptedVector.encrypt(sk, x, precision=32)
    got = [psk.decrypt(v) for v in vector_to_phe(ev)]
    np.testing.assert_allclose(got, x, rtol=0, atol=2.0**-33)  # half a step at 32 bits
    nums = [ppk.encrypt(v) for v in (3.14159, -2.5, 7)]  # phe picks different exponents
    back = vector_from_phe(nums, bound=2**200, public_key=pk)
    assert back.precision % 4 == 0
    np.testing.assert_allclose(back.decrypt(sk), [3.14159, -2.5, 7.0], rtol=1e-12, atol=0)
    with pytest.raises(InputValidationError, match="multiple of 4"):
        vector_to_phe(EncryptedVector.encrypt(sk, x, precision=30))
    with pytest.raises(KeyMismatchError):
        vector_from_phe([nums[0], public_key_to_phe(other_keys512[0]).encrypt(1)], bound=2**100)
