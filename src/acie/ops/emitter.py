"""The telemetry emitter: validated records, batched, optionally gzip and AES-GCM per line.

Crash safety: a batch is turned into bytes first and handed to one ``write`` on a file
opened with ``O_APPEND``, then ``fsync``-ed. If the process dies mid-write, at most a torn
tail remains, which readers ignore and which the next emitter cuts off on open
(:func:`acie.ops.telemetry_file.repair`), so a line is in the file whole or not at all.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from acie.errors import InputValidationError, StoreError
from acie.ops.contract import SCHEMA_VERSION, validate_record
from acie.ops.telemetry_file import GZIP_MAGIC, LineCodec, last_position, repair

__all__ = ["TelemetryEmitter"]


class TelemetryEmitter:
    """Append telemetry records to a JSONL file.

    Parameters
    ----------
    path : path-like
        The telemetry file; created if missing, appended to otherwise.
    batch_size : int
        Records buffered before a write (``flush`` and closing write the rest).
    compress : bool
        Write each batch as a gzip member. An existing file keeps its own format.
    codec : LineCodec, optional
        Per-line cipher, e.g. :class:`acie.privacy.aead.LineCipher` (see :func:`acie.ops.cipher.codec_for`); every line is then an
        AES-GCM envelope bound to the stream and the line's position.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        batch_size: int = 100,
        compress: bool = False,
        codec: LineCodec | None = None,
    ) -> None:
        if not isinstance(batch_size, int) or batch_size < 1:
            raise InputValidationError(f"batch_size must be an integer >= 1; got {batch_size!r}")
        self.path = Path(path)
        self.batch_size = batch_size
        self.codec = codec
        self._buffer: list[bytes] = []
        self.path.parent.mkdir(parents=True, exist_ok=True)
        repair(self.path)
        if self.path.exists() and self.path.stat().st_size:
            with open(self.path, "rb") as fh:
                self.compress = fh.read(2) == GZIP_MAGIC
            self._position = last_position(self.path, codec)
        else:
            self.compress = compress
            self._position = 0

    @property
    def position(self) -> int:
        """Number of lines in the stream, written or buffered."""
        return self._position + len(self._buffer)

    def emit(self, record: Mapping[str, Any]) -> None:
        """Validate ``record`` against the contract and buffer it.

        ``schema_version`` is filled in when missing. An invalid record raises
        :class:`~acie.errors.InputValidationError` listing every problem; nothing is written.
        """
        rec = {"schema_version": SCHEMA_VERSION, **record}
        problems = validate_record(rec)
        if problems:
            raise InputValidationError(
                "telemetry record breaks the contract: " + "; ".join(problems)
            )
        data = json.dumps(rec, separators=(",", ":"), sort_keys=True).encode()
        if self.codec is not None:
            data = self.codec.encrypt_line(data, self.position + 1).encode()
        self._buffer.append(data + b"\n")
        if len(self._buffer) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        """Write the buffered lines as one append and fsync them.

        Raises
        ------
        StoreError
            The write or fsync failed (disk full, I/O error). The part of this batch that
            reached the file is cut off again, so the file holds whole records only, and
            the batch stays buffered: a later ``flush`` writes it once there is room.
        """
        if not self._buffer:
            return
        payload = b"".join(self._buffer)
        if self.compress:
            payload = gzip.compress(payload, mtime=0)
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as err:
            raise self._failed(err) from err
        try:
            start = os.fstat(fd).st_size
            try:
                view = memoryview(payload)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            except OSError as err:
                try:  # our own partial batch only: the records are still in the buffer
                    os.ftruncate(fd, start)
                    os.fsync(fd)
                except OSError:
                    pass  # a torn tail then, which readers skip and repair() cuts
                raise self._failed(err) from err
        finally:
            os.close(fd)
        self._position += len(self._buffer)
        self._buffer.clear()

    def _failed(self, err: OSError) -> StoreError:
        return StoreError(
            f"telemetry write to {str(self.path)!r} failed ({err.strerror or err}); "
            f"{len(self._buffer)} records kept in memory, flush again once the disk has room"
        )

    def close(self) -> None:
        """Write and fsync the buffered records (no file stays open between flushes)."""
        self.flush()

    def __enter__(self) -> TelemetryEmitter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
