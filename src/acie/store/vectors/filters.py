"""Metadata filters of vector searches: ``metadata[field] <op> value``.

Both backends take filters as a list of :class:`Filter` or as a mapping
(``{"redshift": {">": 2}, "kind": "spiral"}``); :func:`parse_filters` turns either into
a list of validated :class:`Filter`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from acie.errors import InputValidationError, UnknownNameError

__all__ = ["Filter", "FilterOp", "FilterSpec", "parse_filters"]


class FilterOp(StrEnum):
    """Comparison operators of metadata filters."""

    eq = "=="
    ne = "!="
    lt = "<"
    le = "<="
    gt = ">"
    ge = ">="
    isin = "in"


_OP_ALIASES = {
    "=": "==",
    "eq": "==",
    "ne": "!=",
    "lt": "<",
    "le": "<=",
    "gt": ">",
    "ge": ">=",
    "in": "in",
}


@dataclass(frozen=True)
class Filter:
    """One condition ``metadata[field] <op> value``.

    Rows lacking the field, or holding a value of another type (a string where a number
    is compared), never match.
    """

    field: str
    op: FilterOp | str
    value: Any

    def __post_init__(self) -> None:
        op = _OP_ALIASES.get(str(self.op), str(self.op))
        try:
            object.__setattr__(self, "op", FilterOp(op))
        except ValueError:
            raise UnknownNameError(
                f"filter operators are {', '.join(o.value for o in FilterOp)}; got {self.op!r}"
            ) from None
        if not isinstance(self.field, str) or not self.field:
            raise InputValidationError(
                f"filter field must be a non-empty string; got {self.field!r}"
            )
        values = self.value if self.op is FilterOp.isin else [self.value]
        if self.op is FilterOp.isin and (
            isinstance(self.value, str | bytes) or not isinstance(self.value, Iterable)
        ):
            raise InputValidationError(f"an 'in' filter takes a list of values; got {self.value!r}")
        if self.op is FilterOp.isin:
            object.__setattr__(self, "value", list(values))
        for v in values:
            if not isinstance(v, bool | int | float | str):
                raise InputValidationError(
                    f"filter values must be numbers, strings or "
                    f"booleans; got {v!r} for {self.field!r}"
                )
            if isinstance(v, float) and not math.isfinite(v):
                raise InputValidationError(f"filter values must be finite; got {v!r}")
        if self.op in (FilterOp.lt, FilterOp.le, FilterOp.gt, FilterOp.ge) and (
            isinstance(self.value, bool) or not isinstance(self.value, int | float)
        ):
            raise InputValidationError(
                f"the {FilterOp(self.op).value!r} filter compares numbers; "
                f"got {self.value!r} for {self.field!r}"
            )


FilterSpec = Mapping[str, Any] | Sequence[Filter] | None


def parse_filters(filters: FilterSpec) -> list[Filter]:
    """Normalise filters to a list of :class:`Filter`.

    Accepts a list of :class:`Filter`, or a mapping ``field → value`` (equality) /
    ``field → {op: value, ...}``.
    """
    if filters is None:
        return []
    if isinstance(filters, Mapping):
        out: list[Filter] = []
        for name, cond in filters.items():
            if isinstance(cond, Mapping):
                out.extend(Filter(name, op, v) for op, v in cond.items())
            else:
                out.append(Filter(name, FilterOp.eq, cond))
        return out
    out = list(filters)
    for f in out:
        if not isinstance(f, Filter):
            raise InputValidationError(f"filters must be Filter objects or a mapping; got {f!r}")
    return out
