"""Blind inference of a multi-layer network: one round per linear layer, non-linearities at the client.

The server holds a stack of linear layers ``W_k, b_k``; the client holds a Paillier key
pair and the input ``x``. Round k:

1. the client sends ``E(a_k)`` (``a_0 = x``) at the fixed-point precision and under the
   public value bound that the network declares for layer k;
2. the server evaluates ``E(z_k) = E(W_k a_k + b_k)`` with its plaintext weights
   (:class:`~acie.privacy.linear.EncryptedLinearLayer`), re-randomises, and for a hidden
   layer permutes the outputs with a per-session secret permutation;
3. the client decrypts ``z_k`` (checked against its public bound), applies the declared
   element-wise non-linearity ``a_{k+1} = f_k(z_k)`` and re-encrypts.

The last round's ``z`` is the network's output. Permuting hidden units commutes with an
element-wise non-linearity, so the server undoes it on the next round's input.

Fixed point and bounds: layer k quantises its weights at ``weight_precision_k``
fractional bits (signed ``weight_bits``), its input is encoded at ``input_precision``
bits, its output has ``input_precision + weight_precision_k`` bits. Each layer's input
value bound ``B_k`` is public: ``B_0`` is declared, ``B_{k+1} = f_k^max(max_j Σ_i |W_ji|
B_k + |b_j|)`` (``|f(z)| <= |z|`` for identity, ReLU and SiLU; ``<= 1`` for tanh). The
server refuses (:class:`~acie.errors.EncodingOverflowError`) a layer whose output bound
exceeds the plaintext space, and the client refuses a decrypted value beyond its bound:
nothing wraps. Absolute error of one layer's output, per entry j:
``2^-(p_w+1) Σ_i |a_i| + 2^-(p_x+1) Σ_i |W_ji| + 2^-(p_x+p_w+1)`` (weight, input and
bias rounding); it propagates through ``f`` (Lipschitz constant <= 1.1 for SiLU, 1 for
the others) and the next layer's ``|W|`` row sums.

Who learns what: see ``docs/privacy.md`` ("Blind inference of the property head").
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from acie.errors import DataFormatError, EncodingOverflowError, InputValidationError, ShapeError
from acie.privacy.encoding import DEFAULT_PRECISION
from acie.privacy.linear import EncryptedLinearLayer
from acie.privacy.paillier import PaillierPrivateKey, PaillierPublicKey
from acie.privacy.pool_cache import PoolCache
from acie.privacy.vector import EncryptedVector

__all__ = [
    "ACTIVATIONS",
    "ROUND_FORMAT",
    "ROUND_OUTPUT_FORMAT",
    "SESSION_FORMAT",
    "BlindNetwork",
    "BlindNetworkClient",
    "BlindSession",
]

#: Wire formats of the rounds (JSON): open a session with round 0's input, send the next
#: rounds' inputs, receive each round's encrypted output.
SESSION_FORMAT = "acie.blind.session/v1"
ROUND_FORMAT = "acie.blind.round/v1"
ROUND_OUTPUT_FORMAT = "acie.blind.round-output/v1"


def _silu(z: np.ndarray) -> np.ndarray:
    return z / (1.0 + np.exp(-z))


#: Element-wise non-linearities the client applies between rounds.
ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "identity": lambda z: z,
    "relu": lambda z: np.maximum(z, 0.0),
    "silu": _silu,
    "tanh": np.tanh,
}
_BOUNDED = {"tanh": 1.0}  # activations with a bound independent of their input


class BlindNetwork:
    """A stack of linear layers for blind inference, with the non-linearities between them.

    Parameters
    ----------
    layers : sequence of (weights, bias)
        ``weights`` (out, in) and ``bias`` (out,) of each layer, in order; each layer's
        ``in`` must equal the previous layer's ``out``.
    activations : sequence of str
        The non-linearity after each layer but the last (``len(layers) - 1`` names from
        :data:`ACTIVATIONS`); the client applies them.
    input_value_bound : float
        Public bound on ``|x|`` for the first layer's input.
    input_precision : int
        Fractional bits of every layer's encrypted input.
    weight_bits : int
        Signed width of the quantised weights.
    max_weight_precision : int
        Cap on each layer's weight precision (fractional bits).
    """

    def __init__(
        self,
        layers: Sequence[tuple[ArrayLike, ArrayLike]],
        activations: Sequence[str],
        *,
        input_value_bound: float,
        input_precision: int = DEFAULT_PRECISION,
        weight_bits: int = 16,
        max_weight_precision: int = 24,
    ) -> None:
        if not layers:
            raise InputValidationError("a blind network needs at least one layer")
        acts = list(activations)
        if len(acts) != len(layers) - 1:
            raise InputValidationError(
                f"expected {len(layers) - 1} activations (one between each pair of layers); "
                f"got {len(acts)}"
            )
        unknown = [a for a in acts if a not in ACTIVATIONS]
        if unknown:
            raise InputValidationError(
                f"unknown activations {unknown}; expected names from {sorted(ACTIVATIONS)}"
            )
        if not (np.isfinite(input_value_bound) and input_value_bound > 0):
            raise InputValidationError(
                f"input_value_bound must be a positive finite number; got {input_value_bound!r}"
            )
        self.layers: list[EncryptedLinearLayer] = []
        self.value_bounds: list[float] = [float(input_value_bound)]
        for k, (w, b) in enumerate(layers):
            w_arr = np.asarray(w, dtype=np.float64)
            p = min(
                EncryptedLinearLayer.max_precision(w_arr, weight_bits=weight_bits),
                max_weight_precision,
            )
            layer = EncryptedLinearLayer(w_arr, b, precision=p, weight_bits=weight_bits)
            if k and layer.in_features != self.layers[-1].out_features:
                raise ShapeError(
                    f"layer {k} takes {layer.in_features} inputs; layer {k - 1} gives "
                    f"{self.layers[-1].out_features}"
                )
            self.layers.append(layer)
            if k < len(acts):  # public bound on the next layer's input
                z = float(np.max(np.abs(w_arr).sum(axis=1) * self.value_bounds[-1] + np.abs(b)))
                self.value_bounds.append(_BOUNDED.get(acts[k], z))
        self.activations = acts
        self.input_precision = int(input_precision)

    @property
    def rounds(self) -> int:
        """Number of rounds (linear layers)."""
        return len(self.layers)

    def describe(self) -> list[dict[str, Any]]:
        """Per round: shapes, precisions, the input's public value bound, the activation after."""
        return [
            {
                "in_features": layer.in_features,
                "out_features": layer.out_features,
                "input_precision": self.input_precision,
                "input_value_bound": self.value_bounds[k],
                "weight_precision_bits": layer.precision,
                "weight_bits": layer.weight_bits,
                "activation": self.activations[k] if k < len(self.activations) else None,
            }
            for k, layer in enumerate(self.layers)
        ]

    def plaintext(self, x: ArrayLike) -> np.ndarray:
        """The same network in float64 on plaintext (unquantised weights): the reference."""
        a = np.asarray(x, dtype=np.float64)
        for k, layer in enumerate(self.layers):
            a = layer.weights @ a + layer.bias
            if k < len(self.activations):
                a = ACTIVATIONS[self.activations[k]](a)
        return a

    def open(self, public_key: PaillierPublicKey) -> BlindSession:
        """A new session for ``public_key``: fresh secret permutations of the hidden units."""
        if not isinstance(public_key, PaillierPublicKey):
            raise InputValidationError(
                f"public_key must be a PaillierPublicKey; got {type(public_key).__name__}"
            )
        perms = []
        for layer in self.layers[:-1]:
            order = list(range(layer.out_features))
            secrets.SystemRandom().shuffle(order)
            perms.append(order)
        return BlindSession(network=self, public_key=public_key, permutations=perms)


