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

__all__ = [
    "MAX_DIM",
    "MAX_ELEMENTS",
    "MAX_NDIM",
    "check_shape",
    "decode_b64",
    "decode_tensor",
    "encode_b64",
    "encode_tensor",
]

#: largest tensor accepted, elements (the request size limit usually bites first)
MAX_ELEMENTS = 64 * 1024 * 1024
#: most dimensions of a tensor
MAX_NDIM = 8
#: largest single dimension; a zero-size tensor may not hide huge other dimensions either
MAX_DIM = MAX_ELEMENTS
_DTYPES = {"float32": np.dtype("<f4"), "": np.dtype("<f4")}


def decode_tensor(
    shape: Sequence[int], dtype: str, data: bytes, *, allow_nan: bool = False
) -> np.ndarray:
    """A float32 array of ``shape`` from raw little-endian bytes.

    ``allow_nan`` accepts NaN (never infinity): a server's answer marks a refused
    galaxy's image with NaN; requests never carry it.

    Raises
    ------
    ShapeError
        A negative or absurd shape, or a byte count that does not match it.
    DataFormatError
        A dtype other than ``float32``, or non-finite values.
    """
    if dtype not in _DTYPES:
        raise DataFormatError(expected_got("tensor dtype", "'float32'", dtype))
    dims = check_shape(shape)
    want = math.prod(dims) * 4
    if len(data) != want:
        raise ShapeError(
            f"tensor data must be {want} bytes for shape {dims} float32; got {len(data)} bytes"
        )
    arr = np.frombuffer(data, dtype=_DTYPES[dtype]).reshape(dims).astype(np.float32)
    if not np.all(np.isfinite(arr) | (allow_nan & np.isnan(arr))):
        raise DataFormatError("tensor values must all be finite; got NaN or infinity")
    return arr


def check_shape(shape: Sequence[int]) -> list[int]:
    """``shape`` as a list of ints once every dimension and the size are in bounds.

    Each dimension must be 0 to :data:`MAX_DIM`, there must be 1 to :data:`MAX_NDIM` of
    them, and the product of the non-zero dimensions must be at most
    :data:`MAX_ELEMENTS` (so a zero dimension cannot smuggle in ``[0, 2**20, 2**20, …]``,
    which no array library can reshape). The product is checked as it is built, so it
    never grows past the bound.

    Raises
    ------
    ShapeError
        A shape outside those bounds (the message names the bound and the value).
    """
    if not 1 <= len(shape) <= MAX_NDIM:
        raise ShapeError(
            expected_got("tensor shape", f"1 to {MAX_NDIM} dimensions", f"{len(shape)} dimensions")
        )
    dims = [int(d) for d in shape]
    span = 1
    for d in dims:
        if not 0 <= d <= MAX_DIM:
            raise ShapeError(
                expected_got("tensor shape", f"sizes from 0 to {MAX_DIM} in each dimension", dims)
            )
        span *= max(d, 1)
        if span > MAX_ELEMENTS:
            raise ShapeError(
                expected_got(
                    "tensor shape",
                    f"at most {MAX_ELEMENTS} elements across its non-zero dimensions",
                    dims,
                )
            )
    return dims


def encode_tensor(array: np.ndarray) -> tuple[list[int], str, bytes]:
    """``(shape, "float32", bytes)`` of an array, little-endian."""
    arr = np.ascontiguousarray(array, dtype="<f4")
    return list(arr.shape), "float32", arr.tobytes()


def decode_b64(
    shape: Sequence[int], dtype: str, data: str, *, allow_nan: bool = False
) -> np.ndarray:
    """Like :func:`decode_tensor` with base64 text instead of bytes."""
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DataFormatError(
            f"tensor data must be base64 text; got an invalid string ({exc})"
        ) from None
    return decode_tensor(shape, dtype, raw, allow_nan=allow_nan)


def encode_b64(array: np.ndarray) -> dict[str, object]:
    """``{"shape", "dtype", "data"}`` JSON form of an array."""
    shape, dtype, raw = encode_tensor(array)
    return {"shape": shape, "dtype": dtype, "data": base64.b64encode(raw).decode("ascii")}
