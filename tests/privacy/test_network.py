"""Blind inference of a multi-layer network in rounds (issue 14): exact to the stated tolerance."""

from __future__ import annotations

import numpy as np
import pytest

from acie.errors import EncodingOverflowError, InputValidationError, ShapeError
from acie.privacy.network import BlindNetwork, BlindNetworkClient
from acie.privacy.pool_cache import PoolCache


def fixed_point_tolerance(net: BlindNetwork, x: np.ndarray) -> np.ndarray:
    """Worst-case |blind - plaintext| per output, from the rounding of weights, inputs, biases.

    Per layer: ``2^-(p_w+1) Σ|ã| + Σ|W| (2^-(p_x+1) + e_in) + 2^-(p_x+p_w+1)``, with
    ``e`` multiplied by 1.1 through SiLU (its Lipschitz constant), 1 through the others.
    """
    a = np.asarray(x, dtype=np.float64)
    err = np.zeros_like(a)
    px = net.input_precision
    for k, layer in enumerate(net.layers):
        pw = layer.precision
        abs_w = np.abs(layer.weights)
        a_tilde = np.abs(a) + err + 2.0 ** -(px + 1)
        err = (
            2.0 ** -(pw + 1) * a_tilde.sum()
            + abs_w @ (2.0 ** -(px + 1) + err)
            + 2.0 ** -(px + pw + 1)
        )
        a = layer.weights @ a + layer.bias
        if k < len(net.activations):
            name = net.activations[k]
            err = err * (1.1 if name == "silu" else 1.0)
            a = {"silu": lambda z: z / (1 + np.exp(-z)), "relu": lambda z: np.maximum(z, 0)}.get(
                name, np.tanh
            )(a)
    return err


def _run(net: BlindNetwork, sk, x: np.ndarray, pools=None) -> tuple[np.ndarray, BlindNetworkClient]:
    client = BlindNetworkClient(private_key=sk, rounds=net.describe())
    session = net.open(sk.public_key)
    enc = client.encrypt_round(0, x)
    for k in range(net.rounds):
        z = session.evaluate(k, enc, pools=pools)
        enc = client.next_input(k, z)
    assert enc is None
    assert session.done
    return client.output, client


@pytest.mark.parametrize("acts", [["silu", "silu"], ["relu", "tanh"]])
def test_three_layer_network_matches_plaintext(keys1024, acts):
    _, sk = keys1024
    rng = np.random.default_rng(11)
    shapes = [(12, 20), (8, 12), (5, 8)]
    layers = [(rng.normal(0, 0.4, s), rng.normal(0, 0.1, s[0])) for s in shapes]
    net = BlindNetwork(layers, acts, input_value_bound=8.0)
    x = rng.uniform(-4, 4, 20)
    y, client = _run(net, sk, x, pools=PoolCache(capacity_per_key=4))
    expected = net.plaintext(x)
    tol = fixed_point_tolerance(net, x)
    assert np.all(np.abs(y - expected) <= tol)
    assert np.max(tol) < 0.05  # worst case of 16-bit weights; not vacuous
    # the client saw the hidden activations, permuted by the server's secret per-session order
    hidden = layers[0][0] @ x + layers[0][1]
    first = {"silu": hidden / (1 + np.exp(-hidden)), "relu": np.maximum(hidden, 0)}[acts[0]]
    np.testing.assert_allclose(np.sort(client.activations[0]), np.sort(first), atol=1e-3)


def test_bounds_propagate_and_nothing_wraps(keys512):
    """A 512-bit key cannot hold a deep stack at these precisions: refused, never wrapped."""
    _, sk = keys512
    rng = np.random.default_rng(5)
    layers = [(rng.normal(0, 3.0, (16, 16)), np.zeros(16)) for _ in range(6)]
    net = BlindNetwork(layers, ["identity"] * 5, input_value_bound=2.0**170, input_precision=300)
    assert all(b2 > b1 for b1, b2 in zip(net.value_bounds, net.value_bounds[1:], strict=False))
    client = BlindNetworkClient(private_key=sk, rounds=net.describe())
    session = net.open(sk.public_key)
    enc = client.encrypt_round(0, rng.normal(size=16))
    done = 0
    for k in range(net.rounds):
        if net.layers[k].output_bound(enc.bound, enc.precision) > sk.public_key.max_int:
            break
        enc = client.next_input(k, session.evaluate(k, enc))
        done += 1
    assert 0 < done < net.rounds  # the bound grew round by round until the key cannot hold it
    with pytest.raises(EncodingOverflowError, match="plaintext space"):
        session.evaluate(done, enc)


def test_rounds_in_order_with_declared_precision_and_bound(keys512):
    pk, sk = keys512
    rng = np.random.default_rng(2)
    net = BlindNetwork(
        [(rng.normal(size=(4, 6)), np.zeros(4)), (rng.normal(size=(2, 4)), np.zeros(2))],
        ["silu"],
        input_value_bound=2.0,
    )
    client = BlindNetworkClient(private_key=sk, rounds=net.describe())
    session = net.open(pk)
    x = client.encrypt_round(0, np.ones(6))
    with pytest.raises(InputValidationError, match="expects round 0"):
        session.evaluate(1, x)
    from acie.privacy.vector import EncryptedVector

    loose = EncryptedVector.encrypt(sk, np.ones(6), precision=24, value_bound=100.0)
    with pytest.raises(EncodingOverflowError, match="allows"):
        session.evaluate(0, loose)
    other = EncryptedVector.encrypt(sk, np.ones(6), precision=16, value_bound=2.0)
    with pytest.raises(InputValidationError, match="fractional bits"):
        session.evaluate(0, other)
    with pytest.raises(ShapeError):
        client.encrypt_round(0, np.ones(5))
    with pytest.raises(EncodingOverflowError):
        client.encrypt_round(0, np.full(6, 3.0))  # beyond the declared value bound 2
    z = session.evaluate(0, x)
    assert client.next_input(0, z) is not None
    with pytest.raises(InputValidationError, match="expects round 1"):
        session.evaluate(0, x)


def test_network_definition_errors():
    w = np.ones((2, 3))
    with pytest.raises(InputValidationError, match="activations"):
        BlindNetwork([(w, np.zeros(2))], ["silu"], input_value_bound=1.0)
    with pytest.raises(InputValidationError, match="unknown"):
        BlindNetwork(
            [(w, np.zeros(2)), (np.ones((1, 2)), np.zeros(1))], ["gelu"], input_value_bound=1.0
        )
    with pytest.raises(ShapeError, match="takes"):
        BlindNetwork(
            [(w, np.zeros(2)), (np.ones((1, 5)), np.zeros(1))], ["silu"], input_value_bound=1.0
        )
    with pytest.raises(InputValidationError, match="input_value_bound"):
        BlindNetwork([(w, np.zeros(2))], [], input_value_bound=float("nan"))
