"""Fixed-point encoding of real numbers as signed integers for Paillier plaintexts.

A real ``x`` is encoded at ``precision`` fractional bits as the integer
``round(x · 2^precision)`` (round half to even), and decoded by dividing by
``2^precision``. The absolute encoding error is at most ``2^-(precision+1)``.

Every encoded integer carries a *public bound*: a declared maximum ``|x| <= value_bound``
turned into ``|round(x·2^precision)| <= bound``. Encrypted arithmetic propagates the
bound (a linear layer multiplies it by the row sums of ``|W|``), so an overflow of the
plaintext space is detected before it can happen, and a decrypted value outside its
bound raises instead of being returned wrapped. The bound is declared, not measured
from the data, so it reveals nothing about the values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from acie.errors import EncodingOverflowError, InputValidationError

__all__ = [
    "DEFAULT_PRECISION",
    "DEFAULT_VALUE_BOUND",
    "FixedPointEncoding",
    "decode_at",
    "round_scaled",
]

#: Default fractional bits: 24 bits, an absolute resolution of 6e-8.
DEFAULT_PRECISION = 24
#: Default declared bound on |x| (in the units of x).
DEFAULT_VALUE_BOUND = 2.0**32


@dataclass(frozen=True, kw_only=True)
class FixedPointEncoding:
    """Encode reals as ``round(x · 2^precision)`` with a declared bound on ``|x|``.

    Parameters
    ----------
    precision : int
        Fractional bits, 0 to 1024; a multiple of 4 keeps ``phe`` interoperability exact.
    value_bound : float
        Public upper bound on ``|x|`` (units of x). Values beyond it raise
        :class:`~acie.errors.EncodingOverflowError`.
    """

    precision: int = DEFAULT_PRECISION
    value_bound: float = DEFAULT_VALUE_BOUND

    def __post_init__(self) -> None:
        if (
            isinstance(self.precision, bool)
            or not isinstance(self.precision, int | np.integer)
            or not 0 <= int(self.precision) <= 1024
        ):
            raise InputValidationError(
                f"precision must be an integer number of fractional bits in [0, 1024]; got {self.precision!r}"
            )
        object.__setattr__(self, "precision", int(self.precision))
        vb = self.value_bound
        if (
            isinstance(vb, bool)
            or not isinstance(vb, int | float | np.floating | np.integer)
            or not math.isfinite(float(vb))
            or float(vb) <= 0
        ):
            raise InputValidationError(f"value_bound must be a positive finite number; got {vb!r}")
        object.__setattr__(self, "value_bound", float(vb))

    @property
    def scale(self) -> int:
        """The integer scale ``2^precision``."""
        return 1 << self.precision

    @property
    def bound(self) -> int:
        """Public bound on ``|encoded integer|``: ``ceil(value_bound · 2^precision)``."""
        return math.ceil(math.ldexp(self.value_bound, self.precision))

    def encode(self, values: ArrayLike) -> list[int]:
        """Encode a 1-D array of finite reals.

        Returns
        -------
        list of int
            ``round(x · 2^precision)`` for each element (Python ints, exact).

        Raises
        ------
        InputValidationError
            Not 1-D or not finite.
        EncodingOverflowError
            Some ``|x| > value_bound``.
        """
        arr = np.asarray(values, dtype=np.float64)
        if arr.ndim != 1:
            raise InputValidationError(f"values must be a 1-D array; got shape {arr.shape}")
        if not np.all(np.isfinite(arr)):
            bad = int(np.flatnonzero(~np.isfinite(arr))[0])
            raise InputValidationError(f"values must be finite; element {bad} is {arr[bad]!r}")
        if arr.size and float(np.max(np.abs(arr))) > self.value_bound:
            i = int(np.argmax(np.abs(arr)))
            raise EncodingOverflowError(
                f"|value| must be <= the declared value_bound {self.value_bound:g}; "
                f"element {i} is {arr[i]:g}"
            )
        f = self.precision
        return [round_scaled(float(v), f) for v in arr]

    def decode(self, integers: list[int]) -> np.ndarray:
        """Decode integers at this precision back to float64 (correctly rounded)."""
        scale = self.scale
        return np.array([int(m) / scale for m in integers], dtype=np.float64)


def round_scaled(value: float, precision: int) -> int:
    """``round(value · 2^precision)``, half to even, exactly (no float overflow)."""
    num, den = value.as_integer_ratio()  # den is a power of two
    q, r = divmod(num << precision, den)
    twice = 2 * r
    if twice > den or (twice == den and q % 2):
        q += 1
    return q


def decode_at(integers: list[int], precision: int) -> np.ndarray:
    """Decode integers at ``precision`` fractional bits to float64 (correctly rounded)."""
    scale = 1 << int(precision)
    return np.array([int(m) / scale for m in integers], dtype=np.float64)
