"""Tensors on the wire: raw little-endian float32 bytes with an explicit shape.

gRPC carries the bytes in ``acie.v1.Tensor.data``; JSON carries the same bytes base64
encoded (``{"shape": [...], "dtype": "float32", "data": "<base64>"}``).
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Sequence

import numpy as np

from acie.errors import DataFormatError, ShapeError, expected_got

__all__ = ["MAX_ELEMENTS", "decode_b64", "decode_tensor", "encode_b64", "encode_tensor"]

#: largest tensor accepted, elements (the request size limit usually bites first)
MAX_ELEMENTS = 64 * 1024 * 1024
_DTYPES = {"float32": np.dtype("<f4"), "": np.dtype("<f4")}


def decode_tensor(shape: Sequence[int], dtype: str, data: bytes) -> np.ndarray:
    """A float32 array of ``shape`` from raw little-endian bytes.

    Raises
    ------
    ShapeError
        A negative or absurd shape, or a byte count that does not match it.
    DataFormatError
        A dtype other than ``float32``, or non-finite values.
    """
    if dtype not in _DTYPES:
        raise DataFormatError(expected_got("tensor dtype", "'float32'", dtype))
    dims = [int(d) for d in shape]
    if not dims or any(d < 0 for d in dims):
        raise ShapeError(expected_got("tensor shape", "a non-empty list of sizes >= 0", dims))
    count = math.prod(dims)
    if count > MAX_ELEMENTS:
        raise ShapeError(expected_got("tensor size", f"at most {MAX_ELEMENTS} elements", count))
    want = count * 4
    if len(data) != want:
        raise ShapeError(
            f"tensor data must be {want} bytes for shape {dims} float32; got {len(data)} bytes"
        )
    arr = np.frombuffer(data, dtype=_DTYPES[dtype]).reshape(dims).astype(np.float32)
    if not np.all(np.isfinite(arr)):
        raise DataFormatError("tensor values must all be finite; got NaN or infinity")
    return arr


def encode_tensor(array: np.ndarray) -> tuple[list[int], str, bytes]:
    """``(shape, "float32", bytes)`` of an array, little-endian."""
    arr = np.ascontiguousarray(array, dtype="<f4")
    return list(arr.shape), "float32", arr.tobytes()


def decode_b64(shape: Sequence[int], dtype: str, data: str) -> np.ndarray:
    """Like :func:`decode_tensor` with base64 text instead of bytes."""
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DataFormatError(
            f"tensor data must be base64 text; got an invalid string ({exc})"
        ) from None
    return decode_tensor(shape, dtype, raw)


def encode_b64(array: np.ndarray) -> dict[str, object]:
    """``{"shape", "dtype", "data"}`` JSON form of an array."""
    shape, dtype, raw = encode_tensor(array)
    return {"shape": shape, "dtype": dtype, "data": base64.b64encode(raw).decode("ascii")}