@dataclass(eq=False)
class BlindSession:
    """The server's state of one client's pass through a :class:`BlindNetwork`.

    Holds the client's public key, the next round and the secret permutations; never a
    plaintext.
    """

    network: BlindNetwork
    public_key: PaillierPublicKey
    permutations: list[list[int]]
    next_round: int = 0

    @property
    def done(self) -> bool:
        """Whether every round has been evaluated."""
        return self.next_round >= self.network.rounds

    def evaluate(
        self,
        round_index: int,
        x: EncryptedVector,
        *,
        pools: PoolCache | None = None,
        deadline: float | None = None,
    ) -> EncryptedVector:
        """Evaluate round ``round_index`` on the client's encrypted input; returns ``E(z)``.

        Raises
        ------
        InputValidationError
            Out-of-order round, a finished session, or an input at the wrong precision
            or with a bound above the declared one.
        EncodingOverflowError
            The output could exceed the plaintext space.
        TimeoutError
            ``deadline`` passed (the work stops).
        """
        net = self.network
        if self.done or round_index != self.next_round:
            raise InputValidationError(
                f"this session expects round {self.next_round} of {net.rounds}"
                f"{' (finished)' if self.done else ''}; got round {round_index}"
            )
        if x.public_key != self.public_key:
            raise InputValidationError("the round's input is under another key than the session's")
        layer = net.layers[round_index]
        if x.precision != net.input_precision:
            raise InputValidationError(
                f"round {round_index} input must be encoded at {net.input_precision} fractional "
                f"bits; got {x.precision}"
            )
        declared = _int_bound(net.value_bounds[round_index], net.input_precision)
        if x.bound > declared:
            raise EncodingOverflowError(
                f"round {round_index} input declares a bound of {x.bound.bit_length()} bits; the "
                f"network allows {declared.bit_length()} (value bound "
                f"{net.value_bounds[round_index]:.6g} at {net.input_precision} bits)"
            )
        if len(x) != layer.in_features:
            raise ShapeError(
                f"round {round_index} input must have {layer.in_features} elements; got {len(x)}"
            )
        if round_index:  # undo the previous round's permutation of the hidden units
            perm = self.permutations[round_index - 1]
            cts = [0] * len(perm)
            for j, src in enumerate(perm):
                cts[src] = x.ciphertexts[j]
            x = EncryptedVector(
                public_key=x.public_key, ciphertexts=cts, precision=x.precision, bound=x.bound
            )
        pool = pools.get(self.public_key) if pools is not None else None
        z = layer(x, pool=pool, deadline=deadline)
        if round_index < len(self.permutations):
            perm = self.permutations[round_index]
            z = EncryptedVector(
                public_key=z.public_key,
                ciphertexts=[z.ciphertexts[i] for i in perm],
                precision=z.precision,
                bound=z.bound,
            )
        self.next_round += 1
        return z


