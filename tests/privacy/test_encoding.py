"""Fixed-point encoding: exactness, rounding, bounds and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acie.errors import EncodingOverflowError, InputValidationError
from acie.privacy.encoding import FixedPointEncoding, decode_at, round_scaled


@given(
    x=st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    precision=st.integers(min_value=0, max_value=80),
)
@settings(max_examples=200, deadline=None)
def test_round_trip_error_is_at_most_half_a_step(x, precision):
    enc = FixedPointEncoding(precision=precision, value_bound=1e6)
    back = enc.decode(enc.encode([x]))[0]
    # exact rounding gives |error| <= 2^-(precision+1); decoding to float64 adds at most
    # half an ulp of the result (relative 2^-53)
    assert abs(back - x) <= 2.0 ** -(precision + 1) + abs(x) * 2.0**-52


def test_round_half_to_even_and_exact_large_precision():
    assert FixedPointEncoding(precision=2).encode([0.125, 0.375, -0.125, -0.375]) == [0, 2, 0, -2]
    assert round_scaled(1.5, 1000) == 3 << 999  # no float overflow at large precision
    assert round_scaled(-0.75, 0) == -1  # -0.75 rounds to -1
    assert decode_at([3 << 999], 1000)[0] == 1.5


def test_bound_and_overflow():
    enc = FixedPointEncoding(precision=8, value_bound=10.0)
    assert enc.bound == 2560
    assert enc.scale == 256
    assert enc.encode([10.0, -10.0]) == [2560, -2560]
    with pytest.raises(EncodingOverflowError, match="value_bound 10"):
        enc.encode([0.0, 10.001])


def test_input_errors():
    with pytest.raises(InputValidationError, match="finite"):
        FixedPointEncoding().encode([1.0, math.nan])
    with pytest.raises(InputValidationError, match="1-D"):
        FixedPointEncoding().encode(np.zeros((2, 2)))
    with pytest.raises(InputValidationError, match="precision"):
        FixedPointEncoding(precision=-1)
    with pytest.raises(InputValidationError, match="precision"):
        FixedPointEncoding(precision=2.5)
    with pytest.raises(InputValidationError, match="value_bound"):
        FixedPointEncoding(value_bound=math.inf)
    with pytest.raises(InputValidationError, match="value_bound"):
        FixedPointEncoding(value_bound=0)
