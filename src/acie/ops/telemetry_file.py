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
that appending can resume, after copying it to a quarantine file beside the telemetry file
(nothing is ever deleted). A corrupt gzip member elsewhere (a flipped bit on disk) costs
only its own lines: readers skip it, find the next sound member and read on; encrypted
streams recover their line numbering after it.
"""

from __future__ import annotations

import glob
import json
import os
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from acie.errors import DataFormatError
from acie.ops.contract import BadLine, validate_record

__all__ = [
    "LineCodec",
    "TelemetryRead",
    "default_stream_id",
    "last_position",
    "quarantined",
    "read_telemetry",
    "repair",
    "scan_lines",
    "split_lines",
]

GZIP_MAGIC = b"\x1f\x8b"
_MEMBER_START = GZIP_MAGIC + b"\x08"  # magic and the deflate method byte


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


def _complete_member(data: bytes, offset: int) -> tuple[bytes, int] | None:
    """The plaintext and end offset of the gzip member at ``offset``, if it is whole and sound."""
    d = zlib.decompressobj(wbits=31)
    try:
        chunk = d.decompress(data[offset:])
    except zlib.error:
        return None
    if not d.eof:
        return None
    return chunk, len(data) - len(d.unused_data)


def _next_member(data: bytes, start: int) -> int | None:
    """Offset of the next sound gzip member at or after ``start`` (resynchronisation)."""
    pos = data.find(_MEMBER_START, start)
    while pos >= 0:
        if _complete_member(data, pos) is not None:
            return pos
        pos = data.find(_MEMBER_START, pos + 1)
    return None


@dataclass
class _Scan:
    """A telemetry file split into readable text runs (``None``: an unreadable gap)."""

    parts: list[bytes | None]
    end: int  # bytes up to here are kept by repair; the rest is a torn or unreadable tail
    gz: bool


def _scan(data: bytes) -> _Scan:
    if not data.startswith(GZIP_MAGIC):
        end = data.rfind(b"\n") + 1
        return _Scan([data[:end]], end, False)
    parts: list[bytes | None] = []
    offset = end = 0
    while offset < len(data):
        member = _complete_member(data, offset)
        if member is not None:
            parts.append(member[0])
            offset = end = member[1]
            continue
        nxt = _next_member(data, offset + 1)
        if nxt is None:
            break  # the tail from `offset` is torn (or unreadable): repair's to cut
        parts.append(None)  # a corrupt member in the middle: skip it, keep what follows
        offset = nxt
    return _Scan(parts, end, True)


def scan_lines(path: Path | str) -> tuple[list[bytes | None], bool]:
    """The complete lines of a telemetry file with ``None`` where an unreadable gap is.

    Returns the lines (newline removed; a ``None`` entry stands for a corrupt gzip member,
    an unknown number of lines) and whether a torn or unreadable tail follows them.
    """
    p = Path(path)
    if not p.exists():
        raise DataFormatError(f"telemetry file {str(p)!r} does not exist")
    data = p.read_bytes()
    scan = _scan(data)
    torn = scan.end < len(data)
    lines: list[bytes | None] = []
    run = b""
    for part in scan.parts:
        if part is not None:
            run += part
            continue
        # a gap: the complete lines before it, then the gap (a partial line before it is lost)
        cut = run.rfind(b"\n") + 1
        lines.extend(run[:cut].split(b"\n")[:-1])
        lines.append(None)
        run = b""
    cut = run.rfind(b"\n") + 1
    lines.extend(run[:cut].split(b"\n")[:-1])
    if run[cut:]:
        torn = True  # a final line without its newline
    return lines, torn


def split_lines(path: Path | str) -> tuple[list[bytes], bool]:
    """The complete, readable lines of a telemetry file and whether a torn tail existed."""
    lines, torn = scan_lines(path)
    return [line for line in lines if line is not None], torn


def quarantined(path: Path | str) -> list[Path]:
    """The files :func:`repair` moved aside from ``path``, oldest first."""
    p = Path(path)
    return sorted(p.parent.glob(f"{glob.escape(p.name)}.quarantine-*"))


def _quarantine(p: Path, data: bytes) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    dest = p.with_name(f"{p.name}.quarantine-{stamp}")
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    return dest


def repair(path: Path | str) -> int:
    """Cut a torn tail off ``path`` so appending can resume; return the bytes cut.

    Only ever the tail is cut: a partial last line, or the bytes after the last sound gzip
    member. The cut bytes are first written (fsynced) to ``<file>.quarantine-<UTC time>``
    beside the file (:func:`quarantined`), so nothing is deleted. A corrupt member in the
    middle is left where it is: readers skip it and read on.
    """
    p = Path(path)
    if not p.exists():
        return 0
    data = p.read_bytes()
    scan = _scan(data)
    end = scan.end
    last = scan.parts[-1] if scan.parts else None
    if scan.gz and last and not last.endswith(b"\n"):
        # a complete member that ends inside a line cannot come from the emitter
        raise DataFormatError(
            f"{str(p)!r}: a gzip member ends inside a line; expected whole lines per member"
        )
    removed = len(data) - end
    if removed:
        _quarantine(p, data[end:])
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


#: how many line numbers past a corrupt gap an encrypted line is tried at
RESYNC_WINDOW = 100_000
#: lines after a gap that may resynchronise before the stream is taken as lost
_RESYNC_TRIES = 3


def _decrypt_resync(codec: LineCodec, raw: bytes, first: int) -> tuple[int, bytes] | None:
    """Find the line number (``first`` … ``first + RESYNC_WINDOW``) ``raw`` decrypts at."""
    for number in range(first, first + RESYNC_WINDOW):
        try:
            return number, codec.decrypt_line(raw, number)
        except Exception:  # any cipher failure: not this position
            continue
    return None


def iter_decoded(
    lines: list[bytes | None], codec: LineCodec | None
) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """Yield ``(line_number, record_or_None, skip_reason_or_None)`` for each line.

    A ``None`` entry is a corrupt gap of unknown length (:func:`scan_lines`): it is
    reported once as ``corrupt``; an encrypted stream then finds the line number of the
    next line by trying the numbers after the gap (each line is bound to its number).
    """
    number = 0
    resync = 0
    for raw in lines:
        if raw is None:
            yield number + 1, None, "corrupt: an unreadable gzip member was skipped"
            resync = _RESYNC_TRIES
            continue
        number += 1
        if not raw.strip():
            continue
        text: bytes = raw
        if codec is not None:
            found = _decrypt_resync(codec, raw, number) if resync else None
            if found is not None:
                number, text = found
                resync = 0
            else:
                resync = max(resync - 1, 0)
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


def last_position(path: Path | str, codec: LineCodec | None = None) -> int:
    """The line number of the last line of the stream (where appending continues).

    Without a corrupt gap this is the number of complete lines; after one, an encrypted
    stream's numbering is recovered by :func:`iter_decoded`.
    """
    lines, _ = scan_lines(path)
    if None not in lines or codec is None:
        return sum(1 for line in lines if line is not None)
    last = 0
    for number, _, _ in iter_decoded(lines, codec):
        last = max(last, number)
    return last if lines[-1] is not None else last - 1


def read_telemetry(path: Path | str, *, codec: LineCodec | None = None) -> TelemetryRead:
    """Read one telemetry file, skipping and counting malformed, undecryptable or corrupt parts."""
    lines, torn = scan_lines(path)
    result = TelemetryRead(lines=sum(1 for line in lines if line is not None))
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
