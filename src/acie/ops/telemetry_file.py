r"""Reading and repairing telemetry JSONL files: plain, gzip, and AES-GCM per line.

File layout
-----------
* plain: UTF-8 JSON objects, one per ``\n``-terminated line;
* gzip: the same bytes as a series of gzip members, one per emitted batch (a valid gzip
  stream that ``zcat`` reads); detected by the gzip magic bytes, not by the name;
* encrypted: every line is an AES-GCM envelope made by :mod:`acie.privacy.aead`, bound to
  the stream id and the line's 1-based line number in the stream, so a tampered,
  reordered or wrong-key line cannot be decrypted.

A crash can leave at most one torn tail: a final line without its newline, or a final gzip
member without its trailer. Readers ignore and count it; :func:`repair` cuts it off so
that appending can resume.
"""

from __future__ import annotations

import json
import os
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from acie.errors import DataFormatError
from acie.ops.contract import BadLine, validate_record

__all__ = [
    "LineCodec",
    "TelemetryRead",
    "default_stream_id",
    "read_telemetry",
    "repair",
    "split_lines",
]

GZIP_MAGIC = b"\x1f\x8b"


class LineCodec(Protocol):
    """What the emitter and reader need from a per-line cipher."""

    def encrypt_line(self, record: Any, position: int) -> str:
        """Encrypt one record (bytes, str or JSON-serialisable) for line ``position``."""
        ...

    def decrypt_line(self, line: str | bytes, position: int) -> bytes:
        """Decrypt line ``position`` to its plaintext bytes; raise if it fails authentication."""
        ...


def default_stream_id(path: Path | str) -> str:
    """The stream id bound into encrypted lines: the file name without a ``.gz`` suffix."""
    name = Path(path).name
    return name[:-3] if name.endswith(".gz") else name


def _gzip_members(data: bytes) -> tuple[bytes, int, bool]:
    """Decompress concatenated gzip members.

    Returns the plaintext of the complete members, the byte offset where the last complete
    member ends, and whether a torn (incomplete) member follows it.
    """
    out = bytearray()
    offset = 0
    while offset < len(data):
        d = zlib.decompressobj(wbits=31)
        try:
            chunk = d.decompress(data[offset:])
        except zlib.error:
            return bytes(out), offset, True
        if not d.eof:
            return bytes(out), offset, True
        out += chunk
        offset = len(data) - len(d.unused_data)
    return bytes(out), offset, False


def _raw_text(path: Path) -> tuple[bytes, bool, bool]:
    """File content as JSONL bytes, whether it was gzip, and whether a torn tail was dropped."""
    data = path.read_bytes()
    if data.startswith(GZIP_MAGIC):
        text, _, torn = _gzip_members(data)
        gz = True
    else:
        text, gz, torn = data, False, False
    if text and not text.endswith(b"\n"):
        cut = text.rfind(b"\n") + 1
        text, torn = text[:cut], True
    return text, gz, torn


def split_lines(path: Path | str) -> tuple[list[bytes], bool]:
    """The complete lines of a telemetry file (newline removed) and whether a torn tail existed."""
    p = Path(path)
    if not p.exists():
        raise DataFormatError(f"telemetry file {str(p)!r} does not exist")
    text, _, torn = _raw_text(p)
    return text.split(b"\n")[:-1] if text else [], torn


def repair(path: Path | str) -> int:
    """Cut a torn tail (partial line or partial gzip member) off ``path``; return bytes removed."""
    p = Path(path)
    if not p.exists():
        return 0
    data = p.read_bytes()
    if data.startswith(GZIP_MAGIC):
        text, end, _ = _gzip_members(data)
        if text and not text.endswith(b"\n"):
            # a complete member that ends inside a line cannot come from the emitter
            raise DataFormatError(
                f"{str(p)!r}: a gzip member ends inside a line; expected whole lines per member"
            )
    else:
        end = data.rfind(b"\n") + 1
    removed = len(data) - end
    if removed:
        with open(p, "r+b") as fh:
            fh.truncate(end)
            fh.flush()
            os.fsync(fh.fileno())
    return removed


@dataclass
class TelemetryRead:
    """Records read from telemetry files, with every skipped line counted by reason."""

    records: list[dict[str, Any]] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    bad: list[BadLine] = field(default_factory=list)
    lines: int = 0

    def extend(self, other: TelemetryRead) -> None:
        """Append ``other``'s records, skip counts, bad lines and line count to this read."""
        self.records.extend(other.records)
        self.skipped.update(other.skipped)
        self.bad.extend(other.bad)
        self.lines += other.lines


def _looks_encrypted(obj: object) -> bool:
    return isinstance(obj, dict) and {"kid", "nonce", "ct"} <= set(obj) and "experiment" not in obj


def iter_decoded(
    lines: list[bytes], codec: LineCodec | None
) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """Yield ``(line_number, record_or_None, skip_reason_or_None)`` for each line."""
    for position, raw in enumerate(lines):
        number = position + 1
        if not raw.strip():
            continue
        text = raw
        if codec is not None:
            try:
                text = codec.decrypt_line(raw, number)
            except Exception as exc:  # every cipher failure means: skip and count
                yield number, None, f"undecryptable: {exc}"
                continue
        try:
            obj = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            yield number, None, f"malformed: not valid JSON ({exc})"
            continue
        if codec is None and _looks_encrypted(obj):
            yield number, None, "undecryptable: the line is encrypted and no key was given"
            continue
        problems = validate_record(obj)
        if problems:
            yield number, None, "malformed: " + "; ".join(problems)
            continue
        yield number, obj, None


def read_telemetry(path: Path | str, *, codec: LineCodec | None = None) -> TelemetryRead:
    """Read one telemetry file, skipping and counting malformed or undecryptable lines."""
    lines, torn = split_lines(path)
    result = TelemetryRead(lines=len(lines))
    if torn:
        result.skipped["truncated"] += 1
    for number, record, reason in iter_decoded(lines, codec):
        if record is not None:
            result.records.append(record)
        else:
            why = reason or "malformed"
            result.skipped[why.split(":", 1)[0]] += 1
            result.bad.append(BadLine(number, why))
    return result
