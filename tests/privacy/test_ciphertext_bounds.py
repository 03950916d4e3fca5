"""Raw Paillier ciphertext arithmetic tracks a public bound and never wraps silently (issue 14)."""

from __future__ import annotations

import pytest

from acie.errors import EncodingOverflowError, InputValidationError
from acie.privacy.paillier import PaillierCiphertext


def test_scalar_multiply_past_max_int_is_refused_not_wrapped(keys1024):
    pk, sk = keys1024
    top = int(pk.max_int)
    # before the fix: decrypt(encrypt(max_int) * 3) returned -5 (3·max_int wraps mod n)
    with pytest.raises(EncodingOverflowError, match="overflow"):
        sk.decrypt(sk.encrypt(top) * 3)
    with pytest.raises(EncodingOverflowError, match="overflow"):
        sk.decrypt(3 * pk.encrypt(top))


def test_scalar_outside_plaintext_space_is_refused(keys1024):
    pk, sk = keys1024
    n = int(pk.n)
    # before the fix: encrypt(2) * (n + 3) decrypted to 6 (the scalar was taken mod n)
    with pytest.raises(EncodingOverflowError, match="scalar"):
        sk.decrypt(sk.encrypt(2) * (n + 3))
    with pytest.raises(EncodingOverflowError, match="scalar"):
        sk.encrypt(2) * -(n - 1)


def test_additions_track_the_bound(keys1024):
    pk, sk = keys1024
    top = int(pk.max_int)
    half = top // 2
    c = sk.encrypt(half) + sk.encrypt(half)  # fits exactly
    assert c.bound == 2 * half
    assert sk.decrypt(c) == 2 * half
    with pytest.raises(EncodingOverflowError, match="overflow"):
        c + sk.encrypt(2)
    with pytest.raises(EncodingOverflowError, match="overflow"):
        c + 2
    with pytest.raises(EncodingOverflowError, match="overflow"):
        c - sk.encrypt(-2)
    assert (-c).bound == c.bound
    assert c.rerandomize().bound == c.bound


def test_bound_follows_every_operation(keys1024):
    pk, sk = keys1024
    a, b = sk.encrypt(-7), pk.encrypt(5)
    assert (a.bound, b.bound) == (7, 5)
    assert (a + b).bound == 12
    assert (a * -4).bound == 28
    assert sk.decrypt(a * -4) == 28
    assert (a * 0).bound == 0
    assert (a + 10).bound == 17


def test_ciphertext_of_unknown_origin_declares_its_bound(keys1024):
    pk, sk = keys1024
    received = PaillierCiphertext(pk, sk.encrypt(41).value)  # e.g. read from the wire
    assert received.bound == pk.max_int  # nothing known: anything in the plaintext space
    with pytest.raises(EncodingOverflowError, match="with_bound"):
        received * 2
    declared = received.with_bound(100)
    assert sk.decrypt(declared * 2) == 82
    with pytest.raises(InputValidationError, match="bound"):
        received.with_bound(int(pk.max_int) + 1)
    with pytest.raises(InputValidationError, match="bound"):
        PaillierCiphertext(pk, 1, bound=-1)


def test_decrypt_refuses_a_value_beyond_its_declared_bound(keys1024):
    pk, sk = keys1024
    lie = PaillierCiphertext(pk, sk.encrypt(1000).value, bound=10)
    with pytest.raises(EncodingOverflowError, match="bound"):
        sk.decrypt(lie)
