"""An encrypted linear layer ``y = W x + b`` evaluated with the public key only.

The server holds plaintext weights ``W`` (quantised to signed ``weight_bits``-bit
integers at ``precision`` fractional bits) and bias ``b``, receives an
:class:`~acie.privacy.vector.EncryptedVector` ``E(x)`` and returns ``E(y)`` with

    E(y_j) = Π_i E(x_i)^(W_ji) · (1 + b_j·n) · r_j^n   (mod n²),

where ``r_j^n`` is fresh randomness (from a :class:`~acie.privacy.pool.RandomnessPool`
when given): the re-randomised output reveals ``y`` to the key holder and nothing about
how it was computed.

Multi-exponentiation (Straus / Shamir's trick with subset tables)
-----------------------------------------------------------------
Negative weights would need a modular inverse per input or 2048-bit exponents. Instead
every weight is offset by ``2^(weight_bits-1)`` so the exponents ``U = W + 2^(bits-1)``
are non-negative, and the offset is removed once for all outputs:
``Π c_i^(W_ji) = Π c_i^(U_ji) · (Π c_i)^(-2^(bits-1))`` (one inversion in total).
Inputs are grouped ``t`` at a time and all ``2^t`` subset products of each group are
tabulated once per request; each output is then a Horner scheme over the exponent bits,
one table look-up and multiplication per (bit, group) and one squaring per bit, shared
across all inputs. ``t`` minimises the predicted multiplication count (``t = 6`` for a
64×16 layer with 16-bit weights: about 3 600 multiplications modulo n² in total).
The schedule (which table entry at which bit for which output) depends only on ``W``
and is built once, when the layer is constructed.
"""

from __future__ import annotations

import time
from typing import Any

import gmpy2
import numpy as np
from gmpy2 import mpz
from numpy.typing import ArrayLike

from acie.errors import CryptoError, EncodingOverflowError, InputValidationError, ShapeError
from acie.privacy.encoding import round_scaled
from acie.privacy.paillier import randomness_source
from acie.privacy.vector import EncryptedVector

__all__ = ["EncryptedLinearLayer", "check_deadline"]


def check_deadline(deadline: float | None) -> None:
    """Raise :class:`TimeoutError` once ``time.monotonic()`` has passed ``deadline``.

    Encrypted evaluations call it between units of work (a table group, an output), so
    a caller's time limit stops the work itself, not only the wait for it.
    """
    if deadline is not None and time.monotonic() > deadline:
        raise TimeoutError("the encrypted evaluation passed its deadline and was stopped")


