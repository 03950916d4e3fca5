"""Column payloads for browsers: a small JSON header, then little-endian typed arrays.

Layout (``application/vnd.acie.columns``)::

    bytes 0-3     magic b"ACOL"
    bytes 4-7     header length h, uint32 little-endian
    bytes 8-8+h   the header, UTF-8 JSON padded with spaces so that 8 + h is a multiple of 8
    then          each column's n values, in header order, at the header's byte offsets

The header is ``{"n": n, "columns": [{"name", "dtype", "offset"}, ...], "meta": {...}}``;
``dtype`` is ``float32``, ``uint32`` or ``int32`` and ``offset`` counts from the start
of the payload, always a multiple of 4, so a page reads a column without copying:
``new Float32Array(buffer, offset, n)``. Columns of float32 x, y and uint32 ids take
12 bytes per point.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np

from acie.errors import DataFormatError, InputValidationError

__all__ = ["CONTENT_TYPE", "MAGIC", "decode_columns", "encode_columns"]

MAGIC = b"ACOL"
CONTENT_TYPE = "application/vnd.acie.columns"
_DTYPES = {"float32": "<f4", "uint32": "<u4", "int32": "<i4"}


def encode_columns(
    columns: Mapping[str, np.ndarray], meta: Mapping[str, Any] | None = None
) -> bytes:
    """Encode equal-length 1-D columns (float32, uint32 or int32) with a JSON header.

    Raises
    ------
    InputValidationError
        No columns, a column of another dtype or shape, or columns of unequal length.
    """
    if not columns:
        raise InputValidationError("a column payload needs at least one column; got none")
    arrays: list[tuple[str, str, np.ndarray]] = []
    n: int | None = None
    for name, values in columns.items():
        a = np.asarray(values)
        kind = a.dtype.name
        if kind not in _DTYPES or a.ndim != 1:
            raise InputValidationError(
                f"column {name!r} must be 1-D {sorted(_DTYPES)}; got {a.ndim}-D {kind}"
            )
        if n is None:
            n = int(a.shape[0])
        elif a.shape[0] != n:
            raise InputValidationError(
                f"columns must have equal length; {name!r} has {a.shape[0]}, expected {n}"
            )
        arrays.append((name, kind, np.ascontiguousarray(a, dtype=_DTYPES[kind])))
    assert n is not None
    specs: list[dict[str, Any]] = [{"name": nm, "dtype": k, "offset": 0} for nm, k, _ in arrays]
    header: dict[str, Any] = {"n": n, "columns": specs, "meta": dict(meta or {})}
    # offsets depend on the header's length, which depends on the offsets' digits: iterate
    for _ in range(4):
        text = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
        start = 8 + len(text)
        start += (-start) % 8
        changed = False
        offset = start
        for spec, (_, _, a) in zip(specs, arrays, strict=True):
            if spec["offset"] != offset:
                spec["offset"], changed = offset, True
            offset += a.nbytes
        if not changed:
            break
    text = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    pad = (-(8 + len(text))) % 8
    head = MAGIC + struct.pack("<I", len(text) + pad) + text + b" " * pad
    if len(head) != specs[0]["offset"]:
        raise AssertionError("column payload header did not settle")  # pragma: no cover
    return head + b"".join(a.tobytes() for _, _, a in arrays)


def decode_columns(payload: bytes) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Decode :func:`encode_columns` output: ``({name: array}, meta)``.

    Raises
    ------
    DataFormatError
        Wrong magic, a truncated payload or a malformed header.
    """
    if len(payload) < 8 or payload[:4] != MAGIC:
        raise DataFormatError(f"a column payload starts with {MAGIC!r}; got {payload[:4]!r}")
    (h,) = struct.unpack("<I", payload[4:8])
    try:
        header = json.loads(payload[8 : 8 + h])
        n = int(header["n"])
        out: dict[str, np.ndarray] = {}
        for spec in header["columns"]:
            dt = np.dtype(_DTYPES[spec["dtype"]])
            off = int(spec["offset"])
            if off + n * dt.itemsize > len(payload):
                raise DataFormatError(
                    f"column {spec['name']!r} needs bytes up to {off + n * dt.itemsize}; "
                    f"the payload has {len(payload)}"
                )
            out[spec["name"]] = np.frombuffer(payload, dtype=dt, count=n, offset=off)
    except (ValueError, KeyError, TypeError) as exc:
        raise DataFormatError(f"the column payload's header is malformed: {exc}") from None
    return out, dict(header.get("meta", {}))
