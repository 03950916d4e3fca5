"""Reading and writing key files: atomic, with owner-only permissions for secrets.

This is the one module of :mod:`acie.privacy` that touches the file system. A key file
is written to a temporary file in the destination folder (created with the final
permissions from the start, so a secret is never world-readable even for an instant),
flushed, ``fsync``-ed and renamed over the destination, so a crash leaves either the
old file or the new one, never half of one.

A private key file that the group or others may read is refused on load, as ``ssh``
refuses such an identity file (:func:`check_private_mode`; the explicit override is
``allow_insecure_mode=True``, ``--allow-insecure-mode`` on the command line).
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from acie.errors import CryptoError, DataFormatError, InputValidationError

__all__ = [
    "PRIVATE_FILE_MODE",
    "PUBLIC_FILE_MODE",
    "check_private_mode",
    "insecure_mode_warning",
    "read_json",
    "write_json_atomic",
    "write_text_atomic",
]

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
    return write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n", mode=mode)


def write_text_atomic(path: str | os.PathLike[str], text: str, *, mode: int) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; the file has mode ``mode`` from its creation.

    Parameters
    ----------
    path : path-like
        Destination file; its folder must exist.
    text : str
        The content.
    mode : int
        Permission bits of the new file (``0o600`` for secrets).

    Returns
    -------
    pathlib.Path
        The destination path.
    """
    dest = Path(path)
    folder = dest.parent if str(dest.parent) else Path(".")
    if not folder.is_dir():
        raise InputValidationError(f"key file folder must exist; got {str(folder)!r}")
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


def insecure_mode_warning(path: str | os.PathLike[str]) -> str | None:
    """Why a private key file's permissions are unsafe (group/other bits set), or ``None``.

    Always ``None`` where files have no POSIX permission bits (Windows).
    """
    if os.name != "posix":
        return None
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return None  # reading it reports the problem
    if not mode & 0o077:
        return None
    return (
        f"private key file {str(path)!r} has mode {mode:o} (group/other may read it); "
        f"run `chmod 600 {path}` (or pass allow_insecure_mode / --allow-insecure-mode to accept it)"
    )


def check_private_mode(path: str | os.PathLike[str], *, allow_insecure_mode: bool = False) -> None:
    """Refuse a private key file that the group or others may access (as ssh does).

    Raises
    ------
    CryptoError
        The file's mode has group or other bits set and ``allow_insecure_mode`` is false.
    """
    problem = insecure_mode_warning(path)
    if problem is not None and not allow_insecure_mode:
        raise CryptoError(problem)


def read_json(
    path: str | os.PathLike[str],
    *,
    what: str,
    private: bool = False,
    allow_insecure_mode: bool = False,
) -> dict[str, Any]:
    """Read a JSON object from ``path``; raise :class:`~acie.errors.DataFormatError` if it is not one.

    With ``private=True`` the file's permissions are checked first
    (:func:`check_private_mode`).
    """
    src = Path(path)
    if private:
        check_private_mode(src, allow_insecure_mode=allow_insecure_mode)
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
