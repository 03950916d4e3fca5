"""Reading and writing key files: atomic, with owner-only permissions for secrets.

This is the one module of :mod:`acie.privacy` that touches the file system. A key file
is written to a temporary file in the destination folder (created with the final
permissions from the start, so a secret is never world-readable even for an instant),
flushed, ``fsync``-ed and renamed over the destination, so a crash leaves either the
old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from acie.errors import DataFormatError, InputValidationError

__all__ = ["PRIVATE_FILE_MODE", "PUBLIC_FILE_MODE", "read_json", "write_json_atomic"]

PRIVATE_FILE_MODE = 0o600
PUBLIC_FILE_MODE = 0o644


def write_json_atomic(path: str | os.PathLike[str], data: dict[str, Any], *, mode: int) -> Path:
    """Write ``data`` as JSON to ``path`` atomically, with permission bits ``mode``.

    Parameters
    ----------
    path : path-like
        Destination file; its folder must exist.
    data : dict
        JSON-serialisable mapping.
    mode : int
        Permission bits of the new file (``0o600`` for private keys).

    Returns
    -------
    pathlib.Path
        The destination path.
    """
    dest = Path(path)
    folder = dest.parent if str(dest.parent) else Path(".")
    if not folder.is_dir():
        raise InputValidationError(f"key file folder must exist; got {str(folder)!r}")
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=folder)
    try:
        os.fchmod(fd, mode)  # mkstemp already creates 0600; set the final mode before writing
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    return dest


def read_json(path: str | os.PathLike[str], *, what: str) -> dict[str, Any]:
    """Read a JSON object from ``path``; raise :class:`~acie.errors.DataFormatError` if it is not one."""
    src = Path(path)
    try:
        text = src.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataFormatError(f"{what} file {str(src)!r} cannot be read: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"{what} file {str(src)!r} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise DataFormatError(
            f"{what} file {str(src)!r} must hold a JSON object; got {type(data).__name__}"
        )
    return data