def _group_size(k: int, m: int, bits: int) -> int:
    """Group size minimising the predicted number of modular multiplications."""
    best_t, best_cost = 1, float("inf")
    for t in range(1, 11):
        groups = -(-k // t)
        table = groups * ((1 << t) - t - 1)
        per_output = bits * groups * (1.0 - 2.0**-t) + bits
        cost = table + m * per_output
        if cost < best_cost:
            best_t, best_cost = t, cost
    return best_t


class _StrausPlan:
    """Precomputed schedule for ``Π_i c_i^(U_ji)`` for every output j."""

    __slots__ = ("bits", "groups", "offset", "schedule", "t")

    def __init__(self, w_int: np.ndarray, bits: int) -> None:
        m, k = w_int.shape
        self.bits = bits
        self.offset = 1 << (bits - 1)
        self.t = t = _group_size(k, m, bits)
        self.groups = [list(range(s, min(s + t, k))) for s in range(0, k, t)]
        u = (w_int.astype(np.int64) + self.offset).tolist()
        schedule: list[list[list[int]]] = []
        for j in range(m):
            row = u[j]
            per_bit: list[list[int]] = []
            for b in range(bits - 1, -1, -1):
                idxs = []
                for g, members in enumerate(self.groups):
                    mask = 0
                    for a, i in enumerate(members):
                        if (row[i] >> b) & 1:
                            mask |= 1 << a
                    if mask:
                        idxs.append((g << t) | mask)
                per_bit.append(idxs)
            schedule.append(per_bit)
        self.schedule = schedule

    def run(self, cts: list[mpz], n2: mpz, deadline: float | None = None) -> list[mpz]:
        t = self.t
        size = 1 << t
        table: list[mpz] = []
        for members in self.groups:
            check_deadline(deadline)
            tbl = [mpz(1)] * size
            for a, i in enumerate(members):
                tbl[1 << a] = cts[i]
            for mask in range(3, 1 << len(members)):
                low = mask & -mask
                if mask != low:
                    tbl[mask] = tbl[mask ^ low] * tbl[low] % n2
            table.extend(tbl)
        prod = mpz(1)
        for c in cts:
            prod = prod * c % n2
        try:
            correction = gmpy2.invert(gmpy2.powmod(prod, self.offset, n2), n2)
        except ZeroDivisionError:
            raise CryptoError(
                "an input ciphertext is not invertible modulo n²: it is not a valid "
                "Paillier ciphertext"
            ) from None
        if correction == 0:
            raise CryptoError(
                "an input ciphertext is not invertible modulo n²: it is not a valid "
                "Paillier ciphertext"
            )
        out = []
        for per_bit in self.schedule:
            check_deadline(deadline)
            acc: mpz | None = None
            for idxs in per_bit:
                if acc is not None:
                    acc = acc * acc % n2
                for idx in idxs:
                    acc = table[idx] if acc is None else acc * table[idx] % n2
            out.append((mpz(1) if acc is None else acc) * correction % n2)
        return out


class EncryptedLinearLayer:
    """``y = W x + b`` on encrypted ``x`` with plaintext, quantised weights.

    Parameters
    ----------
    weights : array_like, shape (out_features, in_features)
        Real weights; quantised to ``round(W · 2^precision)``.
    bias : array_like, shape (out_features,), optional
        Real bias (zero if omitted), encoded at the output precision.
    precision : int
        Fractional bits of the weight quantisation; see :meth:`max_precision`.
    weight_bits : int
        Signed width of the quantised weights (16 by default): ``|W_int| < 2^(weight_bits-1)``.
    """

    def __init__(
        self,
        weights: ArrayLike,
        bias: ArrayLike | None = None,
        *,
        precision: int,
        weight_bits: int = 16,
    ) -> None:
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim != 2 or 0 in w.shape:
            raise ShapeError(
                f"weights must be a non-empty 2-D array (out_features, in_features); got shape {w.shape}"
            )
        if not np.all(np.isfinite(w)):
            raise InputValidationError("weights must be finite")
        if (
            isinstance(weight_bits, bool)
            or not isinstance(weight_bits, int)
            or not 2 <= weight_bits <= 62
        ):
            raise InputValidationError(
                f"weight_bits must be an integer in [2, 62]; got {weight_bits!r}"
            )
        if (
            isinstance(precision, bool)
            or not isinstance(precision, int)
            or not 0 <= precision <= 1024
        ):
            raise InputValidationError(
                f"precision must be an integer in [0, 1024]; got {precision!r}"
            )
        b = np.zeros(w.shape[0]) if bias is None else np.asarray(bias, dtype=np.float64)
        if b.shape != (w.shape[0],):
            raise ShapeError(f"bias must have shape ({w.shape[0]},); got {b.shape}")
        if not np.all(np.isfinite(b)):
            raise InputValidationError("bias must be finite")
        limit = (1 << (weight_bits - 1)) - 1
        w_int = np.array(
            [[round_scaled(float(v), precision) for v in row] for row in w], dtype=object
        )
        biggest = int(np.max(np.abs(w_int)))
        if biggest > limit:
            raise EncodingOverflowError(
                f"weights quantised at precision {precision} need |W_int| <= {limit} for "
                f"{weight_bits}-bit weights; got {biggest} (use precision <= "
                f"{self.max_precision(w, weight_bits=weight_bits)})"
            )
        self.weights = w
        self.bias = b
        self.precision = precision
        self.weight_bits = weight_bits
        self.weights_int = w_int.astype(np.int64)
        self._abs_row_sums = [int(s) for s in np.abs(self.weights_int).sum(axis=1).tolist()]
        self._plan_cache: _StrausPlan | None = None

    @property
    def _plan(self) -> _StrausPlan:
        """The multi-exponentiation schedule, built on first evaluation (it depends on W only)."""
        if self._plan_cache is None:
            self._plan_cache = _StrausPlan(self.weights_int, self.weight_bits)
        return self._plan_cache

    def __repr__(self) -> str:
        return (
            f"EncryptedLinearLayer(out_features={self.out_features}, in_features={self.in_features}, "
            f"precision={self.precision}, weight_bits={self.weight_bits})"
        )

    @property
    def in_features(self) -> int:
        """Length of the input vector (columns of the weight matrix)."""
        return int(self.weights.shape[1])

    @property
    def out_features(self) -> int:
        """Length of the output vector (rows of the weight matrix)."""
        return int(self.weights.shape[0])

    @staticmethod
    def max_precision(weights: ArrayLike, *, weight_bits: int = 16) -> int:
        """Largest precision at which every quantised weight fits in ``weight_bits`` signed bits."""
        w = np.asarray(weights, dtype=np.float64)
        limit = (1 << (weight_bits - 1)) - 1
        biggest = float(np.max(np.abs(w))) if w.size else 0.0
        if biggest == 0.0:
            return 1024
        f = max(0, int(np.floor(np.log2(limit / biggest))))
        while f > 0 and round(biggest * 2.0**f) > limit:
            f -= 1
        while round(biggest * 2.0 ** (f + 1)) <= limit and f < 1024:
            f += 1
        return f

    def bias_int(self, input_precision: int) -> list[int]:
        """The bias encoded at the output precision ``input_precision + precision``."""
        return [round_scaled(float(v), input_precision + self.precision) for v in self.bias]

    def output_bound(self, input_bound: int, input_precision: int) -> int:
        """Public bound on ``|y_int|`` given the bound on ``|x_int|``."""
        b_int = self.bias_int(input_precision)
        return max(
            s * input_bound + abs(bj) for s, bj in zip(self._abs_row_sums, b_int, strict=True)
        )

    def forward_int(self, x_int: list[int], input_precision: int) -> list[int]:
        """Exact integer reference ``W_int x_int + b_int`` (what decryption must return)."""
        b_int = self.bias_int(input_precision)
        w = self.weights_int.tolist()
        return [
            sum(wi * xi for wi, xi in zip(row, x_int, strict=True)) + bj
            for row, bj in zip(w, b_int, strict=True)
        ]

    def __call__(
        self, x: EncryptedVector, *, pool: Any = None, deadline: float | None = None
    ) -> EncryptedVector:
        """Evaluate ``E(W x + b)`` with fresh randomness on every output.

        Parameters
        ----------
        x : EncryptedVector, length in_features
        pool : RandomnessPool, optional
            Precomputed ``r^n`` for re-randomising; without one, fresh exponentiations.
        deadline : float, optional
            ``time.monotonic()`` value after which the work stops with :class:`TimeoutError`.

        Raises
        ------
        ShapeError
            Wrong input length.
        EncodingOverflowError
            The output could exceed the plaintext space.
        TimeoutError
            ``deadline`` passed before the work finished.
        """
        if not isinstance(x, EncryptedVector):
            raise InputValidationError(f"input must be an EncryptedVector; got {type(x).__name__}")
        if len(x) != self.in_features:
            raise ShapeError(f"input must have {self.in_features} elements; got {len(x)}")
        pk = x.public_key
        bound = self.output_bound(x.bound, x.precision)
        if bound > pk.max_int:
            raise EncodingOverflowError(
                f"the layer output could reach {bound.bit_length()} bits, beyond the plaintext space "
                f"of the {pk.bits}-bit key; lower the input bound or the precisions"
            )
        n2 = pk.nsquare
        take = randomness_source(pk, pool)
        products = self._plan.run(x.ciphertexts, n2, deadline)
        out = []
        for y, bj in zip(products, self.bias_int(x.precision), strict=True):
            check_deadline(deadline)  # take() may exponentiate when the pool is empty
            out.append(y * pk.plaintext_factor(bj) % n2 * take() % n2)
        return EncryptedVector(
            public_key=pk, ciphertexts=out, precision=x.precision + self.precision, bound=bound
        )