def _int_bound(value_bound: float, precision: int) -> int:
    from acie.privacy.encoding import FixedPointEncoding

    return FixedPointEncoding(precision=precision, value_bound=value_bound).bound


class BlindNetworkClient:
    """The key holder's side of the rounds: encrypt, decrypt, apply the non-linearity.

    Parameters
    ----------
    private_key : PaillierPrivateKey
        The client's key pair.
    rounds : list of dict
        The network's :meth:`BlindNetwork.describe` (as the server publishes it).
    pool : RandomnessPool, optional
        Randomness ``r^n`` precomputed off the request path (for example
        ``RandomnessPool(public_key, private_key=private_key)``, filled while idle); then
        encrypting a round costs one multiplication per value. Without one, key-holder
        CRT encryption (one fixed-base exponentiation per value).
    """

    def __init__(
        self, *, private_key: PaillierPrivateKey, rounds: list[dict[str, Any]], pool: Any = None
    ) -> None:
        if not isinstance(private_key, PaillierPrivateKey):
            raise InputValidationError(
                f"private_key must be a PaillierPrivateKey; got {type(private_key).__name__}"
            )
        if not isinstance(rounds, list) or not rounds:
            raise DataFormatError("the network description must be a non-empty list of rounds")
        self.private_key = private_key
        self.rounds = rounds
        self.pool = pool
        self.activations: list[np.ndarray] = []  # what the client learns, per hidden layer

    def encrypt_round(self, round_index: int, values: ArrayLike) -> EncryptedVector:
        """Encrypt the input of ``round_index`` at its declared precision and bound."""
        spec = self.rounds[round_index]
        v = np.asarray(values, dtype=np.float64)
        if v.shape != (int(spec["in_features"]),):
            raise ShapeError(
                f"round {round_index} takes {spec['in_features']} values; got shape {v.shape}"
            )
        return EncryptedVector.encrypt(
            self.private_key if self.pool is None else self.private_key.public_key,
            v,
            precision=int(spec["input_precision"]),
            value_bound=float(spec["input_value_bound"]),
            pool=self.pool,
        )

    def next_input(self, round_index: int, output: EncryptedVector) -> EncryptedVector | None:
        """Decrypt round ``round_index``'s output; for a hidden layer return the next input.

        Returns ``None`` after the last round (then read :attr:`output`).
        """
        spec = self.rounds[round_index]
        if len(output) != int(spec["out_features"]):
            raise ShapeError(
                f"round {round_index} must return {spec['out_features']} values; got {len(output)}"
            )
        z = output.decrypt(self.private_key)  # checked against the public bound
        if round_index == len(self.rounds) - 1:
            self.output = z
            return None
        name = spec.get("activation")
        if name not in ACTIVATIONS:
            raise DataFormatError(f"round {round_index} names an unknown activation {name!r}")
        a = ACTIVATIONS[name](z)
        self.activations.append(a)
        return self.encrypt_round(round_index + 1, a)

    output: np.ndarray
