"""Encrypted linear layer: exact against the integer reference, multi-exponentiation, errors."""

from __future__ import annotations

import gmpy2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acie.errors import EncodingOverflowError, InputValidationError, ShapeError
from acie.privacy.encoding import FixedPointEncoding
from acie.privacy.linear import EncryptedLinearLayer, _group_size, _StrausPlan
from acie.privacy.paillier import PaillierCiphertext
from acie.privacy.pool import RandomnessPool
from acie.privacy.vector import EncryptedVector


@pytest.mark.parametrize(("m", "k"), [(1, 1), (3, 7), (5, 13), (16, 64)])
def test_straus_plan_matches_naive_product(keys512, m, k):
    pk, sk = keys512
    rng = np.random.default_rng(m * 100 + k)
    w = rng.integers(-(2**15) + 1, 2**15, size=(m, k))
    cts = [sk.encrypt(int(v)).value for v in rng.integers(-1000, 1000, size=k)]
    got = _StrausPlan(w, 16).run(cts, pk.nsquare)
    n2 = pk.nsquare
    for j in range(m):
        naive = gmpy2.mpz(1)
        for i in range(k):
            e = int(w[j, i])
            base = cts[i] if e >= 0 else gmpy2.invert(cts[i], n2)
            naive = naive * gmpy2.powmod(base, abs(e), n2) % n2
        assert got[j] == naive


def test_group_size_choice():
    assert _group_size(64, 16, 16) == 6  # documented choice for the benchmark shape
    assert _group_size(1, 1, 16) == 1


def test_layer_is_exact_against_integer_reference(keys1024):
    _, sk = keys1024
    rng = np.random.default_rng(7)
    w, b, x = rng.normal(size=(4, 10)), rng.normal(size=4), rng.normal(size=10)
    precision = EncryptedLinearLayer.max_precision(w)
    layer = EncryptedLinearLayer(w, b, precision=precision)
    assert int(np.max(np.abs(layer.weights_int))) <= 2**15 - 1
    assert int(np.max(np.abs(layer.weights_int))) > 2**14 - 1  # uses the 16 bits
    ev = EncryptedVector.encrypt(sk, x, precision=24, value_bound=16.0)
    out = layer(ev)
    assert out.precision == 24 + precision
    x_int = FixedPointEncoding(precision=24, value_bound=16.0).encode(x)
    assert out.decrypt_integers(sk) == layer.forward_int(x_int, 24)
    # against the float model: the error is the weight quantisation, |dW| <= 2^-(precision+1)
    # per weight, times sum |x|, plus the input rounding 2^-25 times sum |W|
    tol = (
        2.0 ** -(precision + 1) * np.sum(np.abs(x)) + 2.0**-25 * np.abs(w).sum(axis=1).max() + 1e-12
    )
    np.testing.assert_allclose(out.decrypt(sk), w @ x + b, rtol=0, atol=tol)


def test_outputs_are_rerandomised(keys512):
    pk, sk = keys512
    layer = EncryptedLinearLayer(np.array([[1.0, -1.0], [0.0, 0.0]]), precision=4)
    ev = EncryptedVector.encrypt(sk, [2.0, 2.0], precision=4, value_bound=4.0)
    pool = RandomnessPool(pk, capacity=4)
    pool.fill()
    a, b = layer(ev, pool=pool), layer(ev)
    assert pool.taken == 2
    # both outputs are 0, yet the ciphertexts differ and are not the deterministic Enc(0) = 1
    assert a.ciphertexts[1] != b.ciphertexts[1]
    assert 1 not in a.ciphertexts
    unrandomised = layer._plan.run(ev.ciphertexts, pk.nsquare)
    assert all(u != o for u, o in zip(unrandomised, a.ciphertexts, strict=True))
    np.testing.assert_array_equal(a.decrypt(sk), [0.0, 0.0])
    np.testing.assert_array_equal(b.decrypt(sk), [0.0, 0.0])


def test_overflow_is_detected_before_evaluation(keys512):
    pk, sk = keys512
    layer = EncryptedLinearLayer(np.full((1, 4), 1000.0), precision=0)
    ev = EncryptedVector.encrypt(
        sk, [1.0] * 4, precision=460, value_bound=2.0**40
    )  # bound 2^500 fits
    assert ev.bound < pk.max_int < 4000 * ev.bound  # but 4000 times it does not
    with pytest.raises(EncodingOverflowError, match="plaintext space"):
        layer(ev)


def test_construction_errors(keys512):
    _, sk = keys512
    with pytest.raises(EncodingOverflowError, match="use precision <= 14"):
        EncryptedLinearLayer(np.array([[1.5]]), precision=15)
    assert EncryptedLinearLayer.max_precision(np.array([[1.5]])) == 14
    with pytest.raises(ShapeError):
        EncryptedLinearLayer(np.zeros(3), precision=4)
    with pytest.raises(ShapeError, match="bias"):
        EncryptedLinearLayer(np.zeros((2, 3)), np.zeros(3), precision=4)
    with pytest.raises(InputValidationError, match="finite"):
        EncryptedLinearLayer(np.array([[np.nan]]), precision=4)
    with pytest.raises(InputValidationError, match="weight_bits"):
        EncryptedLinearLayer(np.zeros((1, 1)), precision=4, weight_bits=1)
    layer = EncryptedLinearLayer(np.zeros((2, 3)), precision=4)
    with pytest.raises(ShapeError, match="3 elements"):
        layer(EncryptedVector.encrypt(sk, [1.0, 2.0]))
    with pytest.raises(InputValidationError):
        layer([1, 2, 3])


@given(data=st.data())
@settings(max_examples=25, deadline=None)
def test_straus_plan_property(keys512, data):
    """For any shape and weight width, the plan equals the naive product of powers."""
    pk, sk = keys512
    m = data.draw(st.integers(1, 4))
    k = data.draw(st.integers(1, 9))
    bits = data.draw(st.integers(2, 16))
    lim = 2 ** (bits - 1) - 1
    w = np.array(
        data.draw(st.lists(st.integers(-lim, lim), min_size=m * k, max_size=m * k))
    ).reshape(m, k)
    xs = data.draw(st.lists(st.integers(-(2**20), 2**20), min_size=k, max_size=k))
    cts = [sk.encrypt(v).value for v in xs]
    got = _StrausPlan(w, bits).run(cts, pk.nsquare)
    # decrypting gives the exact matrix-vector product (independent of the naive route)
    assert (
        sk.decrypt_many([PaillierCiphertext(pk, g) for g in got])
        == (w @ np.array(xs, dtype=object)).tolist()
    )
