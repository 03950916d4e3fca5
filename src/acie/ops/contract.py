"""The telemetry contract: a versioned JSON Schema for one record per JSONL line.

``validate_record`` checks one decoded object; ``validate_lines`` checks a whole stream
and reports every bad line by its 1-based number and the reason, so an operator can
fix a file in one pass.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from importlib import resources
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator, FormatChecker

__all__ = [
    "SCHEMA_VERSION",
    "BadLine",
    "ValidationReport",
    "telemetry_schema",
    "validate_lines",
    "validate_record",
]

SCHEMA_VERSION = "1.0"
_SCHEMA_FILE = "telemetry-v1.json"

_format_checker = FormatChecker()


@_format_checker.checks("date-time", raises=ValueError)
def _is_rfc3339(value: object) -> bool:
    # jsonschema's own date-time check needs an optional package; RFC 3339 requires an offset
    if not isinstance(value, str):
        return True
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("timestamp has no UTC offset")
    return True


@lru_cache(maxsize=1)
def telemetry_schema() -> dict[str, Any]:
    """The JSON Schema of telemetry records, version 1 (loaded once, lazily)."""
    text = resources.files("acie.ops").joinpath("schemas", _SCHEMA_FILE).read_text()
    schema: dict[str, Any] = json.loads(text)
    Draft202012Validator.check_schema(schema)
    return schema


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    return Draft202012Validator(telemetry_schema(), format_checker=_format_checker)


def _describe(error: jsonschema.ValidationError) -> str:
    where = "/".join(str(p) for p in error.absolute_path)
    return f"{where}: {error.message}" if where else error.message


@lru_cache(maxsize=1)
def _fast_validator() -> Any:
    """jsonschema-rs (Rust) when installed: ~100x faster yes/no answers for valid records."""
    try:
        import jsonschema_rs
    except ImportError:
        return None
    return jsonschema_rs.Draft202012Validator(telemetry_schema(), validate_formats=True)


def validate_record(record: object) -> list[str]:
    """Return the reasons ``record`` breaks the contract (empty when it is valid).

    Valid records are confirmed by jsonschema-rs when it is installed; the reasons for an
    invalid one always come from the reference ``jsonschema`` implementation.
    """
    if not isinstance(record, Mapping):
        return [f"a record must be a JSON object; got {type(record).__name__}"]
    fast = _fast_validator()
    if fast is not None and fast.is_valid(record):
        return []
    errors = sorted(_validator().iter_errors(record), key=lambda e: list(e.absolute_path))
    return [_describe(e) for e in errors]


@dataclass(frozen=True)
class BadLine:
    """One line that breaks the contract."""

    number: int
    reason: str


@dataclass
class ValidationReport:
    """Outcome of validating a JSONL stream."""

    total: int = 0
    bad: list[BadLine] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every line was valid."""
        return not self.bad

    @property
    def valid(self) -> int:
        """Number of valid lines (a line with several problems counts once)."""
        return self.total - len({b.number for b in self.bad})


def validate_lines(lines: Iterable[str | bytes]) -> ValidationReport:
    """Validate every line of a plaintext JSONL stream; blank lines are ignored."""
    report = ValidationReport()
    for number, raw in enumerate(lines, start=1):
        text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
        if not text.strip():
            continue
        report.total += 1
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            report.bad.append(BadLine(number, f"not valid JSON: {exc.msg} at column {exc.colno}"))
            continue
        for reason in validate_record(obj):
            report.bad.append(BadLine(number, reason))
    return report
